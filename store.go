package ginsession

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"
	"gorm.io/gorm"
)

// Cleanup deletes in batches and rests after each, so that requests never
// wait long behind it and take the most of the database's time while it
// runs.
const (
	// cleanupBatch bounds how many rows one DELETE of Cleanup removes on a
	// database server, whose row locks let requests for live sessions run
	// beside it.
	cleanupBatch = 500
	// cleanupBatchSQLite is the bound on SQLite, where a DELETE holds the
	// only write lock: a request that finds it taken sleeps in SQLite's
	// busy handler, 1 ms, then 2, 5, 10, ...: a batch of expired rows
	// strewn over the table writes a few pages a row, so it is kept short.
	cleanupBatchSQLite = 50
	// cleanupRestFactor is how many times longer than its last batch took
	// Cleanup rests before the next: it then uses at most half of one
	// connection's time, and requests get the database in between.
	cleanupRestFactor = 1
	// cleanupRestFactorMySQL is the factor on MySQL and MariaDB, where
	// the batch's statement is only part of its work: InnoDB only marks
	// the rows deleted, and its purge threads remove them and their index
	// entries after the commit, on the same cores as the requests. With
	// the factor 1, at ten million rows under load, the clients' p99 rose
	// 1.7x to 2.4x during a backlog, against 1.0x to 1.6x on PostgreSQL,
	// whose VACUUM comes later; with 2 the first run gave 1.5x (and 2.3x
	// for a cleanup of 1% of the table, 2.0x before), and a run whose
	// window without a cleanup started on a settled server 2.3x in both
	// cases: not shown to lower the p99, which the clients' contention for
	// two cores sets (bench/RESULTS.md). Kept so that the purge keeps up
	// with the batches rather than working on after Cleanup returns, which
	// no run has measured yet.
	cleanupRestFactorMySQL = 2
	// cleanupMinRest is the shortest rest: longer than SQLite's first busy
	// sleep, so that a request that found a batch's lock wakes to a free
	// database rather than to the next batch.
	cleanupMinRest = 2 * time.Millisecond
)

// A Store keeps sessions in one table of a GORM database. It is safe for
// concurrent use; create one per table at start-up and share it.
type Store struct {
	db  *gorm.DB
	cfg config
	run *runner
	// sealer encrypts the data column; nil without WithEncryption.
	sealer *sealer
	// tokenHeaderKey is WithTokenHeader's header in canonical form, or "".
	tokenHeaderKey string
	// jsonCodec is whether cfg.codec is JSONCodec, whose fast paths apply.
	jsonCodec bool
	// nextCleanup is when, in Unix nanoseconds of cfg.now, a request may next
	// start a background cleanup.
	nextCleanup atomic.Int64
	// locks serializes the saves of one session within this process.
	locks keyedLocks
}

