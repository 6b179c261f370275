package ginsession

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Fuzz targets. Their seeds are in testdata/fuzz/<name>/ and run with every
// `go test`; `go test -run=^$ -fuzz=^FuzzX$ -fuzztime=10s` explores further.

// tokenAlphabet is base64url's alphabet.
const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// canonicalLast holds the characters that can end a 43-character encoding of
// 32 bytes: the last character carries 2 bits of padding, which must be 0.
const canonicalLast = "AEIMQUYcgkosw048"

// wellFormed says, without the base64 package, whether v is the encoding of
// a token: 43 characters of the alphabet, ending on a canonical one.
func wellFormed(v string) bool {
	if len(v) != tokenLen {
		return false
	}
	for i := range len(v) {
		if !strings.ContainsRune(tokenAlphabet, rune(v[i])) {
			return false
		}
	}
	return strings.ContainsRune(canonicalLast, rune(v[len(v)-1]))
}

func FuzzParseToken(f *testing.F) {
	for range 3 {
		token, _ := newToken()
		f.Add(token)
	}
	f.Fuzz(func(t *testing.T, v string) {
		id, ok := parseToken(v)
		require.Equal(t, wellFormed(v), ok, "accepted exactly the canonical 43-character encodings")
		if !ok {
			assert.Empty(t, id)
			return
		}
		raw, err := base64.RawURLEncoding.DecodeString(v)
		require.NoError(t, err)
		require.Len(t, raw, tokenBytes)
		assert.Equal(t, v, base64.RawURLEncoding.EncodeToString(raw), "re-encodes identically")
		sum := sha256.Sum256(raw)
		assert.Equal(t, hex.EncodeToString(sum[:]), id, "the row ID is the hash of the token's bytes")
	})
}

// sameJSON asserts that a and b are JSON texts of the same value (numbers
// compared as written).
func sameJSON(t *testing.T, a, b []byte, msg string) {
	t.Helper()
	decode := func(data []byte) any {
		d := json.NewDecoder(bytes.NewReader(data))
		d.UseNumber()
		var v any
		require.NoError(t, d.Decode(&v), msg)
		return v
	}
	assert.Equal(t, decode(a), decode(b), msg)
}

// checkDecodeRecord asserts what must hold of any stored data: it decodes
// or fails cleanly, what decodes is JSON that Get can read, and what decodes
// can be saved again unchanged, with no key lost, renamed or moved between
// values and flashes.
func checkDecodeRecord(t *testing.T, data []byte) {
	rec, err := decodeRecord(JSONCodec{}, data)
	if err != nil {
		return
	}
	require.True(t, json.Valid(data), "only valid JSON decodes")
	size := 0
	for k, v := range rec.Values {
		size += len(k) + len(v)
		require.True(t, json.Valid(v), "value of %q is JSON that Get can decode", k)
	}
	for _, v := range rec.Flashes {
		size += len(v)
		require.True(t, json.Valid(v), "a flash is JSON that Flashes can decode")
	}
	// Bounded memory: decoding never amplifies the input beyond the three
	// bytes of U+FFFD for each stray byte of a key.
	require.LessOrEqual(t, size, 3*len(data))
	if !utf8.Valid(data) {
		// A text column of PostgreSQL or MySQL holds only UTF-8; what
		// SQLite can hold beyond that is a known gap, shown by
		// TestRowWithNonUTF8BytesStillAcceptsWrites.
		return
	}

	enc, err := encodeRecord(JSONCodec{}, &rec)
	require.NoError(t, err, "what loads can be encoded again")
	require.True(t, utf8.Valid(enc), "UTF-8 in, UTF-8 out: the save's own check passes")
	again, err := decodeRecord(JSONCodec{}, enc)
	require.NoError(t, err, "what the store writes, it reads back: %q", enc)
	require.Len(t, again.Values, len(rec.Values), "no key lost or merged")
	for k, v := range rec.Values {
		require.Contains(t, again.Values, k, "user keys stay user keys")
		sameJSON(t, v, again.Values[k], "value of "+k)
	}
	require.Len(t, again.Flashes, len(rec.Flashes))
	for i, v := range rec.Flashes {
		sameJSON(t, v, again.Flashes[i], "a flash")
	}
	enc2, err := encodeRecord(JSONCodec{}, &again)
	require.NoError(t, err)
	assert.Equal(t, string(enc), string(enc2), "a second round changes nothing")
}

func FuzzDecodeRecord(f *testing.F) {
	f.Fuzz(checkDecodeRecord)
}

// Inputs too large to keep as seeds (the fuzzer spends its time minimizing
// them): nesting past encoding/json's limit and just under it, and a value
// larger than DefaultMaxSize.
func TestDecodeRecordOfHostileSizeFailsCleanlyOrRoundTrips(t *testing.T) {
	cases := []struct {
		name    string
		data    string
		decodes bool
	}{
		{"nested past the limit", `{"values":{"k":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}}`, false},
		{"nested just under the limit", `{"values":{"k":` + strings.Repeat("[", 9990) + strings.Repeat("]", 9990) + `}}`, true},
		{"objects nested past the limit", strings.Repeat(`{"values":`, 10001) + `{}` + strings.Repeat(`}`, 10001), false},
		{"value over the size limit", `{"values":{"big":"` + strings.Repeat("x", 2*DefaultMaxSize) + `"}}`, true},
		{"fifty thousand flashes", `{"values":{},"flashes":[` + strings.Repeat(`0,`, 50_000) + `0]}`, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeRecord(JSONCodec{}, []byte(tc.data))
			assert.Equal(t, tc.decodes, err == nil, "decode error: %v", err)
			checkDecodeRecord(t, []byte(tc.data))
		})
	}
}

