package ginsession

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// maxSaveAttempts bounds how often a save re-reads the row and re-applies
// this request's changes after losing to a concurrent writer.
const maxSaveAttempts = 8

// A Session is one request's view of a stored session. It loads from the
// database on first use and is saved by the middleware, once, just before the
// response headers go out, if anything changed. Get one with Default or
// FromContext. Its methods are safe for concurrent use within the request; a
// Session must not be kept past its request.
type Session struct {
	store *Store
	c     *gin.Context
	w     writer
	ctx   sessionContext

	mu sync.Mutex

	loaded  bool   // the row was looked up (or there was nothing to look up)
	exists  bool   // a row for id is in the database
	id      string // the row's ID, the token's hash; empty when none
	token   string // the cookie value for id
	version int64
	created time.Time
	expires time.Time // the row's expiry, as the cookie knows it
	userID  string
	values  map[string]rawValue
	flashes []rawValue
	stored  int // how many of flashes came from the database

	// This request's own changes, kept apart so that they can be re-applied
	// on top of a concurrent writer's save.
	cleared     bool
	sets        map[string]rawValue
	deletes     map[string]struct{}
	added       []rawValue
	taken       []rawValue
	userIDSet   bool
	renew       bool
	dirty       bool
	touch       bool     // the expiry should move forward
	destroyed   []string // row IDs to delete
	cookie      cookieOp // what the response must tell the browser
	err         error    // sticky: the session can neither be read nor saved
	errReported bool
	frozen      bool // the handler panicked: save nothing
}

type cookieOp uint8

const (
	cookieKeep cookieOp = iota
	cookieSet
	cookieExpire
)

// sessionContext carries the session in the request's context without an
// allocation of its own.
type sessionContext struct {
	context.Context
	s *Session
}

type sessionKey struct{}

func (c *sessionContext) Value(key any) any {
	if _, ok := key.(sessionKey); ok {
		return c.s
	}
	return c.Context.Value(key)
}

// Get returns the value stored under key, decoded without a target type
// (with JSONCodec: string, float64, bool, []any, map[string]any or nil), or
// nil when there is none. Use Get[T] for a typed read.
func (s *Session) Get(key string) any {
	var v any
	raw, ok := s.raw(key)
	if !ok || s.store.cfg.codec.Unmarshal(raw, &v) != nil {
		return nil
	}
	return v
}

// Get returns the value stored under key as a T. It reports false when the
// key is missing or its value does not decode as a T.
func Get[T any](s *Session, key string) (T, bool) {
	var v T
	raw, ok := s.raw(key)
	if !ok {
		return v, false
	}
	if err := s.store.cfg.codec.Unmarshal(raw, &v); err != nil {
		var zero T
		return zero, false
	}
	return v, true
}

func (s *Session) raw(key string) (rawValue, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	raw, ok := s.values[key]
	return raw, ok
}

// Set stores value under key. The value is encoded at once, so what this
// request reads back is what the next one will. A value the codec cannot
// encode, or one larger than WithMaxSize, fails the request through the error
// handler (and Save) with ErrEncode or ErrTooLarge, naming the key and type.
func (s *Session) Set(key string, value any) {
	raw, err := s.encode(value)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.fail(fmt.Errorf("set %q (%T): %w", key, value, err))
		return
	}
	if !s.writable() {
		return
	}
	if old, ok := s.values[key]; ok && bytes.Equal(old, raw) {
		return // unchanged: no write
	}
	s.values[key] = raw
	s.sets[key] = raw
	delete(s.deletes, key)
	s.dirty = true
}

func (s *Session) encode(value any) (rawValue, error) {
	raw, err := s.store.cfg.codec.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEncode, err)
	}
	if len(raw) > s.store.cfg.maxSize {
		return nil, fmt.Errorf("%w: value is %d bytes, limit %d", ErrTooLarge, len(raw), s.store.cfg.maxSize)
	}
	return raw, nil
}