// NewStore migrates the session table in db and returns a store for it.
// It fails on invalid options or when the table cannot be migrated.
func NewStore(db *gorm.DB, opts ...Option) (*Store, error) {
	if db == nil {
		return nil, errors.New("ginsession: NewStore needs a *gorm.DB, got nil")
	}
	if db.Config == nil || db.Dialector == nil || db.Statement == nil || db.Statement.ConnPool == nil {
		return nil, errors.New("ginsession: the *gorm.DB is not connected to a database: check the error gorm.Open returned")
	}
	cfg := defaultConfig()
	for _, opt := range opts {
		opt(&cfg)
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	// Each statement of the store stands alone, so GORM's implicit
	// transaction would only add BEGIN and COMMIT round trips.
	db = db.Session(&gorm.Session{SkipDefaultTransaction: true, NewDB: true})
	if err := migrate(db, cfg.tableName); err != nil {
		return nil, err
	}
	st := &Store{db: db, cfg: cfg}
	if cfg.tokenHeader != "" {
		st.tokenHeaderKey = http.CanonicalHeaderKey(cfg.tokenHeader)
	}
	_, st.jsonCodec = cfg.codec.(JSONCodec)
	if len(cfg.keys) > 0 {
		var err error
		if st.sealer, err = newSealer(cfg.keys); err != nil {
			return nil, fmt.Errorf("%w: %w", errInvalidOptions, err)
		}
	}
	causal, err := causalPrefix(context.Background(), db, cfg.logger)
	if err != nil {
		return nil, err
	}
	var table strings.Builder
	db.Dialector.QuoteTo(&table, cfg.tableName)
	viaGORM := len(db.Config.Plugins) > 0 || cfg.gormCallbacks
	if st.run, err = newRunner(db, cfg.logger, st.statements(table.String(), causal), viaGORM, cfg.poolWait, causal); err != nil {
		return nil, err
	}
	st.nextCleanup.Store(cfg.now().Add(cfg.cleanupInterval).UnixNano())
	if st.sealer != nil {
		// In the background: on a large table the look for an unsealed
		// row may take seconds, which start-up should not wait for.
		go st.warnUnsealed(context.Background())
	}
	return st, nil
}

// Handler returns the middleware that attaches a session to each request.
func (st *Store) Handler() gin.HandlerFunc { return func(c *gin.Context) { st.handle(c, false) } }

// Cleanup deletes expired sessions and returns how many it deleted. It
// deletes in batches (500 rows, 50 on SQLite), oldest first down the
// expiry index, each batch a statement of its own, and rests between
// batches as long as the last one took (at least 2 ms; twice as long on
// MySQL and MariaDB, whose purge threads finish a batch's work after it):
// it takes at most half of one connection's time, so that requests for
// live sessions, which it never holds up for longer than a batch, feel
// little of it. A backlog is cleared at about half the rate the database
// could delete it, a third on MySQL (bench/RESULTS.md gives measured
// rates). With nothing to delete it is one index probe. It stops early,
// with the context's error, when ctx ends; the batches done by then stay
// done.
func (st *Store) Cleanup(ctx context.Context) (int64, error) {
	now := st.cfg.now().UTC()
	batch := st.cleanupBatch()
	from := time.Unix(0, 0).UTC() // before any session's expiry: the index's oldest end
	var total int64
	defer func() {
		if total > 0 { // batches commit one by one: tell of them however it ends
			st.emit(context.WithoutCancel(ctx), Event{Kind: EventCleanedUp, Count: total})
		}
	}()
	if st.db.Dialector.Name() == "postgres" {
		// One index probe, where a batch would cost a transaction.
		found, err := st.anyExpired(ctx, now)
		if err != nil {
			return 0, fmt.Errorf("ginsession: cleanup: %w", err)
		}
		if !found {
			return 0, nil
		}
	}
	for {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("ginsession: cleanup: %w", err)
		}
		began := time.Now() // the rest is real time, whatever cfg.now says
		n, last, err := st.deleteExpired(ctx, now, from)
		total += n
		if err != nil {
			return total, fmt.Errorf("ginsession: cleanup: %w", err)
		}
		if n < int64(batch) {
			return total, nil
		}
		from = last
		rest := time.NewTimer(max(cleanupMinRest, st.cleanupRestFactor()*time.Since(began)))
		select {
		case <-ctx.Done():
			rest.Stop()
			return total, fmt.Errorf("ginsession: cleanup: %w", ctx.Err())
		case <-rest.C:
		}
	}
}

