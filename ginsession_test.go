package ginsession

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"html/template"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestQuickstartLoginThenProfileGreetsUser(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/login", func(c *gin.Context) {
			s := Default(c)
			s.RenewID()
			s.Set("username", "Alice")
			c.String(http.StatusOK, "Logged in as Alice")
		})
		r.GET("/profile", func(c *gin.Context) {
			name, _ := Get[string](Default(c), "username")
			c.String(http.StatusOK, "Hello, %s", name)
		})
	})
	cl := a.client()
	login := cl.get("/login")
	assert.Equal(t, "Logged in as Alice", login.body)
	require.NotNil(t, login.sessionCookie())
	assert.Equal(t, "Hello, Alice", cl.get("/profile").body)
	assert.Equal(t, "Hello, ", a.client().get("/profile").body, "another browser has no session")
}

func TestStatementsPerRequest(t *testing.T) {
	a := newApp(t, basicRoutes)
	cl := a.client()

	resp := cl.get("/set?k=v")
	assert.Equal(t, []string{"INSERT"}, kinds(resp.stmts), "new session")

	resp = cl.get("/none")
	assert.Empty(t, resp.stmts, "route that never touches the session, cookie sent")
	assert.Empty(t, resp.Header.Values("Vary"))

	resp = cl.get("/get?k=k")
	assert.Equal(t, "v", resp.body)
	assert.Equal(t, []string{"SELECT"}, kinds(resp.stmts), "read-only")
	assert.Contains(t, resp.stmts[0], "id = ?")
	assert.Nil(t, resp.sessionCookie(), "a read sends no cookie")

	resp = cl.get("/set?k=w")
	assert.Equal(t, []string{"SELECT", "UPDATE"}, kinds(resp.stmts), "write to an existing session, no transaction")
	assert.Contains(t, resp.stmts[1], "version = ?")

	resp = cl.get("/destroy")
	assert.Equal(t, []string{"DELETE"}, kinds(resp.stmts), "Destroy without reading")

	resp = a.client().get("/get?k=k")
	assert.Empty(t, resp.stmts, "a read without a cookie runs nothing")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

func TestUntouchedRouteSetsNoCookieAndNoVary(t *testing.T) {
	a := newApp(t, basicRoutes)
	resp := a.client().get("/none")
	assert.Equal(t, "untouched", resp.body)
	assert.Nil(t, resp.sessionCookie())
	assert.Empty(t, resp.Header.Values("Vary"))
	assert.Empty(t, a.rows())
}

func TestSessionIsSavedBeforeHeadersForEveryKindOfResponse(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "hello.txt")
	require.NoError(t, os.WriteFile(file, []byte("file body"), 0o600))
	responders := map[string]func(c *gin.Context){
		"json":     func(c *gin.Context) { c.JSON(http.StatusOK, gin.H{"ok": true}) },
		"string":   func(c *gin.Context) { c.String(http.StatusOK, "text") },
		"redirect": func(c *gin.Context) { c.Redirect(http.StatusFound, "/elsewhere") },
		"html":     func(c *gin.Context) { c.HTML(http.StatusOK, "page", gin.H{"Name": "Alice"}) },
		"data":     func(c *gin.Context) { c.Data(http.StatusOK, "application/octet-stream", []byte{1, 2}) },
		"file":     func(c *gin.Context) { c.File(file) },
		"nothing":  func(c *gin.Context) {},
		"status":   func(c *gin.Context) { c.Status(http.StatusNoContent) },
		"sse":      func(c *gin.Context) { c.SSEvent("message", "hi") },
		"stream": func(c *gin.Context) {
			n := 0
			c.Stream(func(w io.Writer) bool {
				n++
				_, _ = w.Write([]byte("chunk"))
				return n < 3
			})
		},
		"writer": func(c *gin.Context) {
			c.Writer.WriteHeader(http.StatusAccepted)
			_, _ = c.Writer.WriteString("raw")
		},
		"flush": func(c *gin.Context) { c.Writer.Flush() },
	}
	a := newApp(t, func(r *gin.Engine) {
		r.SetHTMLTemplate(template.Must(template.New("page").Parse(`<p>Hi {{.Name}}</p>`)))
		r.GET("/kind/:kind", func(c *gin.Context) {
			Default(c).Set("kind", c.Param("kind"))
			responders[c.Param("kind")](c)
		})
		basicRoutes(r)
	})
	for kind := range responders {
		t.Run(kind, func(t *testing.T) {
			cl := a.client()
			resp := cl.get("/kind/" + kind)
			require.Less(t, resp.StatusCode, 400, resp.body)
			ck := resp.sessionCookie()
			require.NotNil(t, ck, "the response carries the session cookie")
			assert.Equal(t, kind, cl.get("/get?k=kind").body, "the next request reads the saved value")
		})
	}
}

