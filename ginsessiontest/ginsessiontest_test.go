package ginsessiontest_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
	"github.com/ginsession/ginsession/ginsessiontest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

func TestDocumentedExamplesPass(t *testing.T) {
	t.Run("Profile", testProfile)
	t.Run("Cart", testCart)
	t.Run("APIMe", testAPIMe)
}

// fixture is an application under test: its database, store and router.
type fixture struct {
	db *gorm.DB
	st *ginsession.Store
	r  *gin.Engine
}

// openFixture opens a SQLite file in t.TempDir(), a store on it with opts,
// and a router with the session middleware, CSRF and testRoutes.
func openFixture(t *testing.T, opts ...ginsession.Option) *fixture {
	t.Helper()
	dsn := "file:" + filepath.Join(t.TempDir(), "sessions.db") + "?_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	sqlDB, err := db.DB()
	require.NoError(t, err)
	t.Cleanup(func() { sqlDB.Close() })
	st, err := ginsession.NewStore(db, append([]ginsession.Option{ginsession.WithCleanupInterval(0)}, opts...)...)
	require.NoError(t, err)
	r := gin.New()
	r.Use(st.Handler(), ginsession.CSRF())
	testRoutes(r)
	return &fixture{db: db, st: st, r: r}
}

// rows counts the session rows in the store's table.
func (f *fixture) rows(t *testing.T) int64 {
	t.Helper()
	var n int64
	require.NoError(t, f.db.Table("gin_sessions").Count(&n).Error)
	return n
}

func testRoutes(r gin.IRouter) {
	r.GET("/whoami", func(c *gin.Context) {
		s := ginsession.Default(c)
		cart, _ := ginsession.Get[int](s, "cart")
		c.String(http.StatusOK, "user=%s cart=%d", s.UserID(), cart)
	})
	r.GET("/set", func(c *gin.Context) {
		s := ginsession.Default(c)
		for k, v := range c.Request.URL.Query() {
			s.Set(k, v[0])
		}
		c.String(http.StatusOK, "set")
	})
	r.GET("/form", func(c *gin.Context) {
		// A page with a form starts a session for its CSRF token.
		c.String(http.StatusOK, ginsession.Default(c).CSRFToken())
	})
	r.POST("/cart", func(c *gin.Context) {
		s := ginsession.Default(c)
		n, _ := ginsession.Get[int](s, "cart")
		s.Set("cart", n+1)
		c.String(http.StatusOK, "%d", n+1)
	})
	r.POST("/login", func(c *gin.Context) {
		ginsession.Default(c).Login(c.PostForm("user"))
		c.Redirect(http.StatusSeeOther, "/whoami")
	})
	r.POST("/logout", func(c *gin.Context) {
		ginsession.Default(c).Destroy()
		c.Redirect(http.StatusSeeOther, "/")
	})
	r.GET("/headers", func(c *gin.Context) {
		c.String(http.StatusOK, "%s|%s", c.GetHeader("Authorization"), c.GetHeader("X-Session-Token"))
	})
	r.GET("/flashes", func(c *gin.Context) {
		c.String(http.StatusOK, "%v", ginsession.Default(c).Flashes())
	})
	r.GET("/new", func(c *gin.Context) {
		c.String(http.StatusOK, "%t", ginsession.Default(c).IsNew())
	})
}

func TestLoginAsMakesTheHandlerSeeTheUserAndValues(t *testing.T) {
	f := openFixture(t)
	cl := ginsessiontest.New(t, f.r, f.st).LoginAs("42", map[string]any{"cart": 3})

	resp := cl.Get("/whoami")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "user=42 cart=3", resp.Text)
	assert.NotEmpty(t, cl.Token())
	cl.AssertSignedInAs("42")
	cl.AssertSessionHas("cart", 3)
	assert.Equal(t, int64(1), f.rows(t))
}

