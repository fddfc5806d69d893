package lifecycle

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// scriptedReconciler is a test double: each record walks through steps
// statuses, one per call, waiting delay between steps.
type scriptedReconciler struct {
	mu      sync.Mutex
	steps   int
	delay   time.Duration
	calls   map[string]int
	active  map[string]bool
	overlap bool
	failAt  map[string]int // call number that returns an error
}

func (s *scriptedReconciler) Reconcile(ctx context.Context, id string) (time.Duration, bool, error) {
	s.mu.Lock()
	if s.active[id] {
		s.overlap = true
	}
	s.active[id] = true
	s.calls[id]++
	n := s.calls[id]
	s.mu.Unlock()
	time.Sleep(time.Millisecond) // a step takes time
	s.mu.Lock()
	s.active[id] = false
	s.mu.Unlock()
	if s.failAt[id] == n {
		return 0, false, errors.New("transient failure")
	}
	return s.delay, n >= s.steps, nil
}

func (s *scriptedReconciler) count(id string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[id]
}

func (s *scriptedReconciler) overlapped() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.overlap
}

func newScripted(steps int, delay time.Duration) *scriptedReconciler {
	return &scriptedReconciler{steps: steps, delay: delay, calls: map[string]int{}, active: map[string]bool{}, failAt: map[string]int{}}
}

func TestRunnerStepsUntilDone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newScripted(3, 400*time.Millisecond)
		r := New(nil, nil)
		r.Register("thing", rec)
		r.ctx, r.cancel = context.WithCancel(context.Background())
		start := time.Now()
		r.Enqueue("thing", "a")
		r.Enqueue("thing", "b")
		synctest.Wait()
		if got := rec.count("a"); got != 1 {
			t.Fatalf("after enqueue: %d calls, want 1", got)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if rec.count("a") != 3 || rec.count("b") != 3 {
			t.Fatalf("calls = %d/%d, want 3 each", rec.count("a"), rec.count("b"))
		}
		if !r.Idle() {
			t.Fatal("runner not idle after every record is done")
		}
		if el := time.Since(start); el < 800*time.Millisecond {
			t.Fatalf("finished after %v, want ≥ 2 delays", el)
		}
		r.Stop()
	})
}

func TestRunnerSerializesPerRecord(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newScripted(50, 0)
		r := New(nil, nil)
		r.Register("thing", rec)
		r.ctx, r.cancel = context.WithCancel(context.Background())
		for range 20 {
			r.Enqueue("thing", "a")
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if rec.overlapped() {
			t.Fatal("two steps of one record ran at once")
		}
		r.Stop()
	})
}

func TestRunnerRetriesFailedStep(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newScripted(2, 10*time.Millisecond)
		rec.failAt["a"] = 1
		r := New(nil, nil)
		r.RetryDelay = 500 * time.Millisecond
		r.Register("thing", rec)
		r.ctx, r.cancel = context.WithCancel(context.Background())
		r.Enqueue("thing", "a")
		time.Sleep(400 * time.Millisecond)
		synctest.Wait()
		if rec.count("a") != 1 {
			t.Fatalf("retried before RetryDelay: %d calls", rec.count("a"))
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if rec.count("a") != 2 || !r.Idle() {
			t.Fatalf("calls = %d idle = %v, want 2 calls (one failed, one done) and idle", rec.count("a"), r.Idle())
		}
		r.Stop()
	})
}

func TestStopLeavesScheduledWork(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := newScripted(5, time.Hour)
		r := New(nil, nil)
		r.Register("thing", rec)
		r.ctx, r.cancel = context.WithCancel(context.Background())
		r.Enqueue("thing", "a")
		synctest.Wait()
		r.Stop()
		time.Sleep(2 * time.Hour)
		synctest.Wait()
		if rec.count("a") != 1 {
			t.Fatalf("step ran after Stop: %d calls", rec.count("a"))
		}
		r.Enqueue("thing", "a") // ignored after Stop
		synctest.Wait()
		if rec.count("a") != 1 {
			t.Fatal("Enqueue after Stop ran a step")
		}
	})
}
