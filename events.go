package ginsession

import (
	"context"
	"net/http"
)

// An EventKind says what happened to a session.
type EventKind uint8

// The kinds of Event.
const (
	// EventCreated: a new session was saved.
	EventCreated EventKind = iota + 1
	// EventRenewed: the session got a new ID (RenewID, Login).
	EventRenewed
	// EventBound: the session was bound to a user, or unbound (SetUserID,
	// Login).
	EventBound
	// EventDestroyed: the session was destroyed by its own request
	// (Destroy, a logout).
	EventDestroyed
	// EventRevoked: sessions were destroyed from elsewhere: DestroySession,
	// DestroyUserSession, DestroyUser, DestroyOthers.
	EventRevoked
	// EventInterrupted: a request's changes were dropped because its
	// session had been destroyed meanwhile (ErrSessionInterrupted).
	EventInterrupted
	// EventCleanedUp: Cleanup deleted expired sessions.
	EventCleanedUp
)

var eventNames = [...]string{"", "created", "renewed", "bound", "destroyed", "revoked", "interrupted", "cleaned up"}

func (k EventKind) String() string {
	if int(k) < len(eventNames) {
		return eventNames[k]
	}
	return "unknown"
}

// An Event tells the application of a change to sessions that has
// committed in the database, for audit logs and metrics.
type Event struct {
	Kind EventKind
	// Handle is the session's handle, as SessionInfo gives it: for
	// EventRenewed the new one. Empty when the event is about several
	// sessions (DestroyUser, DestroyOthers, Cleanup).
	Handle string
	// PreviousHandle is the handle before an EventRenewed.
	PreviousHandle string
	// UserID is the user the session is bound to, or whose sessions were
	// revoked; empty for anonymous sessions and Cleanup, and for a Destroy
	// of a session the request never read (Destroy deletes without reading).
	UserID string
	// Count is how many sessions the change took: 1 for a single session.
	Count int64
	// Request is the request that made the change; nil for the Store's
	// calls and for Cleanup.
	Request *http.Request
}

// WithEvents sets a function the store calls after each change to sessions
// has committed: created, renewed, bound, destroyed, revoked, interrupted,
// cleaned up. It is never called for a change that did not commit, and so
// not for Store.Tx's calls, whose commit is the application's (report those
// after your own commit). It runs on the goroutine that made the change,
// after the session's lock is released, before the response headers go out
// for changes saved then: keep it quick, or hand the event to a goroutine.
// Default none.
func WithEvents(f func(ctx context.Context, e Event)) Option {
	return func(c *config) { c.events = f }
}

// emit queues e for the application, if it listens. The caller holds s.mu.
func (s *Session) emit(e Event) {
	if s.store.cfg.events == nil {
		return
	}
	e.Request = s.req
	if e.Count == 0 {
		e.Count = 1
	}
	s.pending = append(s.pending, e)
}

// flush hands the queued events to the application, outside s.mu, so that
// the listener may use the session.
func (s *Session) flush() {
	if s.store.cfg.events == nil {
		return
	}
	s.mu.Lock()
	var pending []Event
	if s.state != nil { // only a used session has anything to tell
		pending, s.pending = s.pending, nil
	}
	s.mu.Unlock()
	for _, e := range pending {
		s.store.cfg.events(s.ctx.Context, e)
	}
}

// emit tells the application of a change a Store call made.
func (st *Store) emit(ctx context.Context, e Event) {
	if st.cfg.events != nil && !st.run.inTx {
		st.cfg.events(ctx, e)
	}
}
