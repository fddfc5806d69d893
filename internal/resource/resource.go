// Package resource is the kit a resource family is written on: what every
// named resource of a parent (a kx environment's users, databases,
// clusters, scaling groups…) repeats, written once.
//
//   - Scoped is a store.Table of values named within a parent: Get answers
//     the family's not-found error naming resource and parent, Insert the
//     conflict of a name already taken, Page lists one parent's values by
//     name, Each walks them all (for a parent's delete cascade). Tags go
//     with the value: InsertTagged writes them in the same transaction,
//     DeleteTagged removes them with it.
//   - Mutate is the transaction of a mutating operation. Its Tx enqueues
//     jobs, and the job kinds it enqueued are woken after the commit; the
//     request's client token is always marked carried out in it. Forgetting
//     either is not possible: neither is the caller's to do.
//
// The scaling groups of package kx/scaling are the example of a family
// written on it.
package resource

import (
	"context"
	"errors"
	"time"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/tagging"
)

// Def describes a Scoped table.
type Def[T any, P store.Cloner[T]] struct {
	// Kind is the store record kind; Noun names one value in messages
	// ("scaling group"), ParentNoun its parent ("environment").
	Kind, Noun, ParentNoun string
	// Parent and Name are the value's parent id and its name within it.
	Parent, Name func(P) string
	// Pending marks values still in flight (listed by store.Query
	// PendingOnly, e.g. to resume their lifecycles); nil: none.
	Pending func(P) bool
	// Gone, when set, marks a value kept after its deletion as a
	// tombstone (status DELETED, which Terraform's waiters read): its name
	// is free, and Insert of a new value of that name replaces it.
	Gone func(P) bool
}

// Scoped is a table of values named within a parent.
type Scoped[T any, P store.Cloner[T]] struct {
	*store.Table[T, P]
	def Def[T, P]
}

// ID is the record id of name in parent.
func ID(parent, name string) string { return parent + "/" + name }

// NewScoped returns the table d describes.
func NewScoped[T any, P store.Cloner[T]](d Def[T, P]) *Scoped[T, P] {
	s := &Scoped[T, P]{def: d}
	s.Table = store.NewTable(store.TableDef[T, P]{
		Kind:     d.Kind,
		ID:       func(v P) string { return ID(d.Parent(v), d.Name(v)) },
		Parent:   d.Parent,
		Pending:  d.Pending,
		NotFound: func(id string) error { return notFound(fault.NoSuch(d.Noun, id)) },
		Conflict: func(id string) error {
			return fault.Conflictf("The %s %s was changed by another request; retry.", d.Noun, id)
		},
	})
	return s
}

// NotFound is the error of name missing from parent.
func (s *Scoped[T, P]) NotFound(parent, name string) error {
	return notFound(fault.NoSuchIn(s.def.Noun, name, s.def.ParentNoun, parent))
}

// notFound makes f match store.ErrNotFound too (errors.Is), as the store's
// own not-found does.
func notFound(f *fault.Error) error {
	f.Err = store.ErrNotFound
	return f
}

