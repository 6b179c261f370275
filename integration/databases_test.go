package integration

import (
	"database/sql"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ginsession/ginsession/integration/sessiontest"
	"github.com/ginsession/ginsession/internal/testkit"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	sqlite3 "github.com/mattn/go-sqlite3"
	"github.com/stretchr/testify/require"
	gormmysql "gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// The servers' DSNs; .ci/databases prints them. Without one, that
// database's tests skip, except in CI.
const (
	postgresEnv = "GINSESSION_POSTGRES_DSN"
	mysqlEnv    = "GINSESSION_MYSQL_DSN"
)

// loadDuration is how long each database's load test runs.
const loadDuration = 10 * time.Second

type database struct {
	name string
	open func(t *testing.T) sessiontest.Opener
}

var databases = []database{
	{"SQLite", openSQLite},
	{"PostgreSQL", openPostgres},
	{"MariaDB", openMySQL},
}

// dsn returns the DSN in env, or skips t with a note on how to set it.
func dsn(t *testing.T, env string) string {
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: CI must run every database", env)
		}
		t.Skipf("set %s to run against that server; `eval \"$(.ci/databases start /tmp/gsdb)\"` from the repository root starts one", env)
	}
	return v
}

func gormOpen(t *testing.T, dialect func(*sql.DB) gorm.Dialector, sqlDB *sql.DB) *gorm.DB {
	t.Cleanup(func() { sqlDB.Close() })
	db, err := gorm.Open(dialect(sqlDB), &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	return db
}

// openSQLite opens pools on one SQLite file with the DSN the README
// recommends.
func openSQLite(t *testing.T) sessiontest.Opener {
	path := filepath.Join(t.TempDir(), "sessions.db")
	return func(t *testing.T) sessiontest.DB {
		c := &testkit.Counter{}
		dsn := "file:" + path + "?_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL"
		sqlDB := sql.OpenDB(testkit.Count(testkit.DSNConnector(&sqlite3.SQLiteDriver{}, dsn), c))
		db := gormOpen(t, func(s *sql.DB) gorm.Dialector { return sqlite.Dialector{Conn: s} }, sqlDB)
		return sessiontest.DB{DB: db, Counter: c}
	}
}

func openPostgres(t *testing.T) sessiontest.Opener {
	cfg, err := pgx.ParseConfig(dsn(t, postgresEnv))
	require.NoError(t, err)
	return func(t *testing.T) sessiontest.DB {
		c := &testkit.Counter{}
		sqlDB := sql.OpenDB(testkit.Count(stdlib.GetConnector(*cfg), c))
		db := gormOpen(t, func(s *sql.DB) gorm.Dialector { return postgres.New(postgres.Config{Conn: s}) }, sqlDB)
		return sessiontest.DB{DB: db, Counter: c}
	}
}

func openMySQL(t *testing.T) sessiontest.Opener {
	cfg, err := mysql.ParseDSN(dsn(t, mysqlEnv))
	require.NoError(t, err)
	return func(t *testing.T) sessiontest.DB {
		c := &testkit.Counter{}
		connector, err := mysql.NewConnector(cfg)
		require.NoError(t, err)
		sqlDB := sql.OpenDB(testkit.Count(connector, c))
		db := gormOpen(t, func(s *sql.DB) gorm.Dialector {
			return gormmysql.New(gormmysql.Config{Conn: s})
		}, sqlDB)
		return sessiontest.DB{DB: db, Counter: c}
	}
}

func TestBehaviour(t *testing.T) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) { sessiontest.Run(t, d.open(t)) })
	}
}

func TestInstances(t *testing.T) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) { sessiontest.RunInstances(t, d.open(t)) })
	}
}

func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("the load test runs for seconds per database; drop -short to run it")
	}
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) { sessiontest.RunLoad(t, d.open(t), 64, loadDuration) })
	}
}
