package main

import (
	"encoding/json"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
	"github.com/ginsession/ginsession/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// User-Agent headers of a few real browsers, for the devices page.
const (
	chromeLinux   = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	safariIPhone  = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
	firefoxMobile = "Mozilla/5.0 (Android 14; Mobile; rv:127.0) Gecko/127.0 Firefox/127.0"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	gin.DefaultWriter = io.Discard // the request log, on every request
	os.Exit(m.Run())
}

// startSite serves the example on a real loopback port, its sessions in a
// fresh SQLite file, and returns its base URL.
func startSite(t *testing.T, trustedProxies []string, opts ...ginsession.Option) string {
	t.Helper()
	db, err := openDB(filepath.Join(t.TempDir(), "example.db"))
	require.NoError(t, err)
	r, err := newRouter(db, trustedProxies, opts...)
	require.NoError(t, err)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv.URL
}

// client is one browser: a cookie jar, and headers it sends every time.
type client struct {
	t      *testing.T
	base   string
	jar    *cookiejar.Jar
	follow *http.Client // follows redirects, as a browser does
	once   *http.Client // stops at the first response, to look at a redirect
	header http.Header
}

// response is what a request got back, its body read.
type response struct {
	status int
	header http.Header
	body   string
}

func newClient(t *testing.T, base string) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	c := &client{t: t, base: base, jar: jar, header: http.Header{}}
	tr := headerTransport{c}
	c.follow = &http.Client{Jar: jar, Transport: tr}
	c.once = &http.Client{Jar: jar, Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
	return c
}

// headerTransport adds the client's own headers to each request.
type headerTransport struct{ c *client }

func (h headerTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	for k, v := range h.c.header {
		r.Header[k] = v
	}
	return http.DefaultTransport.RoundTrip(r)
}

func (c *client) send(hc *http.Client, method, path string, form url.Values, header http.Header) response {
	c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, c.base+path, body)
	require.NoError(c.t, err)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := hc.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return response{resp.StatusCode, resp.Header, string(b)}
}

// get loads a page, following redirects.
func (c *client) get(path string) response {
	c.t.Helper()
	return c.send(c.follow, http.MethodGet, path, nil, nil)
}

// post sends a form, following redirects.
func (c *client) post(path string, form url.Values) response {
	c.t.Helper()
	return c.send(c.follow, http.MethodPost, path, form, nil)
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// token loads a page and returns the CSRF token of its first form.
func (c *client) token(path string) string {
	c.t.Helper()
	r := c.get(path)
	require.Equal(c.t, http.StatusOK, r.status, "GET %s", path)
	m := csrfRE.FindStringSubmatch(r.body)
	require.NotNil(c.t, m, "no CSRF token on %s:\n%s", path, r.body)
	return m[1]
}

// submit posts form to action with a CSRF token from page, as pressing a
// button of that page does, following redirects.
func (c *client) submit(page, action string, form url.Values) response {
	c.t.Helper()
	if form == nil {
		form = url.Values{}
	}
	form.Set(ginsession.CSRFField, c.token(page))
	return c.post(action, form)
}

// logIn fills in the login form and returns the login's own response (a
// redirect when it worked), not the page it leads to.
func (c *client) logIn(username, password string, remember bool) response {
	c.t.Helper()
	form := url.Values{"username": {username}, "password": {password}, ginsession.CSRFField: {c.token("/login")}}
	if remember {
		form.Set("remember", "on")
	}
	return c.send(c.once, http.MethodPost, "/login", form, nil)
}

// mustLogIn logs in and checks that it worked.
func (c *client) mustLogIn(username, password string, remember bool) {
	c.t.Helper()
	r := c.logIn(username, password, remember)
	require.Equal(c.t, http.StatusSeeOther, r.status, r.body)
	require.Equal(c.t, "/profile", r.header.Get("Location"))
}

// cookie returns the session cookie the jar holds, or "".
func (c *client) cookie() string {
	u, _ := url.Parse(c.base)
	for _, ck := range c.jar.Cookies(u) {
		if ck.Name == ginsession.DefaultCookieName {
			return ck.Value
		}
	}
	return ""
}

// signedIn reports whether the client's session is signed in, by asking
// for the profile without following the redirect to the login page.
func (c *client) signedIn() bool {
	c.t.Helper()
	r := c.send(c.once, http.MethodGet, "/profile", nil, nil)
	if r.status == http.StatusSeeOther {
		require.Equal(c.t, "/login", r.header.Get("Location"))
		return false
	}
	require.Equal(c.t, http.StatusOK, r.status)
	return true
}

// sessionCookieHeader returns the Set-Cookie line of the session cookie.
func sessionCookieHeader(t *testing.T, h http.Header) string {
	t.Helper()
	for _, line := range h.Values("Set-Cookie") {
		if strings.HasPrefix(line, ginsession.DefaultCookieName+"=") {
			return line
		}
	}
	t.Fatalf("no session cookie set; Set-Cookie: %q", h.Values("Set-Cookie"))
	return ""
}

// text returns the text of the element with the given id, tags removed.
func text(t *testing.T, body, id string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<(\w+)[^>]* id="`+id+`"[^>]*>(.*?)</(\w+)>`).FindAllStringSubmatch(body, -1)
	require.Len(t, m, 1, "no single #%s in:\n%s", id, body)
	inner := m[0][2]
	if m[0][1] != m[0][3] { // an element inside: go on to the element's own end
		i := strings.Index(body, m[0][0]) + len(m[0][0])
		end := strings.Index(body[i:], "</"+m[0][1]+">")
		require.GreaterOrEqual(t, end, 0)
		inner += "</" + m[0][3] + ">" + body[i:i+end]
	}
	inner = regexp.MustCompile(`<[^>]*>`).ReplaceAllString(inner, "")
	return html.UnescapeString(strings.Join(strings.Fields(inner), " "))
}

// datetime returns the moment in the first <time> inside the element with
// the given id.
func datetime(t *testing.T, body, id string) time.Time {
	t.Helper()
	m := regexp.MustCompile(`id="` + id + `"[^>]*><time datetime="([^"]+)"`).FindStringSubmatch(body)
	require.NotNil(t, m, "no time in #%s:\n%s", id, body)
	at, err := time.Parse(time.RFC3339, m[1])
	require.NoError(t, err)
	return at
}

