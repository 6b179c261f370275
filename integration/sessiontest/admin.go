package sessiontest

import (
	"context"
	"fmt"
	"iter"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// adminRoutes make browser sessions of each kind: /session?u=alice signs in,
// remember=yes|no chooses RememberMe; the body is the session's handle.
func adminRoutes(r *gin.Engine) {
	r.GET("/session", func(c *gin.Context) {
		s := ginsession.Default(c)
		if u := c.Query("u"); u != "" {
			s.Login(u)
		}
		switch c.Query("remember") {
		case "yes":
			s.RememberMe(true)
		case "no":
			s.RememberMe(false)
		}
		s.Set("cart", "tea")
		if err := s.Save(); err != nil {
			c.String(http.StatusInternalServerError, err.Error())
			return
		}
		c.String(http.StatusOK, s.Handle())
	})
}

// adminTable is a table with sessions of every kind, two of them expired.
type adminTable struct {
	a     *app
	clock *Clock
	start time.Time
	// Handles of the live sessions, by what a filter keeps.
	all, anonymous, signedIn, remembered, browser, plain, apis, alice, early, late []string
	tokens                                                                         []string
}

func newAdminTable(t *testing.T, db DB) *adminTable {
	ctx := context.Background()
	clock := NewClock()
	x := &adminTable{clock: clock, start: clock.Now()}
	x.a = newApp(t, db, freshTable(t, db), clock, adminRoutes, ginsession.WithTokenHeader("Authorization"),
		ginsession.WithEncryption([]byte(strings.Repeat("k", 32))), ginsession.WithIdleTimeout(3*time.Hour),
		ginsession.WithRememberTimeout(3*time.Hour), ginsession.WithBrowserSessionTimeout(3*time.Hour))
	seed := func(s ginsession.Seed) string {
		token, err := x.a.store.NewSession(ctx, s)
		require.NoError(t, err)
		x.tokens = append(x.tokens, token)
		r, err := x.a.store.ReadSession(ctx, token)
		require.NoError(t, err)
		return r.Handle()
	}
	browse := func(query string) string {
		cl := newClient(t)
		resp := cl.get(x.a, "/session?"+query)
		require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
		x.tokens = append(x.tokens, cl.cookie(x.a))
		return resp.body
	}
	seed(ginsession.Seed{UserID: "alice"}) // both expire before the checks
	seed(ginsession.Seed{})
	clock.Advance(2 * time.Hour)
	add := func(h string, kinds ...*[]string) {
		require.Len(t, h, 64)
		x.all = append(x.all, h)
		for _, k := range kinds {
			*k = append(*k, h)
		}
	}
	add(seed(ginsession.Seed{UserID: "alice", Remember: true}), &x.signedIn, &x.remembered, &x.alice, &x.early)
	add(seed(ginsession.Seed{UserID: "alice", Header: true}), &x.signedIn, &x.apis, &x.alice, &x.early)
	add(seed(ginsession.Seed{UserID: "bob"}), &x.signedIn, &x.plain, &x.early)
	add(seed(ginsession.Seed{Header: true}), &x.anonymous, &x.apis, &x.early)
	add(browse("remember=no"), &x.anonymous, &x.browser, &x.early)
	clock.Advance(time.Hour)
	add(browse("u=alice&remember=no"), &x.signedIn, &x.browser, &x.alice, &x.late)
	add(browse("u=carol&remember=yes"), &x.signedIn, &x.remembered, &x.late)
	add(browse(""), &x.anonymous, &x.plain, &x.late)
	add(seed(ginsession.Seed{UserID: "Alice"}), &x.signedIn, &x.plain, &x.late) // IDs compare exactly
	clock.Advance(30 * time.Minute)
	return x
}

// list runs a listing to its end and returns the handles it yielded,
// failing on a handle listed twice.
func list(t *testing.T, seq iter.Seq2[ginsession.SessionInfo, error]) []string {
	t.Helper()
	var out []string
	seen := map[string]bool{}
	for info, err := range seq {
		require.NoError(t, err)
		require.False(t, seen[info.Handle], "listed twice: %s", info.Handle)
		seen[info.Handle] = true
		out = append(out, info.Handle)
	}
	return out
}

// testAdminSessions lists the sessions of every user through each filter,
// a page at a time, never showing a token.
func testAdminSessions(t *testing.T, db DB) {
	x := newAdminTable(t, db)
	st, ctx := x.a.store, context.Background()
	signedIn := x.start.Add(2 * time.Hour)
	tests := []struct {
		name string
		q    ginsession.SessionQuery
		want []string
	}{
		{"all", ginsession.SessionQuery{}, x.all},
		{"user", ginsession.SessionQuery{UserID: "alice"}, x.alice},
		{"anonymous", ginsession.SessionQuery{Kind: ginsession.KindAnonymous}, x.anonymous},
		{"signed in", ginsession.SessionQuery{Kind: ginsession.KindSignedIn}, x.signedIn},
		{"remembered", ginsession.SessionQuery{Kind: ginsession.KindRemembered}, x.remembered},
		{"browser", ginsession.SessionQuery{Kind: ginsession.KindBrowser}, x.browser},
		{"plain cookie", ginsession.SessionQuery{Kind: ginsession.KindPlainCookie}, x.plain},
		{"API token", ginsession.SessionQuery{Kind: ginsession.KindAPIToken}, x.apis},
		{"signed in after", ginsession.SessionQuery{SignedInAfter: signedIn}, []string{x.late[0], x.late[1], x.late[3]}},
		{"signed in before", ginsession.SessionQuery{SignedInBefore: signedIn.Add(time.Minute)}, []string{x.alice[0], x.alice[1], x.plain[0]}},
		{"last seen after", ginsession.SessionQuery{LastSeenAfter: signedIn}, x.late},
		{"last seen within", ginsession.SessionQuery{LastSeenAfter: signedIn.Add(-time.Minute), LastSeenBefore: signedIn.Add(time.Minute)}, x.early},
		{"user, kind and sign-in", ginsession.SessionQuery{UserID: "alice", Kind: ginsession.KindBrowser, SignedInAfter: signedIn}, x.alice[2:]},
		{"kind and last seen", ginsession.SessionQuery{Kind: ginsession.KindAPIToken, LastSeenAfter: signedIn}, nil},
	}
	for _, tc := range tests {
		for _, size := range []int{0, 2} {
			t.Run(fmt.Sprintf("%s/page%d", tc.name, size), func(t *testing.T) {
				q := tc.q
				q.PageSize = size
				assert.ElementsMatch(t, tc.want, list(t, st.Sessions(ctx, q)))
			})
		}
	}

	t.Run("NoToken", func(t *testing.T) {
		for info, err := range st.Sessions(context.Background(), ginsession.SessionQuery{}) {
			require.NoError(t, err)
			text := fmt.Sprintf("%+v %s", info, info.Cursor())
			for _, token := range x.tokens {
				assert.NotContains(t, text, token)
			}
		}
	})

	t.Run("PagesWhileSessionsComeAndGo", func(t *testing.T) {
		var initial []string
		for range 40 {
			token, err := st.NewSession(ctx, ginsession.Seed{UserID: "dave"})
			require.NoError(t, err)
			r, err := st.ReadSession(ctx, token)
			require.NoError(t, err)
			initial = append(initial, r.Handle())
		}
		for _, q := range []ginsession.SessionQuery{{PageSize: 3}, {PageSize: 3, UserID: "dave"}} {
			destroyed, seen := map[string]bool{}, map[string]bool{}
			n := 0
			for info, err := range st.Sessions(ctx, q) {
				require.NoError(t, err)
				require.False(t, seen[info.Handle], "listed twice")
				require.False(t, destroyed[info.Handle], "listed after it was destroyed")
				seen[info.Handle] = true
				if n++; n%3 != 0 {
					continue
				}
				_, err := st.NewSession(ctx, ginsession.Seed{UserID: "dave"})
				require.NoError(t, err)
				h := initial[(n*7)%len(initial)]
				require.NoError(t, st.DestroySession(ctx, h))
				destroyed[h] = true
			}
			for _, h := range initial {
				if !destroyed[h] {
					assert.True(t, seen[h], "a session live all along was missed")
				}
			}
			initial = list(t, st.Sessions(ctx, ginsession.SessionQuery{UserID: "dave"}))
		}
	})

	t.Run("CursorResumes", func(t *testing.T) {
		var first []ginsession.SessionInfo
		for info, err := range st.Sessions(context.Background(), ginsession.SessionQuery{Kind: ginsession.KindSignedIn, PageSize: 2}) {
			require.NoError(t, err)
			first = append(first, info)
			if len(first) == 3 {
				break
			}
		}
		require.Len(t, first, 3)
		rest := list(t, st.Sessions(ctx, ginsession.SessionQuery{Kind: ginsession.KindSignedIn, After: first[2].Cursor()}))
		all := list(t, st.Sessions(ctx, ginsession.SessionQuery{Kind: ginsession.KindSignedIn}))
		assert.Equal(t, all[3:], rest)
	})

	t.Run("BadQuery", func(t *testing.T) {
		for _, q := range []ginsession.SessionQuery{
			{Kind: 99}, {PageSize: ginsession.MaxSessionPageSize + 1}, {After: "not a cursor"},
			{LastSeenAfter: x.start, LastSeenBefore: x.start},
		} {
			n := 0
			for _, err := range st.Sessions(ctx, q) {
				assert.ErrorIs(t, err, ginsession.ErrInvalidQuery)
				n++
			}
			assert.Equal(t, 1, n, "the error, once")
		}
	})
}

// testAdminCounts counts the live sessions, and inside a transaction sees
// its own revocations before anyone else does.
func testAdminCounts(t *testing.T, db DB) {
	x := newAdminTable(t, db)
	ctx := context.Background()
	c, err := x.a.store.CountSessions(ctx)
	require.NoError(t, err)
	assert.Equal(t, ginsession.SessionCounts{Live: int64(len(x.all)), SignedIn: int64(len(x.signedIn)),
		Anonymous: int64(len(x.anonymous))}, c)
	byKind, err := x.a.store.CountSessionsByKind(ctx)
	require.NoError(t, err)
	assert.Equal(t, c.SignedIn, byKind[ginsession.KindSignedIn])
	assert.Equal(t, c.Anonymous, byKind[ginsession.KindAnonymous])
	assert.Equal(t, c.Live, byKind[ginsession.KindRemembered]+byKind[ginsession.KindBrowser]+byKind[ginsession.KindPlainCookie]+
		byKind[ginsession.KindAPIToken], "how they travel adds up to the live sessions: %v", byKind)
	for _, kind := range []ginsession.SessionKind{ginsession.KindRemembered, ginsession.KindBrowser, ginsession.KindPlainCookie, ginsession.KindAPIToken} {
		assert.Len(t, list(t, x.a.store.Sessions(ctx, ginsession.SessionQuery{Kind: kind})), int(byKind[kind]), "kind %d", kind)
	}

	tx := db.Begin()
	require.NoError(t, tx.Error)
	defer tx.Rollback()
	n, err := x.a.store.Tx(tx).DestroyUser(ctx, "alice")
	require.NoError(t, err)
	require.EqualValues(t, len(x.alice)+1, n, "and the expired one")
	inTx, err := x.a.store.Tx(tx).CountSessions(ctx)
	require.NoError(t, err)
	live := int64(len(x.alice))
	assert.Equal(t, ginsession.SessionCounts{Live: c.Live - live, SignedIn: c.SignedIn - live, Anonymous: c.Anonymous}, inTx)
	assert.Empty(t, list(t, x.a.store.Tx(tx).Sessions(ctx, ginsession.SessionQuery{UserID: "alice"})))
	assert.Len(t, list(t, x.a.store.Sessions(ctx, ginsession.SessionQuery{UserID: "alice"})), len(x.alice), "not committed yet")
	require.NoError(t, tx.Commit().Error)
	after, err := x.a.store.CountSessions(ctx)
	require.NoError(t, err)
	assert.Equal(t, inTx, after)

	x.clock.Advance(4 * time.Hour) // every session has expired
	after, err = x.a.store.CountSessions(ctx)
	require.NoError(t, err)
	assert.Equal(t, ginsession.SessionCounts{}, after)
	assert.Empty(t, list(t, x.a.store.Sessions(ctx, ginsession.SessionQuery{})))
}
