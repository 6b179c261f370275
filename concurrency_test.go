package ginsession

import (
	"errors"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type gate = testkit.Gate

func newGate() *gate { return testkit.NewGate() }

// gated returns a handler that reads the session, holds on g, then does
// then: a request the test can overlap with others.
func gated(g *gate, then func(c *gin.Context, s *Session)) gin.HandlerFunc {
	return func(c *gin.Context) {
		s := Default(c)
		_ = s.Keys()
		g.Hold()
		then(c, s)
	}
}

// slowRoutes adds /slow-set to basicRoutes.
func slowRoutes(g *gate) func(r *gin.Engine) {
	return func(r *gin.Engine) {
		basicRoutes(r)
		slowSet(r, g)
	}
}

// slowSet adds /slow-set, which reads the session, waits for the test, then
// sets k=v from its query.
func slowSet(r *gin.Engine, g *gate) {
	r.GET("/slow-set", gated(g, func(c *gin.Context, s *Session) {
		s.Set(c.Query("k"), c.Query("v"))
		c.String(http.StatusOK, "slow done")
	}))
}

// startSlow sends a gated request in the background; wait returns its
// response once the test has let it proceed.
func startSlow(cl *client, g *gate, path string) (wait func() response) {
	return testkit.Start(g, func() response {
		resp, err := cl.hc.Get(cl.a.srv.URL + path)
		if err != nil {
			return response{body: err.Error()}
		}
		var b [256]byte
		n, _ := resp.Body.Read(b[:])
		resp.Body.Close()
		return response{Response: resp, body: string(b[:n])}
	})
}

func TestConcurrentWritersOfDifferentKeysBothKeepTheirWrites(t *testing.T) {
	g := newGate()
	a := newApp(t, slowRoutes(g))
	cl := a.client()
	cl.get("/set?base=0")

	wait := startSlow(cl, g, "/slow-set?k=a&v=1")
	other := a.client()
	other.setCookie(cl.cookie())
	require.Equal(t, http.StatusOK, other.get("/set?b=2").StatusCode)
	a.rec.Take()
	slow := wait()
	require.Equal(t, http.StatusOK, slow.StatusCode)
	assert.Equal(t, "slow done", slow.body)
	assert.Equal(t, []string{"UPDATE", "SELECT", "UPDATE"}, kinds(a.rec.Take()), "lost once, re-read, re-applied")

	assert.Equal(t, "a,b,base", cl.get("/keys").body)
	assert.Equal(t, "1", cl.get("/get?k=a").body)
	assert.Equal(t, "2", cl.get("/get?k=b").body)
	assert.EqualValues(t, 3, a.rows()[0].Version)
}

func TestConcurrentWritersOfTheSameKeyLastSaveWins(t *testing.T) {
	g := newGate()
	a := newApp(t, slowRoutes(g))
	cl := a.client()
	cl.get("/set?k=0")
	wait := startSlow(cl, g, "/slow-set?k=k&v=slow")
	other := a.client()
	other.setCookie(cl.cookie())
	other.get("/set?k=fast")
	wait()
	assert.Equal(t, "slow", cl.get("/get?k=k").body)
}

func TestLogoutRacingASlowerRequestIsNeverUndone(t *testing.T) {
	g := newGate()
	var handled []error
	var mu sync.Mutex
	a := newApp(t, slowRoutes(g), WithErrorHandler(func(c *gin.Context, err error) {
		mu.Lock()
		handled = append(handled, err)
		mu.Unlock()
		c.String(http.StatusConflict, "interrupted")
	}))
	cl := a.client()
	cl.get("/set?user=alice")
	token := cl.cookie()

	wait := startSlow(cl, g, "/slow-set?k=cart&v=full")
	logout := a.client()
	logout.setCookie(token)
	require.Equal(t, "bye", logout.get("/destroy").body)
	slow := wait()

	assert.Equal(t, http.StatusConflict, slow.StatusCode)
	assert.Equal(t, "interrupted", slow.body, "none of the handler's output")
	assert.Nil(t, slow.sessionCookie())
	assert.Empty(t, a.rows(), "the session stays destroyed")
	mu.Lock()
	require.Len(t, handled, 1)
	assert.ErrorIs(t, handled[0], ErrSessionInterrupted)
	mu.Unlock()
	replay := a.client()
	replay.setCookie(token)
	assert.Equal(t, http.StatusNotFound, replay.get("/get?k=user").StatusCode)
}

func TestDefaultErrorHandlerAnswersConflictOnInterruption(t *testing.T) {
	g := newGate()
	a := newApp(t, slowRoutes(g))
	cl := a.client()
	cl.get("/set?user=alice")
	wait := startSlow(cl, g, "/slow-set?k=cart&v=full")
	logout := a.client()
	logout.setCookie(cl.cookie())
	logout.get("/destroy")
	slow := wait()
	assert.Equal(t, http.StatusConflict, slow.StatusCode)
	assert.NotContains(t, slow.body, "slow done")
	assert.Contains(t, a.logs.String(), "destroyed by a concurrent request")
}

func TestRenewOnOneRequestInterruptsSlowerWriterOfOldID(t *testing.T) {
	g := newGate()
	a := newApp(t, slowRoutes(g))
	cl := a.client()
	cl.get("/set?user=alice")
	old := cl.cookie()
	wait := startSlow(cl, g, "/slow-set?k=cart&v=full")
	renewer := a.client()
	renewer.setCookie(old)
	renewer.get("/renew")
	slow := wait()
	assert.Equal(t, http.StatusConflict, slow.StatusCode, "the old ID stopped working at once")
	assert.Equal(t, http.StatusNotFound, renewer.get("/get?k=cart").StatusCode)
	assert.Equal(t, "alice", renewer.get("/get?k=user").body)
}

func TestSaveReturnsInterruptionToTheHandler(t *testing.T) {
	g := newGate()
	a := newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/slow-save", gated(g, func(c *gin.Context, s *Session) {
			s.Set("k", "v")
			if err := s.Save(); errors.Is(err, ErrSessionInterrupted) {
				c.String(http.StatusOK, "please log in again")
				return
			}
			c.String(http.StatusOK, "saved")
		}))
	})
	cl := a.client()
	cl.get("/set?user=alice")
	wait := startSlow(cl, g, "/slow-save")
	logout := a.client()
	logout.setCookie(cl.cookie())
	logout.get("/destroy")
	slow := wait()
	assert.Equal(t, http.StatusOK, slow.StatusCode, "the handler dealt with it; the error handler stays out")
	assert.Equal(t, "please log in again", slow.body)
	assert.Empty(t, a.rows())
}

