package main

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sigmawatch/sigmawatch/shared/schedule"
)

// TestHandleRefusesAlertGroups: an event with the alert function's
// "groups" (a schedule wired to the wrong function) is refused, not taken
// for "every job".
func TestHandleRefusesAlertGroups(t *testing.T) {
	t.Parallel()
	h := &handler{log: slog.New(slog.DiscardHandler)}
	_, err := h.handle(context.Background(), schedule.Event{Time: time.Unix(0, 0), Groups: []string{"ec2"}})
	require.ErrorContains(t, err, `event.groups: the collect function takes "jobs"`)
}
