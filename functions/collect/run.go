package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"time"

	"github.com/sigmawatch/sigmawatch/shared/collector"
	"github.com/sigmawatch/sigmawatch/shared/config"
	"github.com/sigmawatch/sigmawatch/shared/remotewrite"
	"github.com/sigmawatch/sigmawatch/shared/schedule"
)

// runner is the collection core the handler drives.
type runner interface {
	Run(ctx context.Context, at time.Time, jobs []config.Job) (collector.Summary, error)
}

type handler struct {
	cfg  *config.Collect
	coll runner
	log  *slog.Logger
	now  func() time.Time // for duration_ms only
}

// handle is the Lambda entry point. The returned summary is the invocation's
// response (visible on synchronous invokes and in tests).
func (h *handler) handle(ctx context.Context, ev schedule.Event) (collector.Summary, error) {
	if len(ev.Groups) > 0 {
		// Not every job: a schedule meant for the alert function.
		return collector.Summary{}, errors.New(`event.groups: the collect function takes "jobs"; "groups" selects the alert function's rule groups`)
	}
	return h.runOnce(ctx, ev.Time, ev.Jobs)
}

// runOnce collects the selected jobs (all when none are named) for the
// scheduled time at, and logs one summary line.
func (h *handler) runOnce(ctx context.Context, at time.Time, jobNames []string) (collector.Summary, error) {
	now := h.now
	if now == nil {
		now = time.Now
	}
	started := now()
	jobs, err := h.cfg.SelectJobs(jobNames)
	if err != nil {
		return collector.Summary{ScheduledTime: at.UTC()}, err
	}
	sum, err := h.coll.Run(ctx, at, jobs)
	level := slog.LevelInfo
	if err != nil {
		level = slog.LevelError
	}
	h.log.Log(ctx, level, "collect run finished",
		"scheduled_time", sum.ScheduledTime.Format(time.RFC3339),
		"jobs", sum.Jobs,
		"targets", sum.Targets,
		"targets_already_covered", sum.TargetsCovered,
		"series", sum.Series,
		"samples", sum.Samples,
		"requests", sum.Requests,
		"api_calls", sum.APICalls,
		"metrics_requested", sum.MetricsRequested,
		"cost_usd", sum.CostUSD,
		"skipped_seconds", sum.SkippedSeconds,
		"failed_units", sum.FailedUnits,
		"dropped_series", sum.DroppedSeries,
		"not_fetched", sum.NotFetched,
		"duration_ms", now().Sub(started).Milliseconds(),
	)
	return sum, err
}

func newTextWriter(w io.Writer) *remotewrite.TextWriter { return remotewrite.NewTextWriter(w) }
