// Package storetest is the conformance suite every store.Store
// implementation must pass.
//
// An implementation's test calls Run with a function that opens a fresh,
// empty store and arranges (with t.Cleanup) to close it and release its
// resources:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store {
//			s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "metadata.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { s.Close() })
//			return s
//		})
//	}
//
// Beyond store.go, the suite pins these behaviours, which callers rely on:
//   - ExpiresAt round-trips with at least millisecond precision (the suite
//     uses whole milliseconds); a zero ExpiresAt stays zero.
//   - Data round-trips byte for byte (it is not re-encoded as JSON).
//   - SortKey and ID order bytewise, as Go compares strings.
//   - Returned records are copies the caller may modify.
//   - A transaction that does not commit leaves rec.Version of every record
//     passed to Insert or Update as it was before the transaction.
//   - Writes in View fail, and leave nothing behind.
//   - Sentinel errors are matched with errors.Is; an error returned by fn is
//     returned by Update and View unchanged (==).
//   - Keys are valid UTF-8 without NUL (store.ErrInvalidKey otherwise).
//   - Update transactions are serializable: concurrent Updates that read
//     and then write (a Count against a quota, a version check) behave as if
//     they ran one at a time.
//
// RunShared checks several Stores open at once on one database (several
// server processes on one PostgreSQL database); implementations that allow
// only one open Store (SQLite) do not run it.
//
// The suite leaves implementation details (file modes, migrations, crash
// recovery, query plans) to each implementation's own tests. The SQLite
// implementation runs it always, the PostgreSQL one when
// OPENFINSPACE_TEST_POSTGRES is set.
package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/store"
)

// Run runs the conformance suite. open must return a fresh, empty store for
// each call and register its own cleanup.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"RoundTrip", testRoundTrip},
		{"EmptyAndZeroFields", testEmptyAndZeroFields},
		{"ReturnsCopies", testReturnsCopies},
		{"InsertExists", testInsertExists},
		{"NotFound", testNotFound},
		{"DeleteAndReinsert", testDeleteAndReinsert},
		{"UpdateAllFields", testUpdateAllFields},
		{"OptimisticVersions", testOptimisticVersions},
		{"RollbackOnError", testRollbackOnError},
		{"RollbackOnPanic", testRollbackOnPanic},
		{"ReadYourWrites", testReadYourWrites},
		{"ViewSnapshot", testViewSnapshot},
		{"WritesInViewFail", testWritesInViewFail},
		{"ListEmpty", testListEmpty},
		{"ListBytewiseOrder", testListBytewiseOrder},
		{"ListPagination", testListPagination},
		{"ListReverseAndBound", testListReverseAndBound},
		{"ListAsOf", testListAsOf},
		{"Count", testCount},
		{"InvalidKeys", testInvalidKeys},
		{"DeleteExpired", testDeleteExpired},
		{"ConcurrentCounter", testConcurrentCounter},
		{"ConcurrentInsertSameKey", testConcurrentInsertSameKey},
		{"ConcurrentClaim", testConcurrentClaim},
		{"ConcurrentQuota", testConcurrentQuota},
		{"LargeData", testLargeData},
		{"ContextCancelled", testContextCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := open(t)
			if s == nil {
				t.Fatal("open returned a nil store")
			}
			tc.fn(t, s)
		})
	}
}

// Reopen opens the same underlying database each time it is called.
type Reopen func(t *testing.T) store.Store

// RunDurability checks that committed data survives closing and reopening
// the store, and that uncommitted data does not. fresh creates a new, empty
// database and returns a function that opens it; each store it opens is
// closed by the suite before the next is opened.
func RunDurability(t *testing.T, fresh func(t *testing.T) Reopen) {
	t.Run("CommittedSurvivesReopen", func(t *testing.T) {
		reopen := fresh(t)
		ctx := t.Context()
		want := make(map[string]*store.Record)

		s := reopen(t)
		for i := range 50 {
			rec := &store.Record{
				Kind: "durable", ID: fmt.Sprintf("r%03d", i), Parent: "p" + strconv.Itoa(i%3),
				SortKey: fmt.Sprintf("k%03d", 50-i), Pending: i%2 == 0,
				Data: []byte(fmt.Sprintf(`{"i":%d}`, i)),
			}
			if i%5 == 0 {
				rec.ExpiresAt = time.UnixMilli(4102444800000 + int64(i)).UTC()
			}
			mustUpdate(t, s, func(tx store.Tx) error { return tx.Insert(ctx, rec) })
			want[rec.ID] = clone(rec)
		}
		// An update, a delete and a rolled-back insert before closing.
		upd := clone(want["r001"])
		upd.Data = []byte(`{"updated":true}`)
		mustUpdate(t, s, func(tx store.Tx) error { return tx.Update(ctx, upd) })
		want["r001"] = clone(upd)
		mustUpdate(t, s, func(tx store.Tx) error { return tx.Delete(ctx, "durable", "r002") })
		delete(want, "r002")
		errAbort := errors.New("abort")
		if err := s.Update(ctx, func(tx store.Tx) error {
			if err := tx.Insert(ctx, &store.Record{Kind: "durable", ID: "rolled-back", Data: []byte(`{}`)}); err != nil {
				return err
			}
			return errAbort
		}); err != errAbort {
			t.Fatalf("Update = %v, want %v", err, errAbort)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}

		s = reopen(t)
		got := listAll(t, s, store.Query{Kind: "durable", AnyParent: true})
		if len(got) != len(want) {
			t.Fatalf("after reopen: %d records, want %d", len(got), len(want))
		}
		for _, rec := range got {
			w, ok := want[rec.ID]
			if !ok {
				t.Fatalf("after reopen: unexpected record %q", rec.ID)
			}
			assertRecord(t, rec, w)
		}
		// Versions continue from the stored ones.
		mustUpdate(t, s, func(tx store.Tx) error { return tx.Update(ctx, upd) })
		if upd.Version != 3 {
			t.Fatalf("version after reopen and update = %d, want 3", upd.Version)
		}
		if err := s.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
	})
}

