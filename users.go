package ginsession

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// MaxUserSessions bounds how many sessions UserSessions returns.
const MaxUserSessions = 1000

var (
	// ErrNoUser means an operation that needs the session's user found
	// none: call SetUserID or Login first.
	ErrNoUser = errors.New("ginsession: session is not bound to a user")
	// ErrInvalidHandle means a string given as a session handle cannot be
	// one (handles come from UserSessions or Session.Handle).
	ErrInvalidHandle = errors.New("ginsession: not a session handle")
)

// SessionInfo describes one of a user's sessions, for a page that lists
// where the user is signed in.
type SessionInfo struct {
	// Handle identifies the session to the application: pass it to
	// Store.DestroySession, compare it with Session.Handle. It is the hash
	// the table keeps, so it cannot be used as a cookie; it is still not for
	// other users' eyes, since it names a session to destroy.
	Handle    string
	UserID    string
	CreatedAt time.Time
	// LastSeen is when the session was last used, to within
	// WithLastSeenInterval.
	LastSeen  time.Time
	ExpiresAt time.Time
	// UserAgent and ClientIP are empty unless the store records them.
	UserAgent string
	ClientIP  string
	// SignedInAt is when the session was bound to its user: its last Login.
	// Zero for an anonymous session (Store.Sessions lists those too).
	SignedInAt time.Time
	// Remembered is true for a session made with RememberMe(true).
	Remembered bool
	// Browser is true for a session made with RememberMe(false).
	Browser bool
	// Header is true for a session an API client carries in a request
	// header (IssueToken), false for a browser's cookie session.
	Header bool
}

// UserSessions returns the live sessions bound to userID, newest first, at
// most MaxUserSessions.
func (st *Store) UserSessions(ctx context.Context, userID string) ([]SessionInfo, error) {
	if userID == "" {
		return nil, nil
	}
	var infos []SessionInfo
	err := st.run.query(ctx, sUserSessions, []any{userID, st.cfg.now().UTC()}, func(rows *sql.Rows) (int64, error) {
		infos = infos[:0]
		return scanInfos(rows, &infos)
	})
	if err != nil {
		return nil, fmt.Errorf("%w: list sessions of user: %w", ErrLoad, err)
	}
	return infos, nil
}

// scanInfos appends the rows, of the columns infoColumns names, to infos
// and returns how many it read.
func scanInfos(rows *sql.Rows, infos *[]SessionInfo) (int64, error) {
	n := int64(0)
	for rows.Next() {
		var info SessionInfo
		var lastSeen, signedIn sql.NullTime
		var flags int
		if err := rows.Scan(&info.Handle, &info.UserID, &info.CreatedAt, &lastSeen, &info.ExpiresAt,
			&info.UserAgent, &info.ClientIP, &signedIn, &flags); err != nil {
			return n, err
		}
		n++
		if info.UserID != "" {
			info.SignedInAt = signedIn.Time
			if !signedIn.Valid { // bound before the column existed
				info.SignedInAt = info.CreatedAt
			}
		}
		info.Remembered = flags&flagRemembered != 0
		info.Browser = flags&flagBrowser != 0
		info.Header = flags&flagHeader != 0
		info.LastSeen = lastSeen.Time
		if !lastSeen.Valid { // a row from before the column existed
			info.LastSeen = info.CreatedAt
		}
		*infos = append(*infos, info)
	}
	return n, nil
}

// DestroySession deletes the session a handle names; its next request finds
// no session, on every instance. Destroying a session that is gone is not an
// error. Whoever can call it can sign anyone out: to act on a handle that a
// user sent, use DestroyUserSession, which checks that it is theirs.
func (st *Store) DestroySession(ctx context.Context, handle string) error {
	if len(handle) != idLen {
		return fmt.Errorf("%w: %q", ErrInvalidHandle, handle)
	}
	n, err := st.delete(ctx, handle)
	if err != nil {
		return fmt.Errorf("%w: destroy session: %w", ErrSave, err)
	}
	if n > 0 {
		st.emit(ctx, Event{Kind: EventRevoked, Handle: handle, Count: n})
	}
	return nil
}

// DestroyUserSession deletes the session a handle names if it is bound to
// userID, and reports whether it was. Use it for a "sign out that device"
// button: a handle of someone else's session deletes nothing.
func (st *Store) DestroyUserSession(ctx context.Context, userID, handle string) (bool, error) {
	if len(handle) != idLen {
		return false, fmt.Errorf("%w: %q", ErrInvalidHandle, handle)
	}
	if userID == "" {
		return false, nil
	}
	n, err := st.run.exec(ctx, sDestroyUserSession, handle, handle, st.cfg.now().UTC().Add(-renewalGrace), userID)
	if err != nil {
		return false, fmt.Errorf("%w: destroy a session of user: %w", ErrSave, err)
	}
	if n > 0 {
		st.emit(ctx, Event{Kind: EventRevoked, Handle: handle, UserID: userID, Count: n})
	}
	return n > 0, nil
}

