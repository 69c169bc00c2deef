// Package schedule defines the event that starts a scheduled run of either
// function, and decodes the two shapes AWS delivers it in.
//
// EventBridge Scheduler (SAM ScheduleV2) delivers exactly the schedule's Input,
// which the template sets to {"time": "<aws.scheduler.scheduled-time>", …}. The
// classic EventBridge scheduled-rule event ("detail-type": "Scheduled Event")
// carries the same "time" field, so it is accepted as well.
package schedule

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Event is the input of one scheduled run.
type Event struct {
	// Time is the scheduled time of the run. Everything a run computes and
	// writes derives from it, never from the wall clock, so a retried
	// invocation repeats the same work.
	Time time.Time `json:"time"`
	// Jobs optionally restricts the collect function to a shard of its jobs.
	Jobs []string `json:"jobs,omitempty"`
	// Groups optionally restricts the alert function to some of its rule
	// groups (a part: see alertengine's parts).
	Groups []string `json:"groups,omitempty"`
}

// classicFields are the envelope fields of an EventBridge scheduled-rule event.
var classicFields = []string{"version", "id", "detail-type", "source", "account", "region", "resources", "detail"}

// UnmarshalJSON decodes a Scheduler input or a classic scheduled-rule event.
// Unknown fields are errors: a misspelt "jobs" must not silently run every job.
func (e *Event) UnmarshalJSON(data []byte) error {
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(data, &raw); err != nil {
		return fmt.Errorf("event: %w", err)
	}
	if raw == nil {
		return errors.New("event: expected a JSON object")
	}
	var problems []error
	for k := range raw {
		if k != "time" && k != "jobs" && k != "groups" && !slices.Contains(classicFields, k) {
			problems = append(problems, fmt.Errorf("event: unknown field %q (want \"time\" and optionally \"jobs\" (collect) or \"groups\" (alert))", k))
		}
	}
	var out Event
	if t, ok := raw["time"]; ok {
		var s string
		if err := json.Unmarshal(t, &s); err != nil {
			problems = append(problems, fmt.Errorf("event.time: want an RFC 3339 string: %w", err))
		} else if ts, err := time.Parse(time.RFC3339, s); err != nil {
			problems = append(problems, fmt.Errorf("event.time: %q is not RFC 3339", s))
		} else {
			out.Time = ts
		}
	} else {
		problems = append(problems, errors.New("event.time: required (the schedule's Input must be {\"time\": \"<aws.scheduler.scheduled-time>\"})"))
	}
	if j, ok := raw["jobs"]; ok && !bytes.Equal(bytes.TrimSpace(j), []byte("null")) {
		if err := json.Unmarshal(j, &out.Jobs); err != nil {
			problems = append(problems, fmt.Errorf("event.jobs: want a list of job names: %w", err))
		}
		for i, name := range out.Jobs {
			if strings.TrimSpace(name) == "" {
				problems = append(problems, fmt.Errorf("event.jobs[%d]: empty job name", i))
			}
		}
	}
	if g, ok := raw["groups"]; ok && !bytes.Equal(bytes.TrimSpace(g), []byte("null")) {
		if err := json.Unmarshal(g, &out.Groups); err != nil {
			problems = append(problems, fmt.Errorf("event.groups: want a list of rule group names: %w", err))
		}
		for i, name := range out.Groups {
			if strings.TrimSpace(name) == "" {
				problems = append(problems, fmt.Errorf("event.groups[%d]: empty group name", i))
			}
		}
	}
	if err := errors.Join(problems...); err != nil {
		return err
	}
	*e = out
	return nil
}

// ParseJobs splits a comma-separated job list (the CLI's -jobs flag).
func ParseJobs(s string) []string {
	var jobs []string
	for _, j := range strings.Split(s, ",") {
		if j = strings.TrimSpace(j); j != "" {
			jobs = append(jobs, j)
		}
	}
	return jobs
}
