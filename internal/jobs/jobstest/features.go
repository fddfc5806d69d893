package jobstest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/store"
)

// signalKind runs until its context ends, reporting each signal's arrival.
func signalKind(name string, lease time.Duration, started chan<- struct{}, got chan<- time.Time) *jobs.Kind {
	return &jobs.Kind{Name: name, Lease: lease, Handler: jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
		started <- struct{}{}
		for {
			select {
			case <-ctx.Done():
				return jobs.Result{}, ctx.Err()
			case <-r.Signals():
				got <- time.Now()
				return jobs.Result{}, nil
			}
		}
	})}
}

// testSignalLocal: a signal sent in the run's own process arrives at once.
// The lease is an hour, so no renewal can have carried it.
func testSignalLocal(t *testing.T, open Opener) {
	stores, excl := open(t, 1)
	db := stores[0]
	started, got := make(chan struct{}, 1), make(chan time.Time, 1)
	e := engine(t, db, excl, "a", signalKind("sig", time.Hour, started, got))
	e.Start(context.Background())
	defer e.Stop()
	enqueue(t, db, jobs.Spec{ID: "s1", Kind: "sig"})
	e.Wake("sig")
	<-started
	sent := time.Now()
	if err := e.Signal(context.Background(), "s1"); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-got:
		t.Logf("same-process signal latency %v (from before Signal's transaction)", at.Sub(sent))
	case <-time.After(10 * time.Second):
		t.Fatal("a signal sent in the run's process did not arrive (the lease is an hour: it must not wait for a renewal)")
	}
	waitState(t, db, jobs.Done, "s1")
	// A finished job ignores signals; an unknown one is not found.
	if err := e.Signal(context.Background(), "s1"); err != nil {
		t.Errorf("signal to a finished job: %v", err)
	}
	if err := e.Signal(context.Background(), "nobody"); err == nil {
		t.Error("signal to an unknown job succeeded")
	}
}

// testSignalRemote: engine B signals a job engine A runs; A sees it at a
// lease renewal (a third of the lease), and the signal does not cost the
// run its lease.
func testSignalRemote(t *testing.T, open Opener) {
	// Two processes: neither may take the other's leases over at start.
	stores, _ := open(t, 2)
	started, got := make(chan struct{}, 1), make(chan time.Time, 1)
	a := engine(t, stores[0], false, "a", signalKind("sigx", lease, started, got))
	a.Start(context.Background())
	defer a.Stop()
	// B runs the kind too (another process of the same server) but does
	// not run this job: the signal must travel through the store.
	b := engine(t, stores[1], false, "b", signalKind("sigx", lease, make(chan struct{}, 1), make(chan time.Time, 1)))
	enqueue(t, stores[0], jobs.Spec{ID: "x1", Kind: "sigx"})
	a.Wake("sigx")
	<-started
	sent := time.Now()
	if err := b.Signal(context.Background(), "x1"); err != nil {
		t.Fatal(err)
	}
	select {
	case at := <-got:
		d := at.Sub(sent)
		t.Logf("cross-process signal latency %v (lease %v, renewal every %v)", d, lease, lease/3)
	case <-time.After(20 * time.Second):
		t.Fatal("a signal from another engine never reached the run")
	}
	j := waitState(t, stores[0], jobs.Done, "x1")[0]
	if j.Attempt != 1 {
		t.Errorf("attempt %d: the signal cost the run its lease", j.Attempt)
	}
}

// overlap counts, per key, how often a job entered while another holding
// the same key ran.
type overlap struct {
	mu       sync.Mutex
	running  map[string]int
	overlaps map[string]int
	shared   map[string]int
}

func newOverlap() *overlap {
	return &overlap{running: map[string]int{}, overlaps: map[string]int{}, shared: map[string]int{}}
}

func (o *overlap) enter(key string, exclusive bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if exclusive {
		if o.running[key] > 0 || o.shared[key] > 0 {
			o.overlaps[key]++
		}
		o.running[key]++
	} else {
		if o.running[key] > 0 {
			o.overlaps[key]++
		}
		o.shared[key]++
	}
}

func (o *overlap) leave(key string, exclusive bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if exclusive {
		o.running[key]--
	} else {
		o.shared[key]--
	}
}

