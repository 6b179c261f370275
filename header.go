package ginsession

import (
	"database/sql"
	"fmt"
)

// IssueToken saves this header request's session and returns the token the
// client must send back in WithTokenHeader's header ("Authorization: Bearer
// <token>"). It is how an API client gets its session: on a route under
// Store.APIHandler, call Login, then IssueToken, and put the token in the
// response body. The response sets no cookie and is marked Cache-Control:
// no-store (unless the handler set a policy), since its body holds a secret.
//
// A new session is created even when it holds nothing yet. On a session
// that already has a token it returns that token, which changes when
// RenewID or Login renews it: hand the client the new one.
//
// On a cookie request it changes nothing and fails with ErrNotHeaderRequest:
// a browser's cookie session never becomes a header session. To give a
// signed-in browser user an API token, use MintToken. It returns the save's
// error, if any, and panics if the store has no WithTokenHeader.
func (s *Session) IssueToken() (string, error) {
	s.store.needTokenHeader("IssueToken")
	defer s.flush()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.writable("IssueToken") {
		return "", s.refusal("IssueToken")
	}
	if !s.header {
		return "", fmt.Errorf("%w: IssueToken; put the route under Store.APIHandler, or use MintToken for a signed-in browser user", ErrNotHeaderRequest)
	}
	if !s.exists {
		s.keep, s.dirty = true, true
	}
	err := s.commit(true)
	if s.err != nil {
		s.errReported = true // returned to the caller, who answers
	}
	if err != nil {
		return "", err
	}
	s.issued = true
	return s.token, nil
}

// MintToken creates an API token for the user this session is signed in as,
// for a signed-in browser user who asks for one (a settings page's "new API
// token" button), and returns it. The token names a new header session of
// its own, with no values, that keeps this session's sign-in: its
// SignedInAt, its deadline and the store's absolute lifetime (WithLifetime)
// count from that sign-in, not from now.
//
// This session is not changed, whatever the request did before (on MySQL
// and MariaDB but its row's updated_at: the mint writes the row it copies,
// so that a DestroyUser or DestroyOthers racing the mint on another Galera
// node deletes the token too; see docs/security.md). It
// fails with ErrNoUser when the session is not signed in, or signed in by
// this very request and not saved yet (save first, or issue the token on an
// APIHandler route), and with ErrSessionInterrupted when the sign-in was
// revoked meanwhile: a revoked sign-in mints nothing. Call it behind CSRF,
// as any change a browser asks for. It panics if the store has no
// WithTokenHeader.
func (s *Session) MintToken() (string, error) {
	st := s.store
	st.needTokenHeader("MintToken")
	defer s.flush()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.writable("MintToken") {
		return "", s.refusal("MintToken")
	}
	if !s.exists || s.userID == "" || s.userIDSet || s.renew {
		return "", fmt.Errorf("%w: MintToken needs a saved sign-in", ErrNoUser)
	}
	ctx, cancel := s.writeContext()
	defer cancel()
	now := st.cfg.now().UTC()
	token, id := newToken()
	data, err := st.encodeRecord(id, &record{})
	if err != nil {
		return "", err
	}
	// The sign-in's lifetime counts from its start, as read. Its deadline
	// is the earlier of the stored row's, which the INSERT copies, and one
	// this request set and has not saved yet: the token never outlives
	// what the browser's session is told.
	deadline := s.pol.deadline
	expires := st.expiry(s.start, now, policy{flags: flagHeader, deadline: deadline})
	// No client is recorded: the token is for another program, not the
	// browser that asked for it; its use records that program, as any
	// session's does.
	seen := sql.NullTime{Time: now, Valid: true}
	args := []any{id, data, expires, expires, now, now, seen, "", ""}
	var stmt stmtID = sMintToken
	if !deadline.IsZero() {
		stmt = sMintTokenUntil
		args = append(args, deadline, deadline)
	}
	n, err := st.forUser(ctx, false, s.userID, s.id, now, stmt, append(args, s.id, s.userID, now)...)
	if err != nil {
		return "", fmt.Errorf("%w: mint a token: %w", ErrSave, err)
	}
	if n == 0 {
		return "", fmt.Errorf("%w: the sign-in was revoked; no token minted", ErrSessionInterrupted)
	}
	s.emit(Event{Kind: EventCreated, Handle: id, UserID: s.userID})
	s.emit(Event{Kind: EventBound, Handle: id, UserID: s.userID})
	s.issued = true
	return token, nil
}

// needTokenHeader panics, naming the call (what), when the store takes no
// header tokens: a programming error, found on the first request.
func (st *Store) needTokenHeader(what string) {
	if st.tokenHeaderKey == "" {
		panic("ginsession: " + what + ` needs a store with WithTokenHeader("Authorization") (or another header name)`)
	}
}
