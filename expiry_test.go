package ginsession

import (
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// expiryRoutes sign in with or without "remember me", set a session's own
// expiry and report it.
func expiryRoutes(a **app) func(r *gin.Engine) {
	return func(r *gin.Engine) {
		deviceRoutes(a)(r)
		r.GET("/signin", func(c *gin.Context) {
			s := Default(c)
			s.Login(c.Query("u"))
			if r, ok := c.GetQuery("remember"); ok {
				s.RememberMe(r == "1")
			}
			c.String(http.StatusOK, "signed in")
		})
		r.GET("/own", func(c *gin.Context) {
			s := Default(c)
			if v := c.Query("idle"); v != "" {
				secs, _ := strconv.Atoi(v)
				s.SetIdleTimeout(time.Duration(secs) * time.Second)
			}
			if v := c.Query("deadline"); v != "" {
				d, _ := time.Parse(time.RFC3339, v)
				s.SetDeadline(d)
			}
			s.Set("own", true)
			c.String(http.StatusOK, "set")
		})
		r.GET("/expiry", func(c *gin.Context) { c.JSON(http.StatusOK, Default(c).Expiry()) })
	}
}

func (c *client) expiry() Expiry {
	c.t.Helper()
	resp := c.get("/expiry")
	require.Equal(c.t, http.StatusOK, resp.StatusCode, resp.body)
	var e Expiry
	require.NoError(c.t, json.Unmarshal([]byte(resp.body), &e))
	return e
}

func TestRememberMeChoosesThePersistentCookieOrTheBrowserSessionOne(t *testing.T) {
	for _, tc := range []struct {
		name       string
		query      string
		window     time.Duration
		persistent bool
		remembered bool
	}{
		{"remembered", "&remember=1", DefaultRememberTimeout, true, true},
		{"browser session", "&remember=0", DefaultBrowserSessionTimeout, false, false},
		{"store default", "", DefaultIdleTimeout, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a *app
			a = newApp(t, expiryRoutes(&a))
			cl := a.client()
			cl.get("/set?k=v") // an anonymous visit first
			resp := cl.get("/signin?u=alice" + tc.query)
			require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
			ck := resp.sessionCookie()
			require.NotNil(t, ck)
			if tc.persistent {
				assert.Equal(t, int(tc.window/time.Second), ck.MaxAge)
			} else {
				assert.Zero(t, ck.MaxAge, "no Max-Age: the browser drops it when it closes")
				assert.Empty(t, ck.RawExpires)
			}
			rows := a.rows()
			require.Len(t, rows, 1)
			assert.WithinDuration(t, a.clock.Now().Add(tc.window), rows[0].ExpiresAt, time.Second)

			e := cl.expiry()
			assert.Equal(t, tc.window, e.IdleTimeout)
			assert.Equal(t, tc.persistent, e.Persistent)
			assert.Equal(t, tc.remembered, e.Remembered)
			assert.WithinDuration(t, a.clock.Now().Add(tc.window), e.ExpiresAt, time.Second)

			devices := cl.devices()
			require.Len(t, devices, 1)
			assert.Equal(t, tc.remembered, devices[0].Remembered, "the devices page tells remembered sessions")
		})
	}
}

// The choice is stored with the session: every instance's sliding refresh
// keeps the session's own window, and never pulls it back to the store's.
func TestSlidingRefreshKeepsTheSessionsOwnWindowOnEveryInstance(t *testing.T) {
	var a *app
	a = newApp(t, expiryRoutes(&a))
	var b *app
	b = newAppOn(t, a.db, a.rec, expiryRoutes(&b)) // a second instance
	cl := a.client()
	require.Equal(t, http.StatusOK, cl.get("/signin?u=alice&remember=0").StatusCode)

	// Past a tenth of the two-hour window, on the other instance (the jar
	// sends the cookie to both: cookies ignore the port).
	a.clock.Advance(30 * time.Minute)
	b.clock.Advance(30 * time.Minute)
	other := &client{t: t, a: b, jar: cl.jar, hc: cl.hc}
	resp := other.get("/whoami")
	require.Equal(t, "alice", resp.body)
	ck := resp.sessionCookie()
	require.NotNil(t, ck, "the expiry moved, and the cookie with it")
	assert.Zero(t, ck.MaxAge, "still a browser-session cookie")
	rows := a.rows()
	require.Len(t, rows, 1)
	assert.WithinDuration(t, b.clock.Now().Add(DefaultBrowserSessionTimeout), rows[0].ExpiresAt, time.Second,
		"two hours from now, not the store's two weeks")

	// Idle for longer than its window: gone, though the store's is longer.
	a.clock.Advance(DefaultBrowserSessionTimeout + time.Minute)
	assert.Empty(t, cl.get("/whoami").body, "signed out after two idle hours")
}

