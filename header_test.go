package ginsession

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// apiRoutes are an API's: a login that hands out a token, and routes that
// use the session, behind CSRF as a site that serves browsers too would be.
func apiRoutes(a **app) func(r *gin.Engine) {
	return func(r *gin.Engine) {
		r.Use(CSRF())
		deviceRoutes(a)(r)
		r.POST("/api/login", func(c *gin.Context) {
			s := Default(c)
			s.Login(c.PostForm("u"))
			token, err := s.IssueToken()
			if err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			c.JSON(http.StatusOK, gin.H{"token": token})
		})
		r.GET("/api/token", func(c *gin.Context) { // an anonymous API session
			token, err := Default(c).IssueToken()
			if err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			c.String(http.StatusOK, token)
		})
		r.POST("/api/cart", func(c *gin.Context) {
			Default(c).Set("cart", c.PostForm("item"))
			c.String(http.StatusOK, "added")
		})
		r.POST("/api/renew", func(c *gin.Context) {
			s := Default(c)
			s.RenewID()
			token, err := s.IssueToken()
			if err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			c.String(http.StatusOK, token)
		})
		r.POST("/api/logout", func(c *gin.Context) {
			Default(c).Destroy()
			c.String(http.StatusOK, "bye")
		})
	}
}

func newAPIApp(t *testing.T, header string) *app {
	var a *app
	a = newApp(t, apiRoutes(&a), WithTokenHeader(header))
	return a
}

func bearer(token string) http.Header { return http.Header{"Authorization": {"Bearer " + token}} }

// A fresh API client, with no cookie jar: what a mobile app is.
func (a *app) apiClient() *client {
	cl := a.client()
	cl.hc.Jar = nil
	return cl
}

func TestHeaderSessionsTravelInAuthorizationWithoutCookies(t *testing.T) {
	a := newAPIApp(t, "Authorization")
	api := a.apiClient()
	// A login form post without a token: a request with no session is
	// refused by CSRF, so the API logs in with a header of its own.
	resp := api.post("/api/login", url.Values{"u": {"alice"}}, nil)
	require.Equal(t, http.StatusForbidden, resp.StatusCode)
	token := api.apiLogin2(t)

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
}

// apiLogin2 logs in from an API client that first gets an anonymous
// header session (exempt from CSRF), as a mobile app's first launch does.
func (c *client) apiLogin2(t *testing.T) string {
	t.Helper()
	anon := c.get("/api/token")
	require.Equal(t, http.StatusOK, anon.StatusCode, anon.body)
	assert.Empty(t, anon.Header.Values("Set-Cookie"))
	resp := c.send(http.MethodPost, "/api/login", url.Values{"u": {"alice"}}, bearer(anon.body))
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	var out struct{ Token string }
	require.NoError(t, json.Unmarshal([]byte(resp.body), &out))
	assert.NotEqual(t, anon.body, out.Token, "Login renews the header session's token too")
	assert.Empty(t, c.send(http.MethodGet, "/whoami", nil, bearer(anon.body)).body, "the anonymous token died with the renewal")
	return out.Token
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

	// A request with both: the header alone decides, and the cookie
	// session is left alone.
	resp := browser.send(http.MethodPost, "/api/cart", url.Values{"item": {"mixed"}}, bearer(headerToken))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Empty(t, resp.Header.Values("Set-Cookie"))
	assert.Equal(t, "mixed", api.send(http.MethodGet, "/get?k=cart", nil, bearer(headerToken)).body)
	assert.Equal(t, http.StatusNotFound, browser.get("/get?k=cart").StatusCode, "the cookie session did not change")
	assert.Equal(t, "bob", browser.get("/whoami").body)
	assert.Contains(t, a.logs.String(), "session token presented in the wrong place")
}

func TestBasicAuthorizationLeavesTheCookieSessionAlone(t *testing.T) {
	a := newAPIApp(t, "Authorization")
	browser := a.client()
	browser.get("/login?u=bob")
	resp := browser.send(http.MethodGet, "/whoami", nil, http.Header{"Authorization": {"Basic Ym9iOnNlY3JldA=="}})
	assert.Equal(t, "bob", resp.body, "a site behind HTTP Basic still has its cookie sessions")
}

