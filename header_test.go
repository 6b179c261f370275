package ginsession

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// newStoreApp starts an app whose routes the test adds once its store
// exists, before the first request, for routes that take the store's own
// APIHandler (which Handler recognizes on a route).
func newStoreApp(t *testing.T, opts ...Option) *app {
	t.Helper()
	return newApp(t, func(*gin.Engine) {}, opts...)
}

// apiRoutes give a's engine an API and a browser's site, in the layout
// docs/api-clients.md recommends: the API's routes under APIHandler, and the browser's routes
// behind CSRF. extra, if given, adds routes to the API group.
func apiRoutes(a *app, extra ...func(api *gin.RouterGroup)) {
	r := a.engine
	api := r.Group("/api", a.store.APIHandler())
	api.POST("/login", func(c *gin.Context) {
		s := Default(c)
		s.Login(c.PostForm("u"))
		token, err := s.IssueToken()
		if err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.JSON(http.StatusOK, gin.H{"token": token})
	})
	api.GET("/token", issueToken) // an anonymous API session
	api.GET("/whoami", func(c *gin.Context) { c.String(http.StatusOK, Default(c).UserID()) })
	api.POST("/cart", func(c *gin.Context) {
		Default(c).Set("cart", c.PostForm("item"))
		c.String(http.StatusOK, "added")
	})
	api.POST("/renew", func(c *gin.Context) {
		s := Default(c)
		s.RenewID()
		token, err := s.IssueToken()
		if err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.String(http.StatusOK, token)
	})
	api.POST("/logout", func(c *gin.Context) {
		Default(c).Destroy()
		c.String(http.StatusOK, "bye")
	})
	for _, add := range extra {
		add(api)
	}
	r.Use(CSRF())
	deviceRoutes(&a)(r)
}

// newAPIApp starts an app with apiRoutes, whose store takes the session's
// token in header.
// issueToken answers with the token of the request's header session, a
// new and anonymous one if it came without.
func issueToken(c *gin.Context) {
	token, err := Default(c).IssueToken()
	if err != nil {
		c.String(http.StatusInternalServerError, err.Error())
		return
	}
	c.String(http.StatusOK, token)
}