// Delete removes key. Deleting a missing key changes nothing.
func (s *Session) Delete(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.writable() {
		return
	}
	if _, ok := s.values[key]; !ok {
		return
	}
	delete(s.values, key)
	delete(s.sets, key)
	s.deletes[key] = struct{}{}
	s.dirty = true
}

// Has reports whether key holds a value.
func (s *Session) Has(key string) bool {
	_, ok := s.raw(key)
	return ok
}

// Keys returns the keys that hold values, sorted.
func (s *Session) Keys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	keys := make([]string, 0, len(s.values))
	for k := range s.values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Clear drops every value and flash but keeps the session, its ID and the
// user it is bound to.
func (s *Session) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.writable() {
		return
	}
	if len(s.values) == 0 && len(s.flashes) == 0 {
		return
	}
	s.values = map[string]rawValue{}
	s.flashes = nil
	s.stored = 0
	s.cleared = true
	clear(s.sets)
	clear(s.deletes)
	s.added, s.taken = nil, nil
	s.dirty = true
}

// AddFlash queues a message for the next request that calls Flashes. The
// value is encoded at once, as with Set.
func (s *Session) AddFlash(value any) {
	raw, err := s.encode(value)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		s.fail(fmt.Errorf("add flash (%T): %w", value, err))
		return
	}
	if !s.writable() {
		return
	}
	s.flashes = append(s.flashes, raw)
	s.added = append(s.added, raw)
	s.dirty = true
}

// Flashes returns the queued flash messages, oldest first, and removes them:
// each is read once. It returns nil, and writes nothing, when there are none.
func (s *Session) Flashes() []any {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.writable() || len(s.flashes) == 0 {
		return nil
	}
	out := make([]any, 0, len(s.flashes))
	for _, raw := range s.flashes {
		var v any
		if s.store.cfg.codec.Unmarshal(raw, &v) == nil {
			out = append(out, v)
		}
	}
	s.taken = append(s.taken, s.flashes[:s.stored]...)
	s.flashes, s.added, s.stored = nil, nil, 0
	s.dirty = true
	return out
}

// SetUserID binds the session to a user, in an indexed column, so that the
// user's sessions can be found without decoding any data. An empty id unbinds.
func (s *Session) SetUserID(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.writable() || (s.userID == id && s.exists) {
		return
	}
	s.userID = id
	s.userIDSet = true
	s.dirty = true
}

// UserID returns the user the session is bound to, or "".
func (s *Session) UserID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	return s.userID
}

// IsNew reports whether the request came without a live session: no cookie,
// a malformed one, or one whose session is unknown or expired.
func (s *Session) IsNew() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	return !s.exists
}

// RenewID gives the session a new ID and cookie, keeping its data; the old ID
// stops working at once. Call it at login and at every change of privilege,
// so that an ID planted before login (session fixation) is worthless.
func (s *Session) RenewID() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.writable() {
		return
	}
	// A new session gets a fresh ID when it is first saved anyway.
	if s.exists {
		s.renew = true
		s.dirty = true
	}
}

// Destroy deletes the session and expires its cookie. The row is deleted
// even if it was never read, at the cost of one statement. A later Set in the
// same request starts a new session with a new ID.
func (s *Session) Destroy() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil || s.frozen {
		return
	}
	id := s.id
	if !s.loaded {
		id, _ = s.cookieID()
	}
	s.reset()
	s.loaded = true
	if id != "" {
		s.destroyed = append(s.destroyed, id)
		s.cookie = cookieExpire
	}
}

// Save writes the session now instead of when the headers go out, and
// reports what went wrong. Most handlers never need it; call it before
// streaming a response if the session may still change, or to handle a save
// error yourself (the error handler then stays out of it). Save is cheap when
// nothing changed.
func (s *Session) Save() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	open := s.w.state == headersOpen && !s.w.ResponseWriter.Written()
	err := s.commit(open)
	if err != nil {
		s.errReported = true
	}
	return err
}

// Err returns the error that stopped this session from loading or saving,
// if any. After such an error reads give nothing and writes are ignored.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// writable loads the session and reports whether it may change.
func (s *Session) writable() bool {
	s.load()
	return s.err == nil && !s.frozen
}

