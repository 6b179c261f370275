// Package e2e drives the example app with a real Chromium: what a person
// sees, and what the browser does with the session cookie.
//
// It needs Debian's chromium (apt-get install -y chromium) at
// /usr/bin/chromium, or CHROMIUM_PATH naming another binary. Without one the
// tests skip, except under CI, where they fail.
package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
	"github.com/ginsession/ginsession"
	"github.com/ginsession/ginsession/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// artifactsEnv names the directory that receives a PNG of each page the
// tests show, for a person to look at (CI keeps it as an artifact). Unset,
// the PNGs go to a new directory under os.TempDir(), which is kept too.
const artifactsEnv = "GINSESSION_ARTIFACTS"

// chromium returns the browser binary, or skips t when there is none.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("CHROMIUM_PATH"); p != "" {
		_, err := os.Stat(p)
		require.NoError(t, err, "CHROMIUM_PATH names no file")
		return p
	}
	const debian = "/usr/bin/chromium"
	if _, err := os.Stat(debian); err == nil {
		return debian
	}
	msg := "no Chromium at " + debian + " and CHROMIUM_PATH is unset: install Debian's package (apt-get install -y chromium) to run the browser tests"
	if os.Getenv("CI") != "" {
		t.Fatal(msg + "; CI must run them")
	}
	t.Skip(msg)
	return ""
}

var (
	shotsOnce sync.Once
	shotsDir  string
	shotsErr  error
)

// screenshotDir returns the directory for screenshots, creating it once.
func screenshotDir(t *testing.T) string {
	t.Helper()
	shotsOnce.Do(func() {
		if shotsDir = os.Getenv(artifactsEnv); shotsDir != "" {
			shotsErr = os.MkdirAll(shotsDir, 0o755)
			return
		}
		shotsDir, shotsErr = os.MkdirTemp("", "ginsession-e2e-screenshots-")
	})
	require.NoError(t, shotsErr, "the screenshot directory")
	return shotsDir
}

var (
	buildOnce sync.Once
	buildDir  string
	buildBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// exampleBinary builds the example app from the repository once.
func exampleBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		root, err := filepath.Abs("..")
		if err != nil {
			buildErr = err
			return
		}
		if buildDir, buildErr = os.MkdirTemp("", "ginsession-e2e"); buildErr != nil {
			return
		}
		buildBin = filepath.Join(buildDir, "example")
		cmd := exec.Command("go", "build", "-o", buildBin, "./example")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New("go build ./example: " + err.Error() + "\n" + string(out))
		}
	})
	require.NoError(t, buildErr)
	return buildBin
}

// syncBuffer keeps the app's output for a failure message.
type syncBuffer = testkit.SyncBuffer

// startExample runs the example app on a free port of 127.0.0.1 with its
// database in a temporary directory, and returns its base URL
// (http://127.0.0.1:port) once it answers.
func startExample(t *testing.T) string {
	t.Helper()
	chromium(t) // skip before building anything when there is no browser
	bin := exampleBinary(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())

	logs := &syncBuffer{}
	cmd := exec.Command(bin, "-addr", addr, "-db", filepath.Join(t.TempDir(), "x.db"))
	cmd.Stdout, cmd.Stderr = logs, logs
	require.NoError(t, cmd.Start())
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("example app output:\n%s", logs.String())
		}
	})

	base := "http://" + addr
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(base + "/login")
		if err == nil {
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode)
			return base
		}
		select {
		case <-exited:
			t.Fatalf("the example app exited before it answered:\n%s", logs.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the example app did not answer within 20s: %v\n%s", err, logs.String())
		}
	}
}

// browser is one headless Chromium on a profile directory.
type browser struct {
	t   *testing.T
	ctx context.Context
	// close shuts the browser down gracefully, so that it writes its
	// cookies to the profile, and waits for it to exit.
	close func()
}

// startBrowser starts Chromium on profile and opens a blank tab.
func startBrowser(t *testing.T, profile string) *browser {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	actx, acancel := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-quic", true),
		chromedp.UserDataDir(profile),
		chromedp.WindowSize(1024, 768),
	)
	bctx, bcancel := chromedp.NewContext(actx)
	closed := false
	b := &browser{t: t, ctx: bctx}
	b.close = func() {
		if closed {
			return
		}
		closed = true
		if err := chromedp.Cancel(bctx); err != nil {
			t.Errorf("close the browser: %v", err)
		}
		bcancel()
		acancel()
		cancel()
	}
	t.Cleanup(b.close)
	require.NoError(t, chromedp.Do(bctx), "start Chromium")
	return b
}

