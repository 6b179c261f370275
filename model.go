package ginsession

import "time"

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
	UserID string `gorm:"size:255;not null;index"`
	// ExpiresAt is when the session dies, idle or absolute, whichever is first.
	ExpiresAt time.Time `gorm:"not null;index"`
	CreatedAt time.Time `gorm:"not null"`
	UpdatedAt time.Time `gorm:"not null"`
	// Version grows by one on every save; a save only applies on top of the
	// version it read, which is how concurrent writers are detected.
	Version int64 `gorm:"not null"`
}

// TableName gives GORM the default table name, for applications that query
// Model directly. The store itself always names its configured table.
func (Model) TableName() string { return DefaultTableName }