// Get reads name of parent: its not-found error names both.
func (s *Scoped[T, P]) Get(ctx context.Context, tx store.Tx, parent, name string) (P, int64, error) {
	v, version, err := s.GetIn(ctx, tx, parent, ID(parent, name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, s.NotFound(parent, name)
	}
	return v, version, err
}

// Insert stores a new value; a name already taken in its parent is a
// conflict saying so (a tombstone's name is not taken: see Def.Gone).
func (s *Scoped[T, P]) Insert(ctx context.Context, tx store.Tx, v P) error {
	err := s.Table.Insert(ctx, tx, v)
	if errors.Is(err, store.ErrExists) && s.def.Gone != nil {
		old, version, gerr := s.Get(ctx, tx, s.def.Parent(v), s.def.Name(v))
		if gerr != nil {
			return gerr
		}
		if s.def.Gone(old) {
			return s.Update(ctx, tx, v, version)
		}
	}
	if errors.Is(err, store.ErrExists) {
		return fault.Conflictf("A %s named %s already exists in %s %s.", s.def.Noun, s.def.Name(v), s.def.ParentNoun, s.def.Parent(v))
	}
	return err
}

// Exists reports whether name of parent exists and live says it counts
// (a tag ARN's resource: of the caller's region, not a tombstone).
func (s *Scoped[T, P]) Exists(ctx context.Context, tx store.Tx, parent, name string, live func(P) bool) (bool, error) {
	v, _, err := s.Get(ctx, tx, parent, name)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil && live(v), err
}

// InsertTagged stores a new value and its tags, under arn.
func (s *Scoped[T, P]) InsertTagged(ctx context.Context, tx store.Tx, v P, arn string, tags map[string]string) error {
	if err := s.Insert(ctx, tx, v); err != nil {
		return err
	}
	return tagging.PutTx(ctx, tx, arn, tags)
}

// DeleteTagged removes a value and the tags under arn.
func (s *Scoped[T, P]) DeleteTagged(ctx context.Context, tx store.Tx, v P, arn string) error {
	if err := s.Delete(ctx, tx, ID(s.def.Parent(v), s.def.Name(v))); err != nil {
		return err
	}
	return tagging.DeleteTx(ctx, tx, arn)
}

// List returns one page of parent's values, by name.
func (s *Scoped[T, P]) List(ctx context.Context, tx store.Tx, parent string, after *store.Cursor, limit int) (paging.Page[P], error) {
	return s.Page(ctx, tx, store.Query{Parent: parent, After: after}, limit)
}

// Each calls fn with every value of parent, a page at a time; fn may
// delete the value it is given.
func (s *Scoped[T, P]) Each(ctx context.Context, tx store.Tx, parent string, fn func(P) error) error {
	var after *store.Cursor
	for {
		page, err := s.Page(ctx, tx, store.Query{Parent: parent, After: after}, 200)
		if err != nil {
			return err
		}
		for _, v := range page.Items {
			if err := fn(v); err != nil {
				return err
			}
		}
		if page.Next == nil {
			return nil
		}
		after = page.Next
	}
}

// Tokens marks the client token of the request ctx belongs to as carried
// out, in the transaction that commits its effects (*idempotency.Tokens).
type Tokens interface {
	CommitTx(ctx context.Context, tx store.Tx) error
}

// Waker wakes the job engine's workers of a kind (*jobs.Engine).
type Waker interface{ Wake(kind string) }

// Mutator runs mutating operations (see Mutate). Nil Tokens and Jobs do
// nothing (tests of a domain alone).
type Mutator struct {
	DB     store.Store
	Tokens Tokens
	Jobs   Waker
}

// Tx is the transaction of a Mutate: a store.Tx whose Enqueue wakes the
// job's kind once the transaction has committed.
type Tx struct {
	store.Tx
	wake []string
}

// Enqueue schedules a job in the transaction (jobs.EnqueueTx); its kind is
// woken after the commit. A job already there (store.ErrExists) is left
// as it is: lifecycles enqueue their next phase idempotently.
func (tx *Tx) Enqueue(ctx context.Context, now time.Time, spec jobs.Spec) error {
	err := jobs.EnqueueTx(ctx, tx.Tx, now, spec)
	if err != nil && !errors.Is(err, store.ErrExists) {
		return err
	}
	for _, k := range tx.wake {
		if k == spec.Kind {
			return nil
		}
	}
	tx.wake = append(tx.wake, spec.Kind)
	return nil
}

// Mutate runs fn in one transaction with the request's client token marked
// carried out, and wakes the kinds of the jobs fn enqueued after the
// commit. fn's error rolls everything back.
func (m Mutator) Mutate(ctx context.Context, fn func(tx *Tx) error) error {
	var woken []string
	err := m.DB.Update(ctx, func(stx store.Tx) error {
		tx := &Tx{Tx: stx}
		if err := fn(tx); err != nil {
			return err
		}
		if m.Tokens != nil {
			if err := m.Tokens.CommitTx(ctx, stx); err != nil {
				return err
			}
		}
		woken = tx.wake
		return nil
	})
	if err != nil {
		return err
	}
	if m.Jobs != nil {
		for _, k := range woken {
			m.Jobs.Wake(k)
		}
	}
	return nil
}

// View runs fn in a read-only transaction.
func (m Mutator) View(ctx context.Context, fn func(tx store.Tx) error) error {
	return m.DB.View(ctx, fn)
}
