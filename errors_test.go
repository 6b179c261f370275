package ginsession

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// errorRecorder is an error handler that remembers what it was given.
type errorRecorder struct {
	mu   sync.Mutex
	errs []error
}

func (e *errorRecorder) handle(c *gin.Context, err error) {
	e.mu.Lock()
	e.errs = append(e.errs, err)
	e.mu.Unlock()
	c.String(http.StatusServiceUnavailable, "session trouble")
}

func (e *errorRecorder) all() []error {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]error(nil), e.errs...)
}

func TestLoadErrorStopsTheRequestAndOverwritesNothing(t *testing.T) {
	a := newApp(t, basicRoutes)
	cl := a.client()
	cl.get("/set?k=saved")
	require.NoError(t, a.db.Exec("ALTER TABLE gin_sessions RENAME TO away").Error)

	resp := cl.get("/get?k=k")
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode, "not an empty session")
	assert.NotContains(t, resp.body, "missing", "none of the handler's output")
	resp = cl.get("/set?k=overwritten")
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.Nil(t, resp.sessionCookie(), "the user keeps their cookie")
	assert.Contains(t, a.logs.String(), "cannot load session")

	require.NoError(t, a.db.Exec("ALTER TABLE away RENAME TO gin_sessions").Error)
	assert.Equal(t, "saved", cl.get("/get?k=k").body, "data saved earlier is intact")
	assert.Equal(t, "untouched", cl.get("/none").body, "the process kept serving")
}

func TestLoadErrorGoesToTheErrorHandler(t *testing.T) {
	rec := &errorRecorder{}
	a := newApp(t, basicRoutes, WithErrorHandler(rec.handle))
	cl := a.client()
	cl.get("/set?k=saved")
	require.NoError(t, a.db.Exec("ALTER TABLE gin_sessions RENAME TO away").Error)
	resp := cl.get("/get?k=k")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "session trouble", resp.body)
	errs := rec.all()
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], ErrLoad)
	require.Len(t, a.errors(), 1)
	assert.Contains(t, a.errors()[0], "cannot load session")
}

func TestSaveErrorBeforeHeadersReplacesTheResponse(t *testing.T) {
	for _, stmt := range []string{"UPDATE", "INSERT", "DELETE"} {
		t.Run(stmt, func(t *testing.T) {
			rec := &errorRecorder{}
			a := newApp(t, func(r *gin.Engine) {
				basicRoutes(r)
				r.GET("/json", func(c *gin.Context) {
					Default(c).Set("k", "new")
					c.Header("X-Handler", "yes")
					c.SetCookie("remember_me", "1", 3600, "/", "", false, true)
					c.JSON(http.StatusOK, gin.H{"secret": "handler output"})
				})
			}, WithErrorHandler(rec.handle))
			cl := a.client()
			cl.get("/set?k=old")
			require.NoError(t, a.db.Exec(`CREATE TRIGGER fail BEFORE `+stmt+` ON gin_sessions BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`).Error)

			path := "/json"
			switch stmt {
			case "INSERT":
				cl = a.client()
			case "DELETE":
				path = "/destroy"
			}
			resp := cl.get(path)
			assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
			assert.Equal(t, "session trouble", resp.body, "none of the handler's output")
			assert.Equal(t, "text/plain; charset=utf-8", resp.Header.Get("Content-Type"))
			assert.Nil(t, resp.sessionCookie())
			assert.Empty(t, resp.Header.Get("X-Handler"), "no header of the route's")
			assert.Empty(t, resp.Header.Values("Set-Cookie"), "no cookie of the route's")
			assert.Equal(t, "kept", resp.Header.Get("X-Outer"), "headers set before the middleware stay")
			errs := rec.all()
			require.Len(t, errs, 1)
			assert.ErrorIs(t, errs[0], ErrSave)
			assert.Contains(t, errs[0].Error(), "disk on fire")

			require.NoError(t, a.db.Exec(`DROP TRIGGER fail`).Error)
			if stmt != "INSERT" {
				assert.Equal(t, "old", cl.get("/get?k=k").body, "nothing lost")
			}
		})
	}
}

func TestSaveErrorAfterHeadersIsLoggedAndRecorded(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/late", func(c *gin.Context) {
			s := Default(c)
			_ = s.Keys()
			c.String(http.StatusOK, "streamed")
			s.Set("k", "late")
		})
	})
	cl := a.client()
	cl.get("/set?k=old")
	require.NoError(t, a.db.Exec(`CREATE TRIGGER fail BEFORE UPDATE ON gin_sessions BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`).Error)
	resp := cl.get("/late")
	assert.Equal(t, "streamed", resp.body)
	require.Len(t, a.errors(), 1)
	assert.Contains(t, a.errors()[0], "disk on fire")
	assert.Contains(t, a.logs.String(), "disk on fire")
}