// deleteExpired deletes a batch of the rows that expired at or before now,
// from the expiry from on, and returns how many it deleted and where the
// next batch is to start.
//
// On PostgreSQL the next batch starts at the latest expiry this one
// deleted. A deleted row's index entries stay until VACUUM, and a walk
// from the index's oldest end passes every one the batches before left:
// a backlog of millions took longer with each batch, the next 500 rows
// hundreds of milliseconds after a million deleted. A row of an older
// expiry that this walk then misses (one a concurrent batch had locked) is
// left for the next cleanup. Elsewhere a deleted row leaves the index with
// it (SQLite), or soon after (InnoDB's purge), and the walk starts at from
// every time.
func (st *Store) deleteExpired(ctx context.Context, now, from time.Time) (n int64, last time.Time, err error) {
	if st.db.Dialector.Name() != "postgres" {
		n, err = st.run.exec(ctx, sDeleteExpired, now, from)
		return n, from, err
	}
	// At READ COMMITTED whatever the database's default: a row a batch
	// locks is checked again against its latest version (a request that
	// moved its expiry keeps it), where at SERIALIZABLE the batch would
	// fail instead, and batches of instances cleaning up at once, whose
	// walks cross one another's deleted rows, would fail and run again
	// over and over.
	_, err = st.run.transaction(ctx, sDeleteExpired, readCommitted(), func(t *runner) (int64, error) {
		n, last = 0, from
		err := t.query(ctx, sDeleteExpired, []any{now, from}, func(rows *sql.Rows) (int64, error) {
			var latest sql.NullTime
			for rows.Next() {
				if err := rows.Scan(&n, &latest); err != nil {
					return 0, err
				}
			}
			if latest.Valid {
				last = latest.Time
			}
			return n, nil
		})
		return n, err
	})
	return n, last, err
}

// anyExpired reports whether a row expired at or before now
// (PostgreSQL's sAnyExpired).
func (st *Store) anyExpired(ctx context.Context, now time.Time) (bool, error) {
	found := false
	err := st.run.query(ctx, sAnyExpired, []any{now}, func(rows *sql.Rows) (int64, error) {
		found = rows.Next()
		return 0, nil
	})
	return found, err
}

// cleanupBatch is how many rows a DELETE of Cleanup removes at most.
func (st *Store) cleanupBatch() int {
	if st.db.Dialector.Name() == "sqlite" {
		return cleanupBatchSQLite
	}
	return cleanupBatch
}

// cleanupRestFactor is how many times its last batch's time Cleanup rests.
func (st *Store) cleanupRestFactor() time.Duration {
	if st.db.Dialector.Name() == "mysql" {
		return cleanupRestFactorMySQL
	}
	return cleanupRestFactor
}

// maybeCleanup starts a background cleanup when the interval has passed.
// The goroutine ends with its work; nothing needs stopping.
func (st *Store) maybeCleanup() {
	if st.cfg.cleanupInterval <= 0 {
		return
	}
	next := st.nextCleanup.Load()
	now := st.cfg.now()
	if now.UnixNano() < next ||
		!st.nextCleanup.CompareAndSwap(next, now.Add(st.cfg.cleanupInterval).UnixNano()) {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), st.cfg.cleanupInterval)
		defer cancel()
		n, err := st.Cleanup(ctx)
		if err != nil {
			st.cfg.logger.Error("session cleanup failed", "error", err, "deleted", n)
			return
		}
		st.cfg.logger.Debug("session cleanup", "deleted", n)
	}()
}

// keyedLocks holds one mutex per key in use, and none for keys not in use.
type keyedLocks struct {
	mu sync.Mutex
	m  map[string]*keyedLock
	// spare is a lock no key uses any more, for the next key: one save
	// after another then allocates none. A lock is spare only once its
	// last user is gone (users 0, out of m), so no one else can hold it.
	spare *keyedLock
}

type keyedLock struct {
	sync.Mutex
	users int
}

// lock locks key and returns its lock, for unlock: a closure to unlock it
// would be an allocation per save.
func (k *keyedLocks) lock(key string) *keyedLock {
	k.mu.Lock()
	if k.m == nil {
		k.m = map[string]*keyedLock{}
	}
	l := k.m[key]
	if l == nil {
		if l, k.spare = k.spare, nil; l == nil {
			l = &keyedLock{}
		}
		k.m[key] = l
	}
	l.users++
	k.mu.Unlock()
	l.Lock()
	return l
}

// unlock unlocks l, which lock(key) returned.
func (k *keyedLocks) unlock(key string, l *keyedLock) {
	l.Unlock()
	k.mu.Lock()
	if l.users--; l.users == 0 {
		delete(k.m, key)
		k.spare = l
	}
	k.mu.Unlock()
}
