package ginsessiontest_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ginsession/ginsession/ginsessiontest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// elsewhere is a server that is not the application under test: it
// records the Cookie header of every request that reaches it.
type elsewhere struct {
	*httptest.Server
	mu      sync.Mutex
	cookies []string
}

func startElsewhere(t *testing.T) *elsewhere {
	t.Helper()
	e := &elsewhere{}
	e.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.cookies = append(e.cookies, r.Header.Get("Cookie"))
		e.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(e.Close)
	return e
}

func (e *elsewhere) seen() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.cookies...)
}

// A signed-in Client must not hand its session to whatever host a test
// names in an absolute URL: a browser keeps a host-only cookie to its host,
// and the Client stands for a user of the application under test alone.
func TestASignedInClientSendsItsSessionToNoOtherHost(t *testing.T) {
	f := openFixture(t)
	other := startElsewhere(t)
	port := func(base string) string { return base[strings.LastIndex(base, ":")+1:] }
	for _, tc := range []struct {
		name string
		url  func(app string) string
	}{
		{"another host name", func(string) string { return "http://localhost:" + port(other.URL) + "/steal" }},
		{"the same address on another port", func(string) string { return "http://127.0.0.1:" + port(other.URL) + "/steal" }},
		{"the app's own port under another host name", func(app string) string { return "http://localhost:" + port(app) + "/whoami" }},
		{"another scheme", func(app string) string { return "https://127.0.0.1:" + port(app) + "/whoami" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := &fakeTB{TB: t}
			cl := ginsessiontest.New(fake, f.r, f.st).LoginAs("42", nil)
			token := cl.Token()
			require.NotEmpty(t, token)
			req, err := http.NewRequest(http.MethodGet, tc.url(cl.URL()), nil)
			require.NoError(t, err)

			returned := fake.run(func() { cl.Do(req) })

			for _, header := range other.seen() {
				assert.NotContains(t, header, token, "the session reached another host")
			}
			assert.Empty(t, other.seen(), "the request left for another host")
			assert.False(t, returned, "the request should fail the test")
			assert.Contains(t, fake.messages(), "talks only to the application under test")
		})
	}

	cl := ginsessiontest.New(t, f.r, f.st).LoginAs("42", nil)
	req, err := http.NewRequest(http.MethodGet, cl.URL()+"/whoami", nil)
	require.NoError(t, err)
	assert.Equal(t, "user=42 cart=0", cl.Do(req).Text, "an absolute URL of the app itself carries the session")
}
