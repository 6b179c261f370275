package sessiontest

import (
	"context"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// signInRoutes add to userRoutes what a login page and an API need:
// remember me, a session's own expiry, CSRF, and tokens for API clients.
func signInRoutes(a **app) func(r *gin.Engine) {
	return func(r *gin.Engine) {
		r.Use(ginsession.CSRF())
		userRoutes(a)(r)
		r.GET("/signin", func(c *gin.Context) {
			s := ginsession.Default(c)
			s.Login(c.Query("u"))
			if r, ok := c.GetQuery("remember"); ok {
				s.RememberMe(r == "1")
			}
			c.String(http.StatusOK, s.CSRFToken())
		})
		r.GET("/own", func(c *gin.Context) {
			s := ginsession.Default(c)
			s.SetIdleTimeout(10 * time.Minute)
			s.SetDeadline(time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC))
			c.String(http.StatusOK, "own")
		})
		r.GET("/expiry", func(c *gin.Context) {
			e := ginsession.Default(c).Expiry()
			c.String(http.StatusOK, "%v %v %v %s", e.Remembered, e.Persistent, e.IdleTimeout, e.Deadline.Format(time.RFC3339Nano))
		})
		r.GET("/signed-in", func(c *gin.Context) {
			s := ginsession.Default(c)
			infos, err := (*a).store.UserSessions(c.Request.Context(), s.UserID())
			if err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			for _, info := range infos {
				if info.Handle == s.Handle() {
					c.String(http.StatusOK, "%s %v %v", info.SignedInAt.UTC().Format(time.RFC3339), info.Remembered, info.Header)
					return
				}
			}
			c.String(http.StatusNotFound, "not listed")
		})
		r.POST("/cart", func(c *gin.Context) {
			ginsession.Default(c).Set("cart", c.PostForm("item"))
			c.String(http.StatusOK, "added")
		})
		// The app's store is made after its routes: APIHandler is asked
		// for on each request.
		apiOnly := func(c *gin.Context) { (*a).store.APIHandler()(c) }
		r.Group("/api", apiOnly).POST("/login", func(c *gin.Context) {
			s := ginsession.Default(c)
			s.Login(c.PostForm("u"))
			token, err := s.IssueToken()
			if err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			c.String(http.StatusOK, token)
		})
	}
}

// testRememberMe stores the kind of session with the row: the cookie, the
// window and the sliding refresh follow it on every instance.
func testRememberMe(t *testing.T, db DB) {
	clock := NewClock()
	table := freshTable(t, db)
	var a, b *app
	a = newApp(t, db, table, clock, signInRoutes(&a))
	b = newApp(t, db, table, clock, signInRoutes(&b))

	remembered, browser := newClient(t), newClient(t)
	ck := remembered.get(a, "/signin?u=alice&remember=1").sessionCookie()
	require.NotNil(t, ck)
	assert.Equal(t, int(ginsession.DefaultRememberTimeout/time.Second), ck.MaxAge)
	ck = browser.get(a, "/signin?u=alice&remember=0").sessionCookie()
	require.NotNil(t, ck)
	assert.Zero(t, ck.MaxAge, "a browser-session cookie")
	assert.Equal(t, "true true 720h0m0s 0001-01-01T00:00:00Z", remembered.get(b, "/expiry").body)
	assert.Equal(t, "false false 2h0m0s 0001-01-01T00:00:00Z", browser.get(b, "/expiry").body)

	clock.Advance(time.Hour) // past a tenth of the browser session's window
	resp := browser.get(b, "/whoami")
	require.Equal(t, "alice", resp.body)
	require.NotNil(t, resp.sessionCookie(), "the expiry moved")
	assert.Zero(t, resp.sessionCookie().MaxAge, "and stays a browser session on the other instance")
	assert.Equal(t, []string{"SELECT"}, Kinds(remembered.get(b, "/whoami").stmts), "a tenth of 30 days has not passed")

	clock.Advance(2*time.Hour + time.Minute)
	assert.Empty(t, browser.get(a, "/whoami").body, "the browser session's own window ended it")
	assert.Equal(t, "alice", remembered.get(a, "/whoami").body)
	assert.Equal(t, "true false", remembered.get(a, "/signed-in").body[21:], "the devices page says it is remembered")

	own := newClient(t)
	own.get(a, "/signin?u=bob")
	own.get(a, "/own")
	assert.Equal(t, "false true 10m0s 2030-01-02T03:04:05.123456Z", own.get(b, "/expiry").body,
		"the session's own window and deadline survive the round trip, to the microsecond")
}

// testSignInRestartsLifetime counts the absolute lifetime and the
// signed-in time from Login, not from the anonymous visit.
func testSignInRestartsLifetime(t *testing.T, db DB) {
	clock := NewClock()
	var a *app
	a = newApp(t, db, freshTable(t, db), clock, signInRoutes(&a), ginsession.WithLifetime(time.Hour))
	cl := newClient(t)
	cl.get(a, "/set?k=v")
	clock.Advance(50 * time.Minute)
	signIn := clock.Now().UTC()
	cl.get(a, "/signin?u=alice&remember=1")
	assert.Equal(t, signIn.Format(time.RFC3339)+" true false", cl.get(a, "/signed-in").body)
	clock.Advance(40 * time.Minute)
	assert.Equal(t, "alice", cl.get(a, "/whoami").body, "the hour counts from sign-in")
	clock.Advance(21 * time.Minute)
	assert.Empty(t, cl.get(a, "/whoami").body)
}