func newAPIApp(t *testing.T, header string, opts ...Option) *app {
	t.Helper()
	a := newStoreApp(t, append([]Option{WithTokenHeader(header)}, opts...)...)
	apiRoutes(a)
	return a
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

// A fresh API client, with no cookie jar: what a mobile app is.
func (a *app) apiClient() *client {
	cl := a.client()
	cl.hc.Jar = nil
	return cl
}

// tokenOf returns the token of an API login's JSON answer.
func tokenOf(t *testing.T, resp response) string {
	t.Helper()
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	var out struct{ Token string }
	require.NoError(t, json.Unmarshal([]byte(resp.body), &out), resp.body)
	require.Len(t, out.Token, tokenLen, resp.body)
	return out.Token
}

// apiLogin2 logs in from an API client that first gets an anonymous
// header session, as a mobile app's first launch does, and checks that the
// sign-in renewed its token.
func (c *client) apiLogin2(t *testing.T) string {
	t.Helper()
	anon := c.get("/api/token")
	require.Equal(t, http.StatusOK, anon.StatusCode, anon.body)
	assert.Empty(t, anon.Header.Values("Set-Cookie"))
	token := tokenOf(t, c.send(http.MethodPost, "/api/login", url.Values{"u": {"alice"}}, bearer(anon.body)))
	assert.NotEqual(t, anon.body, token, "Login renews the header session's token too")
	assert.Empty(t, c.send(http.MethodGet, "/whoami", nil, bearer(anon.body)).body, "the anonymous token died with the renewal")
	return token
}

// rowByID returns the row with the given ID, and whether there is one.
func (a *app) rowByID(id string) (Model, bool) {
	a.t.Helper()
	rows := a.rows()
	i := slices.IndexFunc(rows, func(m Model) bool { return m.ID == id })
	if i < 0 {
		return Model{}, false
	}
	return rows[i], true
}

// cookieRows returns the rows of cookie sessions.
func (a *app) cookieRows() []Model {
	a.t.Helper()
	return slices.DeleteFunc(a.rows(), func(m Model) bool { return m.Flags&flagHeader != 0 })
}

// An API client signs in on an API route with no token and no cookie,
// and its session then travels in Authorization alone: no cookie is ever
// set, and CSRF does not stand in its way.
func TestHeaderSessionsTravelInAuthorizationWithoutCookies(t *testing.T) {
	a := newAPIApp(t, "Authorization")
	api := a.apiClient()
	resp := api.post("/api/login", url.Values{"u": {"alice"}}, nil)
	assert.Empty(t, resp.Header.Values("Set-Cookie"), "an API route never sets a cookie")
	token := tokenOf(t, resp)

	resp = api.send(http.MethodGet, "/whoami", nil, bearer(token))
	assert.Equal(t, "alice", resp.body)
	assert.Empty(t, resp.Header.Values("Set-Cookie"))
	assert.Contains(t, resp.Header.Values("Vary"), "Authorization")
	assert.NotContains(t, resp.Header.Values("Vary"), "Cookie")

	resp = api.send(http.MethodPost, "/api/cart", url.Values{"item": {"book"}}, bearer(token))
	assert.Equal(t, http.StatusOK, resp.StatusCode, "CSRF does not apply to header sessions: %s", resp.body)
	assert.Empty(t, resp.Header.Values("Set-Cookie"))
	assert.Equal(t, "book", api.send(http.MethodGet, "/get?k=cart", nil, bearer(token)).body)

	rows := a.rows()
	require.Len(t, rows, 1)
	assert.Equal(t, flagHeader, rows[0].Flags&flagHeader)
	assert.Equal(t, "alice", rows[0].UserID)

	resp = api.send(http.MethodPost, "/api/logout", nil, bearer(token))
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Empty(t, resp.Header.Values("Set-Cookie"))
	assert.Empty(t, a.rows())
	assert.Empty(t, api.send(http.MethodGet, "/whoami", nil, bearer(token)).body, "the token is dead")

	// The way of a mobile app's first launch: an anonymous token first,
	// which the sign-in renews.
	assert.Len(t, api.apiLogin2(t), tokenLen)
}

func TestANamedHeaderCarriesTheBareToken(t *testing.T) {
	a := newAPIApp(t, "X-Session-Token")
	api := a.apiClient()
	token := api.get("/api/token").body
	require.Len(t, token, tokenLen)
	resp := api.send(http.MethodPost, "/api/cart", url.Values{"item": {"pen"}}, http.Header{"X-Session-Token": {token}})
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	assert.Equal(t, "pen", api.send(http.MethodGet, "/get?k=cart", nil, http.Header{"X-Session-Token": {token}}).body)
	assert.Contains(t, resp.Header.Values("Vary"), "X-Session-Token")
	assert.Equal(t, http.StatusNotFound, api.send(http.MethodGet, "/get?k=cart", nil, bearer(token)).StatusCode,
		"Authorization is just a header here: no session in it")
}

// Neither kind of token stands in for the other, so a header session
// cannot be smuggled past CSRF as a cookie, nor a cookie into an API.
func TestATokenIsAcceptedOnlyTheWayItWasIssued(t *testing.T) {
	a := newAPIApp(t, "Authorization")
	browser := a.client()
	require.Equal(t, "hello bob", browser.get("/login?u=bob").body)
	cookieToken := browser.cookie()
	api := a.apiClient()
	headerToken := api.apiLogin2(t)

	thief := a.client()
	thief.setCookie(headerToken)
	assert.Empty(t, thief.get("/whoami").body, "a header token in a cookie is no session")
	assert.Empty(t, api.send(http.MethodGet, "/whoami", nil, bearer(cookieToken)).body, "a cookie token in a header is no session")
	resp := browser.get("/api/whoami")
	assert.Empty(t, resp.body, "an API route does not read the cookie")
	assert.Empty(t, resp.Header.Values("Set-Cookie"))

	// A request with both: the header alone decides, and the cookie
	// session is left alone.
	resp = browser.send(http.MethodPost, "/api/cart", url.Values{"item": {"mixed"}}, bearer(headerToken))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Empty(t, resp.Header.Values("Set-Cookie"))
	assert.Equal(t, "mixed", api.send(http.MethodGet, "/get?k=cart", nil, bearer(headerToken)).body)
	assert.Equal(t, http.StatusNotFound, browser.get("/get?k=cart").StatusCode, "the cookie session did not change")
	assert.Equal(t, "bob", browser.get("/whoami").body)
	assert.Equal(t, cookieToken, browser.cookie())
	assert.Contains(t, a.logs.String(), "session token presented in the wrong place")
}

func TestBasicAuthorizationLeavesTheCookieSessionAlone(t *testing.T) {
	a := newAPIApp(t, "Authorization")
	browser := a.client()
	browser.get("/login?u=bob")
	resp := browser.send(http.MethodGet, "/whoami", nil, http.Header{"Authorization": {"Basic Ym9iOnNlY3JldA=="}})
	assert.Equal(t, "bob", resp.body, "a site behind HTTP Basic still has its cookie sessions")
	resp = browser.send(http.MethodGet, "/set?seen=1", nil, http.Header{"Authorization": {"Basic Ym9iOnNlY3JldA=="}})
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "1", browser.get("/get?k=seen").body, "and can change it")
	assert.Len(t, a.cookieRows(), 1)
	assert.Len(t, a.rows(), 1, "no header session was made of it")
}

