package ginsession

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/gorm"
)

// deviceRoutes are the routes of a "your devices" page.
func deviceRoutes(a **app) func(r *gin.Engine) {
	return func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/login", func(c *gin.Context) {
			s := Default(c)
			s.Login(c.Query("u"))
			s.Set("name", c.Query("u"))
			c.String(http.StatusOK, "hello %s", c.Query("u"))
		})
		r.GET("/whoami", func(c *gin.Context) { c.String(http.StatusOK, Default(c).UserID()) })
		r.GET("/devices", func(c *gin.Context) {
			s := Default(c)
			infos, err := (*a).store.UserSessions(c.Request.Context(), s.UserID())
			if err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			type device struct {
				SessionInfo
				Current bool
			}
			out := []device{}
			for _, info := range infos {
				out = append(out, device{info, info.Handle == s.Handle()})
			}
			c.JSON(http.StatusOK, out)
		})
		r.GET("/signout-others", func(c *gin.Context) {
			n, err := Default(c).DestroyOthers()
			if err != nil {
				c.String(http.StatusBadRequest, err.Error())
				return
			}
			c.String(http.StatusOK, "%d", n)
		})
	}
}

type device struct {
	SessionInfo
	Current bool
}

func (c *client) devices() []device {
	c.t.Helper()
	resp := c.get("/devices")
	require.Equal(c.t, http.StatusOK, resp.StatusCode, resp.body)
	var out []device
	require.NoError(c.t, json.Unmarshal([]byte(resp.body), &out))
	return out
}

func TestLoginRenewsIDAndBindsUser(t *testing.T) {
	var a *app
	a = newApp(t, deviceRoutes(&a))
	cl := a.client()
	cl.get("/set?cart=tea")
	before := cl.cookie()
	resp := cl.get("/login?u=alice")
	assert.Equal(t, []string{"SELECT", "UPDATE", "UPDATE"}, kinds(resp.stmts), "the renewal, then the old ID retired")
	assert.NotEqual(t, before, cl.cookie())
	assert.Equal(t, "alice", cl.get("/whoami").body)
	assert.Equal(t, "tea", cl.get("/get?k=cart").body, "the data stays")
	rows := a.rows()
	require.Len(t, rows, 1)
	assert.Equal(t, "alice", rows[0].UserID)

	fresh := a.client()
	assert.Equal(t, []string{"INSERT"}, kinds(fresh.get("/login?u=bob").stmts), "a first login is one INSERT")
}

func TestUserSessionsListsTheUsersLiveSessionsNewestFirst(t *testing.T) {
	var a *app
	a = newApp(t, deviceRoutes(&a), WithIdleTimeout(time.Hour))
	browsers := make([]*client, 3)
	for i := range browsers {
		browsers[i] = a.client()
		browsers[i].get("/login?u=alice")
		a.clock.Advance(time.Minute)
	}
	a.client().get("/login?u=bob")
	a.client().get("/set?anonymous=1")
	stale := a.client()
	stale.get("/login?u=alice")
	require.NoError(t, a.db.Exec(`UPDATE gin_sessions SET expires_at = ? WHERE id = ?`,
		a.clock.Now().Add(-time.Second).UTC(), a.rows()[len(a.rows())-1].ID).Error)

	list := browsers[1].devices()
	require.Len(t, list, 3, "alice's live sessions only")
	for i, d := range list {
		assert.Equal(t, "alice", d.UserID)
		assert.Len(t, d.Handle, 64)
		assert.Equal(t, i == 1, d.Current, "entry %d", i)
		if i > 0 {
			assert.True(t, list[i-1].CreatedAt.After(d.CreatedAt), "newest first")
		}
		assert.Empty(t, d.UserAgent, "not recorded unless asked")
		assert.Empty(t, d.ClientIP)
	}
	for _, d := range list {
		assert.NotEqual(t, browsers[0].cookie(), d.Handle, "a handle is not a cookie")
	}
	infos, err := a.store.UserSessions(t.Context(), "")
	require.NoError(t, err)
	assert.Empty(t, infos, "no user, no sessions")
}

