package ginsession

import (
	"context"
	"database/sql"
	"hash/fnv"
	"slices"
	"strconv"
	"strings"
	"time"
)

// stmtID names one of the store's statements. Every statement the store
// runs is written here, once, and runs through the store's runner, so that
// each gets the same treatment: causal reads on a cluster, retries, the
// app's GORM logger and plugins.
type stmtID int

const (
	sLoad stmtID = iota
	// sLoadAny + n-2 looks up n IDs at once (2 to maxCookieCandidates).
	sLoadAny
	sInsert = iota + maxCookieCandidates - 2 // after the sLoadAny variants
	sMoveExpiry
	sSee
	sDelete
	// sUpdate + cols is the UPDATE that writes the optional columns cols
	// (updateID, updateUser, updateExpiry) besides the data: leaving out a
	// column that did not change spares the database an index update.
	sUpdate
	sUserSessions = iota + 9 // after the 8 sUpdate variants
	sDestroyUserSession
	sDestroyUser
	sDestroyOthers
	sDeleteExpired
	sEndRenewal
	sDeleteOfKind
	sTouch
	sLockUser
	sLockUserShared
	sInsertUser
	sAnyExpired
	sMintToken
	sMintTokenUntil
	sSessions          // admin.go
	sUserSessionsAfter // admin.go
	sCountSessions     // admin.go
	sCountByKind       // admin.go
	sInsertAnon
	numStmts
)

// The optional columns of an UPDATE.
const (
	updateID = 1 << iota
	updateUser
	updateExpiry
)