func TestSessionsOwnIdleTimeoutAndDeadlineAreStoredAndHonoured(t *testing.T) {
	var a *app
	a = newApp(t, expiryRoutes(&a))
	cl := a.client()
	deadline := a.clock.Now().Add(30 * time.Minute).UTC()
	resp := cl.get("/own?idle=600&deadline=" + deadline.Format(time.RFC3339))
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	rows := a.rows()
	require.Len(t, rows, 1)
	assert.Equal(t, int64(600), rows[0].IdleTimeout)
	require.True(t, rows[0].Deadline.Valid)
	assert.True(t, deadline.Equal(rows[0].Deadline.Time.UTC()), "%v", rows[0].Deadline.Time)
	assert.WithinDuration(t, a.clock.Now().Add(10*time.Minute), rows[0].ExpiresAt, time.Second)
	assert.Equal(t, 600, resp.sessionCookie().MaxAge)

	e := cl.expiry()
	assert.Equal(t, 10*time.Minute, e.IdleTimeout)
	assert.True(t, deadline.Equal(e.Deadline))

	// Used every five minutes, it slides ten minutes at a time...
	for range 4 {
		a.clock.Advance(5 * time.Minute)
		require.Equal(t, "own", cl.get("/keys").body)
	}
	rows = a.rows()
	assert.WithinDuration(t, a.clock.Now().Add(10*time.Minute), rows[0].ExpiresAt, time.Second)
	// ...but never past its deadline.
	a.clock.Advance(8 * time.Minute) // 28 minutes in
	require.Equal(t, "own", cl.get("/keys").body)
	assert.True(t, deadline.Equal(a.rows()[0].ExpiresAt.UTC()), "capped at the deadline")
	a.clock.Advance(3 * time.Minute)
	assert.Empty(t, cl.get("/keys").body, "ended at its deadline")

	// Back to the store's window with SetIdleTimeout(0).
	cl2 := a.client()
	cl2.get("/own?idle=600")
	cl2.get("/own?idle=0")
	assert.Equal(t, DefaultIdleTimeout, cl2.expiry().IdleTimeout)
}

func TestANegativeIdleTimeoutFailsTheRequestAndSavesNothing(t *testing.T) {
	var a *app
	a = newApp(t, expiryRoutes(&a))
	resp := a.client().get("/own?idle=-5")
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.Empty(t, a.rows())
	assert.Contains(t, a.logs.String(), "idle timeout -5s is negative")
}

// Sign-in is a fresh start: the devices page shows when the user signed
// in, not when the anonymous visit began, and the absolute lifetime counts
// from it (OWASP).
func TestLoginRestartsTheSignedInTimeAndTheAbsoluteLifetime(t *testing.T) {
	var a *app
	a = newApp(t, expiryRoutes(&a), WithLifetime(time.Hour))
	cl := a.client()
	visit := a.clock.Now()
	cl.get("/set?k=v")
	a.clock.Advance(50 * time.Minute)
	signIn := a.clock.Now()
	require.Equal(t, http.StatusOK, cl.get("/signin?u=alice").StatusCode)

	devices := cl.devices()
	require.Len(t, devices, 1)
	assert.WithinDuration(t, visit, devices[0].CreatedAt, time.Second)
	assert.WithinDuration(t, signIn, devices[0].SignedInAt, time.Second, "signed in at login")
	assert.True(t, signIn.Add(time.Hour).Equal(cl.expiry().Deadline), "the lifetime counts from sign-in")

	a.clock.Advance(40 * time.Minute) // 90 minutes after the visit began
	assert.Equal(t, "alice", cl.get("/whoami").body, "still signed in: the hour counts from sign-in")

	// Signing in again restarts it again.
	a.clock.Advance(10 * time.Minute)
	again := a.clock.Now()
	require.Equal(t, http.StatusOK, cl.get("/signin?u=alice").StatusCode)
	assert.WithinDuration(t, again, cl.devices()[0].SignedInAt, time.Second)
	a.clock.Advance(59 * time.Minute)
	assert.Equal(t, "alice", cl.get("/whoami").body)
	a.clock.Advance(2 * time.Minute)
	assert.Empty(t, cl.get("/whoami").body, "an hour after the last sign-in it is over")
}

