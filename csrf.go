package ginsession

import (
	"bufio"
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/gin-gonic/gin"
)

// Where CSRF looks for the token of an unsafe request.
const (
	// CSRFHeader is the request header that carries the token, for
	// JavaScript's fetch and XMLHttpRequest.
	CSRFHeader = "X-CSRF-Token"
	// CSRFField is the form field that carries the token, for HTML forms.
	CSRFField = "csrf_token"
)

// csrfSecretLen is the length of a session's CSRF secret, and of the mask.
const csrfSecretLen = sha256.Size

// csrfSecret derives a session's CSRF secret from its token. The token is
// known only to the browser and the request, so the secret needs no column
// and no write, and it changes whenever the ID does (Login, RenewID).
func csrfSecret(token string) []byte {
	mac := hmac.New(sha256.New, []byte(token))
	mac.Write([]byte("ginsession csrf v1"))
	return mac.Sum(nil)
}

// CSRFToken returns a token to put in this session's forms (as the
// CSRFField field) and in JavaScript's unsafe requests (as the CSRFHeader
// header), for CSRF to check. Each call returns a different string, the
// secret masked with fresh random bytes, so a compressed page that echoes
// attacker-chosen text next to it does not leak it (BREACH); all of them
// stay valid until the session's ID changes.
//
// A visitor without a session costs the table nothing: its secret comes
// from a cookie of its own (the session cookie's name with "_csrf"), set by
// the response that first needs it, so call CSRFToken before the response
// is written (after the headers went out it returns "" and fails the
// session with ErrCookieNotSent). Its tokens stay valid once the visitor's
// session gets a row (a cart), until a sign-in: Login, like RenewID, gives
// the session a new secret, and a page rendered by that request already
// carries it. A header session has none: it returns "", and CSRF does not
// check header requests.
func (s *Session) CSRFToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	if s.state == nil || s.err != nil || s.header {
		return ""
	}
	base := s.csrfBase()
	if base == "" {
		if !s.writable("CSRFToken") {
			return ""
		}
		if !s.exists && !s.dirty {
			// A visitor: the secret comes from the anonymous cookie.
			if !s.headersOpen() {
				s.fail(fmt.Errorf("%w: CSRFToken for a new visitor after the headers went out; call it before writing the response", ErrCookieNotSent))
				return ""
			}
			s.csrf.token, _ = newToken()
			s.csrf.set = true
			base = s.csrf.token
		} else {
			// The ID this request's save moves to, or inserts: drawn now.
			s.nextToken, s.nextID = newToken()
			base = s.nextToken
		}
	}
	secret := csrfSecret(base)
	var buf [2 * csrfSecretLen]byte
	rand.Read(buf[:csrfSecretLen])
	for i := range csrfSecretLen {
		buf[csrfSecretLen+i] = buf[i] ^ secret[i]
	}
	return base64.RawURLEncoding.EncodeToString(buf[:])
}

// csrfCookie is a visitor's anonymous CSRF cookie: the token its secret
// derives from, and whether this response must set it.
type csrfCookie struct {
	token string
	read  bool // the request's cookie was looked for
	set   bool
}

// anonCSRF returns the token of the request's anonymous CSRF cookie, or
// of the one this response sets; "" when none. The caller holds s.mu.
func (s *Session) anonCSRF() string {
	if !s.csrf.read {
		s.csrf.read = true
		if ck, err := s.req.Cookie(s.store.csrfCookieName()); err == nil {
			if _, ok := parseToken(ck.Value); ok {
				s.csrf.token = ck.Value
			}
		}
	}
	return s.csrf.token
}

// csrfBase is the token that the CSRF tokens this request hands out derive
// from: the token the session's cookie names when the request ends, or for
// a visitor without a session (nothing to insert) its anonymous cookie's;
// "" when none is drawn yet. The caller holds s.mu.
func (s *Session) csrfBase() string {
	switch {
	case s.exists && s.renew, !s.exists && s.dirty:
		return s.nextToken
	case s.exists:
		return s.token
	}
	return s.anonCSRF()
}

// csrfAccepts reports whether token, unmasked, is a secret this request
// accepts: the session's own, or, while the session is signed in by no one,
// the anonymous cookie's, so that the forms a visitor loaded before its
// first saved change still work after it. The caller holds s.mu.
func (s *Session) csrfAccepts(secret []byte) bool {
	if base := s.csrfBase(); base != "" && hmac.Equal(secret, csrfSecret(base)) {
		return true
	}
	if s.userID != "" || s.renew {
		return false // a sign-in (or a renewal) rotates the secret
	}
	anon := s.anonCSRF()
	return anon != "" && hmac.Equal(secret, csrfSecret(anon))
}

