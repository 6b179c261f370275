package sessiontest

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// RunLoad drives clients concurrent clients for at least d against two app
// servers sharing the database that open reaches. Most clients own a session
// and mix reads, writes, new sessions, RenewID and Destroy; the rest share a
// session in pairs and write to it at the same time. Every client keeps a
// ledger of what it wrote. At the end no request may have failed with 5xx,
// every ledger must match what the database holds, no destroyed or renewed
// ID may work, and no "database is locked" may have been logged.
func RunLoad(t *testing.T, open Opener, clients int, d time.Duration) {
	dbA, dbB := open(t), open(t)
	table := freshTable(t, dbA)
	servers := []*app{newApp(t, dbA, table, nil, routes), newApp(t, dbB, table, nil, routes)}
	l := &loadRun{t: t, servers: servers, deadline: time.Now().Add(d)}

	pairs := clients / 8
	var wg sync.WaitGroup
	for i := range clients - 2*pairs {
		wg.Go(func() { l.solo(i) })
	}
	for p := range pairs {
		shared := l.newBrowser()
		token := l.mustSet(shared, servers[0], fmt.Sprintf("pair%d", p), "start")
		for member := range 2 {
			wg.Go(func() { l.pairMember(p, member, token) })
		}
	}
	wg.Wait()

	t.Logf("%d requests in %s by %d clients (%d in pairs): %d reads, %d writes, %d renewals, %d destroys, %d new sessions",
		l.requests.Load(), d, clients, 2*pairs, l.reads.Load(), l.writes.Load(), l.renews.Load(),
		l.destroys.Load(), l.news.Load())
	l.verify()
}

// verify checks what every load run must leave: no failed request, no
// destroyed or renewed ID that works again, no error in any log.
func (l *loadRun) verify() {
	t := l.t
	l.mu.Lock()
	failures := l.failures
	dead := l.dead
	l.mu.Unlock()
	if len(failures) > 20 {
		failures = append(failures[:20], fmt.Sprintf("... and %d more", len(failures)-20))
	}
	assert.Empty(t, failures)

	for _, token := range dead {
		for _, a := range l.servers {
			b := l.newBrowser()
			b.setCookie(a, token)
			isNew, values := l.dump(b, a)
			assert.True(t, isNew, "a destroyed or renewed ID works again: %v", values)
		}
	}
	retries, refreshes := 0, 0
	for _, a := range l.servers {
		retries += strings.Count(a.logs.String(), "transient conflict")
		refreshes += strings.Count(a.logs.String(), "preparing them afresh")
	}
	t.Logf("%d statements tried again after a transient conflict, %d re-preparations", retries, refreshes)
	for _, a := range l.servers {
		assert.Empty(t, a.errors())
		assert.NotContains(t, a.logs.String(), "database is locked")
		assert.NotContains(t, a.logs.String(), "level=ERROR")
	}
}

type loadRun struct {
	t        *testing.T
	servers  []*app
	deadline time.Time

	requests, reads, writes, renews, destroys, news atomic.Int64

	mu       sync.Mutex
	failures []string
	dead     []string // tokens that must no longer work
}

