package ginsession

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ginsession/ginsession/internal/testkit"
	"github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// The errors production databases give a statement that lost to another,
// as their Go drivers spell them.
type pgError struct{ code, msg string }

func (e *pgError) Error() string    { return "ERROR: " + e.msg + " (SQLSTATE " + e.code + ")" }
func (e *pgError) SQLState() string { return e.code }

// notSent is an error that says, as pgx's do, that nothing was sent.
type notSent struct{}

func (notSent) Error() string     { return "dial: connection refused" }
func (notSent) SafeToRetry() bool { return true }

var (
	errMySQLDeadlock = errors.New("Error 1213 (40001): Deadlock found when trying to get lock; try restarting transaction")
	pgSerialize      = &pgError{"40001", "could not serialize access due to concurrent update"}
	pgStalePlan      = &pgError{"0A000", "cached plan must not change result type"}
)

// injector makes statements whose text contains a substring fail with an
// error, a given number of times, in front of a real SQLite driver.
type injector struct {
	mu    sync.Mutex
	match string
	err   error
	left  int      // failures still to give; -1 forever
	seen  []string // every statement text that reached a failure point
	fails int
	// afterRun makes an Exec fail after the statement ran: a connection
	// lost on the way back, the write done.
	afterRun bool
	// onFail, if set, runs with each failure given.
	onFail func()
}

func (in *injector) arm(match string, err error, times int) {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.match, in.err, in.left, in.fails = match, err, times, 0
}

func (in *injector) check(q string) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	in.seen = append(in.seen, q)
	if in.match == "" || !strings.Contains(q, in.match) || in.left == 0 {
		return nil
	}
	if in.left > 0 {
		in.left--
	}
	in.fails++
	if in.onFail != nil {
		in.onFail()
	}
	return in.err
}

func (in *injector) failures() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.fails
}

type injectConnector struct {
	driver.Connector
	in *injector
}

func (c injectConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.Connector.Connect(ctx)
	if err != nil {
		return nil, err
	}
	return injectConn{conn, c.in}, nil
}

// injectConn offers only Prepare, so that every statement, prepared by the
// store or not, passes through an injectStmt.
type injectConn struct {
	driver.Conn
	in *injector
}

func (c injectConn) Prepare(q string) (driver.Stmt, error) {
	st, err := c.Conn.Prepare(q)
	if err != nil {
		return nil, err
	}
	return injectStmt{st.(stmtWithContext), q, c.in}, nil
}

type stmtWithContext interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

type injectStmt struct {
	stmtWithContext
	q  string
	in *injector
}

func (s injectStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.in.mu.Lock()
	after := s.in.afterRun
	s.in.mu.Unlock()
	if after {
		res, err := s.stmtWithContext.ExecContext(ctx, args)
		if err != nil {
			return nil, err
		}
		if err := s.in.check(s.q); err != nil {
			return nil, err
		}
		return res, nil
	}
	if err := s.in.check(s.q); err != nil {
		return nil, err
	}
	return s.stmtWithContext.ExecContext(ctx, args)
}

func (s injectStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	if err := s.in.check(s.q); err != nil {
		return nil, err
	}
	return s.stmtWithContext.QueryContext(ctx, args)
}