// ---------------------------------------------------------------------------
// helpers

func clone(r *store.Record) *store.Record {
	c := *r
	c.Data = bytes.Clone(r.Data)
	return &c
}

func mustUpdate(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.Update(t.Context(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

func mustView(t *testing.T, s store.Store, fn func(store.Tx) error) {
	t.Helper()
	if err := s.View(t.Context(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

func get(t *testing.T, s store.Store, kind, id string) (*store.Record, error) {
	t.Helper()
	var rec *store.Record
	err := s.View(t.Context(), func(tx store.Tx) error {
		var err error
		rec, err = tx.Get(t.Context(), kind, id)
		return err
	})
	return rec, err
}

func mustGet(t *testing.T, s store.Store, kind, id string) *store.Record {
	t.Helper()
	rec, err := get(t, s, kind, id)
	if err != nil {
		t.Fatalf("Get(%s, %s): %v", kind, id, err)
	}
	return rec
}

func assertMissing(t *testing.T, s store.Store, kind, id string) {
	t.Helper()
	if _, err := get(t, s, kind, id); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Get(%s, %s) = %v, want ErrNotFound", kind, id, err)
	}
}

func list(t *testing.T, s store.Store, q store.Query) []*store.Record {
	t.Helper()
	var out []*store.Record
	mustView(t, s, func(tx store.Tx) error {
		var err error
		out, err = tx.List(t.Context(), q)
		return err
	})
	return out
}

func listAll(t *testing.T, s store.Store, q store.Query) []*store.Record {
	t.Helper()
	q.Limit = 0
	q.After = nil
	return list(t, s, q)
}

func assertRecord(t *testing.T, got, want *store.Record) {
	t.Helper()
	if got == nil {
		t.Fatalf("record %s/%s: got nil", want.Kind, want.ID)
	}
	var diffs []string
	if got.Kind != want.Kind {
		diffs = append(diffs, fmt.Sprintf("Kind %q != %q", got.Kind, want.Kind))
	}
	if got.ID != want.ID {
		diffs = append(diffs, fmt.Sprintf("ID %q != %q", got.ID, want.ID))
	}
	if got.Parent != want.Parent {
		diffs = append(diffs, fmt.Sprintf("Parent %q != %q", got.Parent, want.Parent))
	}
	if got.SortKey != want.SortKey {
		diffs = append(diffs, fmt.Sprintf("SortKey %q != %q", got.SortKey, want.SortKey))
	}
	if got.Pending != want.Pending {
		diffs = append(diffs, fmt.Sprintf("Pending %v != %v", got.Pending, want.Pending))
	}
	if !got.ExpiresAt.Equal(want.ExpiresAt) || got.ExpiresAt.IsZero() != want.ExpiresAt.IsZero() {
		diffs = append(diffs, fmt.Sprintf("ExpiresAt %v != %v", got.ExpiresAt, want.ExpiresAt))
	}
	if got.Version != want.Version {
		diffs = append(diffs, fmt.Sprintf("Version %d != %d", got.Version, want.Version))
	}
	if !bytes.Equal(got.Data, want.Data) {
		diffs = append(diffs, fmt.Sprintf("Data %q != %q", trunc(got.Data), trunc(want.Data)))
	}
	if len(diffs) > 0 {
		t.Fatalf("record %s/%s differs:\n  %s", want.Kind, want.ID, strings.Join(diffs, "\n  "))
	}
}

func trunc(b []byte) []byte {
	if len(b) > 64 {
		return b[:64]
	}
	return b
}

func ids(recs []*store.Record) []string {
	out := make([]string, len(recs))
	for i, r := range recs {
		out[i] = r.ID
	}
	return out
}

// ---------------------------------------------------------------------------
// CRUD

func testRoundTrip(t *testing.T, s store.Store) {
	ctx := t.Context()
	data := []byte("{ \"b\": 2,\n  \"a\": [1, 2.50, \"\\u00e9\"] }\n") // not canonical JSON
	bin := []byte{0x00, 0xff, 0xfe, '{', 0x00, '}', 0x80}
	expires := time.UnixMilli(4102444800123) // 2100-01-01T00:00:00.123Z
	recs := []*store.Record{
		{Kind: "environment", ID: "env-1", Parent: "", SortKey: "2024-01-01T00:00:00Z#env-1",
			Pending: true, ExpiresAt: expires, Data: data},
		{Kind: "user", ID: "ü/ser:1 with spaces", Parent: "env-1", SortKey: "ärger ✓",
			Pending: false, Data: bin},
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, r := range recs {
			r.Version = 42 // ignored by Insert
			if err := tx.Insert(ctx, r); err != nil {
				return err
			}
			if r.Version != 1 {
				t.Errorf("Insert set Version %d, want 1", r.Version)
			}
		}
		return nil
	})
	for _, want := range recs {
		got := mustGet(t, s, want.Kind, want.ID)
		assertRecord(t, got, want)
		// The same through a read-write transaction and through List.
		mustUpdate(t, s, func(tx store.Tx) error {
			got, err := tx.Get(ctx, want.Kind, want.ID)
			if err != nil {
				return err
			}
			assertRecord(t, got, want)
			return nil
		})
		l := list(t, s, store.Query{Kind: want.Kind, Parent: want.Parent})
		if len(l) != 1 {
			t.Fatalf("List(%s) = %v, want one record", want.Kind, ids(l))
		}
		assertRecord(t, l[0], want)
	}
	// Same ID in another kind is a different record.
	other := &store.Record{Kind: "other", ID: "env-1", Data: []byte(`{}`)}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Insert(ctx, other) })
	assertRecord(t, mustGet(t, s, "environment", "env-1"), recs[0])
	assertRecord(t, mustGet(t, s, "other", "env-1"), other)
}

func testEmptyAndZeroFields(t *testing.T, s store.Store) {
	ctx := t.Context()
	nilData := &store.Record{Kind: "k", ID: "nil-data"}
	emptyData := &store.Record{Kind: "k", ID: "empty-data", Data: []byte{}}
	epoch := &store.Record{Kind: "k", ID: "epoch", ExpiresAt: time.UnixMilli(0), Data: []byte(`{}`)}
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, r := range []*store.Record{nilData, emptyData, epoch} {
			if err := tx.Insert(ctx, r); err != nil {
				return err
			}
		}
		return nil
	})
	for _, id := range []string{"nil-data", "empty-data"} {
		got := mustGet(t, s, "k", id)
		if len(got.Data) != 0 || !got.ExpiresAt.IsZero() || got.Pending || got.Parent != "" || got.SortKey != "" {
			t.Fatalf("%s: got %+v, want zero fields", id, got)
		}
	}
	// An expiry at the unix epoch is a real (past) expiry, not "never".
	got := mustGet(t, s, "k", "epoch")
	if got.ExpiresAt.IsZero() {
		t.Fatalf("ExpiresAt at the unix epoch came back as zero")
	}
	n, err := s.DeleteExpired(ctx, time.UnixMilli(1000))
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1", n, err)
	}
	assertMissing(t, s, "k", "epoch")
}

