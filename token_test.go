package ginsession

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewTokenGivesTheIDItsTokenParsesTo(t *testing.T) {
	seen := map[string]bool{}
	for range 50 {
		token, id := newToken()
		require.Len(t, token, tokenLen)
		require.Len(t, id, idLen)
		parsed, ok := parseToken(token)
		require.True(t, ok, token)
		assert.Equal(t, parsed, id)
		assert.False(t, seen[token], "a token drawn twice")
		seen[token] = true
	}
}