func TestStreamingResponseIsSavedBeforeFirstByte(t *testing.T) {
	release := make(chan struct{})
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/stream", func(c *gin.Context) {
			Default(c).Set("started", "yes")
			c.Writer.WriteHeader(http.StatusOK)
			_, _ = c.Writer.WriteString("first\n")
			c.Writer.Flush()
			<-release
			_, _ = c.Writer.WriteString("second\n")
		})
	})
	resp, err := a.client().hc.Get(a.srv.URL + "/stream")
	require.NoError(t, err)
	defer resp.Body.Close()
	line := make([]byte, len("first\n"))
	_, err = io.ReadFull(resp.Body, line)
	require.NoError(t, err)
	rows := a.rows()
	require.Len(t, rows, 1, "the row exists while the body is still streaming")
	assert.Contains(t, rows[0].Data, `"started":"yes"`)
	assert.NotNil(t, (response{Response: resp}).sessionCookie())
	close(release)
	rest, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, "second\n", string(rest))
}

func TestChangeWhileStreamingIsSavedAfterTheChain(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/late", func(c *gin.Context) {
			s := Default(c)
			_ = s.Keys() // load before streaming
			c.String(http.StatusOK, "streamed")
			s.Set("late", "kept")
		})
	})
	cl := a.client()
	cl.get("/set?a=1")
	assert.Equal(t, "streamed", cl.get("/late").body)
	assert.Equal(t, "kept", cl.get("/get?k=late").body)
}

func TestNewSessionAfterHeadersIsReportedNotDroppedSilently(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/late", func(c *gin.Context) {
			c.String(http.StatusOK, "streamed")
			Default(c).Set("late", "lost")
		})
	})
	resp := a.client().get("/late")
	assert.Equal(t, "streamed", resp.body)
	assert.Nil(t, resp.sessionCookie())
	assert.Empty(t, a.rows(), "no row nobody can reach")
	errs := a.errors()
	require.Len(t, errs, 1)
	assert.Contains(t, errs[0], ErrCookieNotSent.Error())
	assert.Contains(t, a.logs.String(), "response headers already sent")
}

// A renewal that can no longer reach the browser must not leave this
// request's changes saved under the old ID: that ID may be an attacker's.
func TestRenewAfterHeadersSavesNothingAndTellsTheHandler(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/late-renew", func(c *gin.Context) {
			s := Default(c)
			s.Set("before", "1") // saved as the headers go out, before any renewal
			c.String(http.StatusOK, "streamed ")
			c.Writer.Flush()
			s.RenewID()
			s.Set("b", "2")
			c.String(http.StatusOK, "err=%v", errors.Is(s.Err(), ErrCookieNotSent))
		})
	})
	cl := a.client()
	cl.get("/set?a=1")
	before := cl.cookie()
	assert.Equal(t, "streamed err=true", cl.get("/late-renew").body, "the handler can tell before it reports success")
	assert.Equal(t, before, cl.cookie())
	assert.Equal(t, "a,before", cl.get("/keys").body, "nothing changed after the failed renewal was saved under the old ID")
	assert.Contains(t, a.logs.String(), "RenewID after the headers went out")
	require.Len(t, a.errors(), 1)
	assert.Contains(t, a.errors()[0], ErrCookieNotSent.Error())
}

// A login that waits on a stream ("approve on your phone") and signs in after
// the first flush must not sign in the ID the attacker planted.
func TestLoginAfterTheFirstFlushDoesNotSignInAPlantedID(t *testing.T) {
	var a *app
	a = newApp(t, func(r *gin.Engine) {
		deviceRoutes(&a)(r)
		r.GET("/approve", func(c *gin.Context) {
			s := Default(c)
			c.SSEvent("status", "waiting for your phone")
			c.Writer.Flush()
			s.Login("victim")
			s.Set("role", "admin")
			if err := s.Err(); err != nil {
				c.SSEvent("status", "failed: sign in again")
				return
			}
			c.SSEvent("status", "signed in")
		})
	})
	attacker := a.client()
	attacker.get("/set?k=planted")
	victim := a.client()
	victim.setCookie(attacker.cookie()) // fixation: the victim's browser carries the attacker's ID
	resp := victim.get("/approve")
	assert.Contains(t, resp.body, "failed: sign in again")
	assert.NotContains(t, resp.body, "signed in")
	assert.Empty(t, attacker.get("/whoami").body, "the attacker's cookie is not signed in as the victim")
	assert.Equal(t, http.StatusNotFound, attacker.get("/get?k=role").StatusCode)
	assert.Empty(t, victim.get("/whoami").body)
}