func TestFlashesTakenAndAddedConcurrentlyAreBothApplied(t *testing.T) {
	g := newGate()
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/flash", func(c *gin.Context) {
			Default(c).AddFlash(c.Query("m"))
			c.Status(http.StatusNoContent)
		})
		r.GET("/slow-show", gated(g, func(c *gin.Context, s *Session) {
			c.String(http.StatusOK, "%v", s.Flashes())
		}))
		r.GET("/show", func(c *gin.Context) { c.String(http.StatusOK, "%v", Default(c).Flashes()) })
	})
	cl := a.client()
	cl.get("/flash?m=first")
	wait := startSlow(cl, g, "/slow-show")
	other := a.client()
	other.setCookie(cl.cookie())
	other.get("/flash?m=second")
	assert.Equal(t, "[first]", wait().body)
	assert.Equal(t, "[second]", cl.get("/show").body, "the flash added meanwhile is neither lost nor shown twice")
}

func TestManyConcurrentWritersLoseNothing(t *testing.T) {
	a := newApp(t, basicRoutes)
	owner := a.client()
	owner.get("/set?start=1")
	token := owner.cookie()
	const writers, writes = 6, 15
	var wg sync.WaitGroup
	statuses := make(chan int, writers*writes)
	for w := range writers {
		wg.Go(func() {
			cl := a.client()
			cl.setCookie(token)
			for i := 1; i <= writes; i++ {
				resp, err := cl.hc.Get(fmt.Sprintf("%s/set?w%d=%d", a.srv.URL, w, i))
				if err != nil {
					statuses <- 0
					continue
				}
				resp.Body.Close()
				statuses <- resp.StatusCode
			}
		})
	}
	wg.Wait()
	close(statuses)
	for st := range statuses {
		assert.Equal(t, http.StatusOK, st)
	}
	for w := range writers {
		assert.Equal(t, fmt.Sprint(writes), owner.get(fmt.Sprintf("/get?k=w%d", w)).body, "writer %d", w)
	}
	assert.Empty(t, a.errors())
}

func TestEndlessConflictGivesUpAfterBoundedRetries(t *testing.T) {
	rec := &errorRecorder{}
	a := newApp(t, basicRoutes, WithErrorHandler(rec.handle))
	cl := a.client()
	cl.get("/set?k=v")
	// Every UPDATE now changes no row, as if another writer always won.
	require.NoError(t, a.db.Exec(`CREATE TRIGGER stall BEFORE UPDATE ON gin_sessions BEGIN SELECT RAISE(IGNORE); END`).Error)
	resp := cl.get("/set?k=w")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	updates := 0
	for _, k := range kinds(resp.stmts) {
		if k == "UPDATE" {
			updates++
		}
	}
	assert.Equal(t, maxSaveAttempts, updates)
	require.Len(t, rec.all(), 1)
	assert.ErrorIs(t, rec.all()[0], ErrConflict)
	require.NoError(t, a.db.Exec(`DROP TRIGGER stall`).Error)
	assert.Equal(t, "v", cl.get("/get?k=k").body)
}

