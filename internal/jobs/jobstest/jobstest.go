// Package jobstest is the job engine's contract suite, run against every
// store implementation (SQLite always, PostgreSQL when configured): bounds
// under load, lease expiry and takeover, cancel, backoff then terminal
// failure, restart resumption order, every job running once when several
// engines (processes) share a store, signals (same process and across),
// exclusive and shared keys under contention, periodic jobs, OnFailed of a
// lifecycle, and an idle engine writing nothing.
package jobstest

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/store"
)

// Opener returns n handles on one fresh database: the same Store n times
// for an implementation that admits one handle per database (SQLite), n
// separate Stores for one that serves several processes (PostgreSQL).
// exclusive says which.
type Opener func(t *testing.T, n int) (stores []store.Store, exclusive bool)

// Run runs the suite.
func Run(t *testing.T, open Opener) {
	for _, tc := range []struct {
		name string
		fn   func(*testing.T, Opener)
	}{
		{"RunsOnceAndCommits", testRunsOnce},
		{"WorkerBound", testWorkerBound},
		{"PerKeyBoundFIFO", testPerKey},
		{"BackoffThenTerminalFailure", testTerminalFailure},
		{"PermanentFailsAtOnce", testPermanent},
		{"Cancel", testCancel},
		{"LeaseExpiryTakeover", testTakeover},
		{"ExclusiveRestartTakesOver", testExclusiveRestart},
		{"RestartResumesInDueOrder", testResumeOrder},
		{"AgainReschedules", testAgain},
		{"Progress", testProgress},
		{"TwoEnginesContention", testContention},
		{"StopAfterBurst", testStopAfterBurst},
		{"DoneAfterCommit", testDoneAfterCommit},
		{"SignalSameProcess", testSignalLocal},
		{"SignalCrossProcess", testSignalRemote},
		{"ExclusiveKeysTwoEngines", testExclusive},
		{"ExclusiveKeyOrderAcrossRetries", testExclusiveOrder},
		{"SharedVersusExclusive", testShared},
		{"PeriodicOncePerPeriod", testPeriodic},
		{"LifecycleOnFailed", testLifecycleOnFailed},
		{"IdleWritesNothing", testIdle},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open) })
	}
}

const (
	poll  = 5 * time.Millisecond
	lease = 300 * time.Millisecond
)

