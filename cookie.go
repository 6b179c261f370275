package ginsession

import (
	"math"
	"net/http"
	"time"
)

// writeHeaders tells the browser what the commit decided: a new cookie, an
// expired one, or nothing; and, since the response depends on the session,
// Vary for caches. A header request never gets a cookie.
func (s *Session) writeHeaders(h http.Header) {
	if s.issued && h.Get("Cache-Control") == "" {
		// The body holds a token: no cache may keep it for the next
		// client, whose request looks the same.
		h.Set("Cache-Control", "no-store")
	}
	if s.state == nil {
		return // failed before its first use (a Set of a value that cannot be encoded)
	}
	if s.header {
		h.Add("Vary", s.store.tokenHeaderKey)
		s.cookie = cookieKeep
		return
	}
	h.Add("Vary", "Cookie")
	s.writeCSRFCookie(h)
	if s.cookie == cookieKeep {
		return
	}
	// Vary: Cookie cannot tell two cookieless visitors apart, so a shared
	// cache must not keep a response that hands one of them a session.
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "private")
	}
	h.Add("Set-Cookie", s.setCookie())
	s.cookie = cookieKeep
}

// setCookie is the Set-Cookie line for the cookie operation due.
func (s *Session) setCookie() string {
	ck := s.store.cookie(s.req.TLS != nil)
	if s.cookie == cookieExpire {
		ck.MaxAge = -1
	} else {
		ck.Value = s.token
		if s.store.persistent(s.pol) {
			ck.MaxAge = maxAge(s.expires.Sub(s.store.cfg.now()))
		}
	}
	return ck.String()
}

// cookie returns the session cookie's attributes, without value or age.
func (st *Store) cookie(tls bool) http.Cookie {
	cfg := &st.cfg
	ck := http.Cookie{
		Name:        cfg.cookieName,
		Path:        cfg.cookiePath,
		Domain:      cfg.cookieDomain,
		HttpOnly:    true,
		Secure:      tls,
		SameSite:    cfg.sameSite,
		Partitioned: cfg.partitioned,
	}
	if cfg.secure != nil {
		ck.Secure = *cfg.secure
	}
	if cfg.partitioned {
		ck.Secure = true
	}
	return ck
}

// maxAge rounds d up to whole seconds, at least one: Max-Age 0 would delete
// the cookie.
func maxAge(d time.Duration) int {
	secs := math.Ceil(d.Seconds())
	if secs < 1 {
		return 1
	}
	return int(secs)
}