// statements writes every statement for the table, with ? placeholders.
// causal is put before each statement that must see every write the cluster
// committed before it (see causalPrefix); empty on a single server.
func (st *Store) statements(table, causal string) [numStmts]string {
	var q [numStmts]string
	cols := st.loadColumns()
	clientSet := ""
	if st.recordsClient() {
		clientSet = ", user_agent = ?, client_ip = ?"
	}
	seen := "last_seen_at = ?" + clientSet
	q[sLoad] = "SELECT " + cols + " FROM " + table + " WHERE id = ? AND expires_at > ?"
	for n := 2; n <= maxCookieCandidates; n++ {
		marks := strings.Repeat(", ?", n)[2:]
		q[sLoadAny+stmtID(n-2)] = "SELECT id, " + cols + " FROM " + table + " WHERE id IN (" + marks + ") AND expires_at > ?"
	}
	q[sInsert] = "INSERT INTO " + table + " (id, data, user_id, expires_at, created_at, updated_at, last_seen_at, user_agent, client_ip, version, signed_in_at, idle_timeout, deadline, flags) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
	// Most new sessions are anonymous, with their client, policy and
	// sign-in columns at the table's defaults: their INSERT leaves those to
	// the table and sends seven values, not fourteen. On MariaDB that took
	// the INSERT from 1.28x a three-value one's time to 1.15x; on
	// PostgreSQL the difference is within the noise (BenchmarkInsertColumns).
	q[sInsertAnon] = "INSERT INTO " + table + " (id, data, user_id, expires_at, created_at, updated_at, last_seen_at, version) VALUES (?, ?, '', ?, ?, ?, ?, ?)"
	// The version guard keeps a read that saw an older policy (RememberMe,
	// SetDeadline, a sign-in) from moving the expiry by that policy after a
	// concurrent save changed it.
	q[sMoveExpiry] = "UPDATE " + table + " SET expires_at = ?, " + seen + " WHERE id = ? AND version = ? AND expires_at > ? AND expires_at < ?"
	q[sSee] = "UPDATE " + table + " SET " + seen + " WHERE id = ? AND expires_at > ? AND (last_seen_at IS NULL OR last_seen_at < ?)"
	// A session renewed by a request that is still running has moved to a
	// new ID that the logout's cookie does not name: renewed_from finds it,
	// for at most renewalGrace after the renewal itself (renewed_at: later
	// saves do not move it).
	//
	// renewed_from <> '' repeats the condition of renewed_from's partial
	// index: SQLite uses a partial index only for a query that says so (and
	// PostgreSQL's generic plans likewise), else each logout reads the
	// whole table.
	renewed := "(renewed_from = ? AND renewed_from <> '' AND renewed_at > ?)"
	q[sDelete] = "DELETE FROM " + table + " WHERE id = ? OR " + renewed
	// A request's own Destroy deletes only a session of the kind it came
	// in (cookie or header), as a read finds only that kind.
	q[sDeleteOfKind] = "DELETE FROM " + table + " WHERE (id = ? OR " + renewed + ") AND (flags & " +
		strconv.Itoa(flagHeader) + ") = ?"
	for cols := range 8 {
		u := "UPDATE " + table + " SET data = ?, updated_at = ?, version = ?, last_seen_at = ?" + clientSet
		if cols&updateID != 0 {
			u += ", id = ?, renewed_from = ?, renewed_at = ?"
		}
		if cols&updateUser != 0 {
			u += ", user_id = ?, signed_in_at = ?"
		}
		if cols&updateExpiry != 0 {
			u += ", expires_at = ?, idle_timeout = ?, deadline = ?, flags = ?"
		}
		q[sUpdate+stmtID(cols)] = u + " WHERE id = ? AND version = ? AND expires_at > ?"
	}
	// PostgreSQL plans a prepared statement anew on each run while it
	// expects that plan to cost less than its generic one, and a statement
	// that looks a user's rows up by the user's name lets it: on a table
	// whose users have many sessions each, the estimate for a user outside
	// the most common few (a new one, a revoked one) is far below the
	// generic plan's average, so each run paid the planning (some 50 µs,
	// half of UserSessions at ten million rows) for the same index scan.
	// Passed through an InitPlan, (SELECT ?), the name is hidden from the
	// planner, the custom plan no longer looks cheaper on its account, and
	// the generic one, planned once per connection, is kept (integration's
	// TestUserPlans).
	user := "?"
	if st.db.Dialector.Name() == "postgres" {
		user = "(SELECT ?)"
	}
	q[sUserSessions] = "SELECT " + infoColumns + " FROM " + table +
		" WHERE user_id = " + user + " AND user_id <> '' AND expires_at > ? ORDER BY created_at DESC LIMIT " + strconv.Itoa(MaxUserSessions)
	// Like sDelete, it takes the row a renewal still in flight moved the
	// session to: a device signed out while it signs in again stays out.
	q[sDestroyUserSession] = "DELETE FROM " + table + " WHERE (id = ? OR " + renewed + ") AND user_id = ? AND user_id <> ''"
	q[sDestroyUser] = "DELETE FROM " + table + " WHERE user_id = " + user + " AND user_id <> ''"
	// Only for a session still live and still the user's: a stale tab's
	// (renewed meanwhile) or a revoked thief's would sign the user out.
	self := "SELECT 1 FROM " + table + " AS me WHERE me.id = ? AND me.user_id = ? AND me.expires_at > ?"
	if st.db.Dialector.Name() == "mysql" {
		// MySQL refuses a subquery on the table a DELETE changes unless it
		// is wrapped in a derived table.
		self = "SELECT 1 FROM (SELECT id FROM " + table + " WHERE id = ? AND user_id = ? AND expires_at > ?) AS me"
	}
	q[sDestroyOthers] = "DELETE FROM " + table + " WHERE user_id = ? AND user_id <> '' AND id <> ? AND EXISTS (" + self + ")"
	if st.db.Dialector.Name() == "postgres" {
		// At READ COMMITTED each of two sessions signing each other out at
		// once would find itself live in its own snapshot, and both would
		// go. Locking the user's live rows first, in one order, makes the
		// second wait for the first and then find itself gone.
		q[sDestroyOthers] = "DELETE FROM " + table + " WHERE user_id = " + user + " AND user_id <> '' AND id <> ? AND ? IN (SELECT id FROM " + table +
			" WHERE user_id = " + user + " AND user_id <> '' AND expires_at > ? ORDER BY id FOR UPDATE)"
	}
	q[sEndRenewal] = "UPDATE " + table + " SET renewed_from = '', renewed_at = NULL WHERE id = ?"
	// sTouch writes a signed-in row's updated_at and nothing else, on MySQL
	// and MariaDB only. A mint writes the row it copies first, in the mint's
	// transaction, and so does DestroyOthers with its own row: on a Galera
	// cluster, where a node's row locks do not reach the others, a mint and
	// a revocation then conflict in certification on that row, and the
	// loser runs again. The new updated_at must differ from the stored one
	// (the second argument is the first plus a microsecond): MySQL writes,
	// and Galera certifies, only a row whose values change.
	if st.db.Dialector.Name() == "mysql" {
		q[sTouch] = "UPDATE " + table + " SET updated_at = CASE WHEN updated_at = ? THEN ? ELSE ? END" +
			" WHERE id = ? AND user_id = ? AND user_id <> '' AND expires_at > ?"
	}
	// sLockUser and sLockUserShared take a lock on one user of this table,
	// on PostgreSQL only, held until the transaction ends: a revocation of
	// the user's sessions takes it alone, and a write that binds a row to
	// the user (a sign-in, a new signed-in session, a minted token) shares
	// it, so that each binding lands before or after a revocation, never
	// amid one (see Store.forUser). The first key names the table, so that
	// other tables' and other programs' locks on the same user do not wait
	// on these; two users whose keys collide only wait for each other.
	//
	// A sign-in takes the shared lock in its own statement (sInsertUser,
	// the sUpdate variants that write the user; the user is the argument
	// before the WHERE clause's, or the last): it only writes, so what it
	// sees (the statement began before the lock was granted) does not
	// matter, only that it commits after a revocation that held the lock,
	// or before one that waits for it. That spares it a transaction.
	if st.db.Dialector.Name() == "postgres" {
		key := strconv.Itoa(int(tableKey(table)))
		shared := "SELECT pg_advisory_xact_lock_shared(" + key + ", hashtext(?))"
		q[sLockUser] = "SELECT pg_advisory_xact_lock(" + key + ", hashtext(?))"
		q[sLockUserShared] = shared
		values := strings.Index(q[sInsert], " VALUES (")
		q[sInsertUser] = q[sInsert][:values] + " SELECT " + strings.TrimSuffix(q[sInsert][values+len(" VALUES ("):], ")") +
			" FROM (" + shared + ") AS l"
		// In FROM, where PostgreSQL keeps a volatile call (an EXISTS
		// subquery's select list it drops unevaluated).
		for cols := range 8 {
			if cols&updateUser != 0 {
				u := q[sUpdate+stmtID(cols)]
				where := strings.Index(u, " WHERE id = ? AND version = ?")
				q[sUpdate+stmtID(cols)] = u[:where] + " FROM (" + shared + ") AS l" + u[where:]
			}
		}
	}
	// A token minted from a sign-in is a new header row that copies the
	// sign-in (user, time, deadline) from the row in the same statement, so
	// that a sign-in revoked a moment before mints nothing.
	// Its expiry and deadline are capped by the row's deadline;
	// sMintTokenUntil caps the deadline by one more, the minting request's.
	mint := func(deadline string) string {
		return "INSERT INTO " + table + " (id, data, user_id, expires_at, created_at, updated_at, last_seen_at, user_agent, client_ip, version, signed_in_at, idle_timeout, deadline, flags)" +
			" SELECT ?, ?, user_id, CASE WHEN deadline IS NOT NULL AND deadline < ? THEN deadline ELSE ? END, ?, ?, ?, ?, ?, 1, COALESCE(signed_in_at, created_at), 0, " +
			deadline + ", " + strconv.Itoa(flagHeader) +
			" FROM " + table + " WHERE id = ? AND user_id = ? AND user_id <> '' AND expires_at > ?"
	}
	q[sMintToken] = mint("deadline")
	q[sMintTokenUntil] = mint("CASE WHEN deadline IS NOT NULL AND deadline < ? THEN deadline ELSE ? END")
	adminStatements(&q, table)
	// A batch walks the expires_at index from its oldest end: ORDER BY makes
	// that the cheapest plan whatever the planner thinks of the rest, where a
	// bare LIMIT lets PostgreSQL pick a sequential scan that it expects to
	// stop early (and that, batch after batch, rereads the dead rows the
	// batches before it left). With nothing expired it is one index probe.
	// The second bound is where the walk starts: see Store.Cleanup.
	limit := strconv.Itoa(st.cleanupBatch())
	batch := "SELECT id FROM " + table + " WHERE expires_at <= ? AND expires_at >= ? ORDER BY expires_at LIMIT " + limit
	switch st.db.Dialector.Name() {
	case "mysql":
		// MySQL refuses LIMIT inside an IN subquery but allows it on DELETE.
		q[sDeleteExpired] = "DELETE FROM " + table + " WHERE expires_at <= ? AND expires_at >= ? ORDER BY expires_at LIMIT " + limit
	case "postgres":
		// As an array, the batch's IDs are one value that the primary key
		// is probed with: an IN subquery is a join, which on a table of
		// some ten thousand rows PostgreSQL makes by reading all of them.
		// The batch locks its rows as it picks them: a row whose expiry a
		// request moved meanwhile (an instance whose clock lags) is
		// checked again and left alone, where the DELETE by ID alone would
		// take it; and several instances cleaning up at once take
		// different batches (SKIP LOCKED) instead of the same one. It
		// answers how many it deleted and the latest expiry among them,
		// where the next batch starts.
		q[sDeleteExpired] = "WITH d AS (DELETE FROM " + table + " WHERE id = ANY (ARRAY(" + batch + " FOR UPDATE SKIP LOCKED)) RETURNING expires_at)" +
			" SELECT count(*), max(expires_at) FROM d"
		// A batch here is a transaction of its own, three round trips:
		// a cleanup first asks the expiry index whether there is anything
		// to delete, and most find nothing. It reads the row's id, which
		// the index lacks: an index-only scan would check the table for
		// each entry of a row the last cleanup deleted (until VACUUM), 20
		// ms after a hundred thousand, on every probe, where an index scan
		// marks such entries dead on its first pass and skips them after.
		q[sAnyExpired] = "SELECT id FROM " + table + " WHERE expires_at <= ? ORDER BY expires_at LIMIT 1"
	default:
		q[sDeleteExpired] = "DELETE FROM " + table + " WHERE id IN (" + batch + ")"
	}
	for i := range q {
		if q[i] != "" && !slices.Contains([]stmtID{sInsert, sInsertAnon, sInsertUser, sMintToken, sMintTokenUntil}, stmtID(i)) { // a new random ID cannot be behind anything
			q[i] = causal + q[i]
		}
	}
	// The INSERT of a minted token reads the row it copies, which must be
	// the cluster's latest: Galera's wait for INSERTs too.
	causalInsert := strings.Replace(causal, strconv.Itoa(galeraSyncWait), strconv.Itoa(galeraSyncWait|galeraSyncInsert), 1)
	q[sMintToken] = causalInsert + q[sMintToken]
	q[sMintTokenUntil] = causalInsert + q[sMintTokenUntil]
	return q
}

