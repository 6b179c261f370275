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
