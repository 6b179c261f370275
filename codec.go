package ginsession

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// A Codec turns session values into bytes and back. Set and AddFlash call
// Marshal at once, so an unencodable value fails in the request that set it;
// Get and Get[T] call Unmarshal with a pointer to the wanted type.
//
// The codec also encodes the session's whole record, a struct whose fields
// are maps and slices of already encoded values (each a []byte that
// implements json.Marshaler by returning itself). The result is stored in a
// text column, so it must be valid UTF-8: a binary codec should wrap its
// output in base64.
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

func encodeRecord(c Codec, r *record) ([]byte, error) {
	if _, ok := c.(JSONCodec); ok {
		return appendJSONRecord(make([]byte, 0, 256), r), nil
	}
	b, err := c.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("%w: session record: %w", ErrEncode, err)
	}
	return b, nil
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
	var r record
	if err := c.Unmarshal(data, &r); err != nil {
		return record{}, err
	}
	return r, nil
}