// IssueToken on a browser's request mints a header session from it and
// leaves the browser's own session alone: one session is never both.
func TestIssueTokenOnACookieRequestLeavesTheCookieSessionAlone(t *testing.T) {
	a := newAPIApp(t, "Authorization")
	browser := a.client()
	browser.get("/set?k=v")
	old := browser.cookie()
	token := browser.get("/api/token")
	require.Equal(t, http.StatusOK, token.StatusCode, token.body)
	assert.Nil(t, token.sessionCookie(), "the browser's cookie is neither replaced nor expired")
	assert.NotEqual(t, old, token.body, "a session of its own")
	assert.Equal(t, "no-store", token.Header.Get("Cache-Control"), "the body holds a secret")

	assert.Equal(t, "v", browser.get("/get?k=k").body, "the browser's session goes on")
	api := a.apiClient()
	assert.Equal(t, "v", api.send(http.MethodGet, "/get?k=k", nil, bearer(token.body)).body, "the data came along")
	api.send(http.MethodPost, "/api/cart", url.Values{"item": {"pen"}}, bearer(token.body))
	assert.Equal(t, http.StatusNotFound, browser.get("/get?k=cart").StatusCode, "two sessions from here on")
	assert.Len(t, a.rows(), 2)
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

func TestANewSessionOnAHeaderRequestWithoutIssueTokenIsRefused(t *testing.T) {
	a := newAPIApp(t, "Authorization")
	unknown, _ := newToken()
	resp := a.apiClient().send(http.MethodPost, "/api/cart", url.Values{"item": {"lost"}}, bearer(unknown))
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Contains(t, a.logs.String(), ErrTokenNotIssued.Error())
	assert.Empty(t, a.rows(), "no row that nobody could reach")
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
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/api/token", func(c *gin.Context) {
			token, err := Default(c).IssueToken()
			if err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			c.String(http.StatusOK, token)
		})
		r.GET("/whoami", func(c *gin.Context) { c.String(http.StatusOK, Default(c).UserID()) })
		r.GET("/stream-whoami", func(c *gin.Context) {
			c.String(http.StatusOK, "streaming;")
			c.Writer.Flush()
			c.String(http.StatusOK, Default(c).UserID())
		})
		r.POST("/stream-login", func(c *gin.Context) {
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
	}, WithTokenHeader("Authorization"))
	api := a.apiClient()
	anon := api.get("/api/token").body
	require.Len(t, anon, tokenLen)

	resp := api.send(http.MethodPost, "/stream-login", url.Values{"u": {"alice"}}, bearer(anon))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	token, ok := strings.CutPrefix(resp.body, "streaming;")
	require.True(t, ok, resp.body)
	require.Len(t, token, tokenLen, "a new token in the body: %s", resp.body)
	assert.NotEqual(t, anon, token)
	assert.Equal(t, "alice", api.send(http.MethodGet, "/whoami", nil, bearer(token)).body)
	assert.Empty(t, api.send(http.MethodGet, "/whoami", nil, bearer(anon)).body, "the anonymous token is dead")
	assert.Empty(t, a.errors())

	a.clock.Advance(3 * 24 * time.Hour) // past a tenth of the two weeks
	resp = api.send(http.MethodGet, "/stream-whoami", nil, bearer(token))
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
			resp := a.apiClient().get("/api/token") // the route of header_test.go
			require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
			require.Len(t, resp.body, tokenLen, "the token is in the body")
			assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"), "headers: %v", resp.Header)
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

// A cookie's token in the header is no session, not even to a Destroy
// that runs before anything read the session.
func TestAHeaderRequestCannotDestroyACookieSession(t *testing.T) {
	a := newAPIApp(t, "Authorization")
	browser := a.client()
	require.Equal(t, "hello bob", browser.get("/login?u=bob").body)
	cookieToken := browser.cookie()

	resp := a.apiClient().send(http.MethodPost, "/api/logout", nil, bearer(cookieToken))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "bob", browser.get("/whoami").body, "a cookie token in a header was no session, yet it was destroyed")
}