func (s *Session) fail(err error) {
	if s.err == nil {
		s.err = err
		s.c.Abort()
	}
}

// reset forgets everything about the session but what must still be done
// for earlier IDs.
func (s *Session) reset() {
	s.exists, s.id, s.token, s.version, s.userID = false, "", "", 0, ""
	s.created, s.expires = time.Time{}, time.Time{}
	s.values = map[string]rawValue{}
	s.flashes, s.stored = nil, 0
	s.resetChanges()
}

func (s *Session) resetChanges() {
	s.cleared, s.renew, s.dirty, s.userIDSet = false, false, false, false
	s.sets = map[string]rawValue{}
	s.deletes = map[string]struct{}{}
	s.added, s.taken = nil, nil
}

// cookieID returns the row ID named by the request's cookie. Of several
// cookies with the session's name it takes the first well-formed one.
func (s *Session) cookieID() (string, bool) {
	for _, ck := range s.c.Request.CookiesNamed(s.store.cfg.cookieName) {
		if id, ok := parseToken(ck.Value); ok {
			s.token = ck.Value
			return id, true
		}
	}
	return "", false
}

func (s *Session) load() {
	if s.loaded {
		return
	}
	s.loaded = true
	s.reset()
	id, ok := s.cookieID()
	if !ok {
		return
	}
	st := s.store
	now := st.cfg.now().UTC()
	m, found, err := st.load(s.ctx.Context, id, now)
	if err != nil {
		s.fail(fmt.Errorf("%w: %w", ErrLoad, err))
		return
	}
	if !found {
		s.token = "" // never adopt an unknown ID
		return
	}
	rec, err := decodeRecord(st.cfg.codec, []byte(m.Data))
	if err != nil {
		st.cfg.logger.WarnContext(s.ctx.Context, "session data cannot be decoded; starting a new session", "error", err)
		s.token = ""
		return
	}
	s.id = id
	s.adopt(m, rec, now)
}

// adopt takes m as the stored state of the session.
func (s *Session) adopt(m Model, rec record, now time.Time) {
	s.exists = true
	s.version = m.Version
	s.created = m.CreatedAt
	s.expires = m.ExpiresAt
	s.userID = m.UserID
	s.values = rec.Values
	if s.values == nil {
		s.values = map[string]rawValue{}
	}
	s.flashes, s.stored = rec.Flashes, len(rec.Flashes)
	s.touch = s.store.expiry(s.created, now).Sub(s.expires) > s.store.refreshAfter()
}

// rebase re-applies this request's changes on top of m, the row as a
// concurrent writer left it.
func (s *Session) rebase(m Model, rec record, now time.Time) {
	if s.cleared {
		rec.Values, rec.Flashes = nil, nil
	}
	if rec.Values == nil {
		rec.Values = map[string]rawValue{}
	}
	for k := range s.deletes {
		delete(rec.Values, k)
	}
	for k, v := range s.sets {
		rec.Values[k] = v
	}
	for _, f := range s.taken {
		if i := slices.IndexFunc(rec.Flashes, func(g rawValue) bool { return string(f) == string(g) }); i >= 0 {
			rec.Flashes = slices.Delete(rec.Flashes, i, i+1)
		}
	}
	userID := s.userID
	s.adopt(m, rec, now)
	s.flashes = append(s.flashes, s.added...)
	if s.userIDSet {
		s.userID = userID
	}
}

