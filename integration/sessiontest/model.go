package sessiontest

import (
	"fmt"
	"hash/fnv"
	"slices"
	"strings"

	"github.com/anishathalye/porcupine"
)

// sessionModel is ginsession's contract with concurrent clients, written as
// a sequential specification: RunLinearizability records what many clients
// see over real HTTP, on several app instances sharing one database, and
// porcupine checks that some order of the operations below, each taking
// effect at one instant inside its own time interval, explains every
// response. docs/security.md points here.
//
// # The table
//
// The state is the session table. A session has a kind (cookie or header:
// the token travels in the session cookie or in "Authorization: Bearer"), a
// user or none, values (key to value), a set of queued flashes, a current
// token and at most one retiring token: the one a renewal still in flight
// moved it from. A session may also have ended by its own deadline
// (SetDeadline in the past): its row stays until something deletes it, but
// no request finds it. A token that is neither current nor retiring is dead
// and stays dead: no response ever hands out a token twice.
//
// # Requests are not atomic, and the contract says so
//
// A request is up to three operations, each with an instant of its own:
//
//   - load, its first use of the session (the SELECT). Everything the
//     request reads (whether it has a session, its user, its values, and
//     the flashes Flashes may return) comes from this snapshot, however
//     long the request runs and whatever commits meanwhile.
//   - commit, where every change the request made applies (Save, or the
//     save as the headers go out; Flashes' own early save; DestroyOthers'
//     and Destroy's DELETE): on top of the table as it is at that instant,
//     not as the request read it.
//   - retire, when a request that renewed its session's ID ends: until then
//     the old token still destroys the session (a logout sent with the old
//     cookie while the login runs wins over it); from then on it is dead.
//
// So the contract is weaker than linearizable requests, in these ways and
// no others:
//
//   - Writes merge key by key. Set is a blind write of one key at the
//     commit: two requests that set different keys both keep their writes,
//     and of two that set the same key the later commit wins, whatever
//     either read. A request that computes what it writes from what it read
//     (a counter) can lose a concurrent update: its read and its write are
//     two instants.
//   - A request that loaded before a logout, a revocation, a renewal or an
//     expiry of its session still answers from what it loaded; only its
//     commit is refused (ErrSessionInterrupted, 409), and nothing it changed
//     applies.
//   - Flashes returns the flashes that were in its load's snapshot and are
//     still queued at its commit, and removes them: a flash is shown at most
//     once, to the request whose commit took it. A flash queued after the
//     load stays for a later request.
//   - Delete, Clear and SetUserID("") decide at the load whether there is
//     anything to change: a key another request set after the load
//     survives this request's Delete of it.
//
// # The operations, at their instants
//
// In what follows "the session" of a request is the live session whose
// current token is the request's token and whose kind is the request's. A
// retiring, dead or ended token, or a token of the other kind, finds none.
//
//   - load: the session's values and user, or "no session" (IsNew).
//   - commit of Set or AddFlash: if the load found a session that still has
//     that current token, the value is set or the flash queued; if not,
//     interrupted and nothing changes. If the load found nothing, a cookie
//     request creates a new anonymous session holding just this change,
//     under a token never seen before; a header request creates nothing
//     (ErrTokenNotIssued).
//   - commit of Flashes (its own early save): shows and removes the flashes
//     of its load's snapshot still queued; no longer current: shows nothing,
//     interrupted. Nothing queued at the load: nothing shown, nothing
//     written, no error.
//   - commit of RenewID, or of Login(user): the session moves to a new
//     token and the old one becomes its retiring token; Login binds the
//     user, keeping the values of an anonymous or same-user session, but
//     dropping every value and flash queued at its commit when its load saw
//     a session that was signed in once and unbound since (SetUserID("")):
//     such a session no longer knows whose it was. Not
//     current any more: interrupted. No session at the load: Login creates
//     a signed-in session; RenewID creates nothing on a cookie request, and
//     on a header request IssueToken creates an empty header session.
//   - commit of Delete(key), Clear or SetUserID(""): these change the
//     session only when the load saw something to change (the key; any
//     value or flash; a user). Then, as for Set: the key goes, every
//     value and flash queued at the commit goes (also those that came after
//     the load), or the session becomes anonymous, keeping its token; or
//     interrupted. Otherwise nothing is written and nothing can fail.
//   - commit of SetDeadline(a time already past): the session ends.
//   - Destroy (it need not load): ends the session of the request's kind
//     whose current or retiring token the request carried, ended or not.
//   - commit of DestroyOthers: if the load found the user's session and it
//     is still current, ends every other session of that user, of both
//     kinds, and reports n with live <= n <= rows (rows counts the ended
//     ones not yet deleted); if no longer current, interrupted and nothing
//     ends; a session without a user gives ErrNoUser.
//   - commit of MintToken: if the load found the user's session (bound to
//     the user) and it is still live and bound under the token the request
//     carried, a new signed-in header session, with no values and no
//     flashes, under the fresh token the response returned; the session
//     itself is not changed. If it is no longer live, or no longer bound,
//     or only a retiring token (a renewal moved it: the INSERT ... SELECT
//     finds the row by its current ID only), interrupted and nothing is
//     minted. A load that saw no session, or one without a user, gives
//     ErrNoUser. The minted session is an ordinary header session from then
//     on: DestroyUser, DestroyOthers of another of the user's sessions and
//     its own Destroy end it.
//   - Store.DestroyUser(user): ends every session of the user, of both
//     kinds, at once; n as for DestroyOthers.
//   - Store.DestroySession(handle): ends the session whose current or
//     retiring token the handle names, of either kind.
//   - Store.DestroyUserSession(user, handle): the same for a session of
//     that user, and reports whether there was one; a handle of another
//     user's or an anonymous session ends nothing and reports false.
//   - Store.Cleanup: deletes rows of ended sessions, never a live one.
//   - Store.NewSession(Seed{Header: true, UserID: user}): a new signed-in
//     header session under a fresh token.
//
// The checked runs keep the store's clock still while requests are in
// flight and move it only between them, never by a session's idle window:
// expiry refreshes happen (and must change nothing above), idle expiry does
// not, so the model needs no time. Not in this contract, and held by tests
// of their own: idle expiry, WithLifetime, RememberMe and SetIdleTimeout,
// cookie attributes, CSRF, and what a minted token copies of the sign-in
// (its time, deadline and lifetime).
func sessionModel() porcupine.Model {
	return porcupine.Model{
		Partition: partitionByUser,
		Init:      func() any { return table{} },
		Step: func(state, input, output any) (bool, any) {
			return state.(table).step(input.(opInput), output.(opOutput))
		},
		Equal: func(a, b any) bool { return a.(table).equal(b.(table)) },
		Hash:  func(s any) uint64 { return s.(table).hash() },
		DescribeOperation: func(input, output any) string {
			return describe(input.(opInput), output.(opOutput))
		},
		DescribeState: func(s any) string { return s.(table).String() },
		DescribeOperationMetadata: func(info any) string {
			if m, ok := info.(opMeta); ok {
				return m.note
			}
			return ""
		},
	}
}

