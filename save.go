package ginsession

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
	"unsafe"

	"github.com/gin-gonic/gin"
)

// maxSaveAttempts bounds how often a save re-reads the row and re-applies
// this request's changes after losing to a concurrent writer.
const maxSaveAttempts = 8

// maxCookieCandidates bounds how many well-formed cookies of the session's
// name one request may make the store look up (in one query).
const maxCookieCandidates = 4

// usable reports whether the session may still touch the database: not after
// a panic, and not after its middleware returned (the request's Gin context
// may then belong to another request). The caller holds s.mu.
func (s *Session) usable(what string) bool {
	if s.ended {
		// s.c may serve another request by now: only what was kept of this
		// one is named.
		s.store.cfg.logger.Error("session used after its middleware returned; ignored",
			"call", what, "method", s.req.Method, "path", s.req.URL.Path, "route", s.route)
		if s.err == nil {
			s.err = fmt.Errorf("%w: %s", ErrRequestEnded, what)
			s.errReported = true // nobody is left to answer: the caller hears it
		}
		return false
	}
	return !s.frozen
}

// writable loads the session and reports whether it may change.
func (s *Session) writable(what string) bool {
	if !s.usable(what) {
		return false
	}
	s.load()
	return s.err == nil
}

// fail makes err the session's sticky error. The handler chain is stopped
// by the request's own goroutine (see Default and the writer), never from
// here: fail may run on a goroutine holding c.Copy(), and Gin's chain is not
// safe to touch from one.
func (s *Session) fail(err error) {
	if s.err == nil {
		s.err = err
		s.abort.Store(true)
	}
}

// abortChain stops the handler chain of c if the session has failed and c
// is the request's own context, not a copy.
func (s *Session) abortChain(c *gin.Context) {
	if c == s.c && s.abort.Load() && s.abort.CompareAndSwap(true, false) {
		c.Abort()
	}
}

// resetChanges forgets this request's changes once they are saved (or
// dropped).
func (s *Session) resetChanges() {
	s.renew, s.userIDSet, s.keep = false, false, false
	s.nextToken, s.nextID = "", ""
	s.policySet = 0
	s.contents.saved()
	s.dirty = false
	s.reseal = false // a save seals under the newest key anyway
}

// candidates are the well-formed session cookies of a request and the row
// IDs they name; several arrive when a sibling subdomain or a longer path set
// a cookie of the same name. Kept in arrays: no allocation for the usual one.
type candidates struct {
	n           int
	tokens, ids [maxCookieCandidates]string
}

// cookieTokens finds the request's well-formed session cookies, reading the
// Cookie header directly: net/http's parser builds every cookie of the
// request to return a few.
func (s *Session) cookieTokens() candidates {
	var c candidates
	s.resolveKind()
	if s.header {
		// Its cookies are not looked at, so that neither kind of token
		// can stand in for the other.
		if value, _ := s.store.headerToken(s.req); value != "" {
			if id, ok := parseToken(value); ok {
				c.tokens[0], c.ids[0], c.n = value, id, 1
			}
		}
		return c
	}
	name := s.store.cfg.cookieName
	for _, line := range s.req.Header["Cookie"] {
		for part := range strings.SplitSeq(line, ";") {
			key, value, ok := strings.Cut(part, "=")
			if !ok || strings.TrimSpace(key) != name {
				continue
			}
			value = strings.TrimSpace(value)
			if len(value) >= 2 && value[0] == '"' && value[len(value)-1] == '"' {
				value = value[1 : len(value)-1] // RFC 6265 allows a quoted value
			}
			id, ok := parseToken(value)
			if !ok || slices.Contains(c.ids[:c.n], id) {
				continue
			}
			c.tokens[c.n], c.ids[c.n] = value, id
			if c.n++; c.n == maxCookieCandidates {
				return c
			}
		}
	}
	return c
}

// resolveKind settles whether a request that carries no token header is on
// an APIHandler route. The caller holds s.mu.
func (s *Session) resolveKind() {
	if s.kindPending {
		s.kindPending = false
		s.header = apiRoute(s.c)
	}
}

// headerToken returns the token of WithTokenHeader's header, and whether
// the request carries that header at all. A value that is not one token
// (a second header) yields an empty token. Authorization counts only with
// the Bearer scheme: a browser sends Basic credentials on its own, and its
// cookie session must go on working behind them.
func (st *Store) headerToken(r *http.Request) (string, bool) {
	key := st.tokenHeaderKey
	if key == "" {
		return "", false
	}
	values, present := r.Header[key]
	if !present || len(values) != 1 {
		return "", present
	}
	v := values[0]
	if key == "Authorization" {
		scheme, token, _ := strings.Cut(v, " ")
		if !strings.EqualFold(scheme, "Bearer") {
			return "", false
		}
		v = strings.TrimLeft(token, " ")
	}
	return strings.TrimSpace(v), true
}

