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

// newAPIRouter stands for an API whose clients carry their session in
// "Authorization: Bearer <token>".
func newAPIRouter(st *ginsession.Store) *gin.Engine {
	r := gin.New()
	r.Use(st.Handler())
	api := r.Group("/api", st.APIHandler()) // header sessions only
	api.POST("/login", func(c *gin.Context) {
		s := ginsession.Default(c)
		s.Login(c.PostForm("user")) // a real API checks a password first
		token, err := s.IssueToken()
		if err != nil {
			c.String(http.StatusInternalServerError, "try again")
			return
		}
		c.String(http.StatusOK, token)
	})
	api.GET("/me", func(c *gin.Context) {
		c.JSON(http.StatusOK, gin.H{"user": ginsession.Default(c).UserID()})
	})
	return r
}

// newAPIStore gives each test a store, taking bearer tokens, on its own
// SQLite file.
func newAPIStore(t *testing.T) *ginsession.Store {
	dsn := "file:" + filepath.Join(t.TempDir(), "api.db") + "?_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL"
	db, err := gorm.Open(sqlite.Open(dsn), &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	sqlDB, err := db.DB()
	require.NoError(t, err)
	t.Cleanup(func() { sqlDB.Close() })
	st, err := ginsession.NewStore(db, ginsession.WithTokenHeader("Authorization"))
	require.NoError(t, err)
	return st
}

// testAPIMe is, in an application, func TestAPIMe(t *testing.T).
func testAPIMe(t *testing.T) {
	st := newAPIStore(t)

	// Signed in from the start: the client sends Authorization: Bearer.
	api := ginsessiontest.NewAPIClient(t, newAPIRouter(st), st).LoginAs("42", nil)
	resp := api.Get("/api/me")
	assert.JSONEq(t, `{"user":"42"}`, resp.Text)
	assert.Empty(t, resp.Header.Values("Set-Cookie"))

	// Or through the login route, carrying the token it hands out.
	other := ginsessiontest.NewAPIClient(t, newAPIRouter(st), st)
	login := other.PostForm("/api/login", url.Values{"user": {"7"}})
	require.Equal(t, http.StatusOK, login.StatusCode)
	other.UseToken(login.Text).AssertSignedInAs("7")
	assert.JSONEq(t, `{"user":"7"}`, other.Get("/api/me").Text)
}

// ExampleNewAPIClient shows a handler test of an API. In the application,
// testAPIMe is TestAPIMe; this package's own tests run it.
func ExampleNewAPIClient() {}