// act is what an operation of the model does.
type act uint8

const (
	actLoad act = iota + 1
	actSet
	actAddFlash
	actTakeFlashes
	actRenew
	actLogin
	actExpire
	actDestroy
	actDestroyOthers
	actRetire
	actDestroyUser
	actRevoke
	actNewSession
	actSignOutDevice
	actCleanup
	actDelete
	actClear
	actUnbind
	actMintToken
)

var actNames = [...]string{actLoad: "load", actSet: "set", actAddFlash: "add flash", actTakeFlashes: "take flashes",
	actRenew: "renew", actLogin: "login", actExpire: "expire", actDestroy: "destroy", actDestroyOthers: "destroy others",
	actRetire: "retire", actDestroyUser: "DestroyUser", actRevoke: "DestroySession", actNewSession: "NewSession",
	actSignOutDevice: "DestroyUserSession", actCleanup: "Cleanup", actDelete: "delete", actClear: "clear",
	actUnbind: "unbind", actMintToken: "MintToken"}

func (a act) String() string { return actNames[a] }

// outcome is how a request's commit ended.
type outcome uint8

const (
	outOK          outcome = iota
	outInterrupted         // ErrSessionInterrupted: nothing the request changed applied
	outNoUser              // ErrNoUser
	outNotIssued           // ErrTokenNotIssued
	// outFailed is anything else: a 5xx, a transport error. The run fails
	// on it; the model lets it change nothing.
	outFailed
)

