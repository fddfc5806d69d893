package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"time"
)

// Table is the typed access to one record kind whose documents are JSON
// encodings of T: the one place that knows the record layout, decodes
// documents, pages, checks versions and keeps unique keys. A domain
// describes its records once (TableDef) and its files hold rules, not
// plumbing. (Nomad's typed memdb tables.)
//
// # Values handed out are the caller's
//
// Decoding a stored document is the largest single cost of a read request,
// so a table keeps decoded documents in a bounded cache (Decoded) shared by
// every request. Go cannot stop a caller from changing a shared value, so a
// table never hands one out: every value it returns (Get, GetIn, GetBy, List,
// Page) is a deep copy made by T's Clone method, which the caller owns and
// may change and write back. Clone is written next to T (one line per
// reference field) and checked by a test in its package.
//
// A copy rather than a read-only accessor because copying a cached value
// costs a small fraction of decoding it (measured on the server's hot read
// paths: GetEnvironment copies one environment, about 4 allocations, where
// the shared read it replaces was followed by the same Clone anyway;
// GetUser got cheaper, its user and groups now come from the cache instead
// of being decoded per request), and because a copy leaves nothing for a
// caller to get wrong. Where a hot path needs a few fields of a document
// and no copy at all (the revocation check run on every request a FinSpace
// user's credentials sign), a Projection reads them into a plain value type
// that shares no memory: that is checked when the projection is built, so
// sharing it is safe by construction.
//
// # Layout
//
// A value's record is Kind/ID/Parent/SortKey/Pending/ExpiresAt computed by
// the TableDef's functions, Data its JSON encoding. A unique key Name of a
// table of kind K is kept as a claim record of kind "K-Name" with ID
// "<parent>/<key>" (unique within the value's Parent), Parent the value's
// parent, SortKey the owner's ID and Data the owner's ID as a JSON string,
// written and removed in the same transaction as the value.
type Table[T any, P Cloner[T]] struct {
	def  TableDef[T, P]
	docs *Decoded[P] // nil: NoCache
}

// Cloner is the constraint on a table's value type: a pointer to T whose
// Clone returns a deep copy sharing no mutable memory with it.
type Cloner[T any] interface {
	*T
	Clone() *T
}

// NoCache as TableDef.CacheMax decodes every read and keeps nothing, so
// the table holds no mutable state (for tables kept in package variables).
const NoCache = -1

// TableDef describes a table. Kind and ID are required.
type TableDef[T any, P Cloner[T]] struct {
	Kind string
	// ID, Parent, SortKey, Pending and ExpiresAt compute the record's keys
	// from a value. Nil Parent is "", nil SortKey is the ID, nil Pending is
	// false and nil ExpiresAt never expires.
	ID        func(P) string
	Parent    func(P) string
	SortKey   func(P) string
	Pending   func(P) bool
	ExpiresAt func(P) time.Time
	// FromID sets, on a decoded value, fields its document does not carry
	// but its record ID does (a tag set's ARN); nil when the document
	// carries them all.
	FromID func(id string, v P)
	// Unique are the value's unique secondary keys.
	Unique []UniqueKey[P]
	// NotFound, when set, is the error every operation reports for an
	// absent record (a domain's not-found fault; wrapping ErrNotFound keeps
	// errors.Is working). Nil reports ErrNotFound.
	NotFound func(id string) error
	// Conflict, when set, is the error Update reports when the record
	// changed since the version passed (ErrVersion otherwise).
	Conflict func(id string) error
	// CacheMax bounds the decoded cache (DefaultDecodedMax when 0; NoCache
	// for none).
	CacheMax int
}

// UniqueKey is a secondary key no two values with the same Parent may share.
type UniqueKey[P any] struct {
	Name string
	// Of returns the value's key; "" claims nothing (the key is optional).
	Of func(P) string
	// Taken, when set, is the error reported when another value holds the
	// key (a domain's conflict fault); nil reports a *UniqueError.
	Taken func(P) error
}

// UniqueError reports that a unique key is held by another value. It
// matches ErrExists with errors.Is.
type UniqueError struct {
	Kind, Name string // table kind and key name
	Owner      string // ID of the value holding the key
}

func (e *UniqueError) Error() string {
	return fmt.Sprintf("store: %s %s already taken by %s", e.Kind, e.Name, e.Owner)
}

func (e *UniqueError) Unwrap() error { return ErrExists }

