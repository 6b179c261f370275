// Package bench compares ginsession with gin-contrib/sessions (gorm backend)
// and scs (gormstore), and with a hand-written database/sql floor, on full
// requests through a Gin engine in process, on each database server it can
// reach: SQLite always, PostgreSQL, MariaDB and PostgreSQL behind PgBouncer
// when their DSNs are in the environment (servers.go). Every library gets
// the same *gorm.DB settings and a table of its own. BenchmarkTableSize
// (size_test.go) measures ginsession alone on a small and a large table.
// bench/run starts the servers, runs the benchmarks and writes RESULTS.md.
package bench

import (
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession/internal/testkit"
)

func init() { gin.SetMode(gin.ReleaseMode) }

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

// statusError describes a response that was not 200 OK.
func statusError(w *sink) string {
	body := strings.TrimSpace(string(w.body))
	if len(body) > 200 {
		body = body[:200] + "…"
	}
	return "status " + strconv.Itoa(w.code) + ": " + body
}

// newSession makes a session through the library's own /write route and
// returns the Cookie header that names it, or why it could not.
func newSession(r *gin.Engine) (string, bool, string) {
	w := &sink{h: http.Header{}}
	r.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/write?n=0", nil))
	set := w.h.Get("Set-Cookie")
	if w.code != http.StatusOK {
		return "", false, "creating a session: " + statusError(w)
	}
	if set == "" {
		return "", false, "creating a session: no Set-Cookie"
	}
	return strings.SplitN(set, ";", 2)[0], true, ""
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

// BenchmarkRequest measures one request of each scenario on each server,
// and a bare Gin handler with no session middleware for scale.
func BenchmarkRequest(b *testing.B) {
	eachServer(b, func(b *testing.B, srv server, dsn string) {
		for _, sc := range scenarios {
			for _, lib := range libraries {
				b.Run("scenario="+sc.name+"/lib="+lib.name, func(b *testing.B) {
					t := srv.connect(b, dsn)
					runScenario(b, lib, lib.open(b, t), sc, t.counter)
				})
			}
		}
		b.Run("scenario=untouched/lib=bare", func(b *testing.B) {
			r := gin.New()
			r.GET("/none", func(c *gin.Context) { c.String(http.StatusOK, "ok") })
			runScenario(b, library{name: "bare"}, r, scenarios[0], &testkit.Counter{})
		})
	})
}

func runScenario(b *testing.B, lib library, r *gin.Engine, sc scenario, counter *testkit.Counter) {
	base := httptest.NewRequest(http.MethodGet, sc.path, nil)
	if sc.cookie && hasWrite(r) {
		cookie, ok, why := newSession(r)
		if !ok {
			lib.fails(b, why)
		}
		base.Header.Set("Cookie", cookie)
	}
	w := &sink{h: http.Header{}}
	// One request before the clock starts, to tell a library that cannot
	// work on this server (its failure is recorded as such) from one that
	// breaks under load (a failure of the benchmark).
	serve := func(n int) string {
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
			return statusError(w)
		}
		if sc.name == "read" && string(w.body) != "alice" {
			return "read " + strconv.Quote(string(w.body)) + ", want alice: the session was not found"
		}
		return ""
	}
	if why := serve(0); why != "" {
		lib.fails(b, why)
	}
	before := counter.Total()
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		n++
		if why := serve(n); why != "" {
			b.Fatalf("%s fails: request %d: %s", b.Name(), n, why)
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

// A mix is a share of writes among reads, the rest being reads.
type mix struct {
	name   string
	writes int // percent
}

// mixes are the loads of BenchmarkParallel; BenchmarkThroughput runs the
// first.
var mixes = []mix{{"read-heavy", 10}, {"write-heavy", 50}}

// path gives the route of one request of the mix, drawing from rng; n is
// the value a write stores.
func (m mix) path(rng *rand.Rand, n int) string {
	if rng.IntN(100) < m.writes {
		return "/write?n=" + strconv.Itoa(n)
	}
	return "/read"
}

// BenchmarkParallel runs mixes of reads and writes from parallel clients over
// 256 sessions, on each server.
func BenchmarkParallel(b *testing.B) {
	eachServer(b, func(b *testing.B, srv server, dsn string) {
		for _, mix := range mixes {
			for _, lib := range libraries {
				b.Run("mix="+mix.name+"/lib="+lib.name, func(b *testing.B) {
					t := srv.connect(b, dsn)
					r := lib.open(b, t)
					cookies := make([]string, 256)
					for i := range cookies {
						var ok bool
						var why string
						if cookies[i], ok, why = newSession(r); !ok {
							lib.fails(b, why)
						}
					}
					var failed, total atomic.Int64
					before := t.counter.Total()
					b.ReportAllocs()
					// Time and allocations from here: on a server, making
					// the sessions takes longer than a short run itself.
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						rng := rand.New(rand.NewPCG(rand.Uint64(), 1))
						w := &sink{h: http.Header{}}
						for i := 0; pb.Next(); i++ {
							req := httptest.NewRequest(http.MethodGet, mix.path(rng, i), nil)
							req.Header.Set("Cookie", cookies[rng.IntN(len(cookies))])
							w.reset()
							r.ServeHTTP(w, req)
							total.Add(1)
							if w.code != http.StatusOK {
								failed.Add(1)
							}
						}
					})
					b.ReportMetric(float64(t.counter.Total()-before)/float64(total.Load()), "stmts/op")
					b.ReportMetric(float64(failed.Load())/float64(total.Load()), "errors/op")
				})
			}
		}
	})
}
