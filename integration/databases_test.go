package integration

import (
	"database/sql"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
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
// topology's tests skip, except in CI.
const (
	postgresEnv        = "GINSESSION_POSTGRES_DSN"
	serializableEnv    = "GINSESSION_POSTGRES_SERIALIZABLE_DSN"
	pgbouncerSimpleEnv = "GINSESSION_PGBOUNCER_SIMPLE_DSN"
	pgbouncerExecEnv   = "GINSESSION_PGBOUNCER_EXEC_DSN"
	mysqlEnv           = "GINSESSION_MYSQL_DSN"
	// galeraEnv lists one DSN per node, comma-separated.
	galeraEnv = "GINSESSION_GALERA_DSNS"
)

// loadDuration is how long each database's load test runs.
const loadDuration = 10 * time.Second

type database struct {
	name string
	open func(t *testing.T) sessiontest.Opener
}

// databases are the topologies the suites run on: each app instance of a
// multi-node engine gets a node of its own.
var databases = []database{
	{"SQLite", openSQLite},
	{"PostgreSQL", openPostgres(postgresEnv)},
	{"PostgreSQL-serializable", openPostgres(serializableEnv)},
	{"PgBouncer-simple_protocol", openPostgres(pgbouncerSimpleEnv)},
	{"PgBouncer-exec", openPostgres(pgbouncerExecEnv)},
	{"MariaDB", openMySQL(mysqlEnv)},
	{"MariaDB-server-side-params", openMySQLWith(mysqlEnv, func(c *mysql.Config) { c.InterpolateParams = false })},
	{"Galera", openMySQL(galeraEnv)},
}

// dsns returns the DSNs in env (a comma-separated list for a cluster), or
// skips t with a note on how to set them.
func dsns(t *testing.T, env string) []string {
	v := os.Getenv(env)
	if v == "" {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s is not set: CI must run every database", env)
		}
		t.Skipf("set %s to run against that server; `eval \"$(.ci/databases start /tmp/gsdb)\"` from the repository root starts them all", env)
	}
	return strings.Split(v, ",")
}

// dsn returns the single DSN in env, or skips t.
func dsn(t *testing.T, env string) string { return dsns(t, env)[0] }

// roundRobin returns the index of the node for each new pool: 0, 1, 2, 0, ...
func roundRobin(n int) func() int {
	var next atomic.Int64
	return func() int { return int(next.Add(1)-1) % n }
}

// poolSize is each app instance's connection pool, open and idle alike,
// as docs/production.md advises: database/sql keeps only 2 idle connections by
// default, and a server like PostgreSQL then forks a backend for most
// requests under load.
const poolSize = 32

func gormOpen(t *testing.T, dialect func(*sql.DB) gorm.Dialector, sqlDB *sql.DB) *gorm.DB {
	t.Cleanup(func() { sqlDB.Close() })
	sqlDB.SetMaxOpenConns(poolSize)
	sqlDB.SetMaxIdleConns(poolSize)
	db, err := gorm.Open(dialect(sqlDB), &gorm.Config{Logger: logger.Discard})
	require.NoError(t, err)
	return db
}

// openSQLite opens pools on one SQLite file with the DSN
// docs/production.md recommends.
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

func openPostgres(env string) func(t *testing.T) sessiontest.Opener {
	return func(t *testing.T) sessiontest.Opener {
		var cfgs []*pgx.ConnConfig
		for _, d := range dsns(t, env) {
			cfg, err := pgx.ParseConfig(d)
			require.NoError(t, err)
			cfgs = append(cfgs, cfg)
		}
		node := roundRobin(len(cfgs))
		return func(t *testing.T) sessiontest.DB {
			c := &testkit.Counter{}
			sqlDB := sql.OpenDB(testkit.Count(stdlib.GetConnector(*cfgs[node()]), c))
			db := gormOpen(t, func(s *sql.DB) gorm.Dialector { return postgres.New(postgres.Config{Conn: s}) }, sqlDB)
			return sessiontest.DB{DB: db, Counter: c}
		}
	}
}

func openMySQL(env string) func(t *testing.T) sessiontest.Opener {
	return openMySQLWith(env, func(*mysql.Config) {})
}

// openMySQLWith opens the DSNs in env as change leaves them.
func openMySQLWith(env string, change func(*mysql.Config)) func(t *testing.T) sessiontest.Opener {
	return func(t *testing.T) sessiontest.Opener {
		var cfgs []*mysql.Config
		for _, d := range dsns(t, env) {
			cfg, err := mysql.ParseDSN(d)
			require.NoError(t, err)
			change(cfg)
			cfgs = append(cfgs, cfg)
		}
		node := roundRobin(len(cfgs))
		return func(t *testing.T) sessiontest.DB {
			c := &testkit.Counter{}
			connector, err := mysql.NewConnector(cfgs[node()])
			require.NoError(t, err)
			sqlDB := sql.OpenDB(testkit.Count(connector, c))
			db := gormOpen(t, func(s *sql.DB) gorm.Dialector {
				return gormmysql.New(gormmysql.Config{Conn: s})
			}, sqlDB)
			return sessiontest.DB{DB: db, Counter: c}
		}
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

// alters are schema changes a rolling deploy or a DBA makes on the session
// table during traffic: a column's type changed (which invalidates
// PostgreSQL's cached plans), a column added.
var alters = map[string][]string{
	"sqlite": {"ALTER TABLE %s ADD COLUMN note TEXT"},
	"postgres": {
		"ALTER TABLE %s ALTER COLUMN user_id TYPE varchar(512)",
		"ALTER TABLE %s ADD COLUMN note text",
		"ALTER TABLE %s ALTER COLUMN user_agent TYPE varchar(600)",
	},
	"mysql": {
		"ALTER TABLE %s MODIFY user_id VARBINARY(512) NOT NULL",
		"ALTER TABLE %s ADD COLUMN note TEXT NULL",
		"ALTER TABLE %s MODIFY user_agent VARCHAR(600) NOT NULL DEFAULT ''",
	},
}

func TestSchemaChangeDuringTraffic(t *testing.T) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) {
			open := d.open(t)
			dialect := open(t).Dialector.Name()
			sessiontest.RunSchemaChange(t, open, alters[dialect])
		})
	}
}