// openInjectDB opens a SQLite file whose statements in can fail.
func openInjectDB(t *testing.T) (*gorm.DB, *recorder, *injector) {
	in := &injector{}
	rec := &recorder{}
	dsn := sqliteDSN(filepath.Join(t.TempDir(), "sessions.db"))
	sqlDB := sql.OpenDB(injectConnector{testkit.Count(testkit.DSNConnector(&sqlite3.SQLiteDriver{}, dsn), rec), in})
	t.Cleanup(func() { sqlDB.Close() })
	db, err := gorm.Open(sqlite.Dialector{Conn: sqlDB}, &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	return db, rec, in
}

func TestTransientConflictsAreRetriedUntilTheyPass(t *testing.T) {
	cases := []struct {
		name  string
		match string // the statement that fails
		err   error
		path  string
		check func(t *testing.T, cl *client)
	}{
		{"deadlock on a save", "UPDATE", errMySQLDeadlock, "/set?k=new", func(t *testing.T, cl *client) {
			assert.Equal(t, "new", cl.get("/get?k=k").body)
		}},
		{"serialization failure on a save", "UPDATE", pgSerialize, "/set?k=new", func(t *testing.T, cl *client) {
			assert.Equal(t, "new", cl.get("/get?k=k").body)
		}},
		{"serialization failure on a read", "SELECT", pgSerialize, "/get?k=k", nil},
		{"deadlock on a logout", "DELETE", errMySQLDeadlock, "/destroy", func(t *testing.T, cl *client) {
			assert.Equal(t, http.StatusNotFound, cl.get("/get?k=k").StatusCode, "logged out")
		}},
		{"deadlock on a renewal", "UPDATE", errMySQLDeadlock, "/renew", func(t *testing.T, cl *client) {
			assert.Equal(t, "old", cl.get("/get?k=k").body)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, rec, in := openInjectDB(t)
			a := newAppOn(t, db, rec, basicRoutes)
			cl := a.client()
			require.Equal(t, http.StatusOK, cl.get("/set?k=old").StatusCode)
			in.arm(tc.match, tc.err, 3)
			resp := cl.get(tc.path)
			assert.Less(t, resp.StatusCode, 300, "the conflicts stay inside: %s", resp.body)
			assert.Equal(t, 3, in.failures(), "each conflict was met and tried again")
			assert.Empty(t, a.errors())
			if tc.check != nil {
				tc.check(t, cl)
			}
		})
	}
}

func TestConflictsThatDoNotPassAnswer503WithRetryAfterAndKeepTheData(t *testing.T) {
	db, rec, in := openInjectDB(t)
	a := newAppOn(t, db, rec, basicRoutes)
	cl := a.client()
	require.Equal(t, http.StatusOK, cl.get("/set?k=old").StatusCode)

	in.arm("UPDATE", errMySQLDeadlock, -1)
	resp := cl.get("/set?k=new")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "1", resp.Header.Get("Retry-After"))
	assert.Equal(t, http.StatusText(http.StatusServiceUnavailable), resp.body, "none of the route's output")
	assert.Equal(t, maxAttempts, in.failures(), "bounded attempts")
	require.Len(t, a.errors(), 1)
	assert.Contains(t, a.errors()[0], ErrConflict.Error())
	assert.Contains(t, a.logs.String(), "Deadlock found")

	in.arm("", nil, 0)
	assert.Equal(t, "old", cl.get("/get?k=k").body, "nothing was lost")
	require.Equal(t, http.StatusOK, cl.get("/set?k=new").StatusCode, "works again once the contention ends")
	assert.Equal(t, "new", cl.get("/get?k=k").body)
}

func TestConflictIsBothErrConflictAndTheFailedStep(t *testing.T) {
	db, rec, in := openInjectDB(t)
	handled := &errorRecorder{}
	a := newAppOn(t, db, rec, basicRoutes, WithErrorHandler(handled.handle))
	cl := a.client()
	require.Equal(t, http.StatusOK, cl.get("/set?k=old").StatusCode)

	in.arm("SELECT", pgSerialize, -1)
	_, err := assertHandled(t, handled, func() response { return cl.get("/get?k=k") }, ErrConflict)
	assert.ErrorIs(t, err, ErrLoad)
	var pg *pgError
	assert.ErrorAs(t, err, &pg, "the driver's error is kept")

	in.arm("DELETE", errMySQLDeadlock, -1)
	_, err = assertHandled(t, handled, func() response { return cl.get("/destroy") }, ErrConflict)
	assert.ErrorIs(t, err, ErrSave)
}

