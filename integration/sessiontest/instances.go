package sessiontest

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// batchLimit finds the batch size in a DELETE of Store.Cleanup.
var batchLimit = regexp.MustCompile(`LIMIT (\d+)`)

// cleanupBatches counts Store.Cleanup's batches among stmts, the statements
// that delete and have a LIMIT, and gives their size (0 when there are none).
func cleanupBatches(stmts []string) (n, batch int) {
	for _, q := range stmts {
		m := batchLimit.FindStringSubmatch(q)
		if m == nil || !strings.Contains(q, "DELETE FROM") {
			continue
		}
		n++
		batch, _ = strconv.Atoi(m[1])
	}
	return n, batch
}

// RunInstances runs two app servers, each with its own connection pool, on
// one table of the database that open reaches, as two instances behind a
// load balancer, and checks that a client moving between them is one
// session.
func RunInstances(t *testing.T, open Opener) {
	// pair starts two app servers on a fresh table; the first has the gate.
	pair := func(t *testing.T, g *gate) (a, b *app) {
		dbA, dbB := open(t), open(t)
		table := freshTable(t, dbA)
		return newApp(t, dbA, table, nil, slowRoutes(g)), newApp(t, dbB, table, nil, routes)
	}

	t.Run("CleanupOnSeveralAtOnceDividesTheWork", func(t *testing.T) {
		// Every instance runs Cleanup on its own timer, so they meet. They
		// must delete each expired row once between them, leave live ones,
		// and not each read the same batches: the DELETEs of all of them
		// together stay near what one instance alone would run.
		const instances, expiredRows = 3, 5000
		dbs := make([]DB, instances)
		for i := range dbs {
			dbs[i] = open(t)
		}
		table := freshTable(t, dbs[0])
		apps := make([]*app, instances)
		for i, db := range dbs {
			apps[i] = newApp(t, db, table, nil, routes)
		}
		live := newClient(t)
		live.get(apps[0], "/set?k=v")
		now := time.Now().UTC()
		rows := make([]ginsession.Model, expiredRows)
		for i := range rows {
			rows[i] = ginsession.Model{ID: fmt.Sprintf("%064d", i), Data: `{"values":{}}`,
				ExpiresAt: now.Add(-time.Duration(i+1) * time.Second), CreatedAt: now, UpdatedAt: now, Version: 1}
		}
		require.NoError(t, dbs[0].Table(table).CreateInBatches(rows, 500).Error)
		for _, db := range dbs {
			db.Counter.Take()
		}
		deleted := make([]int64, instances)
		errs := make([]error, instances)
		start := make(chan struct{})
		done := make(chan int)
		for i, a := range apps {
			go func() {
				<-start
				deleted[i], errs[i] = a.store.Cleanup(context.Background())
				done <- i
			}()
		}
		close(start)
		for range apps {
			<-done
		}
		var total int64
		deletes, batch := 0, 0
		for i := range apps {
			require.NoError(t, errs[i], "instance %d", i)
			total += deleted[i]
			n, size := cleanupBatches(dbs[i].Counter.Take())
			deletes += n
			batch = max(batch, size)
		}
		require.Positive(t, batch, "a DELETE of Cleanup with its LIMIT")
		assert.EqualValues(t, expiredRows, total, "each expired row deleted once: %v", deleted)
		// One instance alone runs expiredRows/batch full batches and a last
		// short one. Together they may each end on a short batch, and at
		// SERIALIZABLE run again a batch that conflicted with another's;
		// each reading every batch would be instances times as many.
		alone := expiredRows/batch + 1
		assert.Less(t, deletes, 2*alone, "DELETEs of all instances (%v rows each)", deleted)
		assert.Len(t, apps[0].rows(), 1)
		assert.Equal(t, "v", live.get(apps[1], "/get?k=k").body)
	})

	t.Run("AlternatingClientKeepsOneSession", func(t *testing.T) {
		a, b := pair(t, newGate())
		cl := newClient(t)
		cl.get(a, "/set?n=1")
		token := cl.cookie(a)
		cl.get(b, "/set?m=2")
		assert.Equal(t, "1", cl.get(b, "/get?k=n").body)
		assert.Equal(t, "2", cl.get(a, "/get?k=m").body)
		assert.Equal(t, token, cl.cookie(b), "one session, one token")
		assert.Len(t, a.rows(), 1)
	})

	t.Run("WritersOnBothLoseNothing", func(t *testing.T) {
		g := newGate()
		a, b := pair(t, g)
		cl := newClient(t)
		cl.get(a, "/set?base=0")
		wait := startSlow(cl, a, g, "/slow-set?k=from_a&v=1")
		other := newClient(t)
		other.setCookie(b, cl.cookie(a))
		require.Equal(t, http.StatusOK, other.get(b, "/set?from_b=2").StatusCode)
		require.Equal(t, "slow done", wait().body)
		assert.Equal(t, "base,from_a,from_b", cl.get(b, "/keys").body)
		assert.Equal(t, "base,from_a,from_b", cl.get(a, "/keys").body)
	})

	t.Run("LogoutOnOneIsSeenByTheOther", func(t *testing.T) {
		g := newGate()
		a, b := pair(t, g)
		cl := newClient(t)
		cl.get(a, "/set?user=alice")
		token := cl.cookie(a)
		other := newClient(t)
		other.setCookie(b, token)
		wait := startSlow(cl, a, g, "/slow-set?k=cart&v=full")
		other.get(b, "/destroy")
		assert.Equal(t, http.StatusConflict, wait().StatusCode, "a's slower request does not undo b's logout")
		replay := newClient(t)
		replay.setCookie(a, token)
		assert.Equal(t, http.StatusNotFound, replay.get(a, "/get?k=user").StatusCode, "a sees the logout at once")
		assert.Empty(t, a.rows())
	})

	t.Run("RevocationOnOneIsSeenByTheOther", func(t *testing.T) {
		a, b := pair(t, newGate())
		cl := newClient(t)
		cl.get(a, "/set?user=alice")
		other := newClient(t)
		other.setCookie(b, cl.cookie(a))
		require.Equal(t, "alice", other.get(b, "/get?k=user").body)
		n, err := b.store.DestroyUser(context.Background(), "")
		require.NoError(t, err)
		require.Zero(t, n)
		rows := a.rows()
		require.Len(t, rows, 1)
		require.NoError(t, b.store.DestroySession(context.Background(), rows[0].ID))
		assert.Equal(t, http.StatusNotFound, cl.get(a, "/get?k=user").StatusCode, "dead on the other instance at once")
	})

	t.Run("AdminOnOneSeesSessionsOfTheOther", func(t *testing.T) {
		a, b := pair(t, newGate())
		cl := newClient(t)
		cl.get(a, "/set?user=alice")
		rows := a.rows()
		require.Len(t, rows, 1)
		ctx := context.Background()
		assert.Equal(t, []string{rows[0].ID}, list(t, b.store.Sessions(ctx, ginsession.SessionQuery{})), "listed at once on the other instance")
		c, err := b.store.CountSessions(ctx)
		require.NoError(t, err)
		assert.Equal(t, ginsession.SessionCounts{Live: 1, Anonymous: 1}, c)
		cl.get(a, "/destroy")
		assert.Empty(t, list(t, b.store.Sessions(ctx, ginsession.SessionQuery{})), "gone at once on the other instance")
	})

	t.Run("DeviceSignOutOnOneWinsOverALoginInFlightOnTheOther", func(t *testing.T) {
		testDeviceSignOutDuringLogin(t, open)
	})

	t.Run("OfTwoDevicesSigningEachOtherOutOnlyOneSucceeds", func(t *testing.T) {
		testSignOutEverywhereElseTwiceAtOnce(t, open)
	})

	t.Run("RenewOnOneKillsOldIDOnTheOther", func(t *testing.T) {
		a, b := pair(t, newGate())
		cl := newClient(t)
		cl.get(a, "/set?user=alice")
		old := cl.cookie(a)
		cl.get(b, "/renew")
		assert.NotEqual(t, old, cl.cookie(b))
		replay := newClient(t)
		replay.setCookie(a, old)
		assert.Equal(t, http.StatusNotFound, replay.get(a, "/get?k=user").StatusCode)
		assert.Equal(t, "alice", cl.get(a, "/get?k=user").body)
	})
}

