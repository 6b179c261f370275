package ginsession

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNewSessionIsWhatTheNextRequestSees(t *testing.T) {
	var a *app
	a = newApp(t, expiryRoutes(&a))
	token, err := a.store.NewSession(t.Context(), Seed{UserID: "alice", Values: map[string]any{"k": "v"},
		Flashes: []any{"hello"}, Remember: true})
	require.NoError(t, err)
	cl := a.client()
	cl.setCookie(token)
	assert.Equal(t, "alice", cl.get("/whoami").body)
	assert.Equal(t, "v", cl.get("/get?k=k").body)
	assert.True(t, cl.expiry().Remembered)

	view, err := a.store.ReadSession(t.Context(), token)
	require.NoError(t, err)
	assert.False(t, view.IsNew())
	assert.Equal(t, []string{"k"}, view.Keys())
	view.Set("k", "changed") // read-only: ignored
	assert.Equal(t, "v", cl.get("/get?k=k").body)
	assert.Equal(t, a.store.CookieName(), a.store.SessionCookie(token).Name)
	assert.True(t, a.store.SessionCookie(token).HttpOnly)
}

func TestNewSessionRefusesWhatItCannotStore(t *testing.T) {
	a := newApp(t, basicRoutes, WithMaxSize(100))
	for _, tc := range []struct {
		name string
		seed Seed
		want error
	}{
		{"unencodable value", Seed{Values: map[string]any{"ch": make(chan int)}}, ErrEncode},
		{"unencodable flash", Seed{Flashes: []any{func() {}}}, ErrEncode},
		{"key not UTF-8", Seed{Values: map[string]any{"\xff": 1}}, ErrEncode},
		{"value too large", Seed{Values: map[string]any{"big": strings.Repeat("x", 200)}}, ErrTooLarge},
		{"session too large", Seed{Values: map[string]any{"a": strings.Repeat("x", 60), "b": strings.Repeat("y", 60)}}, ErrTooLarge},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token, err := a.store.NewSession(t.Context(), tc.seed)
			assert.ErrorIs(t, err, tc.want)
			assert.Empty(t, token)
		})
	}
	assert.Empty(t, a.rows(), "nothing saved")
}

func TestReadSessionOfAnUnknownTokenIsNew(t *testing.T) {
	a := newApp(t, basicRoutes)
	unknown, _ := newToken()
	for _, token := range []string{"", "not-a-token", unknown} {
		s, err := a.store.ReadSession(t.Context(), token)
		require.NoError(t, err)
		assert.True(t, s.IsNew(), "%q", token)
		assert.Empty(t, s.UserID())
	}
	token, err := a.store.NewSession(t.Context(), Seed{UserID: "alice"})
	require.NoError(t, err)
	a.clock.Advance(DefaultIdleTimeout + time.Second)
	s, err := a.store.ReadSession(t.Context(), token)
	require.NoError(t, err)
	assert.True(t, s.IsNew(), "an expired session is no session")
}

func TestNewAndReadSessionReportDatabaseErrors(t *testing.T) {
	a := newApp(t, basicRoutes)
	token, err := a.store.NewSession(t.Context(), Seed{UserID: "alice"})
	require.NoError(t, err)
	sqlDB, err := a.db.DB()
	require.NoError(t, err)
	require.NoError(t, sqlDB.Close())

	_, err = a.store.NewSession(context.Background(), Seed{UserID: "bob"})
	assert.ErrorIs(t, err, ErrSave)
	_, err = a.store.ReadSession(context.Background(), token)
	assert.ErrorIs(t, err, ErrLoad)
	assert.False(t, errors.Is(err, ErrSave))
}

func TestAReadOnlySessionRefusesToSaveWithErrReadOnly(t *testing.T) {
	a := newApp(t, basicRoutes, WithTokenHeader("Authorization"))
	token, err := a.store.NewSession(t.Context(), Seed{UserID: "alice", Values: map[string]any{"k": "v"}})
	require.NoError(t, err)
	view, err := a.store.ReadSession(t.Context(), token)
	require.NoError(t, err)

	view.Set("k", "changed")
	view.Login("mallory")
	view.Destroy()
	assert.ErrorIs(t, view.Save(), ErrReadOnly)
	_, err = view.IssueToken()
	assert.ErrorIs(t, err, ErrReadOnly)
	_, err = view.DestroyOthers()
	assert.ErrorIs(t, err, ErrReadOnly)
	assert.NoError(t, view.Err(), "refusing is not a failure of the session")
	assert.Equal(t, "alice", view.UserID())

	rows := a.rows()
	require.Len(t, rows, 1, "nothing was destroyed")
	assert.Equal(t, "alice", rows[0].UserID)
	cl := a.client()
	cl.setCookie(token)
	assert.Equal(t, "v", cl.get("/get?k=k").body, "nothing was saved")
}

// ReadSession sees a session as the next request would: a row no key
// opens is no session, not an error.
func TestReadSessionOfAnUnreadableRowIsNewAsARequestSeesIt(t *testing.T) {
	before := newApp(t, basicRoutes, WithEncryption(oldKey))
	cl := before.client()
	require.Equal(t, http.StatusOK, cl.get("/set?k=v").StatusCode)
	after := newAppOn(t, before.db, before.rec, basicRoutes, WithEncryption(newKey))
	reader := after.client()
	reader.setCookie(cl.cookie())
	require.Equal(t, http.StatusNotFound, reader.get("/get?k=k").StatusCode, "a request sees a new session")

	s, err := after.store.ReadSession(context.Background(), cl.cookie())
	require.NoError(t, err, "ReadSession does not see it the way the next request does")
	assert.True(t, s.IsNew())
}
