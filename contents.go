package ginsession

import (
	"bytes"
	"slices"
)

// The session's values and flashes, and this request's changes to them
// (see contents in lifecycle.go). Nothing here knows which row they belong
// to or how it expires: identity and lifetime change apart.

// set records raw under key. It reports whether the value changed, and so
// is worth a write. stored tells whether the session has a row: only then
// can a concurrent writer save first, and the change need be kept apart to
// be re-applied (a new row's ID is new, and its save an insert); a map
// less for a new session.
func (c *contents) set(key string, raw rawValue, stored bool) bool {
	if stored {
		if c.sets == nil {
			c.sets = map[string]rawValue{}
		}
		c.sets[key] = raw // re-applied if a concurrent writer saves first
	}
	delete(c.deletes, key)
	if old, ok := c.values[key]; ok && bytes.Equal(old, raw) {
		return false
	}
	if c.values == nil {
		c.values = map[string]rawValue{}
	}
	c.values[key] = raw
	return true
}

// remove deletes key and reports whether it held a value.
func (c *contents) remove(key string) bool {
	if _, ok := c.values[key]; !ok {
		return false
	}
	delete(c.values, key)
	delete(c.sets, key)
	if c.deletes == nil {
		c.deletes = map[string]struct{}{}
	}
	c.deletes[key] = struct{}{}
	return true
}

// clear drops every value and flash, to be re-applied over a concurrent
// save, and reports whether there were any: clearing what looks empty
// changes nothing.
func (c *contents) clear() bool {
	if len(c.values) == 0 && len(c.flashes) == 0 {
		return false
	}
	*c = contents{cleared: true, lostTaken: c.lostTaken}
	return true
}

// addFlash queues raw.
func (c *contents) addFlash(raw rawValue) {
	c.flashes = append(c.flashes, raw)
	c.added = append(c.added, raw)
}

// takeFlashes removes every queued flash and returns those that came from
// the database and those this request added.
func (c *contents) takeFlashes() (stored, added []rawValue) {
	stored, added = slices.Clone(c.flashes[:c.stored]), c.flashes[c.stored:]
	c.taken = append(c.taken, stored...)
	c.flashes, c.added, c.stored = nil, nil, 0
	return stored, added
}

// rebase applies this request's changes to rec, the record a concurrent
// save left, and notes the flashes this request took that the other took
// first (lostTaken).
func (c *contents) rebase(rec record) record {
	if c.cleared {
		rec.Values, rec.Flashes = nil, nil
	}
	if rec.Values == nil {
		rec.Values = map[string]rawValue{}
	}
	for k := range c.deletes {
		delete(rec.Values, k)
	}
	for k, v := range c.sets {
		rec.Values[k] = v
	}
	c.lostTaken = c.lostTaken[:0] // the latest row decides
	for _, f := range c.taken {
		if i := slices.IndexFunc(rec.Flashes, func(g rawValue) bool { return bytes.Equal(f, g) }); i >= 0 {
			rec.Flashes = slices.Delete(rec.Flashes, i, i+1)
		} else {
			c.lostTaken = append(c.lostTaken, f)
		}
	}
	return rec
}

// adopt takes rec as the stored contents, with this request's added
// flashes after the stored ones (after a rebase) or none (after a load).
func (c *contents) adopt(rec record) {
	added := c.added
	c.values = rec.Values
	c.flashes, c.stored = rec.Flashes, len(rec.Flashes)
	c.flashes = append(c.flashes, added...)
}

// saved forgets this request's changes, once they are in the database or
// dropped. The caller counts the stored flashes anew after a save.
func (c *contents) saved() {
	c.cleared = false
	c.sets, c.deletes = nil, nil // made on first use
	c.added, c.taken = nil, nil
}
