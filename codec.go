package ginsession

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// A Codec turns session values into bytes and back. Set and AddFlash call
// Marshal at once, so an unencodable value fails in the request that set it;
// Get and Get[T] call Unmarshal with a pointer to the wanted type.
//
// A codec encodes single values only; its output may be any bytes (JSON,
// gob, ciphertext). The store keeps a session's values and flashes in a
// JSON record of its own, in a text column: with JSONCodec each value is
// written into it as JSON, readable in the database; with any other codec
// each value is written as a base64 string.
//
// The default is JSONCodec.
type Codec interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSONCodec encodes with encoding/json: readable in the database and needing
// no type registration. Untyped reads (Session.Get) give JSON's types back
// (float64 for numbers, map[string]any for objects); Get[T] gives T.
type JSONCodec struct{}

// Marshal encodes v as JSON.
func (JSONCodec) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes JSON data into v.
func (JSONCodec) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

// rawValue is one encoded value. It marshals as itself so that, with the JSON
// codec, the stored record reads as plain JSON rather than base64.
type rawValue []byte

func (r rawValue) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("null"), nil
	}
	return r, nil
}

func (r *rawValue) UnmarshalJSON(data []byte) error {
	*r = append((*r)[:0], data...)
	return nil
}

// record is what a row's data column holds. Flashes live apart from Values so
// that no key a user picks can collide with them.
type record struct {
	Values  map[string]rawValue `json:"values"`
	Flashes []rawValue          `json:"flashes,omitempty"`
}

// base64Record starts a record whose values are base64 strings of another
// codec's output.
const base64Record = `{"encoding":"base64",`

func encodeRecord(c Codec, r *record) ([]byte, error) {
	if _, ok := c.(JSONCodec); ok {
		return appendJSONRecord(make([]byte, 0, 256), r), nil
	}
	wrapped := record{Values: make(map[string]rawValue, len(r.Values)), Flashes: make([]rawValue, len(r.Flashes))}
	for k, v := range r.Values {
		wrapped.Values[k] = quoteBase64(v)
	}
	for i, f := range r.Flashes {
		wrapped.Flashes[i] = quoteBase64(f)
	}
	b := appendJSONRecord([]byte(base64Record), &wrapped)
	// appendJSONRecord opened its own object; splice it onto the marker.
	return append(b[:len(base64Record)], b[len(base64Record)+1:]...), nil
}

func quoteBase64(v rawValue) rawValue {
	b := make([]byte, 0, base64.StdEncoding.EncodedLen(len(v))+2)
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, v)
	return append(b, '"')
}

// decodeRecord decodes a stored record. With the JSON codec the values are
// slices of data, which must not change afterwards.
func decodeRecord(c Codec, data []byte) (record, error) {
	if !utf8.Valid(data) {
		// Whatever wrote it, a save could not write it back.
		return record{}, errors.New("ginsession: stored session is not valid UTF-8")
	}
	if _, ok := c.(JSONCodec); ok {
		return decodeJSONRecord(data)
	}
	if !bytes.HasPrefix(data, []byte(base64Record)) {
		// Written before values were base64: the codec encoded the whole
		// record, which worked for codecs whose output is JSON.
		var r record
		if err := c.Unmarshal(data, &r); err != nil {
			return record{}, err
		}
		return r, nil
	}
	r, err := decodeJSONRecord(data)
	if err != nil {
		return record{}, err
	}
	for k, v := range r.Values {
		if r.Values[k], err = unquoteBase64(v); err != nil {
			return record{}, err
		}
	}
	for i, f := range r.Flashes {
		if r.Flashes[i], err = unquoteBase64(f); err != nil {
			return record{}, err
		}
	}
	return r, nil
}

func unquoteBase64(v rawValue) (rawValue, error) {
	var s string
	if err := json.Unmarshal(v, &s); err != nil {
		return nil, fmt.Errorf("ginsession: stored value is not a base64 string: %w", err)
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("ginsession: stored value is not a base64 string: %w", err)
	}
	return b, nil
}
