package ginsession

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"gorm.io/gorm"
)

// DefaultTableName is the session table's name unless WithTableName says
// otherwise. It is not "sessions", which applications often use themselves.
const DefaultTableName = "gin_sessions"

// Model is the GORM model of one session row. New and NewStore migrate it;
// applications only need it to query the table themselves.
type Model struct {
	// ID is the hex SHA-256 of the cookie's token, never the token itself.
	ID string `gorm:"primaryKey;size:64"`
	// Data is the codec's encoding of the session's values and flashes.
	Data string `gorm:"not null"`
	// UserID is what Session.SetUserID bound the session to; empty if none.
	// Its index leaves out anonymous sessions, which are most of them, so
	// creating one costs an index update less (MySQL has no partial indexes
	// and indexes them all).
	UserID string `gorm:"size:255;not null;index:,where:user_id <> ''"`
	// ExpiresAt is when the session dies, idle or absolute, whichever is first.
	ExpiresAt time.Time `gorm:"not null;index"`
	CreatedAt time.Time `gorm:"not null"`
	UpdatedAt time.Time `gorm:"not null"`
	// LastSeenAt is when the session was last used, to within
	// WithLastSeenInterval; NULL in rows from before the column existed.
	LastSeenAt sql.NullTime
	// UserAgent and ClientIP are the browser and address last seen using
	// the session; empty unless WithRecordUserAgent or WithRecordClientIP.
	UserAgent string `gorm:"size:512;not null;default:''"`
	ClientIP  string `gorm:"size:64;not null;default:''"`
	// Version grows by one on every save; a save only applies on top of the
	// version it read, which is how concurrent writers are detected.
	Version int64 `gorm:"not null"`
	// RenewedFrom is the ID the session had before RenewID moved it, while
	// the renewing request runs: a logout sent with the old cookie meanwhile
	// must find the session under its new ID. Empty otherwise.
	RenewedFrom string `gorm:"size:64;not null;default:'';index:,where:renewed_from <> ''"`
	// RenewedAt is when RenewID moved the session from RenewedFrom; NULL
	// when RenewedFrom is empty. The old ID's grace counts from it.
	RenewedAt sql.NullTime
	// SignedInAt is when the session was bound to its user (Login,
	// SetUserID); NULL for an anonymous session. The store's absolute
	// lifetime counts from it.
	SignedInAt sql.NullTime
	// IdleTimeout is the session's own sliding window in seconds
	// (Session.SetIdleTimeout); 0 when the store's setting applies.
	IdleTimeout int64 `gorm:"not null;default:0"`
	// Deadline is the session's own absolute end (Session.SetDeadline).
	Deadline sql.NullTime
	// Flags records how the session travels and expires: 1 remembered
	// (RememberMe(true)), 2 a browser session (RememberMe(false)), 4 carried
	// in a request header rather than a cookie (Session.IssueToken), 8
	// bound to a user once and unbound since (a later Login starts clean).
	Flags int `gorm:"not null;default:0"`
}

// TableName gives GORM the default table name, for applications that query
// Model directly. The store itself always names its configured table.
func (Model) TableName() string { return DefaultTableName }

// mysqlColumns is Model as MySQL must store it, but for renewed_from (see
// mysqlModel): its TEXT stops at 64 KiB, less than WithMaxSize's default,
// and GORM would make a plain string a varchar(DefaultStringSize) where that
// is configured. IDs and user IDs compare byte for byte, not by the table's
// case-insensitive collation (user IDs are binary: a _bin collation would
// still ignore trailing spaces), and times keep microseconds (GORM's
// default for MySQL is milliseconds).
type mysqlColumns struct {
	ID          string       `gorm:"primaryKey;type:char(64) CHARACTER SET ascii COLLATE ascii_bin"`
	Data        string       `gorm:"type:longtext;not null"`
	UserID      string       `gorm:"type:varbinary(255);not null;index"`
	ExpiresAt   time.Time    `gorm:"not null;index;precision:6"`
	CreatedAt   time.Time    `gorm:"not null;precision:6"`
	UpdatedAt   time.Time    `gorm:"not null;precision:6"`
	LastSeenAt  sql.NullTime `gorm:"precision:6"`
	UserAgent   string       `gorm:"size:512;not null;default:''"`
	ClientIP    string       `gorm:"size:64;not null;default:''"`
	Version     int64        `gorm:"not null"`
	RenewedAt   sql.NullTime `gorm:"precision:6"`
	SignedInAt  sql.NullTime `gorm:"precision:6"`
	IdleTimeout int64        `gorm:"not null;default:0"`
	Deadline    sql.NullTime `gorm:"precision:6"`
	Flags       int          `gorm:"not null;default:0"`
}

// mysqlModel is a new MySQL table. MySQL has no partial indexes, so
// renewed_from's index holds every row, nearly all of them empty: as a
// VARCHAR an empty value takes no bytes in the row or the index, where a
// CHAR(64) takes 64 in each (a fifth of the table's bytes).
type mysqlModel struct {
	Columns     mysqlColumns `gorm:"embedded"`
	RenewedFrom string       `gorm:"type:varchar(64) CHARACTER SET ascii COLLATE ascii_bin;not null;default:'';index"`
}

// mysqlModelChar is a MySQL table made before renewed_from became a
// VARCHAR. It is migrated as it stands: changing the column's type would
// copy the whole table at start-up, a lock no deploy should take unasked.
// docs/table.md gives the ALTER TABLE to run at a quiet hour.
type mysqlModelChar struct {
	Columns     mysqlColumns `gorm:"embedded"`
	RenewedFrom string       `gorm:"type:char(64) CHARACTER SET ascii COLLATE ascii_bin;not null;default:'';index"`
}

// migrate creates or updates the session table. Instances that start at the
// same time race to create it; the loser finds it on its next look.
func migrate(db *gorm.DB, table string) error {
	var err error
	for attempt := 1; attempt <= 3; attempt++ {
		// Marked as a write so that dbresolver asks the sources whether the
		// table is there, not a replica.
		w := db.Set(gormWrite, true)
		var model any = &Model{}
		if db.Dialector.Name() == "mysql" {
			model = &mysqlModel{}
			if charRenewedFrom(w, table) {
				model = &mysqlModelChar{}
			}
		}
		if err = w.Table(table).AutoMigrate(model); err == nil {
			return nil
		}
		time.Sleep(time.Duration(attempt) * 100 * time.Millisecond)
	}
	return fmt.Errorf("ginsession: migrate table %q: %w", table, err)
}

// charRenewedFrom reports whether table exists with renewed_from a CHAR
// (see mysqlModelChar).
func charRenewedFrom(db *gorm.DB, table string) bool {
	m := db.Table(table).Migrator()
	if !m.HasTable(table) {
		return false
	}
	cols, err := m.ColumnTypes(table)
	if err != nil {
		return false
	}
	for _, c := range cols {
		if t, ok := c.ColumnType(); ok && strings.EqualFold(c.Name(), "renewed_from") {
			return strings.HasPrefix(strings.ToLower(t), "char")
		}
	}
	return false
}
