package ginsession

import (
	"maps"
	"net/http"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Behind a proxy that terminates TLS the browser speaks HTTPS, the app
// plain HTTP: the cookie must be Secure when a proxy the engine trusts
// says so, and a header from anyone else must change nothing. Without a
// proxy, TLS decides; WithSecure overrides both.
func TestCookieIsSecureWhenATrustedProxySaysHTTPS(t *testing.T) {
	trustLoopback := func(r *gin.Engine) error { return r.SetTrustedProxies([]string{"127.0.0.1", "::1"}) }
	cases := []struct {
		name   string
		engine func(r *gin.Engine) error
		tls    bool
		header http.Header
		opts   []Option
		secure bool
	}{
		{"X-Forwarded-Proto from a trusted proxy", trustLoopback, false,
			http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-For": {"203.0.113.7"}}, nil, true},
		{"X-Forwarded-Proto alone from a trusted proxy", trustLoopback, false,
			http.Header{"X-Forwarded-Proto": {"https"}}, nil, true},
		{"Forwarded from a trusted proxy", trustLoopback, false,
			http.Header{"Forwarded": {"for=203.0.113.7;proto=https;by=10.0.0.1"}}, nil, true},
		{"Forwarded, quoted and upper-case, second hop", trustLoopback, false,
			http.Header{"Forwarded": {`for=198.51.100.1, For="203.0.113.7";Proto="HTTPS"`}}, nil, true},
		{"a chain whose inner hop was plain HTTP", trustLoopback, false,
			http.Header{"X-Forwarded-Proto": {"https, http"}}, nil, true},
		{"a trusted proxy that says http", trustLoopback, false,
			http.Header{"X-Forwarded-Proto": {"http"}, "Forwarded": {"proto=http"}}, nil, false},
		{"a trusted proxy that says https, WithSecure(false)", trustLoopback, false,
			http.Header{"X-Forwarded-Proto": {"https"}}, []Option{WithSecure(false)}, false},
		{"a proxy named in the engine's own RemoteIPHeaders", func(r *gin.Engine) error {
			r.RemoteIPHeaders = []string{"X-Client-Ip"}
			return trustLoopback(r)
		}, false, http.Header{"X-Forwarded-Proto": {"https"}, "X-Client-Ip": {"203.0.113.7"}}, nil, true},
		{"a platform the engine trusts", func(r *gin.Engine) error {
			r.TrustedPlatform = gin.PlatformCloudflare
			return r.SetTrustedProxies(nil)
		}, false, http.Header{"X-Forwarded-Proto": {"https"}, "Cf-Connecting-Ip": {"203.0.113.7"}}, nil, true},
		{"Gin's default, which trusts every peer until SetTrustedProxies", func(*gin.Engine) error { return nil }, false,
			http.Header{"X-Forwarded-Proto": {"https"}}, nil, true},
		{"a client the engine trusts no proxy from", func(r *gin.Engine) error { return r.SetTrustedProxies(nil) }, false,
			http.Header{"X-Forwarded-Proto": {"https"}, "Forwarded": {"proto=https"}, "X-Forwarded-For": {"203.0.113.7"}}, nil, false},
		{"a peer outside the trusted range", func(r *gin.Engine) error { return r.SetTrustedProxies([]string{"10.0.0.0/8"}) }, false,
			http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-For": {"203.0.113.7"}}, nil, false},
		{"a trusted peer, but ForwardedByClientIP off", func(r *gin.Engine) error {
			r.ForwardedByClientIP = false
			return trustLoopback(r)
		}, false, http.Header{"X-Forwarded-Proto": {"https"}, "X-Forwarded-For": {"203.0.113.7"}}, nil, false},
		{"TLS, whatever a proxy says", trustLoopback, true,
			http.Header{"X-Forwarded-Proto": {"http"}}, nil, true},
		{"plain HTTP", trustLoopback, false, nil, nil, false},
		{"TLS, WithSecure(false)", trustLoopback, true, nil, []Option{WithSecure(false)}, false},
		{"plain HTTP, WithSecure(true)", trustLoopback, false, nil, []Option{WithSecure(true)}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, _ := openDB(t)
			st, err := NewStore(db, append(tc.opts, WithCleanupInterval(0))...)
			require.NoError(t, err)
			r := gin.New()
			require.NoError(t, tc.engine(r))
			r.Use(st.Handler())
			basicRoutes(r)
			srv := serve(t, r, tc.tls)

			header := http.Header{}
			maps.Copy(header, tc.header)
			for _, path := range []string{"/set?k=v", "/destroy"} { // a new cookie, then an expired one
				req, err := http.NewRequest(http.MethodGet, srv.URL+path, nil)
				require.NoError(t, err)
				req.Header = header.Clone()
				resp, err := srv.Client().Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				ck := response{Response: resp}.sessionCookie()
				require.NotNil(t, ck, path)
				assert.Equal(t, tc.secure, ck.Secure, "%s: %s", path, resp.Header.Get("Set-Cookie"))
				// The next request carries the cookie, as the browser would.
				header.Set("Cookie", ck.Name+"="+ck.Value)
			}
		})
	}
}