func flashes(body string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`<p class="flash"[^>]*>(.*?)</p>`).FindAllStringSubmatch(body, -1) {
		out = append(out, html.UnescapeString(m[1]))
	}
	return out
}

func TestLoginWithTheRightPassword(t *testing.T) {
	base := startSite(t, nil)
	c := newClient(t, base)

	form := c.get("/login")
	require.Equal(t, http.StatusOK, form.status)
	assert.Contains(t, form.body, `<input type="hidden" name="csrf_token" value="`)
	assert.Contains(t, form.body, `name="username"`)
	assert.Contains(t, form.body, `type="password" name="password"`)
	assert.Contains(t, form.body, `type="checkbox" name="remember"`)
	assert.Contains(t, text(t, form.body, "demo-accounts"), "alice with password wonderland")
	assert.Empty(t, c.cookie(), "a visitor's login form starts no session: its CSRF token needs none")

	r := c.logIn("alice", "wonderland", false)
	assert.Equal(t, http.StatusSeeOther, r.status)
	assert.Equal(t, "/profile", r.header.Get("Location"))
	assert.NotEmpty(t, c.cookie(), "signing in starts the session")

	profile := c.get("/profile")
	require.Equal(t, http.StatusOK, profile.status)
	assert.Equal(t, "Hello, Alice", text(t, profile.body, "greeting"))
	assert.Equal(t, "alice", text(t, profile.body, "username"))
	assert.Equal(t, []string{"Logged in as Alice"}, flashes(profile.body))
	assert.Empty(t, flashes(c.get("/profile").body), "a flash is shown once")

	// Usernames are not case-sensitive; bob's password is not alice's.
	other := newClient(t, base)
	other.mustLogIn(" Bob ", "builder", false)
	assert.Equal(t, "Hello, Bob", text(t, other.get("/profile").body, "greeting"))
	assert.Equal(t, http.StatusUnauthorized, newClient(t, base).logIn("alice", "builder", false).status)
}