func engine(t *testing.T, db store.Store, exclusive bool, owner string, kinds ...*jobs.Kind) *jobs.Engine {
	t.Helper()
	e, err := jobs.New(jobs.Config{Store: db, Owner: owner, Exclusive: exclusive, Poll: poll}, kinds...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func enqueue(t *testing.T, db store.Store, specs ...jobs.Spec) {
	t.Helper()
	err := db.Update(context.Background(), func(tx store.Tx) error {
		for _, s := range specs {
			if err := jobs.EnqueueTx(context.Background(), tx, time.Now(), s); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// waitState waits until every job id is in state want.
func waitState(t *testing.T, db store.Store, want jobs.State, ids ...string) []*jobs.Job {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var out []*jobs.Job
		all := true
		err := db.View(context.Background(), func(tx store.Tx) error {
			out = out[:0]
			for _, id := range ids {
				j, err := jobs.GetTx(context.Background(), tx, id)
				if err != nil {
					return err
				}
				out = append(out, j)
				if j.State != want {
					all = false
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if all {
			return out
		}
		if time.Now().After(deadline) {
			for _, j := range out {
				t.Logf("job %s: %s attempt %d error %q", j.ID, j.State, j.Attempt, j.Error)
			}
			t.Fatalf("jobs did not all reach %s", want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func ids(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("%s-%03d", prefix, i)
	}
	return out
}

// effects counts committed side effects per job id, in the store itself
// (a record per commit), so a double commit cannot hide.
func commitEffect(id string) func(ctx context.Context, tx store.Tx) error {
	return func(ctx context.Context, tx store.Tx) error {
		return tx.Insert(ctx, &store.Record{Kind: "effect", ID: id, SortKey: id, Data: []byte(`{}`)})
	}
}

func countEffects(t *testing.T, db store.Store) int {
	t.Helper()
	n := 0
	err := db.View(context.Background(), func(tx store.Tx) error {
		recs, err := tx.List(context.Background(), store.Query{Kind: "effect", AnyParent: true})
		n = len(recs)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func testRunsOnce(t *testing.T, open Opener) {
	stores, excl := open(t, 1)
	db := stores[0]
	var runs atomic.Int64
	k := &jobs.Kind{Name: "once", Workers: 4, Handler: jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
		runs.Add(1)
		var args struct{ N int }
		if err := r.Args(&args); err != nil {
			return jobs.Result{}, jobs.Permanent(err)
		}
		return jobs.Result{Commit: commitEffect(r.Job.ID)}, nil
	})}
	e := engine(t, db, excl, "a", k)
	e.Start(context.Background())
	defer e.Stop()
	list := ids("once", 30)
	for i, id := range list {
		enqueue(t, db, jobs.Spec{ID: id, Kind: "once", Args: map[string]int{"N": i}})
	}
	e.Wake("once")
	done := waitState(t, db, jobs.Done, list...)
	if got := runs.Load(); got != 30 {
		t.Errorf("%d runs for 30 jobs", got)
	}
	if n := countEffects(t, db); n != 30 {
		t.Errorf("%d effects committed for 30 jobs", n)
	}
	for _, j := range done {
		if j.Attempt != 1 || j.Finished.IsZero() {
			t.Errorf("job %s: attempt %d finished %v", j.ID, j.Attempt, j.Finished)
		}
	}
	// An ID is a job's identity.
	err := db.Update(context.Background(), func(tx store.Tx) error {
		return jobs.EnqueueTx(context.Background(), tx, time.Now(), jobs.Spec{ID: list[0], Kind: "once"})
	})
	if !errors.Is(err, store.ErrExists) {
		t.Errorf("enqueue of an existing id: %v, want ErrExists", err)
	}
}

// gauge measures the maximum of a concurrently running count.
type gauge struct {
	mu       sync.Mutex
	cur, max int
	byKey    map[string]int
	maxByKey map[string]int
}

func (g *gauge) enter(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cur++
	g.max = max(g.max, g.cur)
	if g.byKey == nil {
		g.byKey, g.maxByKey = map[string]int{}, map[string]int{}
	}
	g.byKey[key]++
	g.maxByKey[key] = max(g.maxByKey[key], g.byKey[key])
}

func (g *gauge) leave(key string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.cur--
	g.byKey[key]--
}

func testWorkerBound(t *testing.T, open Opener) {
	stores, excl := open(t, 1)
	db := stores[0]
	var g gauge
	k := &jobs.Kind{Name: "bound", Workers: 3, Handler: jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
		g.enter("")
		defer g.leave("")
		time.Sleep(10 * time.Millisecond)
		return jobs.Result{}, nil
	})}
	list := ids("bound", 24)
	for _, id := range list {
		enqueue(t, db, jobs.Spec{ID: id, Kind: "bound"})
	}
	e := engine(t, db, excl, "a", k)
	e.Start(context.Background())
	defer e.Stop()
	waitState(t, db, jobs.Done, list...)
	if g.max != 3 {
		t.Errorf("at most %d jobs ran at once, want exactly the bound 3", g.max)
	}
}

func testPerKey(t *testing.T, open Opener) {
	stores, excl := open(t, 1)
	db := stores[0]
	var g gauge
	var mu sync.Mutex
	started := map[string][]string{}
	k := &jobs.Kind{Name: "perkey", Workers: 8, PerKey: 2, Handler: jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
		g.enter(r.Job.Key)
		defer g.leave(r.Job.Key)
		mu.Lock()
		started[r.Job.Key] = append(started[r.Job.Key], r.Job.ID)
		mu.Unlock()
		time.Sleep(15 * time.Millisecond)
		return jobs.Result{}, nil
	})}
	var list []string
	base := time.Now().Add(-time.Minute)
	for i := range 24 {
		key := []string{"env-a", "env-b", "env-c"}[i%3]
		id := fmt.Sprintf("pk-%s-%02d", key, i)
		list = append(list, id)
		// Due times in enqueue order: FIFO per key follows them.
		enqueue(t, db, jobs.Spec{ID: id, Kind: "perkey", Key: key, Due: base.Add(time.Duration(i) * time.Millisecond)})
	}
	e := engine(t, db, excl, "a", k)
	e.Start(context.Background())
	defer e.Stop()
	waitState(t, db, jobs.Done, list...)
	for key, m := range g.maxByKey {
		if m > 2 {
			t.Errorf("key %s: %d jobs ran at once, bound 2", key, m)
		}
	}
	if g.max > 6 {
		t.Errorf("%d jobs ran at once; three keys of 2 allow 6", g.max)
	}
	// FIFO per key: jobs are claimed in due order; the ones claimed
	// together (up to the bound) may enter their handlers in any order, so
	// none starts more than PerKey-1 places before its turn.
	for key, order := range started {
		sorted := append([]string(nil), order...)
		sort.Strings(sorted)
		for p, id := range order {
			if rank := sort.SearchStrings(sorted, id); rank-p > 1 {
				t.Errorf("key %s: %s started at %d, its turn is %d: %v", key, id, p, rank, order)
			}
		}
	}
	// The slot records are gone once nothing runs.
	_ = db.View(context.Background(), func(tx store.Tx) error {
		recs, _ := tx.List(context.Background(), store.Query{Kind: jobs.SlotKind, AnyParent: true})
		if len(recs) != 0 {
			t.Errorf("%d slot records left", len(recs))
		}
		return nil
	})
}

func testTerminalFailure(t *testing.T, open Opener) {
	stores, excl := open(t, 1)
	db := stores[0]
	var attempts atomic.Int64
	var failedHook atomic.Int64
	var gaps []time.Duration
	var last time.Time
	var mu sync.Mutex
	k := &jobs.Kind{Name: "failing", MaxAttempts: 3,
		Backoff: func(n int) time.Duration { return time.Duration(n) * 20 * time.Millisecond },
		Handler: jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
			mu.Lock()
			if !last.IsZero() {
				gaps = append(gaps, time.Since(last))
			}
			last = time.Now()
			mu.Unlock()
			attempts.Add(1)
			return jobs.Result{Commit: commitEffect(r.Job.ID)}, fault.Invalidf("source s3://b/k line 7: bad value")
		}),
		OnFailed: func(ctx context.Context, tx store.Tx, j *jobs.Job, cause error) error {
			failedHook.Add(1)
			return tx.Insert(ctx, &store.Record{Kind: "failure", ID: j.ID, SortKey: j.ID, Data: []byte(`{}`)})
		}}
	e := engine(t, db, excl, "a", k)
	e.Start(context.Background())
	defer e.Stop()
	enqueue(t, db, jobs.Spec{ID: "f1", Kind: "failing"})
	e.Wake("failing")
	j := waitState(t, db, jobs.Failed, "f1")[0]
	if j.Attempt != 3 || attempts.Load() != 3 || failedHook.Load() != 1 {
		t.Errorf("attempt %d, %d runs, OnFailed %d times; want 3, 3, 1", j.Attempt, attempts.Load(), failedHook.Load())
	}
	if j.Error != "source s3://b/k line 7: bad value" {
		t.Errorf("error %q", j.Error)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(gaps) != 2 || gaps[0] < 20*time.Millisecond || gaps[1] < 40*time.Millisecond {
		t.Errorf("gaps between attempts %v, want ≥ 20 ms then ≥ 40 ms", gaps)
	}
	if n := countEffects(t, db); n != 0 {
		t.Errorf("a failed attempt committed %d effects", n)
	}
	// Nothing retries a failed job: it stays failed.
	time.Sleep(50 * time.Millisecond)
	if attempts.Load() != 3 {
		t.Errorf("%d runs after the terminal failure", attempts.Load())
	}
}

func testPermanent(t *testing.T, open Opener) {
	stores, excl := open(t, 1)
	db := stores[0]
	var attempts atomic.Int64
	k := &jobs.Kind{Name: "perm", MaxAttempts: 5, Handler: jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
		attempts.Add(1)
		return jobs.Result{}, jobs.Permanent(errors.New("internal detail /secret/path"))
	})}
	e := engine(t, db, excl, "a", k)
	e.Start(context.Background())
	defer e.Stop()
	enqueue(t, db, jobs.Spec{ID: "p1", Kind: "perm"})
	e.Wake("perm")
	j := waitState(t, db, jobs.Failed, "p1")[0]
	if attempts.Load() != 1 || j.Attempt != 1 {
		t.Errorf("%d attempts of a permanent failure", attempts.Load())
	}
	if j.Error != "internal error" {
		t.Errorf("stored error %q: an internal cause must not be stored for clients", j.Error)
	}
}

func testCancel(t *testing.T, open Opener) {
	stores, excl := open(t, 1)
	db := stores[0]
	started := make(chan struct{}, 2)
	var cause atomic.Value
	var cancelledHook atomic.Int64
	k := &jobs.Kind{Name: "cancel", Handler: jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
		started <- struct{}{}
		<-ctx.Done()
		cause.Store(context.Cause(ctx))
		return jobs.Result{Commit: commitEffect(r.Job.ID)}, nil
	}), OnCancelled: func(ctx context.Context, tx store.Tx, j *jobs.Job) error {
		cancelledHook.Add(1)
		return nil
	}}
	e := engine(t, db, excl, "a", k)
	e.Start(context.Background())
	defer e.Stop()
	enqueue(t, db, jobs.Spec{ID: "c1", Kind: "cancel"}, jobs.Spec{ID: "c2", Kind: "cancel", Due: time.Now().Add(time.Hour)})
	e.Wake("cancel")
	<-started
	if err := e.Cancel(context.Background(), "c1"); err != nil {
		t.Fatal(err)
	}
	// A queued job is cancelled before it starts.
	if err := e.Cancel(context.Background(), "c2"); err != nil {
		t.Fatal(err)
	}
	waitState(t, db, jobs.Cancelled, "c1", "c2")
	deadline := time.Now().Add(5 * time.Second)
	for cause.Load() == nil && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if c, _ := cause.Load().(error); !errors.Is(c, jobs.ErrCancelled) {
		t.Errorf("the run's context ended with %v, want ErrCancelled", c)
	}
	if n := countEffects(t, db); n != 0 {
		t.Errorf("a cancelled run committed %d effects", n)
	}
	if cancelledHook.Load() != 2 {
		t.Errorf("OnCancelled ran %d times, want 2", cancelledHook.Load())
	}
	if err := e.Cancel(context.Background(), "c1"); err != nil {
		t.Errorf("cancelling a cancelled job: %v", err)
	}
}

// testTakeover: engine A's process "dies" mid-job (its engine stops
// without recording an outcome, leaving the lease); engine B claims the
// job only after the lease lapsed, and finishes it once.
func testTakeover(t *testing.T, open Opener) {
	stores, _ := open(t, 2)
	var effects atomic.Int64
	block := make(chan struct{})
	started := make(chan string, 4)
	kind := func(owner string) *jobs.Kind {
		return &jobs.Kind{Name: "take", Lease: lease, Handler: jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
			started <- owner
			if owner == "a" {
				<-ctx.Done() // never finishes in A
				return jobs.Result{}, ctx.Err()
			}
			select {
			case <-block:
			case <-ctx.Done():
				return jobs.Result{}, ctx.Err()
			}
			return jobs.Result{Commit: func(ctx context.Context, tx store.Tx) error {
				effects.Add(1)
				return commitEffect(r.Job.ID)(ctx, tx)
			}}, nil
		})}
	}
	a := engine(t, stores[0], false, "a", kind("a"))
	a.Start(context.Background())
	enqueue(t, stores[0], jobs.Spec{ID: "t1", Kind: "take"})
	a.Wake("take")
	if got := <-started; got != "a" {
		t.Fatalf("first run by %s", got)
	}
	a.Stop() // the process dies: the lease stays until it lapses
	stopped := time.Now()
	b := engine(t, stores[1], false, "b", kind("b"))
	b.Start(context.Background())
	defer b.Stop()
	if got := <-started; got != "b" {
		t.Fatalf("second run by %s", got)
	}
	if waited := time.Since(stopped); waited < lease/2 {
		t.Errorf("B claimed the job %v after A stopped; its lease (%v) had not lapsed", waited, lease)
	}
	close(block)
	j := waitState(t, stores[1], jobs.Done, "t1")[0]
	if j.Attempt != 2 || effects.Load() != 1 || countEffects(t, stores[1]) != 1 {
		t.Errorf("attempt %d, %d commits", j.Attempt, effects.Load())
	}
}

// testExclusiveRestart: on an exclusive store a new engine (the process
// restarted) takes a dead engine's lease over at once.
func testExclusiveRestart(t *testing.T, open Opener) {
	stores, excl := open(t, 1)
	if !excl {
		t.Skip("only for stores one process uses at a time")
	}
	db := stores[0]
	started := make(chan string, 4)
	kind := func(owner string) *jobs.Kind {
		return &jobs.Kind{Name: "restart", Lease: time.Hour, Handler: jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
			started <- owner
			if owner == "first" {
				<-ctx.Done()
				return jobs.Result{}, ctx.Err()
			}
			return jobs.Result{Commit: commitEffect(r.Job.ID)}, nil
		})}
	}
	a := engine(t, db, true, "first", kind("first"))
	a.Start(context.Background())
	enqueue(t, db, jobs.Spec{ID: "r1", Kind: "restart"})
	a.Wake("restart")
	<-started
	a.Stop()
	b := engine(t, db, true, "second", kind("second"))
	b.Start(context.Background())
	defer b.Stop()
	select {
	case got := <-started:
		if got != "second" {
			t.Fatalf("run by %s", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the restarted engine did not take the hour-long lease over")
	}
	waitState(t, db, jobs.Done, "r1")
}

func testResumeOrder(t *testing.T, open Opener) {
	stores, excl := open(t, 1)
	db := stores[0]
	var mu sync.Mutex
	var order []string
	k := &jobs.Kind{Name: "order", Workers: 1, Handler: jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
		mu.Lock()
		order = append(order, r.Job.ID)
		mu.Unlock()
		return jobs.Result{}, nil
	})}
	// Enqueued in shuffled order with due times in the past: a restart
	// finds them all due.
	base := time.Now().Add(-time.Hour)
	perm := []int{7, 2, 9, 0, 4, 1, 8, 3, 6, 5}
	var list []string
	for _, i := range perm {
		id := fmt.Sprintf("o-%d", i)
		list = append(list, id)
		enqueue(t, db, jobs.Spec{ID: id, Kind: "order", Due: base.Add(time.Duration(i) * time.Second)})
	}
	e := engine(t, db, excl, "a", k)
	e.Start(context.Background())
	defer e.Stop()
	waitState(t, db, jobs.Done, list...)
	mu.Lock()
	defer mu.Unlock()
	for i, id := range order {
		if id != fmt.Sprintf("o-%d", i) {
			t.Fatalf("resumed in order %v, want due order", order)
		}
	}
}

