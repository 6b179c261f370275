package ginsession

import (
	"database/sql"
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
	"github.com/ginsession/ginsession/internal/testkit"
	"github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/require"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

func init() { gin.SetMode(gin.TestMode) }

// recorder sees every statement that reaches the SQLite driver.
type recorder = testkit.Counter

// kinds returns the first word of each statement, upper-cased.
func kinds(stmts []string) []string { return testkit.Kinds(stmts) }

// sqliteDSN is the DSN docs/production.md recommends for concurrent writers.
func sqliteDSN(path string) string {
	return "file:" + path + "?_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL"
}

// openDB opens a real SQLite file in a temporary directory, counting every
// statement that reaches the driver.
func openDB(t *testing.T) (*gorm.DB, *recorder) {
	t.Helper()
	rec := &recorder{}
	sqlDB := sql.OpenDB(testkit.Count(testkit.DSNConnector(&sqlite3.SQLiteDriver{},
		sqliteDSN(filepath.Join(t.TempDir(), "sessions.db"))), rec))
	t.Cleanup(func() { sqlDB.Close() })
	db, err := gorm.Open(sqlite.Dialector{Conn: sqlDB}, &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	return db, rec
}

type (
	clock      = testkit.Clock
	syncBuffer = testkit.SyncBuffer
)

func newClock() *clock { return testkit.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)) }

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
	rec.Take()
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
	c.a.rec.Take()
	resp, err := c.hc.Get(c.a.srv.URL + path)
	require.NoError(c.t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	resp.Body.Close()
	return response{Response: resp, body: string(body), stmts: c.a.rec.Take()}
}

// send makes a request with the given method, form body (if not nil) and
// extra headers, and returns the response with its body read.
func (c *client) send(method, path string, form url.Values, header http.Header) response {
	c.t.Helper()
	c.a.rec.Take()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.a.srv.URL+path, body)
	require.NoError(c.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.hc.Do(req)
	require.NoError(c.t, err)
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	resp.Body.Close()
	return response{Response: resp, body: string(b), stmts: c.a.rec.Take()}
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
	a.rec.Take()
	return ms
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

// serve starts a server for r over real HTTP, with TLS when tls is set,
// and closes it when the test ends.
func serve(t *testing.T, r http.Handler, tls bool) *httptest.Server {
	srv := httptest.NewUnstartedServer(r)
	if tls {
		srv.StartTLS()
	} else {
		srv.Start()
	}
	t.Cleanup(srv.Close)
	return srv
}

// newRecorderRequest serves one GET in-process, for tests that need no
// cookie jar.
func newRecorderRequest(h http.Handler, path string) *httptest.ResponseRecorder {
	w := httptest.NewRecorder()
	h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, path, nil))
	return w
}