func TestRenewingAHeaderSessionHandsOutTheNewToken(t *testing.T) {
	a := newAPIApp(t, "Authorization")
	api := a.apiClient()
	first := api.apiLogin2(t)
	resp := api.send(http.MethodPost, "/api/renew", nil, bearer(first))
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	second := resp.body
	assert.NotEqual(t, first, second)
	assert.Empty(t, resp.Header.Values("Set-Cookie"))
	assert.Equal(t, "alice", api.send(http.MethodGet, "/whoami", nil, bearer(second)).body)
	assert.Empty(t, api.send(http.MethodGet, "/whoami", nil, bearer(first)).body)
}

func TestTheDevicesPageListsCookieAndHeaderSessions(t *testing.T) {
	a := newAPIApp(t, "Authorization")
	browser := a.client()
	browser.get("/login?u=alice")
	a.apiClient().apiLogin2(t)
	devices := browser.devices()
	require.Len(t, devices, 2)
	kinds := map[bool]int{}
	for _, d := range devices {
		kinds[d.Header]++
		assert.Equal(t, "alice", d.UserID)
	}
	assert.Equal(t, map[bool]int{true: 1, false: 1}, kinds)

	// Both are revocable alike.
	n, err := a.store.DestroyUser(t.Context(), "alice")
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
}

// A write on an API route with a token that names no session, or with
// none at all, would make a session nobody can present: refused with 401,
// and no row.
func TestANewSessionOnAHeaderRequestWithoutIssueTokenIsRefused(t *testing.T) {
	unknown, _ := newToken()
	for name, header := range map[string]http.Header{
		"unknown bearer token": bearer(unknown),
		"no token at all":      nil,
	} {
		t.Run(name, func(t *testing.T) {
			a := newAPIApp(t, "Authorization")
			resp := a.apiClient().send(http.MethodPost, "/api/cart", url.Values{"item": {"lost"}}, header)
			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, resp.body)
			assert.Empty(t, resp.Header.Values("Set-Cookie"))
			assert.Contains(t, a.logs.String(), ErrTokenNotIssued.Error())
			assert.Empty(t, a.rows(), "no row that nobody could reach")
		})
	}
}

func TestIssueTokenWithoutATokenHeaderPanicsWithTheFix(t *testing.T) {
	var msg any
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/token", func(c *gin.Context) {
			defer func() { msg = recover(); c.String(http.StatusTeapot, "recovered") }()
			_, _ = Default(c).IssueToken()
		})
	})
	a.client().get("/token")
	assert.Equal(t, `ginsession: IssueToken needs a store with WithTokenHeader("Authorization") (or another header name)`, fmt.Sprint(msg))
}

func TestAnInvalidTokenHeaderNameIsRefusedAtStartUp(t *testing.T) {
	db, _ := openDB(t)
	_, err := NewStore(db, WithTokenHeader("Bad Header"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), `token header "Bad Header" is not a valid header name`)
}

func TestNewSessionRecordsTheClientWhenTheStoreDoes(t *testing.T) {
	for _, record := range []bool{true, false} {
		var a *app
		a = newApp(t, deviceRoutes(&a), WithRecordUserAgent(record), WithRecordClientIP(record))
		_, err := a.store.NewSession(t.Context(), Seed{UserID: "alice", UserAgent: "curl/8.0", ClientIP: "192.0.2.7"})
		require.NoError(t, err)
		infos, err := a.store.UserSessions(t.Context(), "alice")
		require.NoError(t, err)
		require.Len(t, infos, 1)
		if record {
			assert.Equal(t, "curl/8.0", infos[0].UserAgent)
			assert.Equal(t, "192.0.2.7", infos[0].ClientIP)
		} else {
			assert.Empty(t, infos[0].UserAgent+infos[0].ClientIP, "personal data only when asked for")
		}
	}
}

