// Package sessiontest is ginsession's behaviour suite, written once and run
// against every database the library supports: Run for a single instance,
// RunInstances for two app servers sharing one database, RunLoad for many
// concurrent clients. Each takes an Opener for the database under test.
package sessiontest

import (
	"crypto/rand"
	"encoding/hex"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
	"github.com/ginsession/ginsession/internal/testkit"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
)

// DB is one connection pool on the database under test.
type DB struct {
	*gorm.DB
	Counter *testkit.Counter
}

// Kinds returns the first word of each statement, upper-cased.
func Kinds(stmts []string) []string { return testkit.Kinds(stmts) }

// An Opener opens a new connection pool on the database under test, with
// every statement counted. Each call gives a new pool on the same database;
// the Opener closes it when t ends.
type Opener func(t *testing.T) DB

// freshTable returns a table name no other test uses and drops the table
// when t ends.
func freshTable(t *testing.T, db DB) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := "s_" + hex.EncodeToString(b[:])
	t.Cleanup(func() { _ = db.Migrator().DropTable(name) })
	return name
}

// Clock is a settable time source for ginsession.WithClock.
type Clock = testkit.Clock

// NewClock starts a clock at a fixed instant with a sub-millisecond part.
func NewClock() *Clock {
	return testkit.NewClock(time.Date(2026, 11, 27, 12, 0, 0, 123456789, time.UTC))
}

type syncBuffer = testkit.SyncBuffer

// app is one app server: a Gin engine with the middleware over real HTTP.
type app struct {
	t     *testing.T
	db    DB
	table string
	store *ginsession.Store
	logs  *syncBuffer
	srv   *httptest.Server

	mu   sync.Mutex
	errs []string
}

// newApp starts an app server on db's table, with routes from setup.
func newApp(t *testing.T, db DB, table string, clock *Clock, setup func(r *gin.Engine), opts ...ginsession.Option) *app {
	t.Helper()
	return newAppOf(t, db, table, clock, func(r *gin.Engine, _ *ginsession.Store) { setup(r) }, opts...)
}

// newAppOf is newApp for routes that need the app's store (APIHandler).
func newAppOf(t *testing.T, db DB, table string, clock *Clock, setup func(r *gin.Engine, st *ginsession.Store), opts ...ginsession.Option) *app {
	t.Helper()
	gin.SetMode(gin.TestMode)
	a := &app{t: t, db: db, table: table, logs: &syncBuffer{}}
	base := []ginsession.Option{
		ginsession.WithTableName(table),
		ginsession.WithLogger(slog.New(slog.NewTextHandler(a.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))),
		ginsession.WithCleanupInterval(0),
	}
	if clock != nil {
		base = append(base, ginsession.WithClock(clock.Now))
	}
	st, err := ginsession.NewStore(db.DB, append(base, opts...)...)
	require.NoError(t, err)
	a.store = st
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		if len(c.Errors) > 0 {
			a.mu.Lock()
			a.errs = append(a.errs, c.Errors.String())
			a.mu.Unlock()
		}
	}, gin.RecoveryWithWriter(io.Discard), st.Handler())
	setup(r, st)
	a.srv = httptest.NewServer(r)
	t.Cleanup(a.srv.Close)
	db.Counter.Take()
	return a
}

func (a *app) errors() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.errs)
}

// rows returns the session rows of the app's table.
func (a *app) rows() []ginsession.Model {
	a.t.Helper()
	var ms []ginsession.Model
	require.NoError(a.t, a.db.Table(a.table).Order("created_at").Find(&ms).Error)
	a.db.Counter.Take()
	return ms
}

// client is a browser: it keeps its cookies between requests, whichever app
// server it talks to.
type client struct {
	t   *testing.T
	hc  *http.Client
	jar *cookiejar.Jar
}