func TestMigrationAddsTheExpiryColumnsToAnOldTable(t *testing.T) {
	db, rec := openDB(t)
	require.NoError(t, db.Table(DefaultTableName).AutoMigrate(&testkit.LegacyModel{}))
	token, id := newToken()
	now := newClock().Now().UTC()
	require.NoError(t, db.Table(DefaultTableName).Create(&testkit.LegacyModel{ID: id, Data: `{"values":{"k":"kept"}}`,
		UserID: "alice", ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now, Version: 1}).Error)

	var a *app
	a = newAppOn(t, db, rec, expiryRoutes(&a))
	for _, col := range []string{"signed_in_at", "idle_timeout", "deadline", "flags"} {
		assert.True(t, db.Migrator().HasColumn(DefaultTableName, col), col)
	}
	cl := a.client()
	cl.setCookie(token)
	assert.Equal(t, "kept", cl.get("/get?k=k").body)
	devices := cl.devices()
	require.Len(t, devices, 1)
	assert.WithinDuration(t, now, devices[0].SignedInAt, time.Second, "an old row's sign-in is its creation")
	assert.False(t, devices[0].Remembered)
	require.Equal(t, http.StatusOK, cl.get("/signin?u=alice&remember=1").StatusCode)
	assert.True(t, cl.expiry().Remembered)
}

// A read that loaded the session before another request changed how it
// expires must not move the expiry by the policy it saw: it would undo a
// deadline, or turn a browser session back into a remembered one.
func TestAReadThatSawTheOldPolicyDoesNotUndoAConcurrentChange(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(now time.Time) string
		window time.Duration // from now, what the row must keep
	}{
		{"deadline", func(now time.Time) string { return "/own?deadline=" + now.Add(time.Hour).Format(time.RFC3339) }, time.Hour},
		{"browser session", func(time.Time) string { return "/remember?r=0" }, DefaultBrowserSessionTimeout},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := newGate()
			var a *app
			a = newApp(t, func(r *gin.Engine) {
				expiryRoutes(&a)(r)
				r.GET("/remember", func(c *gin.Context) {
					Default(c).RememberMe(c.Query("r") == "1")
					c.Status(http.StatusNoContent)
				})
				r.GET("/slow-whoami", gated(g, func(c *gin.Context, s *Session) { c.String(http.StatusOK, s.UserID()) }))
			})
			cl := a.client()
			require.Equal(t, http.StatusOK, cl.get("/signin?u=alice&remember=1").StatusCode)
			a.clock.Advance(4 * 24 * time.Hour) // past a tenth of 30 days: reads move the expiry

			wait := startSlow(cl, g, "/slow-whoami") // reads the remembered policy, then waits
			other := a.client()
			other.setCookie(cl.cookie())
			resp := other.get(tc.change(a.clock.Now()))
			require.Less(t, resp.StatusCode, 300, resp.body)
			slow := wait()
			assert.Equal(t, "alice", slow.body)
			if ck := slow.sessionCookie(); ck != nil {
				assert.LessOrEqual(t, ck.MaxAge, int(tc.window/time.Second), "no thirty-day cookie")
			}

			rows := a.rows()
			require.Len(t, rows, 1)
			assert.WithinDuration(t, a.clock.Now().Add(tc.window), rows[0].ExpiresAt, time.Second,
				"the change stands, not the thirty days the slow read saw")
			a.clock.Advance(tc.window + time.Minute)
			assert.Empty(t, cl.get("/whoami").body, "over when the change said")
		})
	}
}

// Two requests that change different parts of how a session expires both
// keep their change, whichever saves first.
func TestConcurrentExpiryChangesMergePartByPart(t *testing.T) {
	for _, slowPath := range []string{"/slow-idle", "/slow-forget"} {
		t.Run(slowPath, func(t *testing.T) {
			g := newGate()
			var a *app
			a = newApp(t, func(r *gin.Engine) {
				expiryRoutes(&a)(r)
				r.GET("/slow-idle", gated(g, func(c *gin.Context, s *Session) {
					s.SetIdleTimeout(10 * time.Minute)
					c.Status(http.StatusNoContent)
				}))
				r.GET("/slow-forget", gated(g, func(c *gin.Context, s *Session) {
					s.RememberMe(false)
					c.Status(http.StatusNoContent)
				}))
			})
			cl := a.client()
			require.Equal(t, http.StatusOK, cl.get("/signin?u=alice&remember=1").StatusCode)
			deadline := a.clock.Now().Add(5 * time.Hour).UTC()
			wait := startSlow(cl, g, slowPath)
			other := a.client()
			other.setCookie(cl.cookie())
			require.Equal(t, http.StatusOK, other.get("/own?deadline="+deadline.Format(time.RFC3339)).StatusCode)
			require.Equal(t, http.StatusNoContent, wait().StatusCode)

			e := cl.expiry()
			assert.True(t, deadline.Equal(e.Deadline), "the other request's deadline survives: %v", e.Deadline)
			if slowPath == "/slow-idle" {
				assert.Equal(t, 10*time.Minute, e.IdleTimeout)
				assert.True(t, e.Remembered, "still remembered")
			} else {
				assert.Equal(t, DefaultBrowserSessionTimeout, e.IdleTimeout)
				assert.False(t, e.Remembered)
				assert.False(t, e.Persistent)
			}
		})
	}
}

