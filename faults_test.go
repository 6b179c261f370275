package ginsession

import (
	"context"
	"database/sql"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession/internal/testkit"
	"github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Faults: what a user sees when the database misbehaves under a running
// app. Each test checks that the failure is loud (error handler or returned
// error), that the process keeps serving, and that data saved earlier
// survives.

// faultDB is a counting SQLite pool on a file the test knows, so that the
// test can close it, lock it from another connection or open it again.
type faultDB struct {
	gorm *gorm.DB
	sql  *sql.DB
	rec  *recorder
}

// openFaultDB opens path with the DSN parameters in query through drv (nil
// for a plain SQLite driver), counting statements as openDB does.
func openFaultDB(tb testing.TB, path, query string, drv *sqlite3.SQLiteDriver) *faultDB {
	tb.Helper()
	if drv == nil {
		drv = &sqlite3.SQLiteDriver{}
	}
	rec := &recorder{}
	sqlDB := sql.OpenDB(testkit.Count(testkit.DSNConnector(drv, "file:"+path+"?"+query), rec))
	tb.Cleanup(func() { sqlDB.Close() })
	db, err := gorm.Open(sqlite.Dialector{Conn: sqlDB}, &gorm.Config{Logger: logger.Discard})
	require.NoError(tb, err)
	return &faultDB{gorm: db, sql: sqlDB, rec: rec}
}

// recommendedQuery is docs/production.md's DSN for concurrent writers.
const recommendedQuery = "_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL"

// faultRoutes are basicRoutes plus a write whose only key is fixed, so that
// query parameters steering the fault are not stored.
func faultRoutes(r *gin.Engine) {
	basicRoutes(r)
	r.GET("/write", func(c *gin.Context) {
		Default(c).Set("k", c.Query("v"))
		c.String(http.StatusOK, "handler output")
	})
}

// assertHandled makes a request and checks that it failed through the
// error handler (errorRecorder answers 503), once, with none of the route's
// output. It returns the response and the error the handler was given.
func assertHandled(t *testing.T, rec *errorRecorder, request func() response, want error) (response, error) {
	t.Helper()
	before := len(rec.all())
	resp := request()
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "session trouble", resp.body, "none of the route's output")
	assert.Nil(t, resp.sessionCookie(), "no session cookie with an error")
	errs := rec.all()
	require.Len(t, errs, before+1, "the error handler was called once")
	err := errs[before]
	assert.ErrorIs(t, err, want)
	return resp, err
}

func TestClosedDatabaseFailsEverySessionRequestLoudlyAndKeepsServing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	fdb := openFaultDB(t, path, recommendedQuery, nil)
	handled := &errorRecorder{}
	a := newAppOn(t, fdb.gorm, fdb.rec, faultRoutes, WithErrorHandler(handled.handle))
	owner := a.client()
	require.Equal(t, http.StatusOK, owner.get("/set?k=saved").StatusCode)
	token := owner.cookie()
	require.NotEmpty(t, token)

	require.NoError(t, fdb.sql.Close())

	cases := []struct {
		name string
		cl   *client
		path string
		want error
	}{
		{"read an existing session", owner, "/get?k=k", ErrLoad},
		{"write an existing session", owner, "/write?v=lost", ErrLoad},
		{"destroy an existing session", owner, "/destroy", ErrSave},
		{"start a new session", a.client(), "/write?v=lost", ErrSave},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := assertHandled(t, handled, func() response { return tc.cl.get(tc.path) }, tc.want)
			assert.ErrorContains(t, err, "database is closed")
		})
	}
	assert.Equal(t, token, owner.cookie(), "the client keeps its cookie")
	resp := a.client().get("/none")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "a route without the session still works")
	assert.Equal(t, "untouched", resp.body)

	// The process restarts on the same file: nothing saved earlier is lost.
	again := openFaultDB(t, path, recommendedQuery, nil)
	b := newAppOn(t, again.gorm, again.rec, faultRoutes)
	back := b.client()
	back.setCookie(token)
	assert.Equal(t, "saved", back.get("/get?k=k").body)
	rows := b.rows()
	require.Len(t, rows, 1, "no row was added or lost")
	assert.EqualValues(t, 1, rows[0].Version, "no write got through")
}

