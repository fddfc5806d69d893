package store_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/sqlite"
)

// member is a test document with every kind of reference a domain value has.
type member struct {
	ID      string            `json:"id"`
	Team    string            `json:"team"`
	Email   string            `json:"email,omitempty"`
	Rank    int               `json:"rank"`
	Live    bool              `json:"live"`
	Tags    []string          `json:"tags,omitempty"`
	Attrs   map[string]string `json:"attrs,omitempty"`
	Manager *member           `json:"manager,omitempty"`
	Until   time.Time         `json:"until,omitzero"`
}

func (m *member) Clone() *member {
	c := *m
	c.Tags = slices.Clone(m.Tags)
	c.Attrs = maps.Clone(m.Attrs)
	if m.Manager != nil {
		c.Manager = m.Manager.Clone()
	}
	return &c
}

var errTaken = errors.New("email taken")

func memberDef() store.TableDef[member, *member] {
	return store.TableDef[member, *member]{
		Kind:      "member",
		ID:        func(m *member) string { return m.ID },
		Parent:    func(m *member) string { return m.Team },
		SortKey:   func(m *member) string { return fmt.Sprintf("%04d", m.Rank) },
		Pending:   func(m *member) bool { return m.Live },
		ExpiresAt: func(m *member) time.Time { return m.Until },
		Unique: []store.UniqueKey[*member]{{Name: "email",
			Of: func(m *member) string { return strings.ToLower(m.Email) }}},
	}
}

func openDB(t *testing.T) store.Store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func update(t *testing.T, db store.Store, fn func(ctx context.Context, tx store.Tx) error) error {
	t.Helper()
	ctx := context.Background()
	return db.Update(ctx, func(tx store.Tx) error { return fn(ctx, tx) })
}

func view(t *testing.T, db store.Store, fn func(ctx context.Context, tx store.Tx) error) {
	t.Helper()
	ctx := context.Background()
	if err := db.View(ctx, func(tx store.Tx) error { return fn(ctx, tx) }); err != nil {
		t.Fatal(err)
	}
}

func mustInsert(t *testing.T, db store.Store, tab *store.Table[member, *member], ms ...*member) {
	t.Helper()
	for _, m := range ms {
		if err := update(t, db, func(ctx context.Context, tx store.Tx) error { return tab.Insert(ctx, tx, m) }); err != nil {
			t.Fatalf("Insert %s: %v", m.ID, err)
		}
	}
}

func TestTableRecordLayout(t *testing.T) {
	db := openDB(t)
	tab := store.NewTable(memberDef())
	until := time.Date(2030, 1, 2, 3, 4, 5, 6e6, time.UTC)
	m := &member{ID: "m1", Team: "t1", Email: "Ann@Example.com", Rank: 7, Live: true, Until: until}
	mustInsert(t, db, tab, m)
	view(t, db, func(ctx context.Context, tx store.Tx) error {
		rec, err := tx.Get(ctx, "member", "m1")
		if err != nil {
			return err
		}
		want, _ := json.Marshal(m)
		if rec.Parent != "t1" || rec.SortKey != "0007" || !rec.Pending || !rec.ExpiresAt.Equal(until) ||
			rec.Version != 1 || string(rec.Data) != string(want) {
			t.Errorf("record = %+v (data %s)", rec, rec.Data)
		}
		claim, err := tx.Get(ctx, "member-email", "t1/ann@example.com")
		if err != nil {
			return err
		}
		if claim.Parent != "t1" || claim.SortKey != "m1" || string(claim.Data) != `"m1"` {
			t.Errorf("claim = %+v (data %s)", claim, claim.Data)
		}
		return nil
	})
	// Defaults: no parent, SortKey = ID, not pending, no expiry.
	bare := store.NewTable(store.TableDef[member, *member]{Kind: "bare", ID: func(m *member) string { return m.ID }})
	if err := update(t, db, func(ctx context.Context, tx store.Tx) error { return bare.Insert(ctx, tx, &member{ID: "b"}) }); err != nil {
		t.Fatal(err)
	}
	view(t, db, func(ctx context.Context, tx store.Tx) error {
		rec, err := tx.Get(ctx, "bare", "b")
		if err == nil && (rec.Parent != "" || rec.SortKey != "b" || rec.Pending || !rec.ExpiresAt.IsZero()) {
			t.Errorf("bare record = %+v", rec)
		}
		return err
	})
}