// Page is one page of a listing and the cursor that continues it (nil on
// the last page); package paging turns the cursor into a page token.
type Page[T any] struct {
	Items []T
	Next  *Cursor
}

// NewTable returns the table def describes. It panics on a definition
// without Kind or ID, or with an unnamed or repeated unique key.
func NewTable[T any, P Cloner[T]](def TableDef[T, P]) *Table[T, P] {
	if def.Kind == "" || def.ID == nil {
		panic("store: NewTable needs Kind and ID")
	}
	seen := map[string]bool{}
	for _, u := range def.Unique {
		if u.Name == "" || u.Of == nil || seen[u.Name] {
			panic(fmt.Sprintf("store: table %s: unique key %q unnamed, without Of, or repeated", def.Kind, u.Name))
		}
		seen[u.Name] = true
	}
	t := &Table[T, P]{def: def}
	if def.CacheMax != NoCache {
		t.docs = &Decoded[P]{Max: def.CacheMax, Decode: decodeJSON[T, P]}
	}
	return t
}

// Kind returns the record kind of the table.
func (t *Table[T, P]) Kind() string { return t.def.Kind }

func decodeJSON[T any, P Cloner[T]](data []byte) (P, error) {
	v := P(new(T))
	if err := json.Unmarshal(data, v); err != nil {
		return nil, err
	}
	return v, nil
}

// value returns the caller's own copy of rec's decoded document.
func (t *Table[T, P]) value(rec *Record) (P, error) {
	var v P
	var err error
	if t.docs == nil {
		v, err = decodeJSON[T, P](rec.Data)
	} else {
		var shared P
		if shared, err = t.docs.Get(rec); err == nil {
			v = shared.Clone()
		}
	}
	if err != nil {
		return nil, fmt.Errorf("store: decoding %s %s: %w", rec.Kind, rec.ID, err)
	}
	if t.def.FromID != nil {
		t.def.FromID(rec.ID, v)
	}
	return v, nil
}

func (t *Table[T, P]) notFound(id string, err error) error {
	if t.def.NotFound != nil && errors.Is(err, ErrNotFound) {
		return t.def.NotFound(id)
	}
	return err
}

// Get returns the value id and the version to pass to Update.
func (t *Table[T, P]) Get(ctx context.Context, tx Tx, id string) (P, int64, error) {
	rec, err := tx.Get(ctx, t.def.Kind, id)
	if err != nil {
		return nil, 0, t.notFound(id, err)
	}
	v, err := t.value(rec)
	return v, rec.Version, err
}

// GetIn is Get of a value with parent: a value of another parent is not
// found (a user of another environment, an environment of another region).
func (t *Table[T, P]) GetIn(ctx context.Context, tx Tx, parent, id string) (P, int64, error) {
	rec, err := tx.Get(ctx, t.def.Kind, id)
	if err == nil && rec.Parent != parent {
		err = ErrNotFound
	}
	if err != nil {
		return nil, 0, t.notFound(id, err)
	}
	v, err := t.value(rec)
	return v, rec.Version, err
}

// GetBy returns the value of parent whose unique key name is key;
// ErrNotFound when none holds it.
func (t *Table[T, P]) GetBy(ctx context.Context, tx Tx, name, parent, key string) (P, int64, error) {
	id, err := t.KeyOwner(ctx, tx, name, parent, key)
	if err != nil {
		return nil, 0, err
	}
	return t.GetIn(ctx, tx, parent, id)
}

// KeyOwner returns the ID of the value of parent holding unique key name
// = key, from its claim alone; ErrNotFound when none holds it.
func (t *Table[T, P]) KeyOwner(ctx context.Context, tx Tx, name, parent, key string) (string, error) {
	claim, err := tx.Get(ctx, t.claimKind(name), claimID(parent, key))
	if err != nil {
		return "", err
	}
	return claim.SortKey, nil
}

// Insert stores a new value and claims its unique keys; ErrExists when its
// ID exists, a unique key's Taken error (or a *UniqueError) when another
// value holds one of its keys. A failed Insert or Update may have written
// part of its records: return its error so the transaction rolls back.
func (t *Table[T, P]) Insert(ctx context.Context, tx Tx, v P) error {
	rec, err := t.record(v)
	if err != nil {
		return err
	}
	for i := range t.def.Unique {
		if err := t.claim(ctx, tx, &t.def.Unique[i], v, rec); err != nil {
			return err
		}
	}
	return tx.Insert(ctx, rec)
}

