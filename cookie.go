package ginsession

import (
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
)

// writeHeaders tells the browser what the commit decided: a new cookie, an
// expired one, or nothing; and, since the response depends on the session,
// Vary for caches. A header request never gets a cookie.
func (s *Session) writeHeaders(h http.Header) {
	if s.issued && h.Get("Cache-Control") == "" {
		// The body holds a token: no cache may keep it for the next
		// client, whose request looks the same.
		s.setHeader(h, "Cache-Control", "no-store")
	}
	if s.state == nil {
		return // failed before its first use (a Set of a value that cannot be encoded)
	}
	if s.header {
		s.addHeader(h, "Vary", s.store.tokenHeaderKey)
		s.cookie = cookieKeep
		return
	}
	s.addHeader(h, "Vary", "Cookie")
	s.writeCSRFCookie(h)
	if s.cookie == cookieKeep {
		return
	}
	// Vary: Cookie cannot tell two cookieless visitors apart, so a shared
	// cache must not keep a response that hands one of them a session.
	if h.Get("Cache-Control") == "" {
		s.setHeader(h, "Cache-Control", "private")
	}
	s.addHeader(h, "Set-Cookie", s.setCookie())
	s.cookie = cookieKeep
}

// addHeader is h.Add for a canonical key. A key's first value goes into the
// session state's headerVals (while they last) rather than into a slice of
// its own, one allocation fewer for each; the slice's capacity ends at its
// one value, so that an append to it later copies.
func (s *Session) addHeader(h http.Header, key, value string) {
	if old := h[key]; len(old) > 0 {
		h[key] = append(old, value)
		return
	}
	s.setHeader(h, key, value)
}

// setHeader is h.Set for a canonical key, with the value held as addHeader
// holds it. A slot of headerVals is used once, never handed out again.
func (s *Session) setHeader(h http.Header, key, value string) {
	if s.state == nil || s.nHeaderVals == len(s.headerVals) {
		h[key] = []string{value}
		return
	}
	i := s.nHeaderVals
	s.headerVals[i] = value
	s.nHeaderVals++
	h[key] = s.headerVals[i : i+1 : i+1]
}

// setCookie is the Set-Cookie line for the cookie operation due.
func (s *Session) setCookie() string {
	// Asking Gin about the proxy costs a copy of the context: not when
	// WithSecure has decided already.
	ck := s.store.cookie(s.store.cfg.secure == nil && requestHTTPS(s.c, s.req))
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

// cookie returns the session cookie's attributes, without value or age,
// for a browser that reached the application over HTTPS or not.
func (st *Store) cookie(https bool) http.Cookie {
	cfg := &st.cfg
	ck := http.Cookie{
		Name:        cfg.cookieName,
		Path:        cfg.cookiePath,
		Domain:      cfg.cookieDomain,
		HttpOnly:    true,
		Secure:      https,
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

// requestHTTPS reports whether the browser reached the application over
// HTTPS: r came over TLS, or c's engine trusts r's sender as a proxy and
// the proxy says https (forwardedHTTPS). c is the request's Gin context,
// nil outside a request, and r the request as the middleware received it.
//
// The forwarded headers can only add Secure, never take it off a TLS
// request; so a client that claims https itself, through a proxy that
// passes the claim on, gets a cookie its own plain-HTTP requests no longer
// carry, which harms nobody else.
func requestHTTPS(c *gin.Context, r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	return c != nil && forwardedHTTPS(r.Header) && trustedProxy(c, r)
}

// forwardedHTTPS reports whether any hop of X-Forwarded-Proto or of the
// standard Forwarded header (RFC 7239, proto=) says https. Any, not the
// nearest: a chain of proxies may say http for its inner hops while the
// browser used https, and a claim that is wrong only costs its sender.
func forwardedHTTPS(h http.Header) bool {
	for _, line := range h.Values("X-Forwarded-Proto") {
		for proto := range strings.SplitSeq(line, ",") {
			if strings.EqualFold(strings.TrimSpace(proto), "https") {
				return true
			}
		}
	}
	for _, line := range h.Values("Forwarded") {
		for hop := range strings.SplitSeq(line, ",") {
			for pair := range strings.SplitSeq(hop, ";") {
				key, value, _ := strings.Cut(pair, "=")
				value = strings.Trim(strings.TrimSpace(value), `"`)
				if strings.EqualFold(strings.TrimSpace(key), "proto") && strings.EqualFold(value, "https") {
					return true
				}
			}
		}
	}
	return false
}

// Addresses of TEST-NET-1 (RFC 5737), which no peer has, for trustedProxy.
const probeIP, otherProbeIP = "192.0.2.1", "192.0.2.2"

// trustedProxy reports whether Gin takes r's forwarded headers from its
// sender: a peer within the engine's SetTrustedProxies (or on a Unix
// socket) with ForwardedByClientIP on, or a request through the engine's
// TrustedPlatform. Gin keeps that check to itself, so it is asked through
// ClientIP, on a copy of the context whose request puts a probe address in
// every header r has and in Gin's default RemoteIPHeaders: ClientIP gives
// the probe back only when it reads a forwarded header, and the remote
// address otherwise.
func trustedProxy(c *gin.Context, r *http.Request) bool {
	probe := probeIP
	if c.RemoteIP() == probe {
		probe = otherProbeIP
	}
	req := new(http.Request)
	*req = *r
	req.Header = make(http.Header, len(r.Header)+2)
	for name := range r.Header {
		req.Header[name] = []string{probe}
	}
	req.Header["X-Forwarded-For"] = []string{probe}
	req.Header["X-Real-Ip"] = []string{probe}
	cp := c.Copy()
	cp.Request = req
	return cp.ClientIP() == probe
}
