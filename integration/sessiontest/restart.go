package sessiontest

import (
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RestartReport is what a user saw of one server restart (RunRestart).
type RestartReport struct {
	Requests int
	// Down is how long the server refused connections, as the restart
	// measured it; Unreachable, from the restart's start until a new
	// connection through the app's DSN ran a statement again (longer than
	// Down when a pooler in front of the server is slow to reconnect).
	Down, Unreachable time.Duration
	// InFlight counts the requests under way when the server began to
	// stop; WhileDown, those that started after that, before the database
	// was reachable again; After, those that started once it was.
	InFlight, WhileDown, After RestartCounts
	// ReadsBeyondBudget counts the reads that failed having started more
	// than the store's retry budget before the database was reachable.
	ReadsBeyondBudget int
	// FailedWritesApplied counts increments answered 5xx that the session
	// kept all the same: the user, told it failed, would do it again.
	FailedWritesApplied int
	// Errors are the distinct session errors the app logged, with how often.
	Errors []string
}

// RestartCounts counts reads and writes, and those of them that were
// answered with a 5xx or not at all.
type RestartCounts struct{ Reads, Reads5xx, Writes, Writes5xx int }

func (c *RestartCounts) add(kind string, failed bool) {
	n, f := &c.Reads, &c.Reads5xx
	if kind == "write" {
		n, f = &c.Writes, &c.Writes5xx
	}
	*n++
	if failed {
		*f++
	}
}

// restartClients is how many browsers run at once during a restart;
// restartWarmup and restartAfter are how long they run before it and
// after the server is back.
const (
	restartClients = 8
	restartWarmup  = time.Second
	restartAfter   = 2 * time.Second
)

// retryBudget is how long the store goes on running a statement again
// when its connection was refused, or lost with a read in flight
// (docs/production.md: "for up to 3 s in all"), its last try coming no
// sooner than that after the first. A read that started less than
// retryBudget-retryMargin before the database was reachable again had a
// try after it was: the margin allows for the probe that finds it
// reachable polling, and for the machine being busy.
const (
	retryBudget = 3 * time.Second
	retryMargin = 200 * time.Millisecond
)

// A Restart stops a database server (or the pooler in front of one) and
// starts it again. It returns once the server accepts connections again,
// with the moment it began to stop it and how long it was down.
type Restart func() (stopped time.Time, down time.Duration, err error)

// RunRestart signs restartClients browsers in on an app server on the
// database that open reaches and has each read its counter (GET /n) and
// increment it (POST /inc) in a loop, while restart stops the database (or
// the pooler in front of it) and starts it again.
//
// Busy, the browsers go on while the server is down. Quiet, they pause:
// the restart waits for the requests under way, and the browsers go on
// once the database is reachable again, on an app whose pooled
// connections the server has all closed meanwhile.
//
// It asserts what the users see. A read gets no 5xx unless it started
// more than the store's retry budget before the database was reachable
// again (ReadsBeyondBudget counts those). Every answer agrees with what the browser was told
// before: an increment answered 200 counts exactly once (its answer is one
// more than the last value the browser saw, unless an increment answered
// 5xx came between, which may have been kept), a read answers the last
// value. An increment answered 5xx is not kept. Each session's row was
// saved once per kept increment (its version), and every browser reads its
// final value after the restart. Increments during the restart may fail;
// the report counts them.
func RunRestart(t *testing.T, open Opener, restart Restart, quiet bool) RestartReport {
	db := open(t)
	table := freshTable(t, db)
	a := newApp(t, db, table, nil, counterRoutes)

	browsers := make([]*counterBrowser, restartClients)
	for i := range browsers {
		jar, err := cookiejar.New(nil)
		require.NoError(t, err)
		b := &counterBrowser{user: fmt.Sprintf("user%d", i), url: a.srv.URL,
			hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
		r := b.do(http.MethodPost, "/signin?u="+b.user, restartOp{})
		require.Equal(t, http.StatusOK, r.status, "sign-in before the restart: %s %s", r.body, r.err)
		require.Equal(t, "0", r.body)
		browsers[i] = b
	}

	stop := make(chan struct{})
	var traffic sync.RWMutex // a quiet restart holds it
	var wg sync.WaitGroup
	for i, b := range browsers {
		wg.Go(func() { b.run(uint64(i), stop, &traffic) })
	}
	probe := open(t) // a pool with no connection yet: each try dials anew
	time.Sleep(restartWarmup)
	if quiet {
		traffic.Lock()
	}
	stopped, down, err := restart()
	require.NoError(t, err, "restart")
	reachable(t, probe)
	back := time.Now()
	if quiet {
		traffic.Unlock()
	}
	time.Sleep(restartAfter)
	close(stop)
	wg.Wait()

	rep := RestartReport{Down: down, Unreachable: back.Sub(stopped)}
	for _, b := range browsers {
		for _, r := range b.log {
			rep.Requests++
			failed := r.err != "" || r.status >= 500
			switch {
			case r.end.Before(stopped):
				if failed {
					t.Errorf("%s: a %s before the restart failed: %d %q %s", b.user, r.kind, r.status, r.body, r.err)
				}
			case r.start.Before(stopped):
				rep.InFlight.add(r.kind, failed)
			case r.start.Before(back):
				rep.WhileDown.add(r.kind, failed)
			default:
				rep.After.add(r.kind, failed)
			}
			if r.kind != "read" || !failed || r.end.Before(stopped) {
				continue
			}
			if wait := back.Sub(r.start); wait > retryBudget-retryMargin {
				rep.ReadsBeyondBudget++ // no try of it came after the database was back
			} else {
				t.Errorf("%s: a read that started %s before the database was reachable again failed: %d %q %s",
					b.user, wait.Round(time.Millisecond), r.status, r.body, r.err)
			}
		}
		// The browser's last word: a read once the traffic is over.
		r := b.do(http.MethodGet, "/n", restartOp{})
		if assert.Equal(t, http.StatusOK, r.status, "%s: the final read: %q %s", b.user, r.body, r.err) {
			b.observe(r, restartOp{kind: "read"})
			assert.Equal(t, strconv.Itoa(b.ok200), r.body,
				"%s: the counter is not the number of increments answered 200", b.user)
		}
		rep.FailedWritesApplied += b.failedApplied
		assert.Zero(t, b.failedApplied, "%s: %d increments answered 5xx were kept", b.user, b.failedApplied)
		for _, p := range b.problems {
			t.Errorf("%s: %s", b.user, p)
		}
	}

	// One save per kept increment: an UPDATE applied twice for one request
	// would show as a version ahead of the counter.
	rows := a.rows()
	assert.Len(t, rows, len(browsers), "one session row per browser")
	for _, m := range rows {
		i := slices.IndexFunc(browsers, func(b *counterBrowser) bool { return b.user == m.UserID })
		if !assert.GreaterOrEqual(t, i, 0, "a session row of no browser: %q", m.UserID) {
			continue
		}
		b := browsers[i]
		assert.Equal(t, int64(1+b.known), m.Version,
			"%s: the row was saved %d times for %d kept increments", b.user, m.Version-1, b.known)
	}
	rep.Errors = sessionErrors(a.logs.String())
	return rep
}

// reachable waits until a new connection of db runs a statement.
func reachable(t *testing.T, db DB) {
	deadline := time.Now().Add(time.Minute)
	for {
		err := db.Exec("SELECT 1").Error
		if err == nil {
			return
		}
		require.True(t, time.Now().Before(deadline), "the database is still unreachable a minute after its restart: %v", err)
		time.Sleep(20 * time.Millisecond)
	}
}

// counterRoutes are the app of RunRestart: a sign-in that starts the
// counter at 0, a read of it and an increment, each answering the value.
func counterRoutes(r *gin.Engine) {
	r.POST("/signin", func(c *gin.Context) {
		s := ginsession.Default(c)
		s.Login(c.Query("u"))
		s.Set("n", "0")
		c.String(http.StatusOK, "0")
	})
	counter := func(c *gin.Context) (*ginsession.Session, int, bool) {
		s := ginsession.Default(c)
		v, ok := ginsession.Get[string](s, "n")
		n, err := strconv.Atoi(v)
		if s.UserID() == "" || !ok || err != nil {
			c.String(http.StatusForbidden, "not signed in (n=%q)", v)
			return s, 0, false
		}
		return s, n, true
	}
	r.GET("/n", func(c *gin.Context) {
		if _, n, ok := counter(c); ok {
			c.String(http.StatusOK, "%d", n)
		}
	})
	r.POST("/inc", func(c *gin.Context) {
		if s, n, ok := counter(c); ok {
			s.Set("n", strconv.Itoa(n+1))
			c.String(http.StatusOK, "%d", n+1)
		}
	})
}

// restartOp is one request of a browser and what came of it.
type restartOp struct {
	kind       string // "read" or "write"
	start, end time.Time
	status     int // 0: no answer
	body, err  string
}

// counterBrowser is one signed-in user of RunRestart, with what it was told.
type counterBrowser struct {
	user string
	url  string
	hc   *http.Client
	log  []restartOp

	known         int         // the counter's last value this browser saw
	pending       []restartOp // increments answered 5xx since then
	ok200         int         // increments answered 200
	failedApplied int         // increments answered 5xx that were kept
	problems      []string
}

func (b *counterBrowser) run(seed uint64, stop <-chan struct{}, traffic *sync.RWMutex) {
	rng := rand.New(rand.NewPCG(seed, uint64(time.Now().UnixNano())))
	for {
		select {
		case <-stop:
			return
		default:
		}
		op := restartOp{kind: "read"}
		method, path := http.MethodGet, "/n"
		if rng.IntN(3) == 0 {
			op.kind, method, path = "write", http.MethodPost, "/inc"
		}
		traffic.RLock()
		r := b.do(method, path, op)
		traffic.RUnlock()
		b.log = append(b.log, r)
		b.observe(r, op)
		time.Sleep(time.Duration(2+rng.IntN(6)) * time.Millisecond)
	}
}

// do sends one request; a transport error is kept as the op's err.
func (b *counterBrowser) do(method, path string, op restartOp) restartOp {
	op.start = time.Now()
	req, err := http.NewRequest(method, b.url+path, nil)
	if err != nil {
		panic(err) // the paths are the test's own
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		op.err, op.end = err.Error(), time.Now()
		return op
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	op.status, op.body, op.end = resp.StatusCode, string(body), time.Now()
	return op
}

// observe checks an answer against what the browser knew before it.
func (b *counterBrowser) observe(r, op restartOp) {
	if r.err != "" || r.status >= 500 {
		if op.kind == "write" {
			b.pending = append(b.pending, r) // it may or may not have been kept
		}
		return
	}
	if r.status != http.StatusOK {
		b.problems = append(b.problems, fmt.Sprintf("%s answered %d %q", op.kind, r.status, r.body))
		return
	}
	v, err := strconv.Atoi(r.body)
	if err != nil {
		b.problems = append(b.problems, fmt.Sprintf("%s answered %q", op.kind, r.body))
		return
	}
	lo := b.known // what a read must at least see; an increment, one more
	if op.kind == "write" {
		lo++
	}
	switch {
	case v < lo || v > lo+len(b.pending):
		b.problems = append(b.problems, fmt.Sprintf("%s answered %d after the browser saw %d with %d failed increments since",
			op.kind, v, b.known, len(b.pending)))
	case v > lo:
		b.failedApplied += v - lo
		first, last := b.pending[0], b.pending[len(b.pending)-1]
		b.problems = append(b.problems, fmt.Sprintf("%d of the %d increments answered 5xx (or not at all) between %s and %s were kept; the last got %d %q %s",
			v-lo, len(b.pending), first.start.Format("15:04:05.000"), last.end.Format("15:04:05.000"), last.status, last.body, last.err))
	}
	if op.kind == "write" {
		b.ok200++
	}
	b.known, b.pending = v, nil
}

var sessionErrorRe = regexp.MustCompile(`level=ERROR msg="session error" error="((?:[^"\\]|\\.)*)"`)

// sessionErrors returns the distinct errors the app logged as "session
// error", numbers stripped so that alike ones group, most frequent first.
func sessionErrors(logs string) []string {
	digits := regexp.MustCompile(`[0-9]+`)
	counts := map[string]int{}
	for _, m := range sessionErrorRe.FindAllStringSubmatch(logs, -1) {
		counts[digits.ReplaceAllString(m[1], "N")]++
	}
	var out []string
	for e, n := range counts {
		out = append(out, fmt.Sprintf("%dx %s", n, e))
	}
	slices.SortFunc(out, func(x, y string) int {
		nx, _ := strconv.Atoi(strings.SplitN(x, "x", 2)[0])
		ny, _ := strconv.Atoi(strings.SplitN(y, "x", 2)[0])
		return ny - nx
	})
	return out
}
