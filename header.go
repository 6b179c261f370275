package ginsession

import "fmt"

// IssueToken saves this request's session as a header session and returns
// the token the client must send back in WithTokenHeader's header
// ("Authorization: Bearer <token>"). It is how an API client gets its
// session: call it once, at login, after Login, and put the token in the
// response body. The response sets no cookie for it.
//
// A new session is created even when it holds nothing yet. On a request
// that came with a cookie session, that session is left as it was, and what
// this request made of it (its values, the user Login bound) goes on in a
// new header session: one session is never both, and a form forged from a
// sibling site cannot turn the victim's cookie session into a header one,
// nor sign it in. On a header session it returns the current token, which
// changes when RenewID or Login renews it: hand the client the new one. The
// response is marked Cache-Control: no-store (unless the handler set a
// policy), since its body holds a secret. It returns the save's error, if
// any, and panics if the store has no WithTokenHeader.
func (s *Session) IssueToken() (string, error) {
	if s.store.tokenHeaderKey == "" {
		panic("ginsession: IssueToken needs a store with WithTokenHeader(\"Authorization\") (or another header name)")
	}
	defer s.flush()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.writable("IssueToken") {
		return "", s.refusal("IssueToken")
	}
	if !s.header {
		if err := s.detach(); err != nil {
			return "", err
		}
	}
	if !s.exists {
		s.keep, s.dirty = true, true
	}
	s.header = true
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

// detach leaves the request's cookie session as the database holds it and
// makes the session a new one, with the values and user the request left
// it, for IssueToken to save as a header session. A cookie the browser's
// session still needs is kept for the response. The caller holds s.mu.
func (s *Session) detach() error {
	if s.exists {
		// The header session inherits the cookie session's values, and
		// its user unless this request signed in: only while that session
		// is still live (a logout or DestroyUser may have run).
		if err := s.stillLive(); err != nil {
			return err
		}
	}
	if s.cookie != cookieKeep {
		s.leftCookie, s.leftOp = s.setCookie(), s.cookie
	}
	if s.renewed {
		// The cookie session's renewal ends with the request, as any
		// renewal does: until then a logout with the old cookie still wins.
		s.renewedCookie, s.renewed = s.id, false
	}
	s.exists, s.id, s.token, s.version = false, "", "", 0
	s.renew, s.touch, s.seen = false, false, false
	s.nextToken, s.nextID = "", "" // drawn for the cookie session's CSRF tokens
	s.stored = 0                   // every flash is the new row's own
	s.cookie = cookieKeep
	return nil
}

// stillLive checks that the loaded session is still in the database and,
// unless this request bound a user itself, still bound to the same user.
// When it is not, the session fails with
// ErrSessionInterrupted, as a save would. The caller holds s.mu.
func (s *Session) stillLive() error {
	ctx, cancel := s.writeContext()
	defer cancel()
	m, found, err := s.store.load(ctx, s.id, s.store.cfg.now().UTC())
	if err != nil {
		s.fail(fmt.Errorf("%w: %w", ErrLoad, err))
		s.errReported = true // returned to the caller, who answers
		return s.err
	}
	if !found || !s.userIDSet && m.userID != s.userID {
		s.emit(Event{Kind: EventInterrupted, Handle: s.id, UserID: s.userID})
		s.reset()
		s.fail(ErrSessionInterrupted)
		s.errReported = true
		return s.err
	}
	return nil
}
