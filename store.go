package ginsession

import (
	"context"
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

// cleanupBatch bounds how many rows one DELETE of Cleanup removes, so that
// requests never wait long behind it.
const cleanupBatch = 500

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

// Cleanup deletes expired sessions in batches of a bounded size and returns
// how many it deleted. It stops early, with the context's error, when ctx
// ends.
func (st *Store) Cleanup(ctx context.Context) (int64, error) {
	now := st.cfg.now().UTC()
	var total int64
	defer func() {
		if total > 0 { // batches commit one by one: tell of them however it ends
			st.emit(context.WithoutCancel(ctx), Event{Kind: EventCleanedUp, Count: total})
		}
	}()
	for {
		if err := ctx.Err(); err != nil {
			return total, fmt.Errorf("ginsession: cleanup: %w", err)
		}
		n, err := st.deleteExpired(ctx, now)
		total += n
		if err != nil {
			return total, fmt.Errorf("ginsession: cleanup: %w", err)
		}
		if n < cleanupBatch {
			return total, nil
		}
	}
}

func (st *Store) deleteExpired(ctx context.Context, now time.Time) (int64, error) {
	return st.run.exec(ctx, sDeleteExpired, now)
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