// open loads url and waits for the page.
func (b *browser) open(url string) {
	b.t.Helper()
	require.NoError(b.t, chromedp.Do(b.ctx, chromedp.Navigate(url)), "open %s", url)
}

// click clicks the first element matching css, waits for the page it leads
// to and returns that page's response.
func (b *browser) click(css string) *network.Response {
	b.t.Helper()
	resp, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(css)))
	require.NoError(b.t, err, "click %s", css)
	return resp
}

// typeInto types s into the field matching css, key by key.
func (b *browser) typeInto(css, s string) {
	b.t.Helper()
	require.NoError(b.t, chromedp.Do(b.ctx, chromedp.SendKeys(chromedp.CSS(css), s)), "type into %s", css)
}

// checked reports whether the checkbox matching css is ticked.
func (b *browser) checked(css string) bool {
	b.t.Helper()
	return eval[bool](b, fmt.Sprintf(`document.querySelector(%q).checked`, css))
}

// text returns the visible text of the first element matching css.
func (b *browser) text(css string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(css)))
	require.NoError(b.t, err, "text of %s", css)
	return strings.TrimSpace(s)
}

// eval evaluates a JavaScript expression in the page.
func eval[T any](b *browser, js string) T {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[T](js))
	require.NoError(b.t, err, "evaluate %s", js)
	return v
}

// path returns the path of the page the tab shows.
func (b *browser) path() string {
	b.t.Helper()
	return eval[string](b, "location.pathname")
}

// status returns the HTTP status of the page the tab shows, as the
// browser's own navigation timing recorded it.
func (b *browser) status() int {
	b.t.Helper()
	return eval[int](b, `performance.getEntriesByType("navigation")[0].responseStatus`)
}

// flashes returns the flash messages the page shows.
func (b *browser) flashes() []string {
	b.t.Helper()
	return eval[[]string](b, `Array.from(document.querySelectorAll(".flash"), e => e.textContent.trim())`)
}

// moment returns the time in the datetime attribute of the <time> inside
// the element matching css.
func (b *browser) moment(css string) time.Time {
	b.t.Helper()
	s := eval[string](b, fmt.Sprintf(`document.querySelector(%q).querySelector("time").dateTime`, css))
	at, err := time.Parse(time.RFC3339, s)
	require.NoError(b.t, err)
	return at
}

// screenshot saves a PNG of the whole page as name+".png" in the
// screenshot directory (see artifactsEnv) and logs its path.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	png, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100)) // quality 100: PNG
	require.NoError(b.t, err, "screenshot %s", name)
	path := filepath.Join(screenshotDir(b.t), name+".png")
	require.NoError(b.t, os.WriteFile(path, png, 0o644))
	b.t.Logf("screenshot: %s", path)
}

// sessionCookie returns the session cookie the browser holds for base, or
// nil.
func (b *browser) sessionCookie(base string) *network.Cookie {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{base + "/"}})
	require.NoError(b.t, err)
	for _, ck := range res.Cookies {
		if ck.Name == ginsession.DefaultCookieName {
			return ck
		}
	}
	return nil
}

// fillLogin types a username and password into the login form and sets
// the "remember me" box by clicking it, as a person would.
func (b *browser) fillLogin(base, username, password string, remember bool) {
	b.t.Helper()
	b.open(base + "/login")
	b.typeInto(`input[name="username"]`, username)
	b.typeInto(`input[name="password"]`, password)
	box := `input[name="remember"]`
	require.False(b.t, b.checked(box), "remember me starts unticked")
	if remember {
		b.clickNoNav(box)
		require.True(b.t, b.checked(box))
	}
}

// clickNoNav clicks an element that leads nowhere (a checkbox).
func (b *browser) clickNoNav(css string) {
	b.t.Helper()
	require.NoError(b.t, chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(css))), "click %s", css)
}

// logIn logs in through the form and waits for the profile page.
func (b *browser) logIn(base, username, password string, remember bool) {
	b.t.Helper()
	b.fillLogin(base, username, password, remember)
	resp := b.click(`#login button[type="submit"]`)
	require.Equal(b.t, http.StatusOK, int(resp.Status))
	require.Equal(b.t, "/profile", b.path(), "login leads to the profile")
}

