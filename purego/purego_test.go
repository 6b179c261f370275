// These tests run ginsession on github.com/glebarez/sqlite, the GORM
// dialector over modernc.org/sqlite, which is SQLite translated to Go: no
// cgo, no C compiler. Nothing here is behind a build constraint, so they run
// in any build; .ci/run runs them with CGO_ENABLED=0, which proves that the
// library and this driver build and work without a C compiler.
//
// CGO_ENABLED=0 alone would not catch github.com/mattn/go-sqlite3 creeping
// in (through gorm.io/driver/sqlite, say): without cgo it compiles to a stub
// that fails only when a connection is opened. So
// TestNoCgoSQLiteDriverIsLinkedIn lists this test's dependencies with
// go list -deps, and TestSessionsRunOnThePureGoDriver checks the driver
// behind the connection pool.
package purego_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
	"github.com/glebarez/sqlite"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// dsn is the DSN docs/production.md shows for the pure-Go driver: a busy timeout so
// that concurrent writers queue, and WAL so that readers never wait.
func dsn(path string) string {
	return path + "?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)"
}

// app is a login, a profile and a logout route (and two to set and list keys)
// on a real HTTP server, with a client that keeps cookies as a browser does.
type app struct {
	db     *gorm.DB
	srv    *httptest.Server
	client *http.Client
}

