package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/store"
)

// Config configures an Engine.
type Config struct {
	Store store.Store
	// Owner names this process in leases (default: random).
	Owner string
	// Exclusive says no other process uses the store (SQLite): a starting
	// engine takes over every lease at once instead of waiting for them
	// to expire.
	Exclusive bool
	// Poll is how often each kind looks for due jobs when nothing woke it
	// (default 200 ms). Enqueue in this process wakes it at once (Wake).
	Poll time.Duration
	// Now is the clock (default time.Now); timers use the time package, so
	// tests run the engine under testing/synctest.
	Now    func() time.Time
	Logger *slog.Logger
	// Observer, if set, is told of every attempt this engine runs (the
	// server's metrics).
	Observer Observer
}

// Observer is told when an attempt starts and how it ended: "done",
// "again" (a next step scheduled), "retry" (failed, to be retried),
// "failed" (failed for good), or "interrupted" (cancelled, taken over, the
// engine stopping, or its outcome could not be recorded).
type Observer interface {
	JobStarted(kind string)
	JobFinished(kind, outcome string)
}

// Engine claims and runs jobs of its kinds.
type Engine struct {
	cfg   Config
	kinds map[string]*kindRunner
	log   *slog.Logger

	mu      sync.Mutex
	started bool
	stop    context.CancelFunc
	wg      sync.WaitGroup

	runsMu sync.Mutex
	runs   map[string]*Run // local runs by job id, for Signalled
}

type kindRunner struct {
	e        *Engine
	k        *Kind
	wake     chan struct{}
	outcomes chan<- *outcomeReq // to the committer (loop)

	mu      sync.Mutex
	running map[string]context.CancelCauseFunc // local runs by job id
	hints   []string                           // jobs just enqueued here (Enqueue)
}

// New returns an engine for kinds; Start runs it.
func New(cfg Config, kinds ...*Kind) (*Engine, error) {
	if cfg.Store == nil {
		return nil, errors.New("jobs: Config.Store is required")
	}
	if cfg.Owner == "" {
		var b [6]byte
		_, _ = rand.Read(b[:])
		cfg.Owner = "engine-" + hex.EncodeToString(b[:])
	}
	if cfg.Poll <= 0 {
		cfg.Poll = 200 * time.Millisecond
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	e := &Engine{cfg: cfg, kinds: map[string]*kindRunner{}, log: cfg.Logger, runs: map[string]*Run{}}
	for _, k := range kinds {
		if err := e.add(k); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// Register adds a kind; call before Start.
func (e *Engine) Register(k *Kind) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return errors.New("jobs: Register after Start")
	}
	return e.add(k)
}

func (e *Engine) add(k *Kind) error {
	if k.Name == "" || k.Handler == nil {
		return errors.New("jobs: a Kind needs a Name and a Handler")
	}
	if _, dup := e.kinds[k.Name]; dup {
		return fmt.Errorf("jobs: kind %s registered twice", k.Name)
	}
	if k.Workers <= 0 {
		k.Workers = 4
	}
	if k.MaxAttempts <= 0 {
		k.MaxAttempts = 5
	}
	if k.Backoff == nil {
		k.Backoff = DefaultBackoff
	}
	if k.Lease <= 0 {
		k.Lease = 30 * time.Second
	}
	e.kinds[k.Name] = &kindRunner{e: e, k: k, wake: make(chan struct{}, 1), running: map[string]context.CancelCauseFunc{}}
	return nil
}

// DefaultBackoff is 1 s · 2^(attempt-1), at most 5 minutes.
func DefaultBackoff(attempt int) time.Duration {
	d := time.Second
	for i := 1; i < attempt && d < 5*time.Minute; i++ {
		d *= 2
	}
	return min(d, 5*time.Minute)
}

// Kind returns the configuration of a registered kind (nil if unknown),
// for CancelTx.
func (e *Engine) Kind(name string) *Kind {
	if r := e.kinds[name]; r != nil {
		return r.k
	}
	return nil
}

// Owner is the name this engine's leases carry.
func (e *Engine) Owner() string { return e.cfg.Owner }

// Now is the engine's clock.
func (e *Engine) Now() time.Time { return e.cfg.Now() }

// Start runs the engine until Stop. Jobs left by a previous run resume in
// due order under the pool bounds.
func (e *Engine) Start(ctx context.Context) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.started {
		return
	}
	e.started = true
	ctx, e.stop = context.WithCancel(context.WithoutCancel(ctx))
	for _, r := range e.kinds {
		e.wg.Add(1)
		go func() {
			defer e.wg.Done()
			r.loop(ctx)
		}()
	}
}