func testReturnsCopies(t *testing.T, s store.Store) {
	ctx := t.Context()
	rec := &store.Record{Kind: "k", ID: "a", Data: []byte(`{"v":"original"}`)}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Insert(ctx, rec) })
	// Mutating the inserted record's buffer does not reach the store.
	copy(rec.Data, `{"v":"XXXXXXXX"}`)
	got := mustGet(t, s, "k", "a")
	if string(got.Data) != `{"v":"original"}` {
		t.Fatalf("store aliased the inserted buffer: %q", got.Data)
	}
	// Mutating a returned record does not reach the store either.
	for i := range got.Data {
		got.Data[i] = 'Z'
	}
	got.Parent = "changed"
	l := list(t, s, store.Query{Kind: "k"})
	for i := range l[0].Data {
		l[0].Data[i] = 'Y'
	}
	again := mustGet(t, s, "k", "a")
	if string(again.Data) != `{"v":"original"}` || again.Parent != "" {
		t.Fatalf("returned record aliases the store: %+v", again)
	}
	// Two Gets in one transaction return independent records.
	mustView(t, s, func(tx store.Tx) error {
		a, err := tx.Get(ctx, "k", "a")
		if err != nil {
			return err
		}
		b, err := tx.Get(ctx, "k", "a")
		if err != nil {
			return err
		}
		a.Data[0] = '!'
		if b.Data[0] == '!' {
			t.Error("two Gets share a Data buffer")
		}
		return nil
	})
}

func testInsertExists(t *testing.T, s store.Store) {
	ctx := t.Context()
	orig := &store.Record{Kind: "k", ID: "dup", SortKey: "s1", Data: []byte(`{"n":1}`)}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Insert(ctx, orig) })

	dup := &store.Record{Kind: "k", ID: "dup", SortKey: "s2", Data: []byte(`{"n":2}`)}
	err := s.Update(ctx, func(tx store.Tx) error { return tx.Insert(ctx, dup) })
	if !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate Insert = %v, want ErrExists", err)
	}
	// Within one transaction too, and the caller may carry on after it.
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Insert(ctx, &store.Record{Kind: "k", ID: "fresh", Data: []byte(`{}`)}); err != nil {
			return err
		}
		if err := tx.Insert(ctx, &store.Record{Kind: "k", ID: "fresh", Data: []byte(`{}`)}); !errors.Is(err, store.ErrExists) {
			t.Errorf("duplicate Insert in one tx = %v, want ErrExists", err)
		}
		return nil
	})
	assertRecord(t, mustGet(t, s, "k", "dup"), orig)
	mustGet(t, s, "k", "fresh")
}

func testNotFound(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.Insert(ctx, &store.Record{Kind: "k", ID: "present", Data: []byte(`{}`)})
	})
	mustUpdate(t, s, func(tx store.Tx) error {
		if _, err := tx.Get(ctx, "k", "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get missing = %v, want ErrNotFound", err)
		}
		if _, err := tx.Get(ctx, "other-kind", "present"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get in another kind = %v, want ErrNotFound", err)
		}
		// A missing record is ErrNotFound whatever version the caller holds.
		for _, v := range []int64{0, 1, 7} {
			err := tx.Update(ctx, &store.Record{Kind: "k", ID: "missing", Version: v, Data: []byte(`{}`)})
			if !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Update missing (version %d) = %v, want ErrNotFound", v, err)
			}
		}
		if err := tx.Delete(ctx, "k", "missing"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Delete missing = %v, want ErrNotFound", err)
		}
		return nil
	})
	assertMissing(t, s, "k", "missing")
	mustGet(t, s, "k", "present")
}

func testDeleteAndReinsert(t *testing.T, s store.Store) {
	ctx := t.Context()
	rec := &store.Record{Kind: "k", ID: "a", Data: []byte(`{"n":1}`)}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Insert(ctx, rec) })
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Update(ctx, rec) })
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Delete(ctx, "k", "a") })
	assertMissing(t, s, "k", "a")
	if l := list(t, s, store.Query{Kind: "k"}); len(l) != 0 {
		t.Fatalf("List after Delete = %v", ids(l))
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Delete(ctx, "k", "a"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("second Delete = %v, want ErrNotFound", err)
		}
		return nil
	})
	again := &store.Record{Kind: "k", ID: "a", Data: []byte(`{"n":2}`)}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Insert(ctx, again) })
	if again.Version != 1 {
		t.Fatalf("re-inserted Version = %d, want 1", again.Version)
	}
	assertRecord(t, mustGet(t, s, "k", "a"), again)
	// Delete and re-insert within one transaction.
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Delete(ctx, "k", "a"); err != nil {
			return err
		}
		return tx.Insert(ctx, &store.Record{Kind: "k", ID: "a", Data: []byte(`{"n":3}`)})
	})
	if got := mustGet(t, s, "k", "a"); got.Version != 1 || string(got.Data) != `{"n":3}` {
		t.Fatalf("after delete+insert in one tx: %+v", got)
	}
}