func TestUserAgentAndClientIPAreRecordedOnlyWhenAsked(t *testing.T) {
	var a *app
	a = newApp(t, deviceRoutes(&a), WithRecordUserAgent(true), WithRecordClientIP(true))
	cl := a.client()
	req, err := http.NewRequest(http.MethodGet, a.srv.URL+"/login?u=alice", nil)
	require.NoError(t, err)
	req.Header.Set("User-Agent", "TestBrowser/1.0 "+strings.Repeat("é", 400))
	resp, err := cl.hc.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	list := cl.devices()
	require.Len(t, list, 1)
	assert.Equal(t, "127.0.0.1", list[0].ClientIP)
	assert.LessOrEqual(t, len(list[0].UserAgent), 512, "cut to fit its column")
	assert.True(t, utf8.ValidString(list[0].UserAgent), "cut on a character boundary")
	assert.True(t, strings.HasPrefix(list[0].UserAgent, "TestBrowser/1.0 éé"))
	assert.True(t, list[0].Current)
}

func TestLastSeenStaysCurrentWithoutAWritePerRequest(t *testing.T) {
	var a *app
	a = newApp(t, deviceRoutes(&a), WithLastSeenInterval(10*time.Minute))
	cl := a.client()
	cl.get("/login?u=alice")
	created := a.rows()[0].LastSeenAt.Time

	a.clock.Advance(5 * time.Minute)
	assert.Equal(t, []string{"SELECT"}, kinds(cl.get("/whoami").stmts), "fresh enough: no write")
	a.clock.Advance(6 * time.Minute)
	resp := cl.get("/whoami")
	assert.Equal(t, []string{"SELECT", "UPDATE"}, kinds(resp.stmts), "stale: one write")
	assert.Nil(t, resp.sessionCookie(), "the last-seen time needs no cookie")
	row := a.rows()[0]
	assert.Equal(t, 11*time.Minute, row.LastSeenAt.Time.Sub(created))
	assert.EqualValues(t, 1, row.Version, "data untouched")
	assert.Equal(t, []string{"SELECT"}, kinds(cl.get("/whoami").stmts))

	a.clock.Advance(time.Minute)
	cl.get("/set?k=v")
	assert.Equal(t, 12*time.Minute, a.rows()[0].LastSeenAt.Time.Sub(created), "every save records it")
}

func TestLastSeenByDefaultMovesOnlyWithTheExpiry(t *testing.T) {
	var a *app
	a = newApp(t, deviceRoutes(&a), WithIdleTimeout(10*time.Hour))
	cl := a.client()
	cl.get("/login?u=alice")
	created := a.rows()[0].LastSeenAt.Time
	a.clock.Advance(50 * time.Minute)
	assert.Equal(t, []string{"SELECT"}, kinds(cl.get("/whoami").stmts))
	a.clock.Advance(11 * time.Minute)
	cl.get("/whoami")
	assert.Equal(t, 61*time.Minute, a.rows()[0].LastSeenAt.Time.Sub(created))
}

func TestDestroySessionSignsOutThatBrowserOnly(t *testing.T) {
	var a *app
	a = newApp(t, deviceRoutes(&a))
	laptop, phone := a.client(), a.client()
	laptop.get("/login?u=alice")
	phone.get("/login?u=alice")
	var phoneHandle string
	for _, d := range laptop.devices() {
		if !d.Current {
			phoneHandle = d.Handle
		}
	}
	require.NotEmpty(t, phoneHandle)
	require.NoError(t, a.store.DestroySession(t.Context(), phoneHandle))
	assert.Empty(t, phone.get("/whoami").body, "dead on its very next request")
	assert.Equal(t, "alice", laptop.get("/whoami").body)
	assert.NoError(t, a.store.DestroySession(t.Context(), phoneHandle), "already gone is fine")
	assert.Error(t, a.store.DestroySession(t.Context(), laptop.cookie()), "a cookie is not a handle")
	assert.Equal(t, "alice", laptop.get("/whoami").body)
}

func TestDestroyUserSignsOutEverywhere(t *testing.T) {
	g := newGate()
	var a *app
	a = newApp(t, func(r *gin.Engine) {
		deviceRoutes(&a)(r)
		slowSet(r, g)
	})
	var alice []*client
	for range 3 {
		cl := a.client()
		cl.get("/login?u=alice")
		alice = append(alice, cl)
	}
	bob := a.client()
	bob.get("/login?u=bob")

	wait := startSlow(alice[0], g, "/slow-set?k=cart&v=full")
	n, err := a.store.DestroyUser(t.Context(), "alice")
	require.NoError(t, err)
	assert.EqualValues(t, 3, n)
	assert.Equal(t, http.StatusConflict, wait().StatusCode, "a request in flight cannot bring one back")
	for _, cl := range alice {
		assert.Empty(t, cl.get("/whoami").body)
	}
	assert.Equal(t, "bob", bob.get("/whoami").body)
	assert.Len(t, a.rows(), 1)
	n, err = a.store.DestroyUser(t.Context(), "")
	require.NoError(t, err)
	assert.Zero(t, n, "the empty user is nobody")
}