// tableKey is the first key of sLockUser's locks: a hash of the table's
// (quoted) name, as a PostgreSQL integer.
func tableKey(table string) int32 {
	h := fnv.New32a()
	h.Write([]byte(table))
	return int32(h.Sum32())
}

// loadColumns are the columns a request reads: the creation and sign-in
// times only when an absolute lifetime needs them, the last-seen time only
// when reads keep it current. Each time column costs a parse per request.
func (st *Store) loadColumns() string {
	cols := "data, user_id, expires_at, version, flags, idle_timeout, deadline"
	if st.cfg.lifetime > 0 {
		cols += ", created_at, signed_in_at"
	}
	if st.cfg.lastSeen > 0 {
		cols += ", last_seen_at"
	}
	return cols
}

func (st *Store) recordsClient() bool { return st.cfg.userAgent || st.cfg.clientIP }

// withClient appends the client's values to args, if recorded.
func (st *Store) withClient(args []any, c clientInfo) []any {
	if !st.recordsClient() {
		return args
	}
	return append(args, c.userAgent, c.ip)
}

// row is a session row as the request path reads it.
type row struct {
	id       string
	data     []byte
	userID   string
	expires  time.Time
	start    time.Time // sign-in, else creation; only with a lifetime
	lastSeen time.Time
	version  int64
	pol      policy
	// Scan targets, kept in the row (already on the heap) rather than in
	// locals that would each escape to it.
	scanLastSeen, scanDeadline, scanSignedIn sql.NullTime
	scanIdle                                 int64
	scanDest                                 [11]any
}

