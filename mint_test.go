package ginsession

import (
	"errors"
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

// mintHandler is a settings page's "new API token" button: it does the
// steps of its query (a comma-separated list) to the session, then calls
// MintToken. It answers the token, or 403 for ErrNoUser, 409 for
// ErrSessionInterrupted and 500 for anything else, with the error. g, if
// not nil, is what the step "hold" holds on.
func mintHandler(a *app, g *gate) gin.HandlerFunc {
	return func(c *gin.Context) {
		s := Default(c)
		for step := range strings.SplitSeq(c.Query("steps"), ",") {
			switch step {
			case "login":
				s.Login("alice")
			case "setuser":
				s.SetUserID("alice")
			case "save":
				if err := s.Save(); err != nil {
					c.String(http.StatusInternalServerError, err.Error())
					return
				}
			case "set":
				s.Set("note", "unsaved")
			case "deadline":
				d, err := time.Parse(time.RFC3339, c.Query("at"))
				if err != nil {
					c.String(http.StatusBadRequest, err.Error())
					return
				}
				s.SetDeadline(d)
			case "revoke": // a password change elsewhere, just now
				if _, err := a.store.DestroyUser(c.Request.Context(), s.UserID()); err != nil {
					c.String(http.StatusInternalServerError, err.Error())
					return
				}
			case "hold":
				_ = s.Keys()
				g.Hold()
			}
		}
		token, err := s.MintToken()
		switch {
		case errors.Is(err, ErrNoUser):
			c.String(http.StatusForbidden, err.Error())
		case errors.Is(err, ErrSessionInterrupted):
			c.String(http.StatusConflict, err.Error())
		case err != nil:
			c.String(http.StatusInternalServerError, err.Error())
		default:
			c.String(http.StatusOK, token)
		}
	}
}

// mintRoutes are apiRoutes with a settings page that mints API tokens,
// behind CSRF, for a browser and for an API client, and a route that sets
// the browser session's own deadline.
func mintRoutes(a *app, g *gate) {
	apiRoutes(a, func(api *gin.RouterGroup) {
		api.POST("/mint", mintHandler(a, g))
	})
	r := a.engine
	r.GET("/form", func(c *gin.Context) { c.String(http.StatusOK, Default(c).CSRFToken()) })
	r.POST("/settings/api-token", mintHandler(a, g))
	r.GET("/deadline", func(c *gin.Context) {
		d, err := time.Parse(time.RFC3339, c.Query("at"))
		if err != nil {
			c.String(http.StatusBadRequest, err.Error())
			return
		}
		Default(c).SetDeadline(d)
	})
}

func newMintApp(t *testing.T, g *gate, opts ...Option) *app {
	t.Helper()
	a := newStoreApp(t, append([]Option{WithTokenHeader("Authorization")}, opts...)...)
	mintRoutes(a, g)
	return a
}

// mint presses the settings page's button, with the page's CSRF token,
// doing steps first.
func (c *client) mint(steps string) response {
	c.t.Helper()
	csrf := c.formToken()
	return c.post("/settings/api-token?steps="+steps, nil, http.Header{CSRFHeader: {csrf}})
}

// sessionID returns the row ID the client's cookie names.
func (c *client) sessionID() string {
	c.t.Helper()
	id, ok := parseToken(c.cookie())
	require.True(c.t, ok, "no session cookie")
	return id
}

// infosByKind returns the user's sessions by kind, requiring one of each
// kind at most.
func infosByKind(t *testing.T, a *app, user string) map[bool]SessionInfo {
	t.Helper()
	infos, err := a.store.UserSessions(t.Context(), user)
	require.NoError(t, err)
	out := map[bool]SessionInfo{}
	for _, info := range infos {
		_, dup := out[info.Header]
		require.False(t, dup, "two sessions of one kind: %+v", infos)
		out[info.Header] = info
	}
	return out
}

// A signed-in browser user mints an API token: a header session of its
// own for the same user, with none of the browser session's values, that
// keeps the sign-in's time. The browser's session is not touched: no
// Set-Cookie, no statement on its row, the same row after. (In the old
// design the nearest thing was IssueToken on the cookie request, which
// detached a header session carrying the browser's values, with a sign-in
// time of its own.)
func TestAMintedTokenIsAHeaderSessionOfTheSameSignIn(t *testing.T) {
	a := newMintApp(t, nil)
	browser := a.client()
	require.Equal(t, "hello alice", browser.get("/login?u=alice").body) // sets name=alice too
	signedIn := a.clock.Now()
	a.clock.Advance(10 * time.Minute)
	cookie := browser.cookie()
	before, ok := a.rowByID(browser.sessionID())
	require.True(t, ok)

	resp := browser.mint("")
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	token := resp.body
	require.Len(t, token, tokenLen)
	assert.Equal(t, []string{"SELECT", "INSERT"}, kinds(resp.stmts), "a read, and the new row alone")
	assert.Empty(t, resp.Header.Values("Set-Cookie"), "the browser's session is not touched")
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"), "the body holds a secret")
	assert.Equal(t, cookie, browser.cookie())
	after, ok := a.rowByID(before.ID)
	require.True(t, ok)
	assert.Equal(t, before, after, "the browser's row changed")

	api := a.apiClient()
	assert.Equal(t, "alice", api.send(http.MethodGet, "/api/whoami", nil, bearer(token)).body)
	assert.Equal(t, http.StatusNotFound, api.send(http.MethodGet, "/get?k=name", nil, bearer(token)).StatusCode,
		"a minted session has no values of the browser's")
	resp = api.send(http.MethodPost, "/api/cart", url.Values{"item": {"pen"}}, bearer(token))
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	assert.Equal(t, http.StatusNotFound, browser.get("/get?k=cart").StatusCode, "two sessions")
	assert.Empty(t, api.send(http.MethodGet, "/whoami", nil, http.Header{"Cookie": {DefaultCookieName + "=" + token}}).body,
		"the minted token is no cookie")

	byKind := infosByKind(t, a, "alice")
	require.Len(t, byKind, 2)
	assert.True(t, byKind[true].Header)
	assert.True(t, byKind[true].SignedInAt.Equal(byKind[false].SignedInAt),
		"minted %v, browser %v", byKind[true].SignedInAt, byKind[false].SignedInAt)
	assert.WithinDuration(t, signedIn, byKind[true].SignedInAt, time.Second, "the sign-in's time, not the mint's")
	assert.WithinDuration(t, a.clock.Now(), byKind[true].CreatedAt, time.Second)
	assert.Equal(t, "alice", browser.get("/whoami").body)
}

// A minted token ends when the sign-in it came from would: an hour after
// that sign-in under WithLifetime(time.Hour), or at the browser session's
// own deadline, not an hour after it was minted. A token counted from its
// own creation (as any new session's lifetime is, and as the old design's
// IssueToken made one) would outlive the sign-in by the 50 minutes it
// waited.
func TestAMintedTokenEndsWhenTheSignInsLifetimeDoes(t *testing.T) {
	for _, tc := range []struct {
		name     string
		opts     []Option
		deadline bool // give the browser's session its own deadline, an hour after sign-in
	}{
		{name: "WithLifetime", opts: []Option{WithLifetime(time.Hour)}},
		{name: "the session's own deadline", deadline: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newMintApp(t, nil, tc.opts...)
			browser := a.client()
			require.Equal(t, "hello alice", browser.get("/login?u=alice").body)
			end := a.clock.Now().Add(time.Hour)
			if tc.deadline {
				require.Equal(t, http.StatusOK, browser.get("/deadline?at="+end.Format(time.RFC3339)).StatusCode)
			}
			a.clock.Advance(50 * time.Minute)

			resp := browser.mint("")
			require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
			token := resp.body
			byKind := infosByKind(t, a, "alice")
			require.Len(t, byKind, 2)
			assert.WithinDuration(t, end, byKind[true].ExpiresAt, time.Second, "the sign-in's end, not the mint's")

			api := a.apiClient()
			a.clock.Advance(9 * time.Minute)
			assert.Equal(t, "alice", api.send(http.MethodGet, "/api/whoami", nil, bearer(token)).body, "alive within the hour")
			a.clock.Advance(2 * time.Minute) // 61 minutes after the sign-in, 11 after the mint
			assert.Empty(t, api.send(http.MethodGet, "/api/whoami", nil, bearer(token)).body,
				"the minted token outlived the sign-in it came from")
			assert.Empty(t, browser.get("/whoami").body, "the browser's session ended too")
		})
	}
}