func testUpdateAllFields(t *testing.T, s store.Store) {
	ctx := t.Context()
	rec := &store.Record{Kind: "k", ID: "a", Parent: "p1", SortKey: "s1", Pending: true,
		ExpiresAt: time.UnixMilli(4102444800000), Data: []byte(`{"v":1}`)}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Insert(ctx, rec) })

	rec.Parent, rec.SortKey, rec.Pending = "p2", "s2", false
	rec.ExpiresAt = time.Time{}
	rec.Data = []byte(`{"v":2}`)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Update(ctx, rec) })
	if rec.Version != 2 {
		t.Fatalf("Version after Update = %d, want 2", rec.Version)
	}
	assertRecord(t, mustGet(t, s, "k", "a"), rec)
	if l := list(t, s, store.Query{Kind: "k", Parent: "p1"}); len(l) != 0 {
		t.Fatalf("record still listed under its old parent: %v", ids(l))
	}
	if l := list(t, s, store.Query{Kind: "k", Parent: "p2"}); len(l) != 1 {
		t.Fatalf("record not listed under its new parent: %v", ids(l))
	}
	if l := list(t, s, store.Query{Kind: "k", AnyParent: true, PendingOnly: true}); len(l) != 0 {
		t.Fatalf("record still listed as pending: %v", ids(l))
	}

	rec.Pending = true
	rec.ExpiresAt = time.UnixMilli(1_700_000_000_001)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Update(ctx, rec) })
	assertRecord(t, mustGet(t, s, "k", "a"), rec)
	if l := list(t, s, store.Query{Kind: "k", Parent: "p2", PendingOnly: true}); len(l) != 1 {
		t.Fatalf("record not listed as pending: %v", ids(l))
	}
}

func testOptimisticVersions(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.Insert(ctx, &store.Record{Kind: "k", ID: "a", Data: []byte(`{"by":"init"}`)})
	})
	// Two readers read version 1.
	r1 := mustGet(t, s, "k", "a")
	r2 := mustGet(t, s, "k", "a")
	if r1.Version != 1 || r2.Version != 1 {
		t.Fatalf("versions %d, %d; want 1", r1.Version, r2.Version)
	}
	r1.Data = []byte(`{"by":"first"}`)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Update(ctx, r1) })
	if r1.Version != 2 {
		t.Fatalf("winner's Version = %d, want 2", r1.Version)
	}
	r2.Data = []byte(`{"by":"second"}`)
	err := s.Update(ctx, func(tx store.Tx) error { return tx.Update(ctx, r2) })
	if !errors.Is(err, store.ErrVersion) {
		t.Fatalf("stale Update = %v, want ErrVersion", err)
	}
	if r2.Version != 1 {
		t.Fatalf("failed Update changed the caller's Version to %d", r2.Version)
	}
	got := mustGet(t, s, "k", "a")
	if got.Version != 2 || string(got.Data) != `{"by":"first"}` {
		t.Fatalf("after conflict: version %d data %s; want 2 and the first writer's", got.Version, got.Data)
	}
	// A version from the future is a mismatch too.
	future := clone(got)
	future.Version = 99
	if err := s.Update(ctx, func(tx store.Tx) error { return tx.Update(ctx, future) }); !errors.Is(err, store.ErrVersion) {
		t.Fatalf("Update with a future version = %v, want ErrVersion", err)
	}
	// Re-read and retry succeeds; several updates in one transaction each
	// increment.
	mustUpdate(t, s, func(tx store.Tx) error {
		cur, err := tx.Get(ctx, "k", "a")
		if err != nil {
			return err
		}
		for want := int64(3); want <= 5; want++ {
			if err := tx.Update(ctx, cur); err != nil {
				return err
			}
			if cur.Version != want {
				t.Errorf("Version = %d, want %d", cur.Version, want)
			}
			again, err := tx.Get(ctx, "k", "a")
			if err != nil {
				return err
			}
			if again.Version != want {
				t.Errorf("stored Version = %d, want %d", again.Version, want)
			}
		}
		return nil
	})
	if got := mustGet(t, s, "k", "a"); got.Version != 5 {
		t.Fatalf("Version = %d, want 5", got.Version)
	}
}

// ---------------------------------------------------------------------------
// transactions

func seed(t *testing.T, s store.Store) (keep, gone *store.Record) {
	ctx := t.Context()
	keep = &store.Record{Kind: "k", ID: "keep", Data: []byte(`{"v":"keep"}`)}
	gone = &store.Record{Kind: "k", ID: "gone", Data: []byte(`{"v":"gone"}`)}
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Insert(ctx, keep); err != nil {
			return err
		}
		return tx.Insert(ctx, gone)
	})
	return keep, gone
}

// abortedWrites inserts, updates and deletes; the caller aborts afterwards.
func abortedWrites(ctx context.Context, tx store.Tx, keep *store.Record) error {
	if err := tx.Insert(ctx, &store.Record{Kind: "k", ID: "new", Data: []byte(`{}`)}); err != nil {
		return err
	}
	keep.Data = []byte(`{"v":"changed"}`)
	if err := tx.Update(ctx, keep); err != nil {
		return err
	}
	if err := tx.Update(ctx, keep); err != nil { // twice: Version 1 -> 3
		return err
	}
	return tx.Delete(ctx, "k", "gone")
}

