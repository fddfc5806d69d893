package storetest

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/store"
)

// Reverse listings, SortKeyMax, Count and key validation.

// matches reports whether List(q) selects r (ignoring After and Limit).
func matches(r *store.Record, q store.Query) bool {
	return r.Kind == q.Kind && (q.AnyParent || r.Parent == q.Parent) && (!q.PendingOnly || r.Pending) &&
		(q.SortKeyMax == nil || r.SortKey <= *q.SortKeyMax)
}

// expect returns what List(q) must return from all, ignoring After and
// Limit, in q's order.
func expect(all []*store.Record, q store.Query) []*store.Record {
	var want []*store.Record
	for _, r := range all {
		if matches(r, q) {
			want = append(want, r)
		}
	}
	slices.SortFunc(want, less)
	if q.Reverse {
		slices.Reverse(want)
	}
	return want
}

// beyond reports whether r lies strictly after c in q's direction.
func beyond(r *store.Record, c store.Cursor, reverse bool) bool {
	cmp := less(r, &store.Record{SortKey: c.SortKey, ID: c.ID})
	if reverse {
		return cmp < 0
	}
	return cmp > 0
}

func describe(q store.Query) string {
	bound := "nil"
	if q.SortKeyMax != nil {
		bound = fmt.Sprintf("%q", *q.SortKeyMax)
	}
	return fmt.Sprintf("kind=%s parent=%q any=%v pending=%v reverse=%v max=%s", q.Kind, q.Parent, q.AnyParent, q.PendingOnly, q.Reverse, bound)
}

func count(t *testing.T, s store.Store, q store.Query) int {
	t.Helper()
	var n int
	mustView(t, s, func(tx store.Tx) error {
		var err error
		n, err = tx.Count(t.Context(), q)
		return err
	})
	return n
}

func ptr(s string) *string { return &s }