func TestWithSessionStartsAnAnonymousSession(t *testing.T) {
	f := openFixture(t)
	cl := ginsessiontest.New(t, f.r, f.st).WithSession(map[string]any{"cart": 5})

	assert.Equal(t, "user= cart=5", cl.Get("/whoami").Text)
	cl.AssertSignedOut()
	assert.False(t, cl.Session().IsNew())
}

func TestStartSessionQueuesFlashes(t *testing.T) {
	f := openFixture(t)
	cl := ginsessiontest.New(t, f.r, f.st).StartSession(ginsession.Seed{UserID: "42", Flashes: []any{"saved"}})

	assert.Equal(t, "[saved]", cl.Get("/flashes").Text)
	assert.Equal(t, "[]", cl.Get("/flashes").Text)
	cl.AssertSignedInAs("42")
}

func TestHandlerSetIsReadableAfterTheResponse(t *testing.T) {
	f := openFixture(t)
	cl := ginsessiontest.New(t, f.r, f.st)
	assert.True(t, cl.Session().IsNew(), "no session before the first response")

	resp := cl.Get("/set?theme=dark&page=7")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.NotEmpty(t, cl.Token(), "the response's cookie is carried")

	s := cl.Session()
	assert.Equal(t, "dark", s.Get("theme"))
	assert.Equal(t, []string{"page", "theme"}, s.Keys())
	cl.AssertSessionHas("theme", "dark")
	cl.AssertSessionHas("page", "7")
	cl.AssertSessionMissing("cart")
	cl.AssertSignedOut()
}

func TestLogoutDestroyLeavesTheClientSignedOutAndNoRow(t *testing.T) {
	f := openFixture(t)
	cl := ginsessiontest.New(t, f.r, f.st).LoginAs("42", map[string]any{"cart": 1})
	require.Equal(t, int64(1), f.rows(t))

	resp := cl.PostForm("/logout", nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.Text)
	cl.AssertSignedOut()
	cl.AssertSessionMissing("cart")
	assert.Empty(t, cl.Token(), "the expired cookie is dropped")
	assert.True(t, cl.Session().IsNew())
	assert.Equal(t, int64(0), f.rows(t))
	assert.Equal(t, "user= cart=0", cl.Get("/whoami").Text)
}

func TestLoginRouteRenewsTheIDAndTheClientFollowsIt(t *testing.T) {
	f := openFixture(t)
	cl := ginsessiontest.New(t, f.r, f.st).WithSession(map[string]any{"cart": 2})
	before := cl.Token()

	resp := cl.PostForm("/login", url.Values{"user": {"7"}})
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, "redirects are not followed: %s", resp.Text)
	assert.Equal(t, "/whoami", resp.Header.Get("Location"))

	assert.NotEqual(t, before, cl.Token(), "Login gives a new ID")
	cl.AssertSignedInAs("7")
	cl.AssertSessionHas("cart", 2)
	assert.Equal(t, "user=7 cart=2", cl.Get("/whoami").Text)

	old, err := f.st.ReadSession(t.Context(), before)
	require.NoError(t, err)
	assert.True(t, old.IsNew(), "the old ID is dead")
	assert.Equal(t, int64(1), f.rows(t))
}

func TestPostFormPassesCSRFAndAPostWithoutTheTokenIsRefused(t *testing.T) {
	f := openFixture(t)
	cl := ginsessiontest.New(t, f.r, f.st).LoginAs("42", map[string]any{"cart": 3})
	form := url.Values{"item": {"tea"}}

	resp := cl.PostForm("/cart", form)
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.Text)
	assert.Equal(t, "4", resp.Text)
	assert.Equal(t, url.Values{"item": {"tea"}}, form, "the caller's form is left alone")

	forged := cl.PostFormWithoutCSRF("/cart", form)
	assert.Equal(t, http.StatusForbidden, forged.StatusCode)
	assert.Contains(t, forged.Text, "missing CSRF token")

	wrong := cl.PostForm("/cart", url.Values{ginsession.CSRFField: {"not-a-token"}})
	assert.Equal(t, http.StatusForbidden, wrong.StatusCode, "a token the test gives is sent as given")
	cl.AssertSessionHas("cart", 4)
}