// Stop cancels running work and waits for it; unfinished jobs stay in the
// store and resume at the next Start (or in another process once their
// leases lapse).
func (e *Engine) Stop() {
	e.mu.Lock()
	stop := e.stop
	e.mu.Unlock()
	if stop != nil {
		stop()
	}
	e.wg.Wait()
}

// Wake asks the kind's dispatcher to look for due jobs now (after a
// transaction that enqueued one commits).
func (e *Engine) Wake(kind string) {
	if r := e.kinds[kind]; r != nil {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// WakeAll wakes every kind (after the clock moved: tests on a manual
// clock).
func (e *Engine) WakeAll() {
	for name := range e.kinds {
		e.Wake(name)
	}
}

// Enqueue inserts a job in its own transaction and wakes its kind.
func (e *Engine) Enqueue(ctx context.Context, s Spec) error {
	err := e.cfg.Store.Update(ctx, func(tx store.Tx) error { return EnqueueTx(ctx, tx, e.cfg.Now(), s) })
	if err == nil {
		// A hint only for a job no bound orders (a key's jobs are claimed
		// in due order by the look).
		if r := e.kinds[s.Kind]; r != nil && (s.Due.IsZero() || !s.Due.After(e.cfg.Now())) &&
			(s.Key == "" || r.k.PerKey == 0) && len(s.Exclusive) == 0 && len(s.Shared) == 0 {
			r.hint(s.ID)
		}
		e.Wake(s.Kind)
	}
	return err
}

// maxHints bounds the ids of just-enqueued jobs a kind remembers.
const maxHints = 256

// hint remembers a job enqueued due in this process: the next claim tries
// it by id first, without the read-only look.
func (r *kindRunner) hint(id string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.hints) < maxHints {
		r.hints = append(r.hints, id)
	}
}

func (r *kindRunner) takeHints(n int) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	k := min(n, len(r.hints))
	out := append([]string(nil), r.hints[:k]...)
	r.hints = append(r.hints[:0], r.hints[k:]...)
	return out
}

// Cancel cancels job id and stops its run at once if it runs here.
func (e *Engine) Cancel(ctx context.Context, id string) error {
	var kind string
	err := e.cfg.Store.Update(ctx, func(tx store.Tx) error {
		j, err := GetTx(ctx, tx, id)
		if err != nil {
			return err
		}
		kind = j.Kind
		return CancelTx(ctx, tx, e.cfg.Now(), e.Kind(j.Kind), id)
	})
	if err == nil {
		e.Cancelled(kind, id)
	}
	return err
}

// Cancelled stops a local run of job id after a transaction that called
// CancelTx committed (other processes notice at their next renewal).
func (e *Engine) Cancelled(kind, id string) {
	if r := e.kinds[kind]; r != nil {
		r.mu.Lock()
		cancel := r.running[id]
		r.mu.Unlock()
		if cancel != nil {
			cancel(ErrCancelled)
		}
	}
}

// Signal sends a signal to job id (SignalTx in its own transaction, then
// Signalled): a run in this process sees it at once, one in another
// process at its next lease renewal.
func (e *Engine) Signal(ctx context.Context, id string) error {
	if err := e.cfg.Store.Update(ctx, func(tx store.Tx) error { return SignalTx(ctx, tx, id) }); err != nil {
		return err
	}
	e.Signalled(id)
	return nil
}

// Signalled delivers a signal to a run of job id in this process, after a
// transaction that called SignalTx committed.
func (e *Engine) Signalled(id string) {
	e.runsMu.Lock()
	run := e.runs[id]
	e.runsMu.Unlock()
	if run != nil {
		run.signal()
	}
}

// Get reads a job.
func (e *Engine) Get(ctx context.Context, id string) (*Job, error) {
	var j *Job
	err := e.cfg.Store.View(ctx, func(tx store.Tx) error {
		var err error
		j, err = GetTx(ctx, tx, id)
		return err
	})
	return j, err
}

