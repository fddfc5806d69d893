package resource_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/resource"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/sqlite"
	"github.com/openfinspace/openfinspace/internal/tagging"
)

type thing struct {
	Env, Name string
}

func (t *thing) Clone() *thing { c := *t; return &c }

func things() *resource.Scoped[thing, *thing] {
	return resource.NewScoped(resource.Def[thing, *thing]{Kind: "thing", Noun: "thing", ParentNoun: "environment",
		Parent: func(t *thing) string { return t.Env }, Name: func(t *thing) string { return t.Name }})
}

func open(t *testing.T) store.Store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// recorder is a test double of the client tokens and the job engine.
type recorder struct {
	commits int
	woken   []string
	failTok bool
}

func (r *recorder) CommitTx(context.Context, store.Tx) error {
	if r.failTok {
		return errors.New("token store down")
	}
	r.commits++
	return nil
}
func (r *recorder) Wake(kind string) { r.woken = append(r.woken, kind) }

func TestScoped(t *testing.T) {
	db, tab, ctx := open(t), things(), context.Background()
	err := db.Update(ctx, func(tx store.Tx) error {
		for _, n := range []string{"b", "a", "c"} {
			if err := tab.InsertTagged(ctx, tx, &thing{"e1", n}, "arn:"+n, map[string]string{"k": n}); err != nil {
				return err
			}
		}
		return tab.Insert(ctx, tx, &thing{"e2", "a"})
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Update(ctx, func(tx store.Tx) error {
		err := tab.Insert(ctx, tx, &thing{"e1", "a"})
		if fault.KindOf(err) != fault.Conflict || err.Error() != "A thing named a already exists in environment e1." {
			t.Errorf("Insert of a taken name: %v (%v)", err, fault.KindOf(err))
		}
		return nil
	})
	_ = db.View(ctx, func(tx store.Tx) error {
		if v, _, err := tab.Get(ctx, tx, "e2", "a"); err != nil || v.Env != "e2" {
			t.Errorf("Get: %v %+v", err, v)
		}
		_, _, err := tab.Get(ctx, tx, "e2", "b")
		if !errors.Is(err, store.ErrNotFound) || fault.KindOf(err) != fault.NotFound || err.Error() != "The thing b does not exist in environment e2." {
			t.Errorf("Get of a missing name: %v", err)
		}
		page, err := tab.List(ctx, tx, "e1", nil, 2)
		if err != nil || len(page.Items) != 2 || page.Items[0].Name != "a" || page.Items[1].Name != "b" || page.Next == nil {
			t.Errorf("List: %v %+v", err, page)
		}
		var all []string
		if err := tab.Each(ctx, tx, "e1", func(v *thing) error { all = append(all, v.Name); return nil }); err != nil || !slices.Equal(all, []string{"a", "b", "c"}) {
			t.Errorf("Each: %v %v", err, all)
		}
		if rec, err := tx.Get(ctx, tagging.Kind, "arn:b"); err != nil || string(rec.Data) != `{"k":"b"}` {
			t.Errorf("tags written with the value: %v %v", err, rec)
		}
		return nil
	})
	// DeleteTagged inside Each: the value and its tags go.
	err = db.Update(ctx, func(tx store.Tx) error {
		return tab.Each(ctx, tx, "e1", func(v *thing) error { return tab.DeleteTagged(ctx, tx, v, "arn:"+v.Name) })
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.View(ctx, func(tx store.Tx) error {
		if n, err := tab.Count(ctx, tx, store.Query{Parent: "e1"}); err != nil || n != 0 {
			t.Errorf("after DeleteTagged: %d left (%v)", n, err)
		}
		if _, err := tx.Get(ctx, tagging.Kind, "arn:b"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("tags after DeleteTagged: %v", err)
		}
		return nil
	})
}

// TestGone: a tombstone's name is free; Insert replaces it.
func TestGone(t *testing.T) {
	db, ctx := open(t), context.Background()
	tab := resource.NewScoped(resource.Def[thing, *thing]{Kind: "thing", Noun: "thing", ParentNoun: "environment",
		Parent: func(t *thing) string { return t.Env }, Name: func(t *thing) string { return t.Name },
		Gone: func(t *thing) bool { return t.Name == "dead" || t.Env == "tomb" }})
	err := db.Update(ctx, func(tx store.Tx) error {
		if err := tab.Insert(ctx, tx, &thing{"tomb", "x"}); err != nil {
			return err
		}
		if err := tab.Insert(ctx, tx, &thing{"tomb", "x"}); err != nil {
			return fmt.Errorf("insert over a tombstone: %w", err)
		}
		if err := tab.Insert(ctx, tx, &thing{"live", "x"}); err != nil {
			return err
		}
		if err := tab.Insert(ctx, tx, &thing{"live", "x"}); fault.KindOf(err) != fault.Conflict {
			return fmt.Errorf("insert over a live value: %v, want a conflict", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestMutate(t *testing.T) {
	db, tab, ctx := open(t), things(), context.Background()
	rec := &recorder{}
	m := resource.Mutator{DB: db, Tokens: rec, Jobs: rec}
	now := time.Now()
	err := m.Mutate(ctx, func(tx *resource.Tx) error {
		if err := tab.Insert(ctx, tx, &thing{"e1", "a"}); err != nil {
			return err
		}
		for _, id := range []string{"j1", "j2", "j1"} { // j1 twice: kept, not an error
			if err := tx.Enqueue(ctx, now, jobs.Spec{ID: id, Kind: "k1"}); err != nil {
				return err
			}
		}
		return tx.Enqueue(ctx, now, jobs.Spec{ID: "j3", Kind: "k2"})
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec.commits != 1 || !slices.Equal(rec.woken, []string{"k1", "k2"}) {
		t.Errorf("after a committed Mutate: %d token commits, woke %v; want 1 and [k1 k2]", rec.commits, rec.woken)
	}
	// fn fails: nothing is written, nothing woken, the token not marked.
	rec.woken, rec.commits = nil, 0
	err = m.Mutate(ctx, func(tx *resource.Tx) error {
		if err := tx.Enqueue(ctx, now, jobs.Spec{ID: "j4", Kind: "k3"}); err != nil {
			return err
		}
		if err := tab.Insert(ctx, tx, &thing{"e1", "b"}); err != nil {
			return err
		}
		return tab.Insert(ctx, tx, &thing{"e1", "a"}) // taken
	})
	if fault.KindOf(err) != fault.Conflict || rec.commits != 0 || len(rec.woken) != 0 {
		t.Errorf("a failed Mutate: %v, %d token commits, woke %v", err, rec.commits, rec.woken)
	}
	// The token store failing rolls the change back and wakes nothing.
	rec.failTok = true
	err = m.Mutate(ctx, func(tx *resource.Tx) error {
		if err := tab.Insert(ctx, tx, &thing{"e1", "c"}); err != nil {
			return err
		}
		return tx.Enqueue(ctx, now, jobs.Spec{ID: "j5", Kind: "k4"})
	})
	if err == nil || len(rec.woken) != 0 {
		t.Errorf("Mutate with the token store down: %v, woke %v", err, rec.woken)
	}
	_ = db.View(ctx, func(tx store.Tx) error {
		for _, n := range []string{"b", "c"} {
			if _, _, err := tab.Get(ctx, tx, "e1", n); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("%s written by a rolled-back Mutate: %v", n, err)
			}
		}
		for _, id := range []string{"j4", "j5"} {
			if _, err := jobs.GetTx(ctx, tx, id); !errors.Is(err, store.ErrNotFound) {
				t.Errorf("job %s enqueued by a rolled-back Mutate: %v", id, err)
			}
		}
		if _, err := jobs.GetTx(ctx, tx, "j2"); err != nil {
			t.Errorf("job j2 of the committed Mutate: %v", err)
		}
		return nil
	})
}
