package ginsession

import (
	"bytes"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var (
	oldKey = bytes.Repeat([]byte{1}, 32)
	newKey = bytes.Repeat([]byte{2}, 32)
)

func TestEncryptedTableHoldsNoPlaintext(t *testing.T) {
	a := newApp(t, basicRoutes, WithEncryption(newKey))
	cl := a.client()
	require.Equal(t, http.StatusOK, cl.get("/set?card=4111-1111-1111-1111").StatusCode)
	assert.Equal(t, "4111-1111-1111-1111", cl.get("/get?k=card").body)

	rows := a.rows()
	require.Len(t, rows, 1)
	data := rows[0].Data
	assert.True(t, strings.HasPrefix(data, "gse1."), data)
	assert.NotContains(t, data, "4111")
	assert.NotContains(t, data, "card", "keys are secret too")

	require.Equal(t, http.StatusOK, cl.get("/renew").StatusCode)
	assert.Equal(t, "4111-1111-1111-1111", cl.get("/get?k=card").body, "re-encrypted for the renewed ID")
}

func TestRotatedKeyStillReadsOldRows(t *testing.T) {
	before := newApp(t, basicRoutes, WithEncryption(oldKey))
	cl := before.client()
	require.Equal(t, http.StatusOK, cl.get("/set?k=written-with-the-old-key").StatusCode)
	oldData := before.rows()[0].Data

	rotated := newAppOn(t, before.db, before.rec, basicRoutes, WithEncryption(newKey, oldKey))
	moved := rotated.client()
	moved.setCookie(cl.cookie())
	assert.Equal(t, "written-with-the-old-key", moved.get("/get?k=k").body)
	require.Equal(t, http.StatusOK, moved.get("/set?k=now-the-new-one").StatusCode)
	newData := rotated.rows()[0].Data
	assert.NotEqual(t, oldData[:14], newData[:14], "the new key's ID: %s vs %s", oldData[:14], newData[:14])

	onlyNew := newAppOn(t, before.db, before.rec, basicRoutes, WithEncryption(newKey))
	reader := onlyNew.client()
	reader.setCookie(cl.cookie())
	assert.Equal(t, "now-the-new-one", reader.get("/get?k=k").body, "the old key can go once no row needs it")

	onlyOld := newAppOn(t, before.db, before.rec, basicRoutes, WithEncryption(oldKey))
	stale := onlyOld.client()
	stale.setCookie(cl.cookie())
	assert.Equal(t, http.StatusNotFound, stale.get("/get?k=k").StatusCode, "no key opens it: a new session, not an error")
	assert.Contains(t, onlyOld.logs.String(), "cannot be decoded")
}

// The data of one user's row copied into another's does not decrypt: the
// ciphertext is bound to its row's ID.
func TestCiphertextMovedToAnotherRowDoesNotDecrypt(t *testing.T) {
	a := newApp(t, basicRoutes, WithEncryption(newKey))
	admin, user := a.client(), a.client()
	require.Equal(t, http.StatusOK, admin.get("/set?role=admin").StatusCode)
	require.Equal(t, http.StatusOK, user.get("/set?role=user").StatusCode)
	adminID, _ := parseToken(admin.cookie())
	userID, _ := parseToken(user.cookie())
	var adminData string
	require.NoError(t, a.db.Raw("SELECT data FROM gin_sessions WHERE id = ?", adminID).Scan(&adminData).Error)
	require.NoError(t, a.db.Exec("UPDATE gin_sessions SET data = ? WHERE id = ?", adminData, userID).Error)

	assert.Equal(t, http.StatusNotFound, user.get("/get?k=role").StatusCode, "not the admin's data")
	assert.Contains(t, a.logs.String(), "does not decrypt for its row")
	assert.Equal(t, "admin", admin.get("/get?k=role").body)
}

func TestBadEncryptionKeysAreRefused(t *testing.T) {
	db, _ := openDB(t)
	for name, keys := range map[string][][]byte{
		"short key":      {[]byte("too short")},
		"the same twice": {newKey, bytes.Clone(newKey)},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewStore(db, WithEncryption(keys...))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "ginsession: invalid options")
			assert.Contains(t, err.Error(), "encryption key")
		})
	}
}

// After a rotation, a session that is only read is sealed again under the
// new key the first time it is used, so the old key can go once the
// sessions nobody used have expired.
func TestRotationSealsActiveSessionsAgainUnderTheNewKey(t *testing.T) {
	before := newApp(t, basicRoutes, WithEncryption(oldKey))
	cl := before.client()
	require.Equal(t, http.StatusOK, cl.get("/set?k=cart-of-an-active-user").StatusCode)
	token := cl.cookie()

	rotated := newAppOn(t, before.db, before.rec, basicRoutes, WithEncryption(newKey, oldKey))
	user := rotated.client()
	user.setCookie(token)
	// The user comes back every two days for three weeks, reading only.
	for range 11 {
		rotated.clock.Advance(2 * 24 * time.Hour)
		require.Equal(t, "cart-of-an-active-user", user.get("/get?k=k").body)
	}
	// Longer than WithIdleTimeout (two weeks) since the rotation: by the
	// docs/guide.md the old key can go now.
	onlyNew := newAppOn(t, before.db, before.rec, basicRoutes, WithEncryption(newKey))
	onlyNew.clock.Advance(22 * 24 * time.Hour)
	reader := onlyNew.client()
	reader.setCookie(token)
	assert.Equal(t, "cart-of-an-active-user", reader.get("/get?k=k").body,
		"an active session was logged out and lost its data when the old key was dropped as documented")
}

// Keys parsed from an unset variable must not mean plaintext.
func TestWithEncryptionWithoutKeysIsRefused(t *testing.T) {
	db, _ := openDB(t)
	var keys [][]byte // e.g. parsed from an empty GINSESSION_KEYS
	_, err := NewStore(db, WithEncryption(keys...))
	assert.Error(t, err, "encryption was asked for, yet the data will be stored in plaintext")
}

// Sealing a row again under the new key is bookkeeping, like an expiry
// move: a request that only reads must not fail because another tab
// renewed the session (a sign-in) while it ran.
func TestReSealingDoesNotFailAReadThatRacedARenewal(t *testing.T) {
	before := newApp(t, basicRoutes, WithEncryption(oldKey))
	cl := before.client()
	require.Equal(t, http.StatusOK, cl.get("/set?k=v").StatusCode)
	token := cl.cookie()

	g := newGate()
	rotated := newAppOn(t, before.db, before.rec, readGate(g), WithEncryption(newKey, oldKey))
	reader := rotated.client()
	reader.setCookie(token)
	wait := startSlow(reader, g, "/slow-read")
	other := rotated.client() // another tab of the same browser signs in
	other.setCookie(token)
	require.Equal(t, "renewed", other.get("/renew").body)
	slow := wait()

	assert.Equal(t, http.StatusOK, slow.StatusCode, "a plain read failed: %q", slow.body)
	assert.Equal(t, "v", slow.body)
	assert.Empty(t, rotated.errors())
}
