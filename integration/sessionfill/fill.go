// Package sessionfill fills a ginsession table with generated rows that look
// like a real one's, server-side in one statement, and reports what the
// table then weighs. integration's plan checks (sessiontest.RunPlans) and
// bench's table-size benchmark share it; it imports GORM only, so that bench
// does not take on the integration harness's dependencies.
package sessionfill

import (
	"context"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// The rows Fill generates, by bucket k = i*2654435761 mod 1000 of row i, so
// that each kind is spread over the whole table rather than stored in one
// run: 5% expired (FillExpired sets the share), 10% bound to one of Users
// users, 0.5% renewed a moment ago, 5% header sessions; the rest are live
// anonymous cookie sessions. Expired rows expired up to a day before the
// fill's base time, evenly; live rows expire from a minute to 30 days
// after it.
const (
	// DefaultExpired is Fill's share of expired rows, in thousandths.
	DefaultExpired = 50
	user           = 100 // the next user buckets after the expired: signed in
	renewed        = 5   // the next renewed: renewed, renewal in flight
	header         = 50  // the next header: header sessions
	// Users is how many users the signed-in rows belong to, named "user0"
	// to "user19999": at a million rows each has about five sessions.
	Users = 20000
)

// indexed are the columns of the session table's secondary indexes, which
// ginsession names idx_<table>_<column>.
var indexed = []string{"user_id", "expires_at", "renewed_from"}

// Fill drops the secondary indexes of table, a ginsession table that
// ginsession.NewStore created on db, and inserts rows generated rows with
// times around base (UTC, cut to microseconds). It returns the indexes it
// dropped: ginsession.NewStore on the table builds them again, as it would
// on an existing table that lacks them, a sort each, where rows inserted in
// expiry order would each update a random page of the expiry index and
// thrash on a server whose buffer pool is smaller than the table. Call
// Analyze after that. IDs are 64 hex digits in insertion order, which keeps
// InnoDB's clustered index appending. Dialects: postgres, mysql (MariaDB:
// it reads the sequence engine's seq_1_to_N), sqlite.
func Fill(ctx context.Context, db *gorm.DB, table string, rows int, base time.Time) ([]string, error) {
	return FillExpired(ctx, db, table, rows, DefaultExpired, base)
}

// FillExpired is Fill with expired thousandths of the rows expired, from 0
// to 1000-user-renewed-header (845); the other kinds keep their shares.
func FillExpired(ctx context.Context, db *gorm.DB, table string, rows, expired int, base time.Time) ([]string, error) {
	dialect := db.Dialector.Name()
	fill, ok := fills[dialect]
	if !ok {
		return nil, fmt.Errorf("sessionfill: no fill for dialect %q", dialect)
	}
	if rows <= 0 {
		return nil, fmt.Errorf("sessionfill: %d rows: want at least one", rows)
	}
	if expired < 0 || expired+user+renewed+header > 1000 {
		return nil, fmt.Errorf("sessionfill: %d thousandths expired: want 0 to %d", expired, 1000-user-renewed-header)
	}
	m := db.WithContext(ctx).Migrator()
	var dropped []string
	for _, col := range indexed {
		name := "idx_" + table + "_" + col
		if m.HasIndex(table, name) {
			if err := m.DropIndex(table, name); err != nil {
				return dropped, fmt.Errorf("sessionfill: dropping %s: %w", name, err)
			}
			dropped = append(dropped, name)
		}
	}
	q := strings.NewReplacer("{table}", quote(db, table), "{rows}", fmt.Sprint(rows),
		"{base}", base.UTC().Format("2006-01-02 15:04:05.000000"),
		"{expired}", fmt.Sprint(expired), "{user}", fmt.Sprint(expired+user), "{renewed}", fmt.Sprint(expired+user+renewed),
		"{header}", fmt.Sprint(expired+user+renewed+header), "{users}", fmt.Sprint(Users)).Replace(fill)
	if err := db.WithContext(ctx).Exec(q).Error; err != nil {
		return dropped, fmt.Errorf("sessionfill: filling %s with %d rows: %w", table, rows, err)
	}
	return dropped, nil
}

// Analyze gathers the statistics the planners choose by. On PostgreSQL it
// vacuums too, as autovacuum does to a table soon after many inserts: that
// marks the pages all-visible, without which no count can be read from an
// index alone.
func Analyze(ctx context.Context, db *gorm.DB, table string) error {
	dialect := db.Dialector.Name()
	stmt, ok := analyze[dialect]
	if !ok {
		return fmt.Errorf("sessionfill: no ANALYZE for dialect %q", dialect)
	}
	if err := db.WithContext(ctx).Exec(stmt + " " + quote(db, table)).Error; err != nil {
		return fmt.Errorf("sessionfill: analyzing %s: %w", table, err)
	}
	return nil
}

// A Part is a piece of the session table's storage and its size in bytes.
type Part struct {
	Name  string
	Bytes int64
}

// Sizes returns the size in bytes of table with its indexes (on SQLite, of
// the whole database file) and its parts: on PostgreSQL the table and each
// index; on MySQL and MariaDB the table (its clustered primary key) and the
// secondary indexes together, as per index needs mysql.innodb_index_stats,
// which an application's user may not read; none on SQLite.
func Sizes(ctx context.Context, db *gorm.DB, table string) (int64, []Part, error) {
	dialect := db.Dialector.Name()
	q, ok := sizes[dialect]
	if !ok {
		return 0, nil, fmt.Errorf("sessionfill: no size for dialect %q", dialect)
	}
	sqlDB, err := db.DB()
	if err != nil {
		return 0, nil, err
	}
	var total int64
	if err := sqlDB.QueryRowContext(ctx, q, table).Scan(&total); err != nil {
		return 0, nil, fmt.Errorf("sessionfill: size of %s: %w", table, err)
	}
	q, ok = parts[dialect]
	if !ok {
		return total, nil, nil
	}
	args := []any{table}
	if dialect == "mysql" {
		args = append(args, table)
	}
	rows, err := sqlDB.QueryContext(ctx, q, args...)
	if err != nil {
		return 0, nil, fmt.Errorf("sessionfill: parts of %s: %w", table, err)
	}
	defer rows.Close()
	var ps []Part
	for rows.Next() {
		var p Part
		if err := rows.Scan(&p.Name, &p.Bytes); err != nil {
			return 0, nil, fmt.Errorf("sessionfill: parts of %s: %w", table, err)
		}
		ps = append(ps, p)
	}
	if err := rows.Err(); err != nil {
		return 0, nil, fmt.Errorf("sessionfill: parts of %s: %w", table, err)
	}
	return total, ps, nil
}

// PerRow describes total and parts divided by rows, as "bytes a row: 310 in
// all; table 180, idx_... 60, ...".
func PerRow(total int64, parts []Part, rows int) string {
	s := fmt.Sprintf("bytes a row: %.0f in all", float64(total)/float64(rows))
	if len(parts) == 0 {
		return s
	}
	per := make([]string, len(parts))
	for i, p := range parts {
		per[i] = fmt.Sprintf("%s %.0f", p.Name, float64(p.Bytes)/float64(rows))
	}
	return s + "; " + strings.Join(per, ", ")
}

func quote(db *gorm.DB, name string) string {
	var b strings.Builder
	db.Dialector.QuoteTo(&b, name)
	return b.String()
}
