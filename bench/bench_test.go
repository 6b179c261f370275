// Package bench compares ginsession with gin-contrib/sessions (gorm backend)
// and scs (gormstore), and with a hand-written database/sql floor, on full
// requests through a Gin engine in process. Every library gets its own SQLite
// file with the same DSN and the same *gorm.DB settings. bench/run runs the
// benchmarks and writes RESULTS.md.
package bench

import (
	"database/sql"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession/internal/testkit"
	sqlite3 "github.com/mattn/go-sqlite3"
	"gorm.io/driver/sqlite"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// openDB opens a fresh SQLite file in WAL mode, counting statements at the
// driver.
func openDB(b *testing.B) (*gorm.DB, *testkit.Counter) {
	counter := &testkit.Counter{Quiet: true}
	dsn := "file:" + filepath.Join(b.TempDir(), "bench.db") + "?_journal_mode=WAL&_busy_timeout=5000&_synchronous=NORMAL"
	sqlDB := sql.OpenDB(testkit.Count(testkit.DSNConnector(&sqlite3.SQLiteDriver{}, dsn), counter))
	b.Cleanup(func() { sqlDB.Close() })
	db, err := gorm.Open(sqlite.Dialector{Conn: sqlDB}, &gorm.Config{Logger: logger.Discard})
	if err != nil {
		b.Fatal(err)
	}
	return db, counter
}

// sink is a ResponseWriter that keeps the status and headers and drops the
// body, reusable across iterations.
type sink struct {
	h    http.Header
	code int
	body []byte
}

func (s *sink) Header() http.Header { return s.h }
func (s *sink) Write(p []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	s.body = append(s.body, p...)
	return len(p), nil
}
func (s *sink) WriteHeader(code int) { s.code = code }
func (s *sink) reset() {
	clear(s.h)
	s.code = 0
	s.body = s.body[:0]
}

// newSession makes a session through the library's own /write route and
// returns the Cookie header that names it.
func newSession(b *testing.B, r *gin.Engine) string {
	w := &sink{h: http.Header{}}
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/write?n=0", nil))
	set := w.h.Get("Set-Cookie")
	if w.code != http.StatusOK || set == "" {
		b.Fatalf("creating a session: status %d, Set-Cookie %q", w.code, set)
	}
	return strings.SplitN(set, ";", 2)[0]
}

type scenario struct {
	name   string
	path   string
	cookie bool // the request brings an existing session
}

var scenarios = []scenario{
	{"untouched", "/none", true},
	{"read", "/read", true},
	{"write", "/write", true},
	{"new", "/write", false},
}

// BenchmarkRequest measures one request of each scenario, and a bare Gin
// handler with no session middleware for scale.
func BenchmarkRequest(b *testing.B) {
	for _, sc := range scenarios {
		for _, lib := range libraries {
			b.Run("scenario="+sc.name+"/lib="+lib.name, func(b *testing.B) {
				db, counter := openDB(b)
				runScenario(b, lib.engine(b, db), sc, counter)
			})
		}
	}
	b.Run("scenario=untouched/lib=bare", func(b *testing.B) {
		r := gin.New()
		r.GET("/none", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
		runScenario(b, r, scenarios[0], &testkit.Counter{})
	})
}

func runScenario(b *testing.B, r *gin.Engine, sc scenario, counter *testkit.Counter) {
	base := httptest.NewRequest(http.MethodGet, sc.path, nil)
	if sc.cookie && hasWrite(r) {
		base.Header.Set("Cookie", newSession(b, r))
	}
	w := &sink{h: http.Header{}}
	before := counter.Total()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		if sc.path == "/write" {
			base.URL.RawQuery = "n=" + strconv.Itoa(n)
		}
		// A fresh request each time (one allocation, the same for every
		// library): gorilla/sessions caches sessions in the request itself.
		req := new(http.Request)
		*req = *base
		w.reset()
		r.ServeHTTP(w, req)
		if w.code != http.StatusOK {
			b.Fatalf("status %d", w.code)
		}
		if sc.name == "read" && string(w.body) != "alice" {
			b.Fatalf("read %q, want alice: the session was not found", w.body)
		}
	}
	b.ReportMetric(float64(counter.Total()-before)/float64(n), "stmts/op")
}

// hasWrite reports whether r serves /write (the bare engine does not).
func hasWrite(r *gin.Engine) bool {
	for _, route := range r.Routes() {
		if route.Path == "/write" {
			return true
		}
	}
	return false
}

// BenchmarkParallel runs mixes of reads and writes from parallel clients over
// 256 sessions.
func BenchmarkParallel(b *testing.B) {
	mixes := []struct {
		name   string
		writes int // percent
	}{{"read-heavy", 10}, {"write-heavy", 50}}
	for _, mix := range mixes {
		for _, lib := range libraries {
			b.Run("mix="+mix.name+"/lib="+lib.name, func(b *testing.B) {
				db, counter := openDB(b)
				r := lib.engine(b, db)
				cookies := make([]string, 256)
				for i := range cookies {
					cookies[i] = newSession(b, r)
				}
				var failed, total atomic.Int64
				before := counter.Total()
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
					w := &sink{h: http.Header{}}
					for i := 0; pb.Next(); i++ {
						path := "/read"
						if rng.IntN(100) < mix.writes {
							path = "/write?n=" + strconv.Itoa(i)
						}
						req := httptest.NewRequest(http.MethodGet, path, nil)
						req.Header.Set("Cookie", cookies[rng.IntN(len(cookies))])
						w.reset()
						r.ServeHTTP(w, req)
						total.Add(1)
						if w.code != http.StatusOK {
							failed.Add(1)
						}
					}
				})
				b.ReportMetric(float64(counter.Total()-before)/float64(total.Load()), "stmts/op")
				b.ReportMetric(float64(failed.Load())/float64(total.Load()), "errors/op")
			})
		}
	}
}