// device is one row of the devices page, as the browser shows it.
type device struct {
	Current  bool   `json:"current"`
	Browser  string `json:"browser"`
	Address  string `json:"address"`
	SignedIn string `json:"signedIn"`
	LastSeen string `json:"lastSeen"`
	Kind     string `json:"kind"`
}

// devices opens the devices page and returns its rows.
func (b *browser) devices(base string) []device {
	b.t.Helper()
	b.open(base + "/devices")
	require.Equal(b.t, "/devices", b.path())
	return eval[[]device](b, `Array.from(document.querySelectorAll("#devices tbody tr"), tr => ({
		current: tr.classList.contains("current"),
		browser: tr.querySelector(".browser").innerText.trim(),
		address: tr.querySelector(".address").innerText.trim(),
		signedIn: tr.querySelector(".signed-in time").dateTime,
		lastSeen: tr.querySelector(".last-seen time").dateTime,
		kind: tr.querySelector(".kind").innerText.trim(),
	}))`)
}

// signedIn reports whether the browser is signed in to base: whether the
// profile page shows, rather than sending it to the login page.
func (b *browser) signedIn(base string) bool {
	b.t.Helper()
	b.open(base + "/profile")
	switch b.path() {
	case "/profile":
		return true
	case "/login":
		return false
	}
	b.t.Fatalf("the profile led to %s", b.path())
	return false
}

func TestBrowserLogsInShowsFlashOnceCountsVisitsAndLogsOut(t *testing.T) {
	base := startExample(t)
	b := startBrowser(t, t.TempDir())

	b.open(base + "/")
	assert.Equal(t, "Visits in this session: 1", b.text("#visits"))
	b.open(base + "/")
	assert.Equal(t, "Visits in this session: 2", b.text("#visits"))
	b.screenshot("01-home")
	anonymous := b.sessionCookie(base)
	require.NotNil(t, anonymous, "the counter started a session")

	// A wrong password: the form again, with an error, and nobody signed in.
	b.fillLogin(base, "alice", "looking-glass", true)
	b.screenshot("02-login-form")
	resp := b.click(`#login button[type="submit"]`)
	assert.Equal(t, http.StatusUnauthorized, int(resp.Status))
	assert.Equal(t, "/login", b.path())
	assert.Equal(t, "Wrong username or password.", b.text(".error"))
	b.screenshot("03-login-wrong-password")
	assert.Equal(t, "alice", eval[string](b, `document.querySelector('input[name="username"]').value`))
	assert.Empty(t, eval[string](b, `document.querySelector('input[name="password"]').value`))
	assert.Equal(t, anonymous.Value, b.sessionCookie(base).Value, "no new session ID")
	assert.False(t, b.signedIn(base))

	before := time.Now().Add(-time.Second).Truncate(time.Second)
	b.logIn(base, "alice", "wonderland", false)
	after := time.Now()
	assert.Equal(t, "Hello, Alice", b.text("#greeting"))
	assert.Equal(t, []string{"Logged in as Alice"}, b.flashes())
	loggedIn := b.sessionCookie(base)
	require.NotNil(t, loggedIn)
	assert.NotEqual(t, anonymous.Value, loggedIn.Value, "login gives the session a new ID")

	// The profile: signed-in time, expiry, remembered or not, the counter.
	signedIn := b.moment("#signed-in")
	assert.WithinRange(t, signedIn, before, after)
	assert.Contains(t, b.text("#signed-in"), "(just now)")
	assert.WithinDuration(t, time.Now().Add(ginsession.DefaultBrowserSessionTimeout), b.moment("#expires"), time.Minute)
	assert.Equal(t, "no: signed out when the browser closes, or after 2 hours without a visit", b.text("#remembered"))
	assert.Equal(t, "3", b.text("#visits"), "the counter survived the login")
	b.screenshot("04-profile")

	b.open(base + "/profile")
	assert.Empty(t, b.flashes(), "a flash is shown once")
	assert.Equal(t, signedIn, b.moment("#signed-in"), "another visit does not move the signed-in time")
	assert.Equal(t, "4", b.text("#visits"))

	b.open(base + "/")
	assert.Equal(t, "Welcome back, Alice.", b.text("#welcome"))
	assert.Equal(t, "Visits in this session: 5", b.text("#visits"))
	b.screenshot("05-home-signed-in")

	resp = b.click(`nav form[action="/logout"] button`)
	assert.Equal(t, http.StatusOK, int(resp.Status))
	assert.Equal(t, "/", b.path())
	assert.Equal(t, []string{"Logged out."}, b.flashes())
	assert.Equal(t, "You are not logged in.", b.text("#welcome"))
	assert.Equal(t, "Visits in this session: 1", b.text("#visits"), "a fresh session")
	b.screenshot("06-after-logout")
	assert.False(t, b.signedIn(base), "the profile wants a login again")
}

