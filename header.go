package ginsession

// IssueToken makes this a header session and returns the token the client
// must send back in WithTokenHeader's header ("Authorization: Bearer
// <token>"), saving the session first. It is how an API client gets its
// session: call it once, at login, after Login, and put the token in the
// response body. The response sets no cookie.
//
// A new session is created even when it holds nothing yet. A cookie
// session becomes a header session under a new ID, and its cookie is
// expired: one session is never both. On a header session it returns the
// current token, which changes when RenewID or Login renews it: hand the
// client the new one. It returns the save's error, if any, and panics if
// the store has no WithTokenHeader.
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
	converted := false
	switch {
	case !s.exists:
		s.keep, s.dirty = true, true
	case !s.header:
		// The cookie's ID must not name a session that a header now
		// carries: renew it.
		s.renew, s.dirty, converted = true, true, true
		s.pol.flags |= flagHeader
		s.policySet |= partHeader
	}
	s.header = true
	err := s.commit(true)
	if s.err != nil {
		s.errReported = true // returned to the caller, who answers
	}
	if err != nil {
		return "", err
	}
	if converted {
		s.cookie, s.dropCookie = cookieExpire, true
	}
	return s.token, nil
}
