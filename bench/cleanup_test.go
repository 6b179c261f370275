package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
)

// expiredRows is how many expired sessions the cleanup measurement
// deletes; BENCH_EXPIRED_ROWS overrides it for a quick try.
func expiredRows(b *testing.B) int {
	n := 1_000_000
	if v := os.Getenv("BENCH_EXPIRED_ROWS"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n <= 0 {
			b.Fatalf("BENCH_EXPIRED_ROWS=%q: want a positive number", v)
		}
	}
	return n
}

// BenchmarkCleanupUnderLoad measures Store.Cleanup deleting a million
// expired sessions while four clients keep reading and writing live ones,
// and the clients' latency with and without the cleanup running, on each
// server. Run it with -benchtime=1x: one iteration takes a minute or so,
// the seeding of the expired rows (untimed) included.
func BenchmarkCleanupUnderLoad(b *testing.B) {
	eachServer(b, func(b *testing.B, srv server, dsn string) {
		t := srv.connect(b, dsn)
		t.fresh(b, ginsessionTable)
		st, err := ginsession.NewStore(t.db, ginsession.WithTableName(ginsessionTable), ginsession.WithCleanupInterval(0))
		if err != nil {
			b.Fatal(err)
		}
		r := gin.New()
		r.Use(st.Handler())
		r.GET("/read", func(c *gin.Context) {
			v, _ := ginsession.Get[string](ginsession.Default(c), "user")
			c.String(http.StatusOK, v)
		})
		r.GET("/write", func(c *gin.Context) {
			s := ginsession.Default(c)
			s.Set("user", "alice")
			s.Set("n", c.Query("n"))
			c.String(http.StatusOK, "ok")
		})
		cookies := make([]string, 200)
		for i := range cookies {
			var ok bool
			var why string
			if cookies[i], ok, why = newSession(r); !ok {
				b.Fatal(why)
			}
		}
		rows := expiredRows(b)

		for b.Loop() {
			b.StopTimer()
			seedExpired(b, t, rows)
			b.StartTimer()
			base := traffic(b, r, cookies, func() { time.Sleep(3 * time.Second) })
			var deleted int64
			var took time.Duration
			during := traffic(b, r, cookies, func() {
				start := time.Now()
				deleted, err = st.Cleanup(context.Background())
				took = time.Since(start)
			})
			if err != nil || deleted != int64(rows) {
				b.Fatalf("cleanup deleted %d of %d: %v", deleted, rows, err)
			}
			b.ReportMetric(took.Seconds(), "cleanup-s")
			b.ReportMetric(float64(deleted), "rows-deleted")
			b.ReportMetric(percentile(base, 50), "idle-p50-µs")
			b.ReportMetric(percentile(base, 99), "idle-p99-µs")
			b.ReportMetric(percentile(during, 50), "cleanup-p50-µs")
			b.ReportMetric(percentile(during, 99), "cleanup-p99-µs")
		}
	})
}

// seedExpired inserts n expired rows into ginsession's table in one
// transaction, 500 rows to a statement, which is far faster than n
// requests.
func seedExpired(b *testing.B, t *target, n int) {
	b.Helper()
	const perStmt, cols = 500, 5
	sqlDB, err := t.db.DB()
	if err != nil {
		b.Fatal(err)
	}
	tx, err := sqlDB.Begin()
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback() // after Commit, a no-op
	created := time.Now().Add(-30 * 24 * time.Hour).UTC()
	for done := 0; done < n; done += perStmt {
		rows := min(perStmt, n-done)
		var q strings.Builder
		q.WriteString("INSERT INTO " + ginsessionTable + " (id, data, user_id, expires_at, created_at, updated_at, last_seen_at, user_agent, client_ip, version) VALUES ")
		args := make([]any, 0, rows*cols)
		for i := range rows {
			if i > 0 {
				q.WriteString(", ")
			}
			marks := strings.Split(placeholders(t.srv.dialect, i*cols+1, cols), ", ")
			fmt.Fprintf(&q, `(%s, '{"values":{}}', '', %s, %s, %s, %s, '', '', 1)`, marks[0], marks[1], marks[2], marks[3], marks[4])
			expired := created.Add(time.Duration(done+i) * time.Millisecond)
			args = append(args, fmt.Sprintf("%064x", done+i), expired, created, created, created)
		}
		if _, err := tx.Exec(q.String(), args...); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// traffic runs four clients doing reads and writes (one in four) until
// during returns, and gives every request's latency in microseconds.
func traffic(b *testing.B, r *gin.Engine, cookies []string, during func()) []float64 {
	var mu sync.Mutex
	var latencies []float64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for c := range 4 {
		wg.Go(func() {
			w := &sink{h: http.Header{}}
			var mine []float64
			for i := 0; ; i++ {
				select {
				case <-stop:
					mu.Lock()
					latencies = append(latencies, mine...)
					mu.Unlock()
					return
				default:
				}
				path := "/read"
				if i%4 == 0 {
					path = "/write?n=" + strconv.Itoa(i)
				}
				req := httptest.NewRequest(http.MethodGet, path, nil)
				req.Header.Set("Cookie", cookies[(c*len(cookies)/4+i)%len(cookies)])
				w.reset()
				start := time.Now()
				r.ServeHTTP(w, req)
				mine = append(mine, float64(time.Since(start).Microseconds()))
				if w.code != http.StatusOK {
					b.Errorf("%s: status %d", path, w.code)
				}
			}
		})
	}
	during()
	close(stop)
	wg.Wait()
	return latencies
}

func percentile(v []float64, p float64) float64 {
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s) == 0 {
		return 0
	}
	return s[min(len(s)-1, int(float64(len(s))*p/100))]
}
