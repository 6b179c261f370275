package ginsession

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"unicode/utf8"
)

// The JSON codec's record is written and read by hand: encoding/json would
// re-validate every already encoded value on the way in and copy each one on
// the way out, which costs more than the rest of a read-only request.

var errRecordShape = errors.New(`ginsession: stored session is not a JSON object of the form {"values":{...},"flashes":[...]}`)

// appendJSONRecord appends r as {"values":{...},"flashes":[...]}, keys sorted.
func appendJSONRecord(b []byte, r *record) []byte {
	b = append(b, `{"values":{`...)
	keys := make([]string, 0, len(r.Values))
	for k := range r.Values {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k)
		b = append(b, ':')
		b = appendRaw(b, r.Values[k])
	}
	b = append(b, '}')
	if len(r.Flashes) > 0 {
		b = append(b, `,"flashes":[`...)
		for i, f := range r.Flashes {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendRaw(b, f)
		}
		b = append(b, ']')
	}
	return append(b, '}')
}

func appendRaw(b []byte, v rawValue) []byte {
	if len(v) == 0 {
		return append(b, "null"...)
	}
	return append(b, v...)
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes U+FFFD,
// as encoding/json does.
func appendJSONString(b []byte, s string) []byte {
	const hex = "0123456789abcdef"
	b = append(b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				b = append(b, '\\', c)
			case c == '\n':
				b = append(b, '\\', 'n')
			case c == '\r':
				b = append(b, '\\', 'r')
			case c == '\t':
				b = append(b, '\\', 't')
			case c < 0x20:
				b = append(b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				b = append(b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, `\ufffd`...)
		} else {
			b = append(b, s[i:i+size]...)
		}
		i += size
	}
	return append(b, '"')
}

// decodeJSONRecord reads what appendJSONRecord wrote. The values it returns
// are slices of data, which the caller must not change afterwards. Input
// that is not valid JSON of the record's shape is an error; unknown
// top-level keys are skipped.
func decodeJSONRecord(data []byte) (record, error) {
	if !json.Valid(data) {
		return record{}, errRecordShape
	}
	var r record
	p := &jsonScanner{data: data}
	err := p.object(func(key string) error {
		switch {
		case p.peek() == 'n': // null: none, as encoding/json reads it
			p.value()
			return nil
		case key == "values":
			if r.Values == nil {
				r.Values = map[string]rawValue{}
			}
			return p.object(func(k string) error {
				r.Values[k] = rawValue(p.value())
				return nil
			})
		case key == "flashes":
			return p.array(func() { r.Flashes = append(r.Flashes, rawValue(p.value())) })
		default:
			p.value()
			return nil
		}
	})
	if err != nil {
		return record{}, err
	}
	return r, nil
}

// jsonScanner walks input that json.Valid accepted, so it only has to find
// where each value ends; it still never reads out of bounds.
type jsonScanner struct {
	data []byte
	pos  int
}

func (p *jsonScanner) peek() byte {
	for p.pos < len(p.data) {
		switch c := p.data[p.pos]; c {
		case ' ', '\t', '\n', '\r':
			p.pos++
		default:
			return c
		}
	}
	return 0
}

// object calls member with each key of the object at the cursor and the
// cursor on that key's value, which member must consume.
func (p *jsonScanner) object(member func(key string) error) error {
	if p.peek() != '{' {
		return errRecordShape
	}
	p.pos++
	for {
		switch p.peek() {
		case '}':
			p.pos++
			return nil
		case ',':
			p.pos++
			continue
		case '"':
		default:
			return errRecordShape
		}
		key, err := unquote(p.value())
		if err != nil {
			return err
		}
		if p.peek() != ':' {
			return errRecordShape
		}
		p.pos++
		if err := member(key); err != nil {
			return err
		}
	}
}

// array calls elem with the cursor on each element of the array at the
// cursor; elem must consume it.
func (p *jsonScanner) array(elem func()) error {
	if p.peek() != '[' {
		return errRecordShape
	}
	p.pos++
	for {
		switch p.peek() {
		case ']':
			p.pos++
			return nil
		case ',':
			p.pos++
		case 0:
			return errRecordShape
		default:
			elem()
		}
	}
}

// value returns the value at the cursor and moves past it.
func (p *jsonScanner) value() []byte {
	p.peek()
	start := p.pos
	if p.pos >= len(p.data) {
		return nil
	}
	switch p.data[p.pos] {
	case '"':
		p.skipString()
	case '{', '[':
		depth := 0
	scan:
		for p.pos < len(p.data) {
			switch p.data[p.pos] {
			case '"':
				p.skipString()
				continue
			case '{', '[':
				depth++
			case '}', ']':
				depth--
			}
			p.pos++
			if depth == 0 {
				break scan
			}
		}
	default: // a number, true, false or null
		for p.pos < len(p.data) && !isDelimiter(p.data[p.pos]) {
			p.pos++
		}
	}
	p.pos = min(p.pos, len(p.data))
	return p.data[start:p.pos]
}

// skipString moves from a string's opening quote past its closing one.
func (p *jsonScanner) skipString() {
	p.pos++
	for p.pos < len(p.data) {
		switch p.data[p.pos] {
		case '\\':
			p.pos += 2
			continue
		case '"':
			p.pos++
			return
		}
		p.pos++
	}
}

// unquote decodes a JSON string; most keys have no escapes.
func unquote(raw []byte) (string, error) {
	if len(raw) < 2 || raw[0] != '"' {
		return "", errRecordShape
	}
	if !bytes.ContainsRune(raw, '\\') {
		return string(raw[1 : len(raw)-1]), nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", errRecordShape
	}
	return s, nil
}

func isDelimiter(c byte) bool {
	switch c {
	case ',', '}', ']', ' ', '\t', '\n', '\r':
		return true
	}
	return false
}

// plainJSONString returns the string a JSON string literal without escapes
// holds, or false when it needs a full decoder.
func plainJSONString(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	if bytes.IndexByte(inner, '\\') >= 0 || bytes.IndexByte(inner, '"') >= 0 || !utf8.Valid(inner) {
		return "", false
	}
	return string(inner), true
}