func TestUnencodableValueFailsLoudlyNamingKeyAndType(t *testing.T) {
	rec := &errorRecorder{}
	a := newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/bad", func(c *gin.Context) {
			s := Default(c)
			s.Set("good", "kept?")
			s.Set("events", make(chan int))
			c.String(http.StatusOK, "handler output")
		})
	}, WithErrorHandler(rec.handle))
	cl := a.client()
	cl.get("/set?k=v")
	resp := cl.get("/bad")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	errs := rec.all()
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], ErrEncode)
	assert.Contains(t, errs[0].Error(), `"events"`)
	assert.Contains(t, errs[0].Error(), "chan int")
	assert.Equal(t, http.StatusNotFound, cl.get("/get?k=good").StatusCode, "nothing of the failed request is saved")
	assert.Equal(t, "v", cl.get("/get?k=k").body)
}

func TestMaxSizeIsEnforcedPerValueAndPerSession(t *testing.T) {
	rec := &errorRecorder{}
	a := newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/save", func(c *gin.Context) {
			s := Default(c)
			s.Set(c.Query("k"), strings.Repeat("x", 150))
			err := s.Save()
			if err != nil {
				c.String(http.StatusRequestEntityTooLarge, err.Error())
				return
			}
			c.String(http.StatusOK, "ok")
		})
	}, WithMaxSize(400), WithErrorHandler(rec.handle))
	cl := a.client()
	resp := cl.get("/set?k=" + strings.Repeat("y", 500))
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "one value over the limit")
	require.Len(t, rec.all(), 1)
	assert.ErrorIs(t, rec.all()[0], ErrTooLarge)
	assert.Empty(t, a.rows())

	assert.Equal(t, "ok", cl.get("/save?k=a").body)
	assert.Equal(t, "ok", cl.get("/save?k=b").body)
	resp = cl.get("/save?k=c")
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode, "the whole session over the limit")
	assert.Contains(t, resp.body, "limit 400")
	assert.Equal(t, "a,b", cl.get("/keys").body, "what was saved before is intact")
}

func TestCorruptRowIsTreatedAsNewSessionAndLogged(t *testing.T) {
	a := newApp(t, basicRoutes)
	cl := a.client()
	cl.get("/set?k=v")
	old := cl.cookie()
	require.NoError(t, a.db.Exec(`UPDATE gin_sessions SET data = ?`, `{"values":{"k":`).Error)
	assert.Equal(t, http.StatusNotFound, cl.get("/get?k=k").StatusCode)
	assert.Contains(t, a.logs.String(), "cannot be decoded")
	cl.get("/set?k=fresh")
	assert.NotEqual(t, old, cl.cookie(), "a fresh ID")
	assert.Equal(t, "fresh", cl.get("/get?k=k").body)
}

func TestPanickingHandlerSavesNothing(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/panic", func(c *gin.Context) {
			Default(c).Set("k", "from panic")
			panic("boom")
		})
	})
	fresh := a.client()
	resp := fresh.get("/panic")
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode, "gin.Recovery answered")
	assert.Empty(t, resp.stmts)
	assert.Nil(t, resp.sessionCookie())
	assert.Empty(t, a.rows())

	cl := a.client()
	cl.get("/set?k=v")
	resp = cl.get("/panic")
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.Equal(t, []string{"SELECT"}, kinds(resp.stmts))
	assert.Equal(t, "v", cl.get("/get?k=k").body)
}

func TestPanicValueReachesRecoveryUnchanged(t *testing.T) {
	db, _ := openDB(t)
	st, err := NewStore(db, WithCleanupInterval(0))
	require.NoError(t, err)
	sentinel := errors.New("exact panic value")
	var got any
	r := gin.New()
	r.Use(gin.CustomRecoveryWithWriter(io.Discard, func(c *gin.Context, v any) {
		got = v
		c.AbortWithStatus(http.StatusTeapot)
	}), st.Handler())
	r.GET("/", func(c *gin.Context) {
		Default(c).Set("k", "v")
		panic(sentinel)
	})
	w := newRecorderRequest(r, "/")
	assert.Equal(t, http.StatusTeapot, w.Code)
	assert.Same(t, sentinel, got)
}