func TestPostFormWithoutASessionIsRefusedUntilAPageStartsOne(t *testing.T) {
	f := openFixture(t)
	cl := ginsessiontest.New(t, f.r, f.st)

	assert.Equal(t, http.StatusForbidden, cl.PostForm("/cart", nil).StatusCode)
	require.Equal(t, http.StatusOK, cl.Get("/form").StatusCode)
	resp := cl.PostForm("/cart", nil)
	assert.Equal(t, http.StatusOK, resp.StatusCode, resp.Text)
	cl.AssertSessionHas("cart", 1)
}

func TestDoSendsARelativeRequestWithAnExplicitCSRFHeader(t *testing.T) {
	f := openFixture(t)
	cl := ginsessiontest.New(t, f.r, f.st).LoginAs("42", nil)

	post := func() *http.Request {
		req := httptest.NewRequest(http.MethodPost, "/cart", strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		return req
	}
	assert.Equal(t, http.StatusForbidden, cl.Do(post()).StatusCode, "Do adds no CSRF token")

	req := post()
	req.Header.Set(ginsession.CSRFHeader, cl.Session().CSRFToken())
	resp := cl.Do(req)
	assert.Equal(t, http.StatusOK, resp.StatusCode, resp.Text)
	cl.AssertSessionHas("cart", 1)
}

func TestAPIClientCarriesTheBearerTokenAndGetsNoCookie(t *testing.T) {
	f := openFixture(t, ginsession.WithTokenHeader("Authorization"))
	api := ginsessiontest.NewAPIClient(t, f.r, f.st).LoginAs("42", map[string]any{"cart": 1})

	resp := api.Get("/headers")
	assert.Equal(t, "Bearer "+api.Token()+"|", resp.Text)
	assert.Equal(t, "user=42 cart=1", api.Get("/whoami").Text)

	post := api.PostForm("/cart", nil) // header requests skip CSRF
	require.Equal(t, http.StatusOK, post.StatusCode, post.Text)
	assert.Empty(t, post.Header.Values("Set-Cookie"))
	api.AssertSessionHas("cart", 2)
	api.AssertSignedInAs("42")
	assert.Empty(t, api.Session().CSRFToken(), "a header session has no CSRF token")

	info, err := f.st.UserSessions(t.Context(), "42")
	require.NoError(t, err)
	require.Len(t, info, 1)
	assert.True(t, info[0].Header)
}

func TestAPIClientSendsABareTokenInAnotherHeader(t *testing.T) {
	f := openFixture(t, ginsession.WithTokenHeader("x-session-token"))
	api := ginsessiontest.NewAPIClient(t, f.r, f.st).LoginAs("42", nil)

	assert.Equal(t, "|"+api.Token(), api.Get("/headers").Text)
	assert.Equal(t, "user=42 cart=0", api.Get("/whoami").Text)
}

func TestAPIClientDropsASessionCookie(t *testing.T) {
	f := openFixture(t, ginsession.WithTokenHeader("Authorization"))
	api := ginsessiontest.NewAPIClient(t, f.r, f.st)

	resp := api.Get("/set?k=v") // no token: a cookie session starts
	require.NotEmpty(t, resp.Header.Values("Set-Cookie"))
	assert.Empty(t, api.Token())
	assert.Equal(t, "true", api.Get("/new").Text, "the cookie is not sent back")
}

func TestCookieWithSecureDomainAndPathWorksOverPlainHTTP(t *testing.T) {
	f := openFixture(t, ginsession.WithSecure(true), ginsession.WithCookieDomain("example.com"),
		ginsession.WithCookiePath("/app"))
	testRoutes(f.r.Group("/app"))
	f.r.GET("/application/new", func(c *gin.Context) {
		c.String(http.StatusOK, "%t", ginsession.Default(c).IsNew())
	})
	cl := ginsessiontest.New(t, f.r, f.st)

	resp := cl.Get("/app/set?theme=dark")
	ck := resp.Cookies()
	require.Len(t, ck, 1)
	require.True(t, ck[0].Secure)
	assert.Equal(t, ck[0].Value, cl.Token())
	assert.Equal(t, "false", cl.Get("/app/new").Text, "sent under the cookie's path")
	assert.Equal(t, "true", cl.Get("/new").Text, "not sent outside it")
	assert.Equal(t, "true", cl.Get("/application/new").Text, "not sent to a mere prefix")

	cl2 := ginsessiontest.New(t, f.r, f.st).LoginAs("42", nil)
	assert.Equal(t, "user=42 cart=0", cl2.Get("/app/whoami").Text)
}

func TestUseTokenCarriesAGivenSession(t *testing.T) {
	f := openFixture(t)
	first := ginsessiontest.New(t, f.r, f.st).LoginAs("42", nil)
	second := ginsessiontest.New(t, f.r, f.st).UseToken(first.Token())

	assert.Equal(t, "user=42 cart=0", second.Get("/whoami").Text)
	second.UseToken("")
	assert.Equal(t, "user= cart=0", second.Get("/whoami").Text)
}

func TestClientIsSafeForConcurrentRequests(t *testing.T) {
	f := openFixture(t)
	cl := ginsessiontest.New(t, f.r, f.st).LoginAs("42", nil)
	var wg sync.WaitGroup
	for i := range 4 {
		wg.Go(func() {
			cl.Get(fmt.Sprintf("/set?k%d=v", i))
			cl.Session()
		})
	}
	wg.Wait()
	assert.Equal(t, []string{"k0", "k1", "k2", "k3"}, cl.Session().Keys())
	cl.AssertSignedInAs("42")
}

// fakeTB records failures instead of failing the test that runs it. Its
// FailNow stops the calling goroutine, as testing's does: run the code
// under test with run.
type fakeTB struct {
	testing.TB // the real test, for Cleanup and the rest

	mu     sync.Mutex
	errors []string
	fatal  bool
}

func (f *fakeTB) Helper() {}

func (f *fakeTB) Errorf(format string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errors = append(f.errors, fmt.Sprintf(format, args...))
}

func (f *fakeTB) Error(args ...any) { f.Errorf("%s", fmt.Sprint(args...)) }

func (f *fakeTB) Fatalf(format string, args ...any) {
	f.Errorf(format, args...)
	f.FailNow()
}

func (f *fakeTB) Fatal(args ...any) { f.Fatalf("%s", fmt.Sprint(args...)) }

func (f *fakeTB) Fail() { f.Errorf("Fail called") }

func (f *fakeTB) FailNow() {
	f.mu.Lock()
	f.fatal = true
	f.mu.Unlock()
	runtime.Goexit()
}

func (f *fakeTB) Failed() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.errors) > 0 || f.fatal
}