func TestReadOnlyRequestsDoNotWrite(t *testing.T) {
	a := newApp(t, basicRoutes)
	cl := a.client()
	cl.get("/set?k=v")
	version := a.rows()[0].Version
	for range 5 {
		a.clock.Advance(time.Hour)
		resp := cl.get("/get?k=k")
		assert.Equal(t, []string{"SELECT"}, kinds(resp.stmts))
		assert.Nil(t, resp.sessionCookie())
	}
	assert.Equal(t, version, a.rows()[0].Version)
}

func TestIdleExpiryMovesOnlyAfterATenthOfTheWindow(t *testing.T) {
	a := newApp(t, basicRoutes, WithIdleTimeout(10*time.Hour))
	cl := a.client()
	cl.get("/set?k=v")
	first := a.rows()[0].ExpiresAt

	a.clock.Advance(59 * time.Minute)
	resp := cl.get("/get?k=k")
	assert.Equal(t, []string{"SELECT"}, kinds(resp.stmts), "under a tenth: no write")
	assert.Nil(t, resp.sessionCookie())

	a.clock.Advance(2 * time.Minute)
	resp = cl.get("/get?k=k")
	assert.Equal(t, []string{"SELECT", "UPDATE"}, kinds(resp.stmts), "past a tenth: one write")
	ck := resp.sessionCookie()
	require.NotNil(t, ck, "the cookie is refreshed with the expiry")
	assert.Equal(t, 10*3600, ck.MaxAge)
	assert.Equal(t, cl.cookie(), ck.Value, "same ID")
	moved := a.rows()[0].ExpiresAt
	assert.Equal(t, 61*time.Minute, moved.Sub(first))

	// A session used within its idle window lives on past the first deadline.
	for range 3 {
		a.clock.Advance(6 * time.Hour)
		assert.Equal(t, "v", cl.get("/get?k=k").body)
	}
}

func TestIdleSessionExpires(t *testing.T) {
	a := newApp(t, basicRoutes, WithIdleTimeout(time.Hour))
	cl := a.client()
	cl.get("/set?k=v")
	old := cl.cookie()
	a.clock.Advance(time.Hour + time.Second)
	assert.Equal(t, http.StatusNotFound, cl.get("/get?k=k").StatusCode, "an expired row is never returned")
	cl.get("/set?k=new")
	assert.NotEqual(t, old, cl.cookie(), "an expired ID is not adopted")
}

func TestAbsoluteLifetimeEndsAnActiveSession(t *testing.T) {
	a := newApp(t, basicRoutes, WithLifetime(3*time.Hour), WithIdleTimeout(2*time.Hour))
	cl := a.client()
	cl.get("/set?k=v")
	for range 2 {
		a.clock.Advance(80 * time.Minute)
		require.Equal(t, "v", cl.get("/get?k=k").body)
	}
	a.clock.Advance(10 * time.Minute)
	resp := cl.get("/renew")
	ck := resp.sessionCookie()
	require.NotNil(t, ck)
	assert.Equal(t, 10*60, ck.MaxAge, "the cookie never outlives the absolute deadline")
	a.clock.Advance(11 * time.Minute)
	assert.Equal(t, http.StatusNotFound, cl.get("/get?k=k").StatusCode)
}

func TestDefaultCookieAttributes(t *testing.T) {
	a := newApp(t, basicRoutes)
	resp := a.client().get("/set?k=v")
	ck := resp.sessionCookie()
	require.NotNil(t, ck)
	assert.True(t, ck.HttpOnly)
	assert.False(t, ck.Secure, "plain HTTP")
	assert.Equal(t, http.SameSiteLaxMode, ck.SameSite)
	assert.Equal(t, "/", ck.Path)
	assert.Equal(t, int(DefaultIdleTimeout/time.Second), ck.MaxAge)
	assert.Contains(t, resp.Header.Values("Vary"), "Cookie")
}