func TestInvalidOptionsAreRejected(t *testing.T) {
	db, _ := openDB(t)
	cases := map[string][]Option{
		"SameSite=None, not Secure": {WithSameSite(http.SameSiteNoneMode)},
		"cookie path with ;":        {WithCookiePath("/a;b")},
		"cookie domain with space":  {WithCookieDomain("exa mple.test")},
		"empty cookie name":         {WithCookieName("")},
		"cookie name with ;":        {WithCookieName("a;b")},
		"no expiry":                 {WithIdleTimeout(0)},
		"negative lifetime":         {WithLifetime(-time.Second)},
		"empty table":               {WithTableName("")},
		"table name with SQL":       {WithTableName("x; drop table y")},
		"table name with a quote":   {WithTableName("x`y")},
		"table name with two dots":  {WithTableName("a.b.c")},
		"nil codec":                 {WithCodec(nil)},
		"zero max size":             {WithMaxSize(0)},
		"insecure partitioned":      {WithPartitioned(true), WithSecure(false)},
		"partitioned, SameSite=Lax": {WithPartitioned(true), WithSameSite(http.SameSiteLaxMode)},
		"partitioned, Strict":       {WithPartitioned(true), WithSameSite(http.SameSiteStrictMode)},
		"__Host- not Secure":        {WithCookieName("__Host-sid"), WithSecure(false)},
		"__Host- with a path":       {WithCookieName("__Host-sid"), WithCookiePath("/app")},
		"__Host- with a domain":     {WithCookieName("__Host-sid"), WithCookieDomain("example.test")},
		"__host- in lower case":     {WithCookieName("__host-sid"), WithCookiePath("/app")},
		"__Secure- not Secure":      {WithCookieName("__Secure-sid"), WithSecure(false)},
		"nil clock":                 {WithClock(nil)},
		"negative pool wait":        {WithPoolWait(-time.Second)},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := NewStore(db, opts...)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "ginsession: invalid options")
			assert.PanicsWithValue(t, err.Error()+" (fix the options, or call NewStore to handle the error)",
				func() { New(db, opts...) })
		})
	}
	_, err := NewStore(nil)
	assert.ErrorContains(t, err, "needs a *gorm.DB")
}

func TestNewPanicsWhenTheTableCannotBeMigrated(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ro.db")
	rw, err := gorm.Open(sqlite.Open(path), &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	require.NoError(t, rw.Exec("CREATE TABLE other (x int)").Error)
	ro, err := gorm.Open(sqlite.Open("file:"+path+"?mode=ro"), &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	_, err = NewStore(ro)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `migrate table "gin_sessions"`)
	assert.PanicsWithValue(t, err.Error()+" (check the database connection, or call NewStore to handle the error)",
		func() { New(ro) })
}

// gorm.Open returns a *gorm.DB even when it fails; an application that
// ignores the error must hear what is wrong, not a nil dereference.
func TestNewOnAFailedGormOpenSaysSo(t *testing.T) {
	dir := t.TempDir() // a directory is no database file
	db, openErr := gorm.Open(sqlite.Open(dir), &gorm.Config{Logger: logger.Discard})
	require.Error(t, openErr)
	_, err := NewStore(db)
	require.ErrorContains(t, err, "not connected to a database: check the error gorm.Open returned")
	assert.PanicsWithValue(t, err.Error()+" (check the database connection, or call NewStore to handle the error)",
		func() { New(db) })
}

func TestSaveErrorWithDefaultHandlerAnswers500(t *testing.T) {
	a := newApp(t, basicRoutes)
	cl := a.client()
	cl.get("/set?k=old")
	require.NoError(t, a.db.Exec(`CREATE TRIGGER fail BEFORE UPDATE ON gin_sessions BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`).Error)
	resp := cl.get("/set?k=new")
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.Equal(t, "Internal Server Error", resp.body)
	assert.Contains(t, a.logs.String(), "disk on fire")
}

func TestUnencodableFlashFails(t *testing.T) {
	rec := &errorRecorder{}
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/flash", func(c *gin.Context) {
			Default(c).AddFlash(func() {})
			c.String(http.StatusOK, "handler output")
		})
	}, WithErrorHandler(rec.handle))
	resp := a.client().get("/flash")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	require.Len(t, rec.all(), 1)
	assert.ErrorIs(t, rec.all()[0], ErrEncode)
	assert.Contains(t, rec.all()[0].Error(), "func()")
	assert.Empty(t, a.rows())
}

