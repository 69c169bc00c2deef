package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/rules"
	"github.com/sigmawatch/sigmawatch/shared/schedule"
)

type handler struct {
	rules  *rules.File
	log    *slog.Logger
	dryRun bool
}

// Summary is what one run did; it is also the invocation's response.
type Summary struct {
	ScheduledTime time.Time `json:"scheduled_time"`
	Rules         int       `json:"rules"`
}

func (h *handler) handle(ctx context.Context, ev schedule.Event) (Summary, error) {
	return h.runOnce(ctx, ev.Time)
}

// runOnce evaluates every rule at the scheduled time at.
//
// Rule evaluation, alert state and notifications are the alert issue's work;
// until they land a run only accounts for the rules it would evaluate.
func (h *handler) runOnce(ctx context.Context, at time.Time) (Summary, error) {
	sum := Summary{ScheduledTime: at.UTC(), Rules: len(h.rules.Rules())}
	h.log.InfoContext(ctx, "alert run finished", "scheduled_time", sum.ScheduledTime.Format(time.RFC3339), "rules", sum.Rules)
	return sum, nil
}