func TestCookieOptions(t *testing.T) {
	a := newApp(t, basicRoutes,
		WithCookieName("sid"), WithCookiePath("/app"), WithCookieDomain("example.test"),
		WithSameSite(http.SameSiteStrictMode), WithSecure(true), WithPersistentCookie(false))
	resp := a.client().get("/set?k=v")
	raw := resp.Header.Get("Set-Cookie")
	assert.True(t, strings.HasPrefix(raw, "sid="), raw)
	for _, attr := range []string{"Path=/app", "Domain=example.test", "HttpOnly", "Secure", "SameSite=Strict"} {
		assert.Contains(t, raw, attr)
	}
	assert.NotContains(t, raw, "Max-Age", "a browser-session cookie")
}

// A partitioned cookie exists for a third-party iframe, which only ever
// gets SameSite=None cookies.
func TestPartitionedCookieIsSecureAndSameSiteNone(t *testing.T) {
	for _, opts := range [][]Option{
		{WithPartitioned(true)},
		{WithPartitioned(true), WithSameSite(http.SameSiteNoneMode)},
	} {
		a := newApp(t, basicRoutes, opts...)
		raw := a.client().get("/set?k=v").Header.Get("Set-Cookie")
		for _, attr := range []string{"Secure", "SameSite=None", "Partitioned"} {
			assert.Contains(t, raw, attr)
		}
	}
}

func TestSecureAttribute(t *testing.T) {
	cases := []struct {
		name   string
		tls    bool
		opts   []Option
		secure bool
	}{
		{"plain HTTP", false, nil, false},
		{"TLS", true, nil, true},
		{"TLS, WithSecure(false)", true, []Option{WithSecure(false)}, false},
		{"plain HTTP, WithSecure(true)", false, []Option{WithSecure(true)}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			db, _ := openDB(t)
			st, err := NewStore(db, append(tc.opts, WithCleanupInterval(0))...)
			require.NoError(t, err)
			r := gin.New()
			r.Use(st.Handler())
			basicRoutes(r)
			srv := serve(t, r, tc.tls)
			resp, err := srv.Client().Get(srv.URL + "/set?k=v")
			require.NoError(t, err)
			resp.Body.Close()
			ck := response{Response: resp}.sessionCookie()
			require.NotNil(t, ck)
			assert.Equal(t, tc.secure, ck.Secure)
		})
	}
}

func TestDestroyDeletesRowAndExpiresCookie(t *testing.T) {
	a := newApp(t, basicRoutes)
	cl := a.client()
	cl.get("/set?k=v")
	old := cl.cookie()
	resp := cl.get("/destroy")
	ck := resp.sessionCookie()
	require.NotNil(t, ck)
	assert.Equal(t, -1, ck.MaxAge, "Max-Age=0 expires the cookie")
	assert.Empty(t, a.rows())
	assert.Empty(t, cl.cookie())

	replay := a.client()
	replay.setCookie(old)
	assert.Equal(t, http.StatusNotFound, replay.get("/get?k=k").StatusCode, "the old cookie is dead")
}

func TestSetAfterDestroyStartsNewSession(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/logout", func(c *gin.Context) {
			s := Default(c)
			s.Destroy()
			s.Set("flash", "logged out")
			c.String(http.StatusOK, "ok")
		})
	})
	cl := a.client()
	cl.get("/set?user=alice")
	old := cl.cookie()
	resp := cl.get("/logout")
	assert.Equal(t, []string{"DELETE", "INSERT"}, kinds(resp.stmts))
	require.NotEmpty(t, cl.cookie())
	assert.NotEqual(t, old, cl.cookie())
	assert.Equal(t, "logged out", cl.get("/get?k=flash").body)
	assert.Equal(t, http.StatusNotFound, cl.get("/get?k=user").StatusCode)
	assert.Len(t, a.rows(), 1)
}

func TestRenewIDKeepsDataAndKillsOldID(t *testing.T) {
	a := newApp(t, basicRoutes)
	cl := a.client()
	cl.get("/set?k=v")
	old := cl.cookie()
	resp := cl.get("/renew")
	assert.Equal(t, []string{"SELECT", "UPDATE", "UPDATE"}, kinds(resp.stmts), "renewal is one UPDATE, and one more as the request ends to retire the old ID")
	assert.NotEqual(t, old, cl.cookie())
	assert.Equal(t, "v", cl.get("/get?k=k").body)
	assert.Len(t, a.rows(), 1)

	replay := a.client()
	replay.setCookie(old)
	assert.Equal(t, http.StatusNotFound, replay.get("/get?k=k").StatusCode)
}