// A deadline the minting request itself gave the browser's session (a
// kiosk's sign-in cut to an hour, then its app's token) bounds the minted
// token too: the mint computes the token's expiry from it, and the token
// must not slide past it on its first use.
//
// It fails today: MintToken computes expires_at from s.pol.deadline, which
// holds this request's unsaved SetDeadline, while the INSERT copies the
// deadline column from the stored row, which has none; the token's first
// read finds an expiry far short of its two-week window with no deadline
// to explain it, and slides it two weeks on.
func TestAMintedTokenKeepsADeadlineSetByTheMintingRequest(t *testing.T) {
	a := newMintApp(t, nil)
	browser := a.client()
	require.Equal(t, "hello alice", browser.get("/login?u=alice").body)
	end := a.clock.Now().Add(time.Hour)
	csrf := browser.formToken()
	resp := browser.post("/settings/api-token?steps=deadline&at="+url.QueryEscape(end.Format(time.RFC3339)), nil, http.Header{CSRFHeader: {csrf}})
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	token := resp.body
	byKind := infosByKind(t, a, "alice")
	require.Len(t, byKind, 2)
	require.WithinDuration(t, end, byKind[false].ExpiresAt, time.Second, "the browser's session got its deadline")
	assert.WithinDuration(t, end, byKind[true].ExpiresAt, time.Second, "and the minted token its end")

	api := a.apiClient()
	a.clock.Advance(time.Minute)
	require.Equal(t, "alice", api.send(http.MethodGet, "/api/whoami", nil, bearer(token)).body)
	a.clock.Advance(time.Hour)
	assert.Empty(t, browser.get("/whoami").body, "the browser's session ended at its deadline")
	assert.Empty(t, api.send(http.MethodGet, "/api/whoami", nil, bearer(token)).body,
		"the minted token slid past the deadline its own request set")
}