// What Expiry reports in the request that signs in is what the save
// makes of it: the lifetime counts from this sign-in.
func TestExpiryInTheSignInRequestCountsFromTheSignIn(t *testing.T) {
	var a *app
	a = newApp(t, func(r *gin.Engine) {
		expiryRoutes(&a)(r)
		r.GET("/signin-expiry", func(c *gin.Context) {
			s := Default(c)
			s.Login(c.Query("u"))
			c.JSON(http.StatusOK, s.Expiry())
		})
	}, WithLifetime(time.Hour), WithIdleTimeout(2*time.Hour))
	for _, first := range []string{"/set?k=v", ""} { // after an anonymous visit, and as the first request
		cl := a.client()
		if first != "" {
			cl.get(first)
			a.clock.Advance(50 * time.Minute)
		}
		resp := cl.get("/signin-expiry?u=alice")
		require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
		var e Expiry
		require.NoError(t, json.Unmarshal([]byte(resp.body), &e))
		want := a.clock.Now().Add(time.Hour)
		assert.True(t, want.Equal(e.Deadline), "%q first: deadline %v, want %v", first, e.Deadline, want)
		assert.Equal(t, e.Deadline, cl.expiry().Deadline, "what the next request sees")
		if first != "" {
			assert.True(t, want.Equal(e.ExpiresAt), "expires with the new lifetime: %v", e.ExpiresAt)
		}
	}
}

// A store whose lifetime was shortened does not honour rows written under
// the longer one.
func TestAShortenedLifetimeEndsOlderSessions(t *testing.T) {
	var a *app
	a = newApp(t, expiryRoutes(&a), WithLifetime(24*time.Hour))
	cl := a.client()
	require.Equal(t, http.StatusOK, cl.get("/signin?u=alice").StatusCode)
	a.clock.Advance(2 * time.Hour)
	var b *app
	b = newAppOn(t, a.db, a.rec, expiryRoutes(&b), WithLifetime(time.Hour)) // redeployed with an hour
	b.clock.Advance(2 * time.Hour)
	other := b.client()
	other.setCookie(cl.cookie())
	assert.Empty(t, other.get("/whoami").body, "signed in two hours ago: past the new hour")
	assert.Equal(t, "alice", cl.get("/whoami").body, "the old instance still honours its own day")
}

// "Sign out, keep the cart": unbinding the user keeps the session, and the
// lifetime still counts from the last sign-in, as Expiry says.
func TestUnbindingTheUserKeepsTheSessionUntilItsLifetimeEnds(t *testing.T) {
	var a *app
	a = newApp(t, func(r *gin.Engine) {
		expiryRoutes(&a)(r)
		r.GET("/unbind", func(c *gin.Context) {
			s := Default(c)
			s.SetUserID("")
			c.JSON(http.StatusOK, s.Expiry())
		})
	}, WithLifetime(time.Hour))
	cl := a.client()
	cl.get("/set?cart=tea")
	a.clock.Advance(50 * time.Minute)
	require.Equal(t, http.StatusOK, cl.get("/signin?u=alice").StatusCode)
	a.clock.Advance(40 * time.Minute) // 90 minutes after creation, 40 after sign-in
	require.Equal(t, "tea", cl.get("/get?k=cart").body)

	resp := cl.get("/unbind")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	end := a.clock.Now().Add(20 * time.Minute) // an hour after the sign-in: unbinding does not extend it
	var e Expiry
	require.NoError(t, json.Unmarshal([]byte(resp.body), &e))
	assert.True(t, end.Equal(e.Deadline), "Expiry: deadline %v, want %v", e.Deadline, end)
	a.clock.Advance(time.Minute)
	assert.Equal(t, "tea", cl.get("/get?k=cart").body, "the cart outlives the sign-out")
	assert.Empty(t, cl.get("/whoami").body)
	a.clock.Advance(20 * time.Minute)
	assert.Equal(t, http.StatusNotFound, cl.get("/get?k=cart").StatusCode, "over when Expiry said")
}