func testAgain(t *testing.T, open Opener) {
	stores, excl := open(t, 1)
	db := stores[0]
	var steps atomic.Int64
	k := &jobs.Kind{Name: "again", Handler: jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
		n := steps.Add(1)
		res := jobs.Result{Commit: commitEffect(fmt.Sprintf("%s-step-%d", r.Job.ID, n))}
		if n < 3 {
			res.Again = 10 * time.Millisecond
		}
		return res, nil
	})}
	e := engine(t, db, excl, "a", k)
	e.Start(context.Background())
	defer e.Stop()
	enqueue(t, db, jobs.Spec{ID: "g1", Kind: "again"})
	e.Wake("again")
	j := waitState(t, db, jobs.Done, "g1")[0]
	if steps.Load() != 3 || countEffects(t, db) != 3 || j.Attempt != 1 {
		t.Errorf("%d steps, %d effects, attempt %d", steps.Load(), countEffects(t, db), j.Attempt)
	}
}

func testProgress(t *testing.T, open Opener) {
	stores, excl := open(t, 1)
	db := stores[0]
	release := make(chan struct{})
	k := &jobs.Kind{Name: "progress", Lease: 60 * time.Millisecond, Handler: jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
		_ = r.Report(map[string]int{"rows": 500})
		<-release
		_ = r.Report(map[string]int{"rows": 1000})
		return jobs.Result{}, nil
	})}
	e := engine(t, db, excl, "a", k)
	e.Start(context.Background())
	defer e.Stop()
	enqueue(t, db, jobs.Spec{ID: "pr1", Kind: "progress"})
	e.Wake("progress")
	deadline := time.Now().Add(5 * time.Second)
	for {
		j, err := e.Get(context.Background(), "pr1")
		if err != nil {
			t.Fatal(err)
		}
		if string(j.Progress) == `{"rows":500}` {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("progress while running: %s", j.Progress)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(release)
	j := waitState(t, db, jobs.Done, "pr1")[0]
	if string(j.Progress) != `{"rows":1000}` {
		t.Errorf("final progress %s", j.Progress)
	}
}

// testContention: two engines share the store under load; every job runs
// to completion exactly once (counted by committed effects and by runs),
// and the per-key bound holds across both.
func testContention(t *testing.T, open Opener) {
	stores, _ := open(t, 2)
	var g gauge
	var runs sync.Map
	mk := func() *jobs.Kind {
		return &jobs.Kind{Name: "contend", Workers: 6, PerKey: 3, Handler: jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
			g.enter(r.Job.Key)
			defer g.leave(r.Job.Key)
			n, _ := runs.LoadOrStore(r.Job.ID, new(atomic.Int64))
			n.(*atomic.Int64).Add(1)
			time.Sleep(2 * time.Millisecond)
			return jobs.Result{Commit: commitEffect(r.Job.ID)}, nil
		})}
	}
	a := engine(t, stores[0], false, "a", mk())
	b := engine(t, stores[1], false, "b", mk())
	var list []string
	for i := range 150 {
		list = append(list, fmt.Sprintf("k-%03d", i))
	}
	for i, id := range list {
		enqueue(t, stores[0], jobs.Spec{ID: id, Kind: "contend", Key: fmt.Sprintf("env-%d", i%4)})
	}
	a.Start(context.Background())
	b.Start(context.Background())
	defer a.Stop()
	defer b.Stop()
	waitState(t, stores[0], jobs.Done, list...)
	if n := countEffects(t, stores[0]); n != len(list) {
		t.Errorf("%d effects for %d jobs", n, len(list))
	}
	runs.Range(func(k, v any) bool {
		if n := v.(*atomic.Int64).Load(); n != 1 {
			t.Errorf("job %v ran %d times", k, n)
		}
		return true
	})
	for key, m := range g.maxByKey {
		if m > 3 {
			t.Errorf("key %s: %d jobs ran at once across two engines, bound 3", key, m)
		}
	}
	t.Logf("at most %d jobs ran at once across two engines", g.max)
}

