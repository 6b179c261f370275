package ginsession

import (
	"strings"
	"testing"

	"github.com/ginsession/ginsession/internal/stmts"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The diagnostics hook names every statement once and gives its text as
// sent.
func TestStatementsForDiagnostics(t *testing.T) {
	a := newApp(t, basicRoutes)
	list := stmts.Of(a.store)
	require.Len(t, list, int(numStmts))
	seen := map[string]bool{}
	for i, s := range list {
		assert.NotContains(t, s.Name, "stmt", "statement %d has no name", i)
		assert.False(t, seen[s.Name], "name %q twice", s.Name)
		seen[s.Name] = true
		assert.Equal(t, a.store.run.cur.Load().text[i], s.Text, s.Name)
	}
	assert.True(t, strings.HasPrefix(list[sDeleteExpired].Text, "DELETE"))
	assert.Equal(t, "update+id+user+expiry", list[sUpdate+updateID+updateUser+updateExpiry].Name)
}

// A logout finds the session it renewed into by the partial index on
// renewed_from, on SQLite too, whose planner uses a partial index only when
// the query repeats the index's condition: else every logout reads the
// whole table. The integration suite's TestPlans checks every statement
// on every database.
func TestLogoutsFindRenewedSessionsByIndex(t *testing.T) {
	a := newApp(t, basicRoutes)
	now := a.clock.Now()
	id := strings.Repeat("a", 64)
	for _, c := range []struct {
		id   stmtID
		args []any
	}{
		{sDelete, []any{id, id, now}},
		{sDeleteOfKind, []any{id, id, now, 0}},
		{sDestroyUserSession, []any{id, id, now, "u1"}},
	} {
		rows, err := a.db.Raw("EXPLAIN QUERY PLAN "+a.store.run.cur.Load().text[c.id], c.args...).Rows()
		require.NoError(t, err)
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			require.NoError(t, rows.Scan(&id, &parent, &unused, &detail))
			plan = append(plan, detail)
		}
		require.NoError(t, rows.Err())
		rows.Close()
		for _, p := range plan {
			assert.False(t, strings.HasPrefix(p, "SCAN "), "%s: %s", stmtName(c.id), strings.Join(plan, "; "))
		}
	}
}
