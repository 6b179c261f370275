package ginsession

import (
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"iter"
	"strconv"
	"time"
)

// DefaultSessionPageSize is how many sessions Store.Sessions reads per
// statement when SessionQuery.PageSize is 0: 100.
const DefaultSessionPageSize = 100

// MaxSessionPageSize bounds SessionQuery.PageSize (1000): a page is read
// whole, into memory, before its first session is yielded.
const MaxSessionPageSize = 1000

// ErrInvalidQuery means a SessionQuery cannot be run as given: an unknown
// kind, a time range whose start is not before its end, a page size out of
// range, or a cursor that SessionInfo.Cursor did not make. The wrapping
// error says which. Nothing is read.
var ErrInvalidQuery = errors.New("ginsession: invalid session query")

// SessionKind chooses sessions by how they travel and whom they belong to,
// for SessionQuery.Kind. A session has one kind of each axis: signed in or
// anonymous, and a cookie of one kind or an API token.
type SessionKind int

// The kinds a SessionQuery can ask for.
const (
	// AnyKind is the zero value: no filter.
	AnyKind SessionKind = iota
	// KindAnonymous is a session bound to no user.
	KindAnonymous
	// KindSignedIn is a session bound to a user (Login, SetUserID).
	KindSignedIn
	// KindRemembered is a cookie session made with RememberMe(true).
	KindRemembered
	// KindBrowser is a cookie session made with RememberMe(false).
	KindBrowser
	// KindPlainCookie is a cookie session on which RememberMe was never
	// called: it slides over WithIdleTimeout.
	KindPlainCookie
	// KindAPIToken is a header session (IssueToken, MintToken, a Header
	// Seed).
	KindAPIToken
	numKinds
)

// SessionQuery chooses the sessions Store.Sessions lists. A zero field
// filters nothing; the filters that are set must all hold. Only live
// sessions (expiry ahead) are ever listed.
type SessionQuery struct {
	// UserID keeps the sessions bound to this user; "" keeps every session.
	UserID string
	// Kind keeps sessions of one kind; AnyKind (0) keeps all.
	Kind SessionKind
	// SignedInAfter and SignedInBefore keep signed-in sessions whose last
	// sign-in (SessionInfo.SignedInAt) is strictly after, strictly before
	// the time. Either set leaves out anonymous sessions.
	SignedInAfter, SignedInBefore time.Time
	// LastSeenAfter and LastSeenBefore keep sessions last used
	// (SessionInfo.LastSeen, to within WithLastSeenInterval) strictly after,
	// strictly before the time.
	LastSeenAfter, LastSeenBefore time.Time
	// After resumes a listing after the session whose Cursor it is: the
	// sessions that follow it in the listing's order, as they are now.
	// "" starts from the first.
	After string
	// PageSize is how many sessions each statement returns, 1 to
	// MaxSessionPageSize; 0 means DefaultSessionPageSize. It bounds what
	// one statement returns, not how many sessions the listing yields:
	// the listing reads page after page until the caller stops.
	PageSize int
}

