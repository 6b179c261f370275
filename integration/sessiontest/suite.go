package sessiontest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
	"github.com/ginsession/ginsession/internal/testkit"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Run runs the behaviour suite against the database that open reaches.
// Tests run one after another, each on a table of its own.
func Run(t *testing.T, open Opener) {
	db := open(t)
	tests := []struct {
		name string
		fn   func(t *testing.T, db DB)
	}{
		{"QuickstartRoundTrip", testQuickstart},
		{"StatementsPerRequest", testStatements},
		{"TypedReads", testTypedReads},
		{"Flashes", testFlashes},
		{"RenewID", testRenewID},
		{"Destroy", testDestroy},
		{"UserID", testUserID},
		{"IdleExpiry", testIdleExpiry},
		{"AbsoluteLifetime", testLifetime},
		{"StrictIDs", testStrictIDs},
		{"LargestValue", testLargestValue},
		{"TimestampPrecision", testTimestampPrecision},
		{"Cleanup", testCleanup},
		{"ConcurrentWriters", testConcurrentWriters},
		{"LogoutRace", testLogoutRace},
		{"DefaultTableName", testDefaultTableName},
		{"UserSessions", testUserSessions},
		{"AdminSessions", testAdminSessions},
		{"AdminCounts", testAdminCounts},
		{"Revocation", testRevocation},
		{"RevocationInTransaction", testRevocationInTransaction},
		{"RevocationAmidSignIns", testRevocationAmidSignIns},
		{"EncryptedAtRest", testEncryptedAtRest},
		{"RememberMe", testRememberMe},
		{"SignInRestartsLifetime", testSignInRestartsLifetime},
		{"StaleRefreshKeepsANewerPolicy", testStaleRefresh},
		{"CSRF", testCSRF},
		{"HeaderSessions", testHeaderSessions},
		{"MigrationIsIdempotent", testMigrationIdempotent},
		{"MigrationUpgradesOldTable", testMigrationUpgrade},
		{"MigrationKeepsAnOlderRenewedFromColumn", testMigrationKeepsCharRenewedFrom},
		{"ConcurrentMigration", func(t *testing.T, _ DB) { testConcurrentMigration(t, open) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, db) })
	}
}

func testQuickstart(t *testing.T, db DB) {
	a := newApp(t, db, freshTable(t, db), nil, func(r *gin.Engine) {
		r.GET("/login", func(c *gin.Context) {
			s := ginsession.Default(c)
			s.RenewID()
			s.Set("username", "Alice")
			c.String(http.StatusOK, "Logged in as Alice")
		})
		r.GET("/profile", func(c *gin.Context) {
			name, _ := ginsession.Get[string](ginsession.Default(c), "username")
			c.String(http.StatusOK, "Hello, %s", name)
		})
	})
	cl := newClient(t)
	assert.Equal(t, "Logged in as Alice", cl.get(a, "/login").body)
	assert.Equal(t, "Hello, Alice", cl.get(a, "/profile").body)
	assert.Equal(t, "Hello, ", newClient(t).get(a, "/profile").body)
}

func testStatements(t *testing.T, db DB) {
	a := newApp(t, db, freshTable(t, db), nil, routes)
	cl := newClient(t)
	assert.Equal(t, []string{"INSERT"}, Kinds(cl.get(a, "/set?k=v").stmts), "new session")
	assert.Empty(t, cl.get(a, "/none").stmts, "untouched")
	resp := cl.get(a, "/get?k=k")
	assert.Equal(t, "v", resp.body)
	assert.Equal(t, []string{"SELECT"}, Kinds(resp.stmts), "read-only")
	assert.Equal(t, []string{"SELECT", "UPDATE"}, Kinds(cl.get(a, "/set?k=w").stmts), "write, no transaction")
	assert.Equal(t, []string{"DELETE"}, Kinds(cl.get(a, "/destroy").stmts), "Destroy")
	assert.Empty(t, newClient(t).get(a, "/get?k=k").stmts, "no cookie: no query")
}

type profile struct {
	Name  string
	Tags  []string
	Since time.Time
}

