package ginsession

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
)

// The statements of the request path run prepared on the *gorm.DB's own
// connection pool, without GORM's statement builder: it costs more per
// request than the queries themselves. Migration, cleanup and the rare
// lookups stay with GORM.
type statements struct {
	load, insert, moveExpiry, see, delete *sql.Stmt
	// updates holds one UPDATE for each set of optional columns (updateID,
	// updateUser, updateExpiry), prepared on first use: leaving out a column
	// that did not change spares the database an index update.
	updates [8]lazyStmt
	pool    *sql.DB
	table   string
	bind    func(query string) string
	client  bool // the store records user agents or addresses
}

// clientSet is the SET clause's part for the client columns, if recorded.
func (s *statements) clientSet() string {
	if !s.client {
		return ""
	}
	return ", user_agent = ?, client_ip = ?"
}

// withClient appends the client's values to args, if recorded.
func (s *statements) withClient(args []any, c clientInfo) []any {
	if !s.client {
		return args
	}
	return append(args, c.userAgent, c.ip)
}

// lazyStmt is prepared on first use; a failed prepare is tried again next
// time rather than remembered, so a passing outage breaks nothing for good.
type lazyStmt struct {
	mu   sync.Mutex
	stmt atomic.Pointer[sql.Stmt]
}

// The optional columns of an UPDATE.
const (
	updateID = 1 << iota
	updateUser
	updateExpiry
)

// row is a session row as the request path reads it.
type row struct {
	id       string
	data     []byte
	userID   string
	expires  time.Time
	created  time.Time
	lastSeen time.Time
	version  int64
}

// client is what a save records of the browser, when the store records it.
type clientInfo struct{ userAgent, ip string }

func (st *Store) prepare() error {
	pool, err := st.db.DB()
	if err != nil {
		return fmt.Errorf("ginsession: the *gorm.DB has no database/sql pool to prepare statements on: %w", err)
	}
	var b strings.Builder
	st.db.Dialector.QuoteTo(&b, st.cfg.tableName)
	table := b.String()
	st.stmts.pool, st.stmts.table = pool, table
	st.stmts.client = st.cfg.userAgent || st.cfg.clientIP
	seen := "last_seen_at = ?" + st.stmts.clientSet()
	queries := []struct {
		dst *(*sql.Stmt)
		sql string
	}{
		{&st.stmts.load, "SELECT " + st.loadColumns() + " FROM " + table + " WHERE id = ? AND expires_at > ?"},
		{&st.stmts.insert, "INSERT INTO " + table + " (id, data, user_id, expires_at, created_at, updated_at, last_seen_at, user_agent, client_ip, version) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"},
		{&st.stmts.moveExpiry, "UPDATE " + table + " SET expires_at = ?, " + seen + " WHERE id = ? AND expires_at > ? AND expires_at < ?"},
		{&st.stmts.see, "UPDATE " + table + " SET " + seen + " WHERE id = ? AND expires_at > ? AND (last_seen_at IS NULL OR last_seen_at < ?)"},
		{&st.stmts.delete, "DELETE FROM " + table + " WHERE id = ?"},
	}
	st.stmts.bind = func(q string) string { return bindVars(st.db, q) }
	for _, q := range queries {
		if *q.dst, err = pool.Prepare(st.stmts.bind(q.sql)); err != nil {
			return fmt.Errorf("ginsession: prepare %q: %w", q.sql, err)
		}
	}
	return nil
}

// loadColumns are the columns a request reads: the creation time only when
// an absolute lifetime needs it, the last-seen time only when reads keep it
// current. Each time column costs a parse per request.
func (st *Store) loadColumns() string {
	cols := "data, user_id, expires_at, version"
	if st.cfg.lifetime > 0 {
		cols += ", created_at"
	}
	if st.cfg.lastSeen > 0 {
		cols += ", last_seen_at"
	}
	return cols
}