// client is what a save records of the browser, when the store records it.
type clientInfo struct{ userAgent, ip string }

// scanRow reads one row of sLoad (or, withID, of sLoadAny) into r.
func (st *Store) scanRow(rows *sql.Rows, r *row, withID bool) error {
	dest := r.scanDest[:0]
	if withID {
		dest = append(dest, &r.id)
	}
	dest = append(dest, &r.data, &r.userID, &r.expires, &r.version, &r.pol.flags, &r.scanIdle, &r.scanDeadline)
	if st.cfg.lifetime > 0 {
		dest = append(dest, &r.start, &r.scanSignedIn)
	}
	if st.cfg.lastSeen > 0 {
		dest = append(dest, &r.scanLastSeen)
	}
	if err := rows.Scan(dest...); err != nil {
		return err
	}
	r.lastSeen = r.scanLastSeen.Time
	r.pol.idle = time.Duration(r.scanIdle) * time.Second
	if r.scanDeadline.Valid {
		r.pol.deadline = r.scanDeadline.Time.UTC()
	}
	if r.scanSignedIn.Valid {
		r.start = r.scanSignedIn.Time
	}
	return nil
}

// load reads the live row id. found is false when there is none or it has
// expired.
func (st *Store) load(ctx context.Context, id string, now time.Time) (row, bool, error) {
	b := new(loadBuf)
	found, err := st.loadInto(ctx, b, id, now)
	if err != nil || !found {
		return row{}, false, err
	}
	return b.row, true, nil
}