// loop is one kind's dispatcher: claim what the pools allow, run it, and
// wait for a wake-up, a finished run or the poll interval.
func (r *kindRunner) loop(ctx context.Context) {
	// The committer outlives the runs: a run that finished just before
	// Stop still records its outcome.
	reqs := make(chan *outcomeReq, r.k.Workers)
	r.outcomes = reqs
	committed := make(chan struct{})
	go func() {
		defer close(committed)
		r.committer(context.WithoutCancel(ctx), reqs)
	}()
	defer func() { <-committed }()
	defer close(reqs)
	var wg sync.WaitGroup
	defer wg.Wait()
	finished := make(chan struct{}, r.k.Workers)
	timer := time.NewTimer(0)
	defer timer.Stop()
	first := true
	periodic := r.k.Period > 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-finished:
		case <-timer.C:
		}
		if periodic {
			if err := r.ensurePeriodic(ctx); err != nil {
				if ctx.Err() == nil {
					r.e.log.Error("jobs: scheduling a periodic job", "kind", r.k.Name, "error", err)
				}
			} else {
				periodic = false
			}
		}
		r.mu.Lock()
		free := r.k.Workers - len(r.running)
		r.mu.Unlock()
		if free > 0 {
			claimed, err := r.claim(ctx, free, first)
			if err != nil && ctx.Err() == nil {
				r.e.log.Error("jobs: claiming", "kind", r.k.Name, "error", err)
			}
			if err == nil {
				first = false
			}
			for _, j := range claimed {
				rctx, cancel := context.WithCancelCause(ctx)
				r.mu.Lock()
				r.running[j.ID] = cancel
				r.mu.Unlock()
				wg.Add(1)
				go func() {
					defer wg.Done()
					r.run(rctx, j)
					cancel(nil)
					r.mu.Lock()
					delete(r.running, j.ID)
					r.mu.Unlock()
					// A wake-up, not a count: when the buffer is full the
					// loop is bound to look again. Never block here: after
					// Stop nobody receives, and wg.Wait would wait forever.
					select {
					case finished <- struct{}{}:
					default:
					}
				}()
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(r.e.cfg.Poll)
	}
}

// PeriodicJobID is the id of a periodic kind's one job.
func PeriodicJobID(kind string) string { return "periodic/" + kind }

// ensurePeriodic makes sure the periodic kind's job exists and is live
// (a cancelled or failed one is scheduled again), looking before writing.
func (r *kindRunner) ensurePeriodic(ctx context.Context) error {
	e := r.e
	id := PeriodicJobID(r.k.Name)
	fine := false
	err := e.cfg.Store.View(ctx, func(tx store.Tx) error {
		j, err := GetTx(ctx, tx, id)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		fine = err == nil && !j.State.Terminal()
		return err
	})
	if err != nil || fine {
		return err
	}
	err = e.cfg.Store.Update(ctx, func(tx store.Tx) error {
		now := e.cfg.Now()
		next := r.nextPeriod(now, now)
		j, err := GetTx(ctx, tx, id)
		if errors.Is(err, store.ErrNotFound) {
			return EnqueueTx(ctx, tx, now, Spec{ID: id, Kind: r.k.Name, Due: next})
		}
		if err != nil || !j.State.Terminal() {
			return err
		}
		j.State, j.Due, j.Attempt, j.Finished, j.Error = Queued, next, 0, time.Time{}, ""
		rec, err := record(j)
		if err != nil {
			return err
		}
		return tx.Update(ctx, rec)
	})
	if errors.Is(err, store.ErrExists) || errors.Is(err, store.ErrVersion) {
		return nil // another process did it
	}
	return err
}

// nextPeriod is the due time of the period after the one due at due: the
// next multiple of Period, or, when that has passed already (a period was
// missed entirely), the first multiple after now.
func (r *kindRunner) nextPeriod(due, now time.Time) time.Time {
	p := r.k.Period
	next := due.Truncate(p).Add(p)
	if next.Add(p).After(now) {
		return next
	}
	return now.Truncate(p).Add(p)
}

// scanLimit bounds the jobs one claim looks at: the running ones of the
// kind (in every process) plus the first waiting ones in due order.
const scanLimit = 1000

// claim leases up to n due jobs. takeOver (the first claim of an
// exclusive engine) treats every lease as lapsed.
//
// It looks first in a read-only transaction, which scans the due jobs in
// due order and picks the ones the bounds admit; the write transaction,
// opened only when that found something to claim (or a key to queue for),
// reads just those jobs again by id, with their slot and lock records, and
// leases the ones still claimable. An idle engine, or one whose due jobs
// all wait behind a bound, writes nothing; and the write transaction reads
// no range of jobs, so on PostgreSQL claims and outcomes (each touching
// its own rows) do not fail each other's serializable checks.
func (r *kindRunner) claim(ctx context.Context, n int, takeOver bool) ([]*Job, error) {
	e := r.e
	takeOver = takeOver && e.cfg.Exclusive
	if hinted := r.takeHints(n); len(hinted) > 0 && !takeOver {
		// Jobs this process just enqueued: straight to the write
		// transaction, which checks them as it would any (earlier due
		// jobs, if any, wait for the next look: they are found by it).
		claimed, err := r.lease(ctx, hinted, n, false)
		if err != nil || len(claimed) > 0 {
			return claimed, err
		}
	}
	var picked []string
	err := e.cfg.Store.View(ctx, func(tx store.Tx) error {
		recs, full, err := r.scan(ctx, tx, n, nil)
		if err != nil {
			return err
		}
		_, picked, err = r.plan(ctx, tx, recs, n, takeOver, false)
		// When the first page's jobs wait behind bounds, look further (up
		// to scanLimit): a later job of another key may run.
		for err == nil && full && len(picked) < n && len(recs) < scanLimit {
			var more []*store.Record
			last := recs[len(recs)-1]
			more, full, err = r.scan(ctx, tx, n, &store.Cursor{SortKey: last.SortKey, ID: last.ID})
			if err != nil || len(more) == 0 {
				break
			}
			recs = append(recs, more...)
			_, picked, err = r.plan(ctx, tx, recs, n, takeOver, false)
		}
		return err
	})
	if err != nil || len(picked) == 0 {
		return nil, err
	}
	return r.lease(ctx, picked, n, takeOver)
}