func TestStoreCallsRetryConflicts(t *testing.T) {
	db, rec, in := openInjectDB(t)
	var a *app
	a = newAppOn(t, db, rec, deviceRoutes(&a))
	for range 2 {
		a.client().get("/login?u=alice")
	}
	ctx := context.Background()

	in.arm("SELECT", pgSerialize, 2)
	infos, err := a.store.UserSessions(ctx, "alice")
	require.NoError(t, err)
	assert.Len(t, infos, 2)

	in.arm("DELETE", errMySQLDeadlock, 2)
	ok, err := a.store.DestroyUserSession(ctx, "alice", infos[0].Handle)
	require.NoError(t, err)
	assert.True(t, ok)

	in.arm("DELETE", errMySQLDeadlock, 2)
	n, err := a.store.DestroyUser(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, int64(1), n)

	in.arm("DELETE", errMySQLDeadlock, -1)
	_, err = a.store.DestroyUser(ctx, "alice")
	assert.ErrorIs(t, err, ErrConflict)
	assert.ErrorIs(t, err, ErrSave)
}

func TestCleanupBatchesRetryConflicts(t *testing.T) {
	db, rec, in := openInjectDB(t)
	a := newAppOn(t, db, rec, basicRoutes)
	for range 3 {
		a.client().get("/set?k=v")
	}
	a.clock.Advance(DefaultIdleTimeout + time.Minute)
	in.arm("DELETE", errMySQLDeadlock, 2)
	n, err := a.store.Cleanup(context.Background())
	require.NoError(t, err)
	assert.Equal(t, int64(3), n)
	assert.Empty(t, a.rows())
}

func TestRetriesStopWhenTheContextEnds(t *testing.T) {
	db, rec, in := openInjectDB(t)
	a := newAppOn(t, db, rec, basicRoutes)
	a.client().get("/set?k=v")
	in.arm("DELETE", errMySQLDeadlock, -1)
	ctx, cancel := context.WithCancel(context.Background())
	in.onFail = cancel // the client goes away while the first attempt fails
	_, err := a.store.DestroyUser(ctx, "nobody")
	require.Error(t, err)
	assert.NotErrorIs(t, err, ErrConflict, "not a conflict: the caller gave up")
	assert.Equal(t, 1, in.failures(), "no second attempt once the context is done")
}

func TestStatementTheDatabaseInvalidatedIsPreparedAfresh(t *testing.T) {
	db, rec, in := openInjectDB(t)
	a := newAppOn(t, db, rec, basicRoutes)
	cl := a.client()
	require.Equal(t, http.StatusOK, cl.get("/set?k=v").StatusCode)

	// As PostgreSQL answers a cached plan after an ALTER TABLE changed a
	// column's type: the statement is broken on every connection.
	in.arm("SELECT data", pgStalePlan, 1)
	resp := cl.get("/get?k=k")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the first request after the change succeeds: %s", resp.body)
	assert.Equal(t, "v", resp.body)
	assert.Equal(t, 1, in.failures())
	assert.Contains(t, in.seen[len(in.seen)-1], "/* ginsession:1 */", "a new text, so every cache prepares it anew")
	assert.Equal(t, "v", cl.get("/get?k=k").body)
	assert.Empty(t, a.errors())
}

func TestErrorsAreClassifiedForRetry(t *testing.T) {
	cases := []struct {
		err  error
		want errKind
	}{
		{nil, errNone},
		{errMySQLDeadlock, errTransient},
		{fmt.Errorf("wrapped: %w", errMySQLDeadlock), errTransient},
		{errors.New("Error 1205 (HY000): Lock wait timeout exceeded; try restarting transaction"), errTransient},
		{errors.New("Error 1047 (08S01): WSREP has not yet prepared node for application use"), errTransient},
		{errors.New("Error 1615 (HY000): Prepared statement needs to be re-prepared"), errStale},
		{errors.New("Error 1062 (23000): Duplicate entry"), errOther},
		{pgSerialize, errTransient},
		{&pgError{"40P01", "deadlock detected"}, errTransient},
		{pgStalePlan, errStale},
		{&pgError{"26000", `prepared statement "stmtcache_1" does not exist`}, errStale},
		{&pgError{"0A000", "some other feature is not supported"}, errOther},
		{&pgError{"23505", "duplicate key value violates unique constraint"}, errOther},
		{errors.New("database is locked"), errOther},
		{context.Canceled, errOther},
		{&pgError{"57P01", "terminating connection due to administrator command"}, errNotSent},
		{&pgError{"57P03", "the database system is starting up"}, errNotSent},
		{&pgError{"08006", "connection failure"}, errConnLost},
		{&pgError{"08P01", "server login has been failing, try again later (server_login_retry)"}, errNotSent},
		{&pgError{"NPN", "FATAL: server login has been failing, try again later (server_login_retry)"}, errNotSent},
		{errors.New("Error 1053 (08S01): Server shutdown in progress"), errNotSent},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, errNotSent},
		{fmt.Errorf("failed to connect: %w", notSent{}), errNotSent},
		{&net.OpError{Op: "read", Net: "tcp", Err: syscall.ECONNRESET}, errConnLost},
		{io.ErrUnexpectedEOF, errConnLost},
		{driver.ErrBadConn, errConnLost},
		{errors.New("invalid connection"), errConnLost},
		{errors.New("conn closed"), errConnLost},
		{fmt.Errorf("%w: %w", context.DeadlineExceeded, errMySQLDeadlock), errOther},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, classify(tc.err), "%v", tc.err)
	}
}

