package sessionfill_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/ginsession/ginsession"
	"github.com/ginsession/ginsession/integration/sessionfill"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

func openStore(t *testing.T) (*gorm.DB, string, []ginsession.Option) {
	t.Helper()
	db, err := gorm.Open(sqlite.Open(filepath.Join(t.TempDir(), "fill.db")), &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	table := "fill_sessions"
	opts := []ginsession.Option{ginsession.WithTableName(table), ginsession.WithCleanupInterval(0)}
	_, err = ginsession.NewStore(db, opts...)
	require.NoError(t, err)
	return db, table, opts
}

// A thousand rows hold each kind in its exact share (the buckets are a
// permutation of 0..999), the store reads them back, and its migration
// builds the dropped indexes again.
func TestFillMakesRowsOfEachKindInTheirShare(t *testing.T) {
	ctx := context.Background()
	db, table, opts := openStore(t)
	base := time.Now().UTC().Truncate(time.Second)
	dropped, err := sessionfill.Fill(ctx, db, table, 1000, base)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"idx_" + table + "_user_id", "idx_" + table + "_expires_at", "idx_" + table + "_renewed_from"}, dropped)
	for _, name := range dropped {
		assert.False(t, db.Migrator().HasIndex(table, name), name)
	}
	st, err := ginsession.NewStore(db, opts...)
	require.NoError(t, err)
	for _, name := range dropped {
		assert.True(t, db.Migrator().HasIndex(table, name), "NewStore builds %s again", name)
	}
	require.NoError(t, sessionfill.Analyze(ctx, db, table))

	count := func(where string, args ...any) int64 {
		var n int64
		require.NoError(t, db.Table(table).Where(where, args...).Count(&n).Error)
		return n
	}
	assert.EqualValues(t, 1000, count("1 = 1"))
	assert.EqualValues(t, 50, count("expires_at < ?", base))
	assert.EqualValues(t, 100, count("user_id <> ''"))
	assert.EqualValues(t, 5, count("renewed_from <> ''"))
	assert.EqualValues(t, 50, count("flags = 4"))

	var user string
	require.NoError(t, db.Table(table).Select("user_id").Where("user_id <> ''").Order("id").Limit(1).Scan(&user).Error)
	infos, err := st.UserSessions(ctx, user)
	require.NoError(t, err)
	assert.NotEmpty(t, infos, "the store finds %s's generated sessions", user)

	total, parts, err := sessionfill.Sizes(ctx, db, table)
	require.NoError(t, err)
	assert.Positive(t, total)
	assert.Empty(t, parts, "SQLite reports the whole file only")
	assert.Contains(t, sessionfill.PerRow(total, parts, 1000), "bytes a row: ")
}

// FillExpired moves the expired share and keeps the others; expired rows
// spread evenly over the day before base, so that a clock set back lets a
// cleanup find any part of them expired.
func TestFillExpiredSetsTheExpiredShare(t *testing.T) {
	ctx := context.Background()
	db, table, _ := openStore(t)
	base := time.Now().UTC().Truncate(time.Second)
	_, err := sessionfill.FillExpired(ctx, db, table, 10000, 500, base)
	require.NoError(t, err)
	count := func(where string, args ...any) int64 {
		var n int64
		require.NoError(t, db.Table(table).Where(where, args...).Count(&n).Error)
		return n
	}
	assert.EqualValues(t, 5000, count("expires_at < ?", base))
	assert.EqualValues(t, 1000, count("user_id <> ''"))
	assert.EqualValues(t, 50, count("renewed_from <> ''"))
	assert.EqualValues(t, 500, count("flags = 4"))
	assert.Zero(t, count("expires_at < ?", base.Add(-24*time.Hour)), "none expired more than a day before")
	// The first 2% of the day holds about 2% of the expired rows: 100.
	assert.InDelta(t, 100, count("expires_at < ?", base.Add(-24*time.Hour+1728*time.Second)), 40)
}

func TestFillRefusesBadInput(t *testing.T) {
	ctx := context.Background()
	db, table, _ := openStore(t)
	for _, rows := range []int{0, -1} {
		_, err := sessionfill.Fill(ctx, db, table, rows, time.Now())
		assert.ErrorContains(t, err, "want at least one", "rows=%d", rows)
	}
	for _, expired := range []int{-1, 846} {
		_, err := sessionfill.FillExpired(ctx, db, table, 10, expired, time.Now())
		assert.ErrorContains(t, err, "want 0 to 845", "expired=%d", expired)
	}
	_, err := sessionfill.Fill(ctx, db, "no_such_table", 10, time.Now())
	assert.ErrorContains(t, err, "no_such_table")
	assert.ErrorContains(t, sessionfill.Analyze(ctx, db, "no_such_table"), "no_such_table")
	var n int64
	require.NoError(t, db.Table(table).Count(&n).Error)
	assert.Zero(t, n, "nothing was inserted")
}

func TestPerRowNamesEachPart(t *testing.T) {
	got := sessionfill.PerRow(3000, []sessionfill.Part{{Name: "table", Bytes: 2000}, {Name: "pkey", Bytes: 1000}}, 10)
	assert.Equal(t, "bytes a row: 300 in all; table 200, pkey 100", got)
}
