package ginsession

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
)

// A Session is one request's view of a stored session. It loads from the
// database on first use and is saved by the middleware, once, just before the
// response headers go out, if anything changed. Get one with Default or
// FromContext. Its methods are safe for concurrent use within the request; a
// Session must not be kept past its request.
type Session struct {
	store *Store
	c     *gin.Context  // only while the middleware runs (see ended)
	req   *http.Request // the request as it reached the middleware
	w     writer
	ctx   sessionContext
	// inner is the request the chain sees, req with ctx for its context:
	// kept here so that the session, its writer, its context and its
	// request are one allocation.
	inner http.Request
	// baseHeader is what the response headers held before the chain ran,
	// restored under an error response; nil when they were empty.
	baseHeader http.Header

	// header is the request's kind, fixed before the handler chain runs:
	// true for a header request (see lifecycle.go). kindPending: whether
	// the route runs APIHandler is still to be looked at (resolveKind).
	header, kindPending bool

	mu sync.Mutex
	// state is made on first use, so that a request that never touches its
	// session allocates little and leaves the collector little to scan.
	*state
	loaded      bool     // the row was looked up (or there was nothing to look up)
	cookie      cookieOp // what the response must tell the browser
	issued      bool     // the response's body holds a token (IssueToken, MintToken)
	csrf        csrfCookie
	err         error // sticky: the session can neither be read nor saved
	errReported bool
	frozen      bool // the handler panicked: save nothing
	readOnly    bool // from Store.ReadSession: frozen from the start
	ended       bool // the middleware returned: touch nothing
	route       string
	abort       atomic.Bool // failed: the chain is to stop
}

