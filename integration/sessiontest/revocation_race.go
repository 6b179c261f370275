package sessiontest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// testRevocationAmidSignIns catches a revocation in the middle of its
// DELETE and signs the user in, from a new browser (an INSERT) and from
// one with an anonymous session (an UPDATE), and mints a token from one of
// the user's sessions, meanwhile. A session of the user's that another transaction
// holds locked stops the DELETE there, after it began and before it
// committed: on PostgreSQL at READ COMMITTED a DELETE does not see rows
// that committed after it began, so a sign-in or a token that landed in
// that window outlived the revocation while its other sessions still
// answered as signed in (docs/security.md). Whichever order the database
// picks, the outcome must be one of the two a user can explain: the
// sign-in (or mint) came first and the revocation took it too, or it came
// after and the sessions it could see were gone.
func testRevocationAmidSignIns(t *testing.T, db DB) {
	if db.Dialector.Name() == "sqlite" {
		t.Skip("SQLite runs one writer at a time: no revocation can be caught midway")
	}
	table := freshTable(t, db)
	var a *app
	a = newAppOf(t, db, table, nil, func(r *gin.Engine, st *ginsession.Store) {
		userRoutes(&a)(r)
		r.POST("/mint", func(c *gin.Context) {
			token, err := ginsession.Default(c).MintToken()
			if err != nil {
				c.String(http.StatusConflict, err.Error())
				return
			}
			c.String(http.StatusOK, token)
		})
		r.Group("/api", st.APIHandler()).GET("/whoami", func(c *gin.Context) {
			c.String(http.StatusOK, ginsession.Default(c).UserID())
		})
	}, ginsession.WithTokenHeader("Authorization"))

	minter, held, upgrader := newClient(t), newClient(t), newClient(t)
	minter.get(a, "/login?u=carol")
	held.get(a, "/login?u=carol")
	heldRow := held.get(a, "/handle").body
	require.Len(t, heldRow, 64, "the held session's handle, which is its row's ID")
	upgrader.get(a, "/set?cart=book")
	require.Len(t, upgrader.get(a, "/handle").body, 64, "the anonymous session has a row")

	// Another transaction locks one of carol's sessions: the revocation's
	// DELETE waits there until it ends.
	lock := db.DB.Begin()
	require.NoError(t, lock.Error)
	var locked []string
	require.NoError(t, lock.Raw("SELECT id FROM "+table+" WHERE id = ? FOR UPDATE", heldRow).Scan(&locked).Error)
	require.Len(t, locked, 1)
	released := false
	release := func() {
		if !released {
			released = true
			require.NoError(t, lock.Rollback().Error)
		}
	}
	t.Cleanup(func() {
		if !released {
			lock.Rollback()
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	type revoked struct {
		n   int64
		err error
	}
	revocation := make(chan revoked, 1)
	go func() {
		n, err := a.store.DestroyUser(ctx, "carol")
		revocation <- revoked{n, err}
	}()
	waitForLockWait(t, db, table)

	// A new browser and one with a cart sign in as carol, and carol's
	// first browser asks for an API token, while the revocation waits.
	newcomer := newClient(t)
	signIn := async(func() (int, string, error) { return request(ctx, newcomer, a, http.MethodGet, "/login?u=carol", nil) })
	upgrade := async(func() (int, string, error) { return request(ctx, upgrader, a, http.MethodGet, "/login?u=carol", nil) })
	mint := async(func() (int, string, error) { return request(ctx, minter, a, http.MethodPost, "/mint", nil) })
	// Each either waits for the revocation or lands now. One that landed
	// is followed by a look at the minter's session: if it is still signed
	// in, the revocation has not happened yet for anyone who looks, so it
	// must take what landed before it.
	var sawSignedIn []string
	for _, op := range []struct {
		name string
		done chan reply
	}{{"the sign-in", signIn}, {"the upgrade", upgrade}, {"the mint", mint}} {
		select {
		case r := <-op.done:
			op.done <- r
			if _, who, err := request(ctx, minter, a, http.MethodGet, "/whoami", nil); err == nil && who == "carol" {
				sawSignedIn = append(sawSignedIn, op.name)
			}
		case <-time.After(300 * time.Millisecond):
		}
	}
	release()

	var rev revoked
	select {
	case rev = <-revocation:
	case <-ctx.Done():
		t.Fatal("DestroyUser still waits after the lock was released")
	}
	require.NoError(t, rev.err)
	in, up, mintRes := awaitReply(t, ctx, signIn), awaitReply(t, ctx, upgrade), awaitReply(t, ctx, mint)
	require.NoError(t, in.err)
	require.NoError(t, up.err)
	require.NoError(t, mintRes.err)
	require.Equal(t, http.StatusOK, in.status, "the sign-in: %s", in.body)
	require.Equal(t, http.StatusOK, up.status, "the upgrade: %s", up.body)

	// A sign-in survived only if it came after the revocation: then
	// nobody saw carol's old sessions signed in after it.
	for _, c := range []struct {
		name string
		cl   *client
	}{{"the sign-in", newcomer}, {"the upgrade", upgrader}} {
		_, is, err := request(ctx, c.cl, a, http.MethodGet, "/whoami", nil)
		require.NoError(t, err)
		if is == "carol" {
			assert.NotContains(t, sawSignedIn, c.name,
				"%s landed while carol's other sessions were still signed in, and outlived the revocation of them all", c.name)
		}
	}
	// A token minted from the revoked session works only if it came after
	// the revocation, and a mint after it finds its sign-in gone.
	switch mintRes.status {
	case http.StatusOK:
		_, who, err := request(ctx, newClient(t), a, http.MethodGet, "/api/whoami", http.Header{"Authorization": {"Bearer " + mintRes.body}})
		require.NoError(t, err)
		assert.NotEqual(t, "carol", who, "a token minted from carol's session before the revocation outlived it (%d sessions revoked)", rev.n)
	case http.StatusConflict:
		assert.Contains(t, mintRes.body, "revoked", "a mint after the revocation finds its sign-in gone")
	default:
		t.Errorf("the mint answered %d: %s", mintRes.status, mintRes.body)
	}
	_, who, err := request(ctx, minter, a, http.MethodGet, "/whoami", nil)
	require.NoError(t, err)
	assert.Empty(t, who, "the minter's session is revoked")
	_, who, err = request(ctx, held, a, http.MethodGet, "/whoami", nil)
	require.NoError(t, err)
	assert.Empty(t, who, "the held session is revoked")
}

// waitForLockWait waits until a DELETE on table waits for a row lock, as
// the server reports it. MariaDB, to a user without the PROCESS privilege,
// shows only that the statement runs.
func waitForLockWait(t *testing.T, db DB, table string) {
	t.Helper()
	q := "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'" +
		" AND query LIKE '%DELETE FROM%' AND query LIKE '%" + table + "%'"
	if db.Dialector.Name() == "mysql" {
		q = "SELECT count(*) FROM information_schema.PROCESSLIST WHERE INFO LIKE '%DELETE FROM%' AND INFO LIKE '%" + table + "%'" +
			" AND ID <> CONNECTION_ID()"
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int64
		require.NoError(t, db.Raw(q).Scan(&n).Error)
		if n > 0 {
			// MariaDB lists the statement before it reaches the lock.
			time.Sleep(100 * time.Millisecond)
			return
		}
		require.True(t, time.Now().Before(deadline), "DestroyUser's DELETE never waited for the locked row")
		time.Sleep(5 * time.Millisecond)
	}
}

// reply is what a request sent by async got back.
type reply struct {
	status int
	body   string
	err    error
}

// async runs do on its own goroutine and returns where its result will be
// (a buffer of one: a reader may put it back).
func async(do func() (int, string, error)) chan reply {
	ch := make(chan reply, 1)
	go func() {
		status, body, err := do()
		ch <- reply{status, body, err}
	}()
	return ch
}

// awaitReply returns the reply on ch, or fails t when ctx ends first.
func awaitReply(t *testing.T, ctx context.Context, ch chan reply) reply {
	t.Helper()
	select {
	case r := <-ch:
		return r
	case <-ctx.Done():
		t.Fatal("a request still waits after the revocation ended")
		return reply{}
	}
}

// request sends a request with c's cookies to a, from any goroutine: it
// returns its failure instead of failing the test, and gives up when ctx
// ends.
func request(ctx context.Context, c *client, a *app, method, path string, header http.Header) (int, string, error) {
	req, err := http.NewRequestWithContext(ctx, method, a.srv.URL+path, nil)
	if err != nil {
		return 0, "", err
	}
	for k, vs := range header {
		req.Header[k] = vs
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, "", fmt.Errorf("%s %s: %w", method, path, err)
	}
	return resp.StatusCode, strings.TrimSpace(string(body)), nil
}
