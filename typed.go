package ginsession

import (
	"bytes"
	"encoding"
	"encoding/json"
	"reflect"
	"strings"
)

// fitsJSON reports whether raw, a JSON value, holds a t where
// encoding/json would accept it without complaint but without meaning
// either: null for a type that cannot be nil (json leaves the zero value),
// and an object none of whose keys is a field of struct t (json ignores
// unknown keys). Anything else is left to json.Unmarshal to judge.
func fitsJSON(t reflect.Type, raw []byte) bool {
	raw = bytes.TrimSpace(raw)
	if string(raw) == "null" {
		switch t.Kind() {
		case reflect.Pointer, reflect.Interface, reflect.Map, reflect.Slice:
			return true
		}
		return false
	}
	if t.Kind() != reflect.Struct || len(raw) == 0 || raw[0] != '{' || decodesItself(t) {
		return true
	}
	fields := map[string]bool{}
	jsonFields(t, fields, map[reflect.Type]bool{})
	if len(fields) == 0 {
		return true // a struct with nothing to match: any object will do
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil {
		return true // let Unmarshal report it
	}
	for k := range obj {
		if fields[strings.ToLower(k)] {
			return true
		}
	}
	return false
}

// decodesItself reports whether *t decodes its own JSON (time.Time, say),
// whose keys are then none of encoding/json's business.
func decodesItself(t reflect.Type) bool {
	p := reflect.PointerTo(t)
	return p.Implements(reflect.TypeFor[json.Unmarshaler]()) || p.Implements(reflect.TypeFor[encoding.TextUnmarshaler]())
}

// jsonFields adds the lower-cased JSON names of struct t's fields to names,
// as encoding/json matches them (case-insensitively), with the fields of
// embedded structs promoted. seen holds the struct types already walked: a
// type may embed a pointer to itself (type Node struct{ *Node; Name string }),
// or to a type that embeds it, and encoding/json, which walks each embedded
// type once too, finds no field there that it has not found already.
func jsonFields(t reflect.Type, names map[string]bool, seen map[reflect.Type]bool) {
	if seen[t] {
		return
	}
	seen[t] = true
	for f := range t.Fields() {
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		if ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
			jsonFields(ft, names, seen)
			continue
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names[strings.ToLower(name)] = true
	}
}
