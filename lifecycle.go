package ginsession

import "time"

// This file is the session's lifecycle, written down once: read it first.
//
// # Kinds
//
// A request carries its session one way, fixed by the middleware before any
// handler runs and never changed within the request:
//
//   - a cookie request: the session's token is in the store's cookie;
//   - a header request: the token is in WithTokenHeader's header. A request
//     is one when it carries that header (Authorization only with the Bearer
//     scheme) or when its route is under Store.APIHandler, where cookies are
//     never read and never set.
//
// Each row records its kind (flagHeader), and a token is accepted only the
// way it was issued. No call turns one kind into the other: IssueToken works
// on header requests only, and MintToken makes a separate header row while
// leaving the cookie session exactly as it was.
//
// # States
//
// One request's view of its session is in one of these states. They are
// derived from the parts of state below (see phase), not kept as a flag.
//
//   - none: the request named no live row (no token, a malformed one, or an
//     unknown or expired one). A token naming no row is never adopted: the
//     first save inserts a row under a fresh token. A visitor's CSRF
//     secret comes from a cookie of its own (csrf.go), so a login form
//     costs the table nothing.
//   - new: none, with changes this request will insert (a value, a flash, a
//     user, IssueToken). An empty new session is never written.
//   - stored: a row was read (or inserted by this request) at a version.
//   - renewing: RenewID or Login asked for a new ID. The save moves the row
//     to a new ID in one UPDATE and records the old one in renewed_from
//     with the renewal's time; from then until the request ends (renewed-
//     in-flight), a logout sent with the old ID still finds and deletes the
//     row, so that a logout wins over a renewal in flight.
//   - destroyed: Destroy, or a row that vanished under a save (logout,
//     DestroyUser, DestroyOthers elsewhere). A destroyed row never comes
//     back: every UPDATE is guarded by the version it read, and a save that
//     finds no row fails with ErrSessionInterrupted instead of inserting.
//   - expired: the row's expires_at passed. Every statement that reads or
//     writes a row checks expires_at, so an expired row is as good as gone.
//   - interrupted or failed: the sticky error (err) is set; nothing more is
//     saved by this request and the error handler answers.
//
// # Transitions
//
//	call                  from            to          writes
//	Get, Keys, UserID ... none|stored     same        at most a refresh of the expiry
//	Set, Delete, Clear,   none            new         INSERT at save
//	AddFlash, SetUserID   stored          stored      UPDATE at save (version-guarded)
//	Flashes               stored          stored      UPDATE at once (a flash is shown once)
//	RememberMe, Set*...   none|stored     new|stored  with the next save
//	RenewID               stored          renewing    UPDATE of id at save
//	Login                 any             renewing    RenewID + SetUserID; another user's
//	                                                  data, or data of a session that
//	                                                  was ever bound, is dropped
//	Destroy               any             none        DELETE of this kind's row at save
//	IssueToken            header request  stored      INSERT or UPDATE now
//	MintToken             stored, bound   unchanged   INSERT of a separate header row; on
//	                                                  MySQL this row's updated_at first
//	DestroyOthers         stored, bound   stored      DELETE of the user's other rows; on
//	                                                  MySQL this row's updated_at first
//	CSRFToken             any             same        none (a visitor's secret is a cookie)
//	Save                  any             same        what the save at the headers would
//	SetDeadline(past)     stored          expired     with the next save
//	a concurrent logout   stored|renewing interrupted the next save writes nothing
//	request end           renewing        stored      renewed_from cleared, even after a panic
//
// # Invariants
//
//   - A row is read only by a request that presents its token, of its kind,
//     before its expires_at.
//   - A response's session cookie names the row this request last saved,
//     or expires the cookie; a header request never sets a cookie.
//   - An old ID stops working when the renewal's UPDATE commits, except to
//     delete the row, and that only until the renewing request ends or
//     renewalGrace after the renewal itself, whichever is first (a request
//     that ends in a panic ends its renewal too).
//   - A save never writes over a version it did not read: it re-reads,
//     re-applies only this request's own changes (rebase) and tries again.
//
// The model in integration/sessiontest holds concurrent histories against
// these rules on every database topology.

