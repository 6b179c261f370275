package ginsession

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
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
// A new session is created for it (one INSERT, as for a first Set), since
// the token belongs to a session; so call it before the response is
// written: for a visitor without a session, after the headers went out, it
// returns "" and fails the session with ErrCookieNotSent. After RenewID or Login in the same request
// it is already the new ID's token. A header session has none: it returns
// "", and CSRF does not check header requests.
func (s *Session) CSRFToken() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	if s.state == nil || s.err != nil || s.header {
		return ""
	}
	base := s.token
	if !s.exists || s.renew {
		if !s.writable("CSRFToken") {
			return ""
		}
		if !s.exists && !s.headersOpen() {
			// The session it would belong to can no longer be created: a
			// token now would be refused by every post.
			s.fail(fmt.Errorf("%w: CSRFToken for a new session after the headers went out; call it before writing the response", ErrCookieNotSent))
			return ""
		}
		if s.nextToken == "" {
			s.nextToken, s.nextID = newToken()
		}
		base = s.nextToken
		if !s.exists {
			s.keep, s.dirty = true, true
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

// ValidCSRFToken reports whether token is one of this session's CSRF
// tokens (from CSRFToken). It is false when the request has no session, or
// a header session.
func (s *Session) ValidCSRFToken(token string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	if s.state == nil || !s.exists || s.header || s.err != nil {
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
	base := s.token
	if s.renew {
		// The ID this request's save moves to, as CSRFToken hands out;
		// none yet if CSRFToken did not draw it.
		if base = s.nextToken; base == "" {
			return false
		}
	}
	return subtle.ConstantTimeCompare(buf[csrfSecretLen:], csrfSecret(base)) == 1
}

// CSRF returns a middleware, to install after the session middleware, that
// refuses unsafe requests (any method but GET, HEAD, OPTIONS and TRACE)
// forged by another site. Such a request must carry one of its session's
// CSRF tokens (CSRFToken) in the CSRFHeader header or the CSRFField form
// field, and must not come from another origin: an Origin header must name
// the request's own host, and Sec-Fetch-Site must not be "cross-site",
// where the browser sends them. A request whose Origin is one of
// trustedOrigins (written as "https://app.example.com") passes both
// checks, even from another site. A request without a session is refused
// too, which stops login forgery. A refusal answers 403 Forbidden with the
// reason as text, and adds an error wrapping ErrCSRF to c.Errors.
//
// Safe methods pass at no cost, as do header requests (WithTokenHeader),
// which a browser never sends on its own. Keep safe methods safe: a GET
// that changes state is not protected.
func CSRF(trustedOrigins ...string) gin.HandlerFunc {
	trusted := make([]string, len(trustedOrigins))
	for i, o := range trustedOrigins {
		trusted[i] = strings.ToLower(strings.TrimSuffix(o, "/"))
	}
	return func(c *gin.Context) {
		switch c.Request.Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions, http.MethodTrace:
			c.Next()
			return
		}
		s := Default(c)
		if _, header := s.headerToken(); header {
			c.Next()
			return
		}
		if reason := foreignOrigin(c.Request, trusted); reason != "" {
			refuseCSRF(c, reason)
			return
		}
		token := c.GetHeader(CSRFHeader)
		if token == "" {
			token = c.PostForm(CSRFField)
		}
		switch {
		case token == "":
			refuseCSRF(c, "missing CSRF token: send it in the "+CSRFField+" form field or the "+CSRFHeader+" header")
		case s.IsNew():
			if s.Err() != nil {
				c.Abort() // the session's error handler answers
				return
			}
			refuseCSRF(c, "no session: load the form again (are cookies blocked?)")
		case !s.ValidCSRFToken(token):
			refuseCSRF(c, "CSRF token does not belong to this session: load the form again")
		default:
			c.Next()
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