func assertUnchanged(t *testing.T, s store.Store, keep *store.Record) {
	t.Helper()
	assertMissing(t, s, "k", "new")
	mustGet(t, s, "k", "gone")
	got := mustGet(t, s, "k", "keep")
	if got.Version != 1 || string(got.Data) != `{"v":"keep"}` {
		t.Fatalf("rolled-back update visible: %+v", got)
	}
	if keep.Version != 1 {
		t.Fatalf("rolled-back Update left rec.Version at %d, want it restored to 1", keep.Version)
	}
	if l := list(t, s, store.Query{Kind: "k"}); len(l) != 2 {
		t.Fatalf("List after rollback = %v, want [gone keep]", ids(l))
	}
}

func testRollbackOnError(t *testing.T, s store.Store) {
	ctx := t.Context()
	keep, _ := seed(t, s)
	errAbort := errors.New("abort")
	calls := 0
	err := s.Update(ctx, func(tx store.Tx) error {
		calls++
		if err := abortedWrites(ctx, tx, keep); err != nil {
			return err
		}
		return errAbort
	})
	if err != errAbort {
		t.Fatalf("Update = %v, want the fn error unchanged", err)
	}
	if calls != 1 {
		t.Fatalf("fn called %d times", calls)
	}
	assertUnchanged(t, s, keep)

	// A wrapped error stays matchable, and a store sentinel returned by fn
	// (e.g. a failed Get) rolls back too.
	wrapped := fmt.Errorf("context: %w", errAbort)
	if err := s.Update(ctx, func(tx store.Tx) error { return wrapped }); err != wrapped {
		t.Fatalf("Update = %v, want %v", err, wrapped)
	}
	err = s.Update(ctx, func(tx store.Tx) error {
		if err := tx.Insert(ctx, &store.Record{Kind: "k", ID: "new", Data: []byte(`{}`)}); err != nil {
			return err
		}
		_, err := tx.Get(ctx, "k", "missing")
		return err
	})
	if !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Update = %v, want ErrNotFound", err)
	}
	assertUnchanged(t, s, keep)

	// View returns fn's error unchanged too.
	if err := s.View(ctx, func(tx store.Tx) error { return errAbort }); err != errAbort {
		t.Fatalf("View = %v, want the fn error unchanged", err)
	}
}

func testRollbackOnPanic(t *testing.T, s store.Store) {
	ctx := t.Context()
	keep, _ := seed(t, s)
	type boom struct{ msg string }
	func() {
		defer func() {
			r := recover()
			if b, ok := r.(boom); !ok || b.msg != "boom" {
				t.Fatalf("recovered %v, want the original panic value", r)
			}
		}()
		_ = s.Update(ctx, func(tx store.Tx) error {
			if err := abortedWrites(ctx, tx, keep); err != nil {
				return err
			}
			panic(boom{"boom"})
		})
		t.Fatal("Update returned instead of re-panicking")
	}()
	assertUnchanged(t, s, keep)

	// A panic in View propagates too.
	func() {
		defer func() {
			if r := recover(); r != "view boom" {
				t.Fatalf("recovered %v, want the original panic value", r)
			}
		}()
		_ = s.View(ctx, func(tx store.Tx) error { panic("view boom") })
	}()

	// The store is still usable: the transactions were released.
	for i := range 3 {
		mustUpdate(t, s, func(tx store.Tx) error {
			return tx.Insert(ctx, &store.Record{Kind: "k", ID: "after-" + strconv.Itoa(i), Data: []byte(`{}`)})
		})
		mustGet(t, s, "k", "after-"+strconv.Itoa(i))
	}
}

func testReadYourWrites(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Insert(ctx, &store.Record{Kind: "k", ID: "b", SortKey: "2", Data: []byte(`{}`)}); err != nil {
			return err
		}
		if err := tx.Insert(ctx, &store.Record{Kind: "k", ID: "a", SortKey: "1", Data: []byte(`{"x":1}`)}); err != nil {
			return err
		}
		got, err := tx.Get(ctx, "k", "a")
		if err != nil {
			return err
		}
		if string(got.Data) != `{"x":1}` || got.Version != 1 {
			t.Errorf("Get in the same tx = %+v", got)
		}
		l, err := tx.List(ctx, store.Query{Kind: "k"})
		if err != nil {
			return err
		}
		if !slices.Equal(ids(l), []string{"a", "b"}) {
			t.Errorf("List in the same tx = %v, want [a b]", ids(l))
		}
		if err := tx.Delete(ctx, "k", "b"); err != nil {
			return err
		}
		if _, err := tx.Get(ctx, "k", "b"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get after Delete in the same tx = %v", err)
		}
		return nil
	})
}

func testViewSnapshot(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, id := range []string{"a", "b"} {
			if err := tx.Insert(ctx, &store.Record{Kind: "k", ID: id, SortKey: id, Data: []byte(`{"v":0}`)}); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, s, func(tx store.Tx) error {
		a, err := tx.Get(ctx, "k", "a")
		if err != nil {
			return err
		}
		// Commit changes while the View is open, from another goroutine.
		// The writer must not wait for the reader.
		done := make(chan error, 1)
		go func() {
			done <- s.Update(ctx, func(wtx store.Tx) error {
				a2 := clone(a)
				a2.Data = []byte(`{"v":1}`)
				if err := wtx.Update(ctx, a2); err != nil {
					return err
				}
				b, err := wtx.Get(ctx, "k", "b")
				if err != nil {
					return err
				}
				b.Data = []byte(`{"v":1}`)
				if err := wtx.Update(ctx, b); err != nil {
					return err
				}
				return wtx.Insert(ctx, &store.Record{Kind: "k", ID: "c", SortKey: "c", Data: []byte(`{"v":1}`)})
			})
		}()
		select {
		case err := <-done:
			if err != nil {
				return fmt.Errorf("concurrent Update: %w", err)
			}
		case <-time.After(30 * time.Second):
			return errors.New("Update blocked behind an open View")
		}
		// The View still sees the state as of its first read.
		for _, id := range []string{"a", "b"} {
			r, err := tx.Get(ctx, "k", id)
			if err != nil {
				return err
			}
			if r.Version != 1 || string(r.Data) != `{"v":0}` {
				t.Errorf("View saw a later commit of %s: %+v", id, r)
			}
		}
		if _, err := tx.Get(ctx, "k", "c"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("View saw a record inserted after it started: %v", err)
		}
		l, err := tx.List(ctx, store.Query{Kind: "k"})
		if err != nil {
			return err
		}
		if !slices.Equal(ids(l), []string{"a", "b"}) {
			t.Errorf("View listed %v, want [a b]", ids(l))
		}
		return nil
	})
	// A new View sees everything.
	if l := list(t, s, store.Query{Kind: "k"}); !slices.Equal(ids(l), []string{"a", "b", "c"}) {
		t.Fatalf("new View listed %v, want [a b c]", ids(l))
	}
}

