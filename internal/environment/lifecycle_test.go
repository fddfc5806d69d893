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
