package ginsession

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hostile input: what clients send and what careless apps store. None of it
// may be accepted as a session, crash the process, or cost more than a
// bounded number of statements.

// getWithCookieHeader requests path over real HTTP with a raw Cookie header,
// as a browser holding several cookies of one name sends it.
func getWithCookieHeader(t *testing.T, a *app, path, header string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, a.srv.URL+path, nil)
	require.NoError(t, err)
	req.Header.Set("Cookie", header)
	a.rec.Take()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	resp.Body.Close()
	return response{Response: resp, body: string(body), stmts: a.rec.Take()}
}

// serveRaw serves one GET in-process with a Cookie header that no HTTP
// client would send (control bytes, bytes that are not UTF-8).
func serveRaw(a *app, path, header string) response {
	a.rec.Take()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	req.Header.Set("Cookie", header)
	w := httptest.NewRecorder()
	a.engine.ServeHTTP(w, req)
	resp := w.Result()
	return response{Response: resp, body: w.Body.String(), stmts: a.rec.Take()}
}

// forgedTokens returns n well-formed tokens that name no session.
func forgedTokens(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i], _ = newToken()
	}
	return out
}

// sessionCookies joins values into one Cookie header, all named as the
// session cookie.
func sessionCookies(values ...string) string {
	parts := make([]string, len(values))
	for i, v := range values {
		parts[i] = DefaultCookieName + "=" + v
	}
	return strings.Join(parts, "; ")
}

func TestFloodOfSessionCookiesCostsOneQueryOfAtMostFourIDs(t *testing.T) {
	a := newApp(t, basicRoutes)
	owner := a.client()
	require.Equal(t, http.StatusOK, owner.get("/set?k=v").StatusCode)
	live := owner.cookie()
	big := strings.Repeat("A", 10<<10) // a 10 KB value of the token alphabet
	junk := []string{big, "short", strings.Repeat("!", 43), strings.Repeat("A", 44), `""`, ""}
	fakes := forgedTokens(10)
	repeated := slices.Repeat([]string{fakes[0]}, 10)

	cases := []struct {
		name    string
		cookies []string
		found   bool
	}{
		{"10 KB cookie before the owner's", []string{big, live}, true},
		{"junk does not count towards the four", append(slices.Clone(junk), append(fakes[:3:3], live)...), true},
		{"one forged token repeated counts once", append(slices.Clone(repeated), fakes[1], fakes[2], live), true},
		{"owner's fifth of the well-formed", append(fakes[:4:4], live), false},
		{"owner's behind fifty", append(slices.Repeat(fakes[:5:5], 10), live), false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			header := sessionCookies(tc.cookies...)
			resp := getWithCookieHeader(t, a, "/get?k=k", header)
			require.Equal(t, []string{"SELECT"}, kinds(resp.stmts), "one query, however many cookies")
			assert.LessOrEqual(t, strings.Count(resp.stmts[0], "?"), 4+1, "at most four IDs and the expiry")
			if tc.found {
				assert.Equal(t, "v", resp.body)
				return
			}
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, "only the first four well-formed cookies are looked up")

			resp = getWithCookieHeader(t, a, "/set?k=other", header)
			assert.Equal(t, []string{"SELECT", "INSERT"}, kinds(resp.stmts), "a write starts a new session")
			ck := resp.sessionCookie()
			require.NotNil(t, ck)
			assert.NotContains(t, tc.cookies, ck.Value, "no cookie the client sent is adopted")
			assert.Equal(t, "v", owner.get("/get?k=k").body, "the owner's session is untouched")
		})
	}
}

func TestControlAndNonUTF8BytesInTheCookieAreIgnoredWithoutAQuery(t *testing.T) {
	a := newApp(t, basicRoutes)
	owner := a.client()
	require.Equal(t, http.StatusOK, owner.get("/set?k=v").StatusCode)
	live := owner.cookie()
	token, _ := newToken()
	cases := []struct{ name, value string }{
		{"bytes that are not UTF-8", "\xff\xfe\xfd"},
		{"NUL inside a token", token[:20] + "\x00" + token[21:]},
		{"control byte ending a token", token[:42] + "\x01"},
		{"cut multi-byte sequence", token[:42] + "\xc3"},
		{"DEL starting a token", "\x7f" + token[1:]},
		{"NUL after a token", token + "\x00"},
		{"UTF-8 outside the token alphabet", "\u00e9" + token[2:]},
		{"43 escape bytes", strings.Repeat("\x1b", 43)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := tc.value
			resp := serveRaw(a, "/get?k=k", sessionCookies(v))
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)
			assert.Empty(t, resp.stmts, "no query for a value that is no token")

			resp = serveRaw(a, "/get?k=k", sessionCookies(v, live))
			assert.Equal(t, "v", resp.body, "a bad cookie does not hide the owner's")
			assert.Equal(t, []string{"SELECT"}, kinds(resp.stmts))

			resp = serveRaw(a, "/set?k=x", sessionCookies(v))
			assert.Equal(t, []string{"INSERT"}, kinds(resp.stmts), "a fresh session, no lookup")
			ck := resp.sessionCookie()
			require.NotNil(t, ck)
			_, ok := parseToken(ck.Value)
			assert.True(t, ok, "the new cookie is a well-formed token")
		})
	}
	assert.Equal(t, "v", owner.get("/get?k=k").body)
}

