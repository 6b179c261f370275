// Package e2e drives the example app with a real Chromium: what a person
// sees, and what the browser does with the session cookie.
//
// It needs Debian's chromium (apt-get install -y chromium) at
// /usr/bin/chromium, or CHROMIUM_PATH naming another binary. Without one the
// tests skip, except under CI, where they fail.
package e2e

import (
	"context"
	"errors"
	"net"
	"net/http"
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

// screenshotEnv names a file that receives a PNG of the profile page, for a
// person to look at; unset, no screenshot is written.
const screenshotEnv = "E2E_SCREENSHOT"

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

// startExample runs the example app on a free loopback port with its
// database in a temporary directory, and returns its base URL once it
// answers.
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

// click clicks the first element matching css and waits for the page it
// leads to.
func (b *browser) click(css string) {
	b.t.Helper()
	_, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(css)))
	require.NoError(b.t, err, "click %s", css)
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

// flashes returns the flash messages the page shows.
func (b *browser) flashes() []string {
	b.t.Helper()
	return eval[[]string](b, `Array.from(document.querySelectorAll(".flash"), e => e.textContent.trim())`)
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

// logIn submits the login form as name and waits for the profile page.
func (b *browser) logIn(base, name string) {
	b.t.Helper()
	b.open(base + "/login")
	require.NoError(b.t, chromedp.Do(b.ctx, chromedp.SetValue(chromedp.CSS(`input[name="username"]`), name)))
	b.click(`form[action="/login"] button[type="submit"]`)
	require.Equal(b.t, "/profile", b.path(), "login redirects to the profile")
}

func TestBrowserLogsInShowsFlashOnceCountsVisitsAndLogsOut(t *testing.T) {
	base := startExample(t)
	b := startBrowser(t, t.TempDir())

	b.open(base + "/")
	assert.Equal(t, "You have visited this page 1 time.", b.text("#visits"))
	b.open(base + "/")
	assert.Equal(t, "You have visited this page 2 times.", b.text("#visits"))
	anonymous := b.sessionCookie(base)
	require.NotNil(t, anonymous, "the counter started a session")

	b.logIn(base, "Alice")
	assert.Equal(t, "Hello, Alice", b.text("#greeting"))
	assert.Equal(t, []string{"Logged in as Alice"}, b.flashes())
	loggedIn := b.sessionCookie(base)
	require.NotNil(t, loggedIn)
	assert.NotEqual(t, anonymous.Value, loggedIn.Value, "login gives the session a new ID")

	b.open(base + "/profile")
	assert.Equal(t, "Hello, Alice", b.text("#greeting"))
	assert.Empty(t, b.flashes(), "a flash is shown once")
	if path := os.Getenv(screenshotEnv); path != "" {
		png, err := chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(path, png, 0o644))
	}

	b.open(base + "/")
	assert.Equal(t, "Welcome back, Alice.", b.text("h1 + p"))
	assert.Equal(t, "You have visited this page 3 times.", b.text("#visits"), "the counter survived the login")

	b.click(`nav form[action="/logout"] button`)
	assert.Equal(t, "/", b.path())
	assert.Equal(t, []string{"Logged out."}, b.flashes())
	assert.Equal(t, "You are not logged in.", b.text("h1 + p"))
	assert.Equal(t, "You have visited this page 1 time.", b.text("#visits"), "a fresh session")
	b.open(base + "/profile")
	assert.Equal(t, "/login", b.path(), "the profile wants a login again")
}

func TestBrowserScriptCannotReadTheSessionCookie(t *testing.T) {
	base := startExample(t)
	b := startBrowser(t, t.TempDir())
	b.logIn(base, "Alice")

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

func TestBrowserKeepsAPersistentSessionAcrossARestart(t *testing.T) {
	base := startExample(t)
	profile := t.TempDir()

	first := startBrowser(t, profile)
	first.logIn(base, "Alice")
	ck := first.sessionCookie(base)
	require.NotNil(t, ck)
	assert.False(t, ck.Session, "a persistent cookie, with an expiry")
	first.close()

	second := startBrowser(t, profile)
	restored := second.sessionCookie(base)
	require.NotNil(t, restored, "the profile kept the cookie")
	assert.Equal(t, ck.Value, restored.Value)
	second.open(base + "/profile")
	assert.Equal(t, "/profile", second.path())
	assert.Equal(t, "Hello, Alice", second.text("#greeting"))
}

func TestBrowserCookieSetBackAfterLogoutDoesNotLogIn(t *testing.T) {
	base := startExample(t)
	b := startBrowser(t, t.TempDir())
	b.logIn(base, "Alice")
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

	b.open(base + "/profile")
	assert.Equal(t, "/login", b.path(), "the old cookie is no login")
	assert.NotContains(t, eval[string](b, "document.body.innerText"), "Hello, Alice")
	assert.Equal(t, []string{"Log in to see your profile."}, b.flashes())
}