// testExclusive: jobs of three exclusive keys (and two kinds) on two
// engines with many workers: never two of one key at once.
func testExclusive(t *testing.T, open Opener) {
	stores, _ := open(t, 2)
	o := newOverlap()
	var runs atomic.Int64
	mk := func(name string) *jobs.Kind {
		return &jobs.Kind{Name: name, Workers: 8, Handler: jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
			key := r.Job.Exclusive[0]
			o.enter(key, true)
			time.Sleep(3 * time.Millisecond)
			o.leave(key, true)
			runs.Add(1)
			return jobs.Result{Commit: commitEffect(r.Job.ID)}, nil
		})}
	}
	var list []string
	var specs []jobs.Spec
	for i := range 90 {
		id := fmt.Sprintf("x-%03d", i)
		list = append(list, id)
		kind := []string{"exa", "exb"}[i%2]
		specs = append(specs, jobs.Spec{ID: id, Kind: kind, Exclusive: []string{fmt.Sprintf("db-%d", i%3)}})
	}
	enqueue(t, stores[0], specs...)
	a := engine(t, stores[0], false, "a", mk("exa"), mk("exb"))
	b := engine(t, stores[1], false, "b", mk("exa"), mk("exb"))
	a.Start(context.Background())
	b.Start(context.Background())
	defer a.Stop()
	defer b.Stop()
	waitState(t, stores[0], jobs.Done, list...)
	o.mu.Lock()
	defer o.mu.Unlock()
	for key, n := range o.overlaps {
		if n > 0 {
			t.Errorf("key %s: %d overlapping runs across two engines, want 0", key, n)
		}
	}
	if runs.Load() != int64(len(list)) || countEffects(t, stores[0]) != len(list) {
		t.Errorf("%d runs, %d effects for %d jobs", runs.Load(), countEffects(t, stores[0]), len(list))
	}
	db0LocksLeft(t, stores[0])
}

// db0LocksLeft fails if lock records remain once every holder ended.
func db0LocksLeft(t *testing.T, db store.Store) int {
	t.Helper()
	n := 0
	_ = db.View(context.Background(), func(tx store.Tx) error {
		recs, _ := tx.List(context.Background(), store.Query{Kind: jobs.LockKind, AnyParent: true})
		n = len(recs)
		return nil
	})
	if n != 0 {
		t.Errorf("%d lock records left after every job ended", n)
	}
	return n
}

// testExclusiveOrder: a job keeps its exclusive key through a failed
// attempt's backoff, so the next job of the key waits for its retry.
func testExclusiveOrder(t *testing.T, open Opener) {
	stores, excl := open(t, 1)
	db := stores[0]
	var mu sync.Mutex
	var order []string
	var failedOnce atomic.Bool
	k := &jobs.Kind{Name: "ord", Workers: 4, MaxAttempts: 3, Backoff: func(int) time.Duration { return 30 * time.Millisecond },
		Handler: jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
			mu.Lock()
			order = append(order, fmt.Sprintf("%s#%d", r.Job.ID, r.Job.Attempt))
			mu.Unlock()
			if r.Job.ID == "o1" && !failedOnce.Swap(true) {
				return jobs.Result{}, fault.Invalidf("first attempt fails")
			}
			return jobs.Result{}, nil
		})}
	base := time.Now().Add(-time.Minute)
	enqueue(t, db,
		jobs.Spec{ID: "o1", Kind: "ord", Exclusive: []string{"db"}, Due: base},
		jobs.Spec{ID: "o2", Kind: "ord", Exclusive: []string{"db"}, Due: base.Add(time.Millisecond)},
		jobs.Spec{ID: "o3", Kind: "ord", Exclusive: []string{"db"}, Due: base.Add(2 * time.Millisecond)})
	e := engine(t, db, excl, "a", k)
	e.Start(context.Background())
	defer e.Stop()
	waitState(t, db, jobs.Done, "o1", "o2", "o3")
	mu.Lock()
	defer mu.Unlock()
	want := []string{"o1#1", "o1#2", "o2#1", "o3#1"}
	if fmt.Sprint(order) != fmt.Sprint(want) {
		t.Errorf("runs %v, want %v", order, want)
	}
	db0LocksLeft(t, db)
}

