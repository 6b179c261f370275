package ginsession

import (
	"context"
	"encoding/base64"
	"fmt"
	"iter"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// collect runs a listing to its end and returns the handles it yielded.
func collect(t *testing.T, seq iter.Seq2[SessionInfo, error]) []string {
	t.Helper()
	var handles []string
	for info, err := range seq {
		require.NoError(t, err)
		handles = append(handles, info.Handle)
	}
	return handles
}

// handleOf is the handle of the session a token names.
func handleOf(t *testing.T, st *Store, token string) string {
	t.Helper()
	s, err := st.ReadSession(context.Background(), token)
	require.NoError(t, err)
	h := s.Handle()
	require.NotEmpty(t, h, "a live session")
	return h
}

// adminRoutes make browser sessions of each kind.
func adminRoutes(r *gin.Engine) {
	r.GET("/session", func(c *gin.Context) {
		s := Default(c)
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

// population is a table of sessions of every kind, some expired, with the
// handles of each kind.
type population struct {
	a                                *app
	all                              []string // live
	anonymous, signedIn              []string
	remembered, browser, plain, apis []string
	alice                            []string
	early, late                      []string // signed in at first, an hour later
	seenEarly, seenLate              []string // last seen at first, an hour later
	expiredAlice, expiredAnon        string
	start                            time.Time
}

func newPopulation(t *testing.T, opts ...Option) *population {
	t.Helper()
	opts = append([]Option{WithTokenHeader("Authorization"), WithIdleTimeout(3 * time.Hour),
		WithRememberTimeout(3 * time.Hour), WithBrowserSessionTimeout(3 * time.Hour)}, opts...)
	p := &population{a: newApp(t, adminRoutes, opts...)}
	ctx := context.Background()
	st := p.a.store
	p.start = p.a.clock.Now()
	seed := func(s Seed) string {
		token, err := st.NewSession(ctx, s)
		require.NoError(t, err)
		return handleOf(t, st, token)
	}
	browse := func(query string) string {
		resp := p.a.client().get("/session?" + query)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		return resp.body
	}
	// Two that will have expired: created now, idle for the rest.
	p.expiredAlice = seed(Seed{UserID: "alice"})
	p.expiredAnon = seed(Seed{})
	p.a.clock.Advance(2 * time.Hour)
	seen := &p.seenEarly
	add := func(h string, kinds ...*[]string) {
		p.all = append(p.all, h)
		*seen = append(*seen, h)
		for _, k := range kinds {
			*k = append(*k, h)
		}
	}
	add(seed(Seed{UserID: "alice", Remember: true}), &p.signedIn, &p.remembered, &p.alice, &p.early)
	add(seed(Seed{UserID: "alice", Header: true}), &p.signedIn, &p.apis, &p.alice, &p.early)
	add(seed(Seed{UserID: "bob"}), &p.signedIn, &p.plain, &p.early)
	add(seed(Seed{Header: true}), &p.anonymous, &p.apis)
	add(browse("remember=no"), &p.anonymous, &p.browser)
	p.a.clock.Advance(time.Hour)
	seen = &p.seenLate
	add(browse("u=alice&remember=no"), &p.signedIn, &p.browser, &p.alice, &p.late)
	add(browse("u=carol&remember=yes"), &p.signedIn, &p.remembered, &p.late)
	add(browse(""), &p.anonymous, &p.plain)
	add(seed(Seed{UserID: "Alice"}), &p.signedIn, &p.plain, &p.late) // IDs compare exactly
	p.a.clock.Advance(30 * time.Minute)                              // 3h30 after the first two
	return p
}

func TestSessionsListsEveryLiveSessionWithItsKind(t *testing.T) {
	p := newPopulation(t)
	infos := map[string]SessionInfo{}
	for info, err := range p.a.store.Sessions(context.Background(), SessionQuery{}) {
		require.NoError(t, err)
		require.NotContains(t, infos, info.Handle, "listed twice")
		infos[info.Handle] = info
	}
	assert.ElementsMatch(t, p.all, keys(infos), "every live session, no expired one")
	assert.NotContains(t, infos, p.expiredAlice)
	for _, h := range p.remembered {
		assert.True(t, infos[h].Remembered && !infos[h].Browser && !infos[h].Header, h)
	}
	for _, h := range p.browser {
		assert.True(t, infos[h].Browser && !infos[h].Remembered && !infos[h].Header, h)
	}
	for _, h := range p.apis {
		assert.True(t, infos[h].Header, h)
	}
	for _, h := range p.anonymous {
		assert.Empty(t, infos[h].UserID)
		assert.True(t, infos[h].SignedInAt.IsZero(), "an anonymous session was never signed in")
	}
	for _, h := range p.early {
		assert.Equal(t, p.start.Add(2*time.Hour), infos[h].SignedInAt.UTC())
	}
	assert.Equal(t, "Alice", infos[p.late[len(p.late)-1]].UserID)
}

func keys(m map[string]SessionInfo) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func TestSessionsFilters(t *testing.T) {
	p := newPopulation(t)
	twoHours := p.start.Add(2 * time.Hour)
	both := func(a, b []string) []string {
		var out []string
		for _, h := range a {
			if slices.Contains(b, h) {
				out = append(out, h)
			}
		}
		return out
	}
	tests := []struct {
		name string
		q    SessionQuery
		want []string
	}{
		{"user", SessionQuery{UserID: "alice"}, p.alice},
		{"user compares exactly", SessionQuery{UserID: "ALICE"}, nil},
		{"anonymous", SessionQuery{Kind: KindAnonymous}, p.anonymous},
		{"signed in", SessionQuery{Kind: KindSignedIn}, p.signedIn},
		{"remembered", SessionQuery{Kind: KindRemembered}, p.remembered},
		{"browser", SessionQuery{Kind: KindBrowser}, p.browser},
		{"plain cookie", SessionQuery{Kind: KindPlainCookie}, p.plain},
		{"API token", SessionQuery{Kind: KindAPIToken}, p.apis},
		{"signed in after", SessionQuery{SignedInAfter: twoHours}, p.late},
		{"signed in before", SessionQuery{SignedInBefore: twoHours.Add(time.Minute)}, p.early},
		{"signed in within", SessionQuery{SignedInAfter: twoHours.Add(-time.Minute), SignedInBefore: twoHours.Add(time.Minute)}, p.early},
		{"last seen after", SessionQuery{LastSeenAfter: twoHours}, p.seenLate},
		{"last seen before", SessionQuery{LastSeenBefore: twoHours.Add(time.Minute)}, p.seenEarly},
		{"last seen within", SessionQuery{LastSeenAfter: twoHours.Add(-time.Minute), LastSeenBefore: twoHours.Add(time.Minute)}, p.seenEarly},
		{"user and kind", SessionQuery{UserID: "alice", Kind: KindBrowser}, both(p.alice, p.browser)},
		{"user, kind and time", SessionQuery{UserID: "alice", Kind: KindSignedIn, SignedInAfter: twoHours}, both(p.alice, p.late)},
		{"kind and last seen", SessionQuery{Kind: KindAPIToken, LastSeenBefore: twoHours.Add(time.Minute)}, p.apis},
		{"anonymous and signed-in time keep nothing", SessionQuery{Kind: KindAnonymous, SignedInBefore: twoHours.Add(time.Hour)}, nil},
		{"nothing matches", SessionQuery{UserID: "nobody"}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, size := range []int{0, 1, 2} { // one page, and pages that end mid-list
				q := tc.q
				q.PageSize = size
				assert.ElementsMatch(t, tc.want, collect(t, p.a.store.Sessions(context.Background(), q)), "page size %d", size)
			}
		})
	}
}

// TestSessionsPagingSurvivesConcurrentChanges lists many sessions a few
// at a time while sessions are created and destroyed between pages: none
// is listed twice, and none that stayed live all along is missed.
func TestSessionsPagingSurvivesConcurrentChanges(t *testing.T) {
	a := newApp(t, adminRoutes)
	st, ctx := a.store, context.Background()
	var initial []string
	for i := range 300 {
		token, err := st.NewSession(ctx, Seed{UserID: fmt.Sprintf("user%d", i%7)})
		require.NoError(t, err)
		initial = append(initial, handleOf(t, st, token))
	}
	destroyed := map[string]bool{}
	seen := map[string]bool{}
	n := 0
	for info, err := range st.Sessions(ctx, SessionQuery{PageSize: 9}) {
		require.NoError(t, err)
		require.False(t, seen[info.Handle], "listed twice: %s", info.Handle)
		require.False(t, destroyed[info.Handle], "listed after it was destroyed: %s", info.Handle)
		seen[info.Handle] = true
		n++
		if n%9 != 0 {
			continue
		}
		// Between pages: new sessions land anywhere in the order, and some
		// already listed and some not yet listed go.
		for range 3 {
			_, err := st.NewSession(ctx, Seed{})
			require.NoError(t, err)
		}
		for _, h := range []string{initial[(n*7)%300], initial[(n*13+5)%300]} {
			require.NoError(t, st.DestroySession(ctx, h))
			destroyed[h] = true
		}
	}
	for _, h := range initial {
		if !destroyed[h] {
			assert.True(t, seen[h], "a session live all along was missed: %s", h)
		}
	}
	assert.Greater(t, n, 250)
}

// TestSessionsResumesAfterACursor shows pages of an admin page: each page
// stops after a few sessions and the next resumes after the last one's
// cursor.
func TestSessionsResumesAfterACursor(t *testing.T) {
	a := newApp(t, adminRoutes)
	st, ctx := a.store, context.Background()
	for range 23 {
		_, err := st.NewSession(ctx, Seed{UserID: "alice"})
		require.NoError(t, err)
	}
	for _, userID := range []string{"", "alice"} {
		var pages [][]string
		after := ""
		for {
			var page []string
			for info, err := range st.Sessions(ctx, SessionQuery{UserID: userID, After: after, PageSize: 10}) {
				require.NoError(t, err)
				page = append(page, info.Handle)
				after = info.Cursor()
				if len(page) == 10 {
					break
				}
			}
			if len(page) == 0 {
				break
			}
			pages = append(pages, page)
		}
		require.Len(t, pages, 3, "user %q", userID)
		assert.Len(t, pages[2], 3)
		all := slices.Concat(pages...)
		assert.True(t, slices.IsSorted(all), "in the order of their handles")
		assert.Len(t, slices.Compact(all), 23, "no session on two pages")
	}
}

func TestCountSessionsCountsLiveSessionsBySignIn(t *testing.T) {
	p := newPopulation(t)
	c, err := p.a.store.CountSessions(context.Background())
	require.NoError(t, err)
	assert.Equal(t, SessionCounts{Live: int64(len(p.all)), SignedIn: int64(len(p.signedIn)), Anonymous: int64(len(p.anonymous))}, c,
		"the two expired sessions are not counted")

	_, err = p.a.store.DestroyUser(context.Background(), "alice")
	require.NoError(t, err)
	p.a.clock.Advance(4 * time.Hour) // every other one expires
	c, err = p.a.store.CountSessions(context.Background())
	require.NoError(t, err)
	assert.Equal(t, SessionCounts{}, c)
}

func TestCountSessionsByKindCountsEachKindOfLiveSession(t *testing.T) {
	p := newPopulation(t)
	ctx := context.Background()
	c, err := p.a.store.CountSessionsByKind(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[SessionKind]int64{
		KindSignedIn: int64(len(p.signedIn)), KindAnonymous: int64(len(p.anonymous)),
		KindRemembered: int64(len(p.remembered)), KindBrowser: int64(len(p.browser)),
		KindPlainCookie: int64(len(p.plain)), KindAPIToken: int64(len(p.apis)),
	}, c, "the two expired sessions are not counted")
	for kind, n := range c {
		listed := 0
		for _, err := range p.a.store.Sessions(ctx, SessionQuery{Kind: kind}) {
			require.NoError(t, err)
			listed++
		}
		assert.EqualValues(t, listed, n, "kind %d: the count agrees with the listing", kind)
	}

	p.a.clock.Advance(4 * time.Hour) // every one expires
	c, err = p.a.store.CountSessionsByKind(ctx)
	require.NoError(t, err)
	assert.Equal(t, map[SessionKind]int64{KindSignedIn: 0, KindAnonymous: 0, KindRemembered: 0, KindBrowser: 0, KindPlainCookie: 0, KindAPIToken: 0}, c,
		"every kind is there, as 0")
}

func TestSessionsRefusesAQueryItCannotRun(t *testing.T) {
	a := newApp(t, adminRoutes)
	_, err := a.store.NewSession(context.Background(), Seed{UserID: "alice"})
	require.NoError(t, err)
	now := a.clock.Now()
	handle := a.rows()[0].ID
	tests := []struct {
		name, says string
		q          SessionQuery
	}{
		{"negative kind", "unknown SessionKind -1", SessionQuery{Kind: -1}},
		{"kind past the last", "unknown SessionKind", SessionQuery{Kind: numKinds}},
		{"negative page size", "PageSize -1", SessionQuery{PageSize: -1}},
		{"page size over the cap", "PageSize 1001", SessionQuery{PageSize: MaxSessionPageSize + 1}},
		{"signed-in range inverted", "SignedInAfter", SessionQuery{SignedInAfter: now, SignedInBefore: now.Add(-time.Second)}},
		{"signed-in range empty", "SignedInAfter", SessionQuery{SignedInAfter: now, SignedInBefore: now}},
		{"last-seen range inverted", "LastSeenAfter", SessionQuery{LastSeenAfter: now.Add(time.Hour), LastSeenBefore: now}},
		{"a handle is not a cursor", "not a cursor", SessionQuery{After: handle}},
		{"garbage cursor", "not a cursor", SessionQuery{After: "c1!!"}},
		{"short cursor", "not a cursor", SessionQuery{After: "c"}},
		{"cursor of another version", "not a cursor", SessionQuery{After: "c2" + base64.RawURLEncoding.EncodeToString(make([]byte, 32))}},
		{"cursor of a short ID", "not a cursor", SessionQuery{After: "c1" + base64.RawURLEncoding.EncodeToString(make([]byte, 16))}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a.rec.Take()
			n := 0
			for info, err := range a.store.Sessions(context.Background(), tc.q) {
				n++
				assert.ErrorIs(t, err, ErrInvalidQuery)
				assert.ErrorContains(t, err, tc.says)
				assert.Zero(t, info)
			}
			assert.Equal(t, 1, n, "the error, once, and nothing else")
			assert.Empty(t, a.rec.Take(), "nothing is read")
		})
	}
	// The boundary values are accepted.
	for _, size := range []int{1, MaxSessionPageSize} {
		assert.Len(t, collect(t, a.store.Sessions(context.Background(), SessionQuery{PageSize: size})), 1)
	}
}

func TestSessionsAndCountReportADatabaseErrorAsErrLoad(t *testing.T) {
	a := newApp(t, adminRoutes)
	_, err := a.store.NewSession(context.Background(), Seed{})
	require.NoError(t, err)
	sqlDB, err := a.db.DB()
	require.NoError(t, err)
	require.NoError(t, sqlDB.Close())
	n := 0
	for _, err := range a.store.Sessions(context.Background(), SessionQuery{}) {
		n++
		assert.ErrorIs(t, err, ErrLoad)
	}
	assert.Equal(t, 1, n)
	_, err = a.store.CountSessions(context.Background())
	assert.ErrorIs(t, err, ErrLoad)
}

// TestSessionsStopsWhereTheCallerStops: breaking out of the loop reads no
// further page.
func TestSessionsStopsWhereTheCallerStops(t *testing.T) {
	a := newApp(t, adminRoutes)
	for range 5 {
		_, err := a.store.NewSession(context.Background(), Seed{})
		require.NoError(t, err)
	}
	a.rec.Take()
	for range a.store.Sessions(context.Background(), SessionQuery{PageSize: 2}) {
		break
	}
	assert.Equal(t, []string{"SELECT"}, kinds(a.rec.Take()), "one page read")
}

// TestSessionsNeverShowsATokenEncrypted lists encrypted cookie and header
// sessions: what it yields names them by handle, never by the token that
// would let its reader use them.
func TestSessionsNeverShowsATokenEncrypted(t *testing.T) {
	a := newApp(t, adminRoutes, WithEncryption([]byte(strings.Repeat("k", 32))), WithTokenHeader("Authorization"))
	ctx := context.Background()
	var tokens []string
	for _, seed := range []Seed{{UserID: "alice", Header: true}, {UserID: "alice"}, {Header: true}} {
		token, err := a.store.NewSession(ctx, seed)
		require.NoError(t, err)
		tokens = append(tokens, token)
	}
	cl := a.client()
	cl.get("/session?u=bob")
	tokens = append(tokens, cl.cookie())
	require.True(t, strings.HasPrefix(a.rows()[0].Data, "gse1."), "sealed")

	var listed []string
	for info, err := range a.store.Sessions(ctx, SessionQuery{}) {
		require.NoError(t, err)
		listed = append(listed, info.Handle)
		text := fmt.Sprintf("%+v %s", info, info.Cursor())
		for _, token := range tokens {
			assert.NotContains(t, text, token)
		}
	}
	var want []string
	for _, token := range tokens {
		want = append(want, handleOf(t, a.store, token))
	}
	assert.ElementsMatch(t, want, listed)
}

// TestTxSessionsSeeTheTransaction: inside a transaction, the listing and
// the count see its own uncommitted changes; outside, nothing changes until
// it commits.
func TestTxSessionsSeeTheTransaction(t *testing.T) {
	a := newApp(t, adminRoutes)
	ctx := context.Background()
	for _, u := range []string{"alice", "alice", "bob"} {
		_, err := a.store.NewSession(ctx, Seed{UserID: u})
		require.NoError(t, err)
	}
	tx := a.db.Begin()
	require.NoError(t, tx.Error)
	defer tx.Rollback()
	_, err := a.store.Tx(tx).DestroyUser(ctx, "alice")
	require.NoError(t, err)
	assert.Len(t, collect(t, a.store.Tx(tx).Sessions(ctx, SessionQuery{PageSize: 1})), 1)
	c, err := a.store.Tx(tx).CountSessions(ctx)
	require.NoError(t, err)
	assert.Equal(t, SessionCounts{Live: 1, SignedIn: 1}, c)
	assert.Len(t, collect(t, a.store.Sessions(ctx, SessionQuery{})), 3, "not committed")
	require.NoError(t, tx.Rollback().Error)
	c, err = a.store.CountSessions(ctx)
	require.NoError(t, err)
	assert.Equal(t, SessionCounts{Live: 3, SignedIn: 3}, c, "rolled back")
}

func TestCursorOfAnEmptyInfoIsEmpty(t *testing.T) {
	assert.Empty(t, SessionInfo{}.Cursor())
	assert.Empty(t, SessionInfo{Handle: "xyz"}.Cursor())
	info := SessionInfo{Handle: strings.Repeat("ab", 32)}
	h, err := parseCursor(info.Cursor())
	require.NoError(t, err)
	assert.Equal(t, info.Handle, h)
}