// MintToken needs a sign-in that is stored: a session signed in by no one,
// or by this very request and not saved yet, mints nothing (ErrNoUser)
// and adds no row; nor does a signed-in API client's token planted in the
// browser's cookie, which is no session there. A sign-in this request
// saved before does mint.
func TestMintTokenNeedsASavedSignIn(t *testing.T) {
	for _, tc := range []struct {
		name   string
		start  string // "": a new visitor; "cart": an anonymous session; "planted": a header token in the cookie
		steps  string
		minted bool
	}{
		{name: "a new visitor", start: "", steps: ""},
		{name: "an anonymous session", start: "cart", steps: ""},
		{name: "an anonymous session with a change", start: "cart", steps: "set"},
		{name: "signed in by this request", start: "cart", steps: "login"},
		{name: "bound by this request", start: "cart", steps: "setuser"},
		{name: "a signed-in header token in the cookie", start: "planted", steps: ""},
		{name: "signed in and saved by this request", start: "cart", steps: "login,save", minted: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newMintApp(t, nil)
			browser := a.client()
			switch tc.start {
			case "cart":
				browser.get("/set?cart=tea")
			case "planted":
				browser.setCookie(tokenOf(t, a.apiClient().post("/api/login", url.Values{"u": {"alice"}}, nil)))
			}
			headerRows := func() int { return len(a.rows()) - len(a.cookieRows()) }
			before := headerRows()
			resp := browser.mint(tc.steps)
			if !tc.minted {
				assert.Equal(t, http.StatusForbidden, resp.StatusCode, resp.body)
				assert.Contains(t, resp.body, ErrNoUser.Error())
				assert.Equal(t, before, headerRows(), "a row was minted")
				assert.NotEqual(t, "no-store", resp.Header.Get("Cache-Control"), "no token in the body")
				return
			}
			require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
			assert.Equal(t, before+1, headerRows())
			assert.Equal(t, "alice", a.apiClient().send(http.MethodGet, "/api/whoami", nil, bearer(resp.body)).body)
			assert.Equal(t, "alice", browser.get("/whoami").body, "the browser has its renewed cookie")
			byKind := infosByKind(t, a, "alice")
			require.Len(t, byKind, 2)
			assert.True(t, byKind[true].SignedInAt.Equal(byKind[false].SignedInAt))
		})
	}
}

// A sign-in revoked after the request read it mints nothing: the INSERT
// copies the sign-in from its row in the same statement, so a revocation
// a moment before, by the handler itself, by an admin's DestroyUser, or
// by a logout from another tab, leaves no row to copy, and MintToken
// fails with ErrSessionInterrupted. (A check of the row followed by an
// INSERT of its own would let a revocation in between through.)
func TestMintTokenFromARevokedSignInMintsNothing(t *testing.T) {
	for _, tc := range []struct {
		name   string
		steps  string
		revoke func(t *testing.T, a *app, browser *client) // while the request holds
	}{
		{name: "revoked by the handler itself", steps: "revoke"},
		{name: "revoked by DestroyUser while the request ran", steps: "hold", revoke: func(t *testing.T, a *app, _ *client) {
			n, err := a.store.DestroyUser(t.Context(), "alice") // password changed: sign out everywhere
			require.NoError(t, err)
			require.EqualValues(t, 1, n)
		}},
		{name: "logged out from another tab while the request ran", steps: "hold", revoke: func(t *testing.T, a *app, browser *client) {
			tab := a.client()
			tab.setCookie(browser.cookie())
			require.Equal(t, "bye", tab.get("/destroy").body)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGate()
			a := newMintApp(t, g)
			browser := a.client()
			require.Equal(t, "hello alice", browser.get("/login?u=alice").body)
			var resp response
			if tc.revoke == nil {
				resp = browser.mint(tc.steps)
			} else {
				csrf := browser.formToken()
				wait := testkit.Start(g, func() response {
					return browser.post("/settings/api-token?steps="+tc.steps, nil, http.Header{CSRFHeader: {csrf}})
				})
				tc.revoke(t, a, browser)
				resp = wait()
			}
			assert.Equal(t, http.StatusConflict, resp.StatusCode, "a token was minted for a revoked sign-in: %s", resp.body)
			assert.Contains(t, resp.body, ErrSessionInterrupted.Error())
			assert.Empty(t, a.rows(), "a revoked sign-in came back as a header session")
		})
	}
}

