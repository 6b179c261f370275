package sessiontest

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/ginsession/ginsession"
	"github.com/stretchr/testify/assert"
)

// The linearizability run fails on a log line that says the store gave up
// on part of what the run checks, and only on such lines: the lines are
// logged as the run's apps log them, through slog's text handler.
func TestRunFlagsWarningsThatWeakenTheContractButNotTheOnesItCausesOnPurpose(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	log.Debug("session loaded")
	log.Info("a save whose connection broke had committed")
	log.Warn("session token presented in the wrong place; ignored", "header", true)
	log.Warn("cannot extend the session's expiry; a later request will try again", "error", errors.New("deadlock"))
	log.Warn("cannot record the session's last use; a later request will try again", "error", errors.New("deadlock"))
	log.Error("request failed", "error", ginsession.ErrSessionInterrupted)
	log.Error("request failed", "error", ginsession.ErrTokenNotIssued)
	log.Warn("cannot retire the renewed session's old ID; it stops working on its own shortly", "error", errors.New("conn closed"))
	log.Error("request failed", "error", errors.New("deadlock detected"))

	got := unexpected(strings.Split(buf.String(), "\n"))

	if assert.Len(t, got, 2) {
		assert.Contains(t, got[0], "cannot retire the renewed session's old ID")
		assert.Contains(t, got[1], "deadlock detected")
	}
	assert.Empty(t, unexpected([]string{ginsession.ErrSessionInterrupted.Error()}), "c.Errors' lines carry no level")
	assert.Equal(t, []string{"Error #01: boom"}, unexpected([]string{"Error #01: boom"}))
}