// Sessions lists the live sessions of every user (or, with UserID, of one)
// that q keeps, for an admin page or an export, as Iterate does in other
// session libraries. It yields them in the order of their handles, which
// means nothing to a reader but is the table's primary key: each page is a
// range of that index (of the user's index with UserID) that starts where
// the last one ended, never an offset. Stop early, and pass the last
// session's Cursor as After to show the next page.
//
// Sessions created, destroyed or renewed while the listing runs may or may
// not be listed; every other session that stays live and kept by q is
// listed exactly once. A renewed session (RenewID, Login) has a new handle
// and counts as destroyed and created.
//
// The filters other than UserID are checked on each row the page reads:
// with none of them, a page reads PageSize rows; with a filter that few
// sessions pass, a page reads on until it has PageSize of them or reaches
// the end of the table. A query the store cannot run (ErrInvalidQuery) or a
// database error is yielded once, with a zero SessionInfo, and ends the
// listing; database errors wrap ErrLoad.
func (st *Store) Sessions(ctx context.Context, q SessionQuery) iter.Seq2[SessionInfo, error] {
	return func(yield func(SessionInfo, error) bool) {
		filters, after, err := q.args()
		if err != nil {
			yield(SessionInfo{}, err)
			return
		}
		id, limit := stmtID(sSessions), q.PageSize
		if limit == 0 {
			limit = DefaultSessionPageSize
		}
		if q.UserID != "" {
			id = sUserSessionsAfter
		}
		var page []SessionInfo
		for {
			args := make([]any, 0, len(filters)+4)
			if q.UserID != "" {
				args = append(args, q.UserID)
			}
			args = append(args, after, st.cfg.now().UTC())
			args = append(append(args, filters...), int64(limit))
			err := st.run.query(ctx, id, args, func(rows *sql.Rows) (int64, error) {
				page = page[:0]
				return scanInfos(rows, &page)
			})
			if err != nil {
				yield(SessionInfo{}, fmt.Errorf("%w: list sessions: %w", ErrLoad, err))
				return
			}
			for _, info := range page {
				if !yield(info, nil) {
					return
				}
			}
			if len(page) < limit {
				return
			}
			after = page[len(page)-1].Handle
		}
	}
}

// args checks q and returns the arguments of its filters (sessionFilters)
// and the handle the listing starts after.
func (q SessionQuery) args() ([]any, string, error) {
	if q.Kind < AnyKind || q.Kind >= numKinds {
		return nil, "", fmt.Errorf("%w: unknown SessionKind %d", ErrInvalidQuery, q.Kind)
	}
	if q.PageSize < 0 || q.PageSize > MaxSessionPageSize {
		return nil, "", fmt.Errorf("%w: PageSize %d is not within 0 to %d", ErrInvalidQuery, q.PageSize, MaxSessionPageSize)
	}
	if err := checkRange("SignedIn", q.SignedInAfter, q.SignedInBefore); err != nil {
		return nil, "", err
	}
	if err := checkRange("LastSeen", q.LastSeenAfter, q.LastSeenBefore); err != nil {
		return nil, "", err
	}
	after := ""
	if q.After != "" {
		var err error
		if after, err = parseCursor(q.After); err != nil {
			return nil, "", err
		}
	}
	mask, want, who := 0, 0, 0
	switch q.Kind {
	case KindAnonymous:
		who = 1
	case KindSignedIn:
		who = 2
	case KindRemembered:
		mask, want = flagHeader|flagRemembered, flagRemembered
	case KindBrowser:
		mask, want = flagHeader|flagBrowser, flagBrowser
	case KindPlainCookie:
		mask = flagHeader | flagRemembered | flagBrowser
	case KindAPIToken:
		mask, want = flagHeader, flagHeader
	}
	args := []any{mask, want, who}
	for _, t := range []time.Time{q.SignedInAfter, q.SignedInBefore, q.LastSeenAfter, q.LastSeenBefore} {
		// An unused time is still sent, as a date every server's DATETIME
		// takes (MySQL's begins in the year 1000).
		on, at := 0, time.Unix(0, 0).UTC()
		if !t.IsZero() {
			on, at = 1, t.UTC()
		}
		args = append(args, on, at)
	}
	return args, after, nil
}

// checkRange refuses a range that keeps nothing: its start not before its
// end.
func checkRange(name string, after, before time.Time) error {
	if !after.IsZero() && !before.IsZero() && !after.Before(before) {
		return fmt.Errorf("%w: %sAfter (%s) is not before %sBefore (%s)", ErrInvalidQuery,
			name, after.Format(time.RFC3339Nano), name, before.Format(time.RFC3339Nano))
	}
	return nil
}