func TestStoreOnAClosedDatabaseFailsAtStartWithTheCause(t *testing.T) {
	fdb := openFaultDB(t, filepath.Join(t.TempDir(), "sessions.db"), recommendedQuery, nil)
	require.NoError(t, fdb.sql.Close())
	_, err := NewStore(fdb.gorm)
	require.Error(t, err)
	assert.ErrorContains(t, err, `migrate table "gin_sessions"`)
	assert.ErrorContains(t, err, "database is closed")
}

// sleepyDriver is SQLite with sleep_ms(n), a function that blocks its
// statement for n milliseconds: a slow database on demand.
func sleepyDriver() *sqlite3.SQLiteDriver {
	return &sqlite3.SQLiteDriver{ConnectHook: func(c *sqlite3.SQLiteConn) error {
		return c.RegisterFunc("sleep_ms", func(ms int64) int64 {
			time.Sleep(time.Duration(ms) * time.Millisecond)
			return ms
		}, false)
	}}
}

// withDeadline gives a request the deadline in its "deadline" parameter, as
// a timeout middleware in front of the session's would.
func withDeadline(c *gin.Context) {
	d, err := time.ParseDuration(c.Query("deadline"))
	if err != nil {
		c.Next()
		return
	}
	ctx, cancel := context.WithTimeout(c.Request.Context(), d)
	defer cancel()
	c.Request = c.Request.WithContext(ctx)
	c.Next()
}

func TestDeadlineInTheMiddleOfASaveAbortsItAndKeepsTheOldData(t *testing.T) {
	fdb := openFaultDB(t, filepath.Join(t.TempDir(), "sessions.db"), recommendedQuery, sleepyDriver())
	handled := &errorRecorder{}
	a := newAppBehind(t, fdb.gorm, fdb.rec, withDeadline, faultRoutes, WithErrorHandler(handled.handle))
	cl := a.client()
	require.Equal(t, http.StatusOK, cl.get("/write?v=old").StatusCode)
	// Every UPDATE of the table now scans 30 rows at 50 ms each; the
	// request may take 300 ms. SQLite notices an interrupt between rows.
	require.NoError(t, fdb.gorm.Exec(`CREATE TRIGGER slow BEFORE UPDATE ON gin_sessions BEGIN
		WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30)
		SELECT sleep_ms(50) FROM n;
	END`).Error)

	start := time.Now()
	resp, err := assertHandled(t, handled, func() response { return cl.get("/write?v=new&deadline=300ms") }, ErrSave)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Equal(t, []string{"SELECT", "UPDATE"}, kinds(resp.stmts), "no retry past the deadline")
	assert.Less(t, time.Since(start), 1200*time.Millisecond, "the statement stopped at the deadline, not at its end")

	resp = cl.get("/get?k=k")
	assert.Equal(t, "old", resp.body, "the interrupted UPDATE changed nothing")
	rows := a.rows()
	require.Len(t, rows, 1)
	assert.EqualValues(t, 1, rows[0].Version)

	require.NoError(t, fdb.gorm.Exec(`DROP TRIGGER slow`).Error)
	require.Equal(t, http.StatusOK, cl.get("/write?v=new&deadline=5s").StatusCode, "the next request with time to spare saves")
	assert.Equal(t, "new", cl.get("/get?k=k").body)
}

func TestDeadlineAlreadyPastFailsTheLoadNotAsAnEmptySession(t *testing.T) {
	fdb := openFaultDB(t, filepath.Join(t.TempDir(), "sessions.db"), recommendedQuery, nil)
	handled := &errorRecorder{}
	a := newAppBehind(t, fdb.gorm, fdb.rec, withDeadline, faultRoutes, WithErrorHandler(handled.handle))
	cl := a.client()
	require.Equal(t, http.StatusOK, cl.get("/write?v=old").StatusCode)

	resp, err := assertHandled(t, handled, func() response { return cl.get("/write?v=new&deadline=1ns") }, ErrLoad)
	assert.ErrorIs(t, err, context.DeadlineExceeded)
	assert.Empty(t, resp.stmts, "no statement reached the database")

	assert.Equal(t, "old", cl.get("/get?k=k").body)
	assert.EqualValues(t, 1, a.rows()[0].Version)
}

