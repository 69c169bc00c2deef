package schedule

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestEventUnmarshal(t *testing.T) {
	t.Parallel()
	at := time.Date(2026, 11, 25, 16, 5, 0, 0, time.UTC)
	tests := []struct {
		name    string
		in      string
		want    Event
		wantErr string
	}{
		{name: "scheduler input", in: `{"time":"2026-11-25T16:05:00Z"}`, want: Event{Time: at}},
		{name: "scheduler input with jobs", in: `{"time":"2026-11-25T16:05:00Z","jobs":["ec2","rds"]}`, want: Event{Time: at, Jobs: []string{"ec2", "rds"}}},
		{name: "null jobs", in: `{"time":"2026-11-25T16:05:00Z","jobs":null}`, want: Event{Time: at}},
		{name: "scheduler input with groups", in: `{"time":"2026-11-25T16:05:00Z","groups":["ec2","rds"]}`, want: Event{Time: at, Groups: []string{"ec2", "rds"}}},
		{name: "groups not a list", in: `{"time":"2026-11-25T16:05:00Z","groups":"ec2"}`, wantErr: "event.groups: want a list of rule group names"},
		{name: "empty group name", in: `{"time":"2026-11-25T16:05:00Z","groups":["a",""]}`, wantErr: "event.groups[1]: empty group name"},
		{name: "misspelt groups", in: `{"time":"2026-11-25T16:05:00Z","group":["ec2"]}`, wantErr: `unknown field "group"`},
		{
			name: "classic scheduled event",
			in: `{"version":"0","id":"53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa","detail-type":"Scheduled Event","source":"aws.events",
			"account":"123456789012","time":"2026-11-25T16:05:00Z","region":"us-east-1",
			"resources":["arn:aws:events:us-east-1:123456789012:rule/sigmawatch"],"detail":{}}`,
			want: Event{Time: at},
		},
		{name: "offset time", in: `{"time":"2026-11-25T17:05:00+01:00"}`, want: Event{Time: at}},
		{name: "missing time", in: `{"jobs":["ec2"]}`, wantErr: "event.time: required"},
		{name: "bad time", in: `{"time":"yesterday"}`, wantErr: `event.time: "yesterday" is not RFC 3339`},
		{name: "unreplaced placeholder", in: `{"time":"<aws.scheduler.scheduled-time>"}`, wantErr: "is not RFC 3339"},
		{name: "misspelt jobs", in: `{"time":"2026-11-25T16:05:00Z","job":["ec2"]}`, wantErr: `unknown field "job"`},
		{name: "jobs not a list", in: `{"time":"2026-11-25T16:05:00Z","jobs":"ec2"}`, wantErr: "event.jobs: want a list"},
		{name: "empty job name", in: `{"time":"2026-11-25T16:05:00Z","jobs":[""]}`, wantErr: "event.jobs[0]: empty job name"},
		{name: "not an object", in: `[1,2]`, wantErr: "event:"},
		{name: "json null", in: `null`, wantErr: "expected a JSON object"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var got Event
			err := json.Unmarshal([]byte(tt.in), &got)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.True(t, tt.want.Time.Equal(got.Time), "time: want %s, got %s", tt.want.Time, got.Time)
			require.Equal(t, tt.want.Jobs, got.Jobs)
			require.Equal(t, tt.want.Groups, got.Groups)
		})
	}
}

func TestParseJobs(t *testing.T) {
	t.Parallel()
	require.Equal(t, []string{"ec2", "rds"}, ParseJobs(" ec2, ,rds,"))
	require.Empty(t, ParseJobs(""))
}
