package ginsession

import (
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/require"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

func init() { gin.SetMode(gin.TestMode) }

// recorder sees every statement that reaches the SQLite driver.
type recorder struct {
	mu    sync.Mutex
	stmts []string
}

func (r *recorder) add(q string) {
	r.mu.Lock()
	r.stmts = append(r.stmts, q)
	r.mu.Unlock()
}

// take returns the statements since the last take and forgets them.
func (r *recorder) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := r.stmts
	r.stmts = nil
	return s
}

type countingConnector struct {
	dsn string
	rec *recorder
	drv *sqlite3.SQLiteDriver
}

func (c *countingConnector) Connect(context.Context) (driver.Conn, error) {
	conn, err := c.drv.Open(c.dsn)
	if err != nil {
		return nil, err
	}
	return &countingConn{SQLiteConn: conn.(*sqlite3.SQLiteConn), rec: c.rec}, nil
}

func (c *countingConnector) Driver() driver.Driver { return c.drv }

type countingConn struct {
	*sqlite3.SQLiteConn
	rec *recorder
}

func (c *countingConn) ExecContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Result, error) {
	c.rec.add(q)
	return c.SQLiteConn.ExecContext(ctx, q, args)
}

func (c *countingConn) QueryContext(ctx context.Context, q string, args []driver.NamedValue) (driver.Rows, error) {
	c.rec.add(q)
	return c.SQLiteConn.QueryContext(ctx, q, args)
}

func (c *countingConn) PrepareContext(ctx context.Context, q string) (driver.Stmt, error) {
	st, err := c.SQLiteConn.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	return &countingStmt{SQLiteStmt: st.(*sqlite3.SQLiteStmt), rec: c.rec, q: q}, nil
}

func (c *countingConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	c.rec.add("BEGIN")
	tx, err := c.SQLiteConn.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return countingTx{tx, c.rec}, nil
}

type countingTx struct {
	driver.Tx
	rec *recorder
}

func (t countingTx) Commit() error   { t.rec.add("COMMIT"); return t.Tx.Commit() }
func (t countingTx) Rollback() error { t.rec.add("ROLLBACK"); return t.Tx.Rollback() }

type countingStmt struct {
	*sqlite3.SQLiteStmt
	rec *recorder
	q   string
}

func (s *countingStmt) ExecContext(ctx context.Context, args []driver.NamedValue) (driver.Result, error) {
	s.rec.add(s.q)
	return s.SQLiteStmt.ExecContext(ctx, args)
}

func (s *countingStmt) QueryContext(ctx context.Context, args []driver.NamedValue) (driver.Rows, error) {
	s.rec.add(s.q)
	return s.SQLiteStmt.QueryContext(ctx, args)
}

// sqliteDSN is the DSN the README recommends for concurrent writers.
func sqliteDSN(path string) string {
	return "file:" + path + "?_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL"
}

// openDB opens a real SQLite file in a temporary directory, counting every
// statement that reaches the driver.
func openDB(t *testing.T) (*gorm.DB, *recorder) {
	t.Helper()
	rec := &recorder{}
	sqlDB := sql.OpenDB(&countingConnector{
		dsn: sqliteDSN(filepath.Join(t.TempDir(), "sessions.db")),
		rec: rec,
		drv: &sqlite3.SQLiteDriver{},
	})
	t.Cleanup(func() { sqlDB.Close() })
	db, err := gorm.Open(sqlite.Dialector{Conn: sqlDB}, &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	return db, rec
}

// clock is a settable time source for WithClock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// syncBuffer collects log output written from several goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// app is a Gin engine with the middleware, served over real HTTP.
type app struct {
	t      *testing.T
	db     *gorm.DB
	rec    *recorder
	store  *Store
	clock  *clock
	logs   *syncBuffer
	engine *gin.Engine
	srv    *httptest.Server

	mu   sync.Mutex
	errs []string // c.Errors of each request that had any
}

// errors returns what requests so far put into c.Errors.
func (a *app) errors() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.errs)
}

// newApp starts a server whose routes setup adds. The store runs on a fake
// clock, logs into app.logs and starts no background cleanup unless opts
// say otherwise.
func newApp(t *testing.T, setup func(r *gin.Engine), opts ...Option) *app {
	t.Helper()
	db, rec := openDB(t)
	return newAppOn(t, db, rec, setup, opts...)
}

func newAppOn(t *testing.T, db *gorm.DB, rec *recorder, setup func(r *gin.Engine), opts ...Option) *app {
	t.Helper()
	return newAppBehind(t, db, rec, nil, setup, opts...)
}