func TestLoginWithAWrongPasswordSignsNobodyIn(t *testing.T) {
	base := startSite(t, nil)
	for _, tc := range []struct{ name, username, password string }{
		{"wrong password", "alice", "looking-glass"},
		{"another user's password", "alice", "builder"},
		{"password in the wrong case", "alice", "Wonderland"},
		{"unknown user", "carol", "wonderland"},
		{"empty password", "alice", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := newClient(t, base)
			r := c.logIn(tc.username, tc.password, true)
			assert.Equal(t, http.StatusUnauthorized, r.status)
			assert.Equal(t, "Wrong username or password.", textOfError(r.body))
			assert.Contains(t, r.body, `<form method="post" action="/login" id="login">`, "the form again")
			assert.Regexp(t, `name="csrf_token" value="[^"]+"`, r.body, "with a token to try again")
			assert.Contains(t, r.body, `name="username" value="`+html.EscapeString(tc.username)+`"`, "the username is kept")
			assert.Contains(t, r.body, `<input type="password" name="password" autocomplete="current-password" required>`,
				"the password is not")
			assert.Empty(t, r.header.Values("Set-Cookie"), "no new session ID: nobody signed in")
			assert.False(t, c.signedIn())

			// The form it shows again works for the next try.
			retry := url.Values{"username": {"alice"}, "password": {"wonderland"},
				ginsession.CSRFField: {csrfRE.FindStringSubmatch(r.body)[1]}}
			r = c.send(c.once, http.MethodPost, "/login", retry, nil)
			assert.Equal(t, http.StatusSeeOther, r.status)
			assert.True(t, c.signedIn())
		})
	}
}