func (f *fakeTB) messages() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return strings.Join(f.errors, "\n")
}

// run calls fn on a goroutine of its own and reports whether fn returned,
// rather than being stopped by FailNow.
func (f *fakeTB) run(fn func()) (returned bool) {
	done := make(chan bool)
	go func() {
		ok := false
		defer func() { done <- ok }()
		fn()
		ok = true
	}()
	return <-done
}

func TestLoginAsWithAValueTheCodecCannotEncodeFailsTheTest(t *testing.T) {
	f := openFixture(t)
	fake := &fakeTB{TB: t}
	returned := fake.run(func() {
		ginsessiontest.New(fake, f.r, f.st).LoginAs("42", map[string]any{"updates": make(chan int)})
	})

	assert.False(t, returned, "LoginAs stops the test")
	assert.True(t, fake.fatal)
	assert.Contains(t, fake.messages(), "cannot create the session")
	assert.Contains(t, fake.messages(), `"updates"`)
	assert.Contains(t, fake.messages(), "chan int")
	assert.Equal(t, int64(0), f.rows(t), "nothing is saved")
}

func TestNewAPIClientNeedsAStoreWithATokenHeader(t *testing.T) {
	f := openFixture(t)
	fake := &fakeTB{TB: t}
	returned := fake.run(func() { ginsessiontest.NewAPIClient(fake, f.r, f.st) })

	assert.False(t, returned)
	assert.Contains(t, fake.messages(), "WithTokenHeader")
}