// fuzzLiveToken names the one session that FuzzRequestCookieHeader's
// database holds, so that its seeds can mention it.
const fuzzLiveToken = "ZnV6ei1maXh0dXJlLWxpdmUtc2Vzc2lvbi10b2tlbiE"

func FuzzRequestCookieHeader(f *testing.F) {
	fdb := openFaultDB(f, filepath.Join(f.TempDir(), "sessions.db"), recommendedQuery, nil)
	clk := newClock()
	st, err := NewStore(fdb.gorm, WithClock(clk.Now), WithCleanupInterval(0),
		WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	require.NoError(f, err)
	liveID, ok := parseToken(fuzzLiveToken)
	require.True(f, ok)
	now := clk.Now()
	require.NoError(f, fdb.gorm.Table(DefaultTableName).Create(&Model{
		ID: liveID, Data: `{"values":{"k":"live"}}`, Version: 1,
		CreatedAt: now, UpdatedAt: now, ExpiresAt: now.Add(DefaultIdleTimeout),
	}).Error)

	r := gin.New() // no Recovery: a panic must fail the fuzz run, not become a 500
	r.Use(st.Handler())
	r.GET("/read", func(c *gin.Context) {
		v, _ := Get[string](Default(c), "k")
		c.String(http.StatusOK, v)
	})
	r.GET("/write", func(c *gin.Context) {
		s := Default(c)
		if s.IsNew() {
			s.Set("k", "new")
		}
		c.String(http.StatusOK, "written")
	})

	f.Add(DefaultCookieName+"="+fuzzLiveToken, false)
	f.Add(DefaultCookieName+"="+fuzzLiveToken, true)
	f.Fuzz(func(t *testing.T, header string, write bool) {
		path := "/read"
		if write {
			path = "/write"
		}
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.Header.Set("Cookie", header)
		fdb.rec.Take()
		w := httptest.NewRecorder()
		r.ServeHTTP(w, req)
		raw := fdb.rec.Take()
		stmts := kinds(raw)
		ck := (response{Response: w.Result()}).sessionCookie()

		require.Equal(t, http.StatusOK, w.Code, "cookie input alone never fails a request: %s", w.Body)
		allowed := [][]string{{}, {"SELECT"}}
		if write {
			allowed = [][]string{{"INSERT"}, {"SELECT", "INSERT"}, {"SELECT"}}
		}
		require.Contains(t, allowed, stmts, "bounded statements")
		selects := 0
		if len(stmts) > 0 && stmts[0] == "SELECT" {
			selects = 1
			assert.LessOrEqual(t, strings.Count(raw[0], "?"), 4+1, "at most four IDs looked up")
		}

		// Sound for any header: nothing is looked up without a value that
		// could be a token, the live session is never reached without its
		// token, and no token from the client becomes the new session's.
		runs := tokenRuns(header)
		if len(runs) == 0 {
			assert.Zero(t, selects, "no query without a possible token")
		}
		presented := strings.Contains(header, fuzzLiveToken)
		found := (!write && w.Body.String() == "live") || (write && !slices.Contains(stmts, "INSERT"))
		if found {
			assert.True(t, presented, "the live session is reached only with its token")
		}
		if !write {
			assert.Contains(t, []string{"", "live"}, w.Body.String())
			assert.Nil(t, ck, "a read hands out no cookie")
		} else if !found {
			require.NotNil(t, ck, "a new session's cookie")
			assert.True(t, wellFormed(ck.Value))
			assert.NotContains(t, header, ck.Value, "no ID from the client is adopted")
		} else {
			assert.Nil(t, ck, "the live session needs no new cookie")
		}

		// Exact for headers as browsers write them ("a=b; c=d"), where every
		// possible token is a plain session cookie: the first four distinct
		// ones are looked up in one query, and the first live one wins.
		plain := plainSessionTokens(header)
		if len(plain) != len(runs) {
			return
		}
		looked := plain[:min(len(plain), 4)]
		wantSelect := 0
		if len(plain) > 0 {
			wantSelect = 1
		}
		assert.Equal(t, wantSelect, selects, "one query when a token was sent")
		assert.Equal(t, slices.Contains(looked, fuzzLiveToken), found, "found exactly when among the first four")
	})
}

// tokenRuns returns the distinct maximal runs of the token alphabet in h
// that are well-formed tokens: every value that any reading of the header
// could take for a session token.
func tokenRuns(h string) []string {
	var runs []string
	for _, run := range strings.FieldsFunc(h, func(r rune) bool { return !strings.ContainsRune(tokenAlphabet, r) }) {
		if wellFormed(run) && !slices.Contains(runs, run) {
			runs = append(runs, run)
		}
	}
	return runs
}

// plainSessionTokens reads h as a browser writes it: pairs split by ";",
// spaces and tabs around each, and returns the distinct well-formed values
// of the session cookie, in order.
func plainSessionTokens(h string) []string {
	var out []string
	for part := range strings.SplitSeq(h, ";") {
		v, ok := strings.CutPrefix(strings.Trim(part, " \t"), DefaultCookieName+"=")
		if ok && wellFormed(v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
