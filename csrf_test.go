package ginsession

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// csrfRoutes put CSRF in front of a form page and a state-changing route.
func csrfRoutes(trusted ...string) func(r *gin.Engine) {
	return func(r *gin.Engine) {
		r.Use(CSRF(trusted...))
		basicRoutes(r)
		r.GET("/form", func(c *gin.Context) { c.String(http.StatusOK, Default(c).CSRFToken()) })
		r.GET("/signin", func(c *gin.Context) {
			s := Default(c)
			s.Login(c.Query("u"))
			// A page rendered by the sign-in request itself carries the
			// new ID's token.
			c.String(http.StatusOK, s.CSRFToken())
		})
		change := func(c *gin.Context) {
			Default(c).Set("amount", c.PostForm("amount")+c.Query("amount"))
			c.String(http.StatusOK, "done")
		}
		for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
			r.Handle(m, "/transfer", change)
		}
	}
}

func (c *client) formToken() string {
	c.t.Helper()
	resp := c.get("/form")
	require.Equal(c.t, http.StatusOK, resp.StatusCode)
	require.NotEmpty(c.t, resp.body)
	return resp.body
}

func (c *client) post(path string, form url.Values, header http.Header) response {
	c.t.Helper()
	return c.send(http.MethodPost, path, form, header)
}

func TestCSRFTokensAreMaskedAnewAndAllValidForTheSession(t *testing.T) {
	a := newApp(t, csrfRoutes())
	cl := a.client()
	first := cl.get("/form")
	assert.Empty(t, first.stmts, "a new visitor's form page costs the table nothing")
	assert.Nil(t, first.sessionCookie(), "and starts no session")
	require.True(t, slices.ContainsFunc(first.Cookies(), func(ck *http.Cookie) bool { return ck.Name == DefaultCookieName+"_csrf" }),
		"the visitor's secret comes from a cookie of its own")
	second := cl.formToken()
	assert.NotEqual(t, first.body, second, "masked differently on every call (BREACH)")

	for _, token := range []string{first.body, second} {
		resp := cl.post("/transfer", url.Values{CSRFField: {token}, "amount": {"5"}}, nil)
		assert.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	}
	resp := cl.send(http.MethodDelete, "/transfer?amount=7", nil, http.Header{CSRFHeader: {second}})
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the header works for JavaScript")
	assert.Equal(t, "7", cl.get("/get?k=amount").body)
}

func TestCSRFRefusesUnsafeRequestsWithoutTheSessionsToken(t *testing.T) {
	a := newApp(t, csrfRoutes())
	victim := a.client()
	token := victim.formToken()
	other := a.client()
	othersToken := other.formToken()
	stranger := a.client() // no session at all

	for _, tc := range []struct {
		name   string
		cl     *client
		method string
		form   url.Values
		header http.Header
		reason string
	}{
		{"no token", victim, http.MethodPost, url.Values{"amount": {"1"}}, nil, "missing CSRF token"},
		{"another session's token", victim, http.MethodPost, url.Values{CSRFField: {othersToken}}, nil, "does not belong to this session"},
		{"a truncated token", victim, http.MethodPost, url.Values{CSRFField: {token[:40]}}, nil, "does not belong to this session"},
		{"a token with a flipped byte", victim, http.MethodPost, url.Values{CSRFField: {flip(token)}}, nil, "does not belong to this session"},
		{"no session", stranger, http.MethodPost, url.Values{CSRFField: {token}}, nil, "no session"},
		{"PUT without a token", victim, http.MethodPut, nil, nil, "missing CSRF token"},
		{"PATCH with a wrong header", victim, http.MethodPatch, nil, http.Header{CSRFHeader: {othersToken}}, "does not belong"},
		{"DELETE without a token", victim, http.MethodDelete, nil, nil, "missing CSRF token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := tc.cl.send(tc.method, "/transfer?amount=9", tc.form, tc.header)
			assert.Equal(t, http.StatusForbidden, resp.StatusCode)
			assert.Contains(t, resp.body, tc.reason)
			errs := a.errors()
			require.NotEmpty(t, errs)
			assert.Contains(t, errs[len(errs)-1], ErrCSRF.Error())
		})
	}
	assert.Equal(t, http.StatusNotFound, victim.get("/get?k=amount").StatusCode, "no refused request changed anything")
	assert.Empty(t, stranger.cookie(), "a refused stranger got no session")
}

func flip(token string) string {
	b := []byte(token)
	if b[10] == 'A' {
		b[10] = 'B'
	} else {
		b[10] = 'A'
	}
	return string(b)
}

