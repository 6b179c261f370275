package integration

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ginsession/ginsession/integration/sessiontest"
)

// .ci/databases start exports where it is and the directory of the servers
// it started, so that a test can restart one of them (its restart
// subcommand).
const (
	databasesScriptEnv = "GINSESSION_DATABASES"
	databasesDirEnv    = "GINSESSION_DATABASES_DIR"
)

// restartServer returns a restart of server (postgres, pgbouncer or
// mariadb) through .ci/databases, or skips t when the servers were not
// started by it.
func restartServer(t *testing.T, server string) sessiontest.Restart {
	script, dir := os.Getenv(databasesScriptEnv), os.Getenv(databasesDirEnv)
	if script == "" || dir == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s and %s are not set: CI must restart its servers", databasesScriptEnv, databasesDirEnv)
		}
		t.Skipf("set %s and %s (`eval \"$(.ci/databases start /tmp/gsdb)\"` exports them) to restart servers; "+
			"never point them at servers others use", databasesScriptEnv, databasesDirEnv)
	}
	return func() (time.Time, time.Duration, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		var stderr bytes.Buffer
		cmd := exec.CommandContext(ctx, script, "restart", dir, server)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return time.Time{}, 0, fmt.Errorf("%s restart %s %s: %w: %s", script, dir, server, err, stderr.String())
		}
		// "SECONDS-DOWN UNIX-TIME-OF-THE-STOP"
		fields := strings.Fields(string(out))
		if len(fields) != 2 {
			return time.Time{}, 0, fmt.Errorf("%s restart printed %q, not the seconds down and the time of the stop", script, out)
		}
		down, err1 := strconv.ParseFloat(fields[0], 64)
		stopped, err2 := strconv.ParseFloat(fields[1], 64)
		if err := errors.Join(err1, err2); err != nil {
			return time.Time{}, 0, fmt.Errorf("%s restart printed %q: %w", script, out, err)
		}
		return time.UnixMicro(int64(stopped * 1e6)), time.Duration(down * float64(time.Second)), nil
	}
}

// TestRestarts restarts each server once during traffic: no read fails
// that had the store's retry budget to wait for the server, and no
// increment counts twice or is lost (sessiontest.RunRestart). The table it logs counts the 5xx.
// Each restart has finished, and its server accepts connections, before
// the subtest returns.
func TestRestarts(t *testing.T) {
	cases := []struct {
		name, server string
		open         func(t *testing.T) sessiontest.Opener
	}{
		{"PostgreSQL", "postgres", openPostgres(postgresEnv)},
		{"PgBouncer-exec", "pgbouncer", openPostgres(pgbouncerExecEnv)},
		{"PostgreSQL-behind-PgBouncer-exec", "postgres", openPostgres(pgbouncerExecEnv)},
		{"MariaDB", "mariadb", openMySQL(mysqlEnv)},
	}
	var table strings.Builder
	fmt.Fprintf(&table, "| restarted | requests | down s | unreachable s | reads in flight | reads while down | reads after | writes in flight | writes while down | writes after | 5xx writes kept | 5xx reads beyond the budget |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, c := range cases {
		for _, quiet := range []bool{false, true} {
			name := c.name + "/busy"
			if quiet {
				name = c.name + "/quiet"
			}
			t.Run(name, func(t *testing.T) {
				restart := restartServer(t, c.server)
				r := sessiontest.RunRestart(t, c.open(t), restart, quiet)
				frac := func(failed, n int) string { return fmt.Sprintf("%d/%d", failed, n) }
				fmt.Fprintf(&table, "| %s (%s) | %d | %.1f | %.1f | %s | %s | %s | %s | %s | %s | %d | %d |\n", name, c.server, r.Requests,
					r.Down.Seconds(), r.Unreachable.Seconds(),
					frac(r.InFlight.Reads5xx, r.InFlight.Reads), frac(r.WhileDown.Reads5xx, r.WhileDown.Reads), frac(r.After.Reads5xx, r.After.Reads),
					frac(r.InFlight.Writes5xx, r.InFlight.Writes), frac(r.WhileDown.Writes5xx, r.WhileDown.Writes), frac(r.After.Writes5xx, r.After.Writes),
					r.FailedWritesApplied, r.ReadsBeyondBudget)
				for _, e := range r.Errors {
					t.Logf("session error: %s", e)
				}
			})
		}
	}
	t.Logf("5xx/requests across a server restart (in flight: under way when the server began to stop; while down: started before "+
		"a new connection through the app's DSN worked again; after: started once one did):\n%s", table.String())
}