func TestDestroyOthersKeepsTheCurrentSession(t *testing.T) {
	var a *app
	a = newApp(t, deviceRoutes(&a))
	here, there, elsewhere := a.client(), a.client(), a.client()
	for _, cl := range []*client{here, there, elsewhere} {
		cl.get("/login?u=alice")
	}
	bob := a.client()
	bob.get("/login?u=bob")
	assert.Equal(t, "2", here.get("/signout-others").body)
	assert.Equal(t, "alice", here.get("/whoami").body)
	assert.Empty(t, there.get("/whoami").body)
	assert.Empty(t, elsewhere.get("/whoami").body)
	assert.Equal(t, "bob", bob.get("/whoami").body)

	anon := a.client()
	resp := anon.get("/signout-others")
	assert.Equal(t, http.StatusBadRequest, resp.StatusCode)
	assert.Contains(t, resp.body, ErrNoUser.Error())
}

func TestDestroyUserSessionOnlyDeletesThatUsersSession(t *testing.T) {
	var a *app
	a = newApp(t, deviceRoutes(&a))
	alice, bob := a.client(), a.client()
	alice.get("/login?u=alice")
	bob.get("/login?u=bob")
	bobHandle := bob.devices()[0].Handle
	aliceHandle := alice.devices()[0].Handle

	ok, err := a.store.DestroyUserSession(t.Context(), "alice", bobHandle)
	require.NoError(t, err)
	assert.False(t, ok, "bob's session is not alice's to destroy")
	assert.Equal(t, "bob", bob.get("/whoami").body)
	ok, err = a.store.DestroyUserSession(t.Context(), "", bobHandle)
	require.NoError(t, err)
	assert.False(t, ok, "nobody owns nothing")

	ok, err = a.store.DestroyUserSession(t.Context(), "alice", aliceHandle)
	require.NoError(t, err)
	assert.True(t, ok)
	assert.Empty(t, alice.get("/whoami").body)

	_, err = a.store.DestroyUserSession(t.Context(), "alice", "../../etc")
	assert.ErrorIs(t, err, ErrInvalidHandle)
	assert.ErrorIs(t, a.store.DestroySession(t.Context(), "short"), ErrInvalidHandle)
}

func TestFailedBookkeepingWriteDoesNotFailARead(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts []Option
		wait time.Duration
		log  string
	}{
		{"expiry move", []Option{WithIdleTimeout(10 * time.Hour)}, 2 * time.Hour, "cannot extend the session's expiry"},
		{"last seen", []Option{WithLastSeenInterval(time.Minute)}, 2 * time.Minute, "cannot record the session's last use"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var a *app
			a = newApp(t, deviceRoutes(&a), tc.opts...)
			cl := a.client()
			cl.get("/login?u=alice")
			require.NoError(t, a.db.Exec(`CREATE TRIGGER fail BEFORE UPDATE ON gin_sessions BEGIN SELECT RAISE(ABORT, 'disk on fire'); END`).Error)
			a.clock.Advance(tc.wait)
			resp := cl.get("/whoami")
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "alice", resp.body)
			assert.Equal(t, []string{"SELECT", "UPDATE"}, kinds(resp.stmts), "it tried")
			assert.Nil(t, resp.sessionCookie(), "no cookie for an expiry that did not move")
			assert.Contains(t, a.logs.String(), tc.log)
			assert.Contains(t, a.logs.String(), "disk on fire")
		})
	}
}

// staleOthersRoutes add /slow-others to the device routes: it reads the
// session, waits for the test, then signs the user out everywhere else.
func staleOthersRoutes(a **app, g *gate) func(r *gin.Engine) {
	return func(r *gin.Engine) {
		deviceRoutes(a)(r)
		r.GET("/slow-others", gated(g, func(c *gin.Context, s *Session) {
			n, err := s.DestroyOthers()
			if err != nil {
				c.String(http.StatusConflict, err.Error())
				return
			}
			c.String(http.StatusOK, "%d", n)
		}))
	}
}