func TestCookieDueBeforeHijackIsReported(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/ws", func(c *gin.Context) {
			s := Default(c)
			s.Set("k", "v")
			require.NoError(t, s.Save()) // a new session: its cookie is due
			conn, buf, err := c.Writer.Hijack()
			require.NoError(t, err)
			defer conn.Close()
			_, _ = buf.WriteString("HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nupgraded")
			_ = buf.Flush()
		})
	})
	resp := a.client().get("/ws")
	assert.Equal(t, "upgraded", resp.body)
	assert.Nil(t, resp.sessionCookie())
	// The handler may still be returning after the client has read the
	// hijacked connection's answer.
	require.Eventually(t, func() bool { return len(a.errors()) == 1 }, 5*time.Second, 5*time.Millisecond)
	assert.Contains(t, a.errors()[0], ErrCookieNotSent.Error())
}

func TestSessionUsedAfterItsMiddlewareReturnedIsRefusedLoudly(t *testing.T) {
	db, rec := openDB(t)
	logs := &syncBuffer{}
	st, err := NewStore(db, WithCleanupInterval(0), WithLogger(slog.New(slog.NewTextHandler(logs, nil))))
	require.NoError(t, err)
	var saveErr error
	r := gin.New()
	r.Use(func(c *gin.Context) {
		c.Next()
		s := Default(c)
		s.Set("seen", "late")
		saveErr = s.Save()
	}, st.Handler())
	r.GET("/", func(c *gin.Context) { c.String(http.StatusOK, "%v", Default(c).Has("x")) })
	rec.Take()
	w := newRecorderRequest(r, "/")
	assert.Equal(t, "false", w.Body.String())
	assert.Empty(t, rec.Take(), "no statement after the middleware returned")
	assert.Contains(t, logs.String(), "used after its middleware returned")
	assert.ErrorIs(t, saveErr, ErrRequestEnded)
}

// A goroutine that outlives its request (holding c.Copy()) and writes to the
// session must be able to tell that nothing was saved, and the log must say
// where it came from.
func TestWriteAfterTheRequestEndedIsReportedToTheCaller(t *testing.T) {
	done := make(chan error, 1)
	release := make(chan struct{})
	a := newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/later/:id", func(c *gin.Context) {
			s := Default(c)
			s.Set("k", "now")
			go func() {
				<-release
				s.Set("k", "later")
				done <- errors.Join(s.Err(), s.Save())
			}()
			c.String(http.StatusOK, "ok")
		})
	})
	cl := a.client()
	require.Equal(t, http.StatusOK, cl.get("/later/7").StatusCode)
	close(release)
	err := <-done
	assert.ErrorIs(t, err, ErrRequestEnded)
	assert.Equal(t, "now", cl.get("/get?k=k").body, "the late write changed nothing")
	logs := a.logs.String()
	assert.Contains(t, logs, "used after its middleware returned")
	assert.Contains(t, logs, "route=/later/:id")
	assert.Contains(t, logs, "path=/later/7")
}

// A Session is safe for concurrent use within its request, even from a
// goroutine holding c.Copy(): a failure there must not touch Gin's handler
// chain, which the request's goroutine is walking (run with -race).
func TestFailureFromACopiedContextGoroutineDoesNotRaceTheChain(t *testing.T) {
	var wg sync.WaitGroup
	a := newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/background", func(c *gin.Context) {
			cp := c.Copy()
			wg.Go(func() {
				Default(cp).Set("bad", make(chan int)) // fails: not encodable
			})
			c.Next()
		}, func(c *gin.Context) {
			c.String(http.StatusOK, "next handler")
		})
	})
	for range 20 {
		a.client().get("/background")
	}
	wg.Wait()
}

// A handler that meets the error through Save answers for itself, even
// when the failed Set was the session's very first use.
func TestAnUnencodableFirstSetHandledThroughSaveLetsTheHandlerAnswer(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/bad-first", func(c *gin.Context) {
			s := Default(c)
			s.Set("events", make(chan int)) // before anything loaded the session
			if err := s.Save(); err != nil {
				c.String(http.StatusBadRequest, "not saved: %v", errors.Is(err, ErrEncode))
				return
			}
			c.String(http.StatusOK, "saved")
		})
	})
	resp := a.client().get("/bad-first")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Equal(t, "not saved: true", resp.body)
	assert.Nil(t, resp.sessionCookie())
	assert.Empty(t, a.rows())
}