// testShared: many jobs hold a key shared (and overlap each other), a few
// hold it exclusively: an exclusive one never runs beside any other, on
// two engines, and it is not starved by a stream of shared ones.
func testShared(t *testing.T, open Opener) {
	stores, _ := open(t, 2)
	o := newOverlap()
	var maxShared atomic.Int64
	var cur atomic.Int64
	mk := func() []*jobs.Kind {
		run := func(exclusive bool) jobs.Handler {
			return jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
				o.enter("region", exclusive)
				if !exclusive {
					n := cur.Add(1)
					for m := maxShared.Load(); n > m && !maxShared.CompareAndSwap(m, n); m = maxShared.Load() {
					}
				}
				time.Sleep(4 * time.Millisecond)
				if !exclusive {
					cur.Add(-1)
				}
				o.leave("region", exclusive)
				return jobs.Result{}, nil
			})
		}
		return []*jobs.Kind{
			{Name: "reader", Workers: 6, Handler: run(false)},
			{Name: "collector", Workers: 2, Handler: run(true)},
		}
	}
	var list []string
	var specs []jobs.Spec
	for i := range 80 {
		id := fmt.Sprintf("sh-%03d", i)
		list = append(list, id)
		if i%20 == 10 {
			specs = append(specs, jobs.Spec{ID: id, Kind: "collector", Exclusive: []string{"region"}})
		} else {
			specs = append(specs, jobs.Spec{ID: id, Kind: "reader", Shared: []string{"region"}})
		}
	}
	enqueue(t, stores[0], specs...)
	a := engine(t, stores[0], false, "a", mk()...)
	b := engine(t, stores[1], false, "b", mk()...)
	a.Start(context.Background())
	b.Start(context.Background())
	defer a.Stop()
	defer b.Stop()
	waitState(t, stores[0], jobs.Done, list...)
	o.mu.Lock()
	defer o.mu.Unlock()
	if n := o.overlaps["region"]; n > 0 {
		t.Errorf("%d runs overlapped an exclusive holder of the key", n)
	}
	t.Logf("at most %d shared holders ran at once", maxShared.Load())
	if maxShared.Load() < 2 {
		t.Errorf("shared holders never overlapped (max %d): shared keys must not serialize", maxShared.Load())
	}
	db0LocksLeft(t, stores[0])
}

// testPeriodic: a periodic kind registered in two engines runs once per
// period: no period twice, none skipped while both run.
func testPeriodic(t *testing.T, open Opener) {
	// Two processes: neither may take the other's leases over at start.
	stores, _ := open(t, 2)
	const period = 150 * time.Millisecond
	var mu sync.Mutex
	seen := map[time.Time]int{}
	var dues []time.Time
	mk := func() *jobs.Kind {
		return &jobs.Kind{Name: "tick", Period: period, Handler: jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
			mu.Lock()
			seen[r.Job.Due]++
			dues = append(dues, r.Job.Due)
			mu.Unlock()
			return jobs.Result{}, nil
		})}
	}
	a := engine(t, stores[0], false, "a", mk())
	b := engine(t, stores[1], false, "b", mk())
	a.Start(context.Background())
	b.Start(context.Background())
	deadline := time.Now().Add(20 * time.Second)
	for {
		mu.Lock()
		n := len(dues)
		mu.Unlock()
		if n >= 6 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	a.Stop()
	b.Stop()
	mu.Lock()
	defer mu.Unlock()
	if len(dues) < 6 {
		t.Fatalf("%d runs in 20 s of a %v period", len(dues), period)
	}
	for due, n := range seen {
		if n != 1 {
			t.Errorf("period %v ran %d times", due, n)
		}
		if !due.Equal(due.Truncate(period)) {
			t.Errorf("period due %v is not a multiple of %v", due, period)
		}
	}
	skipped := 0
	for i := 1; i < len(dues); i++ {
		if gap := dues[i].Sub(dues[i-1]); gap != period {
			skipped++
			t.Logf("periods %v then %v (gap %v)", dues[i-1], dues[i], gap)
		}
	}
	// A loaded machine may run a period more than a period late, which
	// skips the next one by design; most must follow one another.
	if skipped > len(dues)/3 {
		t.Errorf("%d of %d periods did not follow the previous one", skipped, len(dues))
	}
}

