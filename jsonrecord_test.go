package ginsession

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// viaEncodingJSON decodes a record the slow, obviously right way.
func viaEncodingJSON(data []byte) (map[string]any, error) {
	var generic struct {
		Values  map[string]any `json:"values"`
		Flashes []any          `json:"flashes"`
	}
	err := json.Unmarshal(data, &generic)
	if len(generic.Flashes) == 0 {
		generic.Flashes = nil // an empty list and none are the same to a session
	}
	return map[string]any{"values": generic.Values, "flashes": generic.Flashes}, err
}

func decodedAsGeneric(t *testing.T, r record) map[string]any {
	t.Helper()
	values := map[string]any{}
	for k, v := range r.Values {
		var x any
		require.NoError(t, json.Unmarshal(v, &x), "value of %q: %s", k, v)
		values[k] = x
	}
	var flashes []any
	for _, f := range r.Flashes {
		var x any
		require.NoError(t, json.Unmarshal(f, &x))
		flashes = append(flashes, x)
	}
	if r.Values == nil {
		values = nil
	}
	return map[string]any{"values": values, "flashes": flashes}
}

func TestJSONRecordDecodesLikeEncodingJSON(t *testing.T) {
	inputs := []string{
		`{"values":{"user":"alice","n":3}}`,
		`{"values":{}}`,
		`{}`,
		` { "values" : { "a" : [1, {"b": "}]"}] , "c":null } , "flashes" : [ "hi", {"x":1}, 2.5e3 ] } `,
		`{"values":{"quote\"key":"v","esc\\\\":"w","uni\u00e9\ud83d\ude00":"\u2028"}}`,
		`{"future":{"x":[1,2]},"values":{"k":true}}`,
		`{"values":{"k":false},"flashes":[]}`,
		`{"values":{"k":"a\"b\\c"}}`,
		`{"values":{"dup":1,"dup":2}}`,
	}
	for _, in := range inputs {
		t.Run(in, func(t *testing.T) {
			want, err := viaEncodingJSON([]byte(in))
			require.NoError(t, err)
			got, err := decodeJSONRecord([]byte(in))
			require.NoError(t, err)
			assert.Equal(t, want, decodedAsGeneric(t, got))
		})
	}
}

func TestJSONRecordRejectsWhatIsNotARecord(t *testing.T) {
	for _, in := range []string{
		``, `null`, `[]`, `"values"`, `{"values":[1]}`, `{"values":"x"}`, `{"flashes":{}}`,
		`{"values":{"k":1}`, `{"values":{"k":}}`, `{"values":{"k":1}}x`, "{\"values\":{\"k\":\"\xff\"}}x",
		`{"values":{"k":1},}`, strings.Repeat(`{"values":`, 20000),
	} {
		_, err := decodeJSONRecord([]byte(in))
		assert.Error(t, err, "%.40q", in)
	}
}

func TestJSONRecordRoundTrips(t *testing.T) {
	r := record{
		Values: map[string]rawValue{
			"plain":              rawValue(`"v"`),
			"needs \"escaping\"": rawValue(`[1,2]`),
			"ctl\x01\n\t\\":      rawValue(`{"a":null}`),
			"bad utf8 \xff é 😀":  rawValue(`3`),
			"":                   rawValue(`""`),
		},
		Flashes: []rawValue{rawValue(`"one"`), rawValue(`{"two":2}`)},
	}
	data := appendJSONRecord(nil, &r)
	require.True(t, json.Valid(data), "%s", data)
	got, err := decodeJSONRecord(data)
	require.NoError(t, err)
	want := map[string]rawValue{}
	for k, v := range r.Values {
		want[strings.ToValidUTF8(k, "\ufffd")] = v
	}
	assert.Equal(t, want, got.Values)
	assert.Equal(t, r.Flashes, got.Flashes)

	generic, err := viaEncodingJSON(data)
	require.NoError(t, err)
	assert.Equal(t, generic, decodedAsGeneric(t, got), "encoding/json reads it the same")
}
