package jobs_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/postgres"
	"github.com/openfinspace/openfinspace/internal/store/postgres/pgtest"
	"github.com/openfinspace/openfinspace/internal/store/sqlite"
)

// TestReportNoopJobs measures the engine's own overhead on each store, in
// the same run: OPENFINSPACE_BENCH_JOBS no-op jobs (default 10 000)
//
//   - drained: all enqueued first (500 per transaction), then one engine
//     (16 workers) runs them; jobs/s from its start to the last job's
//     outcome committed;
//   - paced: enqueued one per transaction through Engine.Enqueue at 200/s
//     (open loop, as API requests enqueue them) for 5 s; the claim
//     latency is from the enqueue's commit to the handler's start
//     (p50/p99/max), and the finish latency to the outcome's commit.
//
// Each job's Commit inserts an effect record: the report checks every job
// committed exactly once, done after one attempt. Needs OPENFINSPACE_BENCH=1 (and OPENFINSPACE_TEST_POSTGRES
// for the PostgreSQL rows; see pgtest).
func TestReportNoopJobs(t *testing.T) {
	if os.Getenv("OPENFINSPACE_BENCH") != "1" {
		t.Skip("set OPENFINSPACE_BENCH=1 to run the job engine report")
	}
	n := 10000
	if v, err := strconv.Atoi(os.Getenv("OPENFINSPACE_BENCH_JOBS")); err == nil && v > 0 {
		n = v
	}
	stores := []struct {
		name string
		open func(t *testing.T) (store.Store, bool)
	}{
		{"SQLite", func(t *testing.T) (store.Store, bool) {
			db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "jobs.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db, true
		}},
		{"PostgreSQL", func(t *testing.T) (store.Store, bool) {
			db, err := postgres.Open(context.Background(), pgtest.URL(t))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db, false
		}},
	}
	var report []string
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			db, exclusive := s.open(t)
			d := drained(t, db, exclusive, n)
			p := paced(t, db, exclusive, 200, 5*time.Second)
			report = append(report, fmt.Sprintf("%-11s drained %d jobs in %v: %.0f jobs/s | paced %d jobs at 200/s: claim p50 %v p99 %v max %v; outcome committed p50 %v p99 %v",
				s.name, n, d.Round(time.Millisecond), float64(n)/d.Seconds(),
				p.n, p.claim[0], p.claim[1], p.claim[2], p.done[0], p.done[1]))
		})
	}
	t.Logf("\njob engine, no-op jobs:\n%s", joinLines(report))
}

func joinLines(l []string) string {
	var out string
	for _, s := range l {
		out += "  " + s + "\n"
	}
	return out
}

// counted is a no-op kind whose Commit records its job's outcome in the
// store (an effect record: inserting it twice fails, and a transaction the
// store retries leaves one); effects counts them.
func counted(name string, onStart func(id string), onCommit func(id string)) *jobs.Kind {
	return &jobs.Kind{Name: name, Workers: 16, Handler: jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
		id := r.Job.ID
		if onStart != nil {
			onStart(id)
		}
		return jobs.Result{Commit: func(ctx context.Context, tx store.Tx) error {
			if onCommit != nil {
				onCommit(id)
			}
			return tx.Insert(ctx, &store.Record{Kind: "effect-" + name, ID: id, SortKey: id, Data: []byte(`{}`)})
		}}, nil
	})}
}

