package ginsession

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// seed inserts n rows that expire at expires.
func (a *app) seed(n int, expires time.Time) {
	a.t.Helper()
	now := a.clock.Now().UTC()
	rows := make([]Model, n)
	for i := range rows {
		_, id := newToken()
		rows[i] = Model{ID: id, Data: `{"values":{}}`, ExpiresAt: expires.UTC(), CreatedAt: now, UpdatedAt: now, Version: 1}
	}
	require.NoError(a.t, a.db.Table(a.store.cfg.tableName).CreateInBatches(rows, 200).Error)
	a.rec.Take()
}

func TestCleanupDeletesExpiredRowsInBoundedBatches(t *testing.T) {
	a := newApp(t, basicRoutes)
	live := a.client()
	live.get("/set?k=v")
	a.seed(1234, a.clock.Now().Add(-time.Minute))
	a.seed(3, a.clock.Now().Add(time.Hour))

	n, err := a.store.Cleanup(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 1234, n)
	stmts := a.rec.Take()
	assert.Equal(t, []string{"DELETE", "DELETE", "DELETE"}, kinds(stmts), "batches of %d", cleanupBatch)
	for _, s := range stmts {
		assert.Contains(t, s, fmt.Sprintf("ORDER BY expires_at LIMIT %d", cleanupBatch), "oldest first, down the expiry index")
	}
	assert.Len(t, a.rows(), 4, "live rows stay")
	assert.Equal(t, "v", live.get("/get?k=k").body)

	n, err = a.store.Cleanup(context.Background())
	require.NoError(t, err)
	assert.Zero(t, n)
}

func TestCleanupHonoursItsContext(t *testing.T) {
	a := newApp(t, basicRoutes)
	a.seed(10, a.clock.Now().Add(-time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	n, err := a.store.Cleanup(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Zero(t, n)
	assert.Len(t, a.rows(), 10)
}

func TestCleanupReportsDatabaseErrors(t *testing.T) {
	a := newApp(t, basicRoutes)
	require.NoError(t, a.db.Exec("DROP TABLE gin_sessions").Error)
	_, err := a.store.Cleanup(context.Background())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "ginsession: cleanup")
	assert.Contains(t, err.Error(), "no such table")
}

func TestMiddlewareStartsBackgroundCleanupOncePerInterval(t *testing.T) {
	a := newApp(t, basicRoutes, WithCleanupInterval(time.Hour))
	a.seed(20, a.clock.Now().Add(-time.Minute))
	cl := a.client()

	cl.get("/none")
	assert.Len(t, a.rows(), 20, "not before the first interval has passed")

	a.clock.Advance(time.Hour)
	cl.get("/none")
	require.Eventually(t, func() bool { return len(a.rows()) == 0 }, 5*time.Second, 10*time.Millisecond)

	a.seed(5, a.clock.Now().Add(-time.Minute))
	for range 3 {
		cl.get("/none")
	}
	time.Sleep(100 * time.Millisecond)
	assert.Len(t, a.rows(), 5, "at most once per interval")

	a.clock.Advance(time.Hour)
	cl.get("/none")
	require.Eventually(t, func() bool { return len(a.rows()) == 0 }, 5*time.Second, 10*time.Millisecond)
}

func TestBackgroundCleanupFailureIsLogged(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		r.GET("/none", func(c *gin.Context) { c.Status(http.StatusNoContent) })
	}, WithCleanupInterval(time.Minute))
	require.NoError(t, a.db.Exec("DROP TABLE gin_sessions").Error)
	a.clock.Advance(time.Minute)
	a.client().get("/none")
	require.Eventually(t, func() bool { return strings.Contains(a.logs.String(), "session cleanup failed") },
		5*time.Second, 10*time.Millisecond)
}
