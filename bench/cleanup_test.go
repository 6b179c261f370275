package bench

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
	"gorm.io/gorm"
)

// expiredRows is how many expired sessions the cleanup measurement deletes.
const expiredRows = 1_000_000

// BenchmarkCleanupUnderLoad measures Store.Cleanup deleting a million
// expired sessions while four clients keep reading and writing live ones,
// and the clients' latency with and without the cleanup running. Run it
// with -benchtime=1x: one iteration takes about a minute.
func BenchmarkCleanupUnderLoad(b *testing.B) {
	db, _ := openDB(b)
	st, err := ginsession.NewStore(db, ginsession.WithCleanupInterval(0))
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
		cookies[i] = newSession(b, r)
	}
	seedExpired(b, db, expiredRows)

	for b.Loop() {
		base := traffic(b, r, cookies, func() { time.Sleep(3 * time.Second) })
		var deleted int64
		var took time.Duration
		during := traffic(b, r, cookies, func() {
			start := time.Now()
			deleted, err = st.Cleanup(context.Background())
			took = time.Since(start)
		})
		if err != nil || deleted != expiredRows {
			b.Fatalf("cleanup deleted %d of %d: %v", deleted, expiredRows, err)
		}
		b.ReportMetric(took.Seconds(), "cleanup-s")
		b.ReportMetric(float64(deleted), "rows-deleted")
		b.ReportMetric(percentile(base, 50), "idle-p50-µs")
		b.ReportMetric(percentile(base, 99), "idle-p99-µs")
		b.ReportMetric(percentile(during, 50), "cleanup-p50-µs")
		b.ReportMetric(percentile(during, 99), "cleanup-p99-µs")
	}
}

// seedExpired inserts n expired rows into the session table in one
// transaction, which is far faster than n requests.
func seedExpired(b *testing.B, db *gorm.DB, n int) {
	b.Helper()
	sqlDB, err := db.DB()
	if err != nil {
		b.Fatal(err)
	}
	tx, err := sqlDB.Begin()
	if err != nil {
		b.Fatal(err)
	}
	stmt, err := tx.Prepare(`INSERT INTO gin_sessions (id, data, user_id, expires_at, created_at, updated_at, last_seen_at, user_agent, client_ip, version)
		VALUES (?, '{"values":{}}', '', ?, ?, ?, ?, '', '', 1)`)
	if err != nil {
		b.Fatal(err)
	}
	created := time.Now().Add(-30 * 24 * time.Hour).UTC()
	for i := range n {
		expired := created.Add(time.Duration(i) * time.Millisecond)
		if _, err := stmt.Exec(fmt.Sprintf("%064x", i), expired, created, created, created); err != nil {
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