// sessionFilters are the conditions of a SessionQuery after the position
// and the expiry, with their arguments in the order SessionQuery.args puts
// them. A filter that is off passes 0 for its switch and is true whatever
// its value.
func sessionFilters() string {
	signedIn := "COALESCE(signed_in_at, created_at)"
	lastSeen := "COALESCE(last_seen_at, created_at)"
	return " AND (flags & ?) = ?" +
		" AND ? IN (0, CASE WHEN user_id = '' THEN 1 ELSE 2 END)" +
		" AND (? = 0 OR (user_id <> '' AND " + signedIn + " > ?))" +
		" AND (? = 0 OR (user_id <> '' AND " + signedIn + " < ?))" +
		" AND (? = 0 OR " + lastSeen + " > ?)" +
		" AND (? = 0 OR " + lastSeen + " < ?)"
}

// infoColumns are the columns scanInfos reads.
const infoColumns = "id, user_id, created_at, last_seen_at, expires_at, user_agent, client_ip, signed_in_at, flags"

// adminStatements writes the statements of Sessions and CountSessions.
func adminStatements(q *[numStmts]string, table string) {
	order := " ORDER BY id LIMIT ?"
	q[sSessions] = "SELECT " + infoColumns + " FROM " + table + " WHERE id > ? AND expires_at > ?" + sessionFilters() + order
	// user_id <> '' names the partial index, as in sUserSessions.
	q[sUserSessionsAfter] = "SELECT " + infoColumns + " FROM " + table +
		" WHERE user_id = ? AND user_id <> '' AND id > ? AND expires_at > ?" + sessionFilters() + order
	// Each count reads one index and no row: the live sessions from the
	// expiry index, the signed-in ones from the user index, which has no
	// expiry, less those of them that have expired, read from the expiry
	// index (rows, but only expired ones, which Cleanup keeps few).
	// user_id > '' makes the user index a range on SQLite and MariaDB
	// rather than a scan of all of it; on PostgreSQL and SQLite
	// user_id <> '' names the partial index.
	// How a session travels is in flags alone, which no index holds: this
	// count reads every live row.
	kind := "flags & " + strconv.Itoa(flagHeader|flagRemembered|flagBrowser) + ", CASE WHEN user_id = '' THEN 0 ELSE 1 END"
	q[sCountByKind] = "SELECT " + kind + ", COUNT(*) FROM " + table + " WHERE expires_at > ? GROUP BY " + kind
	q[sCountSessions] = "SELECT (SELECT COUNT(*) FROM " + table + " WHERE expires_at > ?)," +
		" (SELECT COUNT(*) FROM " + table + " WHERE user_id > '' AND user_id <> '')," +
		" (SELECT COUNT(*) FROM " + table + " WHERE expires_at <= ? AND user_id <> '')"
}

// SessionCounts are how many live sessions there are, for an admin page or
// a metrics gauge. Live = SignedIn + Anonymous.
type SessionCounts struct {
	// Live counts every session whose expiry is ahead.
	Live int64
	// SignedIn counts the live sessions bound to a user.
	SignedIn int64
	// Anonymous counts the live sessions bound to no user.
	Anonymous int64
}

// CountSessions counts the live sessions in one statement that reads
// indexes (the expiry index's live part, the user index) and, row by row,
// only the signed-in sessions that have expired, which Cleanup keeps few.
// Its cost grows with the table: with Cleanup running, about half a second
// at a million sessions and 3.5 seconds at ten million on PostgreSQL
// (docs/admin.md has the measurements). Poll it for a metric every few
// minutes, not every few seconds.
//
// It does not count by RememberMe or API token: no index has the column
// that says so, and one would cost every session write.
// CountSessionsByKind does, reading the live rows.
func (st *Store) CountSessions(ctx context.Context) (SessionCounts, error) {
	now := st.cfg.now().UTC()
	var c SessionCounts
	var bound, boundExpired int64
	err := st.run.query(ctx, sCountSessions, []any{now, now}, func(rows *sql.Rows) (int64, error) {
		if !rows.Next() {
			return 0, errors.New("the count returned no row")
		}
		return 1, rows.Scan(&c.Live, &bound, &boundExpired)
	})
	if err != nil {
		return SessionCounts{}, fmt.Errorf("%w: count sessions: %w", ErrLoad, err)
	}
	c.SignedIn = bound - boundExpired
	c.Anonymous = c.Live - c.SignedIn
	return c, nil
}