// readGate adds /slow-read: it reads the session, waits for the test, then
// answers with what it read.
func readGate(g *gate) func(r *gin.Engine) {
	return func(r *gin.Engine) {
		slowRoutes(g)(r)
		r.GET("/slow-read", gated(g, func(c *gin.Context, s *Session) {
			v, _ := Get[string](s, "k")
			c.String(http.StatusOK, v)
		}))
	}
}

func TestExpiryMoveOfARenewedSessionSendsNoCookie(t *testing.T) {
	g := newGate()
	a := newApp(t, readGate(g), WithIdleTimeout(10*time.Hour))
	cl := a.client()
	cl.get("/set?k=v")
	a.clock.Advance(2 * time.Hour) // reads now move the expiry
	wait := startSlow(cl, g, "/slow-read")
	renewer := a.client()
	renewer.setCookie(cl.cookie())
	renewer.get("/renew")
	slow := wait()
	assert.Equal(t, "v", slow.body)
	assert.Nil(t, slow.sessionCookie(), "the dead token must not be handed out again")
	assert.Len(t, a.rows(), 1)
}

func TestPlainSaveDoesNotUndoAConcurrentExpiryMove(t *testing.T) {
	g := newGate()
	a := newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/stream-then-set", gated(g, func(c *gin.Context, s *Session) {
			c.String(http.StatusOK, "streamed")
			s.Set("late", "1") // after the headers: cannot move the expiry
		}))
	}, WithIdleTimeout(10*time.Hour))
	cl := a.client()
	cl.get("/set?k=v")
	a.clock.Advance(2 * time.Hour)
	wait := startSlow(cl, g, "/stream-then-set")
	resp := cl.get("/get?k=k") // moves the expiry
	require.Equal(t, []string{"SELECT", "UPDATE"}, kinds(resp.stmts))
	moved := a.rows()[0].ExpiresAt
	require.Equal(t, "streamed", wait().body)
	rows := a.rows()
	require.Len(t, rows, 1)
	assert.True(t, rows[0].ExpiresAt.Equal(moved), "expiry %v rolled back from %v", rows[0].ExpiresAt, moved)
	assert.Equal(t, "1", cl.get("/get?k=late").body)
}

func TestSettingBackTheValueReadStillWinsWhenSavedLater(t *testing.T) {
	g := newGate()
	a := newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/slow-reset", gated(g, func(c *gin.Context, s *Session) {
			s.Set("k", "1")     // what it read
			s.Set("other", "x") // a change that makes it save
			c.Status(http.StatusNoContent)
		}))
	})
	cl := a.client()
	cl.get("/set?k=1")
	wait := startSlow(cl, g, "/slow-reset")
	other := a.client()
	other.setCookie(cl.cookie())
	other.get("/set?k=2")
	wait()
	assert.Equal(t, "1", cl.get("/get?k=k").body, "the later save wins")
}

// A logout sent with the old cookie while a request that renewed the ID is
// still running must win, whichever instance it reaches: the renewed
// session dies too, and the new cookie that request hands out is worthless.
func TestLogoutWinsOverARenewalStillInFlight(t *testing.T) {
	g := newGate()
	a := newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/slow-renew", func(c *gin.Context) {
			s := Default(c)
			s.RenewID()
			s.Set("role", "admin")
			if err := s.Save(); err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			g.Hold()
			c.String(http.StatusOK, "renewed")
		})
	})
	b := newAppOn(t, a.db, a.rec, basicRoutes) // a second instance
	cl := a.client()
	require.Equal(t, http.StatusOK, cl.get("/set?k=v").StatusCode)
	old := cl.cookie()

	wait := startSlow(cl, g, "/slow-renew")
	logout := b.client()
	logout.setCookie(old)
	assert.Equal(t, http.StatusOK, logout.get("/destroy").StatusCode)
	resp := wait()
	assert.Equal(t, "renewed", resp.body)
	assert.NotEqual(t, old, cl.cookie(), "the browser got the renewed cookie")
	assert.Equal(t, http.StatusNotFound, cl.get("/get?k=k").StatusCode, "and it is signed out")
	assert.Empty(t, a.rows())
}

// Two overlapping requests read the same flash ("paid"): exactly one of
// them shows it.
func TestOverlappingRequestsShowAFlashOnce(t *testing.T) {
	g := newGate()
	a := newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/flash", func(c *gin.Context) {
			Default(c).AddFlash("paid")
			c.Status(http.StatusNoContent)
		})
		r.GET("/show", func(c *gin.Context) { c.String(http.StatusOK, "%v", Default(c).Flashes()) })
		r.GET("/slow-show", gated(g, func(c *gin.Context, s *Session) {
			c.String(http.StatusOK, "%v", s.Flashes())
		}))
	})
	cl := a.client()
	require.Equal(t, http.StatusNoContent, cl.get("/flash").StatusCode)
	slow := startSlow(cl, g, "/slow-show")
	fast := cl.get("/show")
	assert.Equal(t, "[paid]", fast.body)
	resp := slow()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "[]", resp.body, "the slower request does not show it again")
	assert.Equal(t, "[]", cl.get("/show").body)
}
