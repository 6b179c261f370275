package main

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
)

// The behaviour of the login app over HTTP, the same before and after the
// migration: this file does not know which session library serves it. The
// sessions live in a real SQLite file.

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	db, err := gorm.Open(sqlite.Open(filepath.Join(t.TempDir(), "login.db")), &gorm.Config{})
	require.NoError(t, err)
	srv := httptest.NewServer(newRouter(db))
	t.Cleanup(srv.Close)
	return srv
}

func newBrowser(t *testing.T) *http.Client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &http.Client{Jar: jar}
}

// page is what a request ended on, after any redirects.
type page struct {
	status    int
	path      string
	body      string
	setCookie []*http.Cookie // of the first response, before a redirect
}

func visit(t *testing.T, client *http.Client, method, target string, form url.Values) page {
	t.Helper()
	var first *http.Response
	c := *client
	c.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if first == nil {
			first = req.Response
		}
		return nil
	}
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = c.PostForm(target, form)
	} else {
		resp, err = c.Get(target)
	}
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if first == nil {
		first = resp
	}
	return page{status: resp.StatusCode, path: resp.Request.URL.Path, body: string(body), setCookie: first.Cookies()}
}

type me struct {
	User    string
	Flashes []string
}

func readMe(t *testing.T, p page) me {
	t.Helper()
	require.Equal(t, http.StatusOK, p.status, p.body)
	var m me
	require.NoError(t, json.Unmarshal([]byte(p.body), &m), p.body)
	return m
}

func login(t *testing.T, client *http.Client, srv *httptest.Server, form url.Values) page {
	t.Helper()
	return visit(t, client, http.MethodPost, srv.URL+"/login", form)
}

func sessionCookie(t *testing.T, p page) *http.Cookie {
	t.Helper()
	for _, c := range p.setCookie {
		if c.Name == "mysession" {
			return c
		}
	}
	require.Failf(t, "no session cookie", "Set-Cookie: %v", p.setCookie)
	return nil
}

func TestLoginShowsTheWelcomeOnce(t *testing.T) {
	srv := newServer(t)
	alice := newBrowser(t)

	p := login(t, alice, srv, url.Values{"user": {"alice"}, "password": {"wonderland"}})
	assert.Equal(t, "/me", p.path)
	assert.Equal(t, me{User: "alice", Flashes: []string{"welcome, alice"}}, readMe(t, p))

	again := readMe(t, visit(t, alice, http.MethodGet, srv.URL+"/me", nil))
	assert.Equal(t, me{User: "alice"}, again, "a flash is shown once")

	p = visit(t, newBrowser(t), http.MethodGet, srv.URL+"/me", nil)
	assert.Equal(t, http.StatusUnauthorized, p.status, "another browser is not signed in")
}

func TestWrongPasswordFlashesAnError(t *testing.T) {
	srv := newServer(t)
	mallory := newBrowser(t)

	p := login(t, mallory, srv, url.Values{"user": {"alice"}, "password": {"guess"}})
	assert.Equal(t, "/login", p.path)
	assert.JSONEq(t, `{"flashes": ["wrong user or password"]}`, p.body)
	p = visit(t, mallory, http.MethodGet, srv.URL+"/login", nil)
	assert.JSONEq(t, `{"flashes": null}`, p.body, "the error is shown once")

	p = visit(t, mallory, http.MethodGet, srv.URL+"/me", nil)
	assert.Equal(t, http.StatusUnauthorized, p.status)
}

func TestRememberMeKeepsTheCookieForAWeek(t *testing.T) {
	srv := newServer(t)

	p := login(t, newBrowser(t), srv, url.Values{"user": {"alice"}, "password": {"wonderland"}, "remember": {"on"}})
	week := sessionCookie(t, p).MaxAge
	assert.InDelta(t, 7*24*3600, week, 5, "remembered: Max-Age %d", week)

	p = login(t, newBrowser(t), srv, url.Values{"user": {"bob"}, "password": {"wonderland"}})
	hour := sessionCookie(t, p).MaxAge
	assert.InDelta(t, 3600, hour, 5, "not remembered: the store's hour, Max-Age %d", hour)
}

func TestLogoutEndsTheSession(t *testing.T) {
	srv := newServer(t)
	alice := newBrowser(t)
	p := login(t, alice, srv, url.Values{"user": {"alice"}, "password": {"wonderland"}})
	stolen := sessionCookie(t, p)

	p = visit(t, alice, http.MethodPost, srv.URL+"/logout", nil)
	assert.Equal(t, "/login", p.path)
	expired := sessionCookie(t, p)
	assert.Negative(t, expired.MaxAge, "the logout expires the cookie")

	p = visit(t, alice, http.MethodGet, srv.URL+"/me", nil)
	assert.Equal(t, http.StatusUnauthorized, p.status, "signed out")

	// The cookie from before the logout no longer signs anyone in: the
	// session is gone from the database, not only from the browser.
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/me", nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: stolen.Name, Value: stolen.Value})
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the old cookie after logout")
}