// A header session needs no headers for its token: one first used after
// the response began still slides its expiry, and can still sign in under
// a new token, which goes back in the body.
func TestAHeaderSessionSlidesAndRenewsAfterTheHeadersWentOut(t *testing.T) {
	a := newStoreApp(t, WithTokenHeader("Authorization"))
	{
		api := a.engine.Group("/api", a.store.APIHandler())
		api.GET("/token", issueToken) // an anonymous API session
		api.GET("/whoami", func(c *gin.Context) { c.String(http.StatusOK, Default(c).UserID()) })
		api.GET("/stream-whoami", func(c *gin.Context) {
			c.String(http.StatusOK, "streaming;")
			c.Writer.Flush()
			c.String(http.StatusOK, Default(c).UserID())
		})
		api.POST("/stream-login", func(c *gin.Context) {
			user := c.PostForm("u") // net/http may close the body once the response starts
			c.String(http.StatusOK, "streaming;")
			c.Writer.Flush()
			s := Default(c)
			s.Login(user)
			token, err := s.IssueToken()
			if err != nil {
				c.String(http.StatusOK, "error: %v", err)
				return
			}
			c.String(http.StatusOK, token)
		})
	}
	api := a.apiClient()
	anon := api.get("/api/token").body
	require.Len(t, anon, tokenLen)

	resp := api.send(http.MethodPost, "/api/stream-login", url.Values{"u": {"alice"}}, bearer(anon))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	token, ok := strings.CutPrefix(resp.body, "streaming;")
	require.True(t, ok, resp.body)
	require.Len(t, token, tokenLen, "a new token in the body: %s", resp.body)
	assert.NotEqual(t, anon, token)
	assert.Equal(t, "alice", api.send(http.MethodGet, "/api/whoami", nil, bearer(token)).body)
	assert.Empty(t, api.send(http.MethodGet, "/api/whoami", nil, bearer(anon)).body, "the anonymous token is dead")
	assert.Empty(t, a.errors())

	a.clock.Advance(3 * 24 * time.Hour) // past a tenth of the two weeks
	resp = api.send(http.MethodGet, "/api/stream-whoami", nil, bearer(token))
	assert.Equal(t, "streaming;alice", resp.body)
	rows := a.rows()
	require.Len(t, rows, 1)
	assert.WithinDuration(t, a.clock.Now().Add(DefaultIdleTimeout), rows[0].ExpiresAt, time.Second, "slid from now")
	assert.Empty(t, a.errors(), "no cookie was due")
}

// The response that hands out a token holds it in its body, and the next
// client's request looks the same (no token yet): no cache may keep it.
func TestTheResponseThatIssuesATokenIsNotCached(t *testing.T) {
	for _, header := range []string{"Authorization", "X-Session-Token"} {
		t.Run(header, func(t *testing.T) {
			a := newAPIApp(t, header)
			resp := a.apiClient().get("/api/token")
			require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
			require.Len(t, resp.body, tokenLen, "the token is in the body")
			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"), "headers: %v", resp.Header)

			resp = a.apiClient().post("/api/login", url.Values{"u": {"alice"}}, nil)
			tokenOf(t, resp)
			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"), "a login's too: %v", resp.Header)
		})
	}
}

// Of several session cookies the first live cookie session wins: a header
// session's token planted ahead of it (a sibling subdomain can set one)
// does not sign the user out.
func TestAHeaderTokenAmongTheCookiesDoesNotHideTheCookieSession(t *testing.T) {
	a := newAPIApp(t, "Authorization")
	browser := a.client()
	require.Equal(t, "hello bob", browser.get("/login?u=bob").body)
	own := browser.cookie()
	planted := a.apiClient().get("/api/token").body // any header session's token
	require.Len(t, planted, tokenLen)

	resp := a.apiClient().send(http.MethodGet, "/whoami", nil, http.Header{
		"Cookie": {DefaultCookieName + "=" + planted + "; " + DefaultCookieName + "=" + own},
	})
	assert.Equal(t, "bob", resp.body, "the live cookie session of the right kind is ignored")
}

// A cookie session is out of reach of a header request: a cookie's token
// in the header is no session, not even to a Destroy that runs before
// anything read the session, and on an API route the cookie itself is
// never read.
func TestAHeaderRequestCannotDestroyACookieSession(t *testing.T) {
	for _, tc := range []struct {
		name   string
		logout func(browser *client, cookieToken string) response
	}{
		{"the cookie's token as a bearer token", func(browser *client, cookieToken string) response {
			return browser.a.apiClient().send(http.MethodPost, "/api/logout", nil, bearer(cookieToken))
		}},
		{"the cookie itself on an API route", func(browser *client, _ string) response {
			return browser.post("/api/logout", nil, nil)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAPIApp(t, "Authorization")
			browser := a.client()
			require.Equal(t, "hello bob", browser.get("/login?u=bob").body)
			cookieToken := browser.cookie()

			resp := tc.logout(browser, cookieToken)
			require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
			assert.Empty(t, resp.Header.Values("Set-Cookie"), "no cookie expired")
			assert.Equal(t, cookieToken, browser.cookie())
			assert.Equal(t, "bob", browser.get("/whoami").body, "the cookie session was destroyed by a header request")
		})
	}
}

// The mirror of TestAHeaderRequestCannotDestroyACookieSession: a header
// session's token in a cookie is no session (docs/api-clients.md: "A token works only
// the way it was issued"), not even to a Destroy that runs before anything
// read the session.
func TestACookieRequestCannotDestroyAHeaderSession(t *testing.T) {
	a := newAPIApp(t, "Authorization")
	api := a.apiClient()
	token := api.apiLogin2(t)
	require.Equal(t, "alice", api.send(http.MethodGet, "/whoami", nil, bearer(token)).body)

	browser := a.client()
	browser.setCookie(token)
	assert.Empty(t, browser.get("/whoami").body, "no session, as documented")
	browser.get("/destroy")
	assert.Equal(t, "alice", api.send(http.MethodGet, "/whoami", nil, bearer(token)).body,
		"a header token in a cookie was no session, yet it was destroyed")
}