// state is what a session knows once used, in parts that change apart: the
// identity of its row (save.go, header.go, users.go), its contents
// (contents.go), and how it expires (expiry.go). The response's cookies are
// the Session's own (cookie, issued, csrf: cookie.go, csrf.go).
type state struct {
	identity
	contents
	lifetime

	dirty  bool // something this request changed must be saved
	reseal bool // the row was sealed by an older key, or not at all

	pending []Event // committed changes not yet told to WithEvents
	// headerVals hold the response header values the session writes (Vary,
	// Cache-Control, Set-Cookie), nHeaderVals of them used: see addHeader.
	headerVals  [3]string
	nHeaderVals int

	// buf is what the load reads into, when the request brought a token
	// (see newState); its scan targets live on the heap in any case.
	buf *loadBuf
}

// identity is which row the session is and what this request does to it.
type identity struct {
	exists  bool   // a row for id is in the database
	id      string // the row's ID, the token's hash; empty when none
	token   string // the token of id
	version int64
	userID  string
	// userIDSet: SetUserID or Login changed userID in this request.
	userIDSet bool
	renew     bool // RenewID asked for a new ID at the next save
	renewed   bool // a renewal was saved: end it with the request
	keep      bool // save even an empty new session (IssueToken)
	// nextToken and nextID are the token and ID that the next insert or
	// renewal takes, drawn early when a CSRF token must be derived from
	// them before the save.
	nextToken, nextID string
	destroyed         []destroyed // rows Destroy took, to delete at the save
	unreadable        string      // ID of a row whose data could not be decoded
	// destroyedUser is the user of the session Destroy took, for its event.
	destroyedUser string
}

// contents are the session's values and flashes, with this request's own
// changes kept apart so that they can be re-applied on top of a concurrent
// writer's save.
type contents struct {
	values    map[string]rawValue
	flashes   []rawValue
	stored    int // how many of flashes came from the database
	cleared   bool
	sets      map[string]rawValue
	deletes   map[string]struct{}
	added     []rawValue
	taken     []rawValue
	lostTaken []rawValue // flashes this request took that another took first
}

// lifetime is how the session expires, as stored and as this request
// changes it.
type lifetime struct {
	start     time.Time // when the absolute lifetime began: sign-in, or creation
	expires   time.Time // the row's expiry, as the cookie knows it
	pol       policy
	policySet policyParts // the parts of pol this request changed
	touch     bool        // the expiry should move forward
	seen      bool        // the last-seen time is stale enough to write
}

// phase is one of the states above.
type phase uint8

const (
	phaseNone phase = iota
	phaseNew
	phaseStored
	phaseRenewing
	phaseDestroyed
	phaseFailed
)

// phase derives the session's state from its parts. The caller holds s.mu.
func (s *Session) phase() phase {
	switch {
	case s.err != nil:
		return phaseFailed
	case s.state == nil:
		return phaseNone
	case s.exists && (s.renew || s.renewed):
		return phaseRenewing
	case s.exists:
		return phaseStored
	case s.dirty:
		return phaseNew
	case len(s.destroyed) > 0:
		return phaseDestroyed
	}
	return phaseNone
}

// reset forgets everything about the session but what must still be done
// for earlier IDs (destroyed, renewed).
func (s *Session) reset() {
	// renewed is kept, but with no id left it ends nothing: whatever made
	// this request forget its row (Destroy, an interruption) also took the
	// renewed row.
	s.identity = identity{destroyed: s.destroyed, destroyedUser: s.destroyedUser, unreadable: s.unreadable, renewed: s.renewed}
	s.contents = contents{}
	s.lifetime = lifetime{}
	s.dirty, s.reseal = false, false
}