func TestTokenIsRandomAndOnlyItsHashIsStored(t *testing.T) {
	a := newApp(t, basicRoutes)
	cl := a.client()
	cl.get("/set?k=v")
	token := cl.cookie()
	raw, err := base64.RawURLEncoding.DecodeString(token)
	require.NoError(t, err)
	assert.Len(t, raw, 32)
	rows := a.rows()
	require.Len(t, rows, 1)
	sum := sha256.Sum256(raw)
	assert.Equal(t, hex.EncodeToString(sum[:]), rows[0].ID)
	assert.NotContains(t, rows[0].ID, token)

	stolen := a.client()
	stolen.setCookie(rows[0].ID[:43])
	assert.Equal(t, http.StatusNotFound, stolen.get("/get?k=k").StatusCode, "a copy of the table is no cookie")
}

func TestMalformedCookiesCostNoQuery(t *testing.T) {
	a := newApp(t, basicRoutes)
	for _, v := range []string{"short", strings.Repeat("A", 42) + "B", strings.Repeat("!", 43), strings.Repeat("A", 44), strings.Repeat("x", 10000)} {
		cl := a.client()
		cl.setCookie(v)
		resp := cl.get("/get?k=k")
		assert.Equal(t, http.StatusNotFound, resp.StatusCode)
		assert.Empty(t, resp.stmts, "cookie %q", v[:min(len(v), 20)])
	}
}

func TestUnknownTokenIsNeverAdopted(t *testing.T) {
	a := newApp(t, basicRoutes)
	forged, _ := newToken()
	cl := a.client()
	cl.setCookie(forged)
	resp := cl.get("/set?k=v")
	assert.Equal(t, []string{"SELECT", "INSERT"}, kinds(resp.stmts))
	assert.NotEqual(t, forged, cl.cookie(), "a fresh ID is issued")
	_, forgedID := parseToken(forged)
	for _, m := range a.rows() {
		assert.NotEqual(t, forgedID, m.ID)
	}
}

func TestDataIsReadableJSONInTheDatabase(t *testing.T) {
	a := newApp(t, basicRoutes)
	a.client().get("/set?username=Alice")
	assert.JSONEq(t, `{"values":{"username":"Alice"}}`, a.rows()[0].Data)
}

func TestDefaultPanicsWithoutMiddleware(t *testing.T) {
	r := gin.New()
	var msg any
	r.GET("/", func(c *gin.Context) {
		defer func() { msg = recover() }()
		Default(c)
	})
	r.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	assert.Contains(t, msg, "r.Use(ginsession.New(db))")
}

func TestFromContextFindsSessionInRequestContext(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/ctx", func(c *gin.Context) {
			s, ok := FromContext(c.Request.Context())
			require.True(t, ok)
			assert.Same(t, Default(c), s)
			s.Set("via", "context")
			c.Status(http.StatusNoContent)
		})
		basicRoutes(r)
	})
	cl := a.client()
	cl.get("/ctx")
	assert.Equal(t, "context", cl.get("/get?k=via").body)
	_, ok := FromContext(httptest.NewRequest(http.MethodGet, "/", nil).Context())
	assert.False(t, ok)
}

func TestModelTableAndIndexes(t *testing.T) {
	for _, name := range []string{DefaultTableName, "my_sessions"} {
		t.Run(name, func(t *testing.T) {
			var opts []Option
			if name != DefaultTableName {
				opts = append(opts, WithTableName(name))
			}
			a := newApp(t, basicRoutes, opts...)
			a.client().get("/set?k=v")
			assert.True(t, a.db.Migrator().HasTable(name))
			for _, col := range []string{"id", "data", "user_id", "expires_at", "created_at", "updated_at", "version"} {
				assert.True(t, a.db.Table(name).Migrator().HasColumn(&Model{}, col), col)
			}
			var indexes []string
			require.NoError(t, a.db.Raw(`SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL`, name).Scan(&indexes).Error)
			joined := strings.Join(indexes, "\n")
			assert.Contains(t, joined, "`user_id`")
			assert.Contains(t, joined, "`expires_at`")
			var count int64
			require.NoError(t, a.db.Table(name).Count(&count).Error)
			assert.EqualValues(t, 1, count)
		})
	}
}

