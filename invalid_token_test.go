package ginsession

import (
	"net/http"
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// An API client whose token names no live session made a client error:
// the default error handler tells it to sign in again (401 with a Bearer
// challenge, RFC 6750), rather than reporting a server failure (500) that
// it might retry forever.
func TestAWriteWithAnUnknownOrExpiredBearerTokenAnswers401(t *testing.T) {
	for _, tc := range []struct {
		name  string
		token func(t *testing.T, a *app) string
	}{
		{"a well-formed token never issued", func(*testing.T, *app) string {
			token, _ := newToken()
			return token
		}},
		{"a token whose session expired", func(t *testing.T, a *app) string {
			token := a.apiClient().apiLogin2(t)
			a.clock.Advance(DefaultIdleTimeout + 1)
			return token
		}},
		{"a token whose session was logged out", func(t *testing.T, a *app) string {
			api := a.apiClient()
			token := api.apiLogin2(t)
			require.Equal(t, http.StatusOK, api.send(http.MethodPost, "/api/logout", nil, bearer(token)).StatusCode)
			return token
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newAPIApp(t, "Authorization")
			token := tc.token(t, a)
			before := len(a.rows())

			resp := a.apiClient().send(http.MethodPost, "/api/cart", url.Values{"item": {"lost"}}, bearer(token))

			assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, resp.body)
			assert.Equal(t, `Bearer error="invalid_token"`, resp.Header.Get("WWW-Authenticate"))
			assert.Empty(t, resp.Header.Values("Set-Cookie"))
			assert.Len(t, a.rows(), before, "no row that nobody could reach")
			assert.Contains(t, a.logs.String(), ErrTokenNotIssued.Error())
		})
	}
}