// A loadBuf is what reading a row needs on the heap: the row, whose fields
// are the scan targets, and the statement's arguments. A request keeps one
// in its session's state, so that its read allocates neither.
type loadBuf struct {
	row  row
	args [2]any
}

// loadInto is load into b.row, which holds the row only when found.
func (st *Store) loadInto(ctx context.Context, b *loadBuf, id string, now time.Time) (found bool, err error) {
	b.args = [2]any{id, now}
	err = st.run.query(ctx, sLoad, b.args[:], func(rows *sql.Rows) (int64, error) {
		b.row, found = row{id: id}, false
		if !rows.Next() {
			return 0, nil
		}
		if err := st.scanRow(rows, &b.row, false); err != nil {
			return 1, err
		}
		found = st.live(&b.row, now)
		return 1, nil
	})
	return found && err == nil, err
}

// live reports whether r's absolute deadline is still ahead: its expiry
// never passes it, but a store whose WithLifetime was shortened since the
// row was written must not honour the old one.
func (st *Store) live(r *row, now time.Time) bool {
	d := st.deadline(r.start, r.pol)
	return d.IsZero() || now.Before(d)
}

// loadAny looks up several IDs in one query, for a request that brought
// several cookies of the session's name, and returns the first live one of
// the kind asked for (header or cookie) in the order of ids: a token of the
// other kind planted among them must not hide the real one.
func (st *Store) loadAny(ctx context.Context, ids []string, now time.Time, header bool) (row, bool, error) {
	args := make([]any, 0, len(ids)+1)
	for _, id := range ids {
		args = append(args, id)
	}
	var found []row
	err := st.run.query(ctx, sLoadAny+stmtID(len(ids)-2), append(args, now), func(rows *sql.Rows) (int64, error) {
		found = found[:0]
		for rows.Next() {
			var r row
			if err := st.scanRow(rows, &r, true); err != nil {
				return int64(len(found)), err
			}
			if st.live(&r, now) && (r.pol.flags&flagHeader != 0) == header {
				found = append(found, r)
			}
		}
		return int64(len(found)), nil
	})
	if err != nil {
		return row{}, false, err
	}
	for _, id := range ids {
		if i := slices.IndexFunc(found, func(r row) bool { return r.id == id }); i >= 0 {
			return found[i], true, nil
		}
	}
	return row{}, false, nil
}

func (st *Store) insert(ctx context.Context, m *Model) error {
	t := newTimeArgs(m.CreatedAt)
	// Every column sInsertAnon leaves to the table must be at its default
	// here: a column that INSERT comes to leave out must join this test.
	if m.UserID == "" && m.UserAgent == "" && m.ClientIP == "" && !m.SignedInAt.Valid && m.IdleTimeout == 0 && !m.Deadline.Valid && m.Flags == 0 {
		_, err := st.run.exec(ctx, sInsertAnon, m.ID, m.Data, t.of(m.ExpiresAt), t.now, t.of(m.UpdatedAt), t.null(m.LastSeenAt), m.Version)
		return err
	}
	args := []any{m.ID, m.Data, m.UserID, t.of(m.ExpiresAt), t.now, t.of(m.UpdatedAt),
		t.null(m.LastSeenAt), m.UserAgent, m.ClientIP, m.Version, t.null(m.SignedInAt), m.IdleTimeout, t.null(m.Deadline), m.Flags}
	var stmt stmtID = sInsert
	if m.UserID != "" && st.db.Dialector.Name() == "postgres" {
		stmt = sInsertUser // takes the user's lock: see statements
		args = append(args, m.UserID)
	}
	_, err := st.run.exec(ctx, stmt, args...)
	return err
}