func TestMigrationIsIdempotent(t *testing.T) {
	db, _ := openDB(t)
	for range 3 {
		_, err := NewStore(db)
		require.NoError(t, err)
	}
}

func TestReadOnlyResponseVariesOnCookie(t *testing.T) {
	a := newApp(t, basicRoutes)
	cl := a.client()
	cl.get("/set?k=v")
	resp := cl.get("/get?k=k")
	assert.Equal(t, []string{"Cookie"}, resp.Header.Values("Vary"))
	assert.Empty(t, resp.Header.Get("Cache-Control"), "a read hands out no cookie: caching is the app's call")
}

func TestResponseThatSetsTheCookieIsPrivate(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/public", func(c *gin.Context) {
			c.Header("Cache-Control", "no-store")
			Default(c).Set("k", "v")
			c.Status(http.StatusNoContent)
		})
	})
	assert.Equal(t, "private", a.client().get("/set?k=v").Header.Get("Cache-Control"))
	assert.Equal(t, "no-store", a.client().get("/public").Header.Get("Cache-Control"), "the app's own policy stays")
}

func TestRenewIDCookieKeepsTheRemainingLifetime(t *testing.T) {
	a := newApp(t, basicRoutes)
	cl := a.client()
	cl.get("/set?k=v")
	a.clock.Advance(time.Hour)
	ck := cl.get("/renew").sessionCookie()
	require.NotNil(t, ck)
	assert.Equal(t, int((DefaultIdleTimeout - time.Hour).Seconds()), ck.MaxAge)
}

func TestDestroyAfterReadWithExpiryDueOnlyDeletes(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/logout", func(c *gin.Context) {
			s := Default(c)
			_ = s.UserID()
			s.Destroy()
			c.String(http.StatusOK, "bye")
		})
	}, WithIdleTimeout(10*time.Hour))
	cl := a.client()
	cl.get("/set?k=v")
	a.clock.Advance(2 * time.Hour) // past a tenth: a read would move the expiry
	resp := cl.get("/logout")
	assert.Equal(t, []string{"SELECT", "DELETE"}, kinds(resp.stmts))
	ck := resp.sessionCookie()
	require.NotNil(t, ck)
	assert.Equal(t, -1, ck.MaxAge, "the cookie is expired, not refreshed")
	assert.Empty(t, a.rows())
}

func TestDestroyWithMalformedCookieRunsNothing(t *testing.T) {
	a := newApp(t, basicRoutes)
	cl := a.client()
	cl.setCookie("garbage")
	resp := cl.get("/destroy")
	assert.Empty(t, resp.stmts)
	assert.Nil(t, resp.sessionCookie())
}

func TestWellFormedButUnknownCookieDoesNotHideTheRealOne(t *testing.T) {
	a := newApp(t, basicRoutes)
	owner := a.client()
	owner.get("/set?k=v")
	planted, _ := newToken()
	req, err := http.NewRequest(http.MethodGet, a.srv.URL+"/get?k=k", nil)
	require.NoError(t, err)
	req.Header.Set("Cookie", DefaultCookieName+"="+planted+"; "+DefaultCookieName+"="+owner.cookie())
	a.rec.Take()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, "v", string(body))
	assert.Equal(t, []string{"SELECT"}, kinds(a.rec.Take()), "both looked up in one query")
}

func TestHeadAndNoRouteRequestsSaveToo(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.HEAD("/head", func(c *gin.Context) {
			Default(c).Set("via", "head")
			c.Status(http.StatusOK)
		})
		r.NoRoute(func(c *gin.Context) {
			Default(c).Set("missed", c.Request.URL.Path)
			c.String(http.StatusNotFound, "no such page")
		})
	})
	cl := a.client()
	resp, err := cl.hc.Head(a.srv.URL + "/head")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, "head", cl.get("/get?k=via").body)
	resp2 := cl.get("/nowhere")
	assert.Equal(t, http.StatusNotFound, resp2.StatusCode)
	assert.Equal(t, "/nowhere", cl.get("/get?k=missed").body)
}