func testWritesInViewFail(t *testing.T, s store.Store) {
	ctx := t.Context()
	rec := &store.Record{Kind: "k", ID: "a", Data: []byte(`{"v":1}`)}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Insert(ctx, rec) })
	mustView(t, s, func(tx store.Tx) error {
		ins := &store.Record{Kind: "k", ID: "b", Data: []byte(`{}`)}
		if err := tx.Insert(ctx, ins); err == nil {
			t.Error("Insert in View succeeded")
		}
		if ins.Version != 0 {
			t.Errorf("failed Insert set Version %d", ins.Version)
		}
		upd := clone(rec)
		upd.Data = []byte(`{"v":2}`)
		if err := tx.Update(ctx, upd); err == nil {
			t.Error("Update in View succeeded")
		}
		if upd.Version != 1 {
			t.Errorf("failed Update set Version %d", upd.Version)
		}
		if err := tx.Delete(ctx, "k", "a"); err == nil {
			t.Error("Delete in View succeeded")
		}
		// Reads still work after the refused writes.
		if _, err := tx.Get(ctx, "k", "a"); err != nil {
			t.Errorf("Get after refused writes: %v", err)
		}
		return nil
	})
	assertMissing(t, s, "k", "b")
	assertRecord(t, mustGet(t, s, "k", "a"), rec)
}

// ---------------------------------------------------------------------------
// listing

func testListEmpty(t *testing.T, s store.Store) {
	for _, q := range []store.Query{
		{Kind: "nothing"},
		{Kind: "nothing", AnyParent: true},
		{Kind: "nothing", PendingOnly: true, Limit: 10},
		{Kind: "nothing", After: &store.Cursor{SortKey: "x", ID: "y"}},
	} {
		if l := list(t, s, q); len(l) != 0 {
			t.Fatalf("List(%+v) = %v, want none", q, ids(l))
		}
	}
}

func testListBytewiseOrder(t *testing.T, s store.Store) {
	ctx := t.Context()
	keys := []string{"b", "B", "a", "A", "_", "ä", "z", "Z", "10", "9", "", "a b", "ab", "a\u00a0"}
	mustUpdate(t, s, func(tx store.Tx) error {
		for i, k := range keys {
			if err := tx.Insert(ctx, &store.Record{Kind: "k", ID: fmt.Sprintf("id%02d", i), SortKey: k, Data: []byte(`{}`)}); err != nil {
				return err
			}
		}
		return nil
	})
	want := slices.Clone(keys)
	slices.Sort(want)
	var got []string
	for _, r := range list(t, s, store.Query{Kind: "k"}) {
		got = append(got, r.SortKey)
	}
	if !slices.Equal(got, want) {
		t.Fatalf("sort keys in order %q, want bytewise %q", got, want)
	}
	// Ties on SortKey break on ID, bytewise.
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, id := range []string{"b", "B", "a", "A", "ä", "10", "9"} {
			if err := tx.Insert(ctx, &store.Record{Kind: "tie", ID: id, SortKey: "same", Data: []byte(`{}`)}); err != nil {
				return err
			}
		}
		return nil
	})
	if got := ids(list(t, s, store.Query{Kind: "tie"})); !slices.Equal(got, []string{"10", "9", "A", "B", "a", "b", "ä"}) {
		t.Fatalf("tie order %q", got)
	}
}

func less(a, b *store.Record) int {
	if c := strings.Compare(a.SortKey, b.SortKey); c != 0 {
		return c
	}
	return strings.Compare(a.ID, b.ID)
}