// Tab 1 read session A; tab 2 renewed A into B (a second login); tab 1's
// DestroyOthers must not take B, the browser's own live session, for
// another.
func TestDestroyOthersFromAStaleTabDeletesNothing(t *testing.T) {
	g := newGate()
	var a *app
	a = newApp(t, staleOthersRoutes(&a, g))
	browser := a.client()
	browser.get("/login?u=alice")
	phone := a.client()
	phone.get("/login?u=alice")

	tab1 := startSlow(browser, g, "/slow-others")
	tab2 := a.client()
	tab2.setCookie(browser.cookie())
	require.Equal(t, http.StatusOK, tab2.get("/login?u=alice").StatusCode) // renews A into B

	resp := tab1()
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	assert.Contains(t, resp.body, ErrSessionInterrupted.Error())
	assert.Equal(t, "alice", tab2.get("/whoami").body, "the live session B survives")
	assert.Equal(t, "alice", phone.get("/whoami").body, "and so does every other")
	assert.Len(t, a.rows(), 2)
}

// The owner revokes a thief's session; the thief's request already in
// flight must not then sign the owner out everywhere.
func TestDestroyOthersFromARevokedSessionDeletesNothing(t *testing.T) {
	g := newGate()
	var a *app
	a = newApp(t, staleOthersRoutes(&a, g))
	owner, thief := a.client(), a.client()
	owner.get("/login?u=alice")
	thief.get("/login?u=alice")
	var thiefHandle string
	for _, d := range owner.devices() {
		if !d.Current {
			thiefHandle = d.Handle
		}
	}
	require.NotEmpty(t, thiefHandle)

	inFlight := startSlow(thief, g, "/slow-others")
	ok, err := a.store.DestroyUserSession(context.Background(), "alice", thiefHandle)
	require.NoError(t, err)
	require.True(t, ok)

	resp := inFlight()
	assert.Equal(t, http.StatusConflict, resp.StatusCode)
	assert.Equal(t, "alice", owner.get("/whoami").body, "the owner stays signed in")
	assert.Empty(t, thief.get("/whoami").body)
	assert.Len(t, a.rows(), 1)
}

// "Sign in and sign out everywhere else" in one request: the sign-in is not
// saved yet when DestroyOthers runs, and must not be taken for a stale
// session.
func TestLoginAndDestroyOthersInOneRequest(t *testing.T) {
	var a *app
	a = newApp(t, func(r *gin.Engine) {
		deviceRoutes(&a)(r)
		r.GET("/login-here-only", func(c *gin.Context) {
			s := Default(c)
			s.Login(c.Query("u"))
			n, err := s.DestroyOthers()
			if err != nil {
				c.String(http.StatusConflict, err.Error())
				return
			}
			c.String(http.StatusOK, "%d", n)
		})
	})
	phone, laptop := a.client(), a.client()
	phone.get("/login?u=alice")
	laptop.get("/login?u=alice")
	anonymous := a.client()
	anonymous.get("/set?k=v")
	for _, cl := range []*client{a.client(), anonymous, laptop} { // no session yet, an anonymous one, a signed-in one
		resp := cl.get("/login-here-only?u=alice")
		require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
		assert.Equal(t, "alice", cl.get("/whoami").body)
	}
	assert.Empty(t, phone.get("/whoami").body, "signed out")
	assert.Len(t, a.rows(), 1)
}

// A password change and "sign out everywhere" commit together or not at
// all: the store's user calls run inside the application's transaction.
func TestRevocationCommitsAndRollsBackWithTheAppsTransaction(t *testing.T) {
	var a *app
	a = newApp(t, func(r *gin.Engine) {
		deviceRoutes(&a)(r)
		r.GET("/password", func(c *gin.Context) {
			uid := Default(c).UserID()
			var listed, destroyed int64
			err := a.db.Transaction(func(tx *gorm.DB) error {
				if err := tx.Exec("INSERT OR REPLACE INTO passwords VALUES (?, ?)", uid, c.Query("hash")).Error; err != nil {
					return err
				}
				infos, err := a.store.Tx(tx).UserSessions(c.Request.Context(), uid)
				if err != nil {
					return err
				}
				listed = int64(len(infos))
				if destroyed, err = a.store.Tx(tx).DestroyUser(c.Request.Context(), uid); err != nil {
					return err
				}
				if c.Query("fail") != "" {
					return errors.New("the password change failed")
				}
				return nil
			})
			c.String(http.StatusOK, "%d %d %v", listed, destroyed, err)
		})
	})
	require.NoError(t, a.db.Exec("CREATE TABLE passwords (user_id TEXT PRIMARY KEY, hash TEXT)").Error)
	laptop, phone := a.client(), a.client()
	laptop.get("/login?u=alice")
	phone.get("/login?u=alice")

	assert.Equal(t, "2 2 the password change failed", laptop.get("/password?hash=new&fail=1").body)
	assert.Equal(t, "alice", phone.get("/whoami").body, "rolled back: still signed in")
	assert.Equal(t, "alice", laptop.get("/whoami").body)
	var n int64
	require.NoError(t, a.db.Raw("SELECT count(*) FROM passwords").Scan(&n).Error)
	assert.Zero(t, n, "and the password change rolled back with it")

	assert.Equal(t, "2 2 <nil>", laptop.get("/password?hash=new").body)
	assert.Empty(t, phone.get("/whoami").body, "committed: signed out everywhere")
	assert.Empty(t, laptop.get("/whoami").body)
	require.NoError(t, a.db.Raw("SELECT count(*) FROM passwords").Scan(&n).Error)
	assert.Equal(t, int64(1), n)
}

