package ginsession

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"unicode/utf8"
)

// A Seed describes a session for Store.NewSession to create.
type Seed struct {
	// UserID binds the session to a user, as Login does; "" for an
	// anonymous session.
	UserID string
	// Values are stored as Set would store them, with the store's codec.
	Values map[string]any
	// Flashes are queued as AddFlash would queue them, in order.
	Flashes []any
	// Remember makes it a remembered session, as RememberMe(true) does.
	Remember bool
	// Header makes it a header session (WithTokenHeader) rather than a
	// cookie one.
	Header bool
	// UserAgent and ClientIP are recorded as a request's would be, for the
	// devices page, when the store records them (WithRecordUserAgent,
	// WithRecordClientIP); otherwise they are ignored.
	UserAgent, ClientIP string
}

// NewSession creates a session outside any request and returns its token:
// a test that starts signed in (package ginsessiontest), an API token minted
// by an admin tool, a session handed over from another system. Put the
// token in the store's cookie (SessionCookie) or, for a Header seed, in
// WithTokenHeader's header. A value the codec cannot encode fails with
// ErrEncode, a session over WithMaxSize with ErrTooLarge; nothing is saved
// then.
func (st *Store) NewSession(ctx context.Context, seed Seed) (string, error) {
	rec := record{Values: make(map[string]rawValue, len(seed.Values))}
	for k, v := range seed.Values {
		if !utf8.ValidString(k) {
			return "", fmt.Errorf("%w: key %q is not valid UTF-8", ErrEncode, k)
		}
		raw, err := st.encodeValue(v)
		if err != nil {
			return "", fmt.Errorf("new session: value of %q (%T): %w", k, v, err)
		}
		rec.Values[k] = raw
	}
	for _, f := range seed.Flashes {
		raw, err := st.encodeValue(f)
		if err != nil {
			return "", fmt.Errorf("new session: flash (%T): %w", f, err)
		}
		rec.Flashes = append(rec.Flashes, raw)
	}
	token, id := newToken()
	data, err := st.encodeRecord(id, &rec)
	if err != nil {
		return "", fmt.Errorf("new session: %w", err)
	}
	now := st.cfg.now().UTC()
	var p policy
	if seed.Remember {
		p.flags |= flagRemembered
	}
	if seed.Header {
		p.flags |= flagHeader
	}
	m := Model{ID: id, Data: data, UserID: seed.UserID, CreatedAt: now, UpdatedAt: now,
		LastSeenAt: sql.NullTime{Time: now, Valid: true}, Version: 1, ExpiresAt: st.expiry(now, now, p)}
	p.setColumns(&m)
	if st.cfg.userAgent {
		m.UserAgent = truncate(seed.UserAgent, 512)
	}
	if st.cfg.clientIP {
		m.ClientIP = truncate(seed.ClientIP, 64)
	}
	if seed.UserID != "" {
		m.SignedInAt = sql.NullTime{Time: now, Valid: true}
	}
	if err := st.insert(ctx, &m); err != nil {
		return "", fmt.Errorf("%w: new session: %w", ErrSave, err)
	}
	st.emit(ctx, Event{Kind: EventCreated, Handle: id, UserID: seed.UserID, Count: 1})
	if seed.UserID != "" {
		st.emit(ctx, Event{Kind: EventBound, Handle: id, UserID: seed.UserID, Count: 1})
	}
	return token, nil
}

// ReadSession returns a read-only view of the session a token names, of
// either kind, as the next request bearing it would see it: Get, Get[T],
// Keys, UserID, Expiry, Handle and CSRFToken work on it; changes are
// ignored, and Save, IssueToken and DestroyOthers fail with ErrReadOnly. A
// token that names no live session, or a row whose data no key or codec
// reads, gives a session whose IsNew is true (and whose CSRFToken is the
// one a visitor with that anonymous CSRF cookie would get). It is for tests and tools
// that need to look inside a session (package ginsessiontest); requests
// use Default.
func (st *Store) ReadSession(ctx context.Context, token string) (*Session, error) {
	s := &Session{store: st, req: &http.Request{Header: http.Header{}}}
	s.ctx = sessionContext{Context: ctx, s: s}
	s.state = new(state)
	s.loaded = true
	now := st.cfg.now().UTC()
	if id, ok := parseToken(token); ok {
		m, found, err := st.load(ctx, id, now)
		if err != nil {
			return nil, fmt.Errorf("%w: read session: %w", ErrLoad, err)
		}
		if found {
			if rec, err := st.decodeData(id, m.data); err != nil {
				// A request would start a new session: so does the view.
				st.cfg.logger.WarnContext(ctx, "session data cannot be decoded; reading it as a new session", "error", err)
			} else {
				s.id, s.token, s.header = id, token, m.pol.flags&flagHeader != 0
				s.adopt(&m, rec, now)
				s.touch, s.seen = false, false
			}
		}
	}
	if !s.exists {
		if _, ok := parseToken(token); ok {
			// A token naming no session may be a visitor's anonymous CSRF
			// cookie (CSRFCookieName): the view's CSRFToken derives from it.
			s.csrf = csrfCookie{token: token, read: true}
		}
	}
	s.frozen, s.readOnly = true, true // nothing is ever saved
	return s, nil
}

// IsHeader reports whether the request is a header request: its session
// travels in WithTokenHeader's header (an API client's, from IssueToken),
// not in the cookie. It is fixed before the handlers run and costs no
// query. A request finds a session only the way it was issued.
func (s *Session) IsHeader() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.ended {
		s.resolveKind()
	}
	return s.header
}

// SessionCookie returns the cookie that carries token, with the store's
// name, path, domain and attributes, as a response would set it (Secure
// only when WithSecure or the cookie's name asks for it).
func (st *Store) SessionCookie(token string) *http.Cookie {
	ck := st.cookie(false)
	ck.Value = token
	return &ck
}

// CookieName returns the session cookie's name (WithCookieName).
func (st *Store) CookieName() string { return st.cfg.cookieName }

// CSRFCookieName returns the name of the cookie that carries the CSRF
// secret of a visitor without a session: CookieName with "_csrf" (see
// Session.CSRFToken). ReadSession of its value gives a view whose CSRFToken
// is that visitor's.
func (st *Store) CSRFCookieName() string { return st.csrfCookieName() }

// TokenHeader returns WithTokenHeader's header name, or "" when the store
// takes cookies only.
func (st *Store) TokenHeader() string { return st.tokenHeaderKey }