// lease claims, in one write transaction, those of the picked jobs that
// are still claimable, reading each by id.
func (r *kindRunner) lease(ctx context.Context, picked []string, n int, takeOver bool) ([]*Job, error) {
	e := r.e
	var claimed []*Job
	err := e.cfg.Store.Update(ctx, func(tx store.Tx) error {
		recs := make([]*store.Record, 0, len(picked))
		for _, id := range picked {
			rec, err := tx.Get(ctx, RecordKind, id)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if rec.Pending {
				recs = append(recs, rec)
			}
		}
		var err error
		claimed, _, err = r.plan(ctx, tx, recs, n, takeOver, true)
		return err
	})
	if errors.Is(err, store.ErrVersion) || errors.Is(err, store.ErrExists) {
		// Another process claimed first; look again at the next round.
		return nil, nil
	}
	return claimed, err
}

// scan lists a page of due pending jobs of the kind in due order (after
// a cursor): enough for n claims past the running ones; full says there
// may be more. Only what is due
// (running jobs are, since their due time is past): jobs waiting for a
// later time (the next step of a lifecycle) are never read, however many
// there are.
func (r *kindRunner) scan(ctx context.Context, tx store.Tx, n int, after *store.Cursor) (recs []*store.Record, full bool, err error) {
	due := dueKey(r.e.cfg.Now())
	r.mu.Lock()
	page := min(max(2*n, 16)+len(r.running), scanLimit)
	r.mu.Unlock()
	recs, err = tx.List(ctx, store.Query{Kind: RecordKind, Parent: r.k.Name, PendingOnly: true, SortKeyMax: &due,
		After: after, Limit: page})
	return recs, len(recs) == page, err
}

// plan goes through recs (due order) and picks up to n jobs the bounds
// admit; with write it leases them in tx, with their slots and keys.
// picked are the ids of the jobs claimed and of those that became a key's
// waiter (which also writes).
func (r *kindRunner) plan(ctx context.Context, tx store.Tx, recs []*store.Record, n int, takeOver, write bool) (claimed []*Job, picked []string, err error) {
	e := r.e
	now := e.cfg.Now()
	slotCache := map[string]*slotState{}
	lk := newLocks(tx)
	for _, rec := range recs {
		if len(claimed) == n {
			break
		}
		j, err := decode(rec)
		if err != nil {
			return nil, nil, err
		}
		if j.State.Terminal() || j.Due.After(now) {
			continue
		}
		if j.State == Running && r.holds(j, now, takeOver) {
			continue
		}
		if j.Key != "" && r.k.PerKey > 0 {
			ss, err := r.slotFor(ctx, tx, j, slotCache, now, takeOver)
			if err != nil {
				return nil, nil, err
			}
			if ss.live >= r.k.PerKey {
				continue // the key is full: wait, in order
			}
		}
		ok, marked, err := lk.admit(ctx, j)
		if err != nil {
			return nil, nil, err
		}
		if marked || ok {
			picked = append(picked, j.ID)
		}
		if !ok {
			continue // a key is held: wait, in order
		}
		if j.Key != "" && r.k.PerKey > 0 {
			slotCache[slotID(j.Kind, j.Key)].admit(j.ID, r.k.PerKey)
		}
		j.State, j.LeaseOwner, j.LeaseUntil = Running, e.cfg.Owner, now.Add(r.k.Lease)
		j.Attempt++
		if j.MaxAttempts == 0 {
			j.MaxAttempts = r.k.MaxAttempts
		}
		if write {
			nrec, err := record(j)
			if err != nil {
				return nil, nil, err
			}
			if err := tx.Update(ctx, nrec); err != nil {
				return nil, nil, err
			}
			j.version = nrec.Version
		}
		claimed = append(claimed, j)
	}
	if !write {
		return claimed, picked, nil
	}
	for _, ss := range slotCache {
		if err := ss.save(ctx, tx); err != nil {
			return nil, nil, err
		}
	}
	if err := lk.save(ctx); err != nil {
		return nil, nil, err
	}
	return claimed, picked, nil
}