// An API login left outside CSRF, reached by a form forged where
// SameSite=Lax still sends the cookie (a sibling subdomain): IssueToken
// mints the attacker a header session of their own and leaves the
// victim's cookie session, its user and its data, as they were.
func TestAForgedFormCannotTakeOverTheVictimsCookieSession(t *testing.T) {
	var a *app
	a = newApp(t, func(r *gin.Engine) {
		deviceRoutes(&a)(r)
		r.POST("/api/login", func(c *gin.Context) { // outside CSRF, as the README says
			s := Default(c)
			s.Login(c.PostForm("u")) // the attacker's own, valid credentials
			token, err := s.IssueToken()
			if err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			c.JSON(http.StatusOK, gin.H{"token": token})
		})
	}, WithTokenHeader("Authorization"))
	victim := a.client()
	require.Equal(t, "hello alice", victim.get("/login?u=alice").body)
	victim.get("/set?draft=alice's+unsent+message")

	// A sibling subdomain's auto-submitting form; the browser adds the cookie.
	victim.send(http.MethodPost, "/api/login", url.Values{"u": {"mallory"}},
		http.Header{"Origin": {"https://evil.example.com"}, "Sec-Fetch-Site": {"same-site"}})
	assert.Equal(t, "alice", victim.get("/whoami").body, "the victim is still signed in as herself")
	assert.Equal(t, "alice's unsent message", victim.get("/get?k=draft").body)
	infos, err := a.store.UserSessions(context.Background(), "alice")
	require.NoError(t, err)
	require.Len(t, infos, 1, "the victim's one session")
	assert.False(t, infos[0].Header, "still a cookie session")
	for _, m := range a.rows() {
		if m.UserID == "mallory" {
			assert.NotContains(t, m.Data, "unsent", "nothing of the victim's went to the attacker's session")
		}
	}
}

// The layout README recommends: the API's login before CSRF, every other
// route after it. An API client logs in and works; a form forged from a
// sibling subdomain reaches nothing with the victim's cookie.
func TestTheRecommendedAPILayoutKeepsForgedFormsOut(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		r.POST("/api/login", func(c *gin.Context) {
			s := Default(c)
			s.Login(c.PostForm("u"))
			token, err := s.IssueToken()
			if err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			c.String(http.StatusOK, token)
		})
		r.Use(CSRF())
		r.GET("/login", func(c *gin.Context) { Default(c).Login(c.Query("u")); Default(c).Set("cart", "tea") })
		r.GET("/get", func(c *gin.Context) { v, _ := Get[string](Default(c), c.Query("k")); c.String(http.StatusOK, v) })
		r.GET("/whoami", func(c *gin.Context) { c.String(http.StatusOK, Default(c).UserID()) })
		r.POST("/api/cart", func(c *gin.Context) {
			Default(c).Set("cart", c.PostForm("item"))
			c.String(http.StatusOK, "added")
		})
		r.POST("/api/logout", func(c *gin.Context) { Default(c).Destroy(); c.String(http.StatusOK, "bye") })
	}, WithTokenHeader("Authorization"))

	api := a.apiClient()
	resp := api.post("/api/login", url.Values{"u": {"bob"}}, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	token := resp.body
	require.Equal(t, http.StatusOK, api.post("/api/cart", url.Values{"item": {"pen"}}, bearer(token)).StatusCode)
	assert.Equal(t, "pen", api.send(http.MethodGet, "/get?k=cart", nil, bearer(token)).body)

	victim := a.client()
	victim.get("/login?u=alice")
	require.Equal(t, "alice", victim.get("/whoami").body)
	forged := http.Header{"Origin": {"https://evil.example.com"}, "Sec-Fetch-Site": {"same-site"}}
	assert.Equal(t, http.StatusForbidden, victim.post("/api/cart", url.Values{"item": {"attacker's item"}}, forged).StatusCode)
	assert.Equal(t, http.StatusForbidden, victim.post("/api/logout", nil, forged).StatusCode)
	assert.Equal(t, http.StatusOK, victim.post("/api/login", url.Values{"u": {"mallory"}}, forged).StatusCode)
	assert.Equal(t, "tea", victim.get("/get?k=cart").body)
	assert.Equal(t, "alice", victim.get("/whoami").body, "still herself")
}

