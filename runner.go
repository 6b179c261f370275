package ginsession

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"gorm.io/gorm"
	gormlogger "gorm.io/gorm/logger"
)

// A runner runs the store's statements. It picks, once, the cheapest way
// that respects how the application set up its database:
//
//   - Through GORM (Raw and Exec, so callbacks run) when the *gorm.DB has
//     plugins (dbresolver, opentelemetry, ...) or WithGORMCallbacks asks:
//     they then see every statement, and dbresolver sends each one to the
//     sources, never a replica that may lag behind a login.
//   - Otherwise straight on the connection pool, without GORM's statement
//     builder, which costs more per request than the queries themselves; the
//     app's GORM logger still gets every statement.
//
// On the lean path, statements are prepared and held per connection on
// SQLite and MySQL, where that saves a round trip or a parse. On PostgreSQL
// they are not: pgx caches prepared statements itself unless the DSN's exec
// mode says otherwise (as it must behind PgBouncer in transaction mode), and
// that choice is the application's. With gorm.Config.PrepareStmt, GORM's own
// statement cache does the preparing.
type runner struct {
	db      *gorm.DB
	logger  *slog.Logger
	pool    gorm.ConnPool
	sqlDB   *sql.DB // where statements are prepared; nil: never prepare
	stats   *sql.DB // the pool whose exhaustion bounds the wait; nil: unknown
	wait    time.Duration
	viaGORM bool
	inTx    bool             // on the application's transaction: run once, never retry
	micros  bool             // cut times to whole microseconds: see driverArgs
	catchUp string           // on a Galera node, a statement that waits for the cluster's writes; see transaction
	texts   [numStmts]string // with ? placeholders
	bind    func(string) string
	cur     atomic.Pointer[generation]
	mu      sync.Mutex // serializes refresh
	// lastLogger is the verdict of silent on the last logger it saw.
	lastLogger atomic.Pointer[loggerVerdict]
}

// A generation is the statements' text and prepared statements until the
// database invalidates them (an ALTER TABLE, a pooler that lost them). The
// next generation's text differs by a comment, so that every cache keyed by
// text, pgx's and GORM's included, prepares it afresh on every connection.
type generation struct {
	n     int
	text  [numStmts]string // as sent: the dialect's placeholders on the lean path
	stmts [numStmts]lazyStmt
}

// lazyStmt is prepared on first use; a failed prepare is tried again next
// time rather than remembered, so a passing outage breaks nothing for good.
type lazyStmt struct {
	mu   sync.Mutex
	stmt atomic.Pointer[sql.Stmt]
}

// gormWrite is the setting by which gorm.io/plugin/dbresolver sends a
// statement to the sources: dbresolver.Write sets it, and so does the
// runner, without importing the plugin.
const gormWrite = "gorm:db_resolver:write"

func newRunner(db *gorm.DB, logger *slog.Logger, texts [numStmts]string, viaGORM bool, poolWait time.Duration, causal string) (*runner, error) {
	r := &runner{db: db, logger: logger, pool: db.Statement.ConnPool, texts: texts, viaGORM: viaGORM, wait: poolWait,
		micros: db.Dialector.Name() == "mysql"}
	if poolWait > 0 {
		r.stats, _ = db.DB()
	}
	r.bind = func(q string) string { return bindVars(db, q) }
	if causal != "" {
		r.catchUp = causal + "SELECT 1"
	}
	if _, gormPrepares := r.pool.(*gorm.PreparedStmtDB); !gormPrepares && !viaGORM && db.Dialector.Name() != "postgres" {
		sqlDB, err := db.DB()
		if err != nil {
			return nil, fmt.Errorf("ginsession: the *gorm.DB has no database/sql pool: %w", err)
		}
		r.sqlDB = sqlDB
	}
	r.cur.Store(r.generation(0))
	return r, nil
}