func TestLoginAsNeedsAUserID(t *testing.T) {
	f := openFixture(t)
	fake := &fakeTB{TB: t}
	returned := fake.run(func() { ginsessiontest.New(fake, f.r, f.st).LoginAs("", nil) })

	assert.False(t, returned)
	assert.Contains(t, fake.messages(), "WithSession")
}

func TestFailedAssertionsReportWithoutStoppingTheTest(t *testing.T) {
	f := openFixture(t)
	cl := ginsessiontest.New(t, f.r, f.st).LoginAs("42", map[string]any{"cart": 3})
	fake := &fakeTB{TB: t}
	var results []bool
	returned := fake.run(func() {
		faked := ginsessiontest.New(fake, f.r, f.st).UseToken(cl.Token())
		results = append(results,
			faked.AssertSessionHas("cart", 4),
			faked.AssertSessionHas("missing", 1),
			faked.AssertSessionMissing("cart"),
			faked.AssertSignedInAs("7"),
			faked.AssertSignedOut(),
			faked.AssertSessionHas("cart", 3),
			faked.AssertSignedInAs("42"),
		)
	})

	require.True(t, returned, "assertions do not stop the test")
	assert.Equal(t, []bool{false, false, false, false, false, true, true}, results)
	msgs := fake.messages()
	assert.Contains(t, msgs, `session value of "cart"`)
	assert.Contains(t, msgs, `session has no "missing"`)
	assert.Contains(t, msgs, `session has "cart", want it missing`)
	assert.Contains(t, msgs, `signed in as "42", want signed out`)

	anonymous := ginsessiontest.New(fake, f.r, f.st)
	assert.False(t, anonymous.AssertSignedInAs("42"))
	assert.Contains(t, fake.messages(), "carries no live session")
}

// Session is what the next request finds: a header session's token on a
// browser client is no session to the application, so none to Session
// either.
func TestSessionAgreesWithWhatTheNextRequestFinds(t *testing.T) {
	f := openFixture(t, ginsession.WithTokenHeader("Authorization"))
	token, err := f.st.NewSession(t.Context(), ginsession.Seed{UserID: "42", Header: true}) // what IssueToken hands out
	require.NoError(t, err)
	browser := ginsessiontest.New(t, f.r, f.st).UseToken(token)

	seen := browser.Get("/whoami").Text
	require.Equal(t, "user= cart=0", seen, "the application ignores a header token in a cookie")
	assert.True(t, browser.Session().IsNew(), "Session() says signed in as %q while the request found no session", browser.Session().UserID())
}

// An API client's token is the one the test gave it: after a logout it
// names no session.
func TestAnAPIClientsTokenNamesNoSessionAfterALogout(t *testing.T) {
	f := openFixture(t, ginsession.WithTokenHeader("Authorization"))
	api := ginsessiontest.NewAPIClient(t, f.r, f.st).LoginAs("42", nil)
	resp := api.PostForm("/logout", nil)
	require.Equal(t, http.StatusSeeOther, resp.StatusCode, resp.Text)
	assert.NotEmpty(t, api.Token(), "an API client keeps what it was handed")
	assert.True(t, api.Session().IsNew())
	api.AssertSignedOut()
}