// testLifecycleOnFailed: a lifecycle of steps (Again) whose second step
// fails every attempt ends failed, with OnFailed run once in the failing
// transaction, after the first step's commit.
func testLifecycleOnFailed(t *testing.T, open Opener) {
	stores, excl := open(t, 1)
	db := stores[0]
	var attempts atomic.Int64
	k := &jobs.Kind{Name: "life", MaxAttempts: 3, Backoff: func(int) time.Duration { return time.Millisecond },
		Handler: jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
			var p struct{ Step int }
			_ = json0(r.Job.Progress, &p)
			if p.Step == 0 {
				_ = r.Report(map[string]int{"Step": 1})
				return jobs.Result{Commit: commitEffect(r.Job.ID + "/step1"), Again: time.Millisecond}, nil
			}
			attempts.Add(1)
			return jobs.Result{}, fault.Invalidf("step 2 cannot be taken")
		}),
		OnFailed: func(ctx context.Context, tx store.Tx, j *jobs.Job, cause error) error {
			return tx.Insert(ctx, &store.Record{Kind: "failure", ID: j.ID, SortKey: j.ID, Data: []byte(`"` + j.Error + `"`)})
		}}
	e := engine(t, db, excl, "a", k)
	e.Start(context.Background())
	defer e.Stop()
	enqueue(t, db, jobs.Spec{ID: "l1", Kind: "life"})
	e.Wake("life")
	j := waitState(t, db, jobs.Failed, "l1")[0]
	if attempts.Load() != 3 || j.Attempt != 3 {
		t.Errorf("step 2: %d attempts (job says %d), want the kind's 3", attempts.Load(), j.Attempt)
	}
	err := db.View(context.Background(), func(tx store.Tx) error {
		rec, err := tx.Get(context.Background(), "failure", "l1")
		if err != nil {
			return fmt.Errorf("OnFailed left no record: %w", err)
		}
		if string(rec.Data) != `"step 2 cannot be taken"` {
			return fmt.Errorf("OnFailed saw error %s", rec.Data)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	if n := countEffects(t, db); n != 1 {
		t.Errorf("%d effects, want the first step's", n)
	}
}

// countingStore counts write transactions.
type countingStore struct {
	store.Store
	updates, views atomic.Int64
}

func (c *countingStore) Update(ctx context.Context, fn func(store.Tx) error) error {
	c.updates.Add(1)
	return c.Store.Update(ctx, fn)
}

func (c *countingStore) View(ctx context.Context, fn func(store.Tx) error) error {
	c.views.Add(1)
	return c.Store.View(ctx, fn)
}

// testIdle: a started engine with nothing due — kinds registered, a
// periodic one with a long period, a job due in an hour, a finished one —
// opens no write transaction in a 2 s window.
func testIdle(t *testing.T, open Opener) {
	stores, excl := open(t, 1)
	db := &countingStore{Store: stores[0]}
	noop := jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) { return jobs.Result{}, nil })
	e, err := jobs.New(jobs.Config{Store: db, Owner: "idle", Exclusive: excl},
		&jobs.Kind{Name: "work", PerKey: 2, Handler: noop},
		&jobs.Kind{Name: "hourly", Period: time.Hour, Handler: noop})
	if err != nil {
		t.Fatal(err)
	}
	enqueue(t, db, jobs.Spec{ID: "later", Kind: "work", Key: "env", Due: time.Now().Add(time.Hour)},
		jobs.Spec{ID: "now", Kind: "work", Key: "env", Exclusive: []string{"k"}})
	e.Start(context.Background())
	defer e.Stop()
	waitState(t, db, jobs.Done, "now")
	// The periodic job exists (created at start), due in up to an hour.
	deadline := time.Now().Add(10 * time.Second)
	for {
		if j, err := e.Get(context.Background(), jobs.PeriodicJobID("hourly")); err == nil && j.State == jobs.Queued {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the periodic job was not scheduled")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // let the last outcome's wake-ups pass
	u0, v0 := db.updates.Load(), db.views.Load()
	time.Sleep(2 * time.Second)
	u, v := db.updates.Load()-u0, db.views.Load()-v0
	t.Logf("idle 2 s: %d write transactions, %d read transactions (default poll)", u, v)
	if u != 0 {
		t.Errorf("an idle engine opened %d write transactions in 2 s, want 0", u)
	}
}

func json0(b []byte, v any) error {
	if len(b) == 0 {
		return nil
	}
	return json.Unmarshal(b, v)
}