// forTx returns a runner for the application's transaction tx. Its
// statements go through GORM on tx and run once: a statement that failed
// inside a transaction leaves it aborted (PostgreSQL) or rolled back (a
// deadlock), so retrying is the application's, with the whole transaction.
func (r *runner) forTx(tx *gorm.DB) *runner {
	t := &runner{db: tx, logger: r.logger, pool: tx.Statement.ConnPool, texts: r.texts, bind: r.bind, viaGORM: true, inTx: true, micros: r.micros}
	t.cur.Store(t.generation(0))
	return t
}

func (r *runner) generation(n int) *generation {
	g := &generation{n: n}
	for i, q := range r.texts {
		if !r.viaGORM {
			q = r.bind(q) // GORM binds on its own path
		}
		if n > 0 {
			q += " /* ginsession:" + strconv.Itoa(n) + " */"
		}
		g.text[i] = q
	}
	return g
}

// refresh replaces generation g, unless another call did so already, and
// closes g's prepared statements (statements in use finish first).
func (r *runner) refresh(g *generation) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cur.Load() != g {
		return
	}
	r.cur.Store(r.generation(g.n + 1))
	for i := range g.stmts {
		if st := g.stmts[i].stmt.Load(); st != nil {
			_ = st.Close()
		}
	}
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

// query runs statement id and hands its rows to scan, which returns how many
// it read; scan may run more than once, on fresh rows each time, when the
// statement is retried.
func (r *runner) query(ctx context.Context, id stmtID, args []any, scan func(*sql.Rows) (int64, error)) error {
	args = r.driverArgs(args)
	_, err := r.retry(ctx, id, args, true, func(ctx context.Context, g *generation) (int64, error) {
		rows, err := r.rows(ctx, g, id, args)
		if err != nil {
			return 0, err
		}
		defer rows.Close()
		n, err := scan(rows)
		if err != nil {
			return n, err
		}
		if err := rows.Close(); err != nil {
			return n, err
		}
		return n, rows.Err()
	})
	return err
}

// exec runs statement id and returns how many rows it changed.
func (r *runner) exec(ctx context.Context, id stmtID, args ...any) (int64, error) {
	args = r.driverArgs(args)
	return r.retry(ctx, id, args, repeatable(id), func(ctx context.Context, g *generation) (int64, error) {
		if r.viaGORM {
			res := r.db.WithContext(ctx).Set(gormWrite, true).Exec(g.text[id], args...)
			return res.RowsAffected, res.Error
		}
		var res sql.Result
		var err error
		if r.sqlDB != nil {
			var st *sql.Stmt
			if st, err = g.prepared(ctx, r.sqlDB, id); err == nil {
				res, err = st.ExecContext(ctx, args...)
			}
		} else {
			res, err = r.pool.ExecContext(ctx, g.text[id], args...)
		}
		if err != nil {
			return 0, err
		}
		return res.RowsAffected()
	})
}

// readCommitted is the isolation of the store's own transactions that must
// see each statement's latest commits whatever the database's default.
func readCommitted() *sql.TxOptions { return &sql.TxOptions{Isolation: sql.LevelReadCommitted} }

// transaction runs op on a transaction of its own, with opts (nil: the
// database's default isolation) and, on a transient conflict, runs it again
// whole: a statement that failed inside a transaction leaves it aborted. In
// the application's transaction, op runs there, once.
func (r *runner) transaction(ctx context.Context, id stmtID, opts *sql.TxOptions, op func(t *runner) (int64, error)) (int64, error) {
	if r.inTx {
		return op(r)
	}
	return r.retry(ctx, id, nil, false, func(ctx context.Context, _ *generation) (int64, error) {
		var n int64
		txn := func(db *gorm.DB) error {
			return db.Transaction(func(tx *gorm.DB) error {
				var err error
				n, err = op(r.forTx(tx))
				return err
			}, opts)
		}
		db := r.db.WithContext(ctx).Set(gormWrite, true)
		if r.catchUp == "" {
			err := txn(db)
			return n, err
		}
		// A Galera node makes no causal wait for a statement inside a
		// transaction (wsrep_sync_wait): the wait runs just before BEGIN,
		// on the same connection, so that the transaction's statements see
		// every write the cluster committed before it.
		err := db.Connection(func(conn *gorm.DB) error {
			if err := conn.Exec(r.catchUp).Error; err != nil {
				return err
			}
			return txn(conn)
		})
		return n, err
	})
}