var outcomeNames = [...]string{"ok", "interrupted", "no user", "token not issued", "failed"}

func (o outcome) String() string { return outcomeNames[o] }

// kv is one value of a session: both are small numbers the run gives out.
type kv struct{ key, value int }

// opInput is what a client asked: the model's operations' inputs.
type opInput struct {
	act  act
	user int // the partition: the user whose clients made the operation
	req  int // the request, unique in the run
	// header is the request's kind: the token in Authorization: Bearer,
	// else in the cookie.
	header bool
	token  int // the token the request carried, interned; 0 for none
	// found and signed are what the request's load saw, for its commit:
	// a session, and one bound to the user.
	found, signed bool
	// flashes marks the load of a request that calls Flashes or Clear: the
	// model keeps its snapshot of the queue until its commit.
	flashes bool
	// login marks the load of a request that calls Login: whether the
	// session was bound once and unbound since decides, there, whether the
	// sign-in keeps its values.
	login bool
	// had is what the load saw that decides whether the request changes
	// anything: actDelete, the key; actClear, any value.
	had   bool
	key   int // actSet, actDelete
	value int // actSet: the value; actAddFlash: the flash; both unique in the run
}

// opOutput is what the client saw.
type opOutput struct {
	outcome outcome
	found   bool   // actLoad: a session (not IsNew)
	userID  string // actLoad
	values  []kv   // actLoad, sorted by key
	flashes []int  // actTakeFlashes, sorted
	// token is a token the response handed out that the request did not
	// carry (interned): a new or renewed session's, or a minted one's
	// (actMintToken, actNewSession). 0 for none.
	token int
	n     int64 // actDestroyOthers, actDestroyUser; actSignOutDevice: 1 if it reported true
}

// userName is the user ID of partition u.
func userName(u int) string { return fmt.Sprintf("user%d", u) }

// row is one session of the table.
type row struct {
	token, retiring int
	signed          bool // bound to the partition's user; else anonymous
	header          bool
	ended           bool // its own deadline passed; the row stays
	unbound         bool // was signed in, then unbound: a Login starts it clean
	values          []kv
	flashes         []int
}

// snapshot is the queue of flashes a request's load saw, kept for the
// commit of its Flashes.
type snapshot struct {
	req     int
	flashes []int
	unbound bool // a Login's load saw a session bound once and unbound since
}

// table is the model's state: the sessions of one user's clients, sorted
// by token, and the snapshots of the Flashes requests in flight. It is
// never changed in place: each step returns a new one.
type table struct {
	rows    []row
	pending []snapshot
}

// session returns the index of the live session whose current token is
// token and whose kind is header's, or -1.
func (s table) session(token int, header bool) int {
	if token == 0 {
		return -1
	}
	for i, r := range s.rows {
		if r.token == token && r.header == header && !r.ended {
			return i
		}
	}
	return -1
}

// fresh reports whether token can be a newly issued one: the table knows
// it neither as current nor as retiring.
func (s table) fresh(token int) bool {
	if token == 0 {
		return false
	}
	for _, r := range s.rows {
		if r.token == token || r.retiring == token {
			return false
		}
	}
	return true
}