// destroyed is a row Destroy took: its ID, and the kind of request that
// took it, which is the only kind it may delete.
type destroyed struct {
	id     string
	header bool
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

// Get returns the value stored under key as a T. It reports false, with
// T's zero value, when the key is missing or its value is not a T: it does
// not decode as one (a string for an int, 1.5 for an int, an array for a
// struct), it is null and T cannot be nil (Set(key, nil) read as an int),
// or, with JSONCodec, it is an object that has none of struct T's fields.
// So ok means a T was stored, not merely that something was.
func Get[T any](s *Session, key string) (T, bool) {
	var v T
	raw, ok := s.raw(key)
	if !ok {
		return v, false
	}
	if p, isString := any(&v).(*string); isString && s.store.jsonCodec {
		if str, plain := plainJSONString(raw); plain {
			*p = str
			return v, true
		}
	}
	return decode[T](s, raw)
}

// decode is Get's decoder for what its fast path leaves. Apart, so that
// Get's own variable does not escape to the heap through Unmarshal.
func decode[T any](s *Session, raw rawValue) (T, bool) {
	var v T
	if s.store.jsonCodec && !fitsJSON(reflect.TypeFor[T](), raw) {
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
// encode, a key that is not valid UTF-8, or a value larger than WithMaxSize
// fails the request through the error handler (and Save) with ErrEncode or
// ErrTooLarge, naming the key and type.
func (s *Session) Set(key string, value any) {
	raw, err := s.encode(value)
	if err == nil && !utf8.ValidString(key) {
		// The record is stored as text: such a key would be rewritten, and
		// could merge with another.
		err = fmt.Errorf("%w: key is not valid UTF-8", ErrEncode)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.usable("Set") {
		return
	}
	if err != nil {
		s.fail(fmt.Errorf("set %q (%T): %w", key, value, err))
		return
	}
	if !s.writable("Set") {
		return
	}
	if s.contents.set(key, raw, s.exists) {
		s.dirty = true
	}
}

func (s *Session) encode(value any) (rawValue, error) { return s.store.encodeValue(value) }

// encodeValue encodes one value with the store's codec, within WithMaxSize.
func (st *Store) encodeValue(value any) (rawValue, error) {
	raw, err := st.cfg.codec.Marshal(value)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEncode, err)
	}
	if !st.jsonCodec {
		raw = bytes.Clone(raw) // a codec may reuse its buffer
	}
	if len(raw) > st.cfg.maxSize {
		return nil, fmt.Errorf("%w: value is %d bytes, limit %d", ErrTooLarge, len(raw), st.cfg.maxSize)
	}
	return raw, nil
}

// Delete removes key. Deleting a missing key changes nothing.
func (s *Session) Delete(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.writable("Delete") {
		return
	}
	if s.contents.remove(key) {
		s.dirty = true
	}
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
	if !s.writable("Clear") {
		return
	}
	if s.contents.clear() {
		s.dirty = true
	}
}

// AddFlash queues a message for the next request that calls Flashes. The
// value is encoded at once, as with Set.
func (s *Session) AddFlash(value any) {
	raw, err := s.encode(value)
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.usable("AddFlash") {
		return
	}
	if err != nil {
		s.fail(fmt.Errorf("add flash (%T): %w", value, err))
		return
	}
	if !s.writable("AddFlash") {
		return
	}
	s.contents.addFlash(raw)
	s.dirty = true
}

// Flashes returns the queued flash messages, oldest first, and removes them.
// Each is shown once, even to overlapping requests: when some came from the
// database, Flashes saves the session at once (its one UPDATE, which a
// request that reads flashes makes anyway, only earlier), and of two
// requests that read the same flash only the one whose save wins returns it.
// It returns nil, and writes nothing, when there are none, and nil when the
// save fails (Err says why): a flash is never shown unless it was taken.
func (s *Session) Flashes() []any {
	defer s.flush()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.writable("Flashes") || len(s.flashes) == 0 {
		return nil
	}
	stored, added := s.contents.takeFlashes()
	s.dirty = true
	if len(stored) > 0 && s.exists {
		s.lostTaken = nil
		if s.commit(s.headersOpen()) != nil {
			return nil
		}
		for _, lost := range s.lostTaken { // taken by an overlapping request
			if i := slices.IndexFunc(stored, func(f rawValue) bool { return bytes.Equal(f, lost) }); i >= 0 {
				stored = slices.Delete(stored, i, i+1)
			}
		}
	}
	out := make([]any, 0, len(stored)+len(added))
	for _, raw := range append(stored, added...) {
		var v any
		if s.store.cfg.codec.Unmarshal(raw, &v) == nil {
			out = append(out, v)
		}
	}
	return out
}

// SetUserID binds the session to a user, in an indexed column, so that the
// user's sessions can be found without decoding any data. An empty id unbinds.
func (s *Session) SetUserID(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.writable("SetUserID") || (s.userID == id && s.exists) {
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
//
// After the response headers went out (a login that waited on a stream or a
// websocket) no new cookie can reach the browser, so the privilege change
// must not be saved under the old ID, which may be an attacker's: RenewID
// then fails the session with ErrCookieNotSent, and nothing this request
// changed is saved. Check Err before reporting success.
func (s *Session) RenewID() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.writable("RenewID") {
		return
	}
	if !s.header && !s.headersOpen() {
		// A header session's new token goes back through IssueToken, in
		// the body: only a cookie needs the headers.
		s.failClosed("RenewID")
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
	if s.err != nil || !s.usable("Destroy") {
		return
	}
	if s.state == nil {
		s.state = new(state)
	}
	s.destroyedUser = s.userID
	ids := []string{s.id}
	switch {
	case !s.loaded:
		c := s.cookieTokens() // no need to read what is to be deleted
		ids = c.ids[:c.n]
	case s.id == "":
		ids = []string{s.unreadable}
	}
	s.reset()
	s.loaded, s.unreadable = true, ""
	for _, id := range ids {
		if id != "" {
			s.destroyed = append(s.destroyed, destroyed{id, s.header})
			s.cookie = cookieExpire
		}
	}
}

// Save writes the session now instead of when the headers go out, and
// reports what went wrong. Most handlers never need it; call it before
// streaming a response if the session may still change, or to handle a save
// error yourself (the error handler then stays out of it). Save is cheap when
// nothing changed. A sign-in on a header request without a session yet
// (an API's login: Login, then IssueToken) is saved by IssueToken, which
// hands out its token: Save before it saves nothing yet and reports no
// error. Any other new session on a header request fails the save with
// ErrTokenNotIssued: its token is unknown or expired.
func (s *Session) Save() error {
	defer s.flush()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ended {
		s.usable("Save")
		return s.err
	}
	if s.readOnly {
		return s.refusal("Save")
	}
	if s.header && s.state != nil && !s.exists && !s.keep && s.err == nil && len(s.destroyed) == 0 && s.userIDSet && s.userID != "" {
		return nil // IssueToken will
	}
	err := s.commit(s.headersOpen())
	if s.err != nil {
		s.errReported = true // the caller handles it; the error handler stays out
	}
	return err
}

// headersOpen reports whether the response can still carry a cookie: never
// for a session outside a request (Store.ReadSession).
func (s *Session) headersOpen() bool {
	return s.w.ResponseWriter != nil && s.w.state.Load() == headersOpen && !s.w.ResponseWriter.Written()
}

// refusal is the error of a call (what) that must change the session when
// writable said it may not.
func (s *Session) refusal(what string) error {
	switch {
	case s.err != nil:
		return s.err
	case s.readOnly:
		return fmt.Errorf("%w: %s", ErrReadOnly, what)
	}
	return fmt.Errorf("%w: %s during a panic", ErrRequestEnded, what)
}

// failClosed drops what this request changed and fails the session, for a
// privilege change (what) that needed a new cookie too late.
func (s *Session) failClosed(what string) {
	s.resetChanges()
	s.fail(fmt.Errorf("%w: %s after the headers went out; nothing this request changed was saved, since the old ID may be an attacker's", ErrCookieNotSent, what))
}

// Err returns the error that stopped this session from loading or saving,
// if any. After such an error, changes are ignored and nothing is saved; a
// failed load also leaves the session empty.
func (s *Session) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}