func newApp(t *testing.T) *app {
	t.Helper()
	db, err := gorm.Open(sqlite.Open(dsn(filepath.Join(t.TempDir(), "sessions.db"))),
		&gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	sqlDB, err := db.DB()
	require.NoError(t, err)
	t.Cleanup(func() { sqlDB.Close() })

	r := gin.New()
	r.Use(ginsession.New(db))
	r.POST("/login", func(c *gin.Context) {
		s := ginsession.Default(c)
		s.Login("42")
		s.Set("username", "Alice")
		c.String(http.StatusOK, "logged in")
	})
	r.GET("/profile", func(c *gin.Context) {
		s := ginsession.Default(c)
		name, ok := ginsession.Get[string](s, "username")
		if !ok {
			c.String(http.StatusUnauthorized, "not logged in")
			return
		}
		c.String(http.StatusOK, "%s (user %s)", name, s.UserID())
	})
	r.POST("/logout", func(c *gin.Context) {
		ginsession.Default(c).Destroy()
		c.String(http.StatusOK, "logged out")
	})
	r.POST("/set/:key", func(c *gin.Context) {
		ginsession.Default(c).Set(c.Param("key"), c.Query("v"))
		c.String(http.StatusOK, "ok")
	})
	r.GET("/keys", func(c *gin.Context) {
		c.String(http.StatusOK, strings.Join(ginsession.Default(c).Keys(), ","))
	})

	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	jar, err := cookiejar.New(nil)
	require.NoError(t, err)
	return &app{db: db, srv: srv, client: &http.Client{Jar: jar}}
}

// reply is what a request got back.
type reply struct {
	status  int
	body    string
	header  http.Header
	cookies []*http.Cookie
}

func (a *app) do(t *testing.T, method, path string) reply {
	t.Helper()
	req, err := http.NewRequest(method, a.srv.URL+path, nil)
	require.NoError(t, err)
	resp, err := a.client.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{status: resp.StatusCode, body: string(body), header: resp.Header, cookies: resp.Cookies()}
}

// sessionCookie returns the one session cookie a response set.
func sessionCookie(t *testing.T, r reply) *http.Cookie {
	t.Helper()
	var found []*http.Cookie
	for _, c := range r.cookies {
		if c.Name == ginsession.DefaultCookieName {
			found = append(found, c)
		}
	}
	require.Len(t, found, 1, "Set-Cookie headers: %q", r.header.Values("Set-Cookie"))
	return found[0]
}

// jarToken is the session token the client would send next.
func (a *app) jarToken(t *testing.T) string {
	t.Helper()
	u, err := url.Parse(a.srv.URL)
	require.NoError(t, err)
	for _, c := range a.client.Jar.Cookies(u) {
		if c.Name == ginsession.DefaultCookieName {
			return c.Value
		}
	}
	return ""
}

// rows reads the session table through the application's own *gorm.DB.
func (a *app) rows(t *testing.T) []ginsession.Model {
	t.Helper()
	var rows []ginsession.Model
	require.NoError(t, a.db.Table(ginsession.DefaultTableName).Order("created_at").Find(&rows).Error)
	return rows
}

// rowID is the table's ID for a cookie token: the hex SHA-256 of its bytes.
func rowID(t *testing.T, token string) string {
	t.Helper()
	raw, err := base64.RawURLEncoding.DecodeString(token)
	require.NoError(t, err)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

func TestNoCgoSQLiteDriverIsLinkedIn(t *testing.T) {
	// A test binary's build information lists no modules (Deps is empty
	// under go test), so ask the go command what this test links.
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command on PATH to list this test's dependencies")
	}
	out, err := exec.Command(goCmd, "list", "-test", "-deps", ".").CombinedOutput()
	require.NoError(t, err, "%s", out)
	deps := strings.Fields(string(out))
	for _, cgo := range []string{"github.com/mattn/go-sqlite3", "gorm.io/driver/sqlite"} {
		assert.False(t, slices.Contains(deps, cgo), "%s, which needs cgo, is linked in", cgo)
	}
	for _, pure := range []string{"github.com/glebarez/sqlite", "github.com/glebarez/go-sqlite", "modernc.org/sqlite/lib"} {
		assert.True(t, slices.Contains(deps, pure), "%s is not linked in", pure)
	}

	if info, ok := debug.ReadBuildInfo(); ok {
		for _, s := range info.Settings {
			if s.Key == "CGO_ENABLED" {
				t.Logf("built with CGO_ENABLED=%s (.ci/run uses 0)", s.Value)
			}
		}
	}
}

func TestSessionsRunOnThePureGoDriver(t *testing.T) {
	a := newApp(t)
	sqlDB, err := a.db.DB()
	require.NoError(t, err)

	// The driver behind the pool is the pure-Go one, not mattn/go-sqlite3.
	drv := reflect.TypeOf(sqlDB.Driver())
	for drv.Kind() == reflect.Pointer {
		drv = drv.Elem()
	}
	assert.Equal(t, "github.com/glebarez/go-sqlite", drv.PkgPath())

	// The DSN's pragmas took effect on the connection the store will use.
	var mode string
	require.NoError(t, a.db.Raw("PRAGMA journal_mode").Scan(&mode).Error)
	assert.Equal(t, "wal", mode)
	var timeout int
	require.NoError(t, a.db.Raw("PRAGMA busy_timeout").Scan(&timeout).Error)
	assert.Equal(t, 5000, timeout)

	// New migrated the table through this driver.
	assert.True(t, a.db.Migrator().HasTable(ginsession.DefaultTableName))
}

func TestVisitorWithoutCookieIsNotLoggedInAndStoresNothing(t *testing.T) {
	a := newApp(t)

	r := a.do(t, http.MethodGet, "/profile")

	assert.Equal(t, http.StatusUnauthorized, r.status)
	assert.Equal(t, "not logged in", r.body)
	assert.Empty(t, r.header.Values("Set-Cookie"), "a session that was only read must not be handed out")
	assert.Empty(t, a.rows(t))
}

func TestLoginSetsCookieAndStoresOneRowBoundToTheUser(t *testing.T) {
	a := newApp(t)

	r := a.do(t, http.MethodPost, "/login")

	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "logged in", r.body)
	ck := sessionCookie(t, r)
	assert.Len(t, ck.Value, 43, "32 random bytes, base64url without padding")
	assert.True(t, ck.HttpOnly)
	assert.False(t, ck.Secure, "plain HTTP and no WithSecure")
	assert.Equal(t, "/", ck.Path)
	assert.Equal(t, http.SameSiteLaxMode, ck.SameSite)
	assert.InDelta(t, ginsession.DefaultIdleTimeout.Seconds(), ck.MaxAge, 5)
	assert.Equal(t, "private", r.header.Get("Cache-Control"))

	rows := a.rows(t)
	require.Len(t, rows, 1)
	row := rows[0]
	assert.Equal(t, "42", row.UserID)
	assert.Equal(t, rowID(t, ck.Value), row.ID, "the table keeps the token's hash")
	assert.NotContains(t, row.Data, ck.Value)
	assert.Contains(t, row.Data, `"username":"Alice"`)
	assert.WithinDuration(t, row.CreatedAt.Add(ginsession.DefaultIdleTimeout), row.ExpiresAt, 5*time.Second)
	var count int64
	require.NoError(t, a.db.Table(ginsession.DefaultTableName).Where("user_id = ?", "42").Count(&count).Error)
	assert.Equal(t, int64(1), count)
}

