package ginsession

import (
	"database/sql"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// On MySQL and MariaDB the runner sends times cut to whole microseconds,
// which the driver then writes with at most six fractional digits: with
// nine, MariaDB cannot use the expires_at index (TestPlans in the
// integration suite shows the plans).
func TestRunnerCutsTimesToMicrosecondsForMySQL(t *testing.T) {
	at := time.Date(2026, 12, 5, 8, 10, 24, 123456789, time.UTC)
	cut := time.Date(2026, 12, 5, 8, 10, 24, 123456000, time.UTC)
	args := func() []any {
		return []any{"id", at, sql.NullTime{Time: at, Valid: true}, sql.NullTime{}, int64(7), cut}
	}

	mysql := &runner{micros: true}
	got := mysql.driverArgs(args())
	assert.Equal(t, []any{"id", cut, sql.NullTime{Time: cut, Valid: true}, sql.NullTime{}, int64(7), cut}, got)

	other := &runner{}
	assert.Equal(t, args(), other.driverArgs(args()), "PostgreSQL and SQLite keep what the store has")
}
