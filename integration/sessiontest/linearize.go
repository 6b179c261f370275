package sessiontest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/gin-gonic/gin"
	"github.com/ginsession/ginsession"
	"github.com/stretchr/testify/assert"
)

// The shape of a linearizability run: per user, browsers with tabs that
// share a cookie, and API clients with threads that share a bearer token.
const (
	linUsers       = 6
	linBrowsers    = 2 // per user
	linTabs        = 2 // per browser
	linAPIClients  = 1 // per user
	linAPIThreads  = 2 // per API client
	linInstances   = 3
	sharedKeys     = 2 // s0, s1: every tab of a session writes them; p<tab> is one tab's own
	mintWeight     = 3 // how often a browser tab mints an API token (see actions)
	linClockSteps  = 7 // how often the clock moves during a run: 36 hours each, within the idle window
	linCheckBudget = 90 * time.Second
)

// RunLinearizability records a history of many clients on linInstances app
// instances sharing the database that open reaches (on a cluster, one node
// each), for at least d, and checks it against sessionModel, the contract.
// Browsers (cookie sessions, several tabs each) and API clients (header
// sessions, several threads each) read, write shared and private keys,
// delete and clear them, queue and take flashes, renew their IDs, log in,
// sign out keeping the cart, log out, end their session by a deadline in
// the past, sign out everywhere else, mint API tokens (MintToken, which the
// user's API client then takes up as its bearer token half the time) and
// send their token the wrong way, over real HTTP, saving explicitly or as
// the headers go out; meanwhile sessions are made by Store.NewSession and
// revoked by Store.DestroyUser, DestroyUserSession and DestroySession,
// expired rows are cleaned up, and the store's clock moves between requests
// so that expiry refreshes run too. Every request must succeed or fail only
// in ways the contract names, and the history must be linearizable.
func RunLinearizability(t *testing.T, open Opener, d time.Duration) {
	clock := NewClock()
	var dbs []DB
	for range linInstances {
		dbs = append(dbs, open(t))
	}
	table := freshTable(t, dbs[0])
	l := &linRun{clock: clock, base: time.Now(), tokens: map[string]int{}, dead: map[string]bool{}, results: map[int]*linResult{},
		issued: make([]map[string]bool, linUsers)}
	for u := range l.issued {
		l.issued[u] = map[string]bool{}
	}
	for _, db := range dbs {
		l.apps = append(l.apps, newAppOf(t, db, table, clock, l.routes, ginsession.WithTokenHeader("Authorization")))
	}
	l.hc = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}
	t.Cleanup(l.hc.CloseIdleConnections)

	// Every client exists before any thread starts: a thread may hand a
	// token to another client of its user.
	var threads []*linThread
	for u := range linUsers {
		for range linBrowsers {
			c := &linClient{user: u}
			l.clients = append(l.clients, c)
			for tab := range linTabs {
				threads = append(threads, l.newThread(c, tab))
			}
		}
		for range linAPIClients {
			c := &linClient{user: u, header: true}
			l.clients = append(l.clients, c)
			for tab := range linAPIThreads {
				threads = append(threads, l.newThread(c, tab))
			}
		}
	}
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for _, th := range threads {
		wg.Go(func() { th.run(deadline) })
	}
	admin, sweeper := l.nextClient(), l.nextClient()
	wg.Go(func() { l.admin(admin, deadline) })
	wg.Go(func() { l.moveClock(sweeper, d, deadline) })
	wg.Wait()

	l.mu.Lock()
	ops, failures := l.ops, l.failures
	l.mu.Unlock()
	t.Logf("%d requests and %d store calls in %s by %d tabs and API threads of %d users on %d instances: %d operations; %s; "+
		"%d minted tokens taken up by API clients",
		l.requests.Load(), l.calls.Load(), d, linUsers*(linBrowsers*linTabs+linAPIClients*linAPIThreads), linUsers,
		len(l.apps), len(ops), tally(ops), l.adopted.Load())
	if len(failures) > 20 {
		failures = append(failures[:20], fmt.Sprintf("... and %d more", len(failures)-20))
	}
	assert.Empty(t, failures, "requests that failed outside the contract")
	for _, a := range l.apps {
		assert.Empty(t, unexpected(a.errors()), "errors in c.Errors")
		assert.Empty(t, unexpected(strings.Split(a.logs.String(), "\n")), "errors and warnings in the log")
	}
	checkLinearizable(t, ops)
}