func TestDroppedTableFailsLoudlyAndIsNotRecreatedBehindTheAppsBack(t *testing.T) {
	handled := &errorRecorder{}
	a := newApp(t, faultRoutes, WithErrorHandler(handled.handle))
	require.NoError(t, a.db.Exec(`CREATE TABLE accounts (name TEXT)`).Error)
	require.NoError(t, a.db.Exec(`INSERT INTO accounts VALUES ('alice')`).Error)
	cl := a.client()
	require.Equal(t, http.StatusOK, cl.get("/write?v=saved").StatusCode)
	old := cl.cookie()

	require.NoError(t, a.db.Exec(`DROP TABLE gin_sessions`).Error)
	for _, tc := range []struct {
		name string
		cl   *client
		path string
		want error
	}{
		{"read", cl, "/get?k=k", ErrLoad},
		{"write", cl, "/write?v=lost", ErrLoad},
		{"new session", a.client(), "/write?v=lost", ErrSave},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := assertHandled(t, handled, func() response { return tc.cl.get(tc.path) }, tc.want)
			assert.ErrorContains(t, err, "no such table")
		})
	}
	assert.Equal(t, "untouched", a.client().get("/none").body, "the process keeps serving")
	assert.False(t, a.db.Migrator().HasTable(DefaultTableName), "no silent re-creation hides the fault")
	var names []string
	require.NoError(t, a.db.Raw(`SELECT name FROM accounts`).Scan(&names).Error)
	assert.Equal(t, []string{"alice"}, names, "the app's own tables are untouched")

	// The operator restores the table (a restart migrates it): the old ID
	// is unknown now and is never adopted.
	_, err := NewStore(a.db)
	require.NoError(t, err)
	resp := cl.get("/get?k=k")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "an anonymous session, not an error")
	require.Equal(t, http.StatusOK, cl.get("/write?v=fresh").StatusCode)
	assert.NotEqual(t, old, cl.cookie(), "a fresh ID")
	assert.Equal(t, "fresh", cl.get("/get?k=k").body)
}

// corruptRow saves a session for a fresh client, then overwrites its row's
// data with data. It returns the client, and a bystander whose session holds
// k=theirs.
func corruptRow(t *testing.T, a *app, data string) (owner, bystander *client) {
	t.Helper()
	bystander = a.client()
	require.Equal(t, http.StatusOK, bystander.get("/write?v=theirs").StatusCode)
	owner = a.client()
	require.Equal(t, http.StatusOK, owner.get("/write?v=mine").StatusCode)
	id, ok := parseToken(owner.cookie())
	require.True(t, ok)
	res := a.db.Exec(`UPDATE gin_sessions SET data = ? WHERE id = ?`, data, id)
	require.NoError(t, res.Error)
	require.EqualValues(t, 1, res.RowsAffected, "the owner's row is the corrupt one")
	return owner, bystander
}

// TestUndecodableRowOfAnyShapeStartsAFreshSession extends
// TestCorruptRowIsTreatedAsNewSessionAndLogged (truncated JSON) to other
// shapes of damage: the owner reads an empty session, can save again under
// a fresh ID, and other sessions are untouched.
func TestUndecodableRowOfAnyShapeStartsAFreshSession(t *testing.T) {
	cases := map[string]string{
		"not JSON":               "\x00\x01garbage",
		"an array":               `[1,2,3]`,
		"values of another type": `{"values":"junk"}`,
		"flashes not a list":     `{"values":{"junk":"v"},"flashes":{"a":1}}`,
		"nested past any limit":  `{"values":{"junk":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}}`,
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			a := newApp(t, faultRoutes)
			owner, bystander := corruptRow(t, a, data)
			old := owner.cookie()

			resp := owner.get("/get?k=k")
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, "an empty session, not a server error")
			assert.Equal(t, []string{"SELECT"}, kinds(resp.stmts))
			assert.Contains(t, a.logs.String(), "cannot be decoded")

			resp = owner.get("/write?v=after")
			require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
			assert.NotEqual(t, old, owner.cookie(), "a fresh ID")
			assert.Equal(t, "after", owner.get("/get?k=k").body)
			assert.Equal(t, "theirs", bystander.get("/get?k=k").body, "other sessions are intact")
		})
	}
}

// A text column of SQLite (or a restore gone wrong) can hold bytes that are
// not UTF-8. Such a row decodes, but the library refuses to save data that
// is not UTF-8, so its owner could not save anything until it expired.
func TestRowWithNonUTF8BytesStillAcceptsWrites(t *testing.T) {
	a := newApp(t, faultRoutes)
	owner, bystander := corruptRow(t, a, "{\"values\":{\"junk\":\"bad\xff\"}}")

	resp := owner.get("/get?k=k")
	assert.Less(t, resp.StatusCode, 500, "reading it is no server error")

	resp = owner.get("/write?v=after")
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the owner can save again: %s", resp.body)
	assert.Equal(t, "after", owner.get("/get?k=k").body)
	assert.Equal(t, "theirs", bystander.get("/get?k=k").body, "other sessions are intact")
}

