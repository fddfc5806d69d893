// Package store is the durable metadata store: one interface, implemented by
// SQLite (embedded default, package store/sqlite) and later PostgreSQL, and
// checked by one conformance suite (package store/storetest).
//
// The store holds typed records as JSON documents. Domain packages own the
// document shapes; the store owns durability, transactions, optimistic
// versions, keyset listing and expiry.
package store

import (
	"context"
	"errors"
	"time"
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

// Cursor is a position in a listing: strictly after (SortKey, ID).
type Cursor struct {
	SortKey string
	ID      string
}

// Query selects records of one kind in (SortKey, ID) order.
type Query struct {
	Kind string
	// Parent selects records with exactly this parent, unless AnyParent.
	Parent    string
	AnyParent bool
	// PendingOnly selects records with Pending set.
	PendingOnly bool
	// After continues a listing after a cursor; nil starts at the beginning.
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
	// List returns records matching q in (SortKey, ID) order.
	List(ctx context.Context, q Query) ([]*Record, error)
}

// Store is the durable metadata store.
type Store interface {
	// Update runs fn in a read-write transaction and commits it if fn
	// returns nil. Committed data survives a process crash. fn may run more
	// than once if the database was busy; it must have no outside effects.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn in a read-only transaction with a consistent snapshot.
	View(ctx context.Context, fn func(Tx) error) error
	// DeleteExpired removes records whose ExpiresAt is non-zero and before now.
	DeleteExpired(ctx context.Context, now time.Time) (int, error)
	Close() error
}
