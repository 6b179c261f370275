package ginsession

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// otherKey is a key the stores under test are not given.
var otherKey = bytes.Repeat([]byte{3}, 32)

// rolloutRoutes are basicRoutes and a page that says who is signed in.
func rolloutRoutes(r *gin.Engine) {
	basicRoutes(r)
	r.GET("/whoami", func(c *gin.Context) { c.String(http.StatusOK, Default(c).UserID()) })
}

// currentPrefix is how every record the store's first key seals begins.
func currentPrefix(t *testing.T, st *Store) string {
	t.Helper()
	require.NotNil(t, st.sealer)
	return st.sealer.current
}

// rowData returns the data column of the session token names.
func (a *app) rowData(token string) string {
	a.t.Helper()
	id, ok := parseToken(token)
	require.True(a.t, ok)
	var data string
	require.NoError(a.t, a.db.Raw("SELECT data FROM gin_sessions WHERE id = ?", id).Scan(&data).Error)
	return data
}

// Turning encryption on for a live table signs nobody out, and a session
// written before is sealed the first time a request uses it, even one that
// only reads, as a row under an older key is.
func TestTurningEncryptionOnKeepsSessionsAndSealsEachOnItsNextUse(t *testing.T) {
	plain := newApp(t, rolloutRoutes)
	token, err := plain.store.NewSession(t.Context(), Seed{UserID: "alice", Values: map[string]any{"card": "4111-1111-1111-1111"}})
	require.NoError(t, err)
	require.Contains(t, plain.rowData(token), "4111", "the table before encryption")

	encrypted := newAppOn(t, plain.db, plain.rec, rolloutRoutes, WithEncryption(newKey))
	cl := encrypted.client()
	cl.setCookie(token)
	assert.Equal(t, "alice", cl.get("/whoami").body, "signed out by turning encryption on")
	data := encrypted.rowData(token)
	assert.True(t, strings.HasPrefix(data, currentPrefix(t, encrypted.store)), "not sealed by its first use: %s", data)
	assert.NotContains(t, data, "4111")
	assert.NotContains(t, data, "card")
	assert.Equal(t, "4111-1111-1111-1111", cl.get("/get?k=card").body)
	assert.Equal(t, token, cl.cookie(), "the session keeps its ID")
}

// SealAll seals what no request has used since encryption was turned on or
// a key rotated, in batches, and leaves every session readable.
func TestSealAllSealsEveryRowTheFirstKeyDidNot(t *testing.T) {
	plain := newApp(t, rolloutRoutes)
	now := plain.clock.Now().UTC()
	bulk := make([]Model, 2*sealBatch+1) // three batches
	for i := range bulk {
		_, id := newToken()
		bulk[i] = Model{ID: id, Data: fmt.Sprintf(`{"values":{"secret":"plain-%d"}}`, i),
			ExpiresAt: now.Add(time.Hour), CreatedAt: now, UpdatedAt: now, Version: 1}
	}
	require.NoError(t, plain.db.Table(DefaultTableName).CreateInBatches(bulk, 200).Error)
	seed := func(a *app, secret string) string {
		token, err := a.store.NewSession(t.Context(), Seed{UserID: secret, Values: map[string]any{"secret": secret}})
		require.NoError(t, err)
		return token
	}
	plainToken := seed(plain, "plain-real")
	oldToken := seed(newAppOn(t, plain.db, plain.rec, rolloutRoutes, WithEncryption(oldKey)), "old-key-real")
	lostToken := seed(newAppOn(t, plain.db, plain.rec, rolloutRoutes, WithEncryption(otherKey)), "lost-key-real")
	lostData := plain.rowData(lostToken)

	current := newAppOn(t, plain.db, plain.rec, rolloutRoutes, WithEncryption(newKey, oldKey))
	currentToken := seed(current, "current-real")
	currentData := current.rowData(currentToken)

	n, err := current.store.SealAll(t.Context())
	require.NoError(t, err)
	assert.Equal(t, int64(len(bulk)+2), n, "the plaintext rows and the old key's")

	prefix := currentPrefix(t, current.store)
	for _, m := range current.rows() {
		assert.NotContains(t, m.Data, "-real")
		assert.NotContains(t, m.Data, "plain-")
		if m.Data != lostData {
			assert.True(t, strings.HasPrefix(m.Data, prefix), "row %s not sealed: %.40s", m.ID, m.Data)
			assert.Equal(t, int64(1), m.Version, "sealing is not a save")
		}
	}
	assert.Equal(t, currentData, current.rowData(currentToken), "a row already sealed by the first key is not rewritten")
	assert.Contains(t, current.logs.String(), "none of the keys opens")
	assert.Contains(t, current.logs.String(), "rows=1")

	for token, want := range map[string]string{plainToken: "plain-real", oldToken: "old-key-real", currentToken: "current-real"} {
		cl := current.client()
		cl.setCookie(token)
		assert.Equal(t, want, cl.get("/get?k=secret").body)
		assert.Equal(t, want, cl.get("/whoami").body)
	}

	again, err := current.store.SealAll(t.Context())
	require.NoError(t, err)
	assert.Zero(t, again, "nothing left to seal")

	_, err = plain.store.SealAll(t.Context())
	assert.ErrorIs(t, err, errNoEncryption)
}

// An operator who turns encryption on is told, at start-up, while rows
// written before it remain in plaintext.
func TestAStoreWithEncryptionWarnsWhileUnencryptedRowsRemain(t *testing.T) {
	plain := newApp(t, rolloutRoutes)
	_, err := plain.store.NewSession(t.Context(), Seed{Values: map[string]any{"k": "v"}})
	require.NoError(t, err)
	encrypted := newAppOn(t, plain.db, plain.rec, rolloutRoutes, WithEncryption(newKey))

	warned := func() string {
		before := encrypted.logs.String()
		encrypted.store.warnUnsealed(t.Context())
		return strings.TrimPrefix(encrypted.logs.String(), before)
	}
	assert.Contains(t, warned(), "remain unencrypted")
	_, err = encrypted.store.SealAll(t.Context())
	require.NoError(t, err)
	assert.Empty(t, warned(), "every row is sealed")

	plainLogs := plain.logs.String()
	plain.store.warnUnsealed(t.Context())
	assert.Equal(t, plainLogs, plain.logs.String(), "a store without encryption has nothing to warn of")
}