func TestBrowserScriptCannotReadTheSessionCookie(t *testing.T) {
	base := startExample(t)
	b := startBrowser(t, t.TempDir())
	b.logIn(base, "alice", "wonderland", false)

	ck := b.sessionCookie(base)
	require.NotNil(t, ck, "the browser holds the session cookie")
	assert.True(t, ck.HTTPOnly)
	assert.Equal(t, network.CookieSameSiteLax, ck.SameSite)

	// A cookie without HttpOnly is visible to script: the check below can
	// see cookies at all.
	eval[string](b, `document.cookie = "probe=visible; path=/"`)
	cookies := eval[string](b, "document.cookie")
	assert.Contains(t, cookies, "probe=visible")
	assert.NotContains(t, cookies, ginsession.DefaultCookieName)
	assert.NotContains(t, cookies, ck.Value)
}

func TestBrowserDevicesPageButtons(t *testing.T) {
	base := startExample(t)
	start := time.Now().Add(-time.Second).Truncate(time.Second)
	laptop := startBrowser(t, t.TempDir())
	phone := startBrowser(t, t.TempDir())
	laptop.logIn(base, "alice", "wonderland", false)
	phone.logIn(base, "alice", "wonderland", true)

	rows := laptop.devices(base)
	require.Len(t, rows, 2)
	assert.Equal(t, []string{"Chrome on Linux", "Chrome on Linux (this device)"}, []string{rows[0].Browser, rows[1].Browser}, "newest first")
	assert.Equal(t, []string{"remembered", "until the browser closes"}, []string{rows[0].Kind, rows[1].Kind})
	for _, r := range rows {
		assert.Equal(t, "127.0.0.1", r.Address)
		signedIn, err := time.Parse(time.RFC3339, r.SignedIn)
		require.NoError(t, err)
		assert.WithinRange(t, signedIn, start, time.Now())
		lastSeen, err := time.Parse(time.RFC3339, r.LastSeen)
		require.NoError(t, err)
		assert.WithinRange(t, lastSeen, signedIn, time.Now())
	}
	laptop.screenshot("07-devices")

	// Sign the phone out from the laptop.
	resp := laptop.click(`#devices tbody tr:not(.current) button`)
	assert.Equal(t, http.StatusOK, int(resp.Status))
	assert.Equal(t, "/devices", laptop.path())
	assert.Equal(t, []string{"Signed that device out."}, laptop.flashes())
	laptop.screenshot("08-devices-signed-one-out")
	assert.Len(t, laptop.devices(base), 1)
	assert.False(t, phone.signedIn(base), "the phone is signed out")

	// An API token, made with the page's button and used as a script would.
	phone.logIn(base, "alice", "wonderland", false)
	laptop.open(base + "/devices")
	resp = laptop.click("#new-token")
	assert.Equal(t, http.StatusOK, int(resp.Status))
	token := laptop.text("#token")
	require.NotEmpty(t, token)
	laptop.screenshot("09-api-token")
	assert.Equal(t, http.StatusOK, callAPI(t, base, token))
	rows = laptop.devices(base)
	require.Len(t, rows, 3)
	assert.Equal(t, "API token", rows[0].Kind)

	// Everywhere else: the phone and the token.
	resp = laptop.click("#signout-others")
	assert.Equal(t, http.StatusOK, int(resp.Status))
	assert.Equal(t, []string{"Signed out 2 other device(s)."}, laptop.flashes())
	laptop.screenshot("10-devices-signed-out-elsewhere")
	rows = laptop.devices(base)
	require.Len(t, rows, 1)
	assert.True(t, rows[0].Current)
	assert.False(t, phone.signedIn(base))
	assert.Equal(t, http.StatusUnauthorized, callAPI(t, base, token))

	// This device's own button logs out.
	laptop.open(base + "/devices")
	resp = laptop.click(`#devices tbody tr.current button`)
	assert.Equal(t, http.StatusOK, int(resp.Status))
	assert.Equal(t, []string{"Logged out."}, laptop.flashes())
	assert.False(t, laptop.signedIn(base))
}