// testListReverseAndBound checks every combination of filters, direction
// and bound against a model: whole listings, Count, limits, keyset pages
// in both directions, synthetic cursors and cursors beyond the bound.
func testListReverseAndBound(t *testing.T, s store.Store) {
	ctx := t.Context()
	rng := rand.New(rand.NewPCG(5, 6))
	kinds := []string{"alpha", "beta"}
	parents := []string{"", "p1", "p2"}
	var all []*store.Record
	for i := range 360 {
		sk := fmt.Sprintf("sk-%02d", rng.IntN(30))
		if i%40 == 0 {
			sk = "" // the empty sort key sorts first
		}
		all = append(all, &store.Record{
			Kind:    kinds[i%len(kinds)],
			ID:      fmt.Sprintf("id-%04d", rng.IntN(1000)*1000+i),
			Parent:  parents[rng.IntN(len(parents))],
			SortKey: sk,
			Pending: rng.IntN(3) == 0,
			Data:    []byte(fmt.Sprintf(`{"i":%d}`, i)),
		})
	}
	order := rng.Perm(len(all))
	for start := 0; start < len(order); start += 120 {
		mustUpdate(t, s, func(tx store.Tx) error {
			for _, j := range order[start:min(start+120, len(order))] {
				if err := tx.Insert(ctx, all[j]); err != nil {
					return err
				}
			}
			return nil
		})
	}

	// Bounds: none, below everything, the empty key, a stored key, a key
	// between stored ones, above everything.
	bounds := []*string{nil, ptr(""), ptr("a"), ptr("sk-10"), ptr("sk-10~"), ptr("sk-29"), ptr("zzz")}
	var queries []store.Query
	for _, k := range kinds {
		for _, pending := range []bool{false, true} {
			for _, reverse := range []bool{false, true} {
				for _, b := range bounds {
					base := store.Query{Kind: k, PendingOnly: pending, Reverse: reverse, SortKeyMax: b}
					anyParent := base
					anyParent.AnyParent = true
					queries = append(queries, anyParent)
					for _, p := range parents {
						pq := base
						pq.Parent = p
						queries = append(queries, pq)
					}
				}
			}
		}
	}
	nonEmptyBounded := 0
	for _, q := range queries {
		want := expect(all, q)
		wantIDs := ids(want)
		name := describe(q)
		if q.SortKeyMax != nil && *q.SortKeyMax != "zzz" && len(want) > 0 {
			nonEmptyBounded++
		}

		got := list(t, s, q)
		if !slices.Equal(ids(got), wantIDs) {
			t.Fatalf("%s: List = %v\nwant %v", name, ids(got), wantIDs)
		}
		for i := range got {
			assertRecord(t, got[i], want[i])
		}
		// Count ignores After, Limit and the direction.
		cq := q
		cq.Limit, cq.After, cq.Reverse = 3, &store.Cursor{SortKey: "sk-15", ID: "id"}, !q.Reverse
		if n := count(t, s, cq); n != len(want) {
			t.Fatalf("%s: Count = %d, want %d", name, n, len(want))
		}
		for _, limit := range []int{1, 7} {
			lq := q
			lq.Limit = limit
			if got := ids(list(t, s, lq)); !slices.Equal(got, wantIDs[:min(limit, len(wantIDs))]) {
				t.Fatalf("%s limit %d: %v", name, limit, got)
			}
		}
		for _, size := range []int{1, 7, 100} {
			if size == 1 && len(want) > 40 {
				continue
			}
			pq := q
			pq.Limit = size
			var seen []string
			for pages := 0; ; pages++ {
				if pages > len(want)+1 {
					t.Fatalf("%s size %d: pagination does not end", name, size)
				}
				page := list(t, s, pq)
				seen = append(seen, ids(page)...)
				if len(page) < size {
					break
				}
				last := page[len(page)-1]
				pq.After = &store.Cursor{SortKey: last.SortKey, ID: last.ID}
			}
			if !slices.Equal(seen, wantIDs) {
				t.Fatalf("%s size %d: paged %v\nwant %v", name, size, seen, wantIDs)
			}
		}
		// Synthetic cursors: each selects exactly the records beyond it.
		var cursors []store.Cursor
		if len(want) > 0 {
			mid := want[len(want)/2]
			cursors = append(cursors,
				store.Cursor{SortKey: mid.SortKey, ID: mid.ID},
				store.Cursor{SortKey: mid.SortKey, ID: mid.ID + "\x01"},
				store.Cursor{SortKey: mid.SortKey, ID: ""},
				store.Cursor{SortKey: mid.SortKey + "\x01", ID: ""},
				store.Cursor{SortKey: want[len(want)-1].SortKey, ID: want[len(want)-1].ID})
		}
		// Cursors at and beyond the bound: the bound still applies, and a
		// cursor above it in a reverse listing is the same as none.
		cursors = append(cursors, store.Cursor{SortKey: "", ID: ""}, store.Cursor{SortKey: "sk-10", ID: "id-5"},
			store.Cursor{SortKey: "sk-10~", ID: ""}, store.Cursor{SortKey: "zzzz", ID: ""})
		for _, c := range cursors {
			aq := q
			aq.After = &c
			var wantAfter []string
			for _, r := range want {
				if beyond(r, c, q.Reverse) {
					wantAfter = append(wantAfter, r.ID)
				}
			}
			if got := ids(list(t, s, aq)); !slices.Equal(got, wantAfter) {
				t.Fatalf("%s after (%q, %q): %v\nwant %v", name, c.SortKey, c.ID, got, wantAfter)
			}
			aq.Limit = 2
			if got := ids(list(t, s, aq)); !slices.Equal(got, wantAfter[:min(2, len(wantAfter))]) {
				t.Fatalf("%s after (%q, %q) limit 2: %v", name, c.SortKey, c.ID, got)
			}
		}
	}
	if nonEmptyBounded == 0 {
		t.Fatal("no bounded query selected records")
	}

	// Reverse pages stay correct when records change between pages.
	q := store.Query{Kind: "alpha", AnyParent: true, Reverse: true, SortKeyMax: ptr("sk-20"), Limit: 20}
	page1 := list(t, s, q)
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, r := range page1[:10] {
			if err := tx.Delete(ctx, r.Kind, r.ID); err != nil {
				return err
			}
		}
		// A record inserted above the cursor does not appear later.
		return tx.Insert(ctx, &store.Record{Kind: "alpha", ID: "late", SortKey: "sk-19~", Data: []byte(`{}`)})
	})
	last := page1[len(page1)-1]
	q.After = &store.Cursor{SortKey: last.SortKey, ID: last.ID}
	want := expect(all, q)
	if got := ids(list(t, s, q)); !slices.Equal(got, ids(want[20:40])) {
		t.Fatalf("reverse page after deletions = %v, want %v", got, ids(want[20:40]))
	}
}

