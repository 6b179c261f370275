// Package testkit holds what the tests of every module of this repository
// share: a statement counter that wraps any database driver, a settable
// clock and a buffer safe for concurrent writers. It is internal: tests
// only.
package testkit

import (
	"bytes"
	"sync"
	"time"
)

// Clock is a settable time source, for ginsession.WithClock.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// NewClock returns a clock standing at start.
func NewClock(start time.Time) *Clock { return &Clock{now: start} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// SyncBuffer is a bytes.Buffer that several goroutines may write, such as a
// logger's output under test.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

// String returns everything written so far.
func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

// Gate holds a request inside its handler, after the handler has read its
// session, while the test runs other requests: the way to make two requests
// of one session overlap on purpose.
type Gate struct{ loaded, proceed chan struct{} }

// NewGate returns a closed gate.
func NewGate() *Gate { return &Gate{loaded: make(chan struct{}), proceed: make(chan struct{})} }

// Hold, called by the handler, tells the test that the session has been
// read and waits until the test lets the request go on.
func (g *Gate) Hold() {
	g.loaded <- struct{}{}
	<-g.proceed
}

// Start runs send, a request to a handler that calls Hold, in the
// background and returns once the handler holds; wait lets it go on and
// returns what send returned.
func Start[T any](g *Gate, send func() T) (wait func() T) {
	done := make(chan T, 1)
	go func() { done <- send() }()
	<-g.loaded
	return func() T {
		close(g.proceed)
		return <-done
	}
}

// LegacyModel is the session table as the first version of the store
// created it, before last use, user agent and address were recorded: the
// starting point of the upgrade tests.
type LegacyModel struct {
	ID        string    `gorm:"primaryKey;size:64"`
	Data      string    `gorm:"not null"`
	UserID    string    `gorm:"size:255;not null;index"`
	ExpiresAt time.Time `gorm:"not null;index"`
	CreatedAt time.Time `gorm:"not null"`
	UpdatedAt time.Time `gorm:"not null"`
	Version   int64     `gorm:"not null"`
}