// callAPI asks the example's API who a token belongs to and returns the
// status.
func callAPI(t *testing.T, base, token string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, base+"/api/me", nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if resp.StatusCode == http.StatusOK {
		var me map[string]string
		require.NoError(t, json.Unmarshal(body, &me))
		assert.Equal(t, "alice", me["username"])
	}
	return resp.StatusCode
}

func TestBrowserFormsWithAWrongTokenAreRefused(t *testing.T) {
	base := startExample(t)
	b := startBrowser(t, t.TempDir())
	b.logIn(base, "alice", "wonderland", false)

	for _, tc := range []struct{ name, js, reason string }{
		{"a token of another value", `document.querySelector('nav input[name="csrf_token"]').value = "forged"`, "does not belong to this session"},
		{"no token", `document.querySelector('nav input[name="csrf_token"]').remove()`, "missing CSRF token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b.open(base + "/profile")
			eval[any](b, tc.js+"; null")
			resp := b.click(`nav form[action="/logout"] button`)
			assert.Equal(t, http.StatusForbidden, int(resp.Status))
			assert.Contains(t, b.text("body"), tc.reason)
			assert.True(t, b.signedIn(base), "still signed in")
		})
	}
}

// attackerPage is another site's page that posts a form to the app as soon
// as it loads, in the victim's browser.
const attackerPage = `<!doctype html><title>You won a prize</title>
<form id="f" method="post" action="%s">%s</form>
<script>document.getElementById("f").submit()</script>`

func TestCrossSiteFormPostIsRefused(t *testing.T) {
	base := startExample(t) // on 127.0.0.1
	b := startBrowser(t, t.TempDir())
	b.logIn(base, "alice", "wonderland", false)
	b.open(base + "/profile")
	leaked := eval[string](b, `document.querySelector('nav input[name="csrf_token"]').value`)

	// The attacker's server listens on loopback too, but the browser is
	// sent to it as localhost: another host, so another site than
	// 127.0.0.1, with a cookie jar of its own.
	attacker := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var fields strings.Builder
		for k, vs := range r.URL.Query() {
			if k == "to" {
				continue
			}
			for _, v := range vs {
				fmt.Fprintf(&fields, `<input type="hidden" name="%s" value="%s">`, html.EscapeString(k), html.EscapeString(v))
			}
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, attackerPage, html.EscapeString(base+r.URL.Query().Get("to")), fields.String())
	}))
	defer attacker.Close()
	_, port, err := net.SplitHostPort(attacker.Listener.Addr().String())
	require.NoError(t, err)
	evil := "http://localhost:" + port

	for _, tc := range []struct {
		name string
		to   string
		form url.Values
	}{
		{"log out, no token", "/logout", nil},
		{"sign out everywhere else, a made-up token", "/devices/signout-others", url.Values{"csrf_token": {"forged"}}},
		{"log in as someone else, no token", "/login", url.Values{"username": {"bob"}, "password": {"builder"}}},
		// Even a real token that leaked does not help another site.
		{"log out, the victim's own token", "/logout", url.Values{"csrf_token": {leaked}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := url.Values{"to": {tc.to}}
			for k, v := range tc.form {
				q[k] = v
			}
			b.open(evil + "/?" + q.Encode())
			b.waitForOrigin(base)
			require.Equal(t, tc.to, b.path(), "the app answered the post itself, not with a redirect")
			assert.Equal(t, http.StatusForbidden, b.status(), "the app refused the post")
			assert.Contains(t, b.text("body"), "cross-site request")
			assert.True(t, b.signedIn(base), "still signed in")
			assert.Equal(t, "Hello, Alice", b.text("#greeting"), "as herself")
		})
	}
}

