package environment_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/openfinspace/openfinspace/internal/environment"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/sqlite"
	"github.com/openfinspace/openfinspace/internal/tagging"
)

const step = time.Minute

// lifecycle is a real SQLite store, job engine and environment service in a
// synctest bubble: their clocks and timers are the bubble's fake time, which
// moves only when every goroutine in it waits.
type lifecycle struct {
	db      store.Store
	envs    *environment.Service
	engine  *jobs.Engine
	created []string // environments the OnCreated hook saw
}

func newLifecycle(t *testing.T) *lifecycle {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	engine, err := jobs.New(jobs.Config{Store: db, Exclusive: true})
	if err != nil {
		t.Fatal(err)
	}
	l := &lifecycle{db: db, engine: engine}
	l.envs = environment.New(environment.Config{Store: db, Jobs: engine, Account: "000000000000", StepDelay: step})
	l.envs.OnCreated(func(_ context.Context, _ store.Tx, env *environment.Environment) error {
		l.created = append(l.created, env.ID)
		return nil
	})
	if err := engine.Register(l.envs.JobKind()); err != nil {
		t.Fatal(err)
	}
	engine.Start(ctx)
	// Stopped inside the bubble: its goroutines must end before it does.
	t.Cleanup(func() {
		engine.Stop()
		db.Close()
	})
	return l
}

// statusAfter lets fake time pass by d, waits until the engine has done what
// became due, and returns environment id's status.
func (l *lifecycle) statusAfter(t *testing.T, d time.Duration, id string) environment.Status {
	t.Helper()
	time.Sleep(d)
	synctest.Wait()
	env, err := l.envs.Get(context.Background(), "us-east-1", id)
	if err != nil {
		t.Fatal(err)
	}
	return env.Status
}

// TestLifecycleSteps: each status step happens exactly one StepDelay after
// the previous one, not a nanosecond earlier; the CREATED hook runs once;
// deletion removes the tags. Under testing/synctest nothing sleeps for real.
func TestLifecycleSteps(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLifecycle(t)
		ctx := context.Background()
		env, err := l.envs.Create(ctx, "us-east-1", environment.CreateInput{Name: "e", Tags: map[string]string{"team": "quant"}})
		if err != nil {
			t.Fatal(err)
		}
		for _, want := range []struct {
			after time.Duration
			st    environment.Status
		}{
			{0, environment.CreateRequested},
			{step - time.Nanosecond, environment.CreateRequested},
			{time.Nanosecond, environment.Creating},
			{step - time.Nanosecond, environment.Creating},
			{time.Nanosecond, environment.Created},
			{10 * step, environment.Created},
		} {
			if st := l.statusAfter(t, want.after, env.ID); st != want.st {
				t.Fatalf("status %s, want %s", st, want.st)
			}
		}
		if len(l.created) != 1 || l.created[0] != env.ID {
			t.Fatalf("OnCreated saw %v, want [%s]", l.created, env.ID)
		}

		if err := l.envs.Delete(ctx, "us-east-1", env.ID); err != nil {
			t.Fatal(err)
		}
		for _, want := range []struct {
			after time.Duration
			st    environment.Status
		}{
			{0, environment.DeleteRequested},
			{step, environment.Deleting},
			{step, environment.Deleted},
		} {
			if st := l.statusAfter(t, want.after, env.ID); st != want.st {
				t.Fatalf("status %s, want %s", st, want.st)
			}
		}
		err = l.db.View(ctx, func(tx store.Tx) error {
			_, err := tx.Get(ctx, tagging.Kind, env.ARN)
			return err
		})
		if !errors.Is(err, store.ErrNotFound) {
			t.Errorf("tags of a deleted environment: %v, want none", err)
		}
	})
}

// TestDeleteDuringCreation: deleting an environment mid-creation cancels
// the creation phase: it never becomes CREATED, and its hook never runs.
func TestDeleteDuringCreation(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newLifecycle(t)
		ctx := context.Background()
		env, err := l.envs.Create(ctx, "us-east-1", environment.CreateInput{Name: "e"})
		if err != nil {
			t.Fatal(err)
		}
		if st := l.statusAfter(t, step, env.ID); st != environment.Creating {
			t.Fatalf("status %s, want CREATING", st)
		}
		if err := l.envs.Delete(ctx, "us-east-1", env.ID); err != nil {
			t.Fatal(err)
		}
		for _, want := range []environment.Status{environment.Deleting, environment.Deleted, environment.Deleted} {
			if st := l.statusAfter(t, step, env.ID); st != want {
				t.Fatalf("status %s, want %s", st, want)
			}
		}
		if len(l.created) != 0 {
			t.Errorf("OnCreated ran for an environment deleted mid-creation: %v", l.created)
		}
	})
}