// A web page that mints an API token from the browser's signed-in session
// (no Login of its own) must not mint one for a session that was revoked
// while the request ran: DestroyUser after a password change, or a logout.
func TestIssueTokenFromARevokedCookieSessionMintsNothing(t *testing.T) {
	g := newGate()
	var a *app
	a = newApp(t, func(r *gin.Engine) {
		deviceRoutes(&a)(r)
		r.GET("/api/slow-token", gated(g, func(c *gin.Context, s *Session) {
			token, err := s.IssueToken()
			if err != nil {
				c.String(http.StatusConflict, "refused: %v", err)
				return
			}
			c.String(http.StatusOK, token)
		}))
	}, WithTokenHeader("Authorization"))
	browser := a.client()
	require.Equal(t, "hello alice", browser.get("/login?u=alice").body)

	wait := startSlow(browser, g, "/api/slow-token")
	n, err := a.store.DestroyUser(t.Context(), "alice") // password changed: sign out everywhere
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	slow := wait()

	infos, err := a.store.UserSessions(t.Context(), "alice")
	require.NoError(t, err)
	assert.Empty(t, infos, "a revoked session came back as a header session (response %d %q)", slow.StatusCode, slow.body)
	assert.NotEqual(t, http.StatusOK, slow.StatusCode, "a token was handed out for a revoked session")
}

// loginSaveAndIssueToken is a web sign-in that saves (to check the error)
// before it mints an API token for its page, calling hold before it
// answers.
func loginSaveAndIssueToken(hold func()) gin.HandlerFunc {
	return func(c *gin.Context) {
		s := Default(c)
		s.Login(c.Query("u"))
		if err := s.Save(); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		token, err := s.IssueToken()
		if err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		hold()
		c.String(http.StatusOK, token)
	}
}

// A web sign-in that saves (to check the error) before it mints an API
// token for its page: the cookie session was already renewed in the table,
// so the response must carry its new cookie, or the browser is left with a
// dead one and a signed-in session nobody holds sits on the devices page.
func TestIssueTokenAfterASavedLoginKeepsTheBrowsersSession(t *testing.T) {
	var a *app
	a = newApp(t, func(r *gin.Engine) {
		deviceRoutes(&a)(r)
		r.GET("/web-login-with-token", loginSaveAndIssueToken(func() {}))
	}, WithTokenHeader("Authorization"))
	browser := a.client()
	browser.get("/set?cart=tea")
	require.Equal(t, "tea", browser.get("/get?k=cart").body)

	resp := browser.get("/web-login-with-token?u=alice")
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)

	assert.Equal(t, "tea", browser.get("/get?k=cart").body, "the browser's session was lost: its cookie names an ID the save renewed away")
	infos, err := a.store.UserSessions(t.Context(), "alice")
	require.NoError(t, err)
	for _, info := range infos {
		if !info.Header {
			assert.Equal(t, "alice", browser.get("/whoami").body, "a signed-in cookie session exists whose token no browser holds")
		}
	}
}

