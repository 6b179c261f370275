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

// The behaviour of the counter over HTTP, the same before and after the
// migration: this file does not know which session library serves it.

func newServer(t *testing.T) *httptest.Server {
	t.Helper()
	db, err := gorm.Open(sqlite.Open(filepath.Join(t.TempDir(), "counter.db")), &gorm.Config{})
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

func call(t *testing.T, client *http.Client, method, target string, form url.Values) (int, string) {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodPost {
		resp, err = client.PostForm(target, form)
	} else {
		resp, err = client.Get(target)
	}
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func count(t *testing.T, client *http.Client, srv *httptest.Server) int {
	t.Helper()
	status, body := call(t, client, http.MethodGet, srv.URL+"/incr", nil)
	require.Equal(t, http.StatusOK, status, body)
	var out struct{ Count int }
	require.NoError(t, json.Unmarshal([]byte(body), &out), body)
	return out.Count
}

func TestCounterCountsEachVisitorsRequests(t *testing.T) {
	srv := newServer(t)
	alice, bob := newBrowser(t), newBrowser(t)

	for want := range 3 {
		assert.Equal(t, want, count(t, alice, srv), "alice's request %d", want+1)
	}
	assert.Equal(t, 0, count(t, bob, srv), "another browser has a count of its own")
	assert.Equal(t, 3, count(t, alice, srv))

	status, _ := call(t, alice, http.MethodPost, srv.URL+"/reset", nil)
	assert.Equal(t, http.StatusNoContent, status)
	assert.Equal(t, 0, count(t, alice, srv), "the count starts again after a reset")
	assert.Equal(t, 1, count(t, bob, srv), "a reset touches only its own session")
}

func TestCounterRemembersTheName(t *testing.T) {
	srv := newServer(t)
	alice := newBrowser(t)

	_, body := call(t, alice, http.MethodGet, srv.URL+"/hello", nil)
	assert.Equal(t, "hello, stranger", body)

	status, _ := call(t, alice, http.MethodPost, srv.URL+"/name", url.Values{"name": {"Alice"}})
	require.Equal(t, http.StatusNoContent, status)
	_, body = call(t, alice, http.MethodGet, srv.URL+"/hello", nil)
	assert.Equal(t, "hello, Alice", body)

	count(t, alice, srv)
	call(t, alice, http.MethodPost, srv.URL+"/reset", nil)
	_, body = call(t, alice, http.MethodGet, srv.URL+"/hello", nil)
	assert.Equal(t, "hello, Alice", body, "a reset of the count keeps the name")

	_, body = call(t, newBrowser(t), http.MethodGet, srv.URL+"/hello", nil)
	assert.Equal(t, "hello, stranger", body, "another browser is not Alice")

	u, err := url.Parse(srv.URL)
	require.NoError(t, err)
	var names []string
	for _, c := range alice.Jar.Cookies(u) {
		names = append(names, c.Name)
	}
	assert.Contains(t, names, "mysession", "the session cookie keeps its name")
}

func TestCounterHealth(t *testing.T) {
	srv := newServer(t)
	status, body := call(t, newBrowser(t), http.MethodGet, srv.URL+"/healthz", nil)
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "ok", body)
}
