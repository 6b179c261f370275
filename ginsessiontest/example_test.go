package ginsessiontest_test

import (
	"net/http"
	"net/url"
	"path/filepath"
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

func init() { gin.SetMode(gin.TestMode) } // no route listing in the test output

// newRouter stands for the application's own router.
func newRouter(st *ginsession.Store) *gin.Engine {
	r := gin.New()
	r.Use(st.Handler(), ginsession.CSRF())
	r.GET("/profile", func(c *gin.Context) {
		user := ginsession.Default(c).UserID()
		if user == "" {
			c.String(http.StatusUnauthorized, "sign in first")
			return
		}
		c.String(http.StatusOK, "profile of user %s", user)
	})
	r.POST("/cart", func(c *gin.Context) {
		s := ginsession.Default(c)
		n, _ := ginsession.Get[int](s, "cart")
		s.Set("cart", n+1)
		c.String(http.StatusOK, "%d in the cart", n+1)
	})
	return r
}

// newStore gives each test a store on its own SQLite file.
func newStore(t *testing.T) *ginsession.Store {
	dsn := "file:" + filepath.Join(t.TempDir(), "app.db") + "?_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	sqlDB, err := db.DB()
	require.NoError(t, err)
	t.Cleanup(func() { sqlDB.Close() })
	st, err := ginsession.NewStore(db)
	require.NoError(t, err)
	return st
}

// testProfile is, in an application, func TestProfile(t *testing.T).
func testProfile(t *testing.T) {
	st := newStore(t)
	cl := ginsessiontest.New(t, newRouter(st), st).LoginAs("42", nil)

	resp := cl.Get("/profile")
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "profile of user 42", resp.Text)

	anonymous := ginsessiontest.New(t, newRouter(st), st)
	assert.Equal(t, http.StatusUnauthorized, anonymous.Get("/profile").StatusCode)
}

// testCart is, in an application, func TestCart(t *testing.T).
func testCart(t *testing.T) {
	st := newStore(t)
	cl := ginsessiontest.New(t, newRouter(st), st).LoginAs("42", map[string]any{"cart": 3})

	resp := cl.PostForm("/cart", url.Values{"item": {"tea"}}) // carries the CSRF token
	assert.Equal(t, "4 in the cart", resp.Text)
	cl.AssertSessionHas("cart", 4)

	forged := cl.PostFormWithoutCSRF("/cart", url.Values{"item": {"tea"}})
	assert.Equal(t, http.StatusForbidden, forged.StatusCode)
	cl.AssertSessionHas("cart", 4)
}

// Example shows an application's handler tests. In the application,
// testProfile and testCart are TestProfile and TestCart; a file of examples
// may not hold tests, so here this package's own tests run them.
func Example() {}