// A logout wins over a renewal still in flight (SECURITY.md) for header
// sessions too: the logout with the old token also deletes the row the
// renewal moved, instead of answering "bye" while the session lives on.
func TestHeaderLogoutWinsOverARenewalStillInFlight(t *testing.T) {
	g := newGate()
	var a *app
	a = newApp(t, func(r *gin.Engine) {
		apiRoutes(&a)(r)
		r.POST("/api/slow-login", func(c *gin.Context) {
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
	}, WithTokenHeader("Authorization"))
	api := a.apiClient()
	old := api.get("/api/token").body
	require.Len(t, old, tokenLen)

	wait := testkit.Start(g, func() response { return api.send(http.MethodPost, "/api/slow-login", nil, bearer(old)) })
	logout := a.apiClient().send(http.MethodPost, "/api/logout", nil, bearer(old))
	require.Equal(t, http.StatusOK, logout.StatusCode)
	renewed := wait()
	require.Equal(t, http.StatusOK, renewed.StatusCode, renewed.body)

	assert.Empty(t, a.apiClient().send(http.MethodGet, "/whoami", nil, bearer(renewed.body)).body,
		"the logout answered bye, yet the session lives on under the renewed token")
	assert.Empty(t, a.rows())
}

// The mirror of TestAHeaderRequestCannotDestroyACookieSession: a header
// session's token in a cookie is no session (README: "A token works only
// the way it was issued"), yet a Destroy that runs before anything read
// the session deletes it.
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

// A logout after the headers went out that then mints an API token: the
// browser's cookie could not be expired, and c.Errors should say so.
// commitLate turns every leftCookie into cookieSet, so it reports "cookie
// of a saved session" for a destroyed one (the previous commit said
// "destroyed session's cookie not expired").
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

	errs := strings.Join(a.errors(), "\n")
	assert.Contains(t, errs, "destroyed session's cookie not expired")
	assert.NotContains(t, errs, "cookie of a saved session", "no cookie session was saved")
}

// A logout wins over a renewal still in flight (SECURITY.md), also when
// the renewing request is a web sign-in that saves and then mints an API
// token: the cookie session's renewal ends with the request, not inside
// IssueToken, so a logout from another tab with the old cookie deletes
// the renewed row.
func TestCookieLogoutWinsOverASavedLoginThatThenIssuesAToken(t *testing.T) {
	g := newGate()
	var a *app
	a = newApp(t, func(r *gin.Engine) {
		deviceRoutes(&a)(r)
		r.GET("/slow-web-login-with-token", loginSaveAndIssueToken(g.Hold))
	}, WithTokenHeader("Authorization"))
	browser := a.client()
	browser.get("/set?cart=tea")
	old := browser.cookie()
	require.NotEmpty(t, old)

	wait := startSlow(browser, g, "/slow-web-login-with-token?u=alice")
	otherTab := a.client()
	otherTab.setCookie(old)
	require.Equal(t, "bye", otherTab.get("/destroy").body)
	resp := wait()
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)

	assert.NotEqual(t, old, browser.cookie(), "the browser got the renewed cookie")
	assert.Empty(t, browser.get("/whoami").body,
		"the logout answered bye, yet the browser is signed in under the renewed cookie")
	infos, err := a.store.UserSessions(t.Context(), "alice")
	require.NoError(t, err)
	for _, info := range infos {
		assert.True(t, info.Header, "a cookie session outlived the logout that raced its renewal")
	}
}

// A request in flight on a session revoked meanwhile (DestroyUser after a
// password change) cannot bring it back, with or without IssueToken, even
// when it signs in again itself: it fails with ErrSessionInterrupted, and
// no header session inherits the revoked one's values.
func TestIssueTokenAfterLoginDoesNotReviveARevokedSession(t *testing.T) {
	for _, issue := range []bool{false, true} {
		t.Run(map[bool]string{false: "cookie", true: "IssueToken"}[issue], func(t *testing.T) {
			g := newGate()
			var a *app
			a = newApp(t, func(r *gin.Engine) {
				deviceRoutes(&a)(r)
				r.GET("/slow-relogin", gated(g, func(c *gin.Context, s *Session) {
					s.Login("alice") // "confirm your password", checked before the change
					if !issue {
						if err := s.Save(); err != nil {
							c.String(http.StatusConflict, "refused: %v", err)
							return
						}
						c.String(http.StatusOK, "ok")
						return
					}
					token, err := s.IssueToken()
					if err != nil {
						c.String(http.StatusConflict, "refused: %v", err)
						return
					}
					c.String(http.StatusOK, token)
				}))
			}, WithTokenHeader("Authorization"))
			browser := a.client()
			require.Equal(t, "hello alice", browser.get("/login?u=alice").body)
			browser.get("/set?mfa=passed")

			wait := startSlow(browser, g, "/slow-relogin")
			n, err := a.store.DestroyUser(t.Context(), "alice") // password changed
			require.NoError(t, err)
			require.EqualValues(t, 1, n)
			slow := wait()

			assert.Equal(t, http.StatusConflict, slow.StatusCode, "the in-flight request's save should fail: %s", slow.body)
			for _, m := range a.rows() {
				assert.NotContains(t, m.Data, "passed", "the revoked session's values came back (header=%v)", m.Flags&flagHeader != 0)
			}
		})
	}
}
