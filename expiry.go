package ginsession

import (
	"fmt"
	"time"
)

// The bits of Model.Flags.
const (
	flagRemembered = 1 << iota // RememberMe(true)
	flagBrowser                // RememberMe(false)
	flagHeader                 // carried in a request header (IssueToken)
	flagUnbound                // was bound to a user, then unbound (SetUserID(""))
)

// policy is how one session expires, as its row records it.
type policy struct {
	flags    int
	idle     time.Duration // the session's own window; 0: its kind's
	deadline time.Time     // the session's own end; zero: none
}

// Expiry describes how a session expires, as Session.Expiry reports it.
type Expiry struct {
	// ExpiresAt is when the session ends unless it is used again; zero for
	// a session that has not been saved.
	ExpiresAt time.Time
	// IdleTimeout is the sliding window in force: the session's own
	// (SetIdleTimeout), else WithRememberTimeout's for a remembered session
	// or WithBrowserSessionTimeout's for a browser session, else
	// WithIdleTimeout's. 0 when the session does not slide.
	IdleTimeout time.Duration
	// Deadline is when the session ends however active: the earlier of its
	// own (SetDeadline) and the store's WithLifetime counted from sign-in
	// (or from creation, for an anonymous session). Zero when none.
	Deadline time.Time
	// Remembered is true after RememberMe(true).
	Remembered bool
	// Persistent is true when the cookie carries a Max-Age and so outlives
	// the browser; false for a browser session and a header session.
	Persistent bool
}

// RememberMe chooses the kind of session, as a "remember me" box at login
// does. With true the cookie is persistent and the session slides over
// WithRememberTimeout (default 30 days); with false the cookie has no
// Max-Age, so the browser drops it when it closes, and the session slides
// over WithBrowserSessionTimeout (default 2 hours). Either way it clears an
// idle timeout set with SetIdleTimeout. The choice is saved with the
// session and honoured by every later request, on every instance; the
// store's WithLifetime still bounds both. A remembered session stays
// revocable like any other (DestroyUser, DestroyOthers).
func (s *Session) RememberMe(remember bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.writable("RememberMe") {
		return
	}
	flags := s.pol.flags &^ (flagRemembered | flagBrowser)
	if remember {
		flags |= flagRemembered
	} else {
		flags |= flagBrowser
	}
	s.setPolicy(policy{flags: flags, deadline: s.pol.deadline}, partKind|partIdle)
}

// SetIdleTimeout gives this session its own sliding window, saved with it
// (Django's set_expiry(seconds)). 0 goes back to the window of the session's
// kind (see RememberMe). The window is stored in whole seconds: d is
// truncated to them, and anything between 0 and a second becomes one
// second. A negative d fails the request with ErrInvalidExpiry.
func (s *Session) SetIdleTimeout(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.writable("SetIdleTimeout") {
		return
	}
	if d < 0 {
		s.fail(fmt.Errorf("%w: idle timeout %v is negative", ErrInvalidExpiry, d))
		return
	}
	p := s.pol
	p.idle = d.Truncate(time.Second)
	if d > 0 && p.idle == 0 {
		p.idle = time.Second
	}
	s.setPolicy(p, partIdle)
}

// SetDeadline gives this session an absolute end, saved with it: it dies at
// t however active (Django's set_expiry(datetime), scs's SetDeadline). The
// zero time removes the session's own deadline; the store's WithLifetime
// still applies. A deadline already past ends the session with this
// request.
func (s *Session) SetDeadline(t time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.writable("SetDeadline") {
		return
	}
	p := s.pol
	p.deadline = time.Time{}
	if !t.IsZero() {
		p.deadline = t.UTC().Truncate(time.Microsecond)
	}
	s.setPolicy(p, partDeadline)
}

// policyParts names the parts of a policy that one request changed, so
// that a save which lost to a concurrent one re-applies only those.
type policyParts uint8

const (
	partKind     policyParts = 1 << iota // remembered or browser session
	partIdle                             // the session's own idle timeout
	partDeadline                         // the session's own deadline
	partHeader                           // carried in a header
	partUnbound                          // bound once, unbound since
)

