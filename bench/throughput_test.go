//go:build unix

package bench

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// throughputClients is how many clients BenchmarkThroughput runs at once,
// each with its own session, cookie jar and connections.
const throughputClients = 64

// BenchmarkThroughput serves each library as two instances of one
// application, each with its own pool of poolSize connections and its own
// HTTP server, sharing one table, and sends them the read-heavy mix of
// BenchmarkParallel from 64 clients, each alternating between the
// instances. An iteration is one request: b.N requests in all, shared
// among the clients; ns/op is wall time per request. It reports req/s,
// cpu-µs/req (this process's user and system time, which covers both
// instances and the clients, per request), errors/op (transport errors
// and responses that are not 2xx), lost/op (reads answered without the
// session's value) and stmts/op. Run it with -benchtime of a few seconds;
// bench/run does with THROUGHPUT=1.
func BenchmarkThroughput(b *testing.B) {
	m := mixes[0]
	eachServer(b, func(b *testing.B, srv server, dsn string) {
		if dsn == "" {
			// openSQLite gives every pool a file of its own: there is no
			// table for two instances to share.
			b.Skipf("two instances need a server to share; %s has none", srv.name)
		}
		for _, lib := range libraries {
			b.Run("mix="+m.name+"/lib="+lib.name, func(b *testing.B) {
				runThroughput(b, lib, srv, dsn, m)
			})
		}
	})
}

func runThroughput(b *testing.B, lib library, srv server, dsn string, m mix) {
	// The first instance starts from fresh tables; the second joins them.
	targets := []*target{srv.connect(b, dsn), srv.connect(b, dsn)}
	urls := make([]string, len(targets))
	for i, t := range targets {
		var r http.Handler
		if i == 0 {
			r = lib.open(b, t)
		} else {
			var err error
			if r, err = lib.engine(t); err != nil {
				lib.fails(b, "second instance: "+err.Error())
			}
		}
		s := httptest.NewServer(r)
		b.Cleanup(s.Close)
		urls[i] = s.URL
	}

	clients := make([]*tputClient, throughputClients)
	for c := range clients {
		cl, why := newTputClient(urls[c%len(urls)])
		if why != "" {
			lib.fails(b, fmt.Sprintf("client %d: %s", c, why))
		}
		b.Cleanup(cl.http.CloseIdleConnections)
		clients[c] = cl
	}

	// Every pool at its size and every connection past its first
	// statements before the clock starts: a short run would otherwise
	// weigh connecting (a process per connection on PostgreSQL) and
	// preparing as much as serving.
	if why := warmUp(clients, urls, m); why != "" {
		lib.fails(b, "warming up: "+why)
	}

	var stmtsBefore int64
	for _, t := range targets {
		stmtsBefore += t.counter.Total()
	}
	var next, failed, lost atomic.Int64
	var firstErr atomic.Pointer[string]
	fail := func(counter *atomic.Int64, why string) {
		counter.Add(1)
		firstErr.CompareAndSwap(nil, &why)
	}
	start := make(chan struct{})
	var wg sync.WaitGroup
	for c, cl := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(rand.Uint64(), uint64(c)))
			<-start
			for i := c; next.Add(1) <= int64(b.N); i++ {
				path := m.path(rng, i)
				status, body, err := cl.get(urls[i%len(urls)] + path)
				switch {
				case err != nil:
					fail(&failed, err.Error())
				case status < 200 || status > 299:
					fail(&failed, fmt.Sprintf("%s: status %d: %s", path, status, snippet(body)))
				case path == "/read" && body != "alice":
					fail(&lost, fmt.Sprintf("/read %q, want alice: the session was not found", snippet(body)))
				}
			}
		})
	}

	b.ResetTimer()
	cpu := cpuTime(b)
	began := time.Now()
	close(start)
	wg.Wait()
	elapsed := time.Since(began)
	cpu = cpuTime(b) - cpu
	b.StopTimer()

	var stmts int64
	for _, t := range targets {
		stmts += t.counter.Total()
	}
	n := float64(b.N)
	b.ReportMetric(n/elapsed.Seconds(), "req/s")
	b.ReportMetric(float64(cpu.Microseconds())/n, "cpu-µs/req")
	b.ReportMetric(float64(failed.Load())/n, "errors/op")
	b.ReportMetric(float64(lost.Load())/n, "lost/op")
	b.ReportMetric(float64(stmts-stmtsBefore)/n, "stmts/op")
	if why := firstErr.Load(); why != nil {
		// Not a failure of the benchmark: the rates above are the result,
		// and the report shows them with this first cause.
		b.Logf("%s: %d errors, %d lost of %d requests; first: %s", b.Name(), failed.Load(), lost.Load(), b.N, *why)
	}
}

// warmUpRequests is how many requests each client sends, half to each
// instance, before BenchmarkThroughput's clock starts.
const warmUpRequests = 16

// warmUp sends warmUpRequests of the mix from every client at once, and
// gives the first failure, if any.
func warmUp(clients []*tputClient, urls []string, m mix) string {
	var firstErr atomic.Pointer[string]
	var wg sync.WaitGroup
	for c, cl := range clients {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(rand.Uint64(), uint64(c)))
			for i := range warmUpRequests {
				path := m.path(rng, i)
				status, body, err := cl.get(urls[i%len(urls)] + path)
				why := ""
				if err != nil {
					why = err.Error()
				} else if status != http.StatusOK {
					why = fmt.Sprintf("%s: status %d: %s", path, status, snippet(body))
				}
				if why != "" {
					firstErr.CompareAndSwap(nil, &why)
					return
				}
			}
		})
	}
	wg.Wait()
	if why := firstErr.Load(); why != nil {
		return *why
	}
	return ""
}

// A tputClient is one user: a cookie jar, which sends the session to both
// instances (cookies do not tell ports apart), and connections of its own.
type tputClient struct {
	http *http.Client
}

// newTputClient makes a client with a session, created through url's /write
// route, or says why it could not.
func newTputClient(url string) (*tputClient, string) {
	jar, err := cookiejar.New(nil)
	if err != nil {
		return nil, err.Error()
	}
	cl := &tputClient{http: &http.Client{Jar: jar, Transport: &http.Transport{}}}
	status, body, err := cl.get(url + "/write?n=0")
	if err != nil {
		return nil, "creating a session: " + err.Error()
	}
	if status != http.StatusOK {
		return nil, fmt.Sprintf("creating a session: status %d: %s", status, snippet(body))
	}
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if len(jar.Cookies(req.URL)) == 0 {
		return nil, "creating a session: no cookie"
	}
	return cl, ""
}

// get sends a GET and reads the whole body, so that the connection is
// reused.
func (cl *tputClient) get(url string) (int, string, error) {
	resp, err := cl.http.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body), err
}

// snippet shortens a response body for a message.
func snippet(body string) string {
	body = strings.TrimSpace(body)
	if len(body) > 200 {
		return body[:200] + "…"
	}
	return body
}

// cpuTime is the user and system time this process has used so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