// with returns s with row i replaced by r.
func (s table) with(i int, r row) table {
	s.rows = slices.Clone(s.rows)
	s.rows[i] = r
	s.sort()
	return s
}

// added returns s with r added.
func (s table) added(r row) table {
	s.rows = append(slices.Clone(s.rows), r)
	s.sort()
	return s
}

// without returns s without the rows drop says.
func (s table) without(drop func(r row) bool) table {
	s.rows = slices.DeleteFunc(slices.Clone(s.rows), drop)
	return s
}

func (s table) sort() {
	slices.SortFunc(s.rows, func(a, b row) int { return a.token - b.token })
}

// pendingUnbound reports whether the load of request req, a Login, saw a
// session bound once and unbound since.
func (s table) pendingUnbound(req int) bool {
	i := slices.IndexFunc(s.pending, func(p snapshot) bool { return p.req == req })
	return i >= 0 && s.pending[i].unbound
}

// takePending returns the snapshot of request req, if any, and s without it.
func (s table) takePending(req int) ([]int, table) {
	i := slices.IndexFunc(s.pending, func(p snapshot) bool { return p.req == req })
	if i < 0 {
		return nil, s
	}
	snap := s.pending[i].flashes
	s.pending = slices.Delete(slices.Clone(s.pending), i, i+1)
	return snap, s
}

// count returns how many rows of the user there are other than row skip,
// and how many of them are live.
func (s table) count(skip int) (live, rows int64) {
	for i, r := range s.rows {
		if r.signed && i != skip {
			rows++
			if !r.ended {
				live++
			}
		}
	}
	return live, rows
}