// writeCSRFCookie sets a new visitor's anonymous CSRF cookie, or expires
// it once the session is signed in.
func (s *Session) writeCSRFCookie(h http.Header) {
	switch {
	case s.csrf.set:
		ck := s.store.cookie(s.req.TLS != nil)
		ck.Name, ck.Value = s.store.csrfCookieName(), s.csrf.token
		s.addHeader(h, "Set-Cookie", ck.String())
		s.csrf.set = false
	case s.csrf.token != "" && s.exists && s.userID != "":
		ck := s.store.cookie(s.req.TLS != nil)
		ck.Name, ck.MaxAge = s.store.csrfCookieName(), -1
		s.addHeader(h, "Set-Cookie", ck.String())
		s.csrf.token = ""
	}
}

// csrfCookieName is the name of a visitor's anonymous CSRF cookie.
func (st *Store) csrfCookieName() string { return st.cfg.cookieName + "_csrf" }

// hasCSRFSecret reports whether the request has a session or an anonymous
// CSRF cookie, and so a CSRF secret.
func (s *Session) hasCSRFSecret() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	return s.state != nil && (s.exists || s.anonCSRF() != "")
}

// ValidCSRFToken reports whether token is one of this session's CSRF
// tokens (from CSRFToken). It is false when the request has neither a
// session nor an anonymous CSRF cookie, and for a header session.
func (s *Session) ValidCSRFToken(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	if s.state == nil || s.header || s.err != nil {
		return false
	}
	var buf [2 * csrfSecretLen]byte
	if base64.RawURLEncoding.EncodedLen(len(buf)) != len(token) {
		return false
	}
	if n, err := base64.RawURLEncoding.Strict().Decode(buf[:], []byte(token)); err != nil || n != len(buf) {
		return false
	}
	for i := range csrfSecretLen {
		buf[csrfSecretLen+i] ^= buf[i]
	}
	return s.csrfAccepts(buf[csrfSecretLen:])
}

// CSRF returns a middleware, to install after the session middleware, that
// refuses unsafe requests forged by another site. GET, HEAD and OPTIONS pass
// at no cost; every other method is checked, TRACE and methods of an
// application's own included: RFC 9110 calls TRACE safe, but a handler
// registered with r.Any runs for it too, and a state change behind r.Any
// must not be reachable unchecked. Such a request must carry one of its
// session's CSRF tokens (CSRFToken) in the CSRFHeader header or the
// CSRFField form field, and must not come from another origin: an Origin
// header must name the request's own host, and Sec-Fetch-Site must not be
// "cross-site", where the browser sends them. A request whose Origin is one
// of trustedOrigins (written as "https://app.example.com") passes both
// checks, even from another site. A request without a session is refused
// too, which stops login forgery. A refusal answers 403 Forbidden with the
// reason as text, and adds an error wrapping ErrCSRF to c.Errors.
//
// The checks run cheapest first, so that a forged request costs little:
// the method, then whether it is a header request (WithTokenHeader), which
// a browser never sends on its own and which passes, then the origin, then
// whether the request has a well-formed session cookie at all, then the
// header token; only then the body, and only a URL-encoded or multipart
// form's: CSRF reads at most its first 1 MiB, in memory and never into
// temporary files, to find the field, and puts what it read back in front
// of the body, so the handler reads the whole body with its own limits. In
// a multipart form, put the field before any file input (browsers send
// fields in the page's order), or send the header. The session is loaded
// last.
//
// Keep safe methods safe: a GET that changes state is not protected.
func CSRF(trustedOrigins ...string) gin.HandlerFunc {
	trusted := make([]string, len(trustedOrigins))
	for i, o := range trustedOrigins {
		trusted[i] = strings.ToLower(strings.TrimSuffix(o, "/"))
	}
	return func(c *gin.Context) {
		switch c.Request.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			c.Next()
			return
		}
		s := Default(c)
		if s.IsHeader() {
			c.Next()
			return
		}
		if reason := foreignOrigin(c.Request, trusted); reason != "" {
			refuseCSRF(c, reason)
			return
		}
		if !hasSessionCookie(c.Request, s.store.cfg.cookieName) && !hasSessionCookie(c.Request, s.store.csrfCookieName()) {
			refuseCSRF(c, csrfNoSession)
			return
		}
		token := c.GetHeader(CSRFHeader)
		if token == "" {
			var err error
			if token, err = formToken(c.Request); err != nil {
				refuseCSRF(c, err.Error())
				return
			}
		}
		switch {
		case token == "":
			refuseCSRF(c, "missing CSRF token: send it in the "+CSRFField+" form field or the "+CSRFHeader+" header")
		case !s.hasCSRFSecret():
			if s.Err() != nil {
				c.Abort() // the session's error handler answers
				return
			}
			refuseCSRF(c, csrfNoSession)
		case !s.ValidCSRFToken(token):
			refuseCSRF(c, "CSRF token does not belong to this session: load the form again")
		default:
			c.Next()
		}
	}
}