func effects(t *testing.T, db store.Store, name string) int {
	var n int
	err := db.View(context.Background(), func(tx store.Tx) error {
		var err error
		n, err = tx.Count(context.Background(), store.Query{Kind: "effect-" + name, AnyParent: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// waitEffects waits until n outcomes are committed and returns when it saw
// them; it fails if a job failed or more than n outcomes appear.
func waitEffects(t *testing.T, db store.Store, name string, n int, limit time.Duration) time.Time {
	deadline := time.Now().Add(limit)
	for {
		c := effects(t, db, name)
		if c == n {
			return time.Now()
		}
		if c > n || time.Now().After(deadline) {
			t.Fatalf("%s: %d outcomes committed, want %d", name, c, n)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// checkDone fails unless every one of ids is Done after one attempt.
func checkDone(t *testing.T, db store.Store, ids []string) {
	err := db.View(context.Background(), func(tx store.Tx) error {
		for _, id := range ids {
			j, err := jobs.GetTx(context.Background(), tx, id)
			if err != nil {
				return err
			}
			if j.State != jobs.Done || j.Attempt != 1 {
				return fmt.Errorf("job %s: %s after %d attempts, want done after 1", id, j.State, j.Attempt)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func drained(t *testing.T, db store.Store, exclusive bool, n int) time.Duration {
	ctx := context.Background()
	k := counted("noop-drained", nil, nil)
	ids := make([]string, n)
	now := time.Now()
	for i := 0; i < n; i += 500 {
		err := db.Update(ctx, func(tx store.Tx) error {
			for j := i; j < min(i+500, n); j++ {
				ids[j] = fmt.Sprintf("noop/%06d", j)
				if err := jobs.EnqueueTx(ctx, tx, now, jobs.Spec{ID: ids[j], Kind: k.Name}); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	e, err := jobs.New(jobs.Config{Store: db, Exclusive: exclusive}, k)
	if err != nil {
		t.Fatal(err)
	}
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	start := time.Now()
	e.Start(ectx)
	end := waitEffects(t, db, k.Name, n, 5*time.Minute)
	e.Stop()
	checkDone(t, db, ids)
	return end.Sub(start)
}

type pacedResult struct {
	n           int
	claim, done [3]time.Duration // p50, p99, max
}

func paced(t *testing.T, db store.Store, exclusive bool, rate int, d time.Duration) pacedResult {
	ctx := context.Background()
	var mu sync.Mutex
	enqueued := map[string]time.Time{}
	started := map[string]time.Time{}
	committedAt := sync.Map{}
	k := counted("noop-paced", func(id string) {
		now := time.Now()
		mu.Lock()
		started[id] = now
		mu.Unlock()
	}, func(id string) {
		committedAt.Store(id, time.Now()) // the transaction commits right after
	})
	e, err := jobs.New(jobs.Config{Store: db, Exclusive: exclusive}, k)
	if err != nil {
		t.Fatal(err)
	}
	ectx, cancel := context.WithCancel(ctx)
	defer cancel()
	e.Start(ectx)
	defer e.Stop()
	total := int(d.Seconds() * float64(rate))
	ids := make([]string, total)
	interval := time.Second / time.Duration(rate)
	begin := time.Now()
	for i := range total {
		time.Sleep(time.Until(begin.Add(time.Duration(i) * interval)))
		ids[i] = fmt.Sprintf("paced/%06d", i)
		if err := e.Enqueue(ctx, jobs.Spec{ID: ids[i], Kind: k.Name}); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		enqueued[ids[i]] = time.Now()
		mu.Unlock()
	}
	waitEffects(t, db, k.Name, total, time.Minute)
	checkDone(t, db, ids)
	var claim, done []time.Duration
	mu.Lock()
	for _, id := range ids {
		claim = append(claim, max(0, started[id].Sub(enqueued[id])))
		at, _ := committedAt.Load(id)
		done = append(done, max(0, at.(time.Time).Sub(enqueued[id])))
	}
	mu.Unlock()
	return pacedResult{n: total, claim: quantiles(claim), done: quantiles(done)}
}

func quantiles(d []time.Duration) [3]time.Duration {
	slices.Sort(d)
	q := func(p float64) time.Duration {
		return d[min(len(d)-1, int(p*float64(len(d))))].Round(10 * time.Microsecond)
	}
	return [3]time.Duration{q(0.5), q(0.99), d[len(d)-1].Round(10 * time.Microsecond)}
}