func TestCSRFChecksOriginAndSecFetchSite(t *testing.T) {
	a := newApp(t, csrfRoutes("https://admin.example.test"))
	cl := a.client()
	token := cl.formToken()
	self := strings.TrimPrefix(a.srv.URL, "http://")
	for _, tc := range []struct {
		header http.Header
		ok     bool
		reason string
	}{
		{http.Header{"Origin": {"http://" + self}}, true, ""},
		{http.Header{"Origin": {"https://admin.example.test"}}, true, ""},
		{http.Header{"Sec-Fetch-Site": {"same-origin"}}, true, ""},
		{http.Header{"Origin": {"https://evil.example.test"}}, false, "another origin"},
		{http.Header{"Origin": {"null"}}, false, "opaque or malformed origin"},
		{http.Header{"Sec-Fetch-Site": {"cross-site"}}, false, "cross-site request"},
		{http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"http://" + self}}, false, "cross-site request"},
		// A trusted partner on another site is what trustedOrigins is for.
		{http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://admin.example.test"}}, true, ""},
		{http.Header{"Sec-Fetch-Site": {"same-site"}, "Origin": {"https://sub.example.test"}}, false, "another origin"},
	} {
		resp := cl.post("/transfer", url.Values{CSRFField: {token}}, tc.header)
		if tc.ok {
			assert.Equal(t, http.StatusOK, resp.StatusCode, "%v: %s", tc.header, resp.body)
		} else {
			assert.Equal(t, http.StatusForbidden, resp.StatusCode, "%v", tc.header)
			assert.Contains(t, resp.body, tc.reason, "%v", tc.header)
		}
	}
}

func TestLoginRotatesTheCSRFToken(t *testing.T) {
	a := newApp(t, csrfRoutes())
	cl := a.client()
	before := cl.formToken()
	resp := cl.get("/signin?u=alice")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	after := resp.body

	refused := cl.post("/transfer", url.Values{CSRFField: {before}}, nil)
	assert.Equal(t, http.StatusForbidden, refused.StatusCode, "a token from before sign-in is dead")
	ok := cl.post("/transfer", url.Values{CSRFField: {after}}, nil)
	assert.Equal(t, http.StatusOK, ok.StatusCode, "the sign-in page's own token is the new ID's: %s", ok.body)

	renewed := cl.get("/renew")
	require.Equal(t, http.StatusOK, renewed.StatusCode)
	assert.Equal(t, http.StatusForbidden, cl.post("/transfer", url.Values{CSRFField: {after}}, nil).StatusCode,
		"RenewID rotates it too")
}

func TestCSRFCostsNothingForSafeMethodsAndVisitorsWithoutASession(t *testing.T) {
	a := newApp(t, csrfRoutes())
	cl := a.client()
	resp := cl.get("/none")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Empty(t, resp.stmts, "a GET is not checked")
	assert.Nil(t, resp.sessionCookie())
	resp = cl.send(http.MethodHead, "/none", nil, nil)
	assert.Empty(t, resp.stmts)

	resp = cl.post("/transfer", url.Values{CSRFField: {"x"}}, nil)
	assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	assert.Empty(t, resp.stmts, "no cookie, no query")
	assert.Empty(t, a.rows())
}

func TestCSRFTokenForANewVisitorAfterTheHeadersFailsClosed(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/late", func(c *gin.Context) {
			c.String(http.StatusOK, "form: ")
			s := Default(c)
			c.String(http.StatusOK, "token=%q err=%v", s.CSRFToken(), s.Err())
		})
	})
	resp := a.client().get("/late")
	assert.Contains(t, resp.body, `token="" err=`+ErrCookieNotSent.Error())
	assert.Nil(t, resp.sessionCookie())
	assert.Empty(t, a.rows())
}

// After Login in the same request, the token CSRFToken hands out is the
// valid one, and the old ID's, which die with the save, are not.
func TestValidCSRFTokenAgreesWithCSRFTokenAfterLogin(t *testing.T) {
	var oldForm string
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/form", func(c *gin.Context) { c.String(http.StatusOK, Default(c).CSRFToken()) })
		r.GET("/signin", func(c *gin.Context) {
			s := Default(c)
			s.Login("alice")
			fresh := s.CSRFToken()
			c.String(http.StatusOK, "fresh=%v old=%v", s.ValidCSRFToken(fresh), s.ValidCSRFToken(oldForm))
		})
	})
	cl := a.client()
	oldForm = cl.get("/form").body
	require.NotEmpty(t, oldForm)
	assert.Equal(t, "fresh=true old=false", cl.get("/signin").body)
}