// hostileRoutes store what the test puts in entries and show what a later
// request reads back, %q-quoted so that every byte is visible.
func hostileRoutes(entries map[string]any) func(r *gin.Engine) {
	return func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/put", func(c *gin.Context) {
			s := Default(c)
			for k, v := range entries {
				s.Set(k, v)
			}
			c.String(http.StatusOK, dumpValues(s, entries))
		})
		r.GET("/dump", func(c *gin.Context) { c.String(http.StatusOK, dumpValues(Default(c), entries)) })
	}
}

// dumpValues shows every key of s and its value, read as the type entries gave
// it ([]byte or string); a key entries does not have is shown untyped.
func dumpValues(s *Session, entries map[string]any) string {
	var b strings.Builder
	for _, k := range s.Keys() {
		switch entries[k].(type) {
		case []byte:
			v, ok := Get[[]byte](s, k)
			fmt.Fprintf(&b, "%q=bytes%q %v\n", k, v, ok)
		case string:
			v, ok := Get[string](s, k)
			fmt.Fprintf(&b, "%q=%q %v\n", k, v, ok)
		default:
			fmt.Fprintf(&b, "%q=untyped %#v\n", k, s.Get(k))
		}
	}
	return b.String()
}

// wantDump is what dumpValues shows for entries that round-trip exactly.
func wantDump(entries map[string]any) string {
	var b strings.Builder
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range entries {
			if !yield(k) {
				return
			}
		}
	}) {
		switch v := entries[k].(type) {
		case []byte:
			fmt.Fprintf(&b, "%q=bytes%q true\n", k, v)
		default:
			fmt.Fprintf(&b, "%q=%q true\n", k, v)
		}
	}
	return b.String()
}

func TestControlBytesInKeysAndValuesRoundTripExactly(t *testing.T) {
	entries := map[string]any{
		"tab\there":      "line\nbreak\r\n",
		"nul\x00key":     "nul\x00value",
		"escape\x1b[31m": "bell\a\b\f\v\x7f",
		"ключ":           "значение",
		"🔑":              "🔒\u2028\u2029",
		"<script>":       "</script>&amp;",
		"bytes":          []byte{0xff, 0x00, 0xfe, '\n'},
	}
	a := newApp(t, hostileRoutes(entries))
	cl := a.client()
	resp := cl.get("/put")
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	assert.Equal(t, []string{"INSERT"}, kinds(resp.stmts))
	assert.Equal(t, wantDump(entries), resp.body, "read back in the same request")
	resp = cl.get("/dump")
	assert.Equal(t, wantDump(entries), resp.body, "read back in the next request")
	assert.Equal(t, []string{"SELECT"}, kinds(resp.stmts))
}

// Keys are strings, and a Go string need not be UTF-8. Set("a\xff") and
// Set("a\xfe") are two keys in the request that set them; the next request
// must see the same two keys, or Set must fail loudly, never merge them.
func TestNonUTF8KeysAreNeitherMergedNorRenamed(t *testing.T) {
	entries := map[string]any{"a\xff": "one", "a\xfe": "two", "plain": "three"}
	handled := &errorRecorder{}
	a := newApp(t, hostileRoutes(entries), WithErrorHandler(handled.handle))
	cl := a.client()
	resp := cl.get("/put")
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode, "refused loudly, not merged")
	require.Len(t, handled.all(), 1)
	assert.ErrorIs(t, handled.all()[0], ErrEncode)
	assert.Contains(t, handled.all()[0].Error(), "not valid UTF-8")
	assert.Empty(t, a.rows(), "nothing of the request is saved")
}