func TestBusyDatabaseFailsTheSaveAndKeepsTheOldData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	const query = "_journal_mode=WAL&_busy_timeout=100&_synchronous=NORMAL"
	fdb := openFaultDB(t, path, query, nil)
	handled := &errorRecorder{}
	a := newAppOn(t, fdb.gorm, fdb.rec, faultRoutes, WithErrorHandler(handled.handle))
	cl := a.client()
	require.Equal(t, http.StatusOK, cl.get("/write?v=old").StatusCode)

	// Another process holds the write lock far longer than the 100 ms the
	// app's connections wait for it.
	other, err := sql.Open("sqlite3", "file:"+path+"?"+query)
	require.NoError(t, err)
	t.Cleanup(func() { other.Close() })
	ctx := context.Background()
	conn, err := other.Conn(ctx)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	_, err = conn.ExecContext(ctx, "BEGIN EXCLUSIVE")
	require.NoError(t, err)
	locked := true
	t.Cleanup(func() {
		if locked {
			_, _ = conn.ExecContext(ctx, "ROLLBACK")
		}
	})

	for _, tc := range []struct {
		name string
		cl   *client
		want []string
	}{
		{"update", cl, []string{"SELECT", "UPDATE"}},
		{"insert", a.client(), []string{"INSERT"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := assertHandled(t, handled, func() response { return tc.cl.get("/write?v=new") }, ErrSave)
			var serr sqlite3.Error
			require.ErrorAs(t, err, &serr)
			assert.Equal(t, sqlite3.ErrBusy, serr.Code)
			assert.Equal(t, tc.want, kinds(resp.stmts), "one attempt, no retry loop")
		})
	}
	assert.Equal(t, "old", cl.get("/get?k=k").body, "reads go on while the writer waits (WAL)")

	_, err = conn.ExecContext(ctx, "ROLLBACK")
	require.NoError(t, err)
	locked = false
	assert.Equal(t, "old", cl.get("/get?k=k").body, "the failed save changed nothing")
	require.Equal(t, http.StatusOK, cl.get("/write?v=new").StatusCode, "saves work again once the lock is gone")
	assert.Equal(t, "new", cl.get("/get?k=k").body)
	assert.Len(t, a.rows(), 1, "the failed new session left no row")
	assert.Len(t, handled.all(), 2, "only the two saves under the lock failed")
}

// A handler that writes its response inside the application's own
// transaction, on a pool of one connection: the session's save waits for
// the connection the transaction holds, which waits for the response. It
// must fail with a message that says so, not hang.
func TestResponseInsideTheAppsTransactionOnAFullPoolFailsClearly(t *testing.T) {
	db, rec := openDB(t)
	sqlDB, err := db.DB()
	require.NoError(t, err)
	sqlDB.SetMaxOpenConns(1)
	handled := &errorRecorder{}
	a := newAppOn(t, db, rec, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/in-tx", func(c *gin.Context) {
			_ = db.Transaction(func(tx *gorm.DB) error {
				if err := tx.Exec("CREATE TABLE IF NOT EXISTS orders (id INTEGER)").Error; err != nil {
					return err
				}
				Default(c).Set("order", "placed")
				c.String(http.StatusOK, "placed") // the save runs here, inside the transaction
				return nil
			})
		})
	}, WithErrorHandler(handled.handle), func(c *config) { c.poolWait = 200 * time.Millisecond })

	done := make(chan response, 1)
	go func() { done <- a.client().get("/in-tx") }()
	select {
	case resp := <-done:
		assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode) // errorRecorder's answer
		errs := handled.all()
		require.Len(t, errs, 1)
		assert.ErrorIs(t, errs[0], ErrPoolExhausted)
		assert.ErrorIs(t, errs[0], ErrSave)
		assert.Contains(t, errs[0].Error(), "call s.Save() before entering it")
	case <-time.After(30 * time.Second):
		t.Fatal("the request hangs")
	}
	cl := a.client()
	require.Equal(t, http.StatusOK, cl.get("/set?k=v").StatusCode, "the pool works again once the transaction ended")
	assert.Equal(t, "v", cl.get("/get?k=k").body)
}