func testTypedReads(t *testing.T, db DB) {
	when := time.Date(2026, 11, 27, 9, 30, 15, 123456000, time.UTC)
	a := newApp(t, db, freshTable(t, db), nil, func(r *gin.Engine) {
		r.GET("/set", func(c *gin.Context) {
			s := ginsession.Default(c)
			s.Set("int", 42)
			s.Set("bool", true)
			s.Set("float", 2.5)
			s.Set("time", when)
			s.Set("slice", []int{1, 2})
			s.Set("map", map[string]int{"a": 1})
			s.Set("struct", profile{Name: "Alice", Tags: []string{"x"}, Since: when})
			s.Set("unicode", "Grüße, 世界 😀")
			c.Status(http.StatusNoContent)
		})
		r.GET("/check", func(c *gin.Context) {
			s := ginsession.Default(c)
			i, iok := ginsession.Get[int](s, "int")
			b, bok := ginsession.Get[bool](s, "bool")
			f, fok := ginsession.Get[float64](s, "float")
			tm, tok := ginsession.Get[time.Time](s, "time")
			sl, _ := ginsession.Get[[]int](s, "slice")
			m, _ := ginsession.Get[map[string]int](s, "map")
			p, _ := ginsession.Get[profile](s, "struct")
			u, _ := ginsession.Get[string](s, "unicode")
			_, wrong := ginsession.Get[string](s, "int")
			c.String(http.StatusOK, "%d %v %v %v %v %v %v %v %v %v %v %v %s %v",
				i, iok, b, bok, f, fok, tm.Equal(when), tok, sl, m, p.Name, p.Since.Equal(when), u, wrong)
		})
	})
	cl := newClient(t)
	cl.get(a, "/set")
	assert.Equal(t, "42 true true true 2.5 true true true [1 2] map[a:1] Alice true Grüße, 世界 😀 false", cl.get(a, "/check").body)
}

func testFlashes(t *testing.T, db DB) {
	a := newApp(t, db, freshTable(t, db), nil, func(r *gin.Engine) {
		r.GET("/flash", func(c *gin.Context) {
			ginsession.Default(c).AddFlash("saved")
			c.Status(http.StatusNoContent)
		})
		r.GET("/show", func(c *gin.Context) { c.String(http.StatusOK, "%v", ginsession.Default(c).Flashes()) })
	})
	cl := newClient(t)
	cl.get(a, "/flash")
	assert.Equal(t, "[saved]", cl.get(a, "/show").body)
	assert.Equal(t, "[]", cl.get(a, "/show").body)
}

func testRenewID(t *testing.T, db DB) {
	a := newApp(t, db, freshTable(t, db), nil, routes)
	cl := newClient(t)
	cl.get(a, "/set?k=v")
	old := cl.cookie(a)
	resp := cl.get(a, "/renew")
	assert.Equal(t, []string{"SELECT", "UPDATE", "UPDATE"}, Kinds(resp.stmts), "the renewal, then the old ID retired")
	assert.NotEqual(t, old, cl.cookie(a))
	assert.Equal(t, "v", cl.get(a, "/get?k=k").body)
	replay := newClient(t)
	replay.setCookie(a, old)
	assert.Equal(t, http.StatusNotFound, replay.get(a, "/get?k=k").StatusCode)
	assert.Len(t, a.rows(), 1)
}

func testDestroy(t *testing.T, db DB) {
	a := newApp(t, db, freshTable(t, db), nil, func(r *gin.Engine) {
		routes(r)
		r.GET("/logout", func(c *gin.Context) {
			s := ginsession.Default(c)
			s.Destroy()
			s.Set("note", "logged out")
			c.Status(http.StatusNoContent)
		})
	})
	cl := newClient(t)
	cl.get(a, "/set?user=alice")
	old := cl.cookie(a)
	ck := cl.get(a, "/destroy").sessionCookie()
	require.NotNil(t, ck)
	assert.Equal(t, -1, ck.MaxAge)
	assert.Empty(t, a.rows())
	replay := newClient(t)
	replay.setCookie(a, old)
	assert.Equal(t, http.StatusNotFound, replay.get(a, "/get?k=user").StatusCode)

	cl.get(a, "/set?user=bob")
	second := cl.cookie(a)
	assert.Equal(t, []string{"DELETE", "INSERT"}, Kinds(cl.get(a, "/logout").stmts))
	assert.NotEqual(t, second, cl.cookie(a))
	assert.Equal(t, "logged out", cl.get(a, "/get?k=note").body)
	assert.Len(t, a.rows(), 1)
}