// A server or pooler restart breaks the connections in flight. A read
// that lost its connection runs again on a fresh one; so does any
// statement that provably never reached the server; a save that may have
// run is never run again on a guess: the row's version and data tell
// whether it landed, and only if not does it run again.
func TestALostConnectionCostsNoErrorAndRunsNoWriteTwice(t *testing.T) {
	cases := []struct {
		name     string
		match    string // the statement that fails
		err      error
		afterRun bool // the write ran before its connection broke
		path     string
		status   int
		runs     int    // how often the failure was given
		ran      int    // how often the failing statement reached the database
		stored   string // k's value read back afterwards
	}{
		{"a read whose connection broke runs again", "SELECT", io.ErrUnexpectedEOF, false, "/get?k=k", http.StatusOK, 1, 2, "old"},
		{"a read the server ended while shutting down runs again", "SELECT",
			&pgError{"57P01", "terminating connection due to administrator command"}, false, "/get?k=k", http.StatusOK, 1, 2, "old"},
		{"a write never sent runs again", "UPDATE", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, false,
			"/set?k=new", http.StatusOK, 1, 2, "new"},
		{"a write that ran before its connection broke is found landed, not run again", "UPDATE", errors.New("invalid connection"), true,
			"/set?k=new", http.StatusOK, 1, 1, "new"},
		{"a write whose connection broke before it ran runs again once the row says so", "UPDATE", errors.New("invalid connection"), false,
			"/set?k=new", http.StatusOK, 1, 2, "new"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, rec, in := openInjectDB(t)
			a := newAppOn(t, db, rec, basicRoutes)
			cl := a.client()
			require.Equal(t, http.StatusOK, cl.get("/set?k=old").StatusCode)
			in.mu.Lock()
			in.afterRun = tc.afterRun
			in.mu.Unlock()
			in.arm(tc.match, tc.err, 1)
			in.mu.Lock()
			in.seen = nil
			in.mu.Unlock()
			resp := cl.get(tc.path)
			assert.Equal(t, tc.status, resp.StatusCode, resp.body)
			assert.Equal(t, tc.runs, in.failures())
			in.mu.Lock()
			ran := 0
			for _, q := range in.seen {
				if strings.HasPrefix(q, tc.match) {
					ran++
				}
			}
			in.seen = nil
			in.mu.Unlock()
			assert.Equal(t, tc.ran, ran, "how often the statement reached the database")
			assert.Empty(t, a.errors())
			in.arm("", nil, 0)
			assert.Equal(t, tc.stored, cl.get("/get?k=k").body)
		})
	}
}