// driverArgs returns args as the driver is to get them. The store's
// callers build args afresh for each call, so it may change them in place.
//
// On MySQL and MariaDB it cuts times (time.Time, sql.NullTime) to whole
// microseconds, the columns' precision. go-sql-driver/mysql sends a time
// as a string, in the text protocol (interpolateParams) and the binary one
// alike, with up to nine fractional digits unless the DSN sets
// timeTruncate; MariaDB cannot compare such a string with a DATETIME(6)
// index, so expires_at <= ? read the whole table (and a DELETE locked
// every row it read). With six digits or fewer it is a range on the index.
// Comparisons keep their meaning: MariaDB stores a time cut to its
// microseconds, and a stored time is after t (expires_at > ?), or at or
// before it, exactly when it is so of t cut; before t (<) differs only for
// a stored time in t's own microsecond. MySQL, which rounds what it
// stores, now stores times cut as well.
func (r *runner) driverArgs(args []any) []any {
	if !r.micros {
		return args
	}
	for i, a := range args {
		switch v := a.(type) {
		case time.Time:
			if v.Nanosecond()%1000 != 0 {
				args[i] = v.Truncate(time.Microsecond)
			}
		case sql.NullTime:
			if v.Valid && v.Time.Nanosecond()%1000 != 0 {
				args[i] = sql.NullTime{Time: v.Time.Truncate(time.Microsecond), Valid: true}
			}
		}
	}
	return args
}

func (r *runner) rows(ctx context.Context, g *generation, id stmtID, args []any) (*sql.Rows, error) {
	switch {
	case r.viaGORM:
		return r.db.WithContext(ctx).Set(gormWrite, true).Raw(g.text[id], args...).Rows()
	case r.sqlDB != nil:
		st, err := g.prepared(ctx, r.sqlDB, id)
		if err != nil {
			return nil, err
		}
		return st.QueryContext(ctx, args...)
	default:
		return r.pool.QueryContext(ctx, g.text[id], args...)
	}
}

