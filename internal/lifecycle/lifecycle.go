// Package lifecycle runs the asynchronous status transitions of resources
// (an environment going CREATE_REQUESTED → CREATING → CREATED, and so on).
//
// A Reconciler owns one record kind. It reads the record's desired and
// current state from the store, performs one idempotent step in a
// transaction, and says when to look again. The Runner serializes steps per
// record, never runs them on a request's context, and on Start resumes every
// record still marked Pending, so a restart finishes what a crash left.
package lifecycle

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/openfinspace/openfinspace/internal/store"
)

// Reconciler drives the records of one kind.
type Reconciler interface {
	// Reconcile performs the next step for the record. It returns done when
	// the record reached a terminal state (and cleared its Pending flag in
	// the same transaction), else the delay before the next step. It must
	// be idempotent: after a crash the same step may run again.
	Reconcile(ctx context.Context, id string) (next time.Duration, done bool, err error)
}

// Runner schedules reconcile steps.
type Runner struct {
	db   store.Store
	log  *slog.Logger
	recs map[string]Reconciler
	// RetryDelay is the pause after a failed step.
	RetryDelay time.Duration

	mu      sync.Mutex
	ctx     context.Context
	cancel  context.CancelFunc
	wg      sync.WaitGroup
	entries map[key]*entry
	stopped bool
}

type key struct{ kind, id string }

type entry struct {
	running bool
	rerun   bool
	timer   *time.Timer
}

// New returns a runner over db.
func New(db store.Store, log *slog.Logger) *Runner {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Runner{db: db, log: log, recs: map[string]Reconciler{}, RetryDelay: time.Second, entries: map[key]*entry{}}
}

// Register sets the reconciler of a record kind. Call before Start.
func (r *Runner) Register(kind string, rec Reconciler) { r.recs[kind] = rec }

// Start resumes every pending record of every registered kind.
func (r *Runner) Start(ctx context.Context) error {
	r.mu.Lock()
	r.ctx, r.cancel = context.WithCancel(context.WithoutCancel(ctx))
	r.mu.Unlock()
	for kind := range r.recs {
		var after *store.Cursor
		for {
			var page []*store.Record
			err := r.db.View(ctx, func(tx store.Tx) error {
				var err error
				page, err = tx.List(ctx, store.Query{Kind: kind, AnyParent: true, PendingOnly: true, After: after, Limit: 500})
				return err
			})
			if err != nil {
				return err
			}
			for _, rec := range page {
				r.Enqueue(kind, rec.ID)
			}
			if len(page) < 500 {
				break
			}
			last := page[len(page)-1]
			after = &store.Cursor{SortKey: last.SortKey, ID: last.ID}
		}
	}
	return nil
}

// Enqueue asks for a step of (kind, id) now. Steps of one record never run
// concurrently; a request during a step runs another step right after it.
func (r *Runner) Enqueue(kind, id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.stopped || r.ctx == nil {
		return
	}
	k := key{kind, id}
	e := r.entries[k]
	if e == nil {
		e = &entry{}
		r.entries[k] = e
	}
	if e.running {
		e.rerun = true
		return
	}
	if e.timer != nil {
		e.timer.Stop()
		e.timer = nil
	}
	r.launchLocked(k, e)
}

func (r *Runner) launchLocked(k key, e *entry) {
	e.running = true
	r.wg.Add(1)
	go r.run(k, e)
}

func (r *Runner) run(k key, e *entry) {
	defer r.wg.Done()
	rec := r.recs[k.kind]
	for {
		next, done, err := rec.Reconcile(r.ctx, k.id)
		if err != nil {
			if r.ctx.Err() == nil {
				r.log.Error("reconcile step failed", "kind", k.kind, "id", k.id, "error", err)
			}
			next, done = r.RetryDelay, false
		}
		r.mu.Lock()
		if r.stopped {
			e.running = false
			r.mu.Unlock()
			return
		}
		if e.rerun {
			e.rerun = false
			r.mu.Unlock()
			continue
		}
		e.running = false
		if done {
			delete(r.entries, k)
			r.mu.Unlock()
			return
		}
		e.timer = time.AfterFunc(next, func() {
			r.mu.Lock()
			defer r.mu.Unlock()
			if r.stopped || e.timer == nil || e.running {
				return
			}
			e.timer = nil
			r.launchLocked(k, e)
		})
		r.mu.Unlock()
		return
	}
}

// Stop cancels running steps and waits for them. Pending records stay
// pending in the store and resume at the next Start.
func (r *Runner) Stop() {
	r.mu.Lock()
	r.stopped = true
	if r.cancel != nil {
		r.cancel()
	}
	for _, e := range r.entries {
		if e.timer != nil {
			e.timer.Stop()
		}
	}
	r.mu.Unlock()
	r.wg.Wait()
}

// Idle reports whether no step is running or scheduled (for tests).
func (r *Runner) Idle() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.entries) == 0
}