// Ending a renewal is a write, but one that may run twice: when its
// connection breaks, it runs again on a fresh one, so that the old cookie
// stops working with the request, not renewalGrace later.
func TestALostConnectionDoesNotLeaveARenewedSessionsOldIDWorking(t *testing.T) {
	for _, afterRun := range []bool{false, true} {
		t.Run(fmt.Sprintf("the first run landed: %v", afterRun), func(t *testing.T) {
			db, rec, in := openInjectDB(t)
			a := newAppOn(t, db, rec, basicRoutes)
			cl := a.client()
			require.Equal(t, http.StatusOK, cl.get("/set?k=old").StatusCode)
			old := cl.cookie()
			in.mu.Lock()
			in.afterRun = afterRun
			in.mu.Unlock()
			in.arm("SET renewed_from = ''", io.ErrUnexpectedEOF, 1)
			in.mu.Lock()
			in.seen = nil
			in.mu.Unlock()

			require.Equal(t, http.StatusOK, cl.get("/renew").StatusCode)
			require.NotEqual(t, old, cl.cookie())
			assert.Equal(t, 1, in.failures())
			in.arm("", nil, 0)
			in.mu.Lock()
			ran := 0
			for _, q := range in.seen {
				if strings.Contains(q, "SET renewed_from = ''") {
					ran++
				}
			}
			in.mu.Unlock()
			assert.Equal(t, 2, ran, "how often the end of the renewal reached the database")
			assert.NotContains(t, a.logs.String(), "cannot retire the renewed session's old ID")

			// A logout sent with the old cookie finds nothing to end.
			stale := a.client()
			stale.setCookie(old)
			assert.Equal(t, http.StatusOK, stale.get("/destroy").StatusCode)
			assert.Equal(t, "old", cl.get("/get?k=k").body, "the renewed session outlives a logout with its old ID")
		})
	}
}

// A server that stays down fails the request once the budget for fresh
// connections is spent, not at once and not never.
func TestAServerThatStaysDownFailsTheRequestAfterTheBudget(t *testing.T) {
	db, rec, in := openInjectDB(t)
	a := newAppOn(t, db, rec, basicRoutes)
	cl := a.client()
	require.Equal(t, http.StatusOK, cl.get("/set?k=old").StatusCode)
	in.arm("SELECT", &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, -1)
	resp := cl.get("/get?k=k")
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.Greater(t, in.failures(), 3, "tried on fresh connections")
	assert.Less(t, in.failures(), 12, "within the budget")
	require.NotEmpty(t, a.errors())
	assert.Contains(t, a.errors()[0], "connection refused")
}

// A revocation deletes every session of the user and so meets a write to
// any of them: it outlasts conflicts that would make a save give up, and
// is bounded all the same.
func TestARevocationOutlastsConflictsThatStopASave(t *testing.T) {
	for _, tc := range []struct {
		name    string
		destroy func(a *app, cl *client) (int64, error)
		deleted int64 // of alice's three sessions
	}{
		{"DestroyUser", func(a *app, _ *client) (int64, error) { return a.store.DestroyUser(t.Context(), "alice") }, 3},
		{"DestroyOthers", func(_ *app, cl *client) (int64, error) {
			resp := cl.get("/signout-others")
			if resp.StatusCode != http.StatusOK {
				return 0, fmt.Errorf("status %d: %s", resp.StatusCode, resp.body)
			}
			return strconv.ParseInt(resp.body, 10, 64)
		}, 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, rec, in := openInjectDB(t)
			var a *app
			a = newAppOn(t, db, rec, deviceRoutes(&a))
			var alice []*client
			for range 3 {
				cl := a.client()
				require.Equal(t, http.StatusOK, cl.get("/login?u=alice").StatusCode)
				alice = append(alice, cl)
			}

			in.arm("DELETE", errMySQLDeadlock, maxAttempts)
			n, err := tc.destroy(a, alice[0])
			require.NoError(t, err, "%d conflicts, as many as stop a save", maxAttempts)
			assert.Equal(t, maxAttempts, in.failures())
			assert.Equal(t, tc.deleted, n)
			assert.Empty(t, alice[1].get("/whoami").body, "signed out")

			require.Equal(t, http.StatusOK, alice[1].get("/login?u=alice").StatusCode)
			in.arm("DELETE", errMySQLDeadlock, -1)
			_, err = tc.destroy(a, alice[0])
			assert.ErrorContains(t, err, ErrConflict.Error())
			assert.Equal(t, revokeAttempts, in.failures(), "bounded attempts")
			in.arm("", nil, 0)
			assert.Equal(t, "alice", alice[1].get("/whoami").body, "a revocation that gave up deleted nothing")
		})
	}
}
