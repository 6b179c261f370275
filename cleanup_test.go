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
	batch := a.store.cleanupBatch()
	a.seed(2*batch+34, a.clock.Now().Add(-time.Minute))
	a.seed(3, a.clock.Now().Add(time.Hour))

	n, err := a.store.Cleanup(context.Background())
	require.NoError(t, err)
	assert.EqualValues(t, 2*batch+34, n)
	stmts := a.rec.Take()
	assert.Equal(t, []string{"DELETE", "DELETE", "DELETE"}, kinds(stmts), "batches of %d", batch)
	for _, s := range stmts {
		assert.Contains(t, s, fmt.Sprintf("ORDER BY expires_at LIMIT %d", batch), "oldest first, down the expiry index")
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

// Between batches Cleanup rests, so that requests get the database: a
// backlog of n batches takes at least n-1 of the shortest rest.
func TestCleanupRestsBetweenBatches(t *testing.T) {
	a := newApp(t, basicRoutes)
	batch := a.store.cleanupBatch()
	a.seed(5*batch, a.clock.Now().Add(-time.Minute))

	began := time.Now()
	n, err := a.store.Cleanup(context.Background())
	took := time.Since(began)
	require.NoError(t, err)
	assert.EqualValues(t, 5*batch, n)
	assert.GreaterOrEqual(t, took, 5*cleanupMinRest, "five full batches, then the empty one that ends it")
	assert.Empty(t, a.rows())
}

// A context that ends mid-run stops Cleanup, most likely in a rest (two
// thirds of its time at least), with what the batches before deleted.
func TestCleanupStopsWhenItsContextEndsMidRun(t *testing.T) {
	a := newApp(t, basicRoutes)
	batch := a.store.cleanupBatch()
	a.seed(50*batch, a.clock.Now().Add(-time.Minute))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	before := a.rec.Total()
	go func() {
		for a.rec.Total() == before { // until the first batch
			time.Sleep(time.Millisecond)
		}
		cancel()
	}()
	n, err := a.store.Cleanup(ctx)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, n, int64(50*batch), "stopped before the end")
	assert.Len(t, a.rows(), 50*batch-int(n), "what it deleted is gone, the rest is kept")
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