// newAppBehind is newAppOn with outer, if not nil, running just before the
// session middleware, as an application's own middleware (a timeout, say)
// would.
func newAppBehind(t *testing.T, db *gorm.DB, rec *recorder, outer gin.HandlerFunc, setup func(r *gin.Engine), opts ...Option) *app {
	t.Helper()
	a := &app{t: t, db: db, rec: rec, clock: newClock(), logs: &syncBuffer{}}
	base := []Option{
		WithClock(a.clock.Now),
		WithLogger(slog.New(slog.NewTextHandler(a.logs, nil))),
		WithCleanupInterval(0),
	}
	st, err := NewStore(db, append(base, opts...)...)
	require.NoError(t, err)
	a.store = st
	a.engine = gin.New()
	a.engine.Use(func(c *gin.Context) {
		c.Header("X-Outer", "kept") // set before the session middleware runs
		c.Next()
		if len(c.Errors) > 0 {
			a.mu.Lock()
			a.errs = append(a.errs, c.Errors.String())
			a.mu.Unlock()
		}
	}, gin.RecoveryWithWriter(io.Discard))
	if outer != nil {
		a.engine.Use(outer)
	}
	a.engine.Use(st.Handler())
	setup(a.engine)
	a.srv = httptest.NewServer(a.engine)
	t.Cleanup(a.srv.Close)
	rec.take()
	return a
}

// client is a browser: it keeps cookies between requests.
type client struct {
	t   *testing.T
	a   *app
	hc  *http.Client
	jar *cookiejar.Jar
}

func (a *app) client() *client {
	jar, err := cookiejar.New(nil)
	require.NoError(a.t, err)
	return &client{t: a.t, a: a, jar: jar, hc: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	*http.Response
	body  string
	stmts []string // statements the request ran
}

// get requests path and returns the response with its body read.
func (c *client) get(path string) response {
	c.t.Helper()
	c.a.rec.take()
	resp, err := c.hc.Get(c.a.srv.URL + path)
	require.NoError(c.t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	resp.Body.Close()
	return response{Response: resp, body: string(body), stmts: c.a.rec.take()}
}

// cookie returns the session cookie the client holds, or "".
func (c *client) cookie() string {
	u, _ := url.Parse(c.a.srv.URL)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == DefaultCookieName {
			return ck.Value
		}
	}
	return ""
}

// setCookie makes the client send value as its session cookie.
func (c *client) setCookie(value string) {
	u, _ := url.Parse(c.a.srv.URL)
	c.jar.SetCookies(u, []*http.Cookie{{Name: DefaultCookieName, Value: value, Path: "/"}})
}

// sessionCookie returns the session's Set-Cookie of a response, or nil.
func (r response) sessionCookie() *http.Cookie {
	for _, ck := range r.Cookies() {
		if ck.Name == DefaultCookieName {
			return ck
		}
	}
	return nil
}

// rows returns the session rows in the database.
func (a *app) rows() []Model {
	a.t.Helper()
	var ms []Model
	require.NoError(a.t, a.db.Table(a.store.cfg.tableName).Order("created_at").Find(&ms).Error)
	a.rec.take()
	return ms
}

// kinds returns the first word of each statement, upper-cased.
func kinds(stmts []string) []string {
	out := make([]string, 0, len(stmts))
	for _, s := range stmts {
		f := strings.Fields(s)
		if len(f) > 0 {
			out = append(out, strings.ToUpper(f[0]))
		}
	}
	return out
}

// basicRoutes are the routes most tests share.
func basicRoutes(r *gin.Engine) {
	r.GET("/none", func(c *gin.Context) { c.String(http.StatusOK, "untouched") })
	r.GET("/set", func(c *gin.Context) {
		s := Default(c)
		for k, v := range c.Request.URL.Query() {
			s.Set(k, v[0])
		}
		c.String(http.StatusOK, "set")
	})
	r.GET("/get", func(c *gin.Context) {
		v, ok := Get[string](Default(c), c.Query("k"))
		if !ok {
			c.String(http.StatusNotFound, "missing")
			return
		}
		c.String(http.StatusOK, v)
	})
	r.GET("/keys", func(c *gin.Context) { c.String(http.StatusOK, strings.Join(Default(c).Keys(), ",")) })
	r.GET("/destroy", func(c *gin.Context) {
		Default(c).Destroy()
		c.String(http.StatusOK, "bye")
	})
	r.GET("/renew", func(c *gin.Context) {
		Default(c).RenewID()
		c.String(http.StatusOK, "renewed")
	})
}

// newRecorderRequest serves one GET in-process, for tests that need no
// cookie jar.
func newRecorderRequest(h http.Handler, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w
}