// textOfError returns the login form's error message.
func textOfError(body string) string {
	m := regexp.MustCompile(`<p class="error" role="alert">(.*?)</p>`).FindStringSubmatch(body)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

func TestRememberMeChoosesTheCookie(t *testing.T) {
	base := startSite(t, nil)

	t.Run("remembered", func(t *testing.T) {
		c := newClient(t, base)
		r := c.logIn("alice", "wonderland", true)
		require.Equal(t, http.StatusSeeOther, r.status)
		line := sessionCookieHeader(t, r.header)
		ck, err := http.ParseSetCookie(line)
		require.NoError(t, err)
		month := int(ginsession.DefaultRememberTimeout / time.Second)
		assert.InDelta(t, month, ck.MaxAge, 60, "a cookie that outlives the browser, for 30 days: %s", line)

		profile := c.get("/profile").body
		assert.Equal(t, "yes: this browser stays signed in, also after it closes, until 30 days pass without a visit", text(t, profile, "remembered"))
		assert.WithinDuration(t, time.Now().Add(ginsession.DefaultRememberTimeout), datetime(t, profile, "expires"), time.Minute)
	})

	t.Run("not remembered", func(t *testing.T) {
		c := newClient(t, base)
		r := c.logIn("alice", "wonderland", false)
		require.Equal(t, http.StatusSeeOther, r.status)
		line := sessionCookieHeader(t, r.header)
		assert.NotContains(t, line, "Max-Age", "a cookie the browser drops when it closes")
		assert.NotContains(t, line, "Expires")

		profile := c.get("/profile").body
		assert.Equal(t, "no: signed out when the browser closes, or after 2 hours without a visit", text(t, profile, "remembered"))
		assert.WithinDuration(t, time.Now().Add(ginsession.DefaultBrowserSessionTimeout), datetime(t, profile, "expires"), time.Minute)
	})
}

func TestProfileShowsWhenTheSessionSignedIn(t *testing.T) {
	clock := testkit.NewClock(time.Date(2030, 5, 1, 9, 0, 0, 0, time.UTC))
	base := startSite(t, nil, ginsession.WithClock(clock.Now))
	c := newClient(t, base)
	c.get("/") // an anonymous session first: signing in is what counts
	clock.Advance(10 * time.Minute)
	c.mustLogIn("alice", "wonderland", false)

	profile := c.get("/profile").body
	assert.Equal(t, time.Date(2030, 5, 1, 9, 10, 0, 0, time.UTC), datetime(t, profile, "signed-in"))
	assert.Contains(t, text(t, profile, "signed-in"), "2030-05-01 09:10:00 UTC")
	assert.Equal(t, time.Date(2030, 5, 1, 11, 10, 0, 0, time.UTC), datetime(t, profile, "expires"),
		"two hours after the last visit, without remember me")

	clock.Advance(time.Hour)
	again := c.get("/profile").body
	assert.Equal(t, time.Date(2030, 5, 1, 9, 10, 0, 0, time.UTC), datetime(t, again, "signed-in"),
		"later visits do not move it")
	assert.Equal(t, time.Date(2030, 5, 1, 12, 10, 0, 0, time.UTC), datetime(t, again, "expires"),
		"each visit moves the expiry")
	assert.Equal(t, "3", text(t, again, "visits"), "home once, the profile twice")

	// Signing in again is a new sign-in.
	clock.Advance(time.Hour)
	c.mustLogIn("alice", "wonderland", false)
	assert.Equal(t, time.Date(2030, 5, 1, 11, 10, 0, 0, time.UTC), datetime(t, c.get("/profile").body, "signed-in"))
}

func TestProfileRedirectsWhenSignedOut(t *testing.T) {
	base := startSite(t, nil)
	for _, path := range []string{"/profile", "/devices"} {
		c := newClient(t, base)
		r := c.send(c.once, http.MethodGet, path, nil, nil)
		assert.Equal(t, http.StatusSeeOther, r.status, path)
		assert.Equal(t, "/login", r.header.Get("Location"), path)
		login := c.get("/login")
		assert.Contains(t, login.body, `action="/login"`)
		assert.Len(t, flashes(login.body), 1, "the login page says why")
	}
}

// TestWalkthrough is a visit from start to end: the counter of an
// anonymous session, a login that renews the session's ID but keeps its
// data, and a logout that starts afresh.
func TestWalkthrough(t *testing.T) {
	base := startSite(t, nil)
	c := newClient(t, base)
	assert.Equal(t, "Visits in this session: 1", text(t, c.get("/").body, "visits"))
	assert.Equal(t, "Visits in this session: 2", text(t, c.get("/").body, "visits"))
	assert.Equal(t, "You are not logged in.", text(t, c.get("/").body, "welcome"))

	before := c.cookie()
	c.mustLogIn("alice", "wonderland", false)
	assert.NotEqual(t, before, c.cookie(), "login renews the ID")
	assert.Equal(t, "4", text(t, c.get("/profile").body, "visits"))
	home := c.get("/").body
	assert.Equal(t, "Visits in this session: 5", text(t, home, "visits"))
	assert.Equal(t, "Welcome back, Alice.", text(t, home, "welcome"))

	loggedIn := c.cookie()
	home = c.submit("/", "/logout", nil).body // and back to the home page
	assert.Equal(t, "Visits in this session: 1", text(t, home, "visits"))
	assert.NotEqual(t, loggedIn, c.cookie(), "a new, anonymous session")
}

func TestLogout(t *testing.T) {
	base := startSite(t, nil)
	c := newClient(t, base)
	c.mustLogIn("alice", "wonderland", true)
	old := c.cookie()

	form := url.Values{ginsession.CSRFField: {c.token("/profile")}}
	r := c.send(c.once, http.MethodPost, "/logout", form, nil)
	assert.Equal(t, http.StatusSeeOther, r.status)
	assert.Equal(t, "/", r.header.Get("Location"))
	home := c.get("/").body
	assert.Equal(t, []string{"Logged out."}, flashes(home))
	assert.Equal(t, "You are not logged in.", text(t, home, "welcome"))
	assert.False(t, c.signedIn())
	assert.NotEqual(t, old, c.cookie())

	// The cookie from before the logout signs nobody in any more.
	thief := newClient(t, base)
	u, _ := url.Parse(base)
	thief.jar.SetCookies(u, []*http.Cookie{{Name: ginsession.DefaultCookieName, Value: old, Path: "/"}})
	assert.False(t, thief.signedIn())
}

func TestPostsWithoutTheirCSRFTokenAreRefused(t *testing.T) {
	base := startSite(t, nil)
	alice, bob := newClient(t, base), newClient(t, base)
	alice.mustLogIn("alice", "wonderland", false)
	bob.mustLogIn("bob", "builder", false)
	aliceHandle := devicesOf(t, alice)[0].handle
	bobsToken := bob.token("/devices")

	routes := []struct {
		path string
		form url.Values
	}{
		{"/login", url.Values{"username": {"bob"}, "password": {"builder"}}},
		{"/logout", nil},
		{"/devices/signout", url.Values{"handle": {aliceHandle}}},
		{"/devices/signout-others", nil},
		{"/devices/token", nil},
	}
	tokens := []struct {
		name, token string
		header      http.Header
	}{
		{name: "no token"},
		{name: "a made-up token", token: "not-a-token"},
		{name: "another session's token", token: bobsToken},
		{name: "its token, cut short", token: alice.token("/devices")[:40]},
		{name: "its token, but from another site", token: alice.token("/devices"),
			header: http.Header{"Origin": {"http://evil.example"}}},
		{name: "its token, but a cross-site request", token: alice.token("/devices"),
			header: http.Header{"Sec-Fetch-Site": {"cross-site"}}},
	}
	for _, route := range routes {
		for _, tok := range tokens {
			t.Run(route.path+" with "+tok.name, func(t *testing.T) {
				form := url.Values{}
				for k, v := range route.form {
					form[k] = v
				}
				if tok.token != "" {
					form.Set(ginsession.CSRFField, tok.token)
				}
				r := alice.send(alice.once, http.MethodPost, route.path, form, tok.header)
				assert.Equal(t, http.StatusForbidden, r.status, r.body)
				assert.True(t, strings.HasPrefix(r.body, "Forbidden: "), r.body)
			})
		}
	}
	// Nothing happened: both still signed in, as themselves, on one device
	// each, and no API token was made.
	assert.Equal(t, "Hello, Alice", text(t, alice.get("/profile").body, "greeting"))
	assert.Equal(t, "Hello, Bob", text(t, bob.get("/profile").body, "greeting"))
	assert.Len(t, devicesOf(t, alice), 1)
	assert.Len(t, devicesOf(t, bob), 1)

	// A visitor without a session is refused too: logging someone in from
	// another site (login CSRF) needs a session and its token.
	stranger := newClient(t, base)
	r := stranger.send(stranger.once, http.MethodPost, "/login",
		url.Values{"username": {"alice"}, "password": {"wonderland"}, ginsession.CSRFField: {bobsToken}}, nil)
	assert.Equal(t, http.StatusForbidden, r.status)
	assert.Empty(t, stranger.cookie())

	// And the same posts with their token work: the refusals above were
	// the token's doing.
	form := url.Values{ginsession.CSRFField: {alice.token("/devices")}}
	assert.Equal(t, http.StatusOK, alice.send(alice.once, http.MethodPost, "/devices/token", form, nil).status)
}

// deviceRow is one row of the devices page.
type deviceRow struct {
	current                bool
	browser, address, kind string
	handle                 string
	signedIn, lastSeen     time.Time
}

var rowRE = regexp.MustCompile(`(?s)<tr( class="current")?>\s*<td class="browser">(.*?)</td>\s*<td class="address">(.*?)</td>\s*` +
	`<td class="signed-in"><time datetime="([^"]+)".*?</td>\s*<td class="last-seen"><time datetime="([^"]+)".*?</td>\s*` +
	`<td class="kind">(.*?)</td>.*?name="handle" value="([0-9a-f]+)"`)

// devicesOf returns the rows of c's devices page.
func devicesOf(t *testing.T, c *client) []deviceRow {
	t.Helper()
	r := c.get("/devices")
	require.Equal(t, http.StatusOK, r.status)
	require.Contains(t, r.body, "<h1>Your devices</h1>")
	var rows []deviceRow
	for _, m := range rowRE.FindAllStringSubmatch(r.body, -1) {
		signedIn, err := time.Parse(time.RFC3339, m[4])
		require.NoError(t, err)
		lastSeen, err := time.Parse(time.RFC3339, m[5])
		require.NoError(t, err)
		rows = append(rows, deviceRow{
			current: m[1] != "",
			browser: strings.TrimSpace(regexp.MustCompile(`<[^>]*>`).ReplaceAllString(m[2], "")),
			address: m[3], kind: m[6], handle: m[7], signedIn: signedIn, lastSeen: lastSeen,
		})
	}
	require.Equal(t, strings.Count(r.body, `action="/devices/signout"`), len(rows), "every row parsed:\n%s", r.body)
	return rows
}

// current returns the row of the device that asked.
func current(t *testing.T, rows []deviceRow) deviceRow {
	t.Helper()
	var found []deviceRow
	for _, r := range rows {
		if r.current {
			found = append(found, r)
		}
	}
	require.Len(t, found, 1, "exactly one row is this device")
	return found[0]
}

func TestDevicesPage(t *testing.T) {
	base := startSite(t, nil)
	start := time.Now().Add(-time.Second)
	laptop, phone, tablet, bob := newClient(t, base), newClient(t, base), newClient(t, base), newClient(t, base)
	laptop.header.Set("User-Agent", chromeLinux)
	phone.header.Set("User-Agent", safariIPhone)
	tablet.header.Set("User-Agent", firefoxMobile)
	laptop.mustLogIn("alice", "wonderland", false)
	phone.mustLogIn("alice", "wonderland", true)
	tablet.mustLogIn("alice", "wonderland", false)
	bob.mustLogIn("bob", "builder", false)

	rows := devicesOf(t, laptop)
	require.Len(t, rows, 3, "Alice's three devices, not Bob's")
	assert.Equal(t, []string{"Firefox on Android", "Safari on iOS", "Chrome on Linux (this device)"},
		[]string{rows[0].browser, rows[1].browser, rows[2].browser}, "newest first")
	assert.Equal(t, []string{"until the browser closes", "remembered", "until the browser closes"},
		[]string{rows[0].kind, rows[1].kind, rows[2].kind})
	for _, r := range rows {
		assert.Equal(t, "127.0.0.1", r.address)
		assert.WithinRange(t, r.signedIn, start.Truncate(time.Second), time.Now())
		assert.WithinRange(t, r.lastSeen, r.signedIn, time.Now())
	}
	here := current(t, rows)
	assert.Equal(t, here, current(t, devicesOf(t, laptop)), "the same session from one visit to the next")

	// Bob's session is not Alice's to sign out.
	bobs := current(t, devicesOf(t, bob)).handle
	r := laptop.submit("/devices", "/devices/signout", url.Values{"handle": {bobs}})
	assert.Equal(t, http.StatusForbidden, r.status)
	assert.True(t, bob.signedIn())
	r = laptop.submit("/devices", "/devices/signout", url.Values{"handle": {"not-a-handle"}})
	assert.Equal(t, http.StatusForbidden, r.status)

	// Signing one device out.
	phoneHandle := current(t, devicesOf(t, phone)).handle
	r = laptop.submit("/devices", "/devices/signout", url.Values{"handle": {phoneHandle}})
	assert.Equal(t, []string{"Signed that device out."}, flashes(r.body))
	assert.False(t, phone.signedIn())
	assert.True(t, tablet.signedIn())
	assert.Len(t, devicesOf(t, laptop), 2)

	// An API token: made from the devices page, used by a script, listed as
	// such.
	r = laptop.submit("/devices", "/devices/token", nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	token := text(t, r.body, "token")
	assert.Equal(t, "curl -H 'Authorization: Bearer "+token+"' "+base+"/api/me", text(t, r.body, "try"))
	me := apiMe(t, base, token)
	assert.Equal(t, http.StatusOK, me.status)
	assert.Equal(t, map[string]any{"id": "1", "username": "alice", "name": "Alice"}, decode(t, me.body))
	rows = devicesOf(t, laptop)
	require.Len(t, rows, 3)
	assert.Equal(t, "API token", rows[0].kind)
	assert.Equal(t, "Unknown browser", rows[0].browser, "a token is not used from a browser")

	// Signing out everywhere else: the tablet and the token.
	r = laptop.submit("/devices", "/devices/signout-others", nil)
	assert.Equal(t, []string{"Signed out 2 other device(s)."}, flashes(r.body))
	assert.False(t, tablet.signedIn())
	assert.Equal(t, http.StatusUnauthorized, apiMe(t, base, token).status)
	rows = devicesOf(t, laptop)
	require.Len(t, rows, 1)
	assert.Equal(t, here.handle, rows[0].handle)
	assert.True(t, bob.signedIn(), "Bob's sessions are his own")

	// The button on this device's own row logs out.
	r = laptop.submit("/devices", "/devices/signout", url.Values{"handle": {here.handle}})
	assert.Equal(t, []string{"Logged out."}, flashes(r.body))
	assert.False(t, laptop.signedIn())
}

// apiMe calls the API with a token, as a script would: no cookies.
func apiMe(t *testing.T, base, token string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/api/me", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("User-Agent", "curl/8.5.0")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Empty(t, resp.Header.Values("Set-Cookie"), "an API call sets no cookie")
	return response{resp.StatusCode, resp.Header, string(b)}
}

func decode(t *testing.T, body string) map[string]any {
	t.Helper()
	var v map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &v), body)
	return v
}