func testUserID(t *testing.T, db DB) {
	a := newApp(t, db, freshTable(t, db), nil, func(r *gin.Engine) {
		r.GET("/login", func(c *gin.Context) {
			ginsession.Default(c).SetUserID("user-42")
			c.Status(http.StatusNoContent)
		})
		r.GET("/who", func(c *gin.Context) { c.String(http.StatusOK, ginsession.Default(c).UserID()) })
	})
	cl := newClient(t)
	cl.get(a, "/login")
	assert.Equal(t, "user-42", cl.get(a, "/who").body)
	require.Len(t, a.rows(), 1)
	assert.Equal(t, "user-42", a.rows()[0].UserID)
}

func testIdleExpiry(t *testing.T, db DB) {
	clock := NewClock()
	a := newApp(t, db, freshTable(t, db), clock, routes, ginsession.WithIdleTimeout(10*time.Hour))
	cl := newClient(t)
	cl.get(a, "/set?k=v")
	clock.Advance(59 * time.Minute)
	resp := cl.get(a, "/get?k=k")
	assert.Equal(t, []string{"SELECT"}, Kinds(resp.stmts), "under a tenth of the window: no write")
	clock.Advance(2 * time.Minute)
	resp = cl.get(a, "/get?k=k")
	assert.Equal(t, []string{"SELECT", "UPDATE"}, Kinds(resp.stmts), "past a tenth: one write")
	require.NotNil(t, resp.sessionCookie())
	assert.Equal(t, 10*3600, resp.sessionCookie().MaxAge)
	clock.Advance(10*time.Hour + time.Second)
	assert.Equal(t, http.StatusNotFound, cl.get(a, "/get?k=k").StatusCode, "expired rows are never returned")
}

func testLifetime(t *testing.T, db DB) {
	clock := NewClock()
	a := newApp(t, db, freshTable(t, db), clock, routes,
		ginsession.WithLifetime(3*time.Hour), ginsession.WithIdleTimeout(2*time.Hour))
	cl := newClient(t)
	cl.get(a, "/set?k=v")
	for range 2 {
		clock.Advance(80 * time.Minute)
		require.Equal(t, "v", cl.get(a, "/get?k=k").body)
	}
	clock.Advance(21 * time.Minute)
	assert.Equal(t, http.StatusNotFound, cl.get(a, "/get?k=k").StatusCode)
}

func testStrictIDs(t *testing.T, db DB) {
	a := newApp(t, db, freshTable(t, db), nil, routes)
	malformed := newClient(t)
	malformed.setCookie(a, "not-a-token")
	assert.Empty(t, malformed.get(a, "/get?k=k").stmts, "a malformed cookie costs no query")

	forged := newClient(t)
	token := strings.Repeat("A", 43)
	forged.setCookie(a, token)
	resp := forged.get(a, "/set?k=v")
	assert.Equal(t, []string{"SELECT", "INSERT"}, Kinds(resp.stmts))
	assert.NotEqual(t, token, forged.cookie(a), "an unknown ID is never adopted")
}

func testLargestValue(t *testing.T, db DB) {
	a := newApp(t, db, freshTable(t, db), nil, func(r *gin.Engine) {
		routes(r)
		r.GET("/big", func(c *gin.Context) {
			s := ginsession.Default(c)
			s.Set("big", strings.Repeat("x", ginsession.DefaultMaxSize-64))
			if err := s.Save(); err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			c.Status(http.StatusNoContent)
		})
		r.GET("/big-len", func(c *gin.Context) {
			v, _ := ginsession.Get[string](ginsession.Default(c), "big")
			c.String(http.StatusOK, "%d", len(v))
		})
	})
	cl := newClient(t)
	resp := cl.get(a, "/big")
	require.Equal(t, http.StatusNoContent, resp.StatusCode, resp.body)
	assert.Equal(t, fmt.Sprint(ginsession.DefaultMaxSize-64), cl.get(a, "/big-len").body)
	rows := a.rows()
	require.Len(t, rows, 1)
	assert.Greater(t, len(rows[0].Data), 64000, "the column holds the whole value")
}

