// Package ginsessiontest lets an application's handler tests start with a
// session already in place, and look inside the session after a response,
// without a browser or a login route: what Django's test client
// (force_login, client.session) and Laravel's actingAs, withSession and
// assertSessionHas do.
//
//	cl := ginsessiontest.New(t, router, store).LoginAs("42", map[string]any{"cart": 3})
//	resp := cl.PostForm("/cart", url.Values{"item": {"tea"}}) // CSRF token added
//	cl.AssertSessionHas("cart", 4)
//
// A Client talks to the application over real HTTP (an httptest.Server
// that the test's Cleanup closes), so the session middleware, CSRF and
// every other middleware run as they do in production, and the session
// lives in the application's own store and table.
package ginsessiontest

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ginsession/ginsession"
	"github.com/stretchr/testify/assert"
)

// A Client is one browser (New) or one API client (NewAPIClient) talking to
// the application under test. It keeps cookies between requests and does
// not follow redirects, so a test sees the 302 or 303 and its Location. Its
// requests may run concurrently; a failed one calls t.Fatalf, which, as
// always, stops only the goroutine that calls it.
//
// The session it carries is kept by the Client itself, not by net/http's
// cookie jar: the test server speaks plain HTTP on 127.0.0.1, where a jar
// would never send a Secure cookie (WithSecure(true), a __Host- name) and
// would refuse one for another domain (WithCookieDomain). The Client sends
// its session cookie whatever its Secure and Domain attributes, but only to
// the test server's host and on the store's cookie path (WithCookiePath), as
// a browser would. Other cookies go through an ordinary jar. A Client talks
// to the application under test only: a request for another host fails the
// test before it leaves.
type Client struct {
	t    testing.TB
	st   *ginsession.Store
	srv  *httptest.Server
	base *url.URL // srv.URL
	hc   *http.Client
	jar  *sessionJar
	api  bool // the session travels in st.TokenHeader(), not in a cookie
}

// New starts the handler h, usually the application's *gin.Engine with
// st.Handler() installed, on a test server closed when the test ends, and
// returns a Client without a session, like a browser's first visit.
func New(t testing.TB, h http.Handler, st *ginsession.Store) *Client {
	t.Helper()
	return newClient(t, h, st, false)
}

// NewAPIClient is New for an API client: the session travels in the
// store's token header (ginsession.WithTokenHeader; "Authorization: Bearer
// <token>" for Authorization) instead of a cookie, and a session cookie a
// response sets is dropped. It fails the test when the store takes no token
// header.
func NewAPIClient(t testing.TB, h http.Handler, st *ginsession.Store) *Client {
	t.Helper()
	if st != nil && st.TokenHeader() == "" {
		t.Fatalf("ginsessiontest: NewAPIClient needs a store made with ginsession.WithTokenHeader(\"Authorization\") (or another header name); this one takes cookies only")
	}
	return newClient(t, h, st, true)
}