// A minted token is one of the user's sessions: revoking the user's
// sessions (DestroyUser, or DestroyOthers from the browser) ends it, while
// signing the browser out ends only the browser's session.
func TestRevokingTheUsersSessionsEndsAMintedToken(t *testing.T) {
	for _, tc := range []struct {
		name            string
		revoke          func(t *testing.T, a *app, browser *client)
		browser, minted bool // alive after
	}{
		{name: "DestroyUser", revoke: func(t *testing.T, a *app, _ *client) {
			n, err := a.store.DestroyUser(t.Context(), "alice")
			require.NoError(t, err)
			assert.EqualValues(t, 2, n)
		}},
		{name: "DestroyOthers from the browser", browser: true, revoke: func(t *testing.T, _ *app, browser *client) {
			assert.Equal(t, "1", browser.get("/signout-others").body)
		}},
		{name: "the browser's logout", minted: true, revoke: func(t *testing.T, _ *app, browser *client) {
			assert.Equal(t, "bye", browser.get("/destroy").body)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newMintApp(t, nil)
			browser := a.client()
			require.Equal(t, "hello alice", browser.get("/login?u=alice").body)
			resp := browser.mint("")
			require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
			token := resp.body
			api := a.apiClient()
			require.Equal(t, "alice", api.send(http.MethodGet, "/api/whoami", nil, bearer(token)).body)

			tc.revoke(t, a, browser)
			assert.Equal(t, tc.minted, api.send(http.MethodGet, "/api/whoami", nil, bearer(token)).body == "alice", "minted token alive")
			assert.Equal(t, tc.browser, browser.get("/whoami").body == "alice", "browser alive")
		})
	}
}

// An API client's header session mints a token too (a second device's),
// and stays as it was.
func TestAHeaderSessionMintsASecondToken(t *testing.T) {
	a := newMintApp(t, nil)
	api := a.apiClient()
	first := tokenOf(t, api.post("/api/login", url.Values{"u": {"alice"}}, nil))
	id, ok := parseToken(first)
	require.True(t, ok)
	before, ok := a.rowByID(id)
	require.True(t, ok)

	resp := api.post("/api/mint", nil, bearer(first))
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	second := resp.body
	assert.NotEqual(t, first, second)
	assert.Empty(t, resp.Header.Values("Set-Cookie"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	after, ok := a.rowByID(id)
	require.True(t, ok)
	assert.Equal(t, before, after, "the minting session's row changed")
	for _, token := range []string{first, second} {
		assert.Equal(t, "alice", api.send(http.MethodGet, "/api/whoami", nil, bearer(token)).body)
	}
	assert.Len(t, a.rows(), 2)
	assert.Empty(t, a.cookieRows())
}

// A logout wins over a renewal still in flight (docs/security.md), also when
// the renewing request is a web sign-in that saves and then mints an API
// token: a logout from another tab with the old cookie deletes the renewed
// row, so the browser is signed out and the MintToken that follows, which
// copies the sign-in from that row, mints nothing. (In the old design the
// same page called IssueToken on its cookie request, which could detach a
// header session from a sign-in the logout had already ended.)
func TestCookieLogoutWinsOverASavedLoginThatThenMintsAToken(t *testing.T) {
	g := newGate()
	a := newMintApp(t, g)
	a.engine.GET("/slow-web-login-with-token", mintHandler(a, g)) // steps=login,save,hold
	browser := a.client()
	browser.get("/set?cart=tea")
	old := browser.cookie()
	require.NotEmpty(t, old)

	wait := startSlow(browser, g, "/slow-web-login-with-token?steps=login,save,hold")
	otherTab := a.client()
	otherTab.setCookie(old)
	require.Equal(t, "bye", otherTab.get("/destroy").body)
	resp := wait()

	assert.Equal(t, http.StatusConflict, resp.StatusCode, "a token minted from a sign-in the logout ended: %s", resp.body)
	assert.NotEqual(t, old, browser.cookie(), "the browser got the renewed cookie")
	assert.Empty(t, browser.get("/whoami").body,
		"the logout answered bye, yet the browser is signed in under the renewed cookie")
	assert.Empty(t, a.rows(), "a session outlived the logout that raced its renewal")
}