// A logout wins over a renewal still in flight (docs/security.md) for header
// sessions too: the logout with the old token also deletes the row the
// renewal moved, instead of answering "bye" while the session lives on.
func TestHeaderLogoutWinsOverARenewalStillInFlight(t *testing.T) {
	g := newGate()
	a := newStoreApp(t, WithTokenHeader("Authorization"))
	apiRoutes(a, func(api *gin.RouterGroup) {
		api.POST("/slow-login", func(c *gin.Context) {
			s := Default(c)
			s.Login("alice")
			token, err := s.IssueToken() // saves: the row moves to the new ID
			if err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			g.Hold()
			c.String(http.StatusOK, token)
		})
	})
	api := a.apiClient()
	old := api.get("/api/token").body
	require.Len(t, old, tokenLen)

	wait := testkit.Start(g, func() response { return api.send(http.MethodPost, "/api/slow-login", nil, bearer(old)) })
	logout := a.apiClient().send(http.MethodPost, "/api/logout", nil, bearer(old))
	require.Equal(t, http.StatusOK, logout.StatusCode)
	renewed := wait()
	require.Equal(t, http.StatusOK, renewed.StatusCode, renewed.body)

	assert.Empty(t, a.apiClient().send(http.MethodGet, "/api/whoami", nil, bearer(renewed.body)).body,
		"the logout answered bye, yet the session lives on under the renewed token")
	assert.Empty(t, a.rows())
}

// A request in flight on a session revoked meanwhile (DestroyUser after a
// password change) cannot bring it back, of either kind, even when it
// signs in again itself: it fails with ErrSessionInterrupted, and no row
// inherits the revoked one's values.
func TestASignInOnARevokedSessionDoesNotReviveIt(t *testing.T) {
	for _, header := range []bool{false, true} {
		t.Run(map[bool]string{false: "cookie, Login and Save", true: "header, Login and IssueToken"}[header], func(t *testing.T) {
			g := newGate()
			relogin := gated(g, func(c *gin.Context, s *Session) {
				s.Login("alice") // "confirm your password", checked before the change
				var token string
				var err error
				if header {
					token, err = s.IssueToken()
				} else {
					err = s.Save()
				}
				if err != nil {
					c.String(http.StatusConflict, "refused: %v", err)
					return
				}
				c.String(http.StatusOK, "ok %s", token)
			})
			a := newStoreApp(t, WithTokenHeader("Authorization"))
			apiRoutes(a, func(api *gin.RouterGroup) {
				api.POST("/slow-relogin", relogin)
				api.POST("/set-mfa", func(c *gin.Context) { Default(c).Set("mfa", "passed") })
			})
			a.engine.GET("/slow-relogin", relogin)

			var wait func() response
			if header {
				api := a.apiClient()
				token := tokenOf(t, api.post("/api/login", url.Values{"u": {"alice"}}, nil))
				require.Equal(t, http.StatusOK, api.post("/api/set-mfa", nil, bearer(token)).StatusCode)
				wait = testkit.Start(g, func() response { return api.post("/api/slow-relogin", nil, bearer(token)) })
			} else {
				browser := a.client()
				require.Equal(t, "hello alice", browser.get("/login?u=alice").body)
				browser.get("/set?mfa=passed")
				wait = startSlow(browser, g, "/slow-relogin")
			}
			n, err := a.store.DestroyUser(t.Context(), "alice") // password changed
			require.NoError(t, err)
			require.EqualValues(t, 1, n)
			slow := wait()

			assert.Equal(t, http.StatusConflict, slow.StatusCode, "the in-flight request's save should fail: %s", slow.body)
			assert.Contains(t, slow.body, ErrSessionInterrupted.Error())
			for _, m := range a.rows() {
				assert.NotContains(t, m.Data, "passed", "the revoked session's values came back (header=%v)", m.Flags&flagHeader != 0)
			}
		})
	}
}

