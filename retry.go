package ginsession

import (
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// maxAttempts bounds how often one statement runs when it keeps meeting
// transient conflicts. Between attempts the runner waits a random time
// between half and all of a doubling bound (6 ms, 12 ms, ... capped at
// 150 ms; under half a second in all), so that two requests that collided
// do not collide again in step.
const maxAttempts = 8

// revokeAttempts is the bound for a revocation of a user's sessions
// (DestroyUser, DestroyOthers). It deletes every session of the user, so
// it meets a write to any of them, and on a cluster, where the first
// transaction to commit wins, a user whose other devices keep writing can
// make it lose eight times in a row: the integration suite's Galera run
// saw DestroyOthers give up. Revocations are rare, and one must not fail
// because the sessions it revokes are busy: it gets twice the attempts,
// under two seconds in all.
const revokeAttempts = 2 * maxAttempts

// attemptsFor is how often statement id runs at most while it meets
// transient conflicts.
func attemptsFor(id stmtID) int {
	if id == sDestroyUser || id == sDestroyOthers {
		return revokeAttempts
	}
	return maxAttempts
}

// repeatable tells a write whose second run changes nothing the first
// did not: one whose connection broke in flight runs again on a fresh
// connection, as a read does. Ending a renewal clears the old ID of the
// row whose ID is id: a second run writes the same constants the first
// did (whether or not that one landed), or, were the session renewed again
// or ended meanwhile, finds no row of that ID. Without the second run the
// old cookie could still end the session for up to renewalGrace.
func repeatable(id stmtID) bool { return id == sEndRenewal }

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
	// errNotSent: the statement provably never ran: the connection could
	// not be made, or the server was shutting down and ran nothing more.
	// Any statement may run again, a write too.
	errNotSent
	// errConnLost: the connection broke while the statement was in flight;
	// it may have run. Only a read or a repeatable write runs again: any
	// other write could apply twice.
	errConnLost
)

// A server or pooler restart costs the statements in flight their
// connection, and those that come while it is down their connect. A
// statement that met either runs again on a fresh connection after a
// pause (50 ms, doubling), within connRetryBudget in all: long enough for
// a fast restart, short enough for a request. database/sql already takes
// a fresh connection itself when the driver knows the statement was not
// sent on a dead one (driver.ErrBadConn).
const (
	connRetryBase   = 50 * time.Millisecond
	connRetryBudget = 3 * time.Second
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
		case "57P01", "57P02", "57P03": // shutting down, crashed, starting up
			// The server ends the session instead of running (or
			// committing) the statement, or refuses the connection.
			return errNotSent
		case "26000": // prepared statement does not exist
			return errStale
		case "0A000": // feature not supported: a cached plan changed type
			if strings.Contains(err.Error(), "cached plan") {
				return errStale
			}
		}
		if pgbouncerRefused(err.Error()) { // whatever code the pooler sends
			return errNotSent
		}
		if strings.HasPrefix(pg.SQLState(), "08") { // connection exception
			return errConnLost
		}
		return errOther
	}
	if k := connectionFault(err); k != errNone {
		return k
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
		case 1053: // server shutdown in progress: the statement was aborted
			return errNotSent
		}
	}
	// SQLite's "database is locked" is not retried: it comes after the
	// DSN's busy_timeout, the wait the application chose.
	return errOther
}

// safeToRetry is how pgx's errors say that nothing was sent.
type safeToRetry interface{ SafeToRetry() bool }

// connectionFault tells a lost or refused connection from other errors.
func connectionFault(err error) errKind {
	var s safeToRetry
	if errors.As(err, &s) && s.SafeToRetry() {
		return errNotSent
	}
	if op, ok := errors.AsType[*net.OpError](err); ok && op.Op == "dial" {
		return errNotSent // connection refused, no route: nothing sent
	}
	if errors.Is(err, driver.ErrBadConn) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, net.ErrClosed) || errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) {
		return errConnLost
	}
	if _, ok := errors.AsType[net.Error](err); ok {
		return errConnLost
	}
	msg := err.Error()
	if pgbouncerRefused(msg) {
		return errNotSent
	}
	// go-sql-driver/mysql's ErrInvalidConn, pgx's closed connection: by
	// their text, as neither package is imported here.
	if strings.Contains(msg, "invalid connection") || strings.Contains(msg, "conn closed") ||
		strings.Contains(msg, "unexpected EOF") || strings.Contains(msg, "connection reset by peer") {
		return errConnLost
	}
	return errNone
}

// pgbouncerRefused reports whether msg is PgBouncer refusing a client
// while it cannot reach the server (its server_login_retry) or while it is
// full: nothing was forwarded.
func pgbouncerRefused(msg string) bool {
	return strings.Contains(msg, "server login has been failing") || strings.Contains(msg, "no more connections allowed")
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
	return sleep(ctx, bound/2+rand.N(bound/2))
}

// sleep waits d, or until ctx ends, and then returns ctx's error.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