// prepared returns statement id of g, prepared on first use.
func (g *generation) prepared(ctx context.Context, db *sql.DB, id stmtID) (*sql.Stmt, error) {
	l := &g.stmts[id]
	if st := l.stmt.Load(); st != nil {
		return st, nil
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if st := l.stmt.Load(); st != nil {
		return st, nil
	}
	st, err := db.PrepareContext(ctx, g.text[id])
	if err != nil {
		return nil, fmt.Errorf("prepare %q: %w", g.text[id], err)
	}
	l.stmt.Store(st)
	return st, nil
}

// retry runs op until it succeeds or fails for good. A statement that the
// database invalidated is prepared afresh at once; a transient conflict
// (a deadlock, a serialization failure, a cluster's certification failure)
// is tried again after a jittered pause, at most attemptsFor(id) times, and
// then reported as ErrConflict. Every statement is safe to repeat after those:
// each is one implicit transaction, and a conflict means it did not commit.
// A lost or refused connection is tried again on a fresh one, within
// connRetryBudget, when the statement provably never ran, or when running
// it twice is harmless (again: a read, or a repeatable write): any other
// write that may have run is not run twice (the save path asks the row
// whether it landed: Store.landed).
func (r *runner) retry(ctx context.Context, id stmtID, args []any, again bool, op func(context.Context, *generation) (int64, error)) (int64, error) {
	if r.inTx {
		return op(ctx, r.cur.Load())
	}
	refreshes := 0
	connTries := 0             // runs again for a connection
	var connWait time.Duration // paused for connections so far
	for attempt := 1; ; attempt++ {
		g := r.cur.Load()
		begin := time.Now()
		n, err := r.bounded(ctx, func(ctx context.Context) (int64, error) { return op(ctx, g) })
		if !r.viaGORM && args != nil { // GORM logs its own path, and a transaction's statements
			r.trace(ctx, begin, g.text[id], args, n, err)
		}
		switch kind := classify(err); kind {
		case errNone:
			return n, nil
		case errStale:
			if refreshes < 2 {
				refreshes++
				attempt--
				r.logger.InfoContext(ctx, "the database invalidated the session statements; preparing them afresh", "error", err)
				r.refresh(g)
				continue
			}
		case errConnLost, errNotSent:
			// A read (or a repeatable write) runs again as often as an unsent
			// statement: the pool may hand it another connection the
			// restart broke.
			if kind == errConnLost && !again || connWait >= connRetryBudget {
				return n, err
			}
			pause := min(connRetryBase<<min(connTries, 6), connRetryBudget-connWait)
			connTries++
			connWait += pause
			attempt--
			r.logger.InfoContext(ctx, "the database connection was lost or refused; running the statement again on a fresh one", "pause", pause, "error", err)
			if werr := sleep(ctx, pause); werr != nil {
				return n, err
			}
			continue
		case errTransient:
			if attempt == attemptsFor(id) {
				return n, fmt.Errorf("%w: gave up after %d attempts: %w", ErrConflict, attempt, err)
			}
			r.logger.DebugContext(ctx, "statement met a transient conflict; trying again", "attempt", attempt, "error", err)
			if werr := backoff(ctx, attempt); werr != nil {
				return n, err
			}
			continue
		}
		return n, err
	}
}

// bounded runs op, with its wait for a connection bounded when the pool
// has none free: a response written inside the application's own
// transaction on a small pool would otherwise wait forever for the
// connection that transaction holds.
func (r *runner) bounded(ctx context.Context, op func(context.Context) (int64, error)) (int64, error) {
	if r.stats == nil {
		return op(ctx)
	}
	st := r.stats.Stats()
	if st.MaxOpenConnections == 0 || st.InUse < st.MaxOpenConnections {
		return op(ctx)
	}
	waitCtx, cancel := context.WithTimeout(ctx, r.wait)
	defer cancel()
	n, err := op(waitCtx)
	if err != nil && ctx.Err() == nil && errors.Is(waitCtx.Err(), context.DeadlineExceeded) {
		return n, fmt.Errorf("%w: all %d connections stayed in use for %s; if the response is written inside the application's own transaction (db.Transaction), the session waits for the connection that transaction holds: call s.Save() before entering it: %w",
			ErrPoolExhausted, st.MaxOpenConnections, r.wait, err)
	}
	return n, err
}

// trace tells the app's GORM logger about a statement, as GORM would: its
// level decides what is printed (slow statements, errors, or everything).
func (r *runner) trace(ctx context.Context, begin time.Time, text string, args []any, n int64, err error) {
	l := r.db.Logger
	if r.silent(l) {
		return // the closure below is an allocation per statement
	}
	l.Trace(ctx, begin, func() (string, int64) {
		return r.db.Dialector.Explain(text, args...), n
	}, err)
}

// loggerVerdict is whether a logger is silent (see runner.silent).
type loggerVerdict struct {
	l      gormlogger.Interface
	silent bool
}

// silent reports whether l is GORM's own logger at level Silent or below
// (logger.Discard among them), whose Trace returns before it looks at
// anything. The verdict for the last logger asked about is kept: the app
// may swap the *gorm.DB's logger at any time, and a look costs reflection.
// Only pointers are kept, since comparing them cannot panic; any logger
// that is not GORM's is traced.
func (r *runner) silent(l gormlogger.Interface) bool {
	if v := r.lastLogger.Load(); v != nil && v.l == l {
		return v.silent
	}
	rv := reflect.ValueOf(l)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return false
	}
	v := &loggerVerdict{l: l}
	if t := rv.Type().Elem(); t.PkgPath() == "gorm.io/gorm/logger" && t.Name() == "logger" {
		level := rv.Elem().FieldByName("LogLevel")
		v.silent = level.IsValid() && level.Kind() == reflect.Int && gormlogger.LogLevel(level.Int()) <= gormlogger.Silent
	}
	r.lastLogger.Store(v)
	return v.silent
}