// commit writes what this request changed. open tells whether the response
// headers can still carry a cookie. The caller holds s.mu.
func (s *Session) commit(open bool) error {
	if s.frozen {
		return nil
	}
	if s.err != nil {
		return s.err
	}
	if !s.loaded {
		return nil
	}
	st := s.store
	ctx := s.ctx.Context
	now := st.cfg.now().UTC()
	var notSent error
	for len(s.destroyed) > 0 {
		if err := st.delete(ctx, s.destroyed[0]); err != nil {
			s.fail(fmt.Errorf("%w: destroy: %w", ErrSave, err))
			return s.err
		}
		s.destroyed = s.destroyed[1:]
		if !open && !s.dirty {
			notSent = fmt.Errorf("%w: destroyed session's cookie not expired", ErrCookieNotSent)
		}
	}
	switch {
	case s.dirty && !s.exists:
		if len(s.values) == 0 && len(s.flashes) == 0 && s.userID == "" {
			s.resetChanges() // nothing worth a row
			return notSent
		}
		if !open {
			s.resetChanges()
			return fmt.Errorf("%w: new session not created", ErrCookieNotSent)
		}
		return s.insert(now)
	case s.dirty:
		renew := s.renew
		if renew && !open {
			renew = false
			notSent = fmt.Errorf("%w: session ID not renewed", ErrCookieNotSent)
		}
		if err := s.update(now, renew, open); err != nil {
			return err
		}
	case s.touch && open:
		expires := st.expiry(s.created, now)
		if err := st.touch(ctx, s.id, expires, now); err != nil {
			s.fail(fmt.Errorf("%w: extend expiry: %w", ErrSave, err))
			return s.err
		}
		s.expires, s.touch = expires, false
		s.cookie = cookieSet
	}
	return notSent
}

func (s *Session) encodeRecord() (string, error) {
	data, err := encodeRecord(s.store.cfg.codec, &record{Values: s.values, Flashes: s.flashes})
	if err != nil {
		return "", err
	}
	if len(data) > s.store.cfg.maxSize {
		return "", fmt.Errorf("%w: session is %d bytes, limit %d", ErrTooLarge, len(data), s.store.cfg.maxSize)
	}
	if !utf8.Valid(data) {
		return "", fmt.Errorf("%w: the codec's output is not valid UTF-8", ErrEncode)
	}
	return string(data), nil
}

func (s *Session) insert(now time.Time) error {
	data, err := s.encodeRecord()
	if err != nil {
		s.fail(err)
		return s.err
	}
	token, id := newToken()
	m := Model{ID: id, Data: data, UserID: s.userID, CreatedAt: now, UpdatedAt: now, Version: 1}
	m.ExpiresAt = s.store.expiry(now, now)
	if err := s.store.insert(s.ctx.Context, &m); err != nil {
		s.fail(fmt.Errorf("%w: %w", ErrSave, err))
		return s.err
	}
	s.exists, s.id, s.token, s.version = true, id, token, 1
	s.created, s.expires = now, m.ExpiresAt
	s.stored = len(s.flashes)
	s.resetChanges()
	s.cookie = cookieSet
	return nil
}

// update saves over the version this request read, re-reading and
// re-applying its changes when a concurrent writer saved first.
func (s *Session) update(now time.Time, renew, open bool) error {
	st := s.store
	ctx := s.ctx.Context
	id, token := s.id, s.token
	if renew {
		token, id = newToken()
	}
	lock := st.saveLock(s.id)
	lock.Lock()
	defer lock.Unlock()
	for attempt := 1; ; attempt++ {
		data, err := s.encodeRecord()
		if err != nil {
			s.fail(err)
			return s.err
		}
		m := Model{ID: id, Data: data, UserID: s.userID, ExpiresAt: s.expires, UpdatedAt: now, Version: s.version + 1}
		moved := s.touch && open
		if moved {
			m.ExpiresAt = st.expiry(s.created, now)
		}
		ok, err := st.update(ctx, s.id, &m, now)
		if err != nil {
			s.fail(fmt.Errorf("%w: %w", ErrSave, err))
			return s.err
		}
		if ok {
			s.id, s.token, s.version, s.expires = id, token, m.Version, m.ExpiresAt
			s.stored = len(s.flashes)
			if renew || moved {
				s.cookie = cookieSet
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
			s.reset()
			s.fail(ErrSessionInterrupted)
			return s.err
		}
		rec, err := decodeRecord(st.cfg.codec, []byte(fresh.Data))
		if err != nil {
			s.fail(fmt.Errorf("%w: concurrent save left undecodable data: %w", ErrSave, err))
			return s.err
		}
		s.rebase(fresh, rec, now)
	}
}