func testListPagination(t *testing.T, s store.Store) {
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(1, 2))
	kinds := []string{"alpha", "beta"}
	parents := []string{"", "p1", "p2", "p10"}
	var all []*store.Record
	// 600 records; sort keys collide often so the ID tie-break matters.
	for i := range 600 {
		all = append(all, &store.Record{
			Kind:    kinds[i%len(kinds)],
			ID:      fmt.Sprintf("id-%04d", rng.IntN(10000)*1000+i), // unique, unordered
			Parent:  parents[rng.IntN(len(parents))],
			SortKey: fmt.Sprintf("sk-%02d", rng.IntN(40)),
			Pending: rng.IntN(3) == 0,
			Data:    []byte(fmt.Sprintf(`{"i":%d}`, i)),
		})
	}
	// Insert in random order over several transactions.
	order := rng.Perm(len(all))
	for start := 0; start < len(order); start += 97 {
		mustUpdate(t, s, func(tx store.Tx) error {
			for _, j := range order[start:min(start+97, len(order))] {
				if err := tx.Insert(ctx, all[j]); err != nil {
					return err
				}
			}
			return nil
		})
	}

	queries := []store.Query{}
	for _, k := range kinds {
		for _, pendingOnly := range []bool{false, true} {
			queries = append(queries, store.Query{Kind: k, AnyParent: true, PendingOnly: pendingOnly})
			for _, p := range parents {
				queries = append(queries, store.Query{Kind: k, Parent: p, PendingOnly: pendingOnly})
			}
		}
	}
	big := 0
	for _, q := range queries {
		var want []*store.Record
		for _, r := range all {
			if r.Kind == q.Kind && (q.AnyParent || r.Parent == q.Parent) && (!q.PendingOnly || r.Pending) {
				want = append(want, r)
			}
		}
		slices.SortFunc(want, less)
		wantIDs := ids(want)
		name := fmt.Sprintf("kind=%s parent=%q any=%v pending=%v", q.Kind, q.Parent, q.AnyParent, q.PendingOnly)
		if len(want) >= 250 {
			big++
		}

		// Whole listing.
		got := list(t, s, q)
		if !slices.Equal(ids(got), wantIDs) {
			t.Fatalf("%s: List = %v\nwant %v", name, ids(got), wantIDs)
		}
		for i := range got {
			assertRecord(t, got[i], want[i])
		}

		// Limit alone returns the first records.
		for _, limit := range []int{1, 7} {
			lq := q
			lq.Limit = limit
			if got := ids(list(t, s, lq)); !slices.Equal(got, wantIDs[:min(limit, len(wantIDs))]) {
				t.Fatalf("%s limit %d: %v", name, limit, got)
			}
		}

		// Pages: every record exactly once, in order.
		for _, size := range []int{1, 3, 100} {
			pq := q
			pq.Limit = size
			var seen []string
			for pages := 0; ; pages++ {
				if pages > len(want)+1 {
					t.Fatalf("%s size %d: pagination does not end", name, size)
				}
				page := list(t, s, pq)
				if len(page) > size {
					t.Fatalf("%s size %d: page of %d", name, size, len(page))
				}
				seen = append(seen, ids(page)...)
				if len(page) < size {
					break
				}
				last := page[len(page)-1]
				pq.After = &store.Cursor{SortKey: last.SortKey, ID: last.ID}
			}
			if !slices.Equal(seen, wantIDs) {
				t.Fatalf("%s size %d: paged %d records %v\nwant %d %v", name, size, len(seen), seen, len(wantIDs), wantIDs)
			}
		}

		// A cursor that names no record continues at the next one.
		if len(want) > 2 {
			mid := want[len(want)/2]
			cq := q
			// Just after mid: no valid key lies between mid.ID and
			// mid.ID+"\x01" (keys hold no NUL byte).
			cq.After = &store.Cursor{SortKey: mid.SortKey, ID: mid.ID + "\x01"}
			if got := ids(list(t, s, cq)); !slices.Equal(got, wantIDs[len(want)/2+1:]) {
				t.Fatalf("%s: after a synthetic cursor: %v", name, got)
			}
			cq.After = &store.Cursor{SortKey: mid.SortKey, ID: ""} // before every ID of that sort key
			first := slices.IndexFunc(want, func(r *store.Record) bool { return r.SortKey == mid.SortKey })
			if got := ids(list(t, s, cq)); !slices.Equal(got, wantIDs[first:]) {
				t.Fatalf("%s: after cursor (%q, \"\"): %v", name, mid.SortKey, got)
			}
		}
		// After the last record: empty.
		if len(want) > 0 {
			last := want[len(want)-1]
			eq := q
			eq.After = &store.Cursor{SortKey: last.SortKey, ID: last.ID}
			if got := list(t, s, eq); len(got) != 0 {
				t.Fatalf("%s: after the last record: %v", name, ids(got))
			}
		}
	}
	if big == 0 {
		t.Fatal("no query covered 250 records or more")
	}

	// A listing stays correct when records change between pages: records
	// deleted before the cursor do not shift later pages.
	q := store.Query{Kind: "alpha", AnyParent: true, Limit: 50}
	page1 := list(t, s, q)
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, r := range page1[:25] {
			if err := tx.Delete(ctx, r.Kind, r.ID); err != nil {
				return err
			}
		}
		return nil
	})
	last := page1[len(page1)-1]
	q.After = &store.Cursor{SortKey: last.SortKey, ID: last.ID}
	page2 := list(t, s, q)
	var want []*store.Record
	for _, r := range all {
		if r.Kind == "alpha" {
			want = append(want, r)
		}
	}
	slices.SortFunc(want, less)
	if !slices.Equal(ids(page2), ids(want[50:100])) {
		t.Fatalf("page after deletions = %v, want %v", ids(page2), ids(want[50:100]))
	}
}

// ---------------------------------------------------------------------------
// expiry

func testDeleteExpired(t *testing.T, s store.Store) {
	ctx := t.Context()
	now := time.UnixMilli(1_750_000_000_000)
	var expired, live []string
	kindOf := map[string]string{}
	mustUpdate(t, s, func(tx store.Tx) error {
		for i := range 40 {
			rec := &store.Record{Kind: []string{"idempotency", "tags"}[i%2], ID: fmt.Sprintf("r%02d", i), Data: []byte(`{}`)}
			switch i % 4 {
			case 0: // expired long ago
				rec.ExpiresAt = now.Add(-time.Duration(i+1) * time.Hour)
				expired = append(expired, rec.ID)
			case 1: // expired a millisecond ago
				rec.ExpiresAt = now.Add(-time.Millisecond)
				expired = append(expired, rec.ID)
			case 2: // expires exactly now: not before now, kept; or later
				if i%8 == 2 {
					rec.ExpiresAt = now
				} else {
					rec.ExpiresAt = now.Add(time.Duration(i) * time.Minute)
				}
				live = append(live, rec.ID)
			case 3: // never
				live = append(live, rec.ID)
			}
			kindOf[rec.ID] = rec.Kind
			if err := tx.Insert(ctx, rec); err != nil {
				return err
			}
		}
		return nil
	})
	n, err := s.DeleteExpired(ctx, now)
	if err != nil {
		t.Fatalf("DeleteExpired: %v", err)
	}
	if n != len(expired) {
		t.Fatalf("DeleteExpired = %d, want %d", n, len(expired))
	}
	var remaining []string
	for _, k := range []string{"idempotency", "tags"} {
		remaining = append(remaining, ids(list(t, s, store.Query{Kind: k}))...)
	}
	slices.Sort(remaining)
	if !slices.Equal(remaining, live) {
		t.Fatalf("remaining %v, want %v", remaining, live)
	}
	for _, id := range expired {
		assertMissing(t, s, kindOf[id], id)
	}
	if n, err := s.DeleteExpired(ctx, now); err != nil || n != 0 {
		t.Fatalf("second DeleteExpired = %d, %v; want 0", n, err)
	}
	// Moving time forward expires the rest that have an expiry.
	n, err = s.DeleteExpired(ctx, now.Add(365*24*time.Hour))
	if err != nil || n != 10 {
		t.Fatalf("DeleteExpired a year later = %d, %v; want 10", n, err)
	}
}