func TestCookieHeaderForms(t *testing.T) {
	a := newApp(t, basicRoutes)
	owner := a.client()
	owner.get("/set?k=v")
	token := owner.cookie()
	for _, tc := range []struct {
		header string
		found  bool
	}{
		{DefaultCookieName + "=" + token, true},
		{DefaultCookieName + `="` + token + `"`, true},
		{"a=b; " + DefaultCookieName + " = " + token + " ; c=d", true},
		{DefaultCookieName + "2=" + token, false},
		{"x" + DefaultCookieName + "=" + token, false},
		{DefaultCookieName + "=", false},
		{DefaultCookieName, false},
		{DefaultCookieName + `="` + token, false},
	} {
		req, err := http.NewRequest(http.MethodGet, a.srv.URL+"/get?k=k", nil)
		require.NoError(t, err)
		req.Header.Set("Cookie", tc.header)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if tc.found {
			assert.Equal(t, "v", string(body), "%q", tc.header)
		} else {
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, "%q", tc.header)
		}
	}
}

func TestMigrationUpgradesATableThatHoldsSessions(t *testing.T) {
	db, rec := openDB(t)
	require.NoError(t, db.Table(DefaultTableName).AutoMigrate(&testkit.LegacyModel{}))
	token, id := newToken()
	now := time.Now().UTC()
	require.NoError(t, db.Table(DefaultTableName).Create(&testkit.LegacyModel{ID: id, Data: `{"values":{"k":"kept"}}`,
		ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now, Version: 1}).Error)

	a := newAppOn(t, db, rec, basicRoutes)
	cl := a.client()
	cl.setCookie(token)
	assert.Equal(t, "kept", cl.get("/get?k=k").body)
	cl.get("/set?k=new")
	assert.Equal(t, "new", cl.get("/get?k=k").body)
}

// The middleware installed twice, on the engine and again on a group, must
// give a request one session: one cookie, one row.
func TestMiddlewareInstalledTwiceKeepsOneSession(t *testing.T) {
	db, rec := openDB(t)
	again, err := NewStore(db, WithCleanupInterval(0)) // as when New(db) is called twice
	require.NoError(t, err)
	var a *app
	a = newAppOn(t, db, rec, func(r *gin.Engine) {
		basicRoutes(r)
		// Middleware of the app's own that uses the session before the
		// group's copy of the session middleware runs.
		r.Use(func(c *gin.Context) { Default(c).Set("seen", true) })
		same := func(c *gin.Context) { a.store.Handler()(c) } // the engine's own store, again
		for name, mw := range map[string]gin.HandlerFunc{"same": same, "again": again.Handler()} {
			g := r.Group("/"+name, mw)
			g.GET("/cart", func(c *gin.Context) {
				Default(c).Set("cart", c.Query("v"))
				c.String(http.StatusOK, "added")
			})
			g.GET("/get", func(c *gin.Context) {
				v, _ := Get[string](Default(c), "cart")
				c.String(http.StatusOK, v)
			})
		}
	})
	for _, name := range []string{"same", "again"} {
		t.Run(name, func(t *testing.T) {
			cl := a.client()
			resp := cl.get("/" + name + "/cart?v=apples")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Len(t, resp.Header.Values("Set-Cookie"), 1, "one cookie")
			assert.Equal(t, "apples", cl.get("/"+name+"/get").body, "the next request sees the cart")
			resp = cl.get("/" + name + "/cart?v=pears")
			assert.Equal(t, http.StatusOK, resp.StatusCode, "an existing session is saved once, no conflict with itself")
			assert.Equal(t, "pears", cl.get("/"+name+"/get").body)
		})
	}
	assert.Len(t, a.rows(), 2, "one row per visitor")
}

// A route that never touches its session, and a CSRF refusal, must answer
// without a recovery middleware to catch anything.
func TestUntouchedSessionAfterTheHeadersNeedsNoRecovery(t *testing.T) {
	db, _ := openDB(t)
	st, err := NewStore(db, WithCleanupInterval(0), WithTokenHeader("Authorization"))
	require.NoError(t, err)
	r := gin.New()
	r.Use(st.Handler(), CSRF())
	r.Any("/none", func(c *gin.Context) { c.String(http.StatusOK, "untouched") })
	for _, method := range []string{http.MethodGet, http.MethodPost} {
		w := httptest.NewRecorder()
		assert.NotPanics(t, func() { r.ServeHTTP(w, httptest.NewRequest(method, "/none", nil)) }, method)
		if method == http.MethodGet {
			assert.Equal(t, "untouched", w.Body.String())
		} else {
			assert.Equal(t, http.StatusForbidden, w.Code, "refused by CSRF")
		}
	}
}