// TestReplicaRouting gives the database a dbresolver replica that holds the
// session table and none of its rows.
func TestReplicaRouting(t *testing.T) {
	t.Run("SQLite", func(t *testing.T) {
		replica := openSQLite(t)(t)
		sessiontest.RunReplicaRouting(t, openSQLite(t), replica)
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		open := openPostgres(postgresEnv)(t)
		sessiontest.RunReplicaRouting(t, open, postgresReplica(t, open(t)))
	})
	t.Run("MariaDB", func(t *testing.T) {
		open := openMySQL(mysqlEnv)(t)
		sessiontest.RunReplicaRouting(t, open, mysqlReplica(t, open(t)))
	})
}

// postgresReplica creates a database of its own on db's server, dropped
// when t ends, and opens it.
func postgresReplica(t *testing.T, db sessiontest.DB) sessiontest.DB {
	name := "replica_" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_"))
	require.NoError(t, db.Exec("DROP DATABASE IF EXISTS "+name+" WITH (FORCE)").Error)
	require.NoError(t, db.Exec("CREATE DATABASE "+name).Error)
	t.Cleanup(func() { db.Exec("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)") })
	cfg, err := pgx.ParseConfig(dsn(t, postgresEnv))
	require.NoError(t, err)
	cfg.Database = name
	c := &testkit.Counter{}
	sqlDB := sql.OpenDB(testkit.Count(stdlib.GetConnector(*cfg), c))
	return sessiontest.DB{DB: gormOpen(t, func(s *sql.DB) gorm.Dialector { return postgres.New(postgres.Config{Conn: s}) }, sqlDB), Counter: c}
}

// mysqlReplica is postgresReplica for MariaDB.
func mysqlReplica(t *testing.T, db sessiontest.DB) sessiontest.DB {
	name := "replica_" + strings.ToLower(strings.ReplaceAll(t.Name(), "/", "_"))
	require.NoError(t, db.Exec("DROP DATABASE IF EXISTS "+name).Error)
	require.NoError(t, db.Exec("CREATE DATABASE "+name).Error)
	t.Cleanup(func() { db.Exec("DROP DATABASE IF EXISTS " + name) })
	cfg, err := mysql.ParseDSN(dsn(t, mysqlEnv))
	require.NoError(t, err)
	cfg.DBName = name
	connector, err := mysql.NewConnector(cfg)
	require.NoError(t, err)
	c := &testkit.Counter{}
	sqlDB := sql.OpenDB(testkit.Count(connector, c))
	return sessiontest.DB{DB: gormOpen(t, func(s *sql.DB) gorm.Dialector { return gormmysql.New(gormmysql.Config{Conn: s}) }, sqlDB), Counter: c}
}

func TestTracing(t *testing.T) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) { sessiontest.RunTracing(t, d.open(t)) })
	}
}

// TestCrossNodeReads changes sessions through one instance and reads them
// through another at once, many times, to catch a node that lags.
func TestCrossNodeReads(t *testing.T) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) { sessiontest.RunCrossNodeReads(t, d.open(t), 100) })
	}
}

// TestLinearizability records many clients' requests on three instances
// and checks the history against the contract (sessiontest's model.go).
// GINSESSION_LINEARIZE_FOR sets how long each database's run records.
func TestLinearizability(t *testing.T) {
	d := 18 * time.Second
	if testing.Short() {
		d = 3 * time.Second
	}
	if v := os.Getenv("GINSESSION_LINEARIZE_FOR"); v != "" {
		var err error
		d, err = time.ParseDuration(v)
		require.NoError(t, err)
	}
	for _, db := range databases {
		t.Run(db.name, func(t *testing.T) { sessiontest.RunLinearizability(t, db.open(t), d) })
	}
}

// TestUserPlans checks that PostgreSQL keeps the generic plan of each
// statement that finds a user's rows (see sessiontest.RunUserPlans).
// Through PgBouncer the store's statements go unnamed, planned on each run
// whatever the table; a named one would not outlive its transaction there.
func TestUserPlans(t *testing.T) {
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) {
			if strings.HasPrefix(d.name, "PgBouncer") {
				t.Skip("through PgBouncer the statements are unnamed and planned on each run")
			}
			sessiontest.RunUserPlans(t, d.open(t))
		})
	}
}

// TestPlans EXPLAINs every statement of the store on a table of
// GINSESSION_PLAN_ROWS generated rows (1,000,000; 100,000 with -short) and
// fails on any that reads the whole table. Galera is left out: its nodes
// run MariaDB's optimizer, which the MariaDB topologies check, and a
// million rows replicated to three nodes on one machine would take minutes.
func TestPlans(t *testing.T) {
	rows := 1_000_000
	if testing.Short() {
		rows = 100_000
	}
	if v := os.Getenv("GINSESSION_PLAN_ROWS"); v != "" {
		var err error
		rows, err = strconv.Atoi(v)
		require.NoError(t, err)
	}
	for _, d := range databases {
		t.Run(d.name, func(t *testing.T) {
			if d.name == "Galera" {
				t.Skip("the MariaDB topologies check MariaDB's plans; filling a Galera cluster would replicate the rows to every node")
			}
			sessiontest.RunPlans(t, d.open(t), rows)
		})
	}
}