// ---------------------------------------------------------------------------
// concurrency, size, cancellation

func testConcurrentCounter(t *testing.T, s store.Store) {
	ctx := t.Context()
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.Insert(ctx, &store.Record{Kind: "counter", ID: "c", Data: []byte("0")})
	})
	const workers, perWorker = 8, 25
	var (
		wg        sync.WaitGroup
		mu        sync.Mutex
		conflicts int
		errs      []error
	)
	incr := func(rec *store.Record) {
		n, err := strconv.Atoi(string(rec.Data))
		if err != nil {
			panic(err)
		}
		rec.Data = []byte(strconv.Itoa(n + 1))
	}
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				var err error
				if (w+i)%2 == 0 {
					// Read in a View, write in an Update: conflicts surface
					// as ErrVersion and are retried.
					var rec *store.Record
					err = s.View(ctx, func(tx store.Tx) error {
						var err error
						rec, err = tx.Get(ctx, "counter", "c")
						return err
					})
					if err == nil {
						incr(rec)
						err = s.Update(ctx, func(tx store.Tx) error { return tx.Update(ctx, rec) })
					}
				} else {
					// Read and write in one Update.
					err = s.Update(ctx, func(tx store.Tx) error {
						rec, err := tx.Get(ctx, "counter", "c")
						if err != nil {
							return err
						}
						incr(rec)
						return tx.Update(ctx, rec)
					})
				}
				if errors.Is(err, store.ErrVersion) {
					mu.Lock()
					conflicts++
					mu.Unlock()
					i-- // retry
					continue
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("workers failed: %v", errors.Join(errs...))
	}
	got := mustGet(t, s, "counter", "c")
	if string(got.Data) != strconv.Itoa(workers*perWorker) {
		t.Fatalf("counter = %s, want %d (lost updates)", got.Data, workers*perWorker)
	}
	if got.Version != workers*perWorker+1 {
		t.Fatalf("Version = %d, want %d", got.Version, workers*perWorker+1)
	}
	t.Logf("%d increments, %d version conflicts retried", workers*perWorker, conflicts)
}

func testLargeData(t *testing.T, s store.Store) {
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(3, 4))
	big := make([]byte, 1<<20)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	rec := &store.Record{Kind: "k", ID: "big", Data: bytes.Clone(big)}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Insert(ctx, rec) })
	got := mustGet(t, s, "k", "big")
	if !bytes.Equal(got.Data, big) {
		t.Fatalf("1 MiB round trip differs (len %d)", len(got.Data))
	}
	for i := range big {
		big[i] ^= 0x5a
	}
	got.Data = bytes.Clone(big)
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Update(ctx, got) })
	if l := list(t, s, store.Query{Kind: "k"}); len(l) != 1 || !bytes.Equal(l[0].Data, big) {
		t.Fatal("1 MiB update round trip differs")
	}
}

func testContextCancelled(t *testing.T, s store.Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	called := false
	err := s.Update(ctx, func(tx store.Tx) error {
		called = true
		return tx.Insert(ctx, &store.Record{Kind: "k", ID: "a", Data: []byte(`{}`)})
	})
	if err == nil {
		t.Fatal("Update with a cancelled context succeeded")
	}
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Update error %v does not match context.Canceled", err)
	}
	_ = called // fn may or may not run, but nothing may be written
	assertMissing(t, s, "k", "a")

	if err := s.View(ctx, func(tx store.Tx) error { _, err := tx.Get(ctx, "k", "a"); return err }); err == nil {
		t.Error("View with a cancelled context succeeded")
	}

	// Cancelled while fn runs: the commit is refused, nothing written, and
	// rec.Version is restored.
	ctx2, cancel2 := context.WithCancel(t.Context())
	defer cancel2()
	rec := &store.Record{Kind: "k", ID: "b", Data: []byte(`{}`)}
	err = s.Update(ctx2, func(tx store.Tx) error {
		if err := tx.Insert(ctx2, rec); err != nil {
			return err
		}
		cancel2()
		return nil
	})
	if err == nil {
		t.Fatal("Update whose context was cancelled before commit succeeded")
	}
	assertMissing(t, s, "k", "b")
	if rec.Version != 0 {
		t.Errorf("uncommitted Insert left Version %d", rec.Version)
	}

	// DeleteExpired honours cancellation too.
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.Insert(t.Context(), &store.Record{Kind: "k", ID: "old", ExpiresAt: time.UnixMilli(1000), Data: []byte(`{}`)})
	})
	if _, err := s.DeleteExpired(ctx, time.Now()); err == nil {
		t.Error("DeleteExpired with a cancelled context succeeded")
	}
	mustGet(t, s, "k", "old")

	// The store still works.
	mustUpdate(t, s, func(tx store.Tx) error {
		return tx.Insert(t.Context(), &store.Record{Kind: "k", ID: "c", Data: []byte(`{}`)})
	})
}