// A logout after the headers went out could not expire the browser's
// cookie, and c.Errors says so; an IssueToken after it on this cookie
// request changes nothing of that (commitLate once reported "cookie of a
// saved session" for a destroyed one).
func TestLateLogoutBeforeIssueTokenReportsTheUnexpiredCookie(t *testing.T) {
	var a *app
	a = newApp(t, func(r *gin.Engine) {
		deviceRoutes(&a)(r)
		r.GET("/stream-logout-token", func(c *gin.Context) {
			c.String(http.StatusOK, "streaming;")
			c.Writer.Flush()
			s := Default(c)
			s.Destroy()
			token, err := s.IssueToken()
			if err != nil {
				c.String(http.StatusOK, "error: %v", err)
				return
			}
			c.String(http.StatusOK, token)
		})
	}, WithTokenHeader("Authorization"))
	browser := a.client()
	require.Equal(t, "hello alice", browser.get("/login?u=alice").body)
	resp := browser.get("/stream-logout-token")
	require.True(t, strings.HasPrefix(resp.body, "streaming;"), resp.body)
	assert.Contains(t, resp.body, ErrNotHeaderRequest.Error())

	errs := strings.Join(a.errors(), "\n")
	assert.Contains(t, errs, "destroyed session's cookie not expired")
	assert.NotContains(t, errs, "cookie of a saved session", "no cookie session was saved")
	assert.Empty(t, a.rows(), "the logout went through, and no header session came of it")
}

// forgeableAPILogin is the API login of the HIGH finding: it signs in,
// saves, maybe does more (then), and issues a token, ignoring every error
// as hurried code does.
func forgeableAPILogin(then func(s *Session)) gin.HandlerFunc {
	return func(c *gin.Context) {
		s := Default(c)
		s.Login(c.PostForm("u")) // the attacker's own, valid credentials
		_ = s.Save()
		then(s)
		token, _ := s.IssueToken()
		c.JSON(http.StatusOK, gin.H{"token": token})
	}
}

// The HIGH finding: an API login registered before CSRF (as the README
// said to, since an API client has no CSRF token) that calls Login and
// Save, and maybe DestroyOthers or RenewID, before IssueToken. In the old
// design a request without Authorization was a cookie request wherever its
// route was, so a form forged from another site reached that login as a
// cookie request: Login and Save wrote a cookie session and sent its
// Set-Cookie (login CSRF: the victim's browser signed in as the attacker),
// and a victim's browser, sending her cookie along, had her own cookie
// session renewed into the attacker's and its values dropped, before
// IssueToken could detach anything. Now the route is under APIHandler: the
// request is a header request, its cookie is never read and no cookie is
// ever set, in every layout: the API group before CSRF, CSRF for the whole
// router (Handler sees APIHandler on the route), or APIHandler called from
// a middleware of the application's own (it turns the request into a
// header request before anything used the session). The same handlers
// still sign an API client in.
func TestAForgedFormToAnAPILoginReachesNoCookieSession(t *testing.T) {
	layouts := []struct {
		name  string
		setup func(a *app, login gin.HandlerFunc)
	}{
		{"API group before CSRF", func(a *app, login gin.HandlerFunc) {
			a.engine.Group("/api", a.store.APIHandler()).POST("/login", login)
			a.engine.Use(CSRF())
			deviceRoutes(&a)(a.engine)
		}},
		{"CSRF for the whole router", func(a *app, login gin.HandlerFunc) {
			a.engine.Use(CSRF())
			deviceRoutes(&a)(a.engine)
			a.engine.Group("/api", a.store.APIHandler()).POST("/login", login)
		}},
		{"APIHandler wrapped, before CSRF", func(a *app, login gin.HandlerFunc) {
			apiHandler := a.store.APIHandler()
			a.engine.Group("/api", func(c *gin.Context) { apiHandler(c) }).POST("/login", login)
			a.engine.Use(CSRF())
			deviceRoutes(&a)(a.engine)
		}},
	}
	variants := []struct {
		name string
		then func(s *Session)
	}{
		{"Login, Save, IssueToken", func(*Session) {}},
		{"Login, Save, DestroyOthers, IssueToken", func(s *Session) { _, _ = s.DestroyOthers() }},
		{"Login, Save, RenewID, IssueToken", func(s *Session) { s.RenewID() }},
	}
	crossSite := http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}
	// From a sibling subdomain, where SameSite=Lax still sends the cookie.
	sameSite := http.Header{"Origin": {"https://evil.example.com"}, "Sec-Fetch-Site": {"same-site"}}
	for _, layout := range layouts {
		for _, variant := range variants {
			newLoginApp := func(t *testing.T) *app {
				a := newStoreApp(t, WithTokenHeader("Authorization"))
				layout.setup(a, forgeableAPILogin(variant.then))
				return a
			}
			name := layout.name + "/" + variant.name
			t.Run(name+"/cookieless cross-site form", func(t *testing.T) {
				a := newLoginApp(t)
				browser := a.client()
				resp := browser.post("/api/login", url.Values{"u": {"mallory"}}, crossSite)
				require.Less(t, resp.StatusCode, 500, resp.body)
				assert.Empty(t, resp.Header.Values("Set-Cookie"), "the forged login set a cookie")
				assert.Empty(t, browser.cookie())
				assert.Empty(t, browser.get("/whoami").body, "the browser is signed in as the attacker")
				assert.Empty(t, a.cookieRows(), "a cookie session was made")
			})
			t.Run(name+"/signed-in victim's browser", func(t *testing.T) {
				a := newLoginApp(t)
				other := a.client() // the victim's other device
				require.Equal(t, "hello alice", other.get("/login?u=alice").body)
				victim := a.client()
				require.Equal(t, "hello alice", victim.get("/login?u=alice").body)
				victim.get("/set?draft=alice's+unsent+message")
				cookie := victim.cookie()
				id, ok := parseToken(cookie)
				require.True(t, ok)
				before, ok := a.rowByID(id)
				require.True(t, ok)

				resp := victim.post("/api/login", url.Values{"u": {"mallory"}}, sameSite)
				require.Less(t, resp.StatusCode, 500, resp.body)

				assert.Empty(t, resp.Header.Values("Set-Cookie"), "the forged login set a cookie")
				assert.Equal(t, cookie, victim.cookie(), "the victim's cookie changed")
				after, ok := a.rowByID(id)
				if assert.True(t, ok, "the victim's row is gone") {
					assert.Equal(t, before, after, "the victim's row changed")
				}
				assert.Equal(t, "alice", victim.get("/whoami").body, "the victim is still signed in as herself")
				assert.Equal(t, "alice's unsent message", victim.get("/get?k=draft").body)
				assert.Equal(t, "alice", other.get("/whoami").body, "her other device is still signed in")
				infos, err := a.store.UserSessions(t.Context(), "alice")
				require.NoError(t, err)
				assert.Len(t, infos, 2, "her two cookie sessions")
				for _, m := range a.rows() {
					if m.UserID == "mallory" {
						assert.NotZero(t, m.Flags&flagHeader, "the attacker got a cookie session")
						assert.NotContains(t, m.Data, "unsent", "nothing of the victim's went to the attacker's session")
					}
				}
			})
			t.Run(name+"/API client", func(t *testing.T) {
				a := newLoginApp(t)
				api := a.apiClient()
				resp := api.post("/api/login", url.Values{"u": {"mallory"}}, nil)
				token := tokenOf(t, resp)
				assert.Empty(t, resp.Header.Values("Set-Cookie"))
				assert.Equal(t, "mallory", api.send(http.MethodGet, "/whoami", nil, bearer(token)).body)
				rows := a.rows()
				require.Len(t, rows, 1)
				assert.NotZero(t, rows[0].Flags&flagHeader)
			})
		}
	}
}