// DestroyUser deletes every session bound to userID (after a password
// change, a stolen laptop, a ban) and returns how many there were. A request
// still in flight on one of them gets ErrSessionInterrupted if it saves.
func (st *Store) DestroyUser(ctx context.Context, userID string) (int64, error) {
	if userID == "" {
		return 0, nil
	}
	n, err := st.forUser(ctx, true, userID, "", st.cfg.now().UTC(), sDestroyUser, userID)
	if err != nil {
		return 0, fmt.Errorf("%w: destroy sessions of user: %w", ErrSave, err)
	}
	if n > 0 {
		st.emit(ctx, Event{Kind: EventRevoked, UserID: userID, Count: n})
	}
	return n, nil
}

// A Tx runs the store's user calls inside a transaction of the
// application's own, so that revoking sessions commits or rolls back with
// the change that calls for it: a password change and signing the user out
// everywhere, a ban and its revocation. Get one with Store.Tx.
type Tx struct{ st *Store }

// Tx returns the store's user calls bound to tx, a transaction the
// application opened on the same database (db.Transaction, db.Begin). They
// run on tx's connection, are seen by other requests only once tx commits,
// and vanish if it rolls back. Unlike the Store's own calls they are not
// retried after a deadlock or serialization failure: such an error ends
// the transaction, which the application retries as a whole.
//
// On PostgreSQL, DestroyUser and DestroyOthers lock the user until tx ends
// (see docs/security.md), and a sign-in or MintToken for that user waits
// for the lock: sign the user in again only after tx commits, not from a
// request whose session saves while tx is open (a handler that writes its
// response inside db.Transaction), which would wait for itself. Run tx at
// READ COMMITTED, PostgreSQL's default: at REPEATABLE READ or SERIALIZABLE
// its snapshot is taken before the lock, and a sign-in or mint that
// commits in between outlives the revocation.
func (st *Store) Tx(tx *gorm.DB) *Tx {
	return &Tx{st: &Store{db: tx, cfg: st.cfg, run: st.run.forTx(tx)}}
}

// UserSessions is Store.UserSessions inside the transaction.
func (t *Tx) UserSessions(ctx context.Context, userID string) ([]SessionInfo, error) {
	return t.st.UserSessions(ctx, userID)
}

// DestroySession is Store.DestroySession inside the transaction.
func (t *Tx) DestroySession(ctx context.Context, handle string) error {
	return t.st.DestroySession(ctx, handle)
}

// DestroyUserSession is Store.DestroyUserSession inside the transaction.
func (t *Tx) DestroyUserSession(ctx context.Context, userID, handle string) (bool, error) {
	return t.st.DestroyUserSession(ctx, userID, handle)
}

// DestroyUser is Store.DestroyUser inside the transaction.
func (t *Tx) DestroyUser(ctx context.Context, userID string) (int64, error) {
	return t.st.DestroyUser(ctx, userID)
}

// Login binds the session to userID under a new ID: RenewID and SetUserID
// in one call, the thing to do when a user signs in.
//
// Sign-in is a fresh start: the session's signed-in time (SessionInfo's
// SignedInAt) and the store's absolute lifetime (WithLifetime) count from
// it, and the new ID gives the session a new CSRF secret. Call it at every
// sign-in, also when the same user signs in again.
//
// A session signed in as another user keeps nothing of theirs: its values,
// flashes and expiry choices (RememberMe, SetIdleTimeout, SetDeadline) are
// dropped, as Django's login does, so that a flag the first user earned (a
// second factor, a sudo mode) cannot carry over. That holds too for a
// session that was bound to a user and unbound since (SetUserID("")): it no
// longer knows whose it was, so any sign-in starts it clean. An anonymous
// session's values (a cart) are kept.
//
// An empty userID fails the request with ErrNoUser: use SetUserID("") to
// unbind, or Destroy to sign out.
func (s *Session) Login(userID string) {
	if userID == "" {
		s.mu.Lock()
		if s.usable("Login") {
			s.fail(fmt.Errorf("%w: Login(\"\"): call Destroy to sign out, or SetUserID(\"\") to unbind", ErrNoUser))
		}
		s.mu.Unlock()
		return
	}
	s.RenewID()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.writable("Login") {
		return
	}
	if s.userID != "" && s.userID != userID || s.pol.flags&flagUnbound != 0 {
		// Marked as changes even when nothing seems to change, so that a
		// retry drops what the first user's other tab saved meanwhile.
		s.contents.clear()
		s.cleared = true
		s.pol = policy{flags: s.pol.flags & flagHeader}
		s.policySet |= partKind | partIdle | partDeadline
	}
	// Signed in: the mark of an earlier unbind goes, even over a
	// concurrent save's.
	s.pol.flags &^= flagUnbound
	s.policySet |= partUnbound
	s.userID = userID
	s.userIDSet = true
	s.dirty = true
}

// Handle returns the handle of this session as SessionInfo knows it, or ""
// when it has not been saved yet (a new session gets one when it is saved,
// a renewed one a new one).
func (s *Session) Handle() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.load()
	if s.state == nil || !s.exists {
		return ""
	}
	return s.id
}