func newClient(t *testing.T) *client {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &client{t: t, jar: jar, hc: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	*http.Response
	body  string
	stmts []string
}

// get requests path from app a.
func (c *client) get(a *app, path string) response {
	c.t.Helper()
	a.db.Counter.Take()
	resp, err := c.hc.Get(a.srv.URL + path)
	require.NoError(c.t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	resp.Body.Close()
	return response{Response: resp, body: string(body), stmts: a.db.Counter.Take()}
}

// send makes a request to app a with a method, a form body (if not nil) and
// extra headers.
func (c *client) send(a *app, method, path string, form url.Values, header http.Header) response {
	c.t.Helper()
	a.db.Counter.Take()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, a.srv.URL+path, body)
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
	return response{Response: resp, body: string(b), stmts: a.db.Counter.Take()}
}

// cookie returns the session cookie the client holds for a's host.
func (c *client) cookie(a *app) string {
	u, _ := url.Parse(a.srv.URL)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == ginsession.DefaultCookieName {
			return ck.Value
		}
	}
	return ""
}

// setCookie makes the client send value as its session cookie to every app
// server (they all listen on 127.0.0.1, and cookies ignore ports).
func (c *client) setCookie(a *app, value string) {
	u, _ := url.Parse(a.srv.URL)
	c.jar.SetCookies(u, []*http.Cookie{{Name: ginsession.DefaultCookieName, Value: value, Path: "/"}})
}

func (r response) sessionCookie() *http.Cookie {
	for _, ck := range r.Cookies() {
		if ck.Name == ginsession.DefaultCookieName {
			return ck
		}
	}
	return nil
}

// routes are the handlers every app server of the suite has.
func routes(r *gin.Engine) {
	r.GET("/none", func(c *gin.Context) { c.String(http.StatusOK, "untouched") })
	r.GET("/set", func(c *gin.Context) {
		s := ginsession.Default(c)
		for k, v := range c.Request.URL.Query() {
			s.Set(k, v[0])
		}
		c.String(http.StatusOK, "set")
	})
	r.GET("/get", func(c *gin.Context) {
		v, ok := ginsession.Get[string](ginsession.Default(c), c.Query("k"))
		if !ok {
			c.String(http.StatusNotFound, "missing")
			return
		}
		c.String(http.StatusOK, v)
	})
	r.GET("/keys", func(c *gin.Context) {
		c.String(http.StatusOK, strings.Join(ginsession.Default(c).Keys(), ","))
	})
	r.GET("/dump", func(c *gin.Context) {
		s := ginsession.Default(c)
		out := map[string]string{}
		for _, k := range s.Keys() {
			out[k], _ = ginsession.Get[string](s, k)
		}
		c.JSON(http.StatusOK, gin.H{"new": s.IsNew(), "values": out})
	})
	r.GET("/destroy", func(c *gin.Context) {
		ginsession.Default(c).Destroy()
		c.String(http.StatusOK, "bye")
	})
	r.GET("/renew", func(c *gin.Context) {
		ginsession.Default(c).RenewID()
		c.String(http.StatusOK, "renewed")
	})
}

type gate = testkit.Gate

func newGate() *gate { return testkit.NewGate() }

// slowRoutes adds /slow-set to routes: it reads the session, waits for the
// test, then sets k=v from its query.
func slowRoutes(g *gate) func(r *gin.Engine) {
	return func(r *gin.Engine) {
		routes(r)
		r.GET("/slow-set", func(c *gin.Context) {
			s := ginsession.Default(c)
			_ = s.Keys()
			g.Hold()
			s.Set(c.Query("k"), c.Query("v"))
			c.String(http.StatusOK, "slow done")
		})
	}
}

// startSlow sends the slow request in the background and returns once it
// has read its session; wait lets it go on and returns its response.
func startSlow(c *client, a *app, g *gate, path string) (wait func() response) {
	return testkit.Start(g, func() response {
		resp, err := c.hc.Get(a.srv.URL + path)
		if err != nil {
			return response{body: err.Error()}
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return response{Response: resp, body: string(body)}
	})
}

// getWithCookies requests path from app a with a Cookie header naming each
// of tokens, as a browser that holds several cookies of the session's name
// (one planted by a sibling subdomain) sends them.
func (c *client) getWithCookies(a *app, path string, tokens ...string) response {
	c.t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.srv.URL+path, nil)
	require.NoError(c.t, err)
	var parts []string
	for _, tok := range tokens {
		parts = append(parts, ginsession.DefaultCookieName+"="+tok)
	}
	req.Header.Set("Cookie", strings.Join(parts, "; "))
	a.db.Counter.Take()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(c.t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	resp.Body.Close()
	return response{Response: resp, body: string(body), stmts: a.db.Counter.Take()}
}