// waitForOrigin waits until the tab shows a page of origin, fully loaded:
// where an auto-submitting form leads.
func (b *browser) waitForOrigin(origin string) {
	b.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		// A navigation in progress can make an evaluation fail: try again.
		here, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](`document.readyState === "complete" ? location.origin : ""`))
		if err == nil && here == origin {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("the tab did not reach %s within 10s: at %q, %v", origin, here, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Chromium's "On startup" setting (the profile's session.restore_on_startup
// preference): what a restarted browser opens, and whether it brings back
// the cookies that were to last only as long as the browser.
const (
	startWithNewTab  = 5 // "Open the New Tab page", the default
	continueLastTime = 1 // "Continue where you left off"
)

// setOnStartup writes a profile's startup setting before its first run.
func setOnStartup(t *testing.T, profile string, setting int) {
	t.Helper()
	prefs, err := json.Marshal(map[string]any{"session": map[string]any{"restore_on_startup": setting}})
	require.NoError(t, err)
	require.NoError(t, os.MkdirAll(filepath.Join(profile, "Default"), 0o700))
	require.NoError(t, os.WriteFile(filepath.Join(profile, "Default", "Preferences"), prefs, 0o600))
}

func TestBrowserRestartKeepsOnlyARememberedSession(t *testing.T) {
	base := startExample(t)
	for _, tc := range []struct {
		name      string
		remember  bool
		onStartup int
		kept      bool
	}{
		{"remembered", true, startWithNewTab, true},
		{"not remembered", false, startWithNewTab, false},
		// A browser that restores its last session restores its session
		// cookies too (Chromium keeps them in the profile, and deletes them
		// at start-up only when it does not restore): unticking the box
		// then ends the session only through the server's own timeout for
		// browser sessions (WithBrowserSessionTimeout, two hours idle).
		{"not remembered, browser continues where it left off", false, continueLastTime, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			profile := t.TempDir()
			setOnStartup(t, profile, tc.onStartup)
			first := startBrowser(t, profile)
			if tc.remember {
				first.logIn(base, "alice", "wonderland", true)
			} else {
				// Tick the box, change one's mind, untick it.
				first.fillLogin(base, "alice", "wonderland", true)
				first.clickNoNav(`input[name="remember"]`)
				require.False(t, first.checked(`input[name="remember"]`))
				first.click(`#login button[type="submit"]`)
				require.Equal(t, "/profile", first.path())
			}
			ck := first.sessionCookie(base)
			require.NotNil(t, ck)
			assert.Equal(t, !tc.remember, ck.Session, "a persistent cookie only when remembered")
			if tc.remember {
				assert.InDelta(t, time.Now().Add(ginsession.DefaultRememberTimeout).Unix(), ck.Expires, 60)
			}
			// Closing the browser gracefully makes it write its cookie
			// store to the profile, and it exits.
			first.close()

			second := startBrowser(t, profile)
			restored := second.sessionCookie(base)
			if !tc.kept {
				assert.Nil(t, restored, "a cookie without Max-Age does not outlive the browser")
				assert.False(t, second.signedIn(base), "signed out after the restart")
				return
			}
			require.NotNil(t, restored, "the profile kept the cookie")
			assert.Equal(t, ck.Value, restored.Value)
			assert.True(t, second.signedIn(base), "still signed in after the restart")
			assert.Equal(t, "Hello, Alice", second.text("#greeting"))
			if tc.remember {
				assert.Equal(t, "yes: this browser stays signed in, also after it closes, until 30 days pass without a visit", second.text("#remembered"))
			} else {
				assert.Equal(t, "no: signed out when the browser closes, or after 2 hours without a visit", second.text("#remembered"))
				assert.WithinDuration(t, time.Now().Add(ginsession.DefaultBrowserSessionTimeout), second.moment("#expires"), time.Minute,
					"the server still ends it after two idle hours")
			}
		})
	}
}

func TestBrowserCookieSetBackAfterLogoutDoesNotLogIn(t *testing.T) {
	base := startExample(t)
	b := startBrowser(t, t.TempDir())
	b.logIn(base, "alice", "wonderland", true)
	old := b.sessionCookie(base)
	require.NotNil(t, old)

	b.open(base + "/profile")
	b.click(`nav form[action="/logout"] button`)
	require.Equal(t, []string{"Logged out."}, b.flashes())
	now := b.sessionCookie(base)
	require.NotNil(t, now, "logging out leaves an anonymous session for the flash")
	require.NotEqual(t, old.Value, now.Value)

	httpOnly := true
	_, err := chromedp.Call(b.ctx, network.SetCookie, network.SetCookieParams{
		Name: ginsession.DefaultCookieName, Value: old.Value, URL: base + "/", Path: "/", HTTPOnly: &httpOnly,
	})
	require.NoError(t, err)
	require.Equal(t, old.Value, b.sessionCookie(base).Value, "the browser sends the old cookie again")

	assert.False(t, b.signedIn(base), "the old cookie is no login")
	assert.NotContains(t, eval[string](b, "document.body.innerText"), "Hello, Alice")
	assert.Equal(t, []string{"Log in to see your profile."}, b.flashes())
	b.screenshot("11-login-required")
}