// webTokenResult is what the /web-token route of
// TestIssueTokenOnACookieRequestFailsAndChangesNothing saw.
type webTokenResult struct {
	Token       string
	Err         string
	NotHeader   bool
	IssueWrites []string // statements IssueToken ran that write
}

// IssueToken on a cookie request (a browser's page, not under APIHandler)
// fails with ErrNotHeaderRequest and does nothing: no statement that
// writes, no header row, no token, no Cache-Control: no-store; whatever
// the handler did before, the response and the table are what those calls
// alone make of the cookie session. In the old design IssueToken detached
// a header session from the browser's (an INSERT, a token in the body) and
// after a saved Login even left the browser's cookie naming an ID the
// save had renewed away.
func TestIssueTokenOnACookieRequestFailsAndChangesNothing(t *testing.T) {
	for _, tc := range []struct {
		name  string
		start string // the browser's state before: "", "cart", or "alice" (signed in)
		steps string // what the handler does before IssueToken
		// wantCookie: the response sets the session cookie (the handler's
		// own calls warrant it); wantUser: whom the browser is then.
		wantCookie bool
		wantUser   string
		wantRows   int
	}{
		{name: "new visitor", start: "", steps: "", wantRows: 0},
		{name: "anonymous session", start: "cart", steps: "", wantRows: 1},
		{name: "signed-in session", start: "alice", steps: "", wantUser: "alice", wantRows: 2},
		{name: "Login", start: "cart", steps: "login", wantCookie: true, wantUser: "alice", wantRows: 1},
		{name: "Login, Save", start: "cart", steps: "login,save", wantCookie: true, wantUser: "alice", wantRows: 1},
		{name: "RenewID", start: "alice", steps: "renew", wantCookie: true, wantUser: "alice", wantRows: 2},
		{name: "DestroyOthers", start: "alice", steps: "others", wantUser: "alice", wantRows: 1},
		{name: "Login, Save, RenewID", start: "cart", steps: "login,save,renew", wantCookie: true, wantUser: "alice", wantRows: 1},
		{name: "Login, Save, DestroyOthers", start: "alice", steps: "login,save,others", wantCookie: true, wantUser: "alice", wantRows: 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a *app
			a = newApp(t, func(r *gin.Engine) {
				deviceRoutes(&a)(r)
				r.GET("/web-token", func(c *gin.Context) {
					s := Default(c)
					for step := range strings.SplitSeq(c.Query("steps"), ",") {
						switch step {
						case "login":
							s.Login("alice")
						case "save":
							if err := s.Save(); err != nil {
								c.String(http.StatusInternalServerError, err.Error())
								return
							}
						case "renew":
							s.RenewID()
						case "others":
							if _, err := s.DestroyOthers(); err != nil {
								c.String(http.StatusInternalServerError, err.Error())
								return
							}
						}
					}
					_ = s.Keys()
					(*a).rec.Take()
					token, err := s.IssueToken()
					var out webTokenResult
					for _, k := range kinds((*a).rec.Take()) {
						if k != "SELECT" {
							out.IssueWrites = append(out.IssueWrites, k)
						}
					}
					out.Token = token
					if err != nil {
						out.Err, out.NotHeader = err.Error(), errors.Is(err, ErrNotHeaderRequest)
					}
					c.JSON(http.StatusOK, out)
				})
			}, WithTokenHeader("Authorization"))
			browser := a.client()
			switch tc.start {
			case "cart":
				browser.get("/set?cart=tea")
			case "alice":
				a.client().get("/login?u=alice") // another device, for DestroyOthers
				browser.get("/login?u=alice")
				browser.get("/set?cart=tea")
			}
			before := browser.cookie()

			resp := browser.get("/web-token?steps=" + tc.steps)
			require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
			var out webTokenResult
			require.NoError(t, json.Unmarshal([]byte(resp.body), &out), resp.body)
			assert.True(t, out.NotHeader, "IssueToken on a cookie request: %q", out.Err)
			assert.Empty(t, out.Token)
			assert.Empty(t, out.IssueWrites, "IssueToken wrote")
			assert.NotEqual(t, "no-store", resp.Header.Get("Cache-Control"), "no token in the body")

			ck := resp.sessionCookie()
			if tc.wantCookie {
				require.NotNil(t, ck, "the handler's own change needs its cookie")
				assert.NotEqual(t, before, ck.Value)
				assert.Positive(t, ck.MaxAge)
			} else {
				assert.Nil(t, ck, "IssueToken set a cookie")
				assert.Equal(t, before, browser.cookie())
			}
			assert.Equal(t, tc.wantUser, browser.get("/whoami").body)
			if tc.start != "" {
				assert.Equal(t, "tea", browser.get("/get?k=cart").body, "the browser's session goes on")
			}
			assert.Len(t, a.rows(), tc.wantRows)
			assert.Len(t, a.cookieRows(), tc.wantRows, "a header session was made")
		})
	}
}