// testListAsOf is the query the domains need: the newest records of a
// parent at or before a time, one page, and how many there are.
func testListAsOf(t *testing.T, s store.Store) {
	ctx := t.Context()
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	stamp := func(tm time.Time) string { return tm.Format("2006-01-02T15:04:05.000Z") }
	mustUpdate(t, s, func(tx store.Tx) error {
		for i := range 10 {
			for _, ds := range []string{"ds-1", "ds-2"} {
				// Two changesets share each time stamp; ties break on ID.
				for _, suffix := range []string{"a", "b"} {
					err := tx.Insert(ctx, &store.Record{Kind: "changeset", ID: fmt.Sprintf("%s-cs%02d%s", ds, i, suffix), Parent: ds,
						SortKey: stamp(base.Add(time.Duration(i) * time.Hour)), Data: []byte(`{}`)})
					if err != nil {
						return err
					}
				}
			}
		}
		return nil
	})
	asOf := func(tm time.Time, limit int) (store.Query, []string) {
		q := store.Query{Kind: "changeset", Parent: "ds-1", SortKeyMax: ptr(stamp(tm)), Reverse: true, Limit: limit}
		return q, ids(list(t, s, q))
	}
	// Exactly at a change: inclusive.
	if _, got := asOf(base.Add(3*time.Hour), 3); !slices.Equal(got, []string{"ds-1-cs03b", "ds-1-cs03a", "ds-1-cs02b"}) {
		t.Fatalf("as of 03:00 = %v", got)
	}
	// Between changes.
	q, got := asOf(base.Add(3*time.Hour+time.Minute), 1)
	if !slices.Equal(got, []string{"ds-1-cs03b"}) {
		t.Fatalf("as of 03:01 = %v", got)
	}
	if n := count(t, s, q); n != 8 {
		t.Fatalf("Count as of 03:01 = %d, want 8", n)
	}
	// Next page of the same as-of listing.
	q.After, q.Limit = &store.Cursor{SortKey: stamp(base.Add(3 * time.Hour)), ID: "ds-1-cs03b"}, 3
	if got := ids(list(t, s, q)); !slices.Equal(got, []string{"ds-1-cs03a", "ds-1-cs02b", "ds-1-cs02a"}) {
		t.Fatalf("second page as of 03:01 = %v", got)
	}
	// Before the first change: nothing.
	if q, got := asOf(base.Add(-time.Millisecond), 5); len(got) != 0 || count(t, s, q) != 0 {
		t.Fatalf("as of before the first change = %v", got)
	}
	// Long after: the newest.
	if _, got := asOf(base.Add(1000*time.Hour), 1); !slices.Equal(got, []string{"ds-1-cs09b"}) {
		t.Fatalf("as of later = %v", got)
	}
}