// slotState is a key's slot record during one claim.
type slotState struct {
	rec     *store.Record
	s       slots
	live    int
	changed bool
}

// slotFor reads (once per claim) the slot record of j's key and counts the
// jobs in it that still run under a live lease, pruning the others.
func (r *kindRunner) slotFor(ctx context.Context, tx store.Tx, j *Job, cache map[string]*slotState, now time.Time, takeOver bool) (*slotState, error) {
	id := slotID(j.Kind, j.Key)
	if ss := cache[id]; ss != nil {
		return ss, nil
	}
	ss := &slotState{}
	rec, err := tx.Get(ctx, SlotKind, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		ss.rec = &store.Record{Kind: SlotKind, ID: id, Parent: j.Kind, SortKey: id}
	case err != nil:
		return nil, err
	default:
		ss.rec = rec
		if err := json.Unmarshal(rec.Data, &ss.s); err != nil {
			return nil, err
		}
	}
	kept := ss.s.Jobs[:0]
	for _, other := range ss.s.Jobs {
		oj, err := GetTx(ctx, tx, other)
		if errors.Is(err, store.ErrNotFound) {
			ss.changed = true
			continue
		}
		if err != nil {
			return nil, err
		}
		if oj.ID == j.ID || oj.State != Running || !r.holds(oj, now, takeOver) {
			ss.changed = true
			continue
		}
		kept = append(kept, other)
	}
	ss.s.Jobs, ss.live = kept, len(kept)
	cache[id] = ss
	return ss, nil
}

// holds reports whether a running job is still held: by a local run, or
// by another process's live lease (unless an exclusive start takes every
// lease over). A lease of this engine's owner without a local run is
// stale (left by an earlier Start in this process).
func (r *kindRunner) holds(j *Job, now time.Time, takeOver bool) bool {
	r.mu.Lock()
	_, local := r.running[j.ID]
	r.mu.Unlock()
	if local {
		return true
	}
	return j.LeaseOwner != r.e.cfg.Owner && j.LeaseUntil.After(now) && !takeOver
}

func (ss *slotState) admit(id string, limit int) bool {
	if ss.live >= limit {
		return false
	}
	ss.s.Jobs = append(ss.s.Jobs, id)
	ss.live++
	ss.changed = true
	return true
}

// save writes the slot record when the claim changed it. Writing it also
// when two processes claim under the same key makes one of them fail the
// version check, so the bound holds across processes.
func (ss *slotState) save(ctx context.Context, tx store.Tx) error {
	if !ss.changed {
		return nil
	}
	data, err := json.Marshal(ss.s)
	if err != nil {
		return err
	}
	ss.rec.Data = data
	if ss.rec.Version == 0 {
		if len(ss.s.Jobs) == 0 {
			return nil
		}
		return tx.Insert(ctx, ss.rec)
	}
	if len(ss.s.Jobs) == 0 {
		return tx.Delete(ctx, SlotKind, ss.rec.ID)
	}
	return tx.Update(ctx, ss.rec)
}

// Run is one attempt of a job, as its handler sees it.
type Run struct {
	// Job is a copy of the job as claimed.
	Job Job

	signals chan struct{}
	lease   time.Duration
	now     func() time.Time

	mu        sync.Mutex
	progress  json.RawMessage
	dirty     bool
	again     time.Duration
	seen      int64     // the job's Signals last delivered
	confirmed time.Time // when the lease was last known held
}

func newRun(j *Job, lease time.Duration, now func() time.Time) *Run {
	return &Run{Job: *j, signals: make(chan struct{}, 1), lease: lease, now: now, seen: j.Signals, confirmed: now()}
}

// Signals delivers the job's signals (SignalTx, Engine.Signal): one value
// stands for one or more signals sent since the last one was received.
// A signal sent in this process arrives at once; one sent from another
// process at this run's next lease renewal (a third of the lease).
func (r *Run) Signals() <-chan struct{} { return r.signals }

func (r *Run) signal() {
	select {
	case r.signals <- struct{}{}:
	default:
	}
}

// LeaseHeld reports whether the run's lease is certainly still held: it
// was confirmed (claimed or renewed) less than half a lease ago. Work that
// must never overlap another process's (deleting what the next holder of
// an exclusive key may use) checks it before each irreversible step.
func (r *Run) LeaseHeld() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now().Sub(r.confirmed) < r.lease/2
}