// load reads the session on first use. The caller holds s.mu.
func (s *Session) load() {
	if s.state == nil {
		s.state = s.newState()
	}
	if s.loaded || !s.usable("load") {
		return
	}
	s.loaded = true
	s.reset()
	c := s.cookieTokens()
	if c.n == 0 {
		return
	}
	ids := c.ids[:c.n]
	st := s.store
	now := st.cfg.now().UTC()
	b := s.buf
	if b == nil {
		b = new(loadBuf)
	}
	m := &b.row
	var found bool
	var err error
	if c.n == 1 {
		found, err = st.loadInto(s.ctx.Context, b, c.ids[0], now)
	} else {
		*m, found, err = st.loadAny(s.ctx.Context, slices.Clone(ids), now, s.header)
	}
	if err != nil {
		s.fail(fmt.Errorf("%w: %w", ErrLoad, err))
		return
	}
	if !found {
		return // an unknown or expired ID is never adopted
	}
	if (m.pol.flags&flagHeader != 0) != s.header {
		// A header session's token sent in a cookie, or the reverse: each
		// kind is accepted only the way it was issued.
		st.cfg.logger.WarnContext(s.ctx.Context, "session token presented in the wrong place; ignored", "header", s.header)
		return
	}
	rec, err := st.decodeData(m.id, m.data)
	if err != nil {
		st.cfg.logger.WarnContext(s.ctx.Context, "session data cannot be decoded; starting a new session", "error", err)
		s.unreadable = m.id // still Destroy's to delete
		return
	}
	s.id, s.token = m.id, c.tokens[slices.Index(ids, m.id)]
	s.adopt(m, rec, now)
	// Sealed by an older key: seal it again under the newest, so that the
	// old one can go.
	s.reseal = st.sealer != nil && st.sealer.stale(m.data)
}

// newState makes the session's state on its first use. A request that
// brings a cookie or a token gets room for the row its load reads in the
// same allocation: one allocation, where the row alone would be another.
func (s *Session) newState() *state {
	if !s.header && len(s.req.Header["Cookie"]) == 0 {
		return new(state)
	}
	withBuf := new(struct {
		state
		buf loadBuf
	})
	withBuf.state.buf = &withBuf.buf
	return &withBuf.state
}

// adopt takes m as the stored state of the session.
func (s *Session) adopt(m *row, rec record, now time.Time) {
	s.exists = true
	s.version = m.version
	s.start = m.start
	s.expires = m.expires
	s.pol = m.pol
	s.userID = m.userID
	s.contents.adopt(rec)
	s.touch = s.store.expiry(s.start, now, s.pol).Sub(s.expires) > s.store.refreshAfter(s.pol)
	s.seen = s.store.cfg.lastSeen > 0 && now.Sub(m.lastSeen) > s.store.cfg.lastSeen
}

// clientInfo returns what the store records of the request's browser.
func (s *Session) clientInfo() clientInfo {
	var c clientInfo
	if s.store.cfg.userAgent {
		c.userAgent = truncate(s.req.UserAgent(), 512)
	}
	if s.store.cfg.clientIP {
		c.ip = truncate(s.c.ClientIP(), 64)
	}
	return c
}