// step applies one operation: whether the model allows the output, and the
// table after it.
func (s table) step(in opInput, out opOutput) (bool, table) {
	if out.outcome == outFailed {
		_, s = s.takePending(in.req)
		return true, s
	}
	switch in.act {
	case actLoad:
		i := s.session(in.token, in.header)
		if i < 0 {
			return !out.found && out.outcome == outOK, s
		}
		r := s.rows[i]
		want := ""
		if r.signed {
			want = userName(in.user)
		}
		if !out.found || out.outcome != outOK || out.userID != want || !slices.Equal(out.values, r.values) {
			return false, s
		}
		if in.flashes && len(r.flashes) > 0 || in.login && r.unbound {
			s.pending = append(slices.Clone(s.pending), snapshot{in.req, r.flashes, r.unbound})
		}
		return true, s

	case actSet, actAddFlash:
		change := func(r row) row {
			if in.act == actSet {
				r.values = setValue(r.values, in.key, in.value)
			} else {
				r.flashes = insertSorted(r.flashes, in.value)
			}
			return r
		}
		if !in.found {
			if in.header {
				return out.outcome == outNotIssued && out.token == 0, s
			}
			if out.outcome != outOK || !s.fresh(out.token) {
				return false, s
			}
			return true, s.added(change(row{token: out.token}))
		}
		i := s.session(in.token, in.header)
		if i < 0 {
			return out.outcome == outInterrupted && out.token == 0, s
		}
		if out.outcome != outOK || out.token != 0 {
			return false, s
		}
		return true, s.with(i, change(s.rows[i]))

	case actTakeFlashes:
		var snap []int
		snap, s = s.takePending(in.req)
		if !in.found || len(snap) == 0 {
			return out.outcome == outOK && len(out.flashes) == 0 && out.token == 0, s
		}
		i := s.session(in.token, in.header)
		if i < 0 {
			return out.outcome == outInterrupted && len(out.flashes) == 0 && out.token == 0, s
		}
		r := s.rows[i]
		var shown, kept []int
		for _, f := range r.flashes {
			if slices.Contains(snap, f) {
				shown = append(shown, f)
			} else {
				kept = append(kept, f)
			}
		}
		if out.outcome != outOK || out.token != 0 || !slices.Equal(out.flashes, shown) {
			return false, s
		}
		r.flashes = kept
		return true, s.with(i, r)

	case actDelete, actClear, actUnbind:
		var snap []int
		snap, s = s.takePending(in.req)
		changes := in.found && (in.act == actDelete && in.had ||
			in.act == actClear && (in.had || len(snap) > 0) || in.act == actUnbind && in.signed)
		if !changes {
			// Nothing to change, so nothing is written: no new session, no
			// interruption.
			return out.outcome == outOK && out.token == 0, s
		}
		i := s.session(in.token, in.header)
		if i < 0 {
			return out.outcome == outInterrupted && out.token == 0, s
		}
		if out.outcome != outOK || out.token != 0 {
			return false, s
		}
		r := s.rows[i]
		switch in.act {
		case actDelete:
			r.values = slices.DeleteFunc(slices.Clone(r.values), func(v kv) bool { return v.key == in.key })
		case actClear:
			// Every value and flash at the commit, also those that came
			// after the load.
			r.values, r.flashes = nil, nil
		case actUnbind:
			r.signed, r.unbound = false, true
		}
		return true, s.with(i, r)

	case actRenew, actLogin:
		var unbound bool
		if in.act == actLogin {
			unbound = s.pendingUnbound(in.req)
			_, s = s.takePending(in.req)
		}
		if !in.found {
			switch {
			case in.act == actLogin || in.header:
				if out.outcome != outOK || !s.fresh(out.token) {
					return false, s
				}
				return true, s.added(row{token: out.token, header: in.header, signed: in.act == actLogin})
			default:
				return out.outcome == outOK && out.token == 0, s
			}
		}
		i := s.session(in.token, in.header)
		if i < 0 {
			return out.outcome == outInterrupted && out.token == 0, s
		}
		if out.outcome != outOK || !s.fresh(out.token) {
			return false, s
		}
		r := s.rows[i]
		r.token, r.retiring = out.token, in.token
		r.signed = r.signed || in.act == actLogin
		if in.act == actLogin {
			if unbound {
				// Bound once and unbound since, when the Login loaded: it
				// starts clean, dropping what is queued at its commit.
				r.values, r.flashes = nil, nil
			}
			r.unbound = false
		}
		return true, s.with(i, r)

	case actExpire:
		if !in.found {
			return out.outcome == outOK && out.token == 0, s
		}
		i := s.session(in.token, in.header)
		if i < 0 {
			return out.outcome == outInterrupted && out.token == 0, s
		}
		if out.outcome != outOK || out.token != 0 {
			return false, s
		}
		r := s.rows[i]
		if !r.signed {
			// Nothing can observe an ended anonymous row: forget it.
			return true, s.without(func(r row) bool { return r.token == in.token })
		}
		r.ended = true
		return true, s.with(i, r)

	case actDestroy:
		if out.outcome != outOK || out.token != 0 {
			return false, s
		}
		return true, s.without(func(r row) bool {
			return in.token != 0 && r.header == in.header && (r.token == in.token || r.retiring == in.token)
		})

	case actRevoke:
		if out.outcome != outOK {
			return false, s
		}
		return true, s.without(func(r row) bool { return r.token == in.token || r.retiring == in.token })

	case actDestroyOthers:
		if !in.found || !in.signed {
			return out.outcome == outNoUser && out.n == 0, s
		}
		i := s.session(in.token, in.header)
		if i < 0 || !s.rows[i].signed {
			return out.outcome == outInterrupted && out.n == 0, s
		}
		live, rows := s.count(i)
		if out.outcome != outOK || out.n < live || out.n > rows {
			return false, s
		}
		me := s.rows[i].token
		return true, s.without(func(r row) bool { return r.signed && r.token != me })

	case actDestroyUser:
		live, rows := s.count(-1)
		if out.outcome != outOK || out.n < live || out.n > rows {
			return false, s
		}
		return true, s.without(func(r row) bool { return r.signed })

	case actSignOutDevice:
		mine := func(r row) bool { return r.signed && (r.token == in.token || r.retiring == in.token) }
		var found int64
		if slices.ContainsFunc(s.rows, mine) {
			found = 1
		}
		if out.outcome != outOK || out.n != found {
			return false, s
		}
		return true, s.without(mine)

	case actCleanup:
		return out.outcome == outOK, s.without(func(r row) bool { return r.ended })

	case actNewSession:
		if out.outcome != outOK || !s.fresh(out.token) {
			return false, s
		}
		return true, s.added(row{token: out.token, header: true, signed: true})

	case actMintToken:
		if !in.found || !in.signed {
			return out.outcome == outNoUser && out.token == 0, s
		}
		// By its current token only: a retiring token's row has moved to
		// another ID, and the INSERT ... SELECT finds nothing under the old.
		i := s.session(in.token, in.header)
		if i < 0 || !s.rows[i].signed {
			return out.outcome == outInterrupted && out.token == 0, s
		}
		if out.outcome != outOK || !s.fresh(out.token) {
			return false, s
		}
		return true, s.added(row{token: out.token, header: true, signed: true})

	case actRetire:
		for i, r := range s.rows {
			if r.retiring == in.token {
				r.retiring = 0
				s = s.with(i, r)
			}
		}
		return true, s
	}
	return false, s
}