func TestAPITokenRecordsItsClientOnceUsed(t *testing.T) {
	// The last-seen time, and with it the browser and address, is written
	// at most once a minute: move the store's clock instead of waiting.
	clock := testkit.NewClock(time.Now())
	base := startSite(t, nil, ginsession.WithClock(clock.Now))
	c := newClient(t, base)
	c.mustLogIn("alice", "wonderland", false)
	token := text(t, c.submit("/devices", "/devices/token", nil).body, "token")
	require.Equal(t, http.StatusOK, apiMe(t, base, token).status)

	clock.Advance(2 * time.Minute)
	require.Equal(t, http.StatusOK, apiMe(t, base, token).status)
	rows := devicesOf(t, c)
	require.Len(t, rows, 2)
	tokenRow := rows[0]
	if tokenRow.current { // both made at the same instant of the test's clock
		tokenRow = rows[1]
	}
	assert.Equal(t, "API token", tokenRow.kind)
	assert.Equal(t, "curl", tokenRow.browser)
	assert.Equal(t, "127.0.0.1", tokenRow.address)
}

func TestForwardedForCannotForgeTheAddress(t *testing.T) {
	for _, tc := range []struct {
		name    string
		proxies []string
		want    string
	}{
		{"no trusted proxy: the connection's address", nil, "127.0.0.1"},
		// The control: from a proxy it trusts, the site believes the header.
		{"behind a trusted proxy: the forwarded address", []string{"127.0.0.1"}, "6.6.6.6"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := startSite(t, tc.proxies)
			c := newClient(t, base)
			c.header.Set("X-Forwarded-For", "6.6.6.6")
			c.mustLogIn("alice", "wonderland", false)
			here := current(t, devicesOf(t, c))
			assert.Equal(t, tc.want, here.address)
		})
	}
}