func (r *Run) confirm(at time.Time, signals int64) {
	r.mu.Lock()
	r.confirmed = at
	news := signals > r.seen
	if news {
		r.seen = signals
	}
	r.mu.Unlock()
	if news {
		r.signal()
	}
}

// Args decodes the job's arguments into v.
func (r *Run) Args(v any) error {
	if len(r.Job.Args) == 0 {
		return nil
	}
	return json.Unmarshal(r.Job.Args, v)
}

// Report records the job's progress; it is written with the next lease
// renewal and with the job's outcome.
func (r *Run) Report(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	r.mu.Lock()
	r.progress, r.dirty = b, true
	r.mu.Unlock()
	return nil
}

// Again reschedules the job after d instead of finishing it, like
// Result.Again; a Commit function calls it when whether another step
// follows depends on what it found in the transaction.
func (r *Run) Again(d time.Duration) {
	r.mu.Lock()
	r.again = d
	r.mu.Unlock()
}

func (r *Run) againAfter() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.again
}

// peekProgress is the progress to write with the outcome (taken once the
// outcome's transaction committed: a transaction run again writes it too).
func (r *Run) peekProgress() (json.RawMessage, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.progress, r.dirty
}

func (r *Run) takeProgress() (json.RawMessage, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, d := r.progress, r.dirty
	r.dirty = false
	return p, d
}

// ours reports whether the stored job j is still the attempt claimed
// (running under this engine's lease, not cancelled nor taken over). A
// signal changes the record's version, not this.
func (e *Engine) ours(j, claimed *Job) bool {
	return j.State == Running && j.LeaseOwner == e.cfg.Owner && j.Attempt == claimed.Attempt
}

// run does one attempt of j, renewing its lease, then commits the outcome.
func (r *kindRunner) run(ctx context.Context, j *Job) {
	e := r.e
	outcome := "interrupted"
	if o := e.cfg.Observer; o != nil {
		o.JobStarted(r.k.Name)
		defer func() { o.JobFinished(r.k.Name, outcome) }()
	}
	run := newRun(j, r.k.Lease, e.cfg.Now)
	e.runsMu.Lock()
	e.runs[j.ID] = run
	e.runsMu.Unlock()
	defer func() {
		e.runsMu.Lock()
		if e.runs[j.ID] == run {
			delete(e.runs, j.ID)
		}
		e.runsMu.Unlock()
	}()
	cancel := r.cancelOf(j.ID)
	var renewMu sync.Mutex // a renewal and the outcome never overlap
	renewDone := make(chan struct{})
	renewStop := make(chan struct{})
	go func() {
		defer close(renewDone)
		t := time.NewTicker(r.k.Lease / 3)
		defer t.Stop()
		leaseUntil := j.LeaseUntil
		for {
			select {
			case <-renewStop:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			renewMu.Lock()
			until, cause, err := r.renew(ctx, j, run)
			renewMu.Unlock()
			switch {
			case cause != nil:
				cancel(cause)
				return
			case err != nil && ctx.Err() == nil:
				e.log.Warn("jobs: renewing a lease", "kind", r.k.Name, "job", j.ID, "error", err)
				if !e.cfg.Now().Before(leaseUntil) {
					// Not renewed in time: another process may hold it now.
					cancel(ErrLeaseLost)
					return
				}
			case err == nil:
				leaseUntil = until
			}
		}
	}()

	res, runErr := r.safeRun(ctx, run)
	close(renewStop)
	<-renewDone
	if ctx.Err() != nil {
		// Cancelled or taken over: someone else owns the outcome. Or the
		// engine is stopping: the job stays running under a lease that
		// lapses (or that the next exclusive start takes over), and runs
		// again.
		return
	}
	renewMu.Lock()
	defer renewMu.Unlock()
	req := &outcomeReq{claimed: j, run: run, res: res, runErr: runErr, done: make(chan outcomeDone, 1)}
	r.outcomes <- req
	d := <-req.done
	outcome, err := d.outcome, d.err
	if err != nil {
		outcome = "interrupted"
		e.log.Error("jobs: recording the outcome", "kind", r.k.Name, "job", j.ID, "error", err)
	}
}

// commitError is a Result.Commit's error inside finish.
type commitError struct{ err error }

func (c commitError) Error() string { return c.err.Error() }

func (r *kindRunner) cancelOf(id string) context.CancelCauseFunc {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.running[id]
}

// safeRun calls the handler, turning a panic into a permanent failure.
func (r *kindRunner) safeRun(ctx context.Context, run *Run) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			r.e.log.Error("jobs: handler panicked", "kind", r.k.Name, "job", run.Job.ID, "panic", fmt.Sprint(p))
			res, err = Result{}, Permanent(fmt.Errorf("the job's handler failed: %v", p))
		}
	}()
	return r.k.Handler.Run(ctx, run)
}

// renew extends the lease of the claimed job, writing progress and
// delivering a signal sent from another process. It returns the new
// lease expiry, or a cause when the run must stop.
func (r *kindRunner) renew(ctx context.Context, claimed *Job, run *Run) (time.Time, error, error) {
	e := r.e
	var cause error
	var until time.Time
	var signals int64
	err := e.cfg.Store.Update(ctx, func(tx store.Tx) error {
		cause = nil
		j, err := GetTx(ctx, tx, claimed.ID)
		if errors.Is(err, store.ErrNotFound) {
			cause = ErrLeaseLost
			return nil
		}
		if err != nil {
			return err
		}
		switch {
		case j.State == Cancelled:
			cause = ErrCancelled
			return nil
		case !e.ours(j, claimed):
			cause = ErrLeaseLost
			return nil
		}
		until = e.cfg.Now().Add(r.k.Lease)
		j.LeaseUntil, signals = until, j.Signals
		if p, dirty := run.takeProgress(); dirty {
			j.Progress = p
		}
		rec, err := record(j)
		if err != nil {
			return err
		}
		return tx.Update(ctx, rec)
	})
	if errors.Is(err, store.ErrVersion) {
		return time.Time{}, ErrLeaseLost, nil
	}
	if err == nil && cause == nil {
		run.confirm(until.Add(-r.k.Lease), signals)
	}
	return until, cause, err
}

// finish records the outcome of an attempt, if the lease is still held.
func (r *kindRunner) finish(ctx context.Context, claimed *Job, run *Run, res Result, runErr error) (string, error) {
	var o outcomeTx
	err := r.e.cfg.Store.Update(ctx, func(tx store.Tx) error {
		var err error
		o, err = r.finishTx(ctx, tx, claimed, run, res, runErr)
		return err
	})
	if errors.Is(err, store.ErrVersion) {
		return "interrupted", nil // changed under us (cancelled, taken over)
	}
	if err != nil {
		return "interrupted", err
	}
	if o.committed && res.Done != nil {
		res.Done()
	}
	return o.outcome, nil
}

// outcomeTx is what finishTx recorded.
type outcomeTx struct {
	outcome   string
	committed bool // the work's Commit ran (Done may follow)
}

// finishTx records the outcome of an attempt in tx, if the lease is still
// held.
func (r *kindRunner) finishTx(ctx context.Context, tx store.Tx, claimed *Job, run *Run, res Result, runErr error) (outcomeTx, error) {
	e := r.e
	o := outcomeTx{outcome: "interrupted"}
	j, err := GetTx(ctx, tx, claimed.ID)
	if errors.Is(err, store.ErrNotFound) {
		return o, nil
	}
	if err != nil {
		return o, err
	}
	if !e.ours(j, claimed) {
		return o, nil // cancelled or taken over: not ours to record
	}
	now := e.cfg.Now()
	if p, dirty := run.peekProgress(); dirty {
		j.Progress = p
	}
	j.LeaseOwner, j.LeaseUntil = "", time.Time{}
	var perm permanent
	switch {
	case runErr == nil:
		if res.Commit != nil {
			if err := res.Commit(ctx, tx); err != nil {
				return o, commitError{err}
			}
		}
		o.committed = true
		j.Error = ""
		if again := max(res.Again, run.againAfter()); again > 0 {
			j.State, j.Due, j.Attempt = Queued, now.Add(again), 0
			o.outcome = "again"
		} else if r.k.Period > 0 {
			j.State, j.Due, j.Attempt = Queued, r.nextPeriod(j.Due, now), 0
			o.outcome = "done"
		} else {
			j.State, j.Finished = Done, now
			o.outcome = "done"
		}
	case errors.As(runErr, &perm) || j.Attempt >= j.MaxAttempts:
		j.State, j.Finished, j.Error = Failed, now, clientText(runErr)
		o.outcome = "failed"
		if r.k.OnFailed != nil {
			if err := r.k.OnFailed(ctx, tx, j, runErr); err != nil {
				return o, err
			}
		}
		if r.k.Period > 0 {
			// A periodic job's next period runs whatever this one did.
			j.State, j.Finished, j.Due, j.Attempt = Queued, time.Time{}, r.nextPeriod(j.Due, now), 0
		}
	default:
		o.outcome = "retry"
		j.State, j.Due, j.Error = Queued, now.Add(r.k.Backoff(j.Attempt)), clientText(runErr)
		e.log.Warn("jobs: attempt failed; retrying", "kind", r.k.Name, "job", j.ID, "attempt", j.Attempt, "error", runErr)
	}
	if err := releaseTx(ctx, tx, j); err != nil {
		return o, err
	}
	if j.State.Terminal() {
		if err := unlockTx(ctx, tx, j); err != nil {
			return o, err
		}
	}
	rec, err := record(j)
	if err != nil {
		return o, err
	}
	return o, tx.Update(ctx, rec)
}