// JSON cannot carry a string that is not UTF-8, so such a value comes back
// with U+FFFD in place of the bad bytes. What matters is that the request
// that set it reads the same as the next one (Set encodes at once).
func TestNonUTF8ValueReadsTheSameInTheSettingRequestAndTheNext(t *testing.T) {
	entries := map[string]any{"k": "caf\xe9 \xff\xfe end"}
	a := newApp(t, hostileRoutes(entries))
	cl := a.client()
	first := cl.get("/put")
	require.Equal(t, http.StatusOK, first.StatusCode, first.body)
	assert.Equal(t, first.body, cl.get("/dump").body)
	assert.Equal(t, wantDump(map[string]any{"k": "caf\uFFFD \uFFFD\uFFFD end"}), first.body)
}

func TestSQLMetacharactersRoundTripAndLeaveTheTableIntact(t *testing.T) {
	entries := map[string]any{
		"'; DROP TABLE gin_sessions; --": "'; DELETE FROM gin_sessions; --",
		`" OR "1"="1`:                    `' OR '1'='1`,
		"`id`":                           "`data`",
		`back\slash`:                     `\'\"\\`,
		"%_":                             "%_*?",
		"?":                              "$1 :name @p1",
		"/* comment */":                  "-- comment\n",
		"); UPDATE gin_sessions SET version = 0; --": "\x00'",
	}
	const user = "' OR user_id <> '' --"
	a := newApp(t, func(r *gin.Engine) {
		hostileRoutes(entries)(r)
		r.GET("/user", func(c *gin.Context) {
			s := Default(c)
			s.SetUserID(user)
			c.String(http.StatusOK, s.UserID())
		})
		r.GET("/who", func(c *gin.Context) { c.String(http.StatusOK, Default(c).UserID()) })
	})
	bystander := a.client()
	require.Equal(t, http.StatusOK, bystander.get("/set?k=theirs").StatusCode)
	a.clock.Advance(time.Second) // rows() orders by creation
	cl := a.client()
	resp := cl.get("/put")
	require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
	assert.Equal(t, []string{"INSERT"}, kinds(resp.stmts))
	resp = cl.get("/user")
	assert.Equal(t, []string{"SELECT", "UPDATE"}, kinds(resp.stmts))

	assert.Equal(t, wantDump(entries), cl.get("/dump").body, "every key and value exactly")
	assert.Equal(t, user, cl.get("/who").body)
	assert.Equal(t, "theirs", bystander.get("/get?k=k").body, "the other session is intact")
	rows := a.rows()
	require.Len(t, rows, 2, "no row deleted or added")
	assert.Equal(t, []string{"", user}, []string{rows[0].UserID, rows[1].UserID})
	assert.EqualValues(t, []int64{1, 2}, []int64{rows[0].Version, rows[1].Version}, "versions untouched by any injected SQL")
	assert.True(t, a.db.Migrator().HasTable(DefaultTableName))
}

func TestUserKeysNamedLikeTheStoredRecordsFieldsStayUserKeys(t *testing.T) {
	entries := map[string]any{
		"values":     "user value",
		"flashes":    "user flash",
		"Values":     "capital",
		"FLASHES":    "shouting",
		"":           "empty key",
		"user_id":    "mallory",
		"version":    "99",
		"expires_at": "2099-01-01T00:00:00Z",
		"id":         "0000",
	}
	a := newApp(t, func(r *gin.Engine) {
		hostileRoutes(entries)(r)
		r.GET("/meta", func(c *gin.Context) {
			s := Default(c)
			c.String(http.StatusOK, "user=%q flashes=%v", s.UserID(), s.Flashes())
		})
	})
	cl := a.client()
	require.Equal(t, http.StatusOK, cl.get("/put").StatusCode)
	assert.Equal(t, wantDump(entries), cl.get("/dump").body)
	assert.Equal(t, `user="" flashes=[]`, cl.get("/meta").body, "no flash, no user bound")

	rows := a.rows()
	require.Len(t, rows, 1)
	assert.Empty(t, rows[0].UserID)
	assert.EqualValues(t, 1, rows[0].Version)
	var stored map[string]json.RawMessage
	require.NoError(t, json.Unmarshal([]byte(rows[0].Data), &stored))
	assert.Equal(t, []string{"values"}, slices.Sorted(func(yield func(string) bool) {
		for k := range stored {
			if !yield(k) {
				return
			}
		}
	}), "user keys live inside values only")
}

