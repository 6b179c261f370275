package sessiontest

import (
	"context"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

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
