package ginsession

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A new session's INSERT leaves the columns an anonymous session holds at
// their defaults to the table; whatever the request gave the session must
// still reach its row.
func TestANewSessionsRowHoldsWhatTheRequestGaveIt(t *testing.T) {
	start := newClock().Now()
	for _, tc := range []struct {
		name  string
		opts  []Option
		setup func(s *Session)
		check func(t *testing.T, m Model)
	}{
		{"anonymous", nil, func(*Session) {}, func(t *testing.T, m Model) {
			assert.Empty(t, m.UserID)
			assert.False(t, m.SignedInAt.Valid)
			assert.Zero(t, m.IdleTimeout)
			assert.False(t, m.Deadline.Valid)
			assert.Zero(t, m.Flags)
			assert.Empty(t, m.UserAgent)
			assert.Empty(t, m.ClientIP)
		}},
		{"remembered", nil, func(s *Session) { s.RememberMe(true) }, func(t *testing.T, m Model) {
			assert.Equal(t, flagRemembered, m.Flags)
		}},
		{"browser session", nil, func(s *Session) { s.RememberMe(false) }, func(t *testing.T, m Model) {
			assert.Equal(t, flagBrowser, m.Flags)
		}},
		{"own idle timeout", nil, func(s *Session) { s.SetIdleTimeout(10 * time.Minute) }, func(t *testing.T, m Model) {
			assert.Equal(t, int64(600), m.IdleTimeout)
		}},
		{"own deadline", nil, func(s *Session) { s.SetDeadline(start.Add(time.Hour)) }, func(t *testing.T, m Model) {
			require.True(t, m.Deadline.Valid)
			assert.True(t, m.Deadline.Time.Equal(start.Add(time.Hour)), "deadline %v", m.Deadline.Time)
		}},
		{"signed in", nil, func(s *Session) { s.Login("alice") }, func(t *testing.T, m Model) {
			assert.Equal(t, "alice", m.UserID)
			assert.True(t, m.SignedInAt.Valid)
		}},
		{"client recorded", []Option{WithRecordUserAgent(true), WithRecordClientIP(true)}, func(*Session) {}, func(t *testing.T, m Model) {
			assert.Equal(t, "ginsession-test", m.UserAgent)
			assert.Equal(t, "127.0.0.1", m.ClientIP)
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t, func(r *gin.Engine) {
				basicRoutes(r)
				r.GET("/new", func(c *gin.Context) {
					s := Default(c)
					s.Set("k", "v")
					tc.setup(s)
					c.String(http.StatusOK, "made")
				})
			}, tc.opts...)
			cl := a.client()
			resp := cl.send(http.MethodGet, "/new", nil, http.Header{"User-Agent": {"ginsession-test"}})
			require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
			assert.Equal(t, []string{"INSERT"}, kinds(resp.stmts), "one statement makes the session")
			rows := a.rows()
			require.Len(t, rows, 1)
			m := rows[0]
			assert.Contains(t, m.Data, `"k":"v"`)
			assert.Equal(t, int64(1), m.Version)
			assert.True(t, m.LastSeenAt.Valid)
			assert.True(t, m.ExpiresAt.After(start))
			tc.check(t, m)
			assert.Equal(t, "v", cl.get("/get?k=k").body, "the next request finds it")
		})
	}
}

func TestAnAnonymousSessionsInsertLeavesTheDefaultsToTheTable(t *testing.T) {
	a := newApp(t, basicRoutes)
	resp := a.client().get("/set?k=v")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	require.Len(t, resp.stmts, 1)
	insert := resp.stmts[0]
	require.True(t, strings.HasPrefix(insert, "INSERT"), insert)
	for _, col := range []string{"user_agent", "client_ip", "signed_in_at", "idle_timeout", "deadline", "flags"} {
		assert.NotContains(t, insert, col)
	}
}

// A table an application's own migration made, without the defaults the
// anonymous INSERT leaves to it, gets them from the store's migration.
func TestATableMadeWithoutTheColumnDefaultsGetsThemAtStartUp(t *testing.T) {
	db, rec := openDB(t)
	require.NoError(t, db.Exec(`CREATE TABLE gin_sessions (
		id text PRIMARY KEY, data text NOT NULL, user_id text NOT NULL,
		expires_at datetime NOT NULL, created_at datetime NOT NULL, updated_at datetime NOT NULL,
		last_seen_at datetime, user_agent text NOT NULL, client_ip text NOT NULL,
		version integer NOT NULL, renewed_from text NOT NULL, renewed_at datetime,
		signed_in_at datetime, idle_timeout integer NOT NULL, deadline datetime, flags integer NOT NULL)`).Error)
	a := newAppOn(t, db, rec, basicRoutes)
	cl := a.client()
	resp := cl.get("/set?k=v")
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	assert.Equal(t, "v", cl.get("/get?k=k").body)
	rows := a.rows()
	require.Len(t, rows, 1)
	assert.Zero(t, rows[0].Flags)
	assert.Empty(t, rows[0].RenewedFrom)
}