func newClient(t testing.TB, h http.Handler, st *ginsession.Store, api bool) *Client {
	t.Helper()
	if h == nil || st == nil {
		t.Fatalf("ginsessiontest: New needs the application's handler and its *ginsession.Store, got handler %v and store %v", h, st)
	}
	others, err := cookiejar.New(nil)
	if err != nil {
		t.Fatalf("ginsessiontest: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	path := st.SessionCookie("").Path
	if path == "" {
		path = "/"
	}
	base, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatalf("ginsessiontest: %v", err)
	}
	jar := &sessionJar{others: others, host: base.Hostname(), name: st.CookieName(), path: path, api: api}
	hc := srv.Client()
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{t: t, st: st, srv: srv, base: base, hc: hc, jar: jar, api: api}
}

// LoginAs makes the client carry a new session signed in as userID and
// holding values (nil for none), as if it had just logged in, and returns
// the client for chaining. It replaces any session the client carried (that
// one stays in the table). A value the store's codec cannot encode fails
// the test.
func (c *Client) LoginAs(userID string, values map[string]any) *Client {
	c.t.Helper()
	if userID == "" {
		c.t.Fatalf("ginsessiontest: LoginAs needs a user ID; use WithSession for an anonymous session")
	}
	return c.StartSession(ginsession.Seed{UserID: userID, Values: values})
}

// WithSession makes the client carry a new anonymous session holding
// values, and returns the client for chaining. Like LoginAs, it replaces
// any session the client carried and fails the test on a value the codec
// cannot encode.
func (c *Client) WithSession(values map[string]any) *Client {
	c.t.Helper()
	return c.StartSession(ginsession.Seed{Values: values})
}

// StartSession makes the client carry a new session described by seed
// (user, values, flashes, remember-me), for what LoginAs and WithSession do
// not cover, and returns the client for chaining. seed.Header is set to
// match the client: true for NewAPIClient, false for New.
func (c *Client) StartSession(seed ginsession.Seed) *Client {
	c.t.Helper()
	seed.Header = c.api
	token, err := c.st.NewSession(context.Background(), seed)
	if err != nil {
		c.t.Fatalf("ginsessiontest: cannot create the session: %v", err)
	}
	c.jar.setToken(token)
	return c
}

// UseToken makes the client carry token as its session, for instance one
// the application handed an API client with Session.IssueToken, and returns
// the client for chaining. "" drops the session.
func (c *Client) UseToken(token string) *Client {
	c.jar.setToken(token)
	return c
}

// Token returns the token of the session the client carries: the cookie's
// value, or what the API client sends in the token header. It is "" when
// the client has none. A browser client's follows the responses' cookies (a
// Login or RenewID gives a new one, a Destroy leaves ""); an API client's
// changes only with UseToken, as a real one's does: hand it what the
// application's login response returns.
func (c *Client) Token() string { return c.jar.getToken() }

// URL returns the test server's base URL, such as "http://127.0.0.1:41234".
func (c *Client) URL() string { return c.srv.URL }

// Session returns a read-only view of the session the client now carries,
// as its next request would find it: after the last response's cookie (a
// Login's new ID, a Destroy's expired cookie), and with what the handlers
// saved. Get, ginsession.Get[T], Keys, Has, UserID, IsNew, Expiry and
// CSRFToken work on it; changes are ignored. Without a live session its
// IsNew is true, as it is for a token of the other kind (a header session's
// token carried by a browser client), which the application does not
// accept either. A database error fails the test.
func (c *Client) Session() *ginsession.Session {
	c.t.Helper()
	s, err := c.st.ReadSession(context.Background(), c.Token())
	if err == nil && !s.IsNew() && s.IsHeader() != c.api {
		s, err = c.st.ReadSession(context.Background(), "")
	}
	if err != nil {
		c.t.Fatalf("ginsessiontest: cannot read the session: %v", err)
	}
	return s
}

// Get requests path (with its query, if any) and returns the response.
func (c *Client) Get(path string) *Response {
	c.t.Helper()
	return c.Do(c.newRequest(http.MethodGet, path, nil))
}

// PostForm posts form to path, URL-encoded, as a browser submits an HTML
// form. When the client carries a cookie session (or a visitor's anonymous
// CSRF cookie, from a page that rendered a CSRF token) and form has no
// ginsession.CSRFField, it adds one with the session's CSRF token, so that
// routes behind ginsession.CSRF() accept it; form itself is not modified.
func (c *Client) PostForm(path string, form url.Values) *Response {
	c.t.Helper()
	if _, given := form[ginsession.CSRFField]; !given && !c.api {
		if token := c.csrfToken(); token != "" {
			form = cloneValues(form)
			form.Set(ginsession.CSRFField, token)
		}
	}
	return c.PostFormWithoutCSRF(path, form)
}

// csrfToken is a CSRF token of the client's cookie session, or of its
// anonymous CSRF cookie when it has no session yet; "" when neither.
func (c *Client) csrfToken() string {
	if c.Token() != "" {
		return c.Session().CSRFToken()
	}
	for _, ck := range c.jar.others.Cookies(c.base) {
		if ck.Name == c.st.CSRFCookieName() {
			s, err := c.st.ReadSession(context.Background(), ck.Value)
			if err != nil {
				c.t.Fatalf("ginsessiontest: cannot read the session: %v", err)
			}
			return s.CSRFToken()
		}
	}
	return ""
}

// PostFormWithoutCSRF is PostForm without the CSRF token, for testing that
// a route refuses a forged form.
func (c *Client) PostFormWithoutCSRF(path string, form url.Values) *Response {
	c.t.Helper()
	req := c.newRequest(http.MethodPost, path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return c.Do(req)
}

// Do sends req, consuming its body, and returns the response. A URL
// without a host, as http.NewRequest("PUT", "/api/cart", body) or
// httptest.NewRequest make, goes to the test server; a URL naming any other
// scheme or host (another port included) fails the test without sending
// anything, since the Client stands for a user of the application under
// test and carries that user's session. Cookies come from and
// go to the client's jar; an API client adds its token header unless req
// already has that header. Do adds no CSRF token: for a cookie session's
// JSON request, set req.Header.Set(ginsession.CSRFHeader,
// c.Session().CSRFToken()). A transport error fails the test.
func (c *Client) Do(req *http.Request) *Response {
	c.t.Helper()
	req = req.Clone(req.Context())
	req.RequestURI = "" // set by httptest.NewRequest, refused by a client
	if req.URL.Host == "" {
		req.URL = c.base.ResolveReference(req.URL)
		req.Host = ""
	}
	if req.URL.Scheme != c.base.Scheme || !strings.EqualFold(req.URL.Host, c.base.Host) {
		c.t.Fatalf("ginsessiontest: %s %s: the Client talks only to the application under test, at %s; "+
			"it sends nothing to another host, which would get its session", req.Method, req.URL.Redacted(), c.base)
	}
	if c.api {
		name := c.st.TokenHeader()
		if token := c.Token(); token != "" && req.Header.Get(name) == "" {
			if name == "Authorization" {
				token = "Bearer " + token
			}
			req.Header.Set(name, token)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("ginsessiontest: %s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("ginsessiontest: %s %s: reading the body: %v", req.Method, req.URL.Path, err)
	}
	return &Response{Response: resp, Text: string(body)}
}

func (c *Client) newRequest(method, path string, body io.Reader) *http.Request {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL+path, body)
	if err != nil {
		c.t.Fatalf("ginsessiontest: %s %q: %v", method, path, err)
	}
	return req
}

// A Response is a response with its body already read and closed: use
// Text, not Body.
type Response struct {
	*http.Response
	// Text is the whole body.
	Text string
}

// AssertSessionHas checks that the client's session holds key, with a value
// equal to want once both go through encoding/json: so want 3 matches a
// stored 3 (which Session.Get gives back as float64), and a struct matches
// the object it was stored as. It reports a failure through t.Errorf, as
// testify's assert does, and returns whether the check passed.
func (c *Client) AssertSessionHas(key string, want any) bool {
	c.t.Helper()
	s := c.Session()
	if !s.Has(key) {
		return assert.Fail(c.t, fmt.Sprintf("session has no %q", key), "keys: %q", s.Keys())
	}
	wantJSON, err := json.Marshal(want)
	if err != nil {
		return assert.Fail(c.t, fmt.Sprintf("AssertSessionHas(%q): want does not encode as JSON: %v", key, err))
	}
	gotJSON, err := json.Marshal(s.Get(key))
	if err != nil {
		return assert.Fail(c.t, fmt.Sprintf("AssertSessionHas(%q): stored value does not encode as JSON: %v", key, err))
	}
	return assert.JSONEq(c.t, string(wantJSON), string(gotJSON), "session value of %q", key)
}

// AssertSessionMissing checks that the client's session has no value under
// key (or that the client has no session). It reports a failure through
// t.Errorf and returns whether the check passed.
func (c *Client) AssertSessionMissing(key string) bool {
	c.t.Helper()
	s := c.Session()
	if s.Has(key) {
		return assert.Fail(c.t, fmt.Sprintf("session has %q, want it missing", key), "value: %#v", s.Get(key))
	}
	return true
}

// AssertSignedInAs checks that the client carries a live session bound to
// userID. It reports a failure through t.Errorf and returns whether the
// check passed.
func (c *Client) AssertSignedInAs(userID string) bool {
	c.t.Helper()
	s := c.Session()
	if s.IsNew() {
		return assert.Fail(c.t, fmt.Sprintf("not signed in as %q: the client carries no live session", userID))
	}
	return assert.Equal(c.t, userID, s.UserID(), "signed-in user")
}

// AssertSignedOut checks that the client's session is bound to no user:
// the client carries no live session (a Destroy, an expiry), or an
// anonymous one. It reports a failure through t.Errorf and returns whether
// the check passed.
func (c *Client) AssertSignedOut() bool {
	c.t.Helper()
	if user := c.Session().UserID(); user != "" {
		return assert.Fail(c.t, fmt.Sprintf("signed in as %q, want signed out", user))
	}
	return true
}

func cloneValues(v url.Values) url.Values {
	out := make(url.Values, len(v)+1)
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// sessionJar is the client's cookie jar: the session cookie is kept apart
// (see Client), every other cookie goes to an ordinary jar.
type sessionJar struct {
	others *cookiejar.Jar
	host   string // the test server's host name, the only one the session goes to
	name   string // the session cookie's name
	path   string // and path
	api    bool   // drop session cookies: the token travels in a header

	mu    sync.Mutex
	token string
}

func (j *sessionJar) setToken(token string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.token = token
}

func (j *sessionJar) getToken() string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.token
}

// ownHost reports whether u names the test server's host: a browser sends
// a host-only cookie to that host name on any port, and to no other.
func (j *sessionJar) ownHost(u *url.URL) bool { return strings.EqualFold(u.Hostname(), j.host) }

// SetCookies implements http.CookieJar.
func (j *sessionJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	var rest []*http.Cookie
	for _, ck := range cookies {
		if ck.Name != j.name {
			rest = append(rest, ck)
			continue
		}
		if j.api || !j.ownHost(u) {
			continue
		}
		expired := ck.MaxAge < 0 || ck.Value == "" ||
			(ck.MaxAge == 0 && !ck.Expires.IsZero() && !ck.Expires.After(time.Now()))
		if expired {
			j.setToken("")
		} else {
			j.setToken(ck.Value)
		}
	}
	j.others.SetCookies(u, rest)
}

// Cookies implements http.CookieJar.
func (j *sessionJar) Cookies(u *url.URL) []*http.Cookie {
	cookies := j.others.Cookies(u)
	if token := j.getToken(); token != "" && !j.api && j.ownHost(u) && pathMatch(u.Path, j.path) {
		cookies = append(cookies, &http.Cookie{Name: j.name, Value: token})
	}
	return cookies
}

// pathMatch reports whether a cookie with Path cookiePath goes with a
// request for reqPath (RFC 6265, section 5.1.4).
func pathMatch(reqPath, cookiePath string) bool {
	if reqPath == "" {
		reqPath = "/"
	}
	if !strings.HasPrefix(reqPath, cookiePath) {
		return false
	}
	return len(reqPath) == len(cookiePath) || strings.HasSuffix(cookiePath, "/") || reqPath[len(cookiePath)] == '/'
}