func testCount(t *testing.T, s store.Store) {
	ctx := t.Context()
	if n := count(t, s, store.Query{Kind: "k"}); n != 0 {
		t.Fatalf("Count of nothing = %d", n)
	}
	mustUpdate(t, s, func(tx store.Tx) error {
		for i := range 30 {
			err := tx.Insert(ctx, &store.Record{Kind: "k", ID: fmt.Sprintf("r%02d", i), Parent: []string{"a", "b", ""}[i%3],
				SortKey: fmt.Sprintf("%02d", i), Pending: i%4 == 0, Data: []byte(`{}`)})
			if err != nil {
				return err
			}
		}
		return tx.Insert(ctx, &store.Record{Kind: "other", ID: "x", Parent: "a", Data: []byte(`{}`)})
	})
	for _, tc := range []struct {
		q    store.Query
		want int
	}{
		{store.Query{Kind: "k", AnyParent: true}, 30},
		{store.Query{Kind: "k"}, 10},
		{store.Query{Kind: "k", Parent: "a"}, 10},
		{store.Query{Kind: "k", Parent: "missing"}, 0},
		{store.Query{Kind: "k", AnyParent: true, PendingOnly: true}, 8},
		{store.Query{Kind: "k", Parent: "a", PendingOnly: true}, 3}, // 0, 12, 24
		{store.Query{Kind: "k", AnyParent: true, SortKeyMax: ptr("09")}, 10},
		{store.Query{Kind: "k", AnyParent: true, SortKeyMax: ptr("09"), Reverse: true}, 10},
		{store.Query{Kind: "k", Parent: "b", SortKeyMax: ptr("10")}, 4}, // 01, 04, 07, 10
		{store.Query{Kind: "k", AnyParent: true, PendingOnly: true, SortKeyMax: ptr("")}, 0},
		// After and Limit do not change a count.
		{store.Query{Kind: "k", AnyParent: true, After: &store.Cursor{SortKey: "20"}, Limit: 2}, 30},
		{store.Query{Kind: "other", AnyParent: true}, 1},
	} {
		if n := count(t, s, tc.q); n != tc.want {
			t.Errorf("Count(%s) = %d, want %d", describe(tc.q), n, tc.want)
		}
	}
	// A read-write transaction counts its own writes; the count of a View
	// is that of its snapshot.
	mustUpdate(t, s, func(tx store.Tx) error {
		if err := tx.Delete(ctx, "k", "r00"); err != nil {
			return err
		}
		if err := tx.Insert(ctx, &store.Record{Kind: "k", ID: "new", Parent: "a", Data: []byte(`{}`)}); err != nil {
			return err
		}
		n, err := tx.Count(ctx, store.Query{Kind: "k", Parent: "a"})
		if err != nil {
			return err
		}
		if n != 10 {
			t.Errorf("Count in the writing transaction = %d, want 10", n)
		}
		n, err = tx.Count(ctx, store.Query{Kind: "k", AnyParent: true, PendingOnly: true})
		if err != nil {
			return err
		}
		if n != 7 {
			t.Errorf("pending Count in the writing transaction = %d, want 7", n)
		}
		return nil
	})
	mustView(t, s, func(tx store.Tx) error {
		n, err := tx.Count(ctx, store.Query{Kind: "k", AnyParent: true})
		if err != nil {
			return err
		}
		done := make(chan error, 1)
		go func() {
			done <- s.Update(ctx, func(wtx store.Tx) error {
				return wtx.Insert(ctx, &store.Record{Kind: "k", ID: "later", Data: []byte(`{}`)})
			})
		}()
		if err := <-done; err != nil {
			return err
		}
		again, err := tx.Count(ctx, store.Query{Kind: "k", AnyParent: true})
		if err != nil {
			return err
		}
		if n != 30 || again != 30 {
			t.Errorf("Count in a View = %d then %d, want 30 both times", n, again)
		}
		return nil
	})
	if n := count(t, s, store.Query{Kind: "k", AnyParent: true}); n != 31 {
		t.Fatalf("Count after the commit = %d, want 31", n)
	}
	// Invalid limit or bound.
	mustView(t, s, func(tx store.Tx) error {
		if _, err := tx.Count(ctx, store.Query{Kind: "k", SortKeyMax: ptr("\xff")}); !errors.Is(err, store.ErrInvalidKey) {
			t.Errorf("Count with an invalid bound = %v, want ErrInvalidKey", err)
		}
		return nil
	})
}

func testInvalidKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	bad := []string{"a\x00b", "\x00", "\xff", "caf\xc3", "\xed\xa0\x80"} // NUL, invalid bytes, a truncated rune, a surrogate
	good := &store.Record{Kind: "k", ID: "good", Parent: "p", SortKey: "s", Data: []byte(`{}`)}
	mustUpdate(t, s, func(tx store.Tx) error { return tx.Insert(ctx, good) })
	mustUpdate(t, s, func(tx store.Tx) error {
		for _, b := range bad {
			for field, rec := range map[string]*store.Record{
				"Kind":    {Kind: b, ID: "x", Data: []byte(`{}`)},
				"ID":      {Kind: "k", ID: b, Data: []byte(`{}`)},
				"Parent":  {Kind: "k", ID: "x", Parent: b, Data: []byte(`{}`)},
				"SortKey": {Kind: "k", ID: "x", SortKey: b, Data: []byte(`{}`)},
			} {
				if err := tx.Insert(ctx, rec); !errors.Is(err, store.ErrInvalidKey) {
					t.Errorf("Insert with %s %q = %v, want ErrInvalidKey", field, b, err)
				}
				if rec.Version != 0 {
					t.Errorf("refused Insert set Version %d", rec.Version)
				}
			}
			upd := clone(good)
			upd.SortKey = b
			if err := tx.Update(ctx, upd); !errors.Is(err, store.ErrInvalidKey) {
				t.Errorf("Update to SortKey %q = %v, want ErrInvalidKey", b, err)
			}
			if upd.Version != 1 {
				t.Errorf("refused Update set Version %d", upd.Version)
			}
			upd = clone(good)
			upd.Parent = b
			if err := tx.Update(ctx, upd); !errors.Is(err, store.ErrInvalidKey) {
				t.Errorf("Update to Parent %q = %v, want ErrInvalidKey", b, err)
			}
			// Lookups of a key no record can have find nothing.
			if _, err := tx.Get(ctx, "k", b); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get(%q) = %v, want ErrNotFound", b, err)
			}
			if _, err := tx.Get(ctx, b, "good"); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Get in kind %q = %v, want ErrNotFound", b, err)
			}
			if err := tx.Delete(ctx, "k", b); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("Delete(%q) = %v, want ErrNotFound", b, err)
			}
			for _, q := range []store.Query{{Kind: b, AnyParent: true}, {Kind: "k", Parent: b}} {
				if l, err := tx.List(ctx, q); err != nil || len(l) != 0 {
					t.Errorf("List(%s) = %v, %v; want nothing", describe(q), ids(l), err)
				}
				if n, err := tx.Count(ctx, q); err != nil || n != 0 {
					t.Errorf("Count(%s) = %d, %v; want 0", describe(q), n, err)
				}
			}
			for _, q := range []store.Query{
				{Kind: "k", Parent: "p", After: &store.Cursor{SortKey: b}},
				{Kind: "k", Parent: "p", After: &store.Cursor{SortKey: "s", ID: b}, Reverse: true},
				{Kind: "k", Parent: "p", SortKeyMax: &b},
			} {
				if _, err := tx.List(ctx, q); !errors.Is(err, store.ErrInvalidKey) {
					t.Errorf("List with cursor or bound %q = %v, want ErrInvalidKey", b, err)
				}
			}
		}
		// The transaction is still usable after the refusals.
		return tx.Insert(ctx, &store.Record{Kind: "k", ID: "after-refusals", Data: []byte(`{}`)})
	})
	mustGet(t, s, "k", "after-refusals")
	assertRecord(t, mustGet(t, s, "k", "good"), good)
	mustView(t, s, func(tx store.Tx) error {
		if _, err := tx.Get(ctx, "k", "a\x00b"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get in a View of a NUL key = %v, want ErrNotFound", err)
		}
		return nil
	})

	// Unusual but valid keys round-trip and order bytewise.
	odd := []string{"\x01", "\x7f", "\u00ff", "\uffff", "\U0010FFFF", "tab\there", strings.Repeat("long", 100)}
	mustUpdate(t, s, func(tx store.Tx) error {
		for i, k := range odd {
			rec := &store.Record{Kind: "odd" + k, ID: k, Parent: k, SortKey: k, Data: []byte(fmt.Sprint(i))}
			if err := tx.Insert(ctx, rec); err != nil {
				return err
			}
			if err := tx.Insert(ctx, &store.Record{Kind: "odd", ID: k, SortKey: k, Data: []byte(`{}`)}); err != nil {
				return err
			}
		}
		return nil
	})
	for i, k := range odd {
		got := mustGet(t, s, "odd"+k, k)
		if got.Parent != k || got.SortKey != k || string(got.Data) != fmt.Sprint(i) {
			t.Fatalf("odd key %q: %+v", k, got)
		}
		if l := list(t, s, store.Query{Kind: "odd" + k, Parent: k, SortKeyMax: &k}); len(l) != 1 {
			t.Fatalf("odd key %q not listed: %v", k, ids(l))
		}
	}
	want := slices.Clone(odd)
	slices.Sort(want)
	if got := ids(list(t, s, store.Query{Kind: "odd"})); !slices.Equal(got, want) {
		t.Fatalf("odd keys in order %q, want %q", got, want)
	}
	slices.Reverse(want)
	if got := ids(list(t, s, store.Query{Kind: "odd", Reverse: true})); !slices.Equal(got, want) {
		t.Fatalf("odd keys in reverse order %q, want %q", got, want)
	}
}