// Update replaces the stored value with v if it is still at version (from
// Get); a changed record is Conflict's error (or ErrVersion). Unique keys
// that changed move in the same transaction.
func (t *Table[T, P]) Update(ctx context.Context, tx Tx, v P, version int64) error {
	rec, err := t.record(v)
	if err != nil {
		return err
	}
	rec.Version = version
	if len(t.def.Unique) > 0 {
		old, err := tx.Get(ctx, t.def.Kind, rec.ID)
		if err != nil {
			return t.notFound(rec.ID, err)
		}
		if old.Version != version {
			return t.conflict(rec.ID)
		}
		was, err := t.value(old)
		if err != nil {
			return err
		}
		for i := range t.def.Unique {
			u := &t.def.Unique[i]
			before, after := claimID(old.Parent, u.Of(was)), claimID(rec.Parent, u.Of(v))
			if before == after {
				continue
			}
			if err := t.claim(ctx, tx, u, v, rec); err != nil {
				return err
			}
			if err := t.unclaim(ctx, tx, u, before); err != nil {
				return err
			}
		}
	}
	err = tx.Update(ctx, rec)
	if errors.Is(err, ErrVersion) {
		return t.conflict(rec.ID)
	}
	return t.notFound(rec.ID, err)
}

func (t *Table[T, P]) conflict(id string) error {
	if t.def.Conflict != nil {
		return t.def.Conflict(id)
	}
	return fmt.Errorf("%w: %s %s", ErrVersion, t.def.Kind, id)
}

// Delete removes value id and releases its unique keys.
func (t *Table[T, P]) Delete(ctx context.Context, tx Tx, id string) error {
	if len(t.def.Unique) > 0 {
		rec, err := tx.Get(ctx, t.def.Kind, id)
		if err != nil {
			return t.notFound(id, err)
		}
		v, err := t.value(rec)
		if err != nil {
			return err
		}
		for i := range t.def.Unique {
			u := &t.def.Unique[i]
			if err := t.unclaim(ctx, tx, u, claimID(rec.Parent, u.Of(v))); err != nil {
				return err
			}
		}
	}
	return t.notFound(id, tx.Delete(ctx, t.def.Kind, id))
}

// List returns the values q selects, in its order. q.Kind is the table's
// (whatever q says); every other field of q applies as in Tx.List.
func (t *Table[T, P]) List(ctx context.Context, tx Tx, q Query) ([]P, error) {
	q.Kind = t.def.Kind
	recs, err := tx.List(ctx, q)
	if err != nil {
		return nil, err
	}
	return t.values(recs)
}