// setValue returns values with key set to value, sorted by key.
func setValue(values []kv, key, value int) []kv {
	out := make([]kv, 0, len(values)+1)
	done := false
	for _, v := range values {
		switch {
		case v.key == key:
			continue
		case v.key > key && !done:
			out, done = append(out, kv{key, value}), true
		}
		out = append(out, v)
	}
	if !done {
		out = append(out, kv{key, value})
	}
	return out
}

func insertSorted(xs []int, x int) []int {
	i, _ := slices.BinarySearch(xs, x)
	return slices.Insert(slices.Clone(xs), i, x)
}

func (s table) equal(o table) bool {
	return slices.EqualFunc(s.rows, o.rows, func(a, b row) bool {
		return a.token == b.token && a.retiring == b.retiring && a.signed == b.signed && a.header == b.header &&
			a.ended == b.ended && a.unbound == b.unbound && slices.Equal(a.values, b.values) && slices.Equal(a.flashes, b.flashes)
	}) && slices.EqualFunc(s.pending, o.pending, func(a, b snapshot) bool {
		return a.req == b.req && a.unbound == b.unbound && slices.Equal(a.flashes, b.flashes)
	})
}

func (s table) hash() uint64 {
	h := fnv.New64a()
	var buf [8]byte
	put := func(x int) {
		for i := range buf {
			buf[i] = byte(x >> (8 * i))
		}
		h.Write(buf[:])
	}
	flag := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	for _, r := range s.rows {
		put(r.token)
		put(r.retiring)
		put(flag(r.signed) | flag(r.header)<<1 | flag(r.ended)<<2 | flag(r.unbound)<<3)
		for _, v := range r.values {
			put(v.key)
			put(v.value)
		}
		put(-1)
		for _, f := range r.flashes {
			put(f)
		}
		put(-2)
	}
	for _, p := range s.pending {
		put(p.req)
		put(flag(p.unbound))
		for _, f := range p.flashes {
			put(f)
		}
		put(-3)
	}
	return h.Sum64()
}