// testStaleRefresh: a read that loaded the session before another
// instance made it a browser session must not move the expiry by the
// thirty days it saw; its refresh is guarded by the version it read.
func testStaleRefresh(t *testing.T, db DB) {
	clock := NewClock()
	table := freshTable(t, db)
	g := newGate()
	routes := func(a **app) func(r *gin.Engine) {
		return func(r *gin.Engine) {
			signInRoutes(a)(r)
			r.GET("/forget", func(c *gin.Context) {
				ginsession.Default(c).RememberMe(false)
				c.Status(http.StatusNoContent)
			})
			r.GET("/slow-whoami", func(c *gin.Context) {
				s := ginsession.Default(c)
				_ = s.UserID()
				g.Hold()
				c.String(http.StatusOK, s.UserID())
			})
		}
	}
	var a, b *app
	a = newApp(t, db, table, clock, routes(&a))
	b = newApp(t, db, table, clock, routes(&b))
	cl := newClient(t)
	cl.get(b, "/signin?u=alice&remember=1")
	clock.Advance(4 * 24 * time.Hour) // reads now move the thirty-day expiry

	wait := startSlow(cl, a, g, "/slow-whoami")
	other := newClient(t)
	other.setCookie(b, cl.cookie(b))
	require.Equal(t, http.StatusNoContent, other.get(b, "/forget").StatusCode)
	slow := wait()
	require.Equal(t, "alice", slow.body)
	if ck := slow.sessionCookie(); ck != nil {
		assert.Zero(t, ck.MaxAge, "no thirty-day cookie from the stale read")
	}
	rows := a.rows()
	require.Len(t, rows, 1)
	assert.WithinDuration(t, clock.Now().Add(ginsession.DefaultBrowserSessionTimeout), rows[0].ExpiresAt, time.Second)
	clock.Advance(ginsession.DefaultBrowserSessionTimeout + time.Minute)
	assert.Empty(t, cl.get(a, "/whoami").body, "ended two idle hours after it became a browser session")
}

// testCSRF round-trips a form token and refuses a post without one.
func testCSRF(t *testing.T, db DB) {
	var a *app
	a = newApp(t, db, freshTable(t, db), nil, signInRoutes(&a))
	cl := newClient(t)
	token := cl.get(a, "/signin?u=alice").body
	resp := cl.send(a, http.MethodPost, "/cart", url.Values{"item": {"book"}, ginsession.CSRFField: {token}}, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	resp = cl.send(a, http.MethodPost, "/cart", url.Values{"item": {"forged"}}, nil)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Equal(t, "book", cl.get(a, "/get?k=cart").body)
}

// testHeaderSessions carries sessions in Authorization: Bearer beside
// cookie sessions of the same table.
func testHeaderSessions(t *testing.T, db DB) {
	var a *app
	a = newApp(t, db, freshTable(t, db), nil, signInRoutes(&a), ginsession.WithTokenHeader("Authorization"))
	browser := newClient(t)
	browser.get(a, "/signin?u=alice")
	api := newClient(t)
	api.hc.Jar = nil
	// The API client's first call: an anonymous header session to log in
	// from (header requests are exempt from CSRF).
	ctx := context.Background()
	anon, err := a.store.NewSession(ctx, ginsession.Seed{Header: true})
	require.NoError(t, err)
	resp := api.send(a, http.MethodPost, "/api/login", url.Values{"u": {"alice"}}, bearer(anon))
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	assert.Empty(t, resp.Header.Values("Set-Cookie"))
	token := resp.body

	resp = api.send(a, http.MethodPost, "/cart", url.Values{"item": {"pen"}}, bearer(token))
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	assert.Equal(t, "pen", api.send(a, http.MethodGet, "/get?k=cart", nil, bearer(token)).body)
	assert.Empty(t, api.send(a, http.MethodGet, "/whoami", nil, bearer(anon)).body, "renewed at login")
	assert.Equal(t, http.StatusNotFound, browser.get(a, "/get?k=cart").StatusCode, "the browser's session is another")

	thief := newClient(t)
	thief.setCookie(a, token)
	assert.Empty(t, thief.get(a, "/whoami").body, "a header token is no cookie")
	assert.Empty(t, api.send(a, http.MethodGet, "/whoami", nil, bearer(browser.cookie(a))).body, "a cookie is no header token")
	api.send(a, http.MethodGet, "/destroy", nil, bearer(browser.cookie(a)))
	thief.get(a, "/destroy")
	assert.Equal(t, "alice", browser.get(a, "/whoami").body, "a cookie's token in the header destroys nothing")
	assert.Equal(t, "pen", api.send(a, http.MethodGet, "/get?k=cart", nil, bearer(token)).body, "nor a header token in a cookie")

	infos, err := a.store.UserSessions(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, infos, 2)
	assert.NotEqual(t, infos[0].Header, infos[1].Header, "the devices page lists both kinds")

	view, err := a.store.ReadSession(ctx, token)
	require.NoError(t, err)
	assert.Equal(t, "alice", view.UserID())
	v, ok := ginsession.Get[string](view, "cart")
	assert.True(t, ok)
	assert.Equal(t, "pen", v)
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }
