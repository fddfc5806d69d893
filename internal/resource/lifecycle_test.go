package resource_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/resource"
	"github.com/openfinspace/openfinspace/internal/store"
)

type box struct {
	Env, Name, UID, Status, Reason string
}

func (b *box) Clone() *box { c := *b; return &c }

// TestLifecycle: a step moves a value on; a step that fails every attempt
// ends in the failed status with a reason that carries a domain error's
// message but nothing of any other error; a recreated value's job is not
// run for the old one.
func TestLifecycle(t *testing.T) {
	db, ctx := open(t), context.Background()
	boxes := resource.NewScoped(resource.Def[box, *box]{Kind: "box", Noun: "box", ParentNoun: "environment",
		Parent: func(b *box) string { return b.Env }, Name: func(b *box) string { return b.Name },
		Pending: func(b *box) bool { return b.Status == "CREATING" }})
	lc := &resource.Lifecycle[box, *box]{Kind: "box", Table: boxes, Delay: time.Millisecond, MaxAttempts: 2,
		UID: func(b *box) string { return b.UID },
		Phase: func(b *box) string {
			if b.Status == "CREATING" {
				return b.Status
			}
			return ""
		},
		Next: func(ctx context.Context, tx store.Tx, b *box, version int64) (bool, error) {
			switch b.Name {
			case "internal":
				return false, errors.New("open /var/lib/secret/box: permission denied (127.0.0.1:5432)")
			case "domain":
				return false, fault.Invalidf("The box is too big.")
			}
			b.Status = "ACTIVE"
			return false, boxes.Update(ctx, tx, b, version)
		},
		Failed: func(ctx context.Context, tx store.Tx, b *box, version int64, reason string) error {
			b.Status, b.Reason = "CREATE_FAILED", reason
			return boxes.Update(ctx, tx, b, version)
		}}
	kind := lc.JobKind()
	kind.Backoff = func(int) time.Duration { return time.Millisecond }
	engine, err := jobs.New(jobs.Config{Store: db, Exclusive: true, Poll: 10 * time.Millisecond}, kind)
	if err != nil {
		t.Fatal(err)
	}
	m := resource.Mutator{DB: db, Jobs: engine}
	for _, name := range []string{"ok", "internal", "domain"} {
		if err := m.Mutate(ctx, func(tx *resource.Tx) error {
			b := &box{Env: "e", Name: name, UID: "u1", Status: "CREATING"}
			if err := boxes.Insert(ctx, tx, b); err != nil {
				return err
			}
			return lc.EnqueueTx(ctx, tx, b)
		}); err != nil {
			t.Fatal(err)
		}
	}
	engine.Start(ctx)
	defer engine.Stop()
	want := map[string][2]string{"ok": {"ACTIVE", ""}, "internal": {"CREATE_FAILED", "an internal error occurred"},
		"domain": {"CREATE_FAILED", "The box is too big."}}
	deadline := time.Now().Add(20 * time.Second)
	for name, w := range want {
		for {
			var b *box
			if err := db.View(ctx, func(tx store.Tx) error { var err error; b, _, err = boxes.Get(ctx, tx, "e", name); return err }); err != nil {
				t.Fatal(err)
			}
			if b.Status == w[0] {
				if b.Reason != w[1] || strings.Contains(b.Reason, "/var/lib") || strings.Contains(b.Reason, "5432") {
					t.Errorf("%s: reason %q, want %q", name, b.Reason, w[1])
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: status %s, want %s", name, b.Status, w[0])
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	// Resume enqueues nothing new for values no longer in flight, and a
	// value recreated under a new UID gets a job of its own.
	if err := m.Mutate(ctx, func(tx *resource.Tx) error {
		b, version, err := boxes.Get(ctx, tx, "e", "ok")
		if err != nil {
			return err
		}
		b.UID, b.Status = "u2", "CREATING"
		return boxes.Update(ctx, tx, b, version)
	}); err != nil {
		t.Fatal(err)
	}
	if err := lc.Resume(ctx, m); err != nil {
		t.Fatal(err)
	}
	for {
		var b *box
		_ = db.View(ctx, func(tx store.Tx) error { var err error; b, _, err = boxes.Get(ctx, tx, "e", "ok"); return err })
		if b.Status == "ACTIVE" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("recreated value resumed: status %s", b.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