// TestTableHandsOutCopies: whatever a caller does to a value it got, the
// next reader (served from the same cache entry) sees the stored document.
func TestTableHandsOutCopies(t *testing.T) {
	for _, cacheMax := range []int{0, store.NoCache} {
		t.Run(fmt.Sprint("cacheMax=", cacheMax), func(t *testing.T) {
			db := openDB(t)
			def := memberDef()
			def.CacheMax = cacheMax
			tab := store.NewTable(def)
			orig := &member{ID: "m1", Team: "t1", Tags: []string{"a", "b"}, Attrs: map[string]string{"k": "v"},
				Manager: &member{ID: "boss", Tags: []string{"x"}}}
			mustInsert(t, db, tab, orig)
			want := orig.Clone()
			scribble := func(m *member) {
				m.Rank = 99
				m.Tags[0] = "changed"
				m.Attrs["k"] = "changed"
				m.Attrs["new"] = "x"
				m.Manager.Tags[0] = "changed"
				m.Manager.ID = "changed"
			}
			for range 3 {
				view(t, db, func(ctx context.Context, tx store.Tx) error {
					got, _, err := tab.Get(ctx, tx, "m1")
					if err != nil {
						return err
					}
					if !equalMember(got, want) {
						t.Fatalf("Get = %+v, want %+v", got, want)
					}
					scribble(got)
					listed, err := tab.List(ctx, tx, store.Query{Parent: "t1"})
					if err != nil {
						return err
					}
					if len(listed) != 1 || !equalMember(listed[0], want) {
						t.Fatalf("List = %+v, want %+v", listed, want)
					}
					scribble(listed[0])
					page, err := tab.Page(ctx, tx, store.Query{Parent: "t1"}, 10)
					if err != nil {
						return err
					}
					scribble(page.Items[0])
					return nil
				})
			}
		})
	}
}

func equalMember(a, b *member) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return string(ja) == string(jb)
}

func TestTableGetIn(t *testing.T) {
	db := openDB(t)
	tab := store.NewTable(memberDef())
	mustInsert(t, db, tab, &member{ID: "m1", Team: "t1"})
	view(t, db, func(ctx context.Context, tx store.Tx) error {
		if m, v, err := tab.GetIn(ctx, tx, "t1", "m1"); err != nil || m.ID != "m1" || v != 1 {
			t.Errorf("GetIn own parent = %v, %d, %v", m, v, err)
		}
		for _, c := range []struct{ parent, id string }{{"t2", "m1"}, {"t1", "absent"}} {
			if _, _, err := tab.GetIn(ctx, tx, c.parent, c.id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("GetIn(%q, %q) = %v, want ErrNotFound", c.parent, c.id, err)
			}
		}
		if _, _, err := tab.Get(ctx, tx, "absent"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get(absent) = %v", err)
		}
		return nil
	})
}