// RunCrossNodeReads runs three app servers on three pools of the database
// that open reaches (on a cluster, three nodes) and, rounds times, changes
// the session through one server and reads it through the next at once: a
// write, an ID renewal and a logout must each be seen on the very next
// request, whichever node answers it.
func RunCrossNodeReads(t *testing.T, open Opener, rounds int) {
	dbs := []DB{open(t), open(t), open(t)}
	table := freshTable(t, dbs[0])
	var apps []*app
	for _, db := range dbs {
		apps = append(apps, newApp(t, db, table, nil, routes))
	}
	stale := 0
	for i := range rounds {
		a, b, c := apps[i%3], apps[(i+1)%3], apps[(i+2)%3]
		cl := newClient(t)
		v := fmt.Sprint(i)
		require.Equal(t, http.StatusOK, cl.get(a, "/set?k="+v).StatusCode)
		if got := cl.get(b, "/get?k=k").body; got != v {
			stale++
			t.Logf("round %d: a write through one node read %q through the next", i, got)
		}
		old := cl.cookie(a)
		require.Equal(t, http.StatusOK, cl.get(c, "/renew").StatusCode)
		replay := newClient(t)
		replay.setCookie(a, old)
		if st := replay.get(a, "/get?k=k").StatusCode; st != http.StatusNotFound {
			stale++
			t.Logf("round %d: a renewed-away ID still worked through another node (%d)", i, st)
		}
		live := cl.cookie(c)
		require.Equal(t, http.StatusOK, cl.get(b, "/destroy").StatusCode)
		if st := cl.getWithCookies(c, "/get?k=k", live).StatusCode; st != http.StatusNotFound {
			stale++
			t.Logf("round %d: a destroyed session still worked through another node (%d)", i, st)
		}
	}
	assert.Zero(t, stale, "stale reads in %d rounds", rounds)
	for _, a := range apps {
		assert.Empty(t, a.errors())
	}
}