func TestSplitList(t *testing.T) {
	assert.Nil(t, splitList(""))
	assert.Nil(t, splitList(" , "))
	assert.Equal(t, []string{"127.0.0.1", "10.0.0.0/8"}, splitList("127.0.0.1, 10.0.0.0/8,"))
}

func TestRelative(t *testing.T) {
	now := time.Now()
	for _, tc := range []struct {
		at   time.Time
		want string
	}{
		{now, "just now"},
		{now.Add(-5 * time.Second), "5 seconds ago"},
		{now.Add(-90 * time.Second), "2 minutes ago"},
		{now.Add(2*time.Hour - time.Second), "in 2 hours"},
		{now.Add(30 * 24 * time.Hour), "in 30 days"},
		{now.Add(-36 * time.Hour), "2 days ago"},
	} {
		assert.Equal(t, tc.want, relative(tc.at), "%v", tc.at.Sub(now))
	}
}

func TestEveryPageUsesTheStylesheet(t *testing.T) {
	base := startSite(t, nil)
	c := newClient(t, base)

	css := c.get("/static/style.css")
	require.Equal(t, http.StatusOK, css.status)
	assert.Equal(t, "text/css; charset=utf-8", css.header.Get("Content-Type"))
	assert.Contains(t, css.body, "table {")
	assert.Empty(t, css.header.Values("Set-Cookie"), "the stylesheet starts no session")

	const link = `<link rel="stylesheet" href="/static/style.css">`
	pages := map[string]string{"/": c.get("/").body, "/login": c.get("/login").body}
	c.mustLogIn("alice", "wonderland", false)
	for _, p := range []string{"/profile", "/devices"} {
		pages[p] = c.get(p).body
	}
	pages["/devices/token"] = c.submit("/devices", "/devices/token", nil).body
	for path, body := range pages {
		assert.Contains(t, body, link, path)
		assert.NotContains(t, body, "<style", "%s: the stylesheet is the one file", path)
	}
	assert.Contains(t, pages["/devices"], `<a href="/devices" aria-current="page">Devices</a>`, "the menu marks the page shown")
}