func testTimestampPrecision(t *testing.T, db DB) {
	clock := NewClock()
	a := newApp(t, db, freshTable(t, db), clock, routes)
	newClient(t).get(a, "/set?k=v")
	rows := a.rows()
	require.Len(t, rows, 1)
	assert.WithinDuration(t, clock.Now(), rows[0].CreatedAt, time.Millisecond)
	assert.WithinDuration(t, clock.Now().Add(ginsession.DefaultIdleTimeout), rows[0].ExpiresAt, time.Millisecond)
}

func testCleanup(t *testing.T, db DB) {
	clock := NewClock()
	table := freshTable(t, db)
	a := newApp(t, db, table, clock, routes, ginsession.WithIdleTimeout(time.Hour))
	live := newClient(t)
	live.get(a, "/set?k=v")
	now := clock.Now().UTC()
	expired := make([]ginsession.Model, 1100)
	for i := range expired {
		expired[i] = ginsession.Model{ID: fmt.Sprintf("%064d", i), Data: `{"values":{}}`,
			ExpiresAt: now.Add(-time.Minute), CreatedAt: now, UpdatedAt: now, Version: 1}
	}
	require.NoError(t, db.Table(table).CreateInBatches(expired, 200).Error)
	db.Counter.Take()
	n, err := a.store.Cleanup(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 1100, n)
	stmts := db.Counter.Take()
	batches, batch := cleanupBatches(stmts)
	require.Positive(t, batch, "Cleanup's batches, each a DELETE with a LIMIT: %q", stmts)
	for _, k := range Kinds(stmts) {
		// Each batch may be a transaction of its own (PostgreSQL runs it at
		// READ COMMITTED, after a probe of the expiry index), and nothing
		// else runs.
		assert.Contains(t, []string{"DELETE", "WITH", "BEGIN", "COMMIT", "SELECT"}, k, "nothing but the batches: %q", stmts)
	}
	assert.Equal(t, 1100/batch+1, batches, "1100 rows in batches of %d, the last one short", batch)
	assert.Len(t, a.rows(), 1)
	assert.Equal(t, "v", live.get(a, "/get?k=k").body)

	// With nothing left to delete, as most cleanups find, one statement:
	// TestPlans shows it a probe of the expiry index.
	db.Counter.Take()
	n, err = a.store.Cleanup(context.Background())
	require.NoError(t, err)
	assert.Zero(t, n)
	assert.Len(t, db.Counter.Take(), 1, "a cleanup with nothing to delete")
}

func testConcurrentWriters(t *testing.T, db DB) {
	g := newGate()
	a := newApp(t, db, freshTable(t, db), nil, slowRoutes(g))
	cl := newClient(t)
	cl.get(a, "/set?base=0")
	wait := startSlow(cl, a, g, "/slow-set?k=a&v=1")
	other := newClient(t)
	other.setCookie(a, cl.cookie(a))
	require.Equal(t, http.StatusOK, other.get(a, "/set?b=2").StatusCode)
	require.Equal(t, "slow done", wait().body)
	assert.Equal(t, "a,b,base", cl.get(a, "/keys").body)
}

func testLogoutRace(t *testing.T, db DB) {
	g := newGate()
	a := newApp(t, db, freshTable(t, db), nil, slowRoutes(g))
	cl := newClient(t)
	cl.get(a, "/set?user=alice")
	wait := startSlow(cl, a, g, "/slow-set?k=cart&v=full")
	logout := newClient(t)
	logout.setCookie(a, cl.cookie(a))
	logout.get(a, "/destroy")
	slow := wait()
	assert.Equal(t, http.StatusConflict, slow.StatusCode)
	assert.NotContains(t, slow.body, "slow done")
	assert.Empty(t, a.rows(), "never brought back")
	assert.Contains(t, a.logs.String(), "destroyed by a concurrent request")
}

