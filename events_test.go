package ginsession

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eventLog is a WithEvents listener that keeps what it hears, as
// "kind user count", and checks that the session can be used from it.
type eventLog struct {
	mu     sync.Mutex
	events []Event
}

func (l *eventLog) listen(ctx context.Context, e Event) {
	if s, ok := FromContext(ctx); ok {
		_ = s.UserID() // the session's lock is not held: no deadlock
	}
	l.mu.Lock()
	l.events = append(l.events, e)
	l.mu.Unlock()
}

func (l *eventLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, e := range l.events {
		out = append(out, fmt.Sprintf("%s %s %d", e.Kind, e.UserID, e.Count))
	}
	l.events = nil
	return out
}

func (l *eventLog) last() Event {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.events[len(l.events)-1]
}

func TestEventsTellEachCommittedChange(t *testing.T) {
	log := &eventLog{}
	var a *app
	a = newApp(t, deviceRoutes(&a), WithEvents(log.listen))
	cl := a.client()

	cl.get("/set?k=v")
	assert.Equal(t, []string{"created  1"}, log.take())
	before, _ := parseToken(cl.cookie())
	cl.get("/login?u=alice")
	after, _ := parseToken(cl.cookie())
	assert.Equal(t, []string{"renewed alice 1", "bound alice 1"}, log.take(), "renewed and bound in one save")
	phone := a.client()
	phone.get("/login?u=alice")
	assert.Equal(t, []string{"created alice 1", "bound alice 1"}, log.take(), "a first login creates and binds")
	cl.get("/get?k=k")
	assert.Empty(t, log.take(), "a read changes nothing")

	assert.Equal(t, "1", cl.get("/signout-others").body)
	e := log.last()
	assert.Equal(t, []string{"revoked alice 1"}, log.take())
	require.NotNil(t, e.Request)
	assert.Equal(t, "/signout-others", e.Request.URL.Path)

	cl.get("/destroy")
	assert.Equal(t, []string{"destroyed  1"}, log.take(), "Destroy does not read the row, so the user is not known")

	// The renewal's handles.
	cl2 := a.client()
	cl2.get("/set?k=v")
	log.take()
	h1, _ := parseToken(cl2.cookie())
	cl2.get("/renew")
	e = log.last()
	h2, _ := parseToken(cl2.cookie())
	assert.Equal(t, EventRenewed, e.Kind)
	assert.Equal(t, h1, e.PreviousHandle)
	assert.Equal(t, h2, e.Handle)
	assert.NotEqual(t, before, after)
	log.take()

	ctx := context.Background()
	for range 2 {
		a.client().get("/login?u=bob")
	}
	log.take()
	n, err := a.store.DestroyUser(ctx, "bob")
	require.NoError(t, err)
	assert.Equal(t, int64(2), n)
	assert.Equal(t, []string{"revoked bob 2"}, log.take())
	_, err = a.store.DestroyUser(ctx, "nobody")
	require.NoError(t, err)
	assert.Empty(t, log.take(), "nothing revoked, nothing told")

	a.clock.Advance(DefaultIdleTimeout + time.Minute)
	n, err = a.store.Cleanup(ctx)
	require.NoError(t, err)
	assert.Equal(t, []string{fmt.Sprintf("cleaned up  %d", n)}, log.take())
}

func TestEventOfAnInterruptedRequest(t *testing.T) {
	log := &eventLog{}
	g := newGate()
	a := newApp(t, slowRoutes(g), WithEvents(log.listen))
	cl := a.client()
	cl.get("/set?k=v")
	wait := startSlow(cl, g, "/slow-set?k=k&v=late")
	other := a.client()
	other.setCookie(cl.cookie())
	other.get("/destroy")
	assert.Equal(t, http.StatusConflict, wait().StatusCode)
	assert.Equal(t, []string{"created  1", "destroyed  1", "interrupted  1"}, log.take())
}

// A change that did not commit is never told: a save that kept losing, and
// the calls of Store.Tx, whose commit is the application's.
func TestNoEventForAChangeThatDidNotCommit(t *testing.T) {
	db, rec, in := openInjectDB(t)
	log := &eventLog{}
	var a *app
	a = newAppOn(t, db, rec, deviceRoutes(&a), WithEvents(log.listen))
	cl := a.client()
	cl.get("/set?k=v")
	log.take()

	in.arm("UPDATE", errMySQLDeadlock, -1)
	assert.Equal(t, http.StatusServiceUnavailable, cl.get("/login?u=alice").StatusCode)
	in.arm("", nil, 0)
	assert.Empty(t, log.take(), "the login did not commit")

	cl.get("/login?u=alice")
	log.take()
	tx := a.db.Begin()
	n, err := a.store.Tx(tx).DestroyUser(context.Background(), "alice")
	require.NoError(t, err)
	require.Equal(t, int64(1), n)
	require.NoError(t, tx.Rollback().Error)
	assert.Empty(t, log.take())
	assert.Equal(t, "alice", cl.get("/whoami").body)
}

func TestEventKindsHaveNames(t *testing.T) {
	for k := EventCreated; k <= EventCleanedUp; k++ {
		assert.NotEqual(t, "unknown", k.String())
	}
	assert.Equal(t, "unknown", EventKind(99).String())
}

// Cleanup commits batch by batch: a run stopped by its context still tells
// the listener what it deleted.
func TestCleanupTellsOfBatchesThatCommittedBeforeItStopped(t *testing.T) {
	log := &eventLog{}
	a := newApp(t, basicRoutes, WithEvents(log.listen))
	past := a.clock.Now().Add(-time.Hour)
	batch := a.store.cleanupBatch()
	for i := range batch + 100 {
		require.NoError(t, a.db.Table(a.store.cfg.tableName).Create(&Model{
			ID: fmt.Sprintf("%064x", i), Data: "{}", ExpiresAt: past, CreatedAt: past, UpdatedAt: past, Version: 1}).Error)
	}
	ctx := &stopAfter{Context: context.Background()}
	ctx.left.Store(1)
	n, err := a.store.Cleanup(ctx)
	require.Error(t, err)
	require.Equal(t, int64(batch), n, "one batch committed")
	assert.Equal(t, []string{fmt.Sprintf("cleaned up  %d", batch)}, log.take(),
		"a batch of sessions was deleted and nobody was told")
}

// stopAfter is a context that reports itself done after left checks.
type stopAfter struct {
	context.Context
	left atomic.Int32
}

func (c *stopAfter) Err() error {
	if c.left.Add(-1) < 0 {
		return context.DeadlineExceeded
	}
	return nil
}