// timeArgs passes a statement's times as arguments. Each time boxed into an
// argument is an allocation of its own, and a save writes the same time
// (its now) into several columns: that one is boxed once and shared. A
// valid sql.NullTime goes as its time and an invalid one as nil, which is
// what its Value gives the driver, without boxing the NullTime first.
type timeArgs struct {
	t   time.Time
	now any // t, boxed
}

func newTimeArgs(now time.Time) timeArgs { return timeArgs{t: now, now: now} }

func (a timeArgs) of(t time.Time) any {
	if t == a.t { // the same instant, location and monotonic reading
		return a.now
	}
	return t
}

func (a timeArgs) null(t sql.NullTime) any {
	if !t.Valid {
		return nil
	}
	return a.of(t.Time)
}

// update writes m over the live row with ID from, if that row is still at
// version m.Version-1. Of the ID, the user and the expiry it writes only
// those that cols names. It reports false when another request got there
// first.
func (st *Store) update(ctx context.Context, from string, m *Model, cols int, now time.Time) (bool, error) {
	t := newTimeArgs(now)
	args := make([]any, 0, 19)
	args = append(args, m.Data, t.of(m.UpdatedAt), m.Version, t.null(m.LastSeenAt))
	args = st.withClient(args, clientInfo{m.UserAgent, m.ClientIP})
	if cols&updateID != 0 {
		args = append(args, m.ID, m.RenewedFrom, t.null(m.RenewedAt))
	}
	if cols&updateUser != 0 {
		args = append(args, m.UserID, t.null(m.SignedInAt))
	}
	if cols&updateExpiry != 0 {
		args = append(args, t.of(m.ExpiresAt), m.IdleTimeout, t.null(m.Deadline), m.Flags)
	}
	if cols&updateUser != 0 && st.db.Dialector.Name() == "postgres" {
		args = append(args, m.UserID) // the user's lock: see statements
	}
	args = append(args, from, m.Version-1, t.now)
	n, err := st.run.exec(ctx, sUpdate+stmtID(cols), args...)
	return n == 1, err
}

// moveExpiry moves a live row's expiry forward, and its last-seen time
// with it, without changing its data or version, if the row is still at
// version: a concurrent save may have changed how the session expires, and
// that save moved the expiry itself. It reports whether the row moved.
func (st *Store) moveExpiry(ctx context.Context, id string, version int64, expires, now time.Time, c clientInfo) (bool, error) {
	args := st.withClient([]any{expires, now}, c)
	n, err := st.run.exec(ctx, sMoveExpiry, append(args, id, version, now, expires)...)
	return n == 1, err
}

// see moves a live row's last-seen time to now, unless another request
// moved it past staleBefore meanwhile.
func (st *Store) see(ctx context.Context, id string, now, staleBefore time.Time, c clientInfo) error {
	args := st.withClient([]any{now}, c)
	_, err := st.run.exec(ctx, sSee, append(args, id, now, staleBefore)...)
	return err
}

// delete deletes the session id, and the one it was renewed into within
// the last renewalGrace by a request that is still running.
func (st *Store) delete(ctx context.Context, id string) (int64, error) {
	return st.run.exec(ctx, sDelete, id, id, st.cfg.now().UTC().Add(-renewalGrace))
}

// deleteOfKind is delete for a session of one kind: header or cookie.
func (st *Store) deleteOfKind(ctx context.Context, id string, header bool) (int64, error) {
	kind := 0
	if header {
		kind = flagHeader
	}
	return st.run.exec(ctx, sDeleteOfKind, id, id, st.cfg.now().UTC().Add(-renewalGrace), kind)
}

// endRenewal forgets the ID a session was renewed from, once the renewing
// request is over: from then on the old ID is dead for everything.
func (st *Store) endRenewal(ctx context.Context, id string) error {
	_, err := st.run.exec(ctx, sEndRenewal, id)
	return err
}

// renewalGrace bounds how long after a renewal the old ID can still destroy
// the session, should endRenewal never run (a crash, a failed write). It
// counts from the renewal (renewed_at), which no later save moves.
const renewalGrace = 2 * time.Minute

// The statement IDs must leave room for their variants.
var _ = [1]int{}[sInsert-sLoadAny-(maxCookieCandidates-1)]
var _ = [1]int{}[sUserSessions-sUpdate-8]
