package ginsession

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lifecycleRoutes: a sign-in that panics after its response went out, a
// logout, and the usual reads and writes.
func lifecycleRoutes(r *gin.Engine) {
	basicRoutes(r)
	r.GET("/login", func(c *gin.Context) {
		Default(c).Login(c.Query("u"))
		c.String(http.StatusOK, "signed in")
	})
	r.GET("/login-then-panic", func(c *gin.Context) {
		Default(c).Login(c.Query("u"))
		c.String(http.StatusOK, "signed in")
		c.Writer.Flush()
		panic("a bug after the response went out")
	})
	r.GET("/unbind", func(c *gin.Context) {
		Default(c).SetUserID("")
		c.String(http.StatusOK, "signed out, cart kept")
	})
	r.GET("/whoami", func(c *gin.Context) { c.String(http.StatusOK, Default(c).UserID()) })
}

// A pre-login ID an attacker planted can destroy the session it was
// renewed into only while the sign-in request runs: not after it ended in
// a panic, and not for as long as the user keeps writing.
func TestAPlantedPreLoginIDStopsWorkingWhenTheSignInEndsEvenInAPanic(t *testing.T) {
	a := newApp(t, lifecycleRoutes)
	victim := a.client()
	victim.get("/set?cart=1")
	planted := victim.cookie()
	require.NotEmpty(t, planted)

	victim.get("/login-then-panic?u=alice")
	require.NotEqual(t, planted, victim.cookie(), "the sign-in renewed the ID before the panic")
	for range 10 { // the user keeps writing for ten minutes
		a.clock.Advance(time.Minute)
		require.Equal(t, http.StatusOK, victim.get("/set?seen=yes").StatusCode)
	}

	attacker := a.client()
	attacker.setCookie(planted)
	attacker.get("/destroy")
	assert.Equal(t, "alice", victim.get("/whoami").body, "the planted ID signed nobody out")

	// Right after the panic too: the renewal ended with its request.
	second := a.client()
	second.get("/set?cart=1")
	planted = second.cookie()
	second.get("/login-then-panic?u=bob")
	attacker.setCookie(planted)
	attacker.get("/destroy")
	assert.Equal(t, "bob", second.get("/whoami").body)
	for _, m := range a.rows() {
		assert.Empty(t, m.RenewedFrom, "no renewal outlives its request")
	}
}

// The grace of an old ID counts from the renewal, which no later save moves.
func TestTheOldIDsGraceCountsFromTheRenewalNotTheLastSave(t *testing.T) {
	a := newApp(t, lifecycleRoutes)
	victim := a.client()
	victim.get("/set?cart=1")
	planted := victim.cookie()
	victim.get("/login?u=alice")
	// As if the end of the sign-in request never cleared the old ID (its
	// process died): the row still names it.
	m := a.rows()[0]
	oldID, ok := parseToken(planted)
	require.True(t, ok)
	require.NoError(t, a.db.Table(a.store.cfg.tableName).Where("id = ?", m.ID).
		Updates(map[string]any{"renewed_from": oldID, "renewed_at": a.clock.Now().UTC()}).Error)
	for range 3 {
		a.clock.Advance(time.Minute)
		victim.get("/set?seen=yes") // each save moves updated_at
	}
	attacker := a.client()
	attacker.setCookie(planted)
	attacker.get("/destroy")
	assert.Equal(t, "alice", victim.get("/whoami").body, "past renewalGrace from the renewal, the old ID reaches nothing")
}

// Sign out keeping the cart, then sign in as someone: nothing the first
// user earned carries over.
func TestASessionOnceBoundStartsCleanAtTheNextLogin(t *testing.T) {
	a := newApp(t, lifecycleRoutes)
	cl := a.client()
	cl.get("/login?u=alice")
	cl.get("/set?mfa_passed=yes")
	cl.get("/unbind")
	require.Equal(t, "yes", cl.get("/get?k=mfa_passed").body, "unbinding keeps the values")
	cl.get("/login?u=mallory")
	assert.Equal(t, "mallory", cl.get("/whoami").body)
	assert.Equal(t, http.StatusNotFound, cl.get("/get?k=mfa_passed").StatusCode, "alice's flag is gone")

	// A session never bound keeps its cart at the first sign-in.
	fresh := a.client()
	fresh.get("/set?cart=3")
	fresh.get("/login?u=bob")
	assert.Equal(t, "3", fresh.get("/get?k=cart").body)
}

func TestLoginWithAnEmptyUserIDFailsAndSavesNothing(t *testing.T) {
	a := newApp(t, lifecycleRoutes)
	cl := a.client()
	cl.get("/set?cart=1")
	before := a.rows()
	resp := cl.get("/login?u=")
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.Contains(t, a.errors()[0], ErrNoUser.Error())
	assert.Equal(t, before, a.rows(), "nothing was saved")
}