// DestroyOthers signs the session's user out everywhere else: it deletes
// every other session bound to the same user and returns how many there
// were. It takes effect at once, not with the save: a later failure of this
// request does not undo it. It fails with ErrNoUser when the session has no
// user, and with ErrSessionInterrupted, deleting nothing, when this session
// is no longer live or no longer the user's (another tab renewed it, or it
// was revoked while this request ran): a stale or revoked session must not
// sign the user out everywhere.
func (s *Session) DestroyOthers() (int64, error) {
	defer s.flush()
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.writable("DestroyOthers") {
		return 0, s.refusal("DestroyOthers")
	}
	if s.userID == "" {
		return 0, ErrNoUser
	}
	if s.dirty {
		// Signed in (or renewed, or created) by this very request: the row
		// must say so before it can vouch for this session. A new header
		// session is created for it, as IssueToken would.
		if s.header && !s.exists {
			s.keep = true
		}
		if err := s.commit(s.headersOpen()); err != nil {
			return 0, err
		}
	}
	ctx, cancel := s.writeContext()
	defer cancel()
	now := s.store.cfg.now().UTC()
	n, err := s.store.destroyOthers(ctx, s.userID, s.id, now)
	if err != nil {
		return 0, fmt.Errorf("%w: destroy the user's other sessions: %w", ErrSave, err)
	}
	if n > 0 {
		s.emit(Event{Kind: EventRevoked, UserID: s.userID, Count: n})
		return n, nil
	}
	// Nothing deleted: no other sessions, or this one is gone.
	r, found, err := s.store.load(ctx, s.id, now)
	if err != nil {
		return 0, fmt.Errorf("%w: check the session after destroying the user's others: %w", ErrLoad, err)
	}
	if !found || r.userID != s.userID {
		// Renewed by another tab, revoked, or signed in as someone else
		// meanwhile: this request speaks for nobody any more.
		s.emit(Event{Kind: EventInterrupted, Handle: s.id, UserID: s.userID})
		s.reset()
		s.fail(ErrSessionInterrupted)
		s.errReported = true // returned to the caller, who answers
		return 0, ErrSessionInterrupted
	}
	return 0, nil
}

// destroyOthers deletes userID's sessions but id, if id is still live and
// still the user's, and returns how many it deleted.
func (st *Store) destroyOthers(ctx context.Context, userID, id string, now time.Time) (int64, error) {
	return st.forUser(ctx, true, userID, id, now, sDestroyOthers, userID, id, id, userID, now)
}

// forUser runs statement stmt with args, a write to userID's sessions, so
// that it lands before or after every other such write, never amid one: it
// revokes the user's sessions (revoke: DestroyUser, DestroyOthers) or mints
// a token from session id, and forUser returns how many rows it changed. So a revocation deletes every token minted before it, and a
// mint after it finds its sign-in gone and mints nothing. (A sign-in, which
// only writes, is ordered with revocations by its own statement: see
// statements.)
//
//   - SQLite runs one writer at a time.
//   - MySQL and MariaDB: a DELETE reads the latest rows under lock, and
//     locks the gaps between them, where a mint's INSERT waits. On a
//     Galera cluster, whose locks stay on their node, a mint and
//     DestroyOthers first write row id (sTouch), in the same transaction,
//     so that the two conflict in certification on that row and the loser
//     runs again; DestroyUser deletes the row a mint writes, which
//     conflicts the same way. forUser then returns 0 without running stmt
//     when row id is gone or no longer the user's.
//   - PostgreSQL: a statement at READ COMMITTED sees what committed before
//     it began, so a DELETE that began before a mint's INSERT committed
//     would miss the token, and a mint that began before a revocation
//     committed would copy a revoked sign-in. stmt runs in a transaction at
//     READ COMMITTED, whatever the database's default, after taking the
//     user's lock: alone for a revocation (sLockUser), shared for a mint
//     (sLockUserShared), so that its statement begins after the other
//     committed.
func (st *Store) forUser(ctx context.Context, revoke bool, userID, id string, now time.Time, stmt stmtID, args ...any) (int64, error) {
	switch st.db.Dialector.Name() {
	case "postgres":
		var lock stmtID = sLockUserShared
		if revoke {
			lock = sLockUser
		}
		return st.run.transaction(ctx, stmt, readCommitted(), func(t *runner) (int64, error) {
			if _, err := t.exec(ctx, lock, userID); err != nil {
				return 0, err
			}
			return t.exec(ctx, stmt, args...)
		})
	case "mysql":
		if id == "" {
			break
		}
		return st.run.transaction(ctx, stmt, nil, func(t *runner) (int64, error) {
			if n, err := t.exec(ctx, sTouch, now, now.Add(time.Microsecond), now, id, userID, now); err != nil || n == 0 {
				return 0, err
			}
			return t.exec(ctx, stmt, args...)
		})
	}
	return st.run.exec(ctx, stmt, args...)
}