// An outcome waits for the kind's committer, which records the outcomes
// waiting together in one transaction: one commit (and one fsync) for a
// burst of short jobs instead of one each, and on PostgreSQL no
// serializable conflicts between concurrent outcome transactions (each
// reads the job record it updates, and neighbouring records share index
// pages). A batch that fails for any reason is recorded one outcome at a
// time instead, so one job's failing Commit costs no other job anything.
type outcomeReq struct {
	claimed *Job
	run     *Run
	res     Result
	runErr  error
	done    chan outcomeDone
}

type outcomeDone struct {
	outcome string
	err     error
}

// maxBatch bounds the outcomes one transaction records.
const maxBatch = 64

// committer records outcomes until reqs is closed.
func (r *kindRunner) committer(ctx context.Context, reqs <-chan *outcomeReq) {
	for req := range reqs {
		batch := []*outcomeReq{req}
	more:
		for len(batch) < maxBatch {
			select {
			case q, ok := <-reqs:
				if !ok {
					break more
				}
				batch = append(batch, q)
			default:
				break more
			}
		}
		if len(batch) == 1 {
			outcome, err := r.finishOne(ctx, req)
			req.done <- outcomeDone{outcome, err}
			continue
		}
		outs := make([]outcomeTx, len(batch))
		err := r.e.cfg.Store.Update(ctx, func(tx store.Tx) error {
			for i, q := range batch {
				o, err := r.finishTx(ctx, tx, q.claimed, q.run, q.res, q.runErr)
				if err != nil {
					return err
				}
				outs[i] = o
			}
			return nil
		})
		if err != nil {
			// One at a time: each gets its own fate (a failing Commit a
			// retry, a lost lease nothing).
			for _, q := range batch {
				outcome, err := r.finishOne(ctx, q)
				q.done <- outcomeDone{outcome, err}
			}
			continue
		}
		for i, q := range batch {
			q.run.takeProgress()
			if outs[i].committed && q.res.Done != nil {
				q.res.Done()
			}
			q.done <- outcomeDone{outs[i].outcome, nil}
		}
	}
}

// finishOne records one outcome in its own transaction; a failing Commit
// is a failed attempt like any other, retried after a backoff and in the
// end failed for good with OnFailed, never retried at once and for ever.
func (r *kindRunner) finishOne(ctx context.Context, q *outcomeReq) (string, error) {
	outcome, err := r.finish(ctx, q.claimed, q.run, q.res, q.runErr)
	var ce commitError
	if errors.As(err, &ce) {
		r.e.log.Warn("jobs: the outcome's commit failed", "kind", r.k.Name, "job", q.claimed.ID, "error", ce.err)
		outcome, err = r.finish(ctx, q.claimed, q.run, Result{}, ce.err)
	}
	if err == nil {
		q.run.takeProgress()
	}
	return outcome, err
}

// clientText is an error's client-safe text: a fault's message, or a
// generic one (the cause is logged, not stored where a client reads it).
func clientText(err error) string {
	var fe *fault.Error
	if errors.As(err, &fe) {
		return fe.Message
	}
	var p permanent
	if errors.As(err, &p) {
		if errors.As(p.err, &fe) {
			return fe.Message
		}
	}
	return "internal error"
}

// maxCounted bounds the pending jobs one Pending call reads per kind.
const maxCounted = 10000

// Pending counts the pending (queued or running) jobs of each of this
// engine's kinds in the store, across every process sharing it: kind →
// state → count, reading at most maxCounted jobs per kind (a count that
// reaches it means "at least").
func (e *Engine) Pending(ctx context.Context) (map[string]map[State]int, error) {
	e.mu.Lock()
	names := make([]string, 0, len(e.kinds))
	for name := range e.kinds {
		names = append(names, name)
	}
	e.mu.Unlock()
	out := map[string]map[State]int{}
	err := e.cfg.Store.View(ctx, func(tx store.Tx) error {
		for _, name := range names {
			recs, err := tx.List(ctx, store.Query{Kind: RecordKind, Parent: name, PendingOnly: true, Limit: maxCounted})
			if err != nil {
				return err
			}
			byState := map[State]int{Queued: 0, Running: 0}
			for _, rec := range recs {
				j, err := decode(rec)
				if err != nil {
					return err
				}
				byState[j.State]++
			}
			out[name] = byState
		}
		return nil
	})
	return out, err
}
