package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
)

type browser struct {
	t   *testing.T
	srv *httptest.Server
	hc  *http.Client
}

func (b *browser) do(method, path string, form url.Values) (int, string) {
	b.t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = b.hc.PostForm(b.srv.URL+path, form)
	} else {
		resp, err = b.hc.Get(b.srv.URL + path)
	}
	require.NoError(b.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(b.t, err)
	return resp.StatusCode, string(body)
}

func (b *browser) sessionCookie() *http.Cookie {
	u, _ := url.Parse(b.srv.URL)
	for _, c := range b.hc.Jar.Cookies(u) {
		if c.Name == "session_id" {
			return c
		}
	}
	return nil
}

func newBrowser(t *testing.T, srv *httptest.Server) *browser {
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &browser{t: t, srv: srv, hc: &http.Client{Jar: jar}}
}

func newServer(t *testing.T, db *gorm.DB) *httptest.Server {
	gin.SetMode(gin.TestMode)
	r, err := newRouter(db)
	require.NoError(t, err)
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	return srv
}

func TestWalkthrough(t *testing.T) {
	db, err := openDB(filepath.Join(t.TempDir(), "example.db"))
	require.NoError(t, err)
	srv := newServer(t, db)
	b := newBrowser(t, srv)

	_, body := b.do(http.MethodGet, "/", nil)
	assert.Contains(t, body, "visited this page 1 time.")
	assert.Contains(t, body, "You are not logged in.")
	_, body = b.do(http.MethodGet, "/", nil)
	assert.Contains(t, body, "visited this page 2 times.")

	_, body = b.do(http.MethodGet, "/profile", nil)
	assert.Contains(t, body, "Log in to see your profile.", "redirected to the login page with a flash")
	assert.Contains(t, body, `<form method="post" action="/login">`)

	status, body := b.do(http.MethodPost, "/login", url.Values{"username": {""}})
	assert.Equal(t, http.StatusBadRequest, status)
	assert.Contains(t, body, "Enter a name")

	before := b.sessionCookie().Value
	status, body = b.do(http.MethodPost, "/login", url.Values{"username": {"Alice"}})
	assert.Equal(t, http.StatusOK, status)
	assert.Contains(t, body, "Hello, Alice")
	assert.Contains(t, body, "Logged in as Alice")
	after := b.sessionCookie().Value
	assert.NotEqual(t, before, after, "login renews the ID")

	_, body = b.do(http.MethodGet, "/profile", nil)
	assert.NotContains(t, body, "Logged in as Alice", "a flash is shown once")
	_, body = b.do(http.MethodGet, "/", nil)
	assert.Contains(t, body, "Welcome back, Alice.")
	assert.Contains(t, body, "visited this page 3 times.", "the counter survived the login")

	_, body = b.do(http.MethodPost, "/logout", nil)
	assert.Contains(t, body, "Logged out.")
	assert.Contains(t, body, "You are not logged in.")
	assert.Contains(t, body, "visited this page 1 time.")

	thief := newBrowser(t, srv)
	u, _ := url.Parse(srv.URL)
	thief.hc.Jar.SetCookies(u, []*http.Cookie{{Name: "session_id", Value: after, Path: "/"}})
	_, body = thief.do(http.MethodGet, "/profile", nil)
	assert.Contains(t, body, "Log in to see your profile.", "the logged-out cookie no longer works")
}

var handleRE = regexp.MustCompile(`(?s)<tr( class="current")?>\s*<td>.*?name="handle" value="([0-9a-f]{64})"`)

// handles returns the devices page's handles, the current browser's first.
func (b *browser) handles() (current string, others []string) {
	b.t.Helper()
	status, body := b.do(http.MethodGet, "/devices", nil)
	require.Equal(b.t, http.StatusOK, status)
	for _, m := range handleRE.FindAllStringSubmatch(body, -1) {
		if m[1] != "" {
			current = m[2]
		} else {
			others = append(others, m[2])
		}
	}
	return current, others
}

func TestDevicesPage(t *testing.T) {
	db, err := openDB(filepath.Join(t.TempDir(), "example.db"))
	require.NoError(t, err)
	srv := newServer(t, db)
	laptop, phone, tablet, bob := newBrowser(t, srv), newBrowser(t, srv), newBrowser(t, srv), newBrowser(t, srv)
	for _, b := range []*browser{laptop, phone, tablet} {
		b.do(http.MethodPost, "/login", url.Values{"username": {"Alice"}})
	}
	bob.do(http.MethodPost, "/login", url.Values{"username": {"Bob"}})

	_, body := laptop.do(http.MethodGet, "/devices", nil)
	assert.Contains(t, body, "(this browser)")
	assert.Contains(t, body, "127.0.0.1")
	assert.Contains(t, body, "Go-http-client")
	current, others := laptop.handles()
	require.NotEmpty(t, current)
	require.Len(t, others, 2, "Alice's other browsers, not Bob's")

	bobCurrent, _ := bob.handles()
	status, _ := laptop.do(http.MethodPost, "/devices/signout", url.Values{"handle": {bobCurrent}})
	assert.Equal(t, http.StatusForbidden, status, "Bob's session is not Alice's to sign out")
	_, body = bob.do(http.MethodGet, "/profile", nil)
	assert.Contains(t, body, "Hello, Bob")

	phoneHandle, phoneOthers := phone.handles()
	_, body = laptop.do(http.MethodPost, "/devices/signout", url.Values{"handle": {phoneHandle}})
	assert.Contains(t, body, "Signed that browser out.")
	assert.Len(t, phoneOthers, 2)
	_, body = phone.do(http.MethodGet, "/profile", nil)
	assert.Contains(t, body, "Log in to see your profile.", "the phone is signed out")

	_, body = laptop.do(http.MethodPost, "/devices/signout-others", nil)
	assert.Contains(t, body, "Signed out 1 other browser(s).")
	_, body = tablet.do(http.MethodGet, "/profile", nil)
	assert.Contains(t, body, "Log in to see your profile.")
	_, others = laptop.handles()
	assert.Empty(t, others)
	_, body = laptop.do(http.MethodGet, "/profile", nil)
	assert.Contains(t, body, "Hello, Alice")
}
