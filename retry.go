package ginsession

import (
	"context"
	"errors"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"
)

// maxAttempts bounds how often one statement runs when it keeps meeting
// transient conflicts. Between attempts the runner waits a random time
// between half and all of a doubling bound (6 ms, 12 ms, ... capped at
// 150 ms; under half a second in all), so that two requests that collided
// do not collide again in step.
const maxAttempts = 8

const (
	backoffBase = 3 * time.Millisecond
	backoffMax  = 150 * time.Millisecond
)

type errKind uint8

const (
	errNone errKind = iota
	errOther
	// errTransient: the statement lost to a concurrent one and did not
	// commit; the same statement may succeed if run again.
	errTransient
	// errStale: the database invalidated a prepared statement (its table
	// changed, or a pooler lost it); preparing it again cures it.
	errStale
)

// sqlStater is how PostgreSQL drivers (pgx's *pgconn.PgError, lib/pq's
// *pq.Error) expose an error's SQLSTATE.
type sqlStater interface{ SQLState() string }

// classify tells what an error from a driver means for a retry. It reads
// the SQLSTATE where the driver gives one, and otherwise the error's text:
// go-sql-driver/mysql's errors read "Error 1213 (40001): ...", and that
// package is not imported here.
func classify(err error) errKind {
	if err == nil {
		return errNone
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return errOther
	}
	var pg sqlStater
	if errors.As(err, &pg) {
		switch code := pg.SQLState(); code {
		case "40001", "40P01": // serialization failure, deadlock
			return errTransient
		case "26000": // prepared statement does not exist
			return errStale
		case "0A000": // feature not supported: a cached plan changed type
			if strings.Contains(err.Error(), "cached plan") {
				return errStale
			}
		}
		return errOther
	}
	for e := err; e != nil; e = errors.Unwrap(e) {
		switch mysqlErrorNumber(e.Error()) {
		case 1213, // deadlock, and a Galera certification failure
			1205, // lock wait timeout
			1020, // record changed since last read (snapshot isolation)
			1047: // a Galera node not ready for queries yet
			return errTransient
		case 1615, // prepared statement needs to be re-prepared
			1243: // unknown prepared statement handler
			return errStale
		}
	}
	// SQLite's "database is locked" is not retried: it comes after the
	// DSN's busy_timeout, the wait the application chose.
	return errOther
}

// mysqlErrorNumber returns N of a message that starts "Error N", or 0.
func mysqlErrorNumber(msg string) int {
	rest, ok := strings.CutPrefix(msg, "Error ")
	if !ok {
		return 0
	}
	end := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' })
	if end <= 0 {
		return 0
	}
	n, _ := strconv.Atoi(rest[:end])
	return n
}

// backoff waits before attempt+1. It returns early with ctx's error when
// ctx ends.
func backoff(ctx context.Context, attempt int) error {
	bound := backoffMax
	if attempt < 16 {
		bound = min(backoffBase<<attempt, backoffMax)
	}
	t := time.NewTimer(bound/2 + rand.N(bound/2))
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