// String describes the table for porcupine's visualization and the log.
func (s table) String() string {
	var b strings.Builder
	for i, r := range s.rows {
		if i > 0 {
			b.WriteString("; ")
		}
		kind := "cookie"
		if r.header {
			kind = "header"
		}
		fmt.Fprintf(&b, "%s t%d", kind, r.token)
		if r.retiring != 0 {
			fmt.Fprintf(&b, " (retiring t%d)", r.retiring)
		}
		if r.signed {
			b.WriteString(" signed in")
		}
		if r.ended {
			b.WriteString(" ended")
		}
		b.WriteString(" " + describeValues(r.values))
		if len(r.flashes) > 0 {
			fmt.Fprintf(&b, " flashes %v", r.flashes)
		}
	}
	if len(s.pending) > 0 {
		fmt.Fprintf(&b, "; %d Flashes snapshots in flight", len(s.pending))
	}
	if b.Len() == 0 {
		return "no sessions"
	}
	return b.String()
}

func tokenName(t int) string {
	if t == 0 {
		return "no token"
	}
	return fmt.Sprintf("t%d", t)
}

func keyName(k int) string {
	if k < sharedKeys {
		return fmt.Sprintf("s%d", k)
	}
	return fmt.Sprintf("p%d", k-sharedKeys)
}

func describeValues(values []kv) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = fmt.Sprintf("%s=%d", keyName(v.key), v.value)
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// describe says what an operation asked and saw, in one line.
func describe(in opInput, out opOutput) string {
	var b strings.Builder
	kind := "cookie"
	if in.header {
		kind = "header"
	}
	switch in.act {
	case actDestroyUser, actNewSession:
		fmt.Fprintf(&b, "%s(%s)", in.act, userName(in.user))
	case actRevoke, actSignOutDevice:
		fmt.Fprintf(&b, "%s(%s)", in.act, tokenName(in.token))
	case actCleanup:
		fmt.Fprintf(&b, "%s", in.act)
	default:
		fmt.Fprintf(&b, "#%d %s %s %s", in.req, kind, in.act, tokenName(in.token))
	}
	switch in.act {
	case actSet:
		fmt.Fprintf(&b, " %s=%d", keyName(in.key), in.value)
	case actDelete:
		fmt.Fprintf(&b, " %s", keyName(in.key))
	case actAddFlash:
		fmt.Fprintf(&b, " %d", in.value)
	}
	if in.act != actLoad && in.act != actDestroy && in.act != actRetire && (in.act < actDestroyUser || in.act >= actDelete) {
		switch {
		case in.found && in.signed:
			b.WriteString(" (loaded a signed-in session)")
		case in.found:
			b.WriteString(" (loaded a session)")
		default:
			b.WriteString(" (loaded none)")
		}
	}
	b.WriteString(" -> ")
	switch {
	case in.act == actLoad && out.outcome == outOK && !out.found:
		b.WriteString("no session")
	case in.act == actLoad && out.outcome == outOK:
		fmt.Fprintf(&b, "user %q %s", out.userID, describeValues(out.values))
	default:
		b.WriteString(out.outcome.String())
	}
	if in.act == actTakeFlashes {
		fmt.Fprintf(&b, " %v", out.flashes)
	}
	switch {
	case out.token != 0 && (in.act == actMintToken || in.act == actNewSession):
		fmt.Fprintf(&b, " minted %s", tokenName(out.token))
	case out.token != 0:
		fmt.Fprintf(&b, " new token %s", tokenName(out.token))
	}
	if in.act == actDestroyOthers || in.act == actDestroyUser || in.act == actSignOutDevice {
		fmt.Fprintf(&b, " n=%d", out.n)
	}
	return b.String()
}

// partitionByUser splits a history by user: an operation changes and
// observes only sessions of its own user's clients (DestroyUser and
// DestroyOthers end only that user's sessions; every token belongs to one
// client), so the history is linearizable if and only if each user's is.
func partitionByUser(history []porcupine.Operation) [][]porcupine.Operation {
	index := map[int]int{}
	var parts [][]porcupine.Operation
	for _, op := range history {
		u := op.Input.(opInput).user
		i, ok := index[u]
		if !ok {
			i = len(parts)
			index[u] = i
			parts = append(parts, nil)
		}
		parts[i] = append(parts[i], op)
	}
	return parts
}