// testDeviceSignOutDuringLogin: a user signs a device out from the devices
// page on one instance, with the handle the page listed, while that device
// is signing in again on the other. As a logout with the old cookie does,
// and as Store.DestroySession with the same handle does, the sign-out must
// win over the renewal still in flight: the device ends signed out, and
// DestroyUserSession reports that the session was the user's.
func testDeviceSignOutDuringLogin(t *testing.T, open Opener) {
	g := newGate()
	dbA, dbB := open(t), open(t)
	table := freshTable(t, dbA)
	var a, b *app
	a = newApp(t, dbA, table, nil, func(r *gin.Engine) {
		userRoutes(&a)(r)
		r.GET("/slow-login", func(c *gin.Context) {
			s := ginsession.Default(c)
			s.Login(c.Query("u"))
			if err := s.Save(); err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			g.Hold() // the rest of the login page's work
			c.String(http.StatusOK, "hello")
		})
	})
	b = newApp(t, dbB, table, nil, userRoutes(&b))
	device := newClient(t)
	require.Equal(t, "hello", device.get(a, "/login?u=alice").body)
	listed := device.get(a, "/handle").body
	require.Len(t, listed, 64)

	wait := startSlow(device, a, g, "/slow-login?u=alice")
	ok, err := b.store.DestroyUserSession(context.Background(), "alice", listed)
	require.NoError(t, err)
	login := wait()
	require.Equal(t, http.StatusOK, login.StatusCode)
	assert.True(t, ok, "DestroyUserSession says the listed session was not alice's")
	assert.Empty(t, device.get(b, "/whoami").body, "the device is still signed in after alice signed it out")
}

// testSignOutEverywhereElseTwiceAtOnce: two devices of one user press "sign
// out everywhere else" at the same moment, on two instances (the owner and
// a thief, say). Whichever goes first signs the other out, so the other's
// request speaks for a revoked session: it must delete nothing and fail
// with ErrSessionInterrupted, and the first device stays signed in. A
// third device's row is held locked meanwhile, by a transaction of the
// test's own, so that both DELETEs have started before either commits (on
// one server; a cluster's nodes do not share locks).
func testSignOutEverywhereElseTwiceAtOnce(t *testing.T, open Opener) {
	dbA, dbB := open(t), open(t)
	table := freshTable(t, dbA)
	var a, b *app
	a = newApp(t, dbA, table, nil, userRoutes(&a))
	b = newApp(t, dbB, table, nil, userRoutes(&b))
	owner, thief, third := newClient(t), newClient(t), newClient(t)
	for _, cl := range []*client{owner, thief, third} {
		require.Equal(t, "hello", cl.get(a, "/login?u=alice").body)
	}
	held := third.get(a, "/handle").body

	tx := dbA.Begin()
	require.NoError(t, tx.Error)
	require.NoError(t, tx.Exec("UPDATE "+table+" SET version = version WHERE id = ?", held).Error)
	results := make(chan response, 2)
	go func() { results <- owner.get(a, "/signout-others") }()
	go func() { results <- thief.get(b, "/signout-others") }()
	time.Sleep(500 * time.Millisecond) // both DELETEs reach the held row
	// On a cluster the lock holds only on its own node, and a DELETE
	// through another aborts the transaction: its rollback then fails.
	_ = tx.Rollback()
	first, second := <-results, <-results

	succeeded := 0
	for _, r := range []response{first, second} {
		if r.StatusCode == http.StatusOK {
			succeeded++
		}
	}
	assert.Equal(t, 1, succeeded, "both requests signed the user out everywhere else: %d %q and %d %q",
		first.StatusCode, first.body, second.StatusCode, second.body)
	signedIn := 0
	for _, cl := range []*client{owner, thief} {
		if cl.get(a, "/whoami").body == "alice" {
			signedIn++
		}
	}
	assert.Equal(t, 1, signedIn, "the device whose request succeeded is no longer signed in")
	assert.Empty(t, third.get(b, "/whoami").body)
}