const csrfNoSession = "no session: load the form again (are cookies blocked?)"

// csrfFormLimit is how many bytes of a form body CSRF reads, at most, to
// find the CSRFField field: enough for any form's fields, not for the files
// an upload may put before them.
const csrfFormLimit = 1 << 20

// errFormTooLong is why a form whose token field CSRF could not reach is
// refused.
var errFormTooLong = fmt.Errorf("no %s field within the first %d bytes of the form: put it before any file input, or send the %s header",
	CSRFField, csrfFormLimit, CSRFHeader)

// hasSessionCookie reports whether r carries a well-formed cookie of the
// session's name, without a query: a request without one has no session to
// forge a request of, and is refused before its body is read.
func hasSessionCookie(r *http.Request, name string) bool {
	for _, ck := range r.CookiesNamed(name) {
		if _, ok := parseToken(ck.Value); ok {
			return true
		}
	}
	return false
}

// formToken returns the CSRFField of r's URL-encoded or multipart body, ""
// for any other body or one without the field. It reads no more than
// csrfFormLimit bytes, stopping at the field, and puts them back in front of
// the rest of the body for the handler. It fails only when the body goes on
// past the limit without the field.
func formToken(r *http.Request) (string, error) {
	if r.PostForm != nil { // an earlier middleware parsed the form
		return r.PostForm.Get(CSRFField), nil
	}
	mediaType, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	form := mediaType == "application/x-www-form-urlencoded" || mediaType == "multipart/form-data"
	if err != nil || !form || r.Body == nil || r.Body == http.NoBody {
		return "", nil
	}
	var read bytes.Buffer
	orig := r.Body
	defer func() { r.Body = replayedBody{io.MultiReader(&read, orig), orig} }()
	// One byte past the limit tells a body that ends there from a longer one.
	body := io.TeeReader(io.LimitReader(orig, csrfFormLimit+1), &read)
	cut := func() bool { return read.Len() > csrfFormLimit }
	var token string
	var found bool
	if mediaType == "multipart/form-data" {
		token, found = multipartField(multipart.NewReader(body, params["boundary"]), CSRFField)
	} else {
		token, found = urlencodedField(bufio.NewReader(body), CSRFField, cut)
	}
	if !found && cut() {
		return "", errFormTooLong
	}
	return token, nil
}

// replayedBody is a request body whose first bytes were read already and
// are served again.
type replayedBody struct {
	io.Reader
	io.Closer
}

// urlencodedField returns the first value of the field name in r, a
// URL-encoded form, read pair by pair and decoded as url.ParseQuery would.
// cut reports whether the end of r is the limit rather than the body's.
func urlencodedField(r *bufio.Reader, name string, cut func() bool) (string, bool) {
	for {
		pair, err := r.ReadString('&')
		if err != nil && err != io.EOF {
			return "", false
		}
		key, value, _ := strings.Cut(strings.TrimSuffix(pair, "&"), "=")
		if !strings.Contains(key, ";") {
			k, kerr := url.QueryUnescape(key)
			v, verr := url.QueryUnescape(value)
			if kerr == nil && verr == nil && k == name {
				// The last pair read may be one the limit cut short.
				return v, err == nil || !cut()
			}
		}
		if err == io.EOF {
			return "", false
		}
	}
}

// multipartField returns the value of the first part of r, a multipart
// form, that is the field name and not a file.
func multipartField(r *multipart.Reader, name string) (string, bool) {
	for {
		p, err := r.NextPart()
		if err != nil {
			return "", false
		}
		if p.FormName() == name && p.FileName() == "" {
			v, err := io.ReadAll(p)
			return string(v), err == nil
		}
	}
}

// foreignOrigin says why the request comes from another site, or "". A
// trusted origin passes whatever Sec-Fetch-Site says, since a partner
// on another site is what trustedOrigins is for.
func foreignOrigin(r *http.Request, trusted []string) string {
	origin := r.Header.Get("Origin")
	if origin != "" && slices.Contains(trusted, strings.ToLower(origin)) {
		return ""
	}
	if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
		return "cross-site request (Sec-Fetch-Site: cross-site)"
	}
	if origin == "" {
		return ""
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return fmt.Sprintf("request from an opaque or malformed origin (Origin: %.100q)", origin)
	}
	if strings.EqualFold(u.Host, r.Host) {
		return ""
	}
	return fmt.Sprintf("request from another origin (Origin: %.100q)", origin)
}

func refuseCSRF(c *gin.Context, reason string) {
	_ = c.Error(fmt.Errorf("%w: %s", ErrCSRF, reason))
	c.String(http.StatusForbidden, "Forbidden: "+reason)
	c.Abort()
}