// bindVars rewrites ? placeholders as the dialect wants them ($1 for
// PostgreSQL, @p1 for SQL Server, ...).
func bindVars(db *gorm.DB, query string) string {
	var b strings.Builder
	stmt := &gorm.Statement{DB: db}
	for _, r := range query {
		if r == '?' {
			stmt.Vars = append(stmt.Vars, nil)
			db.Dialector.BindVarTo(&b, stmt, nil)
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

// load reads the live row id. found is false when there is none or it has
// expired.
func (st *Store) load(ctx context.Context, id string, now time.Time) (r row, found bool, err error) {
	rows, err := st.stmts.load.QueryContext(ctx, id, now)
	if err != nil {
		return row{}, false, err
	}
	defer rows.Close()
	if !rows.Next() {
		return row{}, false, rows.Err()
	}
	r.id = id
	var lastSeen sql.NullTime
	dest := append(make([]any, 0, 6), &r.data, &r.userID, &r.expires, &r.version)
	if st.cfg.lifetime > 0 {
		dest = append(dest, &r.created)
	}
	if st.cfg.lastSeen > 0 {
		dest = append(dest, &lastSeen)
	}
	if err := rows.Scan(dest...); err != nil {
		return row{}, false, err
	}
	r.lastSeen = lastSeen.Time
	return r, true, rows.Close()
}

// loadAny looks up several IDs in one query, for a request that brought
// several cookies of the session's name, and returns the first live one in
// the order of ids.
func (st *Store) loadAny(ctx context.Context, ids []string, now time.Time) (row, bool, error) {
	var ms []Model
	if err := st.table(ctx).Where("id IN ? AND expires_at > ?", ids, now).Find(&ms).Error; err != nil {
		return row{}, false, err
	}
	for _, id := range ids {
		if i := slices.IndexFunc(ms, func(m Model) bool { return m.ID == id }); i >= 0 {
			m := ms[i]
			return row{id: m.ID, data: []byte(m.Data), userID: m.UserID, expires: m.ExpiresAt,
				created: m.CreatedAt, lastSeen: m.LastSeenAt.Time, version: m.Version}, true, nil
		}
	}
	return row{}, false, nil
}

func (st *Store) insert(ctx context.Context, m *Model) error {
	_, err := st.stmts.insert.ExecContext(ctx, m.ID, m.Data, m.UserID, m.ExpiresAt, m.CreatedAt, m.UpdatedAt,
		m.LastSeenAt, m.UserAgent, m.ClientIP, m.Version)
	return err
}

// update writes m over the live row with ID from, if that row is still at
// version m.Version-1. Of the ID, the user and the expiry it writes only
// those that cols names. It reports false when another request got there
// first.
func (st *Store) update(ctx context.Context, from string, m *Model, cols int, now time.Time) (bool, error) {
	stmt, err := st.stmts.updateStmt(ctx, cols)
	if err != nil {
		return false, err
	}
	args := make([]any, 0, 12)
	args = append(args, m.Data, m.UpdatedAt, m.Version, m.LastSeenAt)
	args = st.stmts.withClient(args, clientInfo{m.UserAgent, m.ClientIP})
	if cols&updateID != 0 {
		args = append(args, m.ID)
	}
	if cols&updateUser != 0 {
		args = append(args, m.UserID)
	}
	if cols&updateExpiry != 0 {
		args = append(args, m.ExpiresAt)
	}
	args = append(args, from, m.Version-1, now)
	return oneRow(stmt.ExecContext(ctx, args...))
}

func (s *statements) updateStmt(ctx context.Context, cols int) (*sql.Stmt, error) {
	l := &s.updates[cols]
	if stmt := l.stmt.Load(); stmt != nil {
		return stmt, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if stmt := l.stmt.Load(); stmt != nil {
		return stmt, nil
	}
	q := "UPDATE " + s.table + " SET data = ?, updated_at = ?, version = ?, last_seen_at = ?" + s.clientSet()
	if cols&updateID != 0 {
		q += ", id = ?"
	}
	if cols&updateUser != 0 {
		q += ", user_id = ?"
	}
	if cols&updateExpiry != 0 {
		q += ", expires_at = ?"
	}
	q += " WHERE id = ? AND version = ? AND expires_at > ?"
	stmt, err := s.pool.PrepareContext(ctx, s.bind(q))
	if err != nil {
		return nil, fmt.Errorf("prepare %q: %w", q, err)
	}
	l.stmt.Store(stmt)
	return stmt, nil
}

// moveExpiry moves a live row's expiry forward, and its last-seen time
// with it, without changing its data or version, so it never conflicts with
// a concurrent save. It reports whether the row was there to move.
func (st *Store) moveExpiry(ctx context.Context, id string, expires, now time.Time, c clientInfo) (bool, error) {
	args := st.stmts.withClient([]any{expires, now}, c)
	return oneRow(st.stmts.moveExpiry.ExecContext(ctx, append(args, id, now, expires)...))
}

// see moves a live row's last-seen time to now, unless another request
// moved it past staleBefore meanwhile.
func (st *Store) see(ctx context.Context, id string, now, staleBefore time.Time, c clientInfo) error {
	args := st.stmts.withClient([]any{now}, c)
	_, err := st.stmts.see.ExecContext(ctx, append(args, id, now, staleBefore)...)
	return err
}

func (st *Store) delete(ctx context.Context, id string) error {
	_, err := st.stmts.delete.ExecContext(ctx, id)
	return err
}

func oneRow(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}