// failingDeletes makes every deletion of a record of one kind fail: a
// step that needs one fails every attempt.
type failingDeletes struct {
	store.Store
	kind string
}

func (f failingDeletes) Update(ctx context.Context, fn func(store.Tx) error) error {
	return f.Store.Update(ctx, func(tx store.Tx) error { return fn(failingDeleteTx{tx, f.kind}) })
}

type failingDeleteTx struct {
	store.Tx
	kind string
}

func (t failingDeleteTx) Delete(ctx context.Context, kind, id string) error {
	if kind == t.kind {
		return errors.New("disk on fire at /var/lib/secret")
	}
	return t.Tx.Delete(ctx, kind, id)
}

// runFor lets fake time pass in steps (so the engine's backoffs elapse).
func runFor(d time.Duration) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		time.Sleep(time.Minute)
		synctest.Wait()
	}
}

// TestCreationFailsForGood: a creation step that fails every attempt ends
// the environment FAILED_CREATION (not CREATING for ever); it can still be
// deleted.
func TestCreationFailsForGood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "m.db"))
		if err != nil {
			t.Fatal(err)
		}
		engine, err := jobs.New(jobs.Config{Store: db, Exclusive: true, Poll: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		envs := environment.New(environment.Config{Store: db, Jobs: engine, Account: "000000000000", StepDelay: step})
		hooks := 0
		envs.OnCreated(func(context.Context, store.Tx, *environment.Environment) error {
			hooks++
			return errors.New("the superuser cannot be made")
		})
		if err := engine.Register(envs.JobKind()); err != nil {
			t.Fatal(err)
		}
		engine.Start(ctx)
		defer func() { engine.Stop(); db.Close() }()
		env, err := envs.Create(ctx, "us-east-1", environment.CreateInput{Name: "e"})
		if err != nil {
			t.Fatal(err)
		}
		runFor(2 * time.Hour) // ten attempts, backoff up to 5 min
		got, err := envs.Get(ctx, "us-east-1", env.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != environment.FailedCreation || hooks != 10 {
			t.Fatalf("status %s after %d attempts, want FAILED_CREATION after the kind's 10", got.Status, hooks)
		}
		// A failed environment can be deleted.
		if err := envs.Delete(ctx, "us-east-1", env.ID); err != nil {
			t.Fatal(err)
		}
		runFor(10 * time.Minute)
		if got, _ := envs.Get(ctx, "us-east-1", env.ID); got.Status != environment.Deleted {
			t.Fatalf("status %s after deleting a FAILED_CREATION environment", got.Status)
		}
	})
}

// TestDeletionFailsForGood: a deletion step that fails every attempt ends
// FAILED_DELETION; deleting again starts a new deletion phase.
func TestDeletionFailsForGood(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		sq, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "m.db"))
		if err != nil {
			t.Fatal(err)
		}
		db := failingDeletes{Store: sq, kind: tagging.Kind}
		engine, err := jobs.New(jobs.Config{Store: db, Exclusive: true, Poll: time.Minute})
		if err != nil {
			t.Fatal(err)
		}
		envs := environment.New(environment.Config{Store: db, Jobs: engine, Account: "000000000000", StepDelay: step})
		if err := engine.Register(envs.JobKind()); err != nil {
			t.Fatal(err)
		}
		engine.Start(ctx)
		defer func() { engine.Stop(); sq.Close() }()
		env, err := envs.Create(ctx, "us-east-1", environment.CreateInput{Name: "e", Tags: map[string]string{"a": "b"}})
		if err != nil {
			t.Fatal(err)
		}
		runFor(5 * time.Minute)
		if err := envs.Delete(ctx, "us-east-1", env.ID); err != nil {
			t.Fatal(err)
		}
		runFor(2 * time.Hour)
		got, err := envs.Get(ctx, "us-east-1", env.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status != environment.FailedDeletion {
			t.Fatalf("status %s, want FAILED_DELETION", got.Status)
		}
		if err := envs.Delete(ctx, "us-east-1", env.ID); err != nil {
			t.Fatalf("deleting a FAILED_DELETION environment again: %v", err)
		}
		if st := func() environment.Status {
			runFor(2 * time.Minute)
			g, _ := envs.Get(ctx, "us-east-1", env.ID)
			return g.Status
		}(); st != environment.Deleting {
			t.Fatalf("status %s after deleting again, want a new deletion phase (DELETING)", st)
		}
	})
}