func (t *Table[T, P]) values(recs []*Record) ([]P, error) {
	out := make([]P, 0, len(recs))
	for _, rec := range recs {
		v, err := t.value(rec)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

// Page returns at most limit (> 0) values q selects, continuing after
// q.After, with the cursor of the next page when there is one. q.Limit is
// ignored. The cost is one listing of limit+1 records.
func (t *Table[T, P]) Page(ctx context.Context, tx Tx, q Query, limit int) (Page[P], error) {
	if limit <= 0 {
		return Page[P]{}, fmt.Errorf("store: %s page of %d values", t.def.Kind, limit)
	}
	q.Kind, q.Limit = t.def.Kind, limit+1
	recs, err := tx.List(ctx, q)
	if err != nil {
		return Page[P]{}, err
	}
	var page Page[P]
	if len(recs) > limit {
		recs = recs[:limit]
		last := recs[limit-1]
		page.Next = &Cursor{SortKey: last.SortKey, ID: last.ID}
	}
	page.Items, err = t.values(recs)
	return page, err
}

// Count returns the number of values q selects (its After and Limit
// ignored), as Tx.Count.
func (t *Table[T, P]) Count(ctx context.Context, tx Tx, q Query) (int, error) {
	q.Kind = t.def.Kind
	return tx.Count(ctx, q)
}

func (t *Table[T, P]) record(v P) (*Record, error) {
	data, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("store: encoding %s: %w", t.def.Kind, err)
	}
	d := &t.def
	rec := &Record{Kind: d.Kind, ID: d.ID(v), Data: data}
	rec.SortKey = rec.ID
	if d.Parent != nil {
		rec.Parent = d.Parent(v)
	}
	if d.SortKey != nil {
		rec.SortKey = d.SortKey(v)
	}
	if d.Pending != nil {
		rec.Pending = d.Pending(v)
	}
	if d.ExpiresAt != nil {
		rec.ExpiresAt = d.ExpiresAt(v)
	}
	return rec, nil
}

func (t *Table[T, P]) claimKind(name string) string { return t.def.Kind + "-" + name }

// claimID is the claim record ID of key under parent; "" for no key.
func claimID(parent, key string) string {
	if key == "" {
		return ""
	}
	return parent + "/" + key
}

// claim records that rec's value holds u's key.
func (t *Table[T, P]) claim(ctx context.Context, tx Tx, u *UniqueKey[P], v P, rec *Record) error {
	id := claimID(rec.Parent, u.Of(v))
	if id == "" {
		return nil
	}
	owner, _ := json.Marshal(rec.ID)
	err := tx.Insert(ctx, &Record{Kind: t.claimKind(u.Name), ID: id, Parent: rec.Parent, SortKey: rec.ID, Data: owner})
	if !errors.Is(err, ErrExists) {
		return err
	}
	held, err := tx.Get(ctx, t.claimKind(u.Name), id)
	switch {
	case err != nil:
		return err
	case held.SortKey == rec.ID:
		return nil // already ours
	case u.Taken != nil:
		return u.Taken(v)
	}
	return &UniqueError{Kind: t.def.Kind, Name: u.Name, Owner: held.SortKey}
}

func (t *Table[T, P]) unclaim(ctx context.Context, tx Tx, u *UniqueKey[P], id string) error {
	if id == "" {
		return nil
	}
	err := tx.Delete(ctx, t.claimKind(u.Name), id)
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	return err
}

// Projection reads a few fields of a table's documents into V, a plain
// value type (no pointers, slices, maps, interfaces, channels or funcs;
// time.Time is allowed), through its own decoded cache. A V shares no
// memory with the cache, so it is handed out without a copy: the cheapest
// read there is, for checks run on every request.
type Projection[V any] struct {
	kind   string
	decode func([]byte) (V, error)
	docs   *Decoded[V]
}

// NewProjection returns a projection of t's documents. decode parses a
// document into V; nil decodes it as JSON (V's fields and tags select what
// is read). It panics if V can share memory.
func NewProjection[V any, T any, P Cloner[T]](t *Table[T, P], decode func([]byte) (V, error)) *Projection[V] {
	if typ := reflect.TypeFor[V](); !plainValue(typ) {
		panic(fmt.Sprintf("store: projection type %v can share memory", typ))
	}
	if decode == nil {
		decode = func(data []byte) (V, error) {
			var v V
			err := json.Unmarshal(data, &v)
			return v, err
		}
	}
	p := &Projection[V]{kind: t.def.Kind, decode: decode}
	if t.def.CacheMax != NoCache {
		p.docs = &Decoded[V]{Max: t.def.CacheMax, Decode: decode}
	}
	return p
}

var timeType = reflect.TypeFor[time.Time]()

// plainValue reports whether values of typ share no memory when copied.
func plainValue(typ reflect.Type) bool {
	switch typ.Kind() {
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Complex64, reflect.Complex128, reflect.String:
		return true
	case reflect.Array:
		return plainValue(typ.Elem())
	case reflect.Struct:
		if typ == timeType {
			return true // its *Location is never changed
		}
		for i := range typ.NumField() {
			if !plainValue(typ.Field(i).Type) {
				return false
			}
		}
		return true
	}
	return false
}

func (p *Projection[V]) of(rec *Record) (V, error) {
	var v V
	var err error
	if p.docs == nil {
		v, err = p.decode(rec.Data)
	} else {
		v, err = p.docs.Get(rec)
	}
	if err != nil {
		return v, fmt.Errorf("store: decoding %s %s: %w", rec.Kind, rec.ID, err)
	}
	return v, nil
}

// GetIn returns the projection of value id of parent; ErrNotFound if it is
// absent or has another parent.
func (p *Projection[V]) GetIn(ctx context.Context, tx Tx, parent, id string) (V, error) {
	rec, err := tx.Get(ctx, p.kind, id)
	if err == nil && rec.Parent != parent {
		err = ErrNotFound
	}
	if err != nil {
		var zero V
		return zero, err
	}
	return p.of(rec)
}

// List returns the projections of the values q selects (q.Kind is the
// table's).
func (p *Projection[V]) List(ctx context.Context, tx Tx, q Query) ([]V, error) {
	q.Kind = p.kind
	recs, err := tx.List(ctx, q)
	if err != nil {
		return nil, err
	}
	out := make([]V, 0, len(recs))
	for _, rec := range recs {
		v, err := p.of(rec)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}