// apply returns theirs, the policy a concurrent save left, with the parts
// of mine that parts names.
func (parts policyParts) apply(mine, theirs policy) policy {
	p := theirs
	if parts&partKind != 0 {
		const kind = flagRemembered | flagBrowser
		p.flags = p.flags&^kind | mine.flags&kind
	}
	if parts&partHeader != 0 {
		p.flags = p.flags&^flagHeader | mine.flags&flagHeader
	}
	if parts&partUnbound != 0 {
		p.flags = p.flags&^flagUnbound | mine.flags&flagUnbound
	}
	if parts&partIdle != 0 {
		p.idle = mine.idle
	}
	if parts&partDeadline != 0 {
		p.deadline = mine.deadline
	}
	return p
}

// setPolicy records a change of expiry policy, the parts named, to be
// saved with the session and its expiry. The caller holds s.mu.
func (s *Session) setPolicy(p policy, parts policyParts) {
	if s.lifetime.change(p, parts) || !s.exists {
		s.dirty = true
	}
}

// change takes p as the policy, the parts named changed by this request,
// and reports whether it differs from the one in force.
func (l *lifetime) change(p policy, parts policyParts) bool {
	if p == l.pol {
		return false
	}
	l.pol = p
	l.policySet |= parts
	return true
}

// Expiry reports when the session ends and how: its window, its deadline,
// whether it is remembered and whether its cookie outlives the browser.
// Changes this request made are included, saved or not.
func (s *Session) Expiry() Expiry {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	st := s.store
	now := st.cfg.now()
	start := s.start
	if s.userIDSet && s.userID != "" || !s.exists {
		start = now // the save starts the lifetime: a sign-in, or a new row
	}
	e := Expiry{
		IdleTimeout: st.idleTimeout(s.pol),
		Deadline:    st.deadline(start, s.pol),
		Remembered:  s.pol.flags&flagRemembered != 0,
		Persistent:  !s.header && st.persistent(s.pol),
	}
	if s.exists {
		e.ExpiresAt = s.expires
		if s.touch || s.policySet != 0 || s.userIDSet {
			// This request moves it when it saves.
			e.ExpiresAt = st.expiry(start, now, s.pol)
		}
	}
	return e
}

// idleTimeout is the sliding window of a session with policy p.
func (st *Store) idleTimeout(p policy) time.Duration {
	switch {
	case p.idle > 0:
		return p.idle
	case p.flags&flagRemembered != 0:
		return st.cfg.rememberTimeout
	case p.flags&flagBrowser != 0:
		return st.cfg.browserTimeout
	}
	return st.cfg.idleTimeout
}

// deadline is the absolute end of a session started (created, or signed
// in) at start, with policy p; zero when none.
func (st *Store) deadline(start time.Time, p policy) time.Time {
	d := p.deadline
	if st.cfg.lifetime > 0 && !start.IsZero() {
		if abs := start.Add(st.cfg.lifetime); d.IsZero() || abs.Before(d) {
			d = abs
		}
	}
	return d
}

// persistent reports whether the cookie of a session with policy p carries
// a Max-Age.
func (st *Store) persistent(p policy) bool {
	switch {
	case p.flags&flagHeader != 0:
		return false
	case p.flags&flagRemembered != 0:
		return true
	case p.flags&flagBrowser != 0:
		return false
	}
	return st.cfg.persistent
}

// expiry is when a session started at start, used at now, with policy p
// dies: the sooner of its idle and its absolute deadline.
func (st *Store) expiry(start, now time.Time, p policy) time.Time {
	var exp time.Time
	if idle := st.idleTimeout(p); idle > 0 {
		exp = now.Add(idle)
	}
	if d := st.deadline(start, p); !d.IsZero() && (exp.IsZero() || d.Before(exp)) {
		exp = d
	}
	if exp.IsZero() {
		// Neither a window nor a deadline: validate keeps the store from
		// this, but a session's own idle 0 falls back to the store's.
		exp = now.Add(DefaultIdleTimeout)
	}
	return exp.UTC()
}

// refreshAfter is how far the expiry of a session with policy p must be
// able to move before a read pays for a write to move it.
func (st *Store) refreshAfter(p policy) time.Duration {
	return st.idleTimeout(p) / 10
}