// A visitor who never keeps a cookie (a bot on the login page) costs the
// table nothing, however often it loads a form.
func TestAVisitorsFormsCostTheTableNothing(t *testing.T) {
	a := newApp(t, csrfRoutes())
	bot := a.client()
	bot.hc.Jar = nil
	for range 20 {
		resp := bot.get("/form")
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Empty(t, resp.stmts)
	}
	assert.Empty(t, a.rows())

	// A browser that keeps its cookies: the forms of a page loaded before
	// its first saved change still work after it.
	cl := a.client()
	first, second := cl.formToken(), cl.formToken()
	for _, token := range []string{first, second} {
		resp := cl.post("/transfer", url.Values{CSRFField: {token}, "amount": {"5"}}, nil)
		assert.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	}
	assert.Len(t, a.rows(), 1)
	// A stranger's tokens are not its.
	other := a.client()
	resp := other.post("/transfer", url.Values{CSRFField: {other.formToken()}}, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	resp = cl.post("/transfer", url.Values{CSRFField: {other.formToken()}}, nil)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
}

// Signing in rotates the secret: a token from before the sign-in, the
// anonymous cookie's, no longer passes.
func TestSignInRetiresTheAnonymousCSRFSecret(t *testing.T) {
	a := newApp(t, csrfRoutes())
	cl := a.client()
	before := cl.formToken()
	resp := cl.get("/signin?u=alice")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	after := resp.body
	assert.Equal(t, http.StatusForbidden, cl.post("/transfer", url.Values{CSRFField: {before}}, nil).StatusCode)
	assert.Equal(t, http.StatusOK, cl.post("/transfer", url.Values{CSRFField: {after}}, nil).StatusCode)
}

// An API route's requests are header requests from the first handler on,
// so a CSRF installed for the whole router lets the API's login through
// without an exemption, and nothing there reaches a browser's session.
func TestAnAPIRouteIsAHeaderRequestBeforeAnyHandlerRuns(t *testing.T) {
	a := newApp(t, func(*gin.Engine) {}, WithTokenHeader("Authorization"))
	{ // the routes, once the store exists
		r := a.engine
		r.Use(CSRF())
		basicRoutes(r)
		r.GET("/whoami", func(c *gin.Context) { c.String(http.StatusOK, Default(c).UserID()) })
		api := r.Group("/api", a.store.APIHandler())
		api.POST("/login", func(c *gin.Context) {
			s := Default(c)
			s.Login(c.PostForm("u"))
			require.NoError(t, s.Save())
			token, err := s.IssueToken()
			if err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			c.String(http.StatusOK, token)
		})
		api.GET("/whoami", func(c *gin.Context) { c.String(http.StatusOK, Default(c).UserID()) })
	}

	app := a.apiClient()
	resp := app.send(http.MethodPost, "/api/login", url.Values{"u": {"alice"}}, nil)
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	assert.Empty(t, resp.Header.Values("Set-Cookie"))
	assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"))
	assert.Equal(t, "alice", app.send(http.MethodGet, "/api/whoami", nil, bearer(resp.body)).body)

	// The victim's browser, signed in, posts a form forged from another
	// site to the API's login: it carries her cookie, which nobody reads.
	victim := a.client()
	victim.get("/set?cart=1")
	cookie := victim.cookie()
	before := a.rows()
	forged := victim.send(http.MethodPost, "/api/login", url.Values{"u": {"mallory"}},
		http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}})
	assert.Empty(t, forged.Header.Values("Set-Cookie"), "no cookie session is signed in or out")
	assert.Equal(t, cookie, victim.cookie())
	after := a.rows()
	require.Len(t, after, len(before)+1, "only a header session of the attacker's")
	assert.Equal(t, before[len(before)-1], after[len(before)-1], "her row is untouched")
	assert.Equal(t, "", victim.get("/whoami").body)
}

// The states lifecycle.go names follow from the public calls as its table
// of transitions says, within one request.
func TestTheLifecycleTableHoldsWithinARequest(t *testing.T) {
	names := map[phase]string{phaseNone: "none", phaseNew: "new", phaseStored: "stored",
		phaseRenewing: "renewing", phaseDestroyed: "destroyed", phaseFailed: "failed"}
	steps := []struct {
		call string
		do   func(s *Session)
		want phase
	}{
		{"Get", func(s *Session) { s.Get("k") }, phaseNone},
		{"Set", func(s *Session) { s.Set("k", 1) }, phaseNew},
		{"Save", func(s *Session) { require.NoError(t, s.Save()) }, phaseStored},
		{"RenewID", func(s *Session) { s.RenewID() }, phaseRenewing},
		{"Save", func(s *Session) { require.NoError(t, s.Save()) }, phaseRenewing},
		{"Destroy", func(s *Session) { s.Destroy() }, phaseDestroyed},
		{"Save", func(s *Session) { require.NoError(t, s.Save()) }, phaseNone},
		{"Login(\"\")", func(s *Session) { s.Login("") }, phaseFailed},
	}
	var got []string
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/walk", func(c *gin.Context) {
			s := Default(c)
			for _, step := range steps {
				step.do(s)
				s.mu.Lock()
				got = append(got, step.call+": "+names[s.phase()])
				s.mu.Unlock()
			}
			c.Status(http.StatusNoContent)
		})
	})
	a.client().get("/walk")
	var want []string
	for _, step := range steps {
		want = append(want, step.call+": "+names[step.want])
	}
	assert.Equal(t, want, got)
}