func TestOneSessionIsRevokedInsideTheAppsTransaction(t *testing.T) {
	var a *app
	a = newApp(t, deviceRoutes(&a))
	laptop, phone := a.client(), a.client()
	laptop.get("/login?u=alice")
	phone.get("/login?u=alice")
	devices := laptop.devices()
	require.Len(t, devices, 2)
	var phoneHandle string
	for _, d := range devices {
		if !d.Current {
			phoneHandle = d.Handle
		}
	}
	ctx := context.Background()
	tx := a.db.Begin()
	ok, err := a.store.Tx(tx).DestroyUserSession(ctx, "alice", phoneHandle)
	require.NoError(t, err)
	assert.True(t, ok)
	require.NoError(t, a.store.Tx(tx).DestroySession(ctx, strings.Repeat("0", 64)), "a handle that names nothing")
	_, err = a.store.Tx(tx).DestroyUserSession(ctx, "alice", "short")
	assert.ErrorIs(t, err, ErrInvalidHandle)
	require.NoError(t, tx.Rollback().Error)
	assert.Equal(t, "alice", phone.get("/whoami").body, "rolled back")

	tx = a.db.Begin()
	require.NoError(t, a.store.Tx(tx).DestroySession(ctx, phoneHandle))
	require.NoError(t, tx.Commit().Error)
	assert.Empty(t, phone.get("/whoami").body, "committed")
	assert.Equal(t, "alice", laptop.get("/whoami").body)
}

// A flag one user earned (a second factor) does not pass to the next user
// who signs in on the same browser, as with Django's login.
func TestLoginAsAnotherUserDoesNotInheritTheFirstUsersValues(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/signin", func(c *gin.Context) {
			s := Default(c)
			s.Login(c.Query("u"))
			c.String(http.StatusOK, "signed in")
		})
	})
	cl := a.client()
	cl.get("/signin?u=mallory")
	cl.get("/set?mfa_verified=mallory") // mallory passed her own second factor
	cl.get("/signin?u=bob")             // then signs in with bob's password only
	assert.Equal(t, http.StatusNotFound, cl.get("/get?k=mfa_verified").StatusCode,
		"bob's session carries mallory's second-factor flag")
}

// Login as another user keeps nothing of the first user's. When the first
// user's session held no values yet at load, a value that user's other tab
// saves meanwhile (a sudo flag) is re-applied onto the new user's session
// by the retry, because the Clear was skipped as a no-op.
func TestLoginAsAnotherUserDropsAValueSavedConcurrentlyByTheFirst(t *testing.T) {
	g := newGate()
	a := newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/bind", func(c *gin.Context) { Default(c).Login(c.Query("u")); c.String(http.StatusOK, "bound") })
		r.GET("/slow-login", gated(g, func(c *gin.Context, s *Session) {
			s.Login(c.Query("u"))
			c.String(http.StatusOK, "hello %s", c.Query("u"))
		}))
	})
	cl := a.client()
	require.Equal(t, "bound", cl.get("/bind?u=alice").body) // alice, no values
	wait := startSlow(cl, g, "/slow-login?u=mallory")
	aliceTab := a.client()
	aliceTab.setCookie(cl.cookie())
	require.Equal(t, http.StatusOK, aliceTab.get("/set?sudo=alice").StatusCode) // alice's other tab
	slow := wait()
	require.Equal(t, http.StatusOK, slow.StatusCode, slow.body)

	rows := a.rows()
	require.Len(t, rows, 1)
	assert.Equal(t, "mallory", rows[0].UserID)
	assert.NotContains(t, rows[0].Data, "sudo", "alice's flag carried into mallory's session")
}