// CountSessionsByKind counts the live sessions of each kind, for a metrics
// gauge per kind: KindSignedIn and KindAnonymous, which add up to the live
// sessions, and KindRemembered, KindBrowser, KindPlainCookie and
// KindAPIToken, which do too. A kind with no session is in the map as 0.
// Unlike CountSessions it reads every live row, since how a session travels
// is in no index: at ten million sessions about as long as CountSessions
// (a few seconds on PostgreSQL). Poll it every few minutes at most.
func (st *Store) CountSessionsByKind(ctx context.Context) (map[SessionKind]int64, error) {
	counts := make(map[SessionKind]int64, numKinds-1)
	err := st.run.query(ctx, sCountByKind, []any{st.cfg.now().UTC()}, func(rows *sql.Rows) (int64, error) {
		for k := AnyKind + 1; k < numKinds; k++ { // afresh, should the statement run again
			counts[k] = 0
		}
		var groups int64
		for rows.Next() {
			var flags, bound, n int64
			if err := rows.Scan(&flags, &bound, &n); err != nil {
				return groups, err
			}
			groups++
			if bound == 1 {
				counts[KindSignedIn] += n
			} else {
				counts[KindAnonymous] += n
			}
			switch {
			case flags&flagHeader != 0:
				counts[KindAPIToken] += n
			case flags&flagRemembered != 0:
				counts[KindRemembered] += n
			case flags&flagBrowser != 0:
				counts[KindBrowser] += n
			default:
				counts[KindPlainCookie] += n
			}
		}
		return groups, rows.Err()
	})
	if err != nil {
		return nil, fmt.Errorf("%w: count sessions by kind: %w", ErrLoad, err)
	}
	return counts, nil
}

// Cursor returns where a listing resumes after this session: pass it as
// SessionQuery.After. It is opaque, and "" for a SessionInfo without a
// handle.
func (i SessionInfo) Cursor() string {
	raw, err := hex.DecodeString(i.Handle)
	if err != nil || len(i.Handle) != idLen {
		return ""
	}
	return cursorPrefix + base64.RawURLEncoding.EncodeToString(raw)
}

// cursorPrefix versions the cursor's format.
const cursorPrefix = "c1"

// parseCursor returns the handle a cursor names.
func parseCursor(c string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c[min(len(c), len(cursorPrefix)):])
	if len(c) < len(cursorPrefix) || c[:len(cursorPrefix)] != cursorPrefix || err != nil || len(raw) != idLen/2 {
		return "", fmt.Errorf("%w: After %s is not a cursor from SessionInfo.Cursor", ErrInvalidQuery, strconv.Quote(c))
	}
	return hex.EncodeToString(raw), nil
}

// Sessions is Store.Sessions inside the transaction. Each page is read on
// the transaction's connection before its sessions are yielded.
func (t *Tx) Sessions(ctx context.Context, q SessionQuery) iter.Seq2[SessionInfo, error] {
	return t.st.Sessions(ctx, q)
}

// CountSessionsByKind is Store.CountSessionsByKind inside the transaction.
func (t *Tx) CountSessionsByKind(ctx context.Context) (map[SessionKind]int64, error) {
	return t.st.CountSessionsByKind(ctx)
}

// CountSessions is Store.CountSessions inside the transaction.
func (t *Tx) CountSessions(ctx context.Context) (SessionCounts, error) {
	return t.st.CountSessions(ctx)
}