// linRun is one linearizability run.
type linRun struct {
	apps  []*app
	clock *Clock
	hc    *http.Client
	base  time.Time
	// gate is held for reading by every request and store call, and for
	// writing while the clock moves: no request is ever in flight then.
	gate sync.RWMutex

	nextID                atomic.Int64 // porcupine client IDs
	reqs, values, flashes atomic.Int64
	requests, calls       atomic.Int64
	adopted               atomic.Int64 // minted tokens an API client took up
	clients               []*linClient
	mu                    sync.Mutex
	ops                   []porcupine.Operation
	failures              []string
	results               map[int]*linResult // what each request's handler saw, by request
	tokens                map[string]int     // interned tokens
	issued                []map[string]bool  // per user: the tokens handed out
	dead                  map[string]bool    // tokens known to be dead
}

// now is the run's clock for operation intervals: monotonic, shared by the
// clients and the app servers, which run in this process.
func (l *linRun) now() int64 { return int64(time.Since(l.base)) }

func (l *linRun) failf(format string, args ...any) {
	l.mu.Lock()
	l.failures = append(l.failures, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

// intern returns the number of token, and whether it was seen before.
func (l *linRun) intern(token string) (int, bool) {
	if token == "" {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if n, ok := l.tokens[token]; ok {
		return n, true
	}
	n := len(l.tokens) + 1
	l.tokens[token] = n
	return n, false
}

func (l *linRun) record(client int, in opInput, out opOutput, call, ret int64, meta string) {
	ret = max(ret, call)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.ops = append(l.ops, porcupine.Operation{ClientId: client, Input: in, Output: out, Call: call, Return: ret,
		Metadata: opMeta{seq: len(l.ops), note: meta}})
}

// opMeta names an operation in the history, for the log and the
// visualization.
type opMeta struct {
	seq  int
	note string
}

// issue notes a token handed out to a client of user u; a token handed out
// twice is a failure.
func (l *linRun) issue(u int, token string) int {
	n, seen := l.intern(token)
	if seen {
		l.failf("token t%d handed out a second time", n)
		return n
	}
	l.mu.Lock()
	l.issued[u][token] = true
	l.mu.Unlock()
	return n
}

func (l *linRun) markDead(token string) {
	if token == "" {
		return
	}
	l.mu.Lock()
	l.dead[token] = true
	l.mu.Unlock()
}

// linResult is what a request's handler saw and when, handed to the
// client through linRun.results.
type linResult struct {
	Found   bool              // the load found a session
	User    string            // its user
	Values  map[string]string // its values
	Flashes []string          // what Flashes returned
	Token   string            // what IssueToken or MintToken returned
	N       int64             // what DestroyOthers returned
	Err     string            // how an explicit save ended: "", "interrupted", "nouser", "notissued" or the error
	// Loaded is the instant after the load, Saved after the save, Done
	// when the handler is about to return (a renewal ends after it).
	Loaded, Saved, Done int64
}

// The actions of /op, by their query parameter a.
var actParams = map[act]string{actLoad: "read", actSet: "set", actAddFlash: "flash", actTakeFlashes: "take",
	actRenew: "renew", actLogin: "login", actExpire: "expire", actDestroy: "destroy", actDestroyOthers: "others",
	actDelete: "delete", actClear: "clear", actUnbind: "unbind", actMintToken: "mint"}

// routes are the app's: /op for cookie requests, /api/op for header ones
// (under APIHandler: a request there is a header request, token or not). Each request loads its
// session (but Destroy, which need not), notes the instant, makes its one
// change, and notes the instant after the save: either Save's (save=explicit)
// or the middleware's as the response's headers go out, through the default
// error handler should it fail. What the handler saw goes to the client
// through linRun.results, since an error response replaces the route's.
func (l *linRun) routes(r *gin.Engine, st *ginsession.Store) {
	r.GET("/op", l.serve)
	r.Group("/api", st.APIHandler()).GET("/op", l.serve)
}

func (l *linRun) serve(c *gin.Context) {
	s := ginsession.Default(c)
	what := c.Query("a")
	req, _ := strconv.Atoi(c.Query("r"))
	res := &linResult{}
	defer func() {
		l.mu.Lock()
		l.results[req] = res
		l.mu.Unlock()
	}()
	if what != actParams[actDestroy] {
		res.Found = !s.IsNew()
		res.User = s.UserID()
		res.Values = map[string]string{}
		for _, k := range s.Keys() {
			res.Values[k], _ = ginsession.Get[string](s, k)
		}
		res.Loaded = l.now()
		if rand.IntN(2) == 0 {
			// A handler's own work between reading and writing: other
			// requests commit meanwhile.
			time.Sleep(time.Duration(rand.IntN(1500)) * time.Microsecond)
		}
	}
	var err error
	switch what {
	case actParams[actSet]:
		s.Set(c.Query("k"), c.Query("v"))
	case actParams[actAddFlash]:
		s.AddFlash(c.Query("v"))
	case actParams[actDelete]:
		s.Delete(c.Query("k"))
	case actParams[actClear]:
		s.Clear()
	case actParams[actUnbind]:
		s.SetUserID("") // signed out, the cart kept
	case actParams[actTakeFlashes]:
		res.Flashes = []string{}
		for _, f := range s.Flashes() {
			res.Flashes = append(res.Flashes, fmt.Sprint(f))
		}
	case actParams[actRenew]:
		s.RenewID()
		if s.IsHeader() {
			res.Token, err = s.IssueToken()
		}
	case actParams[actLogin]:
		s.Login(c.Query("u"))
		if s.IsHeader() {
			res.Token, err = s.IssueToken()
		}
	case actParams[actExpire]:
		s.SetDeadline(l.clock.Now().Add(-time.Hour))
	case actParams[actDestroyOthers]:
		res.N, err = s.DestroyOthers()
	case actParams[actMintToken]:
		// A settings page's "new API token": the token goes in the body.
		res.Token, err = s.MintToken()
	case actParams[actDestroy]:
		s.Destroy()
	}
	renewing := what == actParams[actRenew] || what == actParams[actLogin]
	if c.Query("save") != "explicit" {
		c.String(http.StatusOK, "ok") // saves, or the error handler answers instead
		res.Saved = l.now()
		if renewing {
			// The rest of the handler's work: the renewal stays in flight
			// until it returns, and a logout with the old token must still
			// win over it.
			time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
		}
		res.Done = l.now() // the middleware ends a renewal after this
		return
	}
	if serr := s.Save(); err == nil {
		err = serr
	}
	res.Saved = l.now()
	switch {
	case err == nil:
	case errors.Is(err, ginsession.ErrSessionInterrupted):
		res.Err = "interrupted"
	case errors.Is(err, ginsession.ErrNoUser):
		res.Err = "nouser"
	case errors.Is(err, ginsession.ErrTokenNotIssued):
		res.Err = "notissued"
	default:
		res.Err = err.Error()
	}
	if renewing && err == nil {
		time.Sleep(time.Duration(rand.IntN(3000)) * time.Microsecond)
	}
	res.Done = l.now()
	c.String(http.StatusOK, "ok")
}

// linClient is a browser, whose tabs share its cookie, or an API client,
// whose threads share its bearer token.
type linClient struct {
	user   int
	header bool

	mu       sync.Mutex
	token    string
	lost     bool   // the last load found no session for token
	lastUser string // the user the last load saw
}

func (c *linClient) state() (token string, lost bool, user string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.token, c.lost, c.lastUser
}

// linThread is one tab or API thread: it makes one request at a time.
type linThread struct {
	l   *linRun
	id  int // porcupine's client ID
	c   *linClient
	tab int
	rng *rand.Rand
}

func (l *linRun) nextClient() int { return int(l.nextID.Add(1) - 1) }

func (l *linRun) newThread(c *linClient, tab int) *linThread {
	id := l.nextClient()
	return &linThread{l: l, id: id, c: c, tab: tab, rng: rand.New(rand.NewPCG(uint64(id), uint64(time.Now().UnixNano())))}
}

func (th *linThread) run(deadline time.Time) {
	for time.Now().Before(deadline) {
		th.l.gate.RLock()
		th.step()
		th.l.gate.RUnlock()
	}
}

// step makes one request, chosen at random by these weights
// (a signed-out client logs in more often); an API client without a live
// token first gets one from NewSession half the time.
func (th *linThread) step() {
	l, c := th.l, th.c
	token, lost, user := c.state()
	if c.header && (token == "" || lost && th.rng.IntN(2) == 0) {
		l.newSession(th.id, c)
		return
	}
	login := 5
	if user == "" {
		login = 15
	}
	shared := th.rng.IntN(sharedKeys)
	choices := []struct {
		weight int
		do     func()
	}{
		{28, func() { th.request(actLoad, c.header, token, 0, 0) }},
		{14, func() { th.request(actSet, c.header, token, shared, int(l.values.Add(1))) }},
		{9, func() { th.request(actSet, c.header, token, sharedKeys+th.tab, int(l.values.Add(1))) }},
		{3, func() { th.request(actDelete, c.header, token, shared, 0) }},
		{2, func() { th.request(actClear, c.header, token, 0, 0) }},
		{9, func() { th.request(actAddFlash, c.header, token, 0, int(l.flashes.Add(1))) }},
		{9, func() { th.request(actTakeFlashes, c.header, token, 0, 0) }},
		{7, func() { th.request(actRenew, c.header, token, 0, 0) }},
		{login, func() { th.request(actLogin, c.header, token, 0, 0) }},
		{2, func() { th.request(actUnbind, c.header, token, 0, 0) }},
		{5, func() { th.request(actDestroy, c.header, token, 0, 0) }},
		{4, func() { th.request(actDestroyOthers, c.header, token, 0, 0) }},
		{3, func() { th.request(actExpire, c.header, token, 0, 0) }},
		{mintWeight, func() { th.request(actMintToken, c.header, token, 0, 0) }},
		// The token sent the other way: a header token in the cookie, a
		// cookie in the header. It must find nothing and end nothing.
		{4, func() { th.request(actLoad, !c.header, token, 0, 0) }},
		{2, func() { th.request(actDestroy, !c.header, token, 0, 0) }},
	}
	total := 0
	for _, ch := range choices {
		total += ch.weight
	}
	pick := th.rng.IntN(total)
	for _, ch := range choices {
		if pick < ch.weight {
			ch.do()
			return
		}
		pick -= ch.weight
	}
}

// request sends one request to a random instance and records its
// operations: its load, its commit, and the end of its renewal.
func (th *linThread) request(what act, header bool, token string, key, value int) {
	l, c := th.l, th.c
	if header && token == "" {
		what = actLoad // without a token a request is a cookie one: nothing to ask
		header = false
	}
	own := header == c.header // not a token sent the other way
	a := l.apps[th.rng.IntN(len(l.apps))]
	req := int(l.reqs.Add(1))
	// The save before the headers where the request allows it (IssueToken,
	// Flashes, DestroyOthers and MintToken write on their own, and report
	// how it ended to the handler), else Save.
	explicit := header && (what == actRenew || what == actLogin) || what == actTakeFlashes ||
		what == actDestroyOthers || what == actMintToken || th.rng.IntN(2) == 0
	q := url.Values{"a": {actParams[what]}, "r": {strconv.Itoa(req)}}
	if explicit {
		q.Set("save", "explicit")
	}
	switch what {
	case actSet:
		q.Set("k", keyName(key))
		q.Set("v", "v"+strconv.Itoa(value))
	case actDelete:
		q.Set("k", keyName(key))
	case actAddFlash:
		q.Set("v", "f"+strconv.Itoa(value))
	case actLogin:
		q.Set("u", userName(c.user))
	}
	path := "/op?"
	if header {
		path = "/api/op?"
	}
	hr, err := http.NewRequest(http.MethodGet, a.srv.URL+path+q.Encode(), nil)
	if err != nil {
		l.failf("%v", err)
		return
	}
	if header {
		hr.Header.Set("Authorization", "Bearer "+token)
	} else if token != "" {
		hr.Header.Set("Cookie", ginsession.DefaultCookieName+"="+token)
	}
	l.requests.Add(1)
	call := l.now()
	resp, err := l.hc.Do(hr)
	if err != nil {
		l.failf("%s: %v", path+q.Encode(), err)
		return
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	ret := l.now()
	l.mu.Lock()
	res, reported := l.results[req]
	delete(l.results, req)
	l.mu.Unlock()
	note := fmt.Sprintf("instance %d, %s", slices.Index(l.apps, a), path+q.Encode())
	status := outOK
	switch {
	case err != nil || !reported:
		l.failf("%s: %d %s %v", note, resp.StatusCode, body, err)
		return
	case explicit && resp.StatusCode != http.StatusOK:
		status = outFailed
	case explicit:
		status = outcomeOf(res.Err)
	case resp.StatusCode == http.StatusConflict:
		status = outInterrupted
	case resp.StatusCode == http.StatusUnauthorized:
		status = outNotIssued
	case resp.StatusCode != http.StatusOK:
		status = outFailed
	}
	if status == outFailed {
		l.failf("%s: %d %s %v", note, resp.StatusCode, body, res.Err)
	}

	// What the response handed out: a cookie (set or expired), a token in
	// the body.
	var newToken string
	cookieSet, cookieExpired := false, false
	for _, ck := range resp.Cookies() {
		if ck.Name != ginsession.DefaultCookieName {
			continue
		}
		if header {
			l.failf("%s: a header request's response set a cookie", note)
		}
		if ck.MaxAge < 0 || ck.Value == "" {
			cookieExpired = true
		} else {
			cookieSet = true
			if ck.Value != token {
				newToken = ck.Value
			}
		}
	}
	if header && res.Token != "" && res.Token != token && what != actMintToken {
		newToken = res.Token
	}
	if what == actDestroy && !header && token != "" && !cookieExpired {
		l.failf("%s: Destroy did not expire the cookie", note)
	}
	newID := 0
	if newToken != "" {
		newID = l.issue(c.user, newToken)
	}
	minted := ""
	if what == actMintToken && res.Token != "" {
		minted = res.Token
		if newID != 0 {
			l.failf("%s: MintToken's response renewed the session too", note)
		}
		newID = l.issue(c.user, minted)
	}

	tokenID, _ := l.intern(token)
	out := opOutput{outcome: status, token: newID, n: res.N}
	in := opInput{act: what, user: c.user, req: req, header: header, token: tokenID, key: key, value: value}
	if what != actDestroy {
		load := opOutput{found: res.Found, userID: res.User}
		for k, v := range res.Values {
			kv, ok := parseKV(k, v)
			if !ok {
				l.failf("%s: unknown value %s=%s", note, k, v)
				continue
			}
			load.values = append(load.values, kv)
		}
		slices.SortFunc(load.values, func(a, b kv) int { return a.key - b.key })
		l.record(th.id, opInput{act: actLoad, user: c.user, req: req, header: header, token: tokenID,
			flashes: what == actTakeFlashes || what == actClear, login: what == actLogin}, load, call, res.Loaded, note)
		in.found, in.signed = res.Found, res.User != ""
		switch what {
		case actDelete:
			_, in.had = res.Values[keyName(key)]
		case actClear:
			in.had = len(res.Values) > 0
		}
		call = res.Loaded + 1
	}
	if what == actTakeFlashes {
		for _, f := range res.Flashes {
			n, err := strconv.Atoi(strings.TrimPrefix(f, "f"))
			if err != nil {
				l.failf("%s: unknown flash %q", note, f)
			}
			out.flashes = append(out.flashes, n)
		}
		slices.Sort(out.flashes)
	}
	if what != actLoad {
		l.record(th.id, in, out, call, res.Saved, note)
	}
	renewed := (what == actRenew || what == actLogin) && res.Found && out.outcome == outOK
	if renewed {
		l.record(th.id, opInput{act: actRetire, user: c.user, req: req, header: header, token: tokenID}, opOutput{}, res.Done, ret, note)
	}

	if minted != "" && out.outcome == outOK && th.rng.IntN(2) == 0 {
		// The user hands the minted token to the API client, which drops
		// its own for it: the minted session gets used. Otherwise the
		// sweep revokes it once no request can hold it.
		l.adopt(c.user, minted)
	}

	// What the client keeps: a browser takes whatever cookie the response
	// set, as a cookie jar does; an API client the token in the body.
	if !own {
		return
	}
	if (what != actDestroy && !res.Found) || renewed || what == actDestroy ||
		what == actExpire && res.Found && out.outcome == outOK {
		l.markDead(token)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case header && newToken != "":
		c.token, c.lost = newToken, false
	case !header && cookieExpired:
		c.token = ""
	case !header && cookieSet:
		c.token = newToken
		if newToken == "" {
			c.token = token
		}
	}
	if what != actDestroy && c.token == token {
		c.lost, c.lastUser = !res.Found, res.User
	}
}

// adopt gives a token minted for user u to one of u's API clients, as its
// bearer token from now on.
func (l *linRun) adopt(u int, token string) {
	var api []*linClient
	for _, c := range l.clients {
		if c.user == u && c.header {
			api = append(api, c)
		}
	}
	c := api[rand.IntN(len(api))]
	l.adopted.Add(1)
	c.mu.Lock()
	c.token, c.lost, c.lastUser = token, false, userName(u)
	c.mu.Unlock()
}

// newSession gives an API client a new signed-in header session, as an
// admin tool minting an API token does.
func (l *linRun) newSession(id int, c *linClient) {
	a := l.apps[rand.IntN(len(l.apps))]
	l.calls.Add(1)
	call := l.now()
	token, err := a.store.NewSession(context.Background(), ginsession.Seed{Header: true, UserID: userName(c.user)})
	ret := l.now()
	if err != nil {
		l.failf("NewSession: %v", err)
		return
	}
	l.record(id, opInput{act: actNewSession, user: c.user}, opOutput{token: l.issue(c.user, token)}, call, ret, "NewSession")
	c.mu.Lock()
	c.token, c.lost, c.lastUser = token, false, userName(c.user)
	c.mu.Unlock()
}

// admin revokes sessions now and then, on a random instance: a user
// signed out everywhere (after a password change), a device signed out from
// the devices page with the handle of a token one of the user's clients
// holds, and a cleanup of expired rows.
func (l *linRun) admin(id int, deadline time.Time) {
	for time.Now().Before(deadline) {
		time.Sleep(time.Duration(100+rand.IntN(200)) * time.Millisecond)
		l.gate.RLock()
		l.revoke(id)
		l.gate.RUnlock()
	}
}

func (l *linRun) revoke(id int) {
	ctx := context.Background()
	u := rand.IntN(linUsers)
	a := l.apps[rand.IntN(len(l.apps))]
	l.calls.Add(1)
	switch choice := rand.IntN(10); {
	case choice < 4:
		call := l.now()
		n, err := a.store.DestroyUser(ctx, userName(u))
		ret := l.now()
		if err != nil {
			l.failf("DestroyUser: %v", err)
			return
		}
		l.record(id, opInput{act: actDestroyUser, user: u}, opOutput{n: n}, call, ret, "DestroyUser")
	case choice < 8:
		var mine []*linClient
		for _, c := range l.clients {
			if c.user == u {
				mine = append(mine, c)
			}
		}
		token, _, _ := mine[rand.IntN(len(mine))].state()
		if token == "" {
			return
		}
		tokenID, _ := l.intern(token)
		call := l.now()
		ok, err := a.store.DestroyUserSession(ctx, userName(u), handleOf(token))
		ret := l.now()
		if err != nil {
			l.failf("DestroyUserSession: %v", err)
			return
		}
		var n int64
		if ok {
			n = 1
		}
		l.record(id, opInput{act: actSignOutDevice, user: u, token: tokenID}, opOutput{n: n}, call, ret, "DestroyUserSession")
	default:
		// Cleanup deletes every user's expired rows: one operation in
		// each user's history, over the same interval.
		call := l.now()
		_, err := a.store.Cleanup(ctx)
		ret := l.now()
		if err != nil {
			l.failf("Cleanup: %v", err)
			return
		}
		for u := range linUsers {
			l.record(id, opInput{act: actCleanup, user: u}, opOutput{}, call, ret, "Cleanup")
		}
	}
}

// moveClock moves the store's clock by a day and a half, while no request
// is in flight, linClockSteps times in the run: past a tenth of the idle
// window, so that reads refresh the expiry, and never near the window
// itself. While it holds the gate it also revokes every token handed out
// that no client holds and that is not known dead (sessions a browser
// left behind when two tabs created one each), through
// Store.DestroySession, so that the model's table stays small.
func (l *linRun) moveClock(id int, d time.Duration, deadline time.Time) {
	for i := range linClockSteps {
		time.Sleep(time.Until(deadline.Add(-d + d*time.Duration(i+1)/(linClockSteps+1))))
		l.gate.Lock()
		l.clock.Advance(36 * time.Hour)
		l.sweep(id)
		l.gate.Unlock()
	}
}

func (l *linRun) sweep(id int) {
	held := map[string]bool{}
	for _, c := range l.clients {
		token, _, _ := c.state()
		held[token] = true
	}
	type orphan struct {
		user  int
		token string
	}
	var orphans []orphan
	l.mu.Lock()
	for u, tokens := range l.issued {
		for token := range tokens {
			if !held[token] && !l.dead[token] {
				orphans = append(orphans, orphan{u, token})
			}
		}
	}
	l.mu.Unlock()
	for _, o := range orphans {
		a := l.apps[rand.IntN(len(l.apps))]
		l.calls.Add(1)
		tokenID, _ := l.intern(o.token)
		call := l.now()
		err := a.store.DestroySession(context.Background(), handleOf(o.token))
		ret := l.now()
		if err != nil {
			l.failf("DestroySession: %v", err)
			continue
		}
		l.record(id, opInput{act: actRevoke, user: o.user, token: tokenID}, opOutput{}, call, ret, "DestroySession")
		l.markDead(o.token)
	}
}

// unexpected returns the lines that report an error the contract does not
// name: the error handler logs and records an interruption and a header
// write without a live token, and nothing else may fail. A warning counts
// too, as the store warns when it gives up on part of a request and goes
// on: one that weakens what the run checks (an old ID left working after a
// renewal) would otherwise show only as a history the checker refuses, far
// from its cause. The warnings the run may cause without weakening it are
// let through: a token sent the other way, which the run does on purpose;
// and a session's expiry or last use not moved forward, which the model
// has no place for (the run's clock never comes near the idle window).
func unexpected(lines []string) []string {
	var out []string
	for _, line := range lines {
		switch {
		case line == "",
			strings.Contains(line, "level=DEBUG"), strings.Contains(line, "level=INFO"),
			strings.Contains(line, ginsession.ErrSessionInterrupted.Error()),
			strings.Contains(line, ginsession.ErrTokenNotIssued.Error()):
			continue
		case strings.Contains(line, "level=WARN") && (strings.Contains(line, "presented in the wrong place") ||
			strings.Contains(line, "cannot extend the session's expiry") ||
			strings.Contains(line, "cannot record the session's last use")):
			continue
		}
		out = append(out, line)
	}
	return out
}

// handleOf is the handle of a token's session: the hex SHA-256 of its
// bytes, as the table keeps it.
func handleOf(token string) string {
	raw, _ := base64.RawURLEncoding.DecodeString(token)
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:])
}

func outcomeOf(err string) outcome {
	switch err {
	case "":
		return outOK
	case "interrupted":
		return outInterrupted
	case "nouser":
		return outNoUser
	case "notissued":
		return outNotIssued
	}
	return outFailed
}

// parseKV reads a session value as the handler reports it: a key s<n> or
// p<n>, a value v<n>.
func parseKV(k, v string) (kv, bool) {
	n, err := strconv.Atoi(strings.TrimPrefix(v, "v"))
	if err != nil || !strings.HasPrefix(v, "v") || len(k) < 2 {
		return kv{}, false
	}
	i, err := strconv.Atoi(k[1:])
	switch {
	case err != nil:
		return kv{}, false
	case k[0] == 's' && i < sharedKeys:
		return kv{i, n}, true
	case k[0] == 'p':
		return kv{sharedKeys + i, n}, true
	}
	return kv{}, false
}

// tally counts the commits of a history by what they did and how they
// ended, for the log: it shows which races the run met.
func tally(ops []porcupine.Operation) string {
	counts := map[string]int{}
	var keys []string
	for _, op := range ops {
		in, out := op.Input.(opInput), op.Output.(opOutput)
		k := in.act.String()
		switch {
		case in.act == actLoad && out.found:
			k += " (a session)"
		case in.act == actLoad:
			k += " (none)"
		case in.act != actRetire:
			k += " " + out.outcome.String()
		}
		if counts[k] == 0 {
			keys = append(keys, k)
		}
		counts[k]++
	}
	slices.Sort(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, counts[k])
	}
	return strings.Join(parts, ", ")
}

// checkLinearizable checks ops against the contract. When some user's
// history is not linearizable, it logs the smallest such partition's
// operations in text and writes porcupine's visualization of it to a file
// under $GINSESSION_ARTIFACTS (or a directory of its own under the system's
// temporary directory), and says where.
func checkLinearizable(t *testing.T, ops []porcupine.Operation) {
	t.Helper()
	model := sessionModel()
	start := time.Now()
	res, _ := porcupine.CheckOperationsVerbose(model, ops, linCheckBudget)
	parts := partitionByUser(ops)
	t.Logf("checked %d operations in %d partitions in %s: %s", len(ops), len(parts), time.Since(start).Round(time.Millisecond), res)
	switch res {
	case porcupine.Ok:
		return
	case porcupine.Unknown:
		t.Errorf("the check did not finish within %s: make the run shorter or its partitions smaller", linCheckBudget)
		return
	}
	// Find the smallest partition that fails, to show.
	slices.SortFunc(parts, func(a, b []porcupine.Operation) int { return len(a) - len(b) })
	for _, part := range parts {
		r, info := porcupine.CheckOperationsVerbose(model, part, linCheckBudget)
		if r == porcupine.Ok {
			continue
		}
		user := part[0].Input.(opInput).user
		t.Errorf("the history of %s (%d operations) is not linearizable against the contract in model.go: %s", userName(user), len(part), r)
		text, stuck := explain(model, part, info)
		t.Log(text)
		started := 0
		for _, op := range ops {
			if op.Call <= stuck {
				started++
			}
		}
		t.Logf("the checker got stuck %.0fms into the run, when %d of its %d operations had started", float64(stuck)/1e6, started, len(ops))
		dir := os.Getenv("GINSESSION_ARTIFACTS")
		if dir == "" {
			dir, _ = os.MkdirTemp("", "ginsession-linearizability-")
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Logf("cannot write the artifacts: %v", err)
			return
		}
		base := filepath.Join(dir, strings.NewReplacer("/", "_", " ", "_").Replace(t.Name())+"-"+userName(user))
		if err := porcupine.VisualizePath(model, info, base+".html"); err != nil {
			t.Logf("cannot write the visualization: %v", err)
		} else {
			t.Logf("visualization of %s's history: %s", userName(user), base+".html")
		}
		byStart := slices.Clone(part)
		slices.SortFunc(byStart, func(a, b porcupine.Operation) int { return int(a.Call - b.Call) })
		var all strings.Builder
		for _, op := range byStart {
			all.WriteString(describeOp(op) + "\n")
		}
		if err := os.WriteFile(base+".txt", []byte(all.String()), 0o644); err != nil {
			t.Logf("cannot write the operations: %v", err)
		} else {
			t.Logf("all %d operations of %s's history, by start: %s", len(part), userName(user), base+".txt")
		}
		return
	}
	t.Errorf("the history is not linearizable (%s), but no single user's is", res)
}

// explain tells, in text, how far the checker got with a failing
// partition: the longest order it found that explains a prefix of the
// history, the table it leads to, and the operations it could not place.
// stuck is when the first operation it could not place started.
func explain(model porcupine.Model, part []porcupine.Operation, info porcupine.LinearizationInfo) (text string, stuck int64) {
	var longest []porcupine.Operation
	for _, partition := range info.PartialLinearizationsOperations() {
		for _, lin := range partition {
			if len(lin) > len(longest) {
				longest = lin
			}
		}
	}
	placed := map[int]bool{}
	state := model.Init()
	for _, op := range longest {
		placed[op.Metadata.(opMeta).seq] = true
		_, state = model.Step(state, op.Input, op.Output)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the longest explained order places %d of %d operations; its last ones:\n", len(longest), len(part))
	from := max(0, len(longest)-25)
	for _, op := range longest[from:] {
		b.WriteString("  " + describeOp(op) + "\n")
	}
	fmt.Fprintf(&b, "leading to the table: %s\n", model.DescribeState(state))
	rest := slices.Clone(part)
	rest = slices.DeleteFunc(rest, func(op porcupine.Operation) bool { return placed[op.Metadata.(opMeta).seq] })
	slices.SortFunc(rest, func(a, b porcupine.Operation) int { return int(a.Call - b.Call) })
	fmt.Fprintf(&b, "the operations it could not place (the first 30 of %d, by start):\n", len(rest))
	for _, op := range rest[:min(30, len(rest))] {
		b.WriteString("  " + describeOp(op) + "\n")
	}
	if len(rest) > 0 {
		stuck = rest[0].Call
	}
	return b.String(), stuck
}

func describeOp(op porcupine.Operation) string {
	m := op.Metadata.(opMeta)
	return fmt.Sprintf("[%9.3fms %9.3fms] client %d: %s (%s)", float64(op.Call)/1e6, float64(op.Return)/1e6, op.ClientId,
		describe(op.Input.(opInput), op.Output.(opOutput)), m.note)
}
