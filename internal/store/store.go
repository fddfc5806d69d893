// Package store is the durable metadata store: one interface, implemented by
// SQLite (embedded default, package store/sqlite) and PostgreSQL (package
// store/postgres; package store/open picks one from the configuration), and
// checked by one conformance suite (package store/storetest).
//
// The store holds typed records as JSON documents. Domain packages own the
// document shapes; the store owns durability, transactions, optimistic
// versions, keyset listing and expiry.
package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Errors returned by every implementation. Compare with errors.Is.
var (
	ErrNotFound = errors.New("store: record not found")
	ErrExists   = errors.New("store: record already exists")
	// ErrVersion means the record changed since it was read (optimistic
	// concurrency); the caller re-reads and retries or reports a conflict.
	ErrVersion = errors.New("store: record version mismatch")
)

// Ordering and fidelity every implementation keeps: SortKey and ID order
// bytewise (PostgreSQL needs COLLATE "C"), ExpiresAt keeps millisecond
// precision, and Data round-trips byte for byte (bytea, not jsonb).
//
// Keys (Kind, ID, Parent, SortKey, and the strings of a Cursor or a
// SortKeyMax) are valid UTF-8 without NUL bytes, so that every
// implementation can hold them as text (PostgreSQL text cannot hold NUL).
// Insert and Update refuse a record with another key (ErrInvalidKey); Get and
// Delete of such a key report ErrNotFound, and a Query whose Kind or Parent
// is one matches nothing; a Query whose cursor or bound is one fails with
// ErrInvalidKey.

// ErrInvalidKey means a key is not valid UTF-8 or contains a NUL byte.
var ErrInvalidKey = errors.New("store: key is not valid UTF-8 without NUL bytes")

// ValidKey reports whether s may be used as a key.
func ValidKey(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// CheckQuery validates the cursor and bound of q (see ErrInvalidKey) and its
// Limit. It reports in matchable whether q can match any record at all:
// false when its Kind or Parent is not a valid key.
func CheckQuery(q Query) (matchable bool, err error) {
	if q.Limit < 0 {
		return false, fmt.Errorf("store: negative limit %d", q.Limit)
	}
	if q.After != nil && (!ValidKey(q.After.SortKey) || !ValidKey(q.After.ID)) {
		return false, fmt.Errorf("%w: cursor (%q, %q)", ErrInvalidKey, q.After.SortKey, q.After.ID)
	}
	if q.SortKeyMax != nil && !ValidKey(*q.SortKeyMax) {
		return false, fmt.Errorf("%w: SortKeyMax %q", ErrInvalidKey, *q.SortKeyMax)
	}
	return ValidKey(q.Kind) && (q.AnyParent || ValidKey(q.Parent)), nil
}

// CheckRecordKeys reports ErrInvalidKey unless every key of rec is valid.
func CheckRecordKeys(rec *Record) error {
	for _, k := range [...]struct{ name, v string }{{"Kind", rec.Kind}, {"ID", rec.ID}, {"Parent", rec.Parent}, {"SortKey", rec.SortKey}} {
		if !ValidKey(k.v) {
			return fmt.Errorf("%w: %s %q of %s %q", ErrInvalidKey, k.name, k.v, rec.Kind, rec.ID)
		}
	}
	return nil
}

// Record is one stored document.
type Record struct {
	Kind string // record type, e.g. "environment", "tags", "idempotency"
	ID   string // unique within Kind
	// Parent scopes listing, e.g. the environment id of a user; "" for
	// top-level records.
	Parent string
	// SortKey orders a listing within (Kind, Parent); ties break on ID.
	SortKey string
	// Pending marks records a reconciler must still drive to a terminal state.
	Pending bool
	// ExpiresAt, when non-zero, lets DeleteExpired remove the record after it.
	ExpiresAt time.Time
	// Version is set by the store: 1 on insert, +1 on every update.
	Version int64
	Data    []byte // JSON document
}

// Cursor is a position in a listing: a listing continued After it starts at
// the first record strictly beyond (SortKey, ID) in the listing's direction.
type Cursor struct {
	SortKey string
	ID      string
}

// Query selects records of one kind in (SortKey, ID) order, ascending unless
// Reverse.
type Query struct {
	Kind string
	// Parent selects records with exactly this parent, unless AnyParent.
	Parent    string
	AnyParent bool
	// PendingOnly selects records with Pending set.
	PendingOnly bool
	// SortKeyMax, when non-nil, is an inclusive upper bound on SortKey: only
	// records with SortKey <= *SortKeyMax (bytewise, whatever their ID) are
	// selected, in either direction. With Reverse it lists "as of" a point:
	// the newest records at or before it first.
	SortKeyMax *string
	// Reverse lists in descending (SortKey, ID) order.
	Reverse bool
	// After continues a listing after a cursor in the listing's direction:
	// records with (SortKey, ID) strictly greater than the cursor, or with
	// Reverse strictly less. nil starts at the beginning (with Reverse, at
	// the greatest record, or the greatest at or below SortKeyMax).
	After *Cursor
	// Limit caps the number of records; 0 means no limit.
	Limit int
}

// Tx is a transaction. Read-only transactions (View) fail writes.
type Tx interface {
	// Get returns the record or ErrNotFound.
	Get(ctx context.Context, kind, id string) (*Record, error)
	// Insert stores a new record; ErrExists when (Kind, ID) exists.
	// It sets rec.Version to 1. If the transaction does not commit,
	// rec.Version is restored to its previous value.
	Insert(ctx context.Context, rec *Record) error
	// Update replaces a record whose stored version equals rec.Version;
	// ErrVersion on mismatch, ErrNotFound if absent. It increments rec.Version
	// (restored if the transaction does not commit).
	Update(ctx context.Context, rec *Record) error
	// Delete removes a record; ErrNotFound if absent.
	Delete(ctx context.Context, kind, id string) error
	// List returns records matching q in (SortKey, ID) order, descending
	// if q.Reverse.
	List(ctx context.Context, q Query) ([]*Record, error)
	// Count returns the number of records List would return for q without
	// its After and Limit: the records of q.Kind with q's parent, pending
	// and SortKeyMax filters. Reverse does not change it.
	Count(ctx context.Context, q Query) (int, error)
}

// Store is the durable metadata store.
type Store interface {
	// Update runs fn in a read-write transaction and commits it if fn
	// returns nil. Committed data survives a process crash. fn may run more
	// than once if the database was busy or the transaction conflicted with
	// a concurrent one; it must have no outside effects.
	//
	// Update transactions are serializable: their effect is that of running
	// them one at a time, even across processes sharing a database, so a
	// check inside fn (a Count against a quota, a Get before an Insert)
	// still holds when fn's writes commit. Records read outside fn (in a
	// View) are checked only by their version (ErrVersion).
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction with a consistent snapshot.
	View(ctx context.Context, fn func(Tx) error) error
	// DeleteExpired removes records whose ExpiresAt is non-zero and before now.
	DeleteExpired(ctx context.Context, now time.Time) (int, error)
	Close() error
}
