package ginsession

import (
	"bytes"
	"encoding/base64"
	"encoding/gob"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// base64JSONCodec is JSON wrapped in base64, as README once told users of a
// binary codec to do: its output is not JSON.
type base64JSONCodec struct{}

func (base64JSONCodec) Marshal(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	return []byte(base64.StdEncoding.EncodeToString(b)), err
}

func (base64JSONCodec) Unmarshal(data []byte, v any) error {
	b, err := base64.StdEncoding.DecodeString(string(data))
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// gobCodec is binary, and not UTF-8.
type gobCodec struct{}

func (gobCodec) Marshal(v any) ([]byte, error) {
	var b bytes.Buffer
	err := gob.NewEncoder(&b).Encode(v)
	return b.Bytes(), err
}

func (gobCodec) Unmarshal(data []byte, v any) error {
	return gob.NewDecoder(bytes.NewReader(data)).Decode(v)
}

// indentCodec is JSON in another layout: a codec whose output is JSON, for
// which the whole record used to be the codec's.
type indentCodec struct{}

func (indentCodec) Marshal(v any) ([]byte, error)      { return json.MarshalIndent(v, "", "  ") }
func (indentCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

func codecRoutes(r *gin.Engine) {
	basicRoutes(r)
	r.GET("/typed", func(c *gin.Context) {
		s := Default(c)
		s.Set("n", 42)
		s.Set("p", profile{Name: "Alice", Age: 30, Since: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)})
		s.AddFlash("saved")
		c.Status(http.StatusNoContent)
	})
	r.GET("/read-typed", func(c *gin.Context) {
		s := Default(c)
		n, nOK := Get[int](s, "n")
		p, pOK := Get[profile](s, "p")
		c.String(http.StatusOK, "%d %v %s %d %v", n, nOK, p.Name, p.Age, pOK)
	})
	r.GET("/flashes", func(c *gin.Context) { c.String(http.StatusOK, "%v", Default(c).Flashes()) })
}

func TestCodecsWhoseOutputIsNotJSONSaveAndLoad(t *testing.T) {
	cases := []struct {
		name    string
		codec   Codec
		flashes string // empty: not checked (Flashes decodes untyped, which gob cannot)
	}{
		{"base64 of JSON", base64JSONCodec{}, "[saved]"},
		{"gob", gobCodec{}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := newApp(t, codecRoutes, WithCodec(tc.codec))
			cl := a.client()
			resp := cl.get("/set?k=v")
			require.Equal(t, http.StatusOK, resp.StatusCode, resp.body)
			assert.Equal(t, "v", cl.get("/get?k=k").body)
			require.Equal(t, http.StatusNoContent, cl.get("/typed").StatusCode)
			assert.Equal(t, "42 true Alice 30 true", cl.get("/read-typed").body)
			if tc.flashes != "" {
				assert.Equal(t, tc.flashes, cl.get("/flashes").body)
			}
			assert.Equal(t, "k,n,p", cl.get("/keys").body)
			assert.Empty(t, a.errors())

			rows := a.rows()
			require.Len(t, rows, 1)
			data := rows[0].Data
			assert.True(t, utf8.ValidString(data) && json.Valid([]byte(data)), "the column holds valid JSON text: %q", data)
			assert.True(t, strings.HasPrefix(data, `{"encoding":"base64","values":{`), data)
		})
	}
}

// A session written by a codec whose output is JSON, in the layout the
// store used before values were base64, still reads after the upgrade.
func TestRecordWrittenByAJSONLikeCodecBeforeTheUpgradeStillReads(t *testing.T) {
	a := newApp(t, codecRoutes, WithCodec(indentCodec{}))
	owner := a.client()
	require.Equal(t, http.StatusOK, owner.get("/set?k=v").StatusCode)
	legacy := "{\n  \"values\": {\n    \"k\": \"legacy\"\n  },\n  \"flashes\": [\n    \"old flash\"\n  ]\n}"
	require.NoError(t, a.db.Exec(`UPDATE gin_sessions SET data = ?`, legacy).Error)

	assert.Equal(t, "legacy", owner.get("/get?k=k").body)
	assert.Equal(t, "[old flash]", owner.get("/flashes").body)
	require.Equal(t, http.StatusOK, owner.get("/set?k=new").StatusCode)
	assert.Equal(t, "new", owner.get("/get?k=k").body)
	assert.True(t, strings.HasPrefix(a.rows()[0].Data, `{"encoding":"base64",`), "rewritten in the new layout")
}
