package bench

import (
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ginsession/ginsession/internal/testkit"
	"github.com/go-sql-driver/mysql"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	sqlite3 "github.com/mattn/go-sqlite3"
	gormmysql "gorm.io/driver/mysql"
	"gorm.io/driver/postgres"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// poolSize is every pool's size, open and idle alike, on every server and
// for every library: big enough for the parallel benchmarks' clients, and
// with as many idle connections as open ones, so that no library pays for
// connections closed and reopened (database/sql keeps 2 idle by default).
const poolSize = 16

// A server is one database the benchmarks run on.
type server struct {
	// name is the server=... part of the benchmark names.
	name string
	// env holds the server's DSN; empty for SQLite, which always runs.
	env string
	// dialect is GORM's name for the server's SQL: sqlite, postgres, mysql.
	dialect string
	// prepare says whether the floor prepares its statements. pgx already
	// prepares and caches every statement of a plain query on PostgreSQL,
	// and behind PgBouncer in transaction mode a named prepared statement
	// belongs to whichever server connection prepared it, so there the floor
	// sends plain queries in the DSN's query mode.
	prepare bool
	// open connects a pool that counts statements at the driver.
	open func(b *testing.B, dsn string, c *testkit.Counter) (*sql.DB, gorm.Dialector)
}

var servers = []server{
	{name: "sqlite", dialect: "sqlite", prepare: true, open: openSQLite},
	{name: "postgres", env: "GINSESSION_POSTGRES_DSN", dialect: "postgres", open: openPgx},
	{name: "mariadb", env: "GINSESSION_MYSQL_DSN", dialect: "mysql", prepare: true, open: openMySQL},
	// pgx's exec mode: the extended protocol with unnamed statements, one
	// round trip per statement; what pgx offers for transaction pooling
	// besides its simple protocol.
	{name: "pgbouncer", env: "GINSESSION_PGBOUNCER_EXEC_DSN", dialect: "postgres", open: openPgx},
}

// eachServer runs f as a sub-benchmark server=NAME of b for every server,
// skipping those whose DSN is not set.
func eachServer(b *testing.B, f func(b *testing.B, srv server, dsn string)) {
	eachOf(b, servers, f)
}

// eachOf is eachServer over some servers.
func eachOf(b *testing.B, servers []server, f func(b *testing.B, srv server, dsn string)) {
	for _, srv := range servers {
		b.Run("server="+srv.name, func(b *testing.B) {
			var dsn string
			if srv.env != "" {
				if dsn = os.Getenv(srv.env); dsn == "" {
					b.Skipf("set %s to run on %s; bench/run starts the servers", srv.env, srv.name)
				}
			}
			f(b, srv, dsn)
		})
	}
}

// A target is one library's connection to one server.
type target struct {
	srv     server
	db      *gorm.DB
	counter *testkit.Counter
}

// connect opens a pool on the server with GORM's defaults and its logger
// discarded. The pool closes when b ends.
func (srv server) connect(b *testing.B, dsn string) *target {
	counter := &testkit.Counter{Quiet: true}
	sqlDB, dialector := srv.open(b, dsn, counter)
	b.Cleanup(func() { sqlDB.Close() })
	sqlDB.SetMaxOpenConns(poolSize)
	sqlDB.SetMaxIdleConns(poolSize)
	db, err := gorm.Open(dialector, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		b.Fatalf("%s: %v", srv.name, err)
	}
	return &target{srv: srv, db: db, counter: counter}
}

// fresh drops tables, now and again when b ends, so that the library about
// to run starts from empty tables and leaves nothing behind on the server.
// gin-contrib's store and scs's both name their table "sessions", with
// different columns.
func (t *target) fresh(b *testing.B, tables ...string) {
	drop := func() error {
		for _, table := range tables {
			if err := t.db.Exec("DROP TABLE IF EXISTS " + table).Error; err != nil {
				return err
			}
		}
		return nil
	}
	if err := drop(); err != nil {
		b.Fatalf("dropping %s: %v", strings.Join(tables, ", "), err)
	}
	b.Cleanup(func() {
		if err := drop(); err != nil {
			b.Errorf("dropping %s: %v", strings.Join(tables, ", "), err)
		}
	})
}

// openSQLite opens a fresh SQLite file in WAL mode, the DSN
// docs/production.md recommends.
func openSQLite(b *testing.B, _ string, c *testkit.Counter) (*sql.DB, gorm.Dialector) {
	dsn := "file:" + filepath.Join(b.TempDir(), "bench.db") + "?_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL"
	sqlDB := sql.OpenDB(testkit.Count(testkit.DSNConnector(&sqlite3.SQLiteDriver{}, dsn), c))
	return sqlDB, sqlite.Dialector{Conn: sqlDB}
}

func openPgx(b *testing.B, dsn string, c *testkit.Counter) (*sql.DB, gorm.Dialector) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	sqlDB := sql.OpenDB(testkit.Count(stdlib.GetConnector(*cfg), c))
	return sqlDB, postgres.New(postgres.Config{Conn: sqlDB})
}

func openMySQL(b *testing.B, dsn string, c *testkit.Counter) (*sql.DB, gorm.Dialector) {
	cfg, err := mysql.ParseDSN(dsn)
	if err != nil {
		b.Fatal(err)
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		b.Fatal(err)
	}
	sqlDB := sql.OpenDB(testkit.Count(connector, c))
	return sqlDB, gormmysql.New(gormmysql.Config{Conn: sqlDB})
}