func TestProfileReadsTheLoggedInUserWithoutWriting(t *testing.T) {
	a := newApp(t)
	a.do(t, http.MethodPost, "/login")
	before := a.rows(t)
	require.Len(t, before, 1)

	r := a.do(t, http.MethodGet, "/profile")

	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "Alice (user 42)", r.body)
	assert.Empty(t, r.header.Values("Set-Cookie"), "a fresh session read back needs no new cookie")
	assert.Contains(t, r.header.Values("Vary"), "Cookie")
	after := a.rows(t)
	require.Len(t, after, 1)
	assert.Equal(t, before[0].Version, after[0].Version, "a read must not write")
	assert.Equal(t, before[0].Data, after[0].Data)
}

func TestLoginRenewsAnExistingSessionsID(t *testing.T) {
	a := newApp(t)
	a.do(t, http.MethodPost, "/set/theme?v=dark")
	anonymous := a.jarToken(t)
	require.NotEmpty(t, anonymous)

	r := a.do(t, http.MethodPost, "/login")

	require.Equal(t, http.StatusOK, r.status)
	ck := sessionCookie(t, r)
	assert.NotEqual(t, anonymous, ck.Value, "login must not keep an ID issued before it")
	rows := a.rows(t)
	require.Len(t, rows, 1, "the row moved to the new ID, it was not copied")
	assert.Equal(t, rowID(t, ck.Value), rows[0].ID)
	assert.Equal(t, "42", rows[0].UserID)
	assert.Equal(t, "theme,username", a.do(t, http.MethodGet, "/keys").body, "data survives the renewal")
}

func TestLogoutDeletesTheRowAndExpiresTheCookie(t *testing.T) {
	a := newApp(t)
	a.do(t, http.MethodPost, "/login")
	token := a.jarToken(t)
	require.NotEmpty(t, token)

	r := a.do(t, http.MethodPost, "/logout")

	require.Equal(t, http.StatusOK, r.status)
	assert.Equal(t, "logged out", r.body)
	ck := sessionCookie(t, r)
	assert.Empty(t, ck.Value)
	assert.Negative(t, ck.MaxAge, "Max-Age=0: the browser drops the cookie")
	assert.Empty(t, a.rows(t))
	assert.Empty(t, a.jarToken(t))

	after := a.do(t, http.MethodGet, "/profile")
	assert.Equal(t, http.StatusUnauthorized, after.status)
	assert.Equal(t, "not logged in", after.body)

	// The old token, sent again by hand, finds nothing either.
	req, err := http.NewRequest(http.MethodGet, a.srv.URL+"/profile", nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: ginsession.DefaultCookieName, Value: token})
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	assert.Empty(t, a.rows(t), "a dead token is never adopted")
}

func TestConcurrentWritersToOneSessionAllKeepTheirKeys(t *testing.T) {
	a := newApp(t)
	a.do(t, http.MethodPost, "/login")

	const writers, each = 4, 5
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				resp, err := a.client.Post(fmt.Sprintf("%s/set/w%d-%d?v=x", a.srv.URL, w, i), "", nil)
				if err != nil {
					errs <- err
					continue
				}
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					errs <- fmt.Errorf("w%d-%d: status %d", w, i, resp.StatusCode)
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		assert.NoError(t, err)
	}

	keys := strings.Split(a.do(t, http.MethodGet, "/keys").body, ",")
	assert.Len(t, keys, writers*each+1, "every writer's keys, and the username")
	rows := a.rows(t)
	require.Len(t, rows, 1)
	assert.Equal(t, "42", rows[0].UserID)
}