func TestTableDomainErrors(t *testing.T) {
	db := openDB(t)
	errGone := errors.New("gone")
	errChanged := errors.New("changed")
	def := memberDef()
	def.NotFound = func(id string) error { return fmt.Errorf("%s: %w", id, errGone) }
	def.Conflict = func(id string) error { return fmt.Errorf("%s: %w", id, errChanged) }
	def.Unique[0].Taken = func(*member) error { return errTaken }
	tab := store.NewTable(def)
	mustInsert(t, db, tab, &member{ID: "m1", Team: "t1", Email: "a@x"})
	err := update(t, db, func(ctx context.Context, tx store.Tx) error {
		if _, _, err := tab.GetIn(ctx, tx, "t2", "m1"); !errors.Is(err, errGone) {
			t.Errorf("GetIn other parent = %v", err)
		}
		if err := tab.Delete(ctx, tx, "absent"); !errors.Is(err, errGone) {
			t.Errorf("Delete absent = %v", err)
		}
		if err := tab.Update(ctx, tx, &member{ID: "absent", Team: "t1"}, 1); !errors.Is(err, errGone) {
			t.Errorf("Update absent = %v", err)
		}
		if err := tab.Update(ctx, tx, &member{ID: "m1", Team: "t1", Email: "a@x"}, 7); !errors.Is(err, errChanged) {
			t.Errorf("Update stale = %v", err)
		}
		if err := tab.Insert(ctx, tx, &member{ID: "m2", Team: "t1", Email: "A@X"}); !errors.Is(err, errTaken) {
			t.Errorf("Insert clash = %v", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestTableUniqueKeys(t *testing.T) {
	db := openDB(t)
	tab := store.NewTable(memberDef())
	mustInsert(t, db, tab, &member{ID: "m1", Team: "t1", Email: "a@x"}, &member{ID: "m2", Team: "t1"}, &member{ID: "m3", Team: "t1"})
	// A clash in the same parent, whatever the case; none in another; an
	// empty key claims nothing (m2 and m3 have none).
	err := update(t, db, func(ctx context.Context, tx store.Tx) error {
		return tab.Insert(ctx, tx, &member{ID: "m4", Team: "t1", Email: "A@X"})
	})
	var ue *store.UniqueError
	if !errors.As(err, &ue) || !errors.Is(err, store.ErrExists) || ue.Name != "email" || ue.Owner != "m1" {
		t.Fatalf("clash = %v", err)
	}
	mustInsert(t, db, tab, &member{ID: "m5", Team: "t2", Email: "a@x"})
	if err := update(t, db, func(ctx context.Context, tx store.Tx) error {
		return tab.Insert(ctx, tx, &member{ID: "m1", Team: "t9"})
	}); !errors.Is(err, store.ErrExists) {
		t.Fatalf("duplicate ID = %v", err)
	}
	// The clash left nothing behind: m4 does not exist.
	view(t, db, func(ctx context.Context, tx store.Tx) error {
		if _, _, err := tab.Get(ctx, tx, "m4"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("m4 after clash: %v", err)
		}
		got, _, err := tab.GetBy(ctx, tx, "email", "t1", "a@x")
		if err != nil || got.ID != "m1" {
			t.Errorf("GetBy = %v, %v", got, err)
		}
		if _, _, err := tab.GetBy(ctx, tx, "email", "t3", "a@x"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetBy other parent = %v", err)
		}
		return nil
	})
	// Update moves the key; the old one is free, the new one taken; a
	// value keeping its key updates without touching it.
	err = update(t, db, func(ctx context.Context, tx store.Tx) error {
		m, v, err := tab.Get(ctx, tx, "m1")
		if err != nil {
			return err
		}
		m.Email = "b@x"
		if err := tab.Update(ctx, tx, m, v); err != nil {
			return err
		}
		m2, v2, err := tab.Get(ctx, tx, "m2")
		if err != nil {
			return err
		}
		m2.Email = "B@x"
		if err := tab.Update(ctx, tx, m2, v2); !errors.Is(err, store.ErrExists) {
			t.Errorf("Update onto a taken key = %v", err)
		}
		m.Rank = 3
		return tab.Update(ctx, tx, m, v+1)
	})
	if err != nil {
		t.Fatal(err)
	}
	mustInsert(t, db, tab, &member{ID: "m6", Team: "t1", Email: "a@x"})
	// Delete releases the key.
	if err := update(t, db, func(ctx context.Context, tx store.Tx) error { return tab.Delete(ctx, tx, "m1") }); err != nil {
		t.Fatal(err)
	}
	mustInsert(t, db, tab, &member{ID: "m7", Team: "t1", Email: "b@x"})
	view(t, db, func(ctx context.Context, tx store.Tx) error {
		n, err := tx.Count(ctx, store.Query{Kind: "member-email", AnyParent: true})
		if err == nil && n != 3 { // t1/a@x (m6), t1/b@x (m7), t2/a@x (m5)
			t.Errorf("%d claims, want 3", n)
		}
		return err
	})
}

func TestTableVersions(t *testing.T) {
	for _, unique := range []bool{false, true} {
		t.Run(fmt.Sprint("unique=", unique), func(t *testing.T) {
			db := openDB(t)
			def := memberDef()
			if !unique {
				def.Unique = nil
			}
			tab := store.NewTable(def)
			mustInsert(t, db, tab, &member{ID: "m1", Team: "t1", Email: "a@x"})
			var read *member
			var version int64
			view(t, db, func(ctx context.Context, tx store.Tx) error {
				var err error
				read, version, err = tab.Get(ctx, tx, "m1")
				return err
			})
			write := func(rank int) error {
				return update(t, db, func(ctx context.Context, tx store.Tx) error {
					m := read.Clone()
					m.Rank = rank
					return tab.Update(ctx, tx, m, version)
				})
			}
			if err := write(1); err != nil {
				t.Fatal(err)
			}
			if err := write(2); !errors.Is(err, store.ErrVersion) {
				t.Fatalf("second write at the same version = %v, want ErrVersion", err)
			}
			view(t, db, func(ctx context.Context, tx store.Tx) error {
				m, v, err := tab.Get(ctx, tx, "m1")
				if err == nil && (m.Rank != 1 || v != 2) {
					t.Errorf("after writes: rank %d version %d", m.Rank, v)
				}
				return err
			})
		})
	}
}

func TestTablePage(t *testing.T) {
	db := openDB(t)
	tab := store.NewTable(memberDef())
	for i := range 7 {
		mustInsert(t, db, tab, &member{ID: fmt.Sprintf("m%d", i), Team: "t1", Rank: i, Live: i%2 == 0})
	}
	mustInsert(t, db, tab, &member{ID: "other", Team: "t2"})
	walk := func(q store.Query, limit int) (ids []string, pages int) {
		view(t, db, func(ctx context.Context, tx store.Tx) error {
			for {
				page, err := tab.Page(ctx, tx, q, limit)
				if err != nil {
					return err
				}
				pages++
				if len(page.Items) > limit {
					t.Fatalf("page of %d items, limit %d", len(page.Items), limit)
				}
				for _, m := range page.Items {
					ids = append(ids, m.ID)
				}
				if page.Next == nil {
					return nil
				}
				q.After = page.Next
			}
		})
		return ids, pages
	}
	cases := []struct {
		name  string
		q     store.Query
		limit int
		want  string
		pages int
	}{
		{"all", store.Query{Parent: "t1"}, 3, "m0 m1 m2 m3 m4 m5 m6", 3},
		{"exact multiple", store.Query{Parent: "t1", Limit: 1}, 7, "m0 m1 m2 m3 m4 m5 m6", 1},
		{"pending", store.Query{Parent: "t1", PendingOnly: true}, 2, "m0 m2 m4 m6", 2},
		{"any parent", store.Query{AnyParent: true, Kind: "ignored"}, 100, "m0 other m1 m2 m3 m4 m5 m6", 1},
		{"reverse", store.Query{Parent: "t1", Reverse: true}, 4, "m6 m5 m4 m3 m2 m1 m0", 2},
		{"bounded", store.Query{Parent: "t1", SortKeyMax: ptr("0003"), Reverse: true}, 3, "m3 m2 m1 m0", 2},
	}
	for _, c := range cases {
		ids, pages := walk(c.q, c.limit)
		if got := strings.Join(ids, " "); got != c.want || pages != c.pages {
			t.Errorf("%s: %q in %d pages, want %q in %d", c.name, got, pages, c.want, c.pages)
		}
	}
	view(t, db, func(ctx context.Context, tx store.Tx) error {
		if _, err := tab.Page(ctx, tx, store.Query{Parent: "t1"}, 0); err == nil {
			t.Error("Page with limit 0 succeeded")
		}
		n, err := tab.Count(ctx, tx, store.Query{Parent: "t1", PendingOnly: true})
		if err == nil && n != 4 {
			t.Errorf("Count = %d, want 4", n)
		}
		return err
	})
}

func ptr[T any](v T) *T { return &v }

type memberState struct {
	Rank  int       `json:"rank"`
	Until time.Time `json:"until"`
	Boss  struct {
		ID string `json:"id"`
	} `json:"manager"`
}

func TestProjection(t *testing.T) {
	db := openDB(t)
	tab := store.NewTable(memberDef())
	mustInsert(t, db, tab, &member{ID: "m1", Team: "t1", Rank: 4, Manager: &member{ID: "boss"}}, &member{ID: "m2", Team: "t1", Rank: 5})
	p := store.NewProjection[memberState](tab, nil)
	view(t, db, func(ctx context.Context, tx store.Tx) error {
		st, err := p.GetIn(ctx, tx, "t1", "m1")
		if err != nil || st.Rank != 4 || st.Boss.ID != "boss" {
			t.Errorf("GetIn = %+v, %v", st, err)
		}
		if _, err := p.GetIn(ctx, tx, "t2", "m1"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("GetIn other parent = %v", err)
		}
		all, err := p.List(ctx, tx, store.Query{Parent: "t1"})
		if err != nil || len(all) != 2 || all[1].Rank != 5 {
			t.Errorf("List = %+v, %v", all, err)
		}
		return nil
	})
	// A custom decoder.
	ranks := store.NewProjection[int](tab, func(data []byte) (int, error) {
		var st memberState
		err := json.Unmarshal(data, &st)
		return st.Rank * 10, err
	})
	view(t, db, func(ctx context.Context, tx store.Tx) error {
		r, err := ranks.GetIn(ctx, tx, "t1", "m2")
		if err != nil || r != 50 {
			t.Errorf("rank = %d, %v", r, err)
		}
		return nil
	})
}

func TestProjectionRefusesSharedMemory(t *testing.T) {
	tab := store.NewTable(memberDef())
	type withSlice struct{ A []string }
	type nested struct{ B struct{ M map[string]int } }
	for name, build := range map[string]func(){
		"pointer":   func() { store.NewProjection[*memberState](tab, nil) },
		"slice":     func() { store.NewProjection[withSlice](tab, nil) },
		"nested":    func() { store.NewProjection[nested](tab, nil) },
		"interface": func() { store.NewProjection[any](tab, nil) },
		"array":     func() { store.NewProjection[[2]*int](tab, nil) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: NewProjection did not panic", name)
				}
			}()
			build()
		}()
	}
}

// doc carries its ID only in its record (like a tag set).
type keyless struct {
	Key  string `json:"-"`
	Vals []int  `json:"vals"`
}

func (k *keyless) Clone() *keyless { c := *k; c.Vals = slices.Clone(k.Vals); return &c }

func TestTableFromID(t *testing.T) {
	db := openDB(t)
	tab := store.NewTable(store.TableDef[keyless, *keyless]{Kind: "keyless",
		ID:     func(k *keyless) string { return k.Key },
		FromID: func(id string, k *keyless) { k.Key = id }})
	if err := update(t, db, func(ctx context.Context, tx store.Tx) error {
		return tab.Insert(ctx, tx, &keyless{Key: "arn:x", Vals: []int{1}})
	}); err != nil {
		t.Fatal(err)
	}
	err := update(t, db, func(ctx context.Context, tx store.Tx) error {
		k, v, err := tab.Get(ctx, tx, "arn:x")
		if err != nil {
			return err
		}
		if k.Key != "arn:x" {
			t.Errorf("Key = %q", k.Key)
		}
		k.Vals = append(k.Vals, 2)
		return tab.Update(ctx, tx, k, v)
	})
	if err != nil {
		t.Fatal(err)
	}
	view(t, db, func(ctx context.Context, tx store.Tx) error {
		rec, err := tx.Get(ctx, "keyless", "arn:x")
		if err == nil && string(rec.Data) != `{"vals":[1,2]}` {
			t.Errorf("data = %s", rec.Data)
		}
		return err
	})
}

func TestTableDecodeError(t *testing.T) {
	db := openDB(t)
	tab := store.NewTable(memberDef())
	if err := update(t, db, func(ctx context.Context, tx store.Tx) error {
		return tx.Insert(ctx, &store.Record{Kind: "member", ID: "bad", Parent: "t1", Data: []byte(`{"rank":"x"}`)})
	}); err != nil {
		t.Fatal(err)
	}
	view(t, db, func(ctx context.Context, tx store.Tx) error {
		if _, _, err := tab.Get(ctx, tx, "bad"); err == nil || errors.Is(err, store.ErrNotFound) {
			t.Errorf("Get of a bad document = %v", err)
		}
		if _, err := tab.List(ctx, tx, store.Query{Parent: "t1"}); err == nil {
			t.Error("List of a bad document succeeded")
		}
		return nil
	})
}

func TestNewTableRefusesBadDefinitions(t *testing.T) {
	id := func(m *member) string { return m.ID }
	of := func(m *member) string { return m.Email }
	for name, def := range map[string]store.TableDef[member, *member]{
		"no kind":        {ID: id},
		"no id":          {Kind: "k"},
		"unnamed unique": {Kind: "k", ID: id, Unique: []store.UniqueKey[*member]{{Of: of}}},
		"repeated":       {Kind: "k", ID: id, Unique: []store.UniqueKey[*member]{{Name: "a", Of: of}, {Name: "a", Of: of}}},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("%s: NewTable did not panic", name)
				}
			}()
			store.NewTable(def)
		}()
	}
}