func TestReplayedDeadIDCostsOneQueryAndIsNeverRevived(t *testing.T) {
	for _, kill := range []string{"/renew", "/destroy"} {
		t.Run(kill, func(t *testing.T) {
			a := newApp(t, basicRoutes)
			owner := a.client()
			require.Equal(t, http.StatusOK, owner.get("/set?k=v").StatusCode)
			old := owner.cookie()
			_, oldID := parseToken(old)
			require.Equal(t, http.StatusOK, owner.get(kill).StatusCode)

			replay := a.client()
			replay.setCookie(old)
			resp := replay.get("/get?k=k")
			assert.Equal(t, http.StatusNotFound, resp.StatusCode)
			assert.Equal(t, []string{"SELECT"}, kinds(resp.stmts))

			resp = replay.get("/set?k=replayed")
			assert.Equal(t, []string{"SELECT", "INSERT"}, kinds(resp.stmts))
			assert.NotEqual(t, old, replay.cookie(), "a fresh ID, not the dead one")
			resp = replay.get("/destroy")
			assert.Equal(t, []string{"DELETE"}, kinds(resp.stmts), "one statement")

			replay.setCookie(old)
			resp = replay.get("/destroy")
			assert.Equal(t, []string{"DELETE"}, kinds(resp.stmts), "destroying a dead ID is one statement")
			for _, m := range a.rows() {
				assert.NotEqual(t, oldID, m.ID, "the dead ID never comes back")
			}
			if kill == "/renew" {
				assert.Equal(t, "v", owner.get("/get?k=k").body, "the replay cannot touch the renewed session")
			}
		})
	}
}

// A sibling subdomain can plant its own live session cookie ahead of the
// victim's (cookie tossing). The first live cookie wins, so the victim works
// in the attacker's session until login; RenewID at login gives the victim a
// new ID, and the attacker's copy stops working.
func TestTossedSessionCookieIsWorthlessToTheAttackerAfterLogin(t *testing.T) {
	a := newApp(t, func(r *gin.Engine) {
		basicRoutes(r)
		r.GET("/login", func(c *gin.Context) {
			s := Default(c)
			s.RenewID()
			s.Set("username", "Alice")
			c.String(http.StatusOK, "Logged in")
		})
	})
	attacker := a.client()
	require.Equal(t, http.StatusOK, attacker.get("/set?planted=1").StatusCode)
	tossed := attacker.cookie()
	victim := a.client()
	require.Equal(t, http.StatusOK, victim.get("/set?own=1").StatusCode)
	own := victim.cookie()

	resp := getWithCookieHeader(t, a, "/login", sessionCookies(tossed, own))
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, []string{"SELECT", "UPDATE", "UPDATE"}, kinds(resp.stmts), "the renewal, then the old ID retired")
	ck := resp.sessionCookie()
	require.NotNil(t, ck, "login hands out a new ID")
	assert.NotEqual(t, tossed, ck.Value)
	assert.NotEqual(t, own, ck.Value)

	resp = attacker.get("/get?k=username")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the attacker's planted ID died at the victim's login")
	loggedIn := a.client()
	loggedIn.setCookie(ck.Value)
	assert.Equal(t, "Alice", loggedIn.get("/get?k=username").body)
	assert.Equal(t, "1", loggedIn.get("/get?k=planted").body,
		"RenewID keeps data: what was planted before login comes along (docs/security.md says to Clear at login)")
}

// The __Host- prefix stops cookie tossing at the browser: it accepts such a
// cookie only with Secure, Path=/ and no Domain, so no sibling subdomain can
// set one. The store must produce exactly those attributes for it.
func TestHostPrefixedCookieNameGetsTheAttributesBrowsersDemand(t *testing.T) {
	const name = "__Host-session"
	a := newApp(t, basicRoutes, WithCookieName(name), WithSecure(true))
	resp := a.client().get("/set?k=v")
	require.Equal(t, http.StatusOK, resp.StatusCode)
	raw := resp.Header.Get("Set-Cookie")
	require.True(t, strings.HasPrefix(raw, name+"="), raw)
	assert.Contains(t, raw, "; Secure")
	assert.Contains(t, raw, "; Path=/;")
	assert.NotContains(t, raw, "Domain=")

	var token string
	for _, ck := range resp.Cookies() {
		if ck.Name == name {
			token = ck.Value
		}
	}
	resp = getWithCookieHeader(t, a, "/get?k=k", name+"="+token)
	assert.Equal(t, "v", resp.body)
	resp = getWithCookieHeader(t, a, "/get?k=k", DefaultCookieName+"="+token)
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "a cookie of another name is not the session's")
	assert.Empty(t, resp.stmts)
}