func (l *loadRun) failf(format string, args ...any) {
	l.mu.Lock()
	l.failures = append(l.failures, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *loadRun) newBrowser() *client {
	jar, err := cookiejar.New(nil)
	require.NoError(l.t, err)
	return &client{t: l.t, jar: jar, hc: &http.Client{Jar: jar, Timeout: 30 * time.Second}}
}

// do sends one request and returns its status and body; 5xx and transport
// errors are failures.
func (l *loadRun) do(b *client, a *app, path string) (int, string) {
	l.requests.Add(1)
	resp, err := b.hc.Get(a.srv.URL + path)
	if err != nil {
		l.failf("%s: %v", path, err)
		return 0, ""
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode >= 500 {
		l.failf("%s: %d %s", path, resp.StatusCode, body)
	}
	return resp.StatusCode, string(body)
}

func (l *loadRun) mustSet(b *client, a *app, key, value string) string {
	if st, body := l.do(b, a, "/set?"+key+"="+value); st != http.StatusOK {
		l.t.Fatalf("first write: %d %s", st, body)
	}
	return b.cookie(a)
}

func (l *loadRun) dump(b *client, a *app) (isNew bool, values map[string]string) {
	st, body := l.do(b, a, "/dump")
	var out struct {
		New    bool              `json:"new"`
		Values map[string]string `json:"values"`
	}
	if st != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil {
		l.failf("dump: %d %s", st, body)
	}
	return out.New, out.Values
}

// solo owns one session at a time and checks every read against its ledger.
func (l *loadRun) solo(id int) {
	rng := rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))
	b := l.newBrowser()
	ledger := map[string]string{}
	seq := 0
	for time.Now().Before(l.deadline) {
		a := l.servers[rng.IntN(len(l.servers))]
		switch op := rng.IntN(100); {
		case op < 40: // read one key
			l.reads.Add(1)
			key := fmt.Sprintf("k%d", rng.IntN(6))
			st, body := l.do(b, a, "/get?k="+key)
			want, ok := ledger[key]
			if ok && (st != http.StatusOK || body != want) {
				l.failf("client %d read %s: got %d %q, ledger %q", id, key, st, body, want)
			}
			if !ok && st != http.StatusNotFound {
				l.failf("client %d read %s: got %d %q, ledger has nothing", id, key, st, body)
			}
		case op < 75: // write one key
			l.writes.Add(1)
			seq++
			key, value := fmt.Sprintf("k%d", rng.IntN(6)), fmt.Sprintf("c%d-%d", id, seq)
			if st, body := l.do(b, a, "/set?"+key+"="+value); st == http.StatusOK {
				ledger[key] = value
			} else {
				l.failf("client %d write: %d %s", id, st, body)
			}
		case op < 83: // renew
			l.renews.Add(1)
			old := b.cookie(a)
			if st, _ := l.do(b, a, "/renew"); st == http.StatusOK && old != "" && len(ledger) > 0 {
				if b.cookie(a) == old {
					l.failf("client %d: RenewID kept the token", id)
				}
				l.addDead(old)
			}
		case op < 90: // log out
			l.destroys.Add(1)
			old := b.cookie(a)
			l.do(b, a, "/destroy")
			clear(ledger)
			if old != "" {
				l.addDead(old)
			}
		case op < 95: // a new browser; the old session is left to expire
			l.news.Add(1)
			b = l.newBrowser()
			clear(ledger)
		default: // check everything
			if _, values := l.dump(b, a); !maps.Equal(values, ledger) && !(len(values) == 0 && len(ledger) == 0) {
				l.failf("client %d dump: database %v, ledger %v", id, values, ledger)
			}
		}
	}
	if _, values := l.dump(b, l.servers[0]); !maps.Equal(values, ledger) && !(len(values) == 0 && len(ledger) == 0) {
		l.failf("client %d final: database %v, ledger %v", id, values, ledger)
	}
}

func (l *loadRun) addDead(token string) {
	l.mu.Lock()
	l.dead = append(l.dead, token)
	l.mu.Unlock()
}

// pairMember shares one session with another client; each writes its own
// keys at the same time as the other and must never lose one.
func (l *loadRun) pairMember(pair, member int, token string) {
	rng := rand.New(rand.NewPCG(uint64(pair*2+member), uint64(time.Now().UnixNano())))
	b := l.newBrowser()
	b.setCookie(l.servers[0], token)
	prefix := fmt.Sprintf("p%dm%d_", pair, member)
	ledger := map[string]string{}
	seq := 0
	for time.Now().Before(l.deadline) {
		a := l.servers[rng.IntN(len(l.servers))]
		key := fmt.Sprintf("%s%d", prefix, rng.IntN(4))
		if rng.IntN(2) == 0 {
			l.writes.Add(1)
			seq++
			value := fmt.Sprintf("v%d", seq)
			st, body := l.do(b, a, "/set?"+key+"="+value)
			switch st {
			case http.StatusOK:
				ledger[key] = value
			default:
				l.failf("pair %d member %d write: %d %s", pair, member, st, body)
			}
			continue
		}
		l.reads.Add(1)
		st, body := l.do(b, a, "/get?k="+key)
		if want, ok := ledger[key]; ok && (st != http.StatusOK || body != want) {
			l.failf("pair %d member %d read %s: got %d %q, ledger %q", pair, member, key, st, body, want)
		}
	}
	_, values := l.dump(b, l.servers[0])
	for k, v := range ledger {
		if values[k] != v {
			l.failf("pair %d member %d lost %s=%s (database has %q)", pair, member, k, v, values[k])
		}
	}
	for k := range values {
		if strings.HasPrefix(k, prefix) && values[k] != ledger[k] {
			l.failf("pair %d member %d: database has %s=%s it never wrote last", pair, member, k, values[k])
		}
	}
}
