package store

import (
	"bytes"
	"sync"
)

// Decoded remembers the decoded form of recently read documents, so that a
// hot record is not parsed from JSON on every request (decoding the stored
// document was the largest single cost of a read request).
//
// An entry is keyed by (Kind, ID) and holds the exact bytes it was decoded
// from; it is used only when a record's Data is byte-for-byte the same, so
// the cache can never return a value other than decoding Data would give,
// whatever the record's history (updates, deletion and re-creation,
// writes by another process). Values handed out are shared: callers must
// treat them as read-only (clone before changing one).
//
// The cache is bounded: when it holds Max entries it drops about a quarter
// of them, chosen at random.
type Decoded[T any] struct {
	// Decode parses a document; it must be deterministic.
	Decode func(data []byte) (T, error)
	// Max bounds the number of entries (DefaultDecodedMax when 0).
	Max int

	mu      sync.RWMutex
	entries map[decodedKey]decodedEntry[T]
}

// DefaultDecodedMax is the default bound of a Decoded cache.
const DefaultDecodedMax = 512

type decodedKey struct{ kind, id string }

type decodedEntry[T any] struct {
	data []byte
	val  T
}

// Get returns the decoded form of rec.Data, from the cache when the same
// bytes were decoded before.
func (d *Decoded[T]) Get(rec *Record) (T, error) {
	k := decodedKey{rec.Kind, rec.ID}
	d.mu.RLock()
	e, ok := d.entries[k]
	d.mu.RUnlock()
	if ok && bytes.Equal(e.data, rec.Data) {
		return e.val, nil
	}
	v, err := d.Decode(rec.Data)
	if err != nil {
		return v, err
	}
	// The cache keeps its own copy: the caller may reuse rec.Data.
	d.put(k, decodedEntry[T]{data: bytes.Clone(rec.Data), val: v})
	return v, nil
}

func (d *Decoded[T]) put(k decodedKey, e decodedEntry[T]) {
	limit := d.Max
	if limit <= 0 {
		limit = DefaultDecodedMax
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.entries == nil {
		d.entries = make(map[decodedKey]decodedEntry[T])
	}
	if _, present := d.entries[k]; !present && len(d.entries) >= limit {
		drop := max(1, limit/4)
		for old := range d.entries { // map order is random
			delete(d.entries, old)
			if drop--; drop == 0 {
				break
			}
		}
	}
	d.entries[k] = e
}

// Len reports the number of cached entries.
func (d *Decoded[T]) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.entries)
}