// truncate cuts s to at most n bytes, on a rune boundary, keeping it valid
// UTF-8 for the database.
func truncate(s string, n int) string {
	s = strings.ToValidUTF8(s, "")
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// rebase re-applies this request's changes on top of m, the row as a
// concurrent writer left it.
func (s *Session) rebase(m row, rec record, now time.Time) {
	rec = s.contents.rebase(rec)
	userID, pol := s.userID, s.pol
	s.adopt(&m, rec, now)
	if s.userIDSet {
		s.userID = userID
	}
	// Only the parts of the policy this request changed: a deadline set by
	// the other request survives this one's RememberMe, and the reverse.
	s.pol = s.policySet.apply(pol, s.pol)
}

// writeContext is the context of a write: the request's values and deadline,
// but not its cancellation, so that a client who hangs up mid-response does
// not lose what the handler changed.
func (s *Session) writeContext() (context.Context, context.CancelFunc) {
	ctx := context.WithoutCancel(s.ctx.Context)
	if deadline, ok := s.ctx.Context.Deadline(); ok {
		return context.WithDeadline(ctx, deadline)
	}
	return ctx, func() {}
}

// commit writes what this request changed. open tells whether the response
// headers can still carry a cookie; when they cannot, a new session is not
// created and an ID is not renewed, and the error says so. The caller holds
// s.mu.
func (s *Session) commit(open bool) error {
	if s.frozen || s.ended {
		return nil
	}
	if s.err != nil {
		return s.err
	}
	if !s.loaded {
		return nil // never used
	}
	if s.header {
		// The token goes back through IssueToken, not the headers: a
		// header session can be created, renewed and slid at any time.
		open = true
	}
	if len(s.destroyed) == 0 && !s.dirty && !s.reseal && !(s.touch && open) && !s.seen {
		return nil // nothing to write
	}
	st := s.store
	ctx, cancel := s.writeContext()
	defer cancel()
	now := st.cfg.now().UTC()
	for len(s.destroyed) > 0 {
		d := s.destroyed[0]
		n, err := st.deleteOfKind(ctx, d.id, d.header)
		if err != nil {
			s.fail(fmt.Errorf("%w: destroy: %w", ErrSave, err))
			return s.err
		}
		if n > 0 {
			s.emit(Event{Kind: EventDestroyed, Handle: d.id, UserID: s.destroyedUser, Count: n})
		}
		s.destroyed = s.destroyed[1:]
	}
	switch {
	case s.dirty && !s.exists:
		if len(s.values) == 0 && len(s.flashes) == 0 && s.userID == "" && !s.keep {
			s.resetChanges() // nothing worth a row
			return nil
		}
		if !open {
			s.resetChanges()
			return fmt.Errorf("%w: new session not created", ErrCookieNotSent)
		}
		if s.header && !s.keep {
			// Nobody would ever learn this session's token.
			s.resetChanges()
			s.fail(ErrTokenNotIssued)
			return s.err
		}
		return s.insert(ctx, now)
	case s.dirty:
		if s.renew && !open {
			s.failClosed("session ID renewal")
			return s.err
		}
		return s.update(ctx, now, s.renew, open)
	case s.reseal && s.exists:
		s.resealData(ctx, now, open)
	case s.touch && open:
		expires := st.expiry(s.start, now, s.pol)
		moved, err := st.moveExpiry(ctx, s.id, s.version, expires, now, s.clientInfo())
		s.touch, s.seen = false, false
		if err != nil {
			// Bookkeeping: the session is still good for a while, and a
			// later request will try again. Not worth failing a read for.
			st.cfg.logger.WarnContext(ctx, "cannot extend the session's expiry; a later request will try again", "error", err)
			return nil
		}
		if moved { // else saved, renewed or destroyed meanwhile: that request's cookie stands
			s.expires = expires
			s.cookie = cookieSet
		}
	case s.seen && s.exists:
		s.seen = false
		if err := st.see(ctx, s.id, now, now.Add(-st.cfg.lastSeen), s.clientInfo()); err != nil {
			st.cfg.logger.WarnContext(ctx, "cannot record the session's last use; a later request will try again", "error", err)
		}
	}
	return nil
}

// resealData writes the session's data again, sealed under the newest key,
// moving the expiry too if it is due. It is bookkeeping, as an expiry move
// is: when another request saved first (which sealed it anew) or the
// session is gone, it gives up quietly, and a failure is only logged.
func (s *Session) resealData(ctx context.Context, now time.Time, open bool) {
	st := s.store
	s.reseal = false
	data, err := s.encodeRecord(s.id)
	if err != nil {
		st.cfg.logger.WarnContext(ctx, "cannot seal the session under the new key; a later request will try again", "error", err)
		return
	}
	c := s.clientInfo()
	m := Model{ID: s.id, Data: data, UpdatedAt: now, LastSeenAt: sql.NullTime{Time: now, Valid: true},
		UserAgent: c.userAgent, ClientIP: c.ip, Version: s.version + 1}
	cols := 0
	if s.touch && open {
		s.pol.setColumns(&m)
		m.ExpiresAt = st.expiry(s.start, now, s.pol)
		cols = updateExpiry
	}
	ok, err := st.update(ctx, s.id, &m, cols, now)
	if err != nil {
		st.cfg.logger.WarnContext(ctx, "cannot seal the session under the new key; a later request will try again", "error", err)
		return
	}
	s.touch, s.seen = false, false
	if ok {
		s.version = m.Version
		if cols != 0 {
			s.expires = m.ExpiresAt
			s.cookie = cookieSet
		}
	}
}

// encodeRecord encodes the session's record for the row id.
func (s *Session) encodeRecord(id string) (string, error) {
	return s.store.encodeRecord(id, &record{Values: s.values, Flashes: s.flashes})
}

// encodeRecord encodes rec for the row id, within WithMaxSize and as text.
func (st *Store) encodeRecord(id string, rec *record) (string, error) {
	data, err := st.encodeData(id, rec)
	if err != nil {
		return "", err
	}
	if len(data) > st.cfg.maxSize {
		return "", fmt.Errorf("%w: session is %d bytes, limit %d", ErrTooLarge, len(data), st.cfg.maxSize)
	}
	if !utf8.Valid(data) {
		return "", fmt.Errorf("%w: the codec's output is not valid UTF-8", ErrEncode)
	}
	// data is ours alone: encodeData builds it afresh (appendJSONRecord on a
	// new slice, or seal's new output; a codec's own output is only copied
	// from) and nothing else keeps it, so the string can take its bytes
	// rather than copy them, an allocation and a copy of the session saved
	// on every write.
	return unsafe.String(unsafe.SliceData(data), len(data)), nil
}

func (s *Session) insert(ctx context.Context, now time.Time) error {
	token, id := s.takeNext()
	data, err := s.encodeRecord(id)
	if err != nil {
		s.fail(err)
		return s.err
	}
	if s.header {
		s.pol.flags |= flagHeader
	}
	c := s.clientInfo()
	m := Model{ID: id, Data: data, UserID: s.userID, CreatedAt: now, UpdatedAt: now, LastSeenAt: sql.NullTime{Time: now, Valid: true},
		UserAgent: c.userAgent, ClientIP: c.ip, Version: 1}
	s.pol.setColumns(&m)
	if s.userID != "" {
		m.SignedInAt = sql.NullTime{Time: now, Valid: true}
	}
	m.ExpiresAt = s.store.expiry(now, now, s.pol)
	if err := s.store.insert(ctx, &m); err != nil {
		if landed, lerr := s.store.landed(ctx, &m, now, err); !landed {
			s.fail(fmt.Errorf("%w: %w", ErrSave, lerr))
			return s.err
		}
	}
	s.exists, s.id, s.token, s.version = true, id, token, 1
	s.start, s.expires = now, m.ExpiresAt
	s.emit(Event{Kind: EventCreated, Handle: id, UserID: s.userID})
	if s.userID != "" {
		s.emit(Event{Kind: EventBound, Handle: id, UserID: s.userID})
	}
	s.stored = len(s.flashes)
	s.resetChanges()
	s.cookie = cookieSet
	return nil
}

// takeNext returns the token and ID for a new row or a renewal: those drawn
// early for a CSRF token, if any, else fresh ones.
func (s *Session) takeNext() (token, id string) {
	if s.nextToken != "" {
		token, id = s.nextToken, s.nextID
		s.nextToken, s.nextID = "", ""
		return token, id
	}
	return newToken()
}

// setColumns writes p into the policy columns of m.
func (p policy) setColumns(m *Model) {
	m.Flags = p.flags
	m.IdleTimeout = int64(p.idle / time.Second)
	m.Deadline = sql.NullTime{Time: p.deadline, Valid: !p.deadline.IsZero()}
}

// update saves over the version this request read, re-reading and
// re-applying its changes when a concurrent writer saved first.
func (s *Session) update(ctx context.Context, now time.Time, renew, open bool) error {
	st := s.store
	id, token := s.id, s.token
	if renew {
		token, id = s.takeNext()
	}
	// Saves of one session take turns within this process, so they retry
	// at most once; the row's version still guards against other processes.
	lockID := s.id // s.id changes with a renewal
	l := st.locks.lock(lockID)
	defer st.locks.unlock(lockID, l)
	c := s.clientInfo()
	for attempt := 1; ; attempt++ {
		data, err := s.encodeRecord(id)
		if err != nil {
			s.fail(err)
			return s.err
		}
		m := Model{ID: id, Data: data, UserID: s.userID, ExpiresAt: s.expires, UpdatedAt: now, LastSeenAt: sql.NullTime{Time: now, Valid: true},
			UserAgent: c.userAgent, ClientIP: c.ip, Version: s.version + 1}
		if renew {
			m.RenewedFrom = s.id
			m.RenewedAt = sql.NullTime{Time: now, Valid: true}
		}
		// The expiry moves only with a cookie that says so, or with a new
		// policy or user (sign-in restarts the absolute lifetime); otherwise
		// the UPDATE leaves the column alone, so as not to undo another
		// request's move.
		start := s.start
		switch {
		case s.userIDSet && s.userID != "":
			start = now
			m.SignedInAt = sql.NullTime{Time: now, Valid: true}
		case s.userIDSet:
			// Unbound ("sign out, keep the cart"): the lifetime still counts
			// from the last sign-in, which the next load must find, and the
			// row remembers that it was someone's (see Login).
			m.SignedInAt = sql.NullTime{Time: start, Valid: !start.IsZero()}
			s.pol.flags |= flagUnbound
		}
		move := s.touch && open || s.policySet != 0 || s.userIDSet
		if move {
			s.pol.setColumns(&m)
			m.ExpiresAt = st.expiry(start, now, s.pol)
		}
		cols := 0
		if renew {
			cols |= updateID
		}
		if s.userIDSet {
			cols |= updateUser
		}
		if move {
			cols |= updateExpiry
		}
		ok, err := st.update(ctx, s.id, &m, cols, now)
		if err != nil && classify(err) == errConnLost {
			// Committed or not, the version says: not applied means a
			// concurrent save's path below, which re-reads and tries again.
			ok, err = st.landed(ctx, &m, now, err)
			if err != nil && classify(err) == errConnLost {
				err = nil // the re-read found the row unchanged by us
			}
		}
		if err != nil {
			s.fail(fmt.Errorf("%w: %w", ErrSave, err))
			return s.err
		}
		if ok {
			if renew {
				s.emit(Event{Kind: EventRenewed, Handle: id, PreviousHandle: s.id, UserID: s.userID})
			}
			if s.userIDSet {
				s.emit(Event{Kind: EventBound, Handle: id, UserID: s.userID})
			}
			s.renewed = s.renewed || renew
			s.id, s.token, s.version, s.expires, s.start = id, token, m.Version, m.ExpiresAt, start
			s.stored = len(s.flashes)
			s.seen = false
			if renew || move && (open || s.policySet != 0) {
				// A sign-in after the headers moved only the row's expiry
				// later: the cookie it has still works meanwhile.
				s.cookie = cookieSet
			}
			if move {
				s.touch = false
			}
			s.resetChanges()
			return nil
		}
		if attempt == maxSaveAttempts {
			s.fail(fmt.Errorf("%w: gave up after %d attempts", ErrConflict, attempt))
			return s.err
		}
		fresh, found, err := st.load(ctx, s.id, now)
		if err != nil {
			s.fail(fmt.Errorf("%w: re-read after a concurrent save: %w", ErrSave, err))
			return s.err
		}
		if !found {
			// Destroyed (or renewed) by another request: saving would bring
			// it back. Drop this request's changes.
			s.emit(Event{Kind: EventInterrupted, Handle: s.id, UserID: s.userID})
			s.reset()
			s.fail(ErrSessionInterrupted)
			return s.err
		}
		rec, err := st.decodeData(s.id, fresh.data)
		if err != nil {
			s.fail(fmt.Errorf("%w: concurrent save left undecodable data: %w", ErrSave, err))
			return s.err
		}
		s.rebase(fresh, rec, now)
	}
}

// endRenewal, once the request is over, stops the ID the session was
// renewed from from reaching it. Until then a logout sent with the old
// cookie still destroys the renewed session: a logout wins over a renewal
// in flight. It runs however the request ends, a panic included.
func (s *Session) endRenewal() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.state == nil || !s.renewed || s.id == "" {
		return
	}
	s.renewed = false
	ctx, cancel := s.writeContext()
	defer cancel()
	if err := s.store.endRenewal(ctx, s.id); err != nil {
		s.store.cfg.logger.WarnContext(ctx, "cannot retire the renewed session's old ID; it stops working on its own shortly", "error", err, "within", renewalGrace)
	}
}

// landed settles a write whose connection broke with it in flight (lost):
// it may have committed. It reads row m.ID again, on a fresh connection:
// the write landed if the row holds m's version and data, which no other
// request writes (a version is taken once, and the ID of a new row is
// random). It returns lost when the write did not land, or when the row
// cannot be read: then nothing is known, and the request fails as before.
// A write is never run twice on a guess.
func (st *Store) landed(ctx context.Context, m *Model, now time.Time, lost error) (bool, error) {
	if classify(lost) != errConnLost {
		return false, lost
	}
	r, found, err := st.load(ctx, m.ID, now)
	if err != nil {
		return false, lost
	}
	if found && r.version == m.Version && string(r.data) == m.Data {
		st.cfg.logger.InfoContext(ctx, "a save whose connection broke had committed", "error", lost)
		return true, nil
	}
	return false, lost
}