func testDefaultTableName(t *testing.T, db DB) {
	t.Cleanup(func() { _ = db.Migrator().DropTable(ginsession.DefaultTableName) })
	st, err := ginsession.NewStore(db.DB, ginsession.WithCleanupInterval(0))
	require.NoError(t, err)
	require.NotNil(t, st)
	assert.True(t, db.Migrator().HasTable(ginsession.DefaultTableName))
	assert.True(t, db.Migrator().HasIndex(&ginsession.Model{}, "ExpiresAt"))
	assert.True(t, db.Migrator().HasIndex(&ginsession.Model{}, "UserID"))
}

// testConcurrentMigration starts several instances at once on a table that
// does not exist yet, each with its own pool, as app servers do at deploy.
func testConcurrentMigration(t *testing.T, open Opener) {
	const instances = 4
	pools := make([]DB, instances)
	for i := range pools {
		pools[i] = open(t)
	}
	table := freshTable(t, pools[0])
	errs := make([]error, instances)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range instances {
		wg.Go(func() {
			<-start
			_, errs[i] = ginsession.NewStore(pools[i].DB, ginsession.WithTableName(table), ginsession.WithCleanupInterval(0))
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		assert.NoError(t, err, "instance %d", i)
	}
	assert.True(t, pools[0].Migrator().HasTable(table))
}

// testMigrationIdempotent starts a second store on an existing table: it must
// find the table as it wants it and change nothing.
func testMigrationIdempotent(t *testing.T, db DB) {
	table := freshTable(t, db)
	_, err := ginsession.NewStore(db.DB, ginsession.WithTableName(table), ginsession.WithCleanupInterval(0))
	require.NoError(t, err)
	db.Counter.Take()
	_, err = ginsession.NewStore(db.DB, ginsession.WithTableName(table), ginsession.WithCleanupInterval(0))
	require.NoError(t, err)
	for _, stmt := range db.Counter.Take() {
		kind := Kinds([]string{stmt})[0]
		assert.NotContains(t, []string{"ALTER", "CREATE", "DROP"}, kind, stmt)
	}
}

// userRoutes adds what a "your devices" page needs to routes.
func userRoutes(a **app) func(r *gin.Engine) {
	return func(r *gin.Engine) {
		routes(r)
		r.GET("/login", func(c *gin.Context) {
			ginsession.Default(c).Login(c.Query("u"))
			c.String(http.StatusOK, "hello")
		})
		r.GET("/whoami", func(c *gin.Context) { c.String(http.StatusOK, ginsession.Default(c).UserID()) })
		r.GET("/handle", func(c *gin.Context) { c.String(http.StatusOK, ginsession.Default(c).Handle()) })
		r.GET("/devices", func(c *gin.Context) {
			infos, err := (*a).store.UserSessions(c.Request.Context(), ginsession.Default(c).UserID())
			if err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			c.String(http.StatusOK, "%d", len(infos))
		})
		r.GET("/signout-others", func(c *gin.Context) {
			n, err := ginsession.Default(c).DestroyOthers()
			if err != nil {
				c.String(http.StatusBadRequest, err.Error())
				return
			}
			c.String(http.StatusOK, "%d", n)
		})
	}
}

func testUserSessions(t *testing.T, db DB) {
	clock := NewClock()
	var a *app
	a = newApp(t, db, freshTable(t, db), clock, userRoutes(&a),
		ginsession.WithRecordUserAgent(true), ginsession.WithRecordClientIP(true), ginsession.WithLastSeenInterval(time.Minute))
	var browsers []*client
	for range 3 {
		cl := newClient(t)
		cl.get(a, "/login?u=alice")
		browsers = append(browsers, cl)
		clock.Advance(time.Second)
	}
	newClient(t).get(a, "/login?u=Alice") // another user: IDs compare exactly
	newClient(t).get(a, "/set?anonymous=1")

	infos, err := a.store.UserSessions(context.Background(), "alice")
	require.NoError(t, err)
	require.Len(t, infos, 3)
	for i, info := range infos {
		assert.Equal(t, "alice", info.UserID)
		assert.Equal(t, "127.0.0.1", info.ClientIP)
		assert.Equal(t, "Go-http-client/1.1", info.UserAgent)
		if i > 0 {
			assert.True(t, infos[i-1].CreatedAt.After(info.CreatedAt), "newest first")
		}
	}
	assert.Equal(t, infos[0].Handle, browsers[2].get(a, "/handle").body)

	clock.Advance(2 * time.Minute)
	assert.Equal(t, []string{"SELECT", "UPDATE"}, Kinds(browsers[2].get(a, "/whoami").stmts))
	infos, err = a.store.UserSessions(context.Background(), "alice")
	require.NoError(t, err)
	assert.WithinDuration(t, clock.Now(), infos[0].LastSeen, time.Millisecond, "a stale last-seen time is written by a read")
}

func testRevocation(t *testing.T, db DB) {
	var a *app
	a = newApp(t, db, freshTable(t, db), nil, userRoutes(&a))
	var alice []*client
	for range 4 {
		cl := newClient(t)
		cl.get(a, "/login?u=alice")
		alice = append(alice, cl)
	}
	bob := newClient(t)
	bob.get(a, "/login?u=bob")

	require.NoError(t, a.store.DestroySession(context.Background(), alice[3].get(a, "/handle").body))
	assert.Empty(t, alice[3].get(a, "/whoami").body, "a destroyed session is dead on its next request")

	assert.Equal(t, "2", alice[0].get(a, "/signout-others").body)
	assert.Equal(t, "alice", alice[0].get(a, "/whoami").body)
	assert.Empty(t, alice[1].get(a, "/whoami").body)

	n, err := a.store.DestroyUser(context.Background(), "alice")
	require.NoError(t, err)
	assert.EqualValues(t, 1, n)
	assert.Empty(t, alice[0].get(a, "/whoami").body)
	assert.Equal(t, "bob", bob.get(a, "/whoami").body)
}

// testMigrationUpgrade starts a store on a table of the first version that
// already holds a session: the table is upgraded and the session lives on.
func testMigrationUpgrade(t *testing.T, db DB) {
	table := freshTable(t, db)
	require.NoError(t, db.Table(table).AutoMigrate(&testkit.LegacyModel{}))
	// A token whose SHA-256 is the row's ID, as the library makes them.
	token := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	raw := make([]byte, 32)
	sum := sha256.Sum256(raw)
	now := time.Now().UTC()
	require.NoError(t, db.Table(table).Create(&testkit.LegacyModel{ID: hex.EncodeToString(sum[:]), Data: `{"values":{"k":"kept"}}`,
		UserID: "alice", ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now, Version: 1}).Error)

	a := newApp(t, db, table, nil, routes)
	cl := newClient(t)
	cl.setCookie(a, token)
	assert.Equal(t, "kept", cl.get(a, "/get?k=k").body)
	require.Equal(t, http.StatusOK, cl.get(a, "/set?k=new").StatusCode)
	assert.Equal(t, "new", cl.get(a, "/get?k=k").body)
	infos, err := a.store.UserSessions(context.Background(), "alice")
	require.NoError(t, err)
	require.Len(t, infos, 1)
	assert.False(t, infos[0].LastSeen.IsZero())
}

// testMigrationKeepsCharRenewedFrom: on MySQL a new table's renewed_from
// is a VARCHAR (an empty value costs nothing in the row and its index); a
// table made when it was a CHAR(64) keeps it, since changing the type would
// copy the table at start-up, and works as before: a logout with the old
// cookie during a renewal still finds the session.
func testMigrationKeepsCharRenewedFrom(t *testing.T, db DB) {
	if db.Dialector.Name() != "mysql" {
		t.Skip("renewed_from's type question is MySQL's")
	}
	columnType := func(table string) string {
		var typ string
		require.NoError(t, db.Raw("SELECT column_type FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = ? AND column_name = 'renewed_from'",
			table).Scan(&typ).Error)
		return typ
	}
	fresh := freshTable(t, db)
	_, err := ginsession.NewStore(db.DB, ginsession.WithTableName(fresh), ginsession.WithCleanupInterval(0))
	require.NoError(t, err)
	assert.Equal(t, "varchar(64)", columnType(fresh), "a new table")

	older := freshTable(t, db)
	_, err = ginsession.NewStore(db.DB, ginsession.WithTableName(older), ginsession.WithCleanupInterval(0))
	require.NoError(t, err)
	require.NoError(t, db.Exec("ALTER TABLE "+older+" MODIFY renewed_from CHAR(64) CHARACTER SET ascii COLLATE ascii_bin NOT NULL DEFAULT ''").Error)
	db.Counter.Take()
	g := newGate()
	a := newApp(t, db, older, nil, func(r *gin.Engine) {
		routes(r)
		r.GET("/slow-renew", func(c *gin.Context) {
			s := ginsession.Default(c)
			s.RenewID()
			if err := s.Save(); err != nil {
				c.String(http.StatusInternalServerError, err.Error())
				return
			}
			g.Hold() // renewed, and still running: the old ID still reaches it
			c.String(http.StatusOK, "renewed")
		})
	})
	for _, stmt := range db.Counter.Take() {
		assert.NotEqual(t, "ALTER", Kinds([]string{stmt})[0], "an existing table is not rebuilt at start-up: %s", stmt)
	}
	assert.Equal(t, "char(64)", columnType(older), "kept as it was")

	cl := newClient(t)
	cl.get(a, "/set?user=alice")
	old := cl.cookie(a)
	wait := startSlow(cl, a, g, "/slow-renew")
	require.Len(t, a.rows(), 1)
	require.NotEmpty(t, a.rows()[0].RenewedFrom, "renewed, its old ID kept")
	logout := newClient(t)
	logout.setCookie(a, old)
	logout.get(a, "/destroy")
	assert.Equal(t, "renewed", wait().body)
	assert.Empty(t, a.rows(), "the logout with the old cookie found the renewed session")
}

// testRevocationInTransaction revokes sessions inside a transaction of the
// application's: nothing changes for the users until it commits, and
// nothing at all if it rolls back.
func testRevocationInTransaction(t *testing.T, db DB) {
	var a *app
	a = newApp(t, db, freshTable(t, db), nil, userRoutes(&a))
	laptop, phone := newClient(t), newClient(t)
	laptop.get(a, "/login?u=alice")
	phone.get(a, "/login?u=alice")
	ctx := context.Background()

	tx := db.Begin()
	require.NoError(t, tx.Error)
	n, err := a.store.Tx(tx).DestroyUser(ctx, "alice")
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
	assert.Equal(t, "alice", phone.get(a, "/whoami").body, "not committed yet: still signed in")
	require.NoError(t, tx.Rollback().Error)
	assert.Equal(t, "alice", phone.get(a, "/whoami").body, "rolled back")

	tx = db.Begin()
	require.NoError(t, tx.Error)
	infos, err := a.store.Tx(tx).UserSessions(ctx, "alice")
	require.NoError(t, err)
	require.Len(t, infos, 2)
	_, err = a.store.Tx(tx).DestroyUser(ctx, "alice")
	require.NoError(t, err)
	require.NoError(t, tx.Commit().Error)
	assert.Empty(t, phone.get(a, "/whoami").body, "committed: signed out")
	assert.Empty(t, laptop.get(a, "/whoami").body)
	assert.Empty(t, a.rows())
}

// testEncryptedAtRest stores sessions encrypted: the table holds no
// plaintext, values and renewals work, and a rotated key reads old rows.
func testEncryptedAtRest(t *testing.T, db DB) {
	oldKey, newKey := []byte(strings.Repeat("o", 32)), []byte(strings.Repeat("n", 32))
	table := freshTable(t, db)
	a := newApp(t, db, table, nil, routes, ginsession.WithEncryption(oldKey))
	cl := newClient(t)
	require.Equal(t, "set", cl.get(a, "/set?secret=hunter2").body)
	require.Equal(t, "renewed", cl.get(a, "/renew").body)
	assert.Equal(t, "hunter2", cl.get(a, "/get?k=secret").body)
	rows := a.rows()
	require.Len(t, rows, 1)
	assert.True(t, strings.HasPrefix(rows[0].Data, "gse1."), rows[0].Data)
	assert.NotContains(t, rows[0].Data, "hunter2")

	rotated := newApp(t, db, table, nil, routes, ginsession.WithEncryption(newKey, oldKey))
	assert.Equal(t, "hunter2", cl.get(rotated, "/get?k=secret").body, "the old key still reads")
}