// testStopAfterBurst: many jobs that finish at once, then Stop at once.
// Stop must return (a finished run's wake-up must never block when the
// dispatcher has gone) and every job must have run once.
func testStopAfterBurst(t *testing.T, open Opener) {
	stores, excl := open(t, 1)
	db := stores[0]
	const n = 400
	var runs atomic.Int64
	k := &jobs.Kind{Name: "burst", Workers: 16, Handler: jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
		runs.Add(1)
		return jobs.Result{}, nil
	})}
	var specs []jobs.Spec
	for _, id := range ids("burst", n) {
		specs = append(specs, jobs.Spec{ID: id, Kind: "burst"})
	}
	enqueue(t, db, specs...)
	e := engine(t, db, excl, "a", k)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	e.Start(ctx)
	for runs.Load() < n {
		time.Sleep(time.Millisecond)
	}
	stopped := make(chan struct{})
	go func() { e.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(20 * time.Second):
		t.Fatal("Stop did not return within 20 s after a burst of jobs")
	}
	if got := runs.Load(); got != n {
		t.Errorf("%d runs, want %d", got, n)
	}
}

// testDoneAfterCommit: Result.Done runs once the outcome is committed (the
// commit's effect is visible to it), and not for an attempt whose commit
// failed (that attempt is retried; its retry's Done runs).
func testDoneAfterCommit(t *testing.T, open Opener) {
	stores, excl := open(t, 1)
	db := stores[0]
	var attempts atomic.Int64
	type done struct {
		attempt int64
		effects int
	}
	dones := make(chan done, 4)
	k := &jobs.Kind{Name: "done", MaxAttempts: 3, Backoff: func(int) time.Duration { return time.Millisecond },
		Handler: jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
			n := attempts.Add(1)
			commit := commitEffect(r.Job.ID)
			if n == 1 {
				commit = func(context.Context, store.Tx) error { return errors.New("the first commit fails") }
			}
			return jobs.Result{Commit: commit, Done: func() {
				dones <- done{attempt: n, effects: countEffects(t, db)}
			}}, nil
		})}
	e := engine(t, db, excl, "a", k)
	e.Start(context.Background())
	defer e.Stop()
	enqueue(t, db, jobs.Spec{ID: "d1", Kind: "done"})
	e.Wake("done")
	waitState(t, db, jobs.Done, "d1")
	select {
	case d := <-dones:
		if d.attempt != 2 || d.effects != 1 {
			t.Errorf("Done ran for attempt %d seeing %d effects, want attempt 2 after its commit (1 effect)", d.attempt, d.effects)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Done did not run after the committed attempt")
	}
	select {
	case d := <-dones:
		t.Errorf("Done ran again (attempt %d)", d.attempt)
	case <-time.After(50 * time.Millisecond):
	}
}