// One store serves two routers (the site, and an API server of its own on
// another port or host, whose routes are all under APIHandler), and both
// have a GET /whoami. Each request's kind is its own router's route's: a
// browser on the site keeps its cookie session whichever router served
// that path first.
//
// It fails today: Handler remembers which routes run APIHandler in the
// store (routeKinds, ginsession.go) keyed by method and path alone, so
// once the API server has served GET /whoami to a request without a token,
// the site's GET /whoami is taken for an API route too: a header request,
// whose cookie is never read, and the signed-in browser finds no session
// there.
func TestAStoreSharedByTwoRoutersKeepsEachRoutesKind(t *testing.T) {
	a := newStoreApp(t, WithTokenHeader("Authorization"))
	deviceRoutes(&a)(a.engine) // the site: GET /login, GET /whoami
	apiEngine := gin.New()
	apiEngine.Use(a.store.Handler(), a.store.APIHandler())
	apiEngine.GET("/whoami", func(c *gin.Context) { c.String(http.StatusOK, Default(c).UserID()) })
	apiEngine.POST("/login", func(c *gin.Context) {
		s := Default(c)
		s.Login(c.PostForm("u"))
		token, err := s.IssueToken()
		if err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.String(http.StatusOK, token)
	})
	apiServer := &app{t: t, db: a.db, rec: a.rec, store: a.store, clock: a.clock, logs: a.logs,
		engine: apiEngine, srv: httptest.NewServer(apiEngine)}
	t.Cleanup(apiServer.srv.Close)

	api := apiServer.apiClient()
	resp := api.post("/login", url.Values{"u": {"bob"}}, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	require.Equal(t, "bob", api.send(http.MethodGet, "/whoami", nil, bearer(resp.body)).body)
	require.Empty(t, api.get("/whoami").body, "an app's first launch, before it has a token")

	browser := a.client()
	require.Equal(t, "hello alice", browser.get("/login?u=alice").body)
	require.NotEmpty(t, browser.cookie())
	assert.Equal(t, "alice", browser.get("/whoami").body,
		"the site's GET /whoami was taken for the API server's, and the cookie was not read")
}
