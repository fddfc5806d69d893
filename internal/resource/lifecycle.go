package resource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/store"
)

// Lifecycle drives the values of a Scoped table through timed status
// steps on the job engine: one job per phase of one incarnation of a
// value (its UID tells a recreated value's jobs from the old one's), a
// step Delay after the phase began, retried by the engine, and a Failed
// status when every attempt failed. A family states its statuses; the
// job plumbing is here once.
type Lifecycle[T any, P store.Cloner[T]] struct {
	// Kind is the job kind (the server registers JobKind()).
	Kind  string
	Table *Scoped[T, P]
	// Delay is the pause before a phase's step (the server's lifecycle
	// step); MaxAttempts bounds a step's attempts (default 5).
	Delay       time.Duration
	MaxAttempts int
	// UID is the value's incarnation; Phase names its phase in flight
	// ("" when none: nothing to do, nothing to resume).
	UID, Phase func(P) string
	// DB is the store Prepare's read of the value runs in (needed with
	// Prepare).
	DB store.Store
	// Prepare, when set, does the step's long work on v (files, fetches)
	// outside any transaction, before Next commits it; it must be
	// idempotent, since a crash between the two runs it again.
	Prepare func(ctx context.Context, v P) error
	// Next takes the step due on v (updates or deletes it) in tx, and
	// reports whether another step follows.
	Next func(ctx context.Context, tx store.Tx, v P, version int64) (again bool, err error)
	// Failed records in tx that v's phase exhausted its attempts, with a
	// client-safe reason (the model's failed status).
	Failed func(ctx context.Context, tx store.Tx, v P, version int64, reason string) error
	// Now is the clock (default time.Now).
	Now func() time.Time
}

type lifecycleArgs struct {
	Parent string `json:"parent"`
	Name   string `json:"name"`
	UID    string `json:"uid"`
}

func (l *Lifecycle[T, P]) now() time.Time {
	if l.Now != nil {
		return l.Now().UTC()
	}
	return time.Now().UTC()
}

// EnqueueTx schedules the step of v's current phase, Delay from now; a job
// already there for that phase is kept.
func (l *Lifecycle[T, P]) EnqueueTx(ctx context.Context, tx *Tx, v P) error {
	phase := l.Phase(v)
	if phase == "" {
		return nil
	}
	parent, name := l.Table.def.Parent(v), l.Table.def.Name(v)
	now := l.now()
	return tx.Enqueue(ctx, now, jobs.Spec{ID: strings.Join([]string{l.Kind, parent, name, l.UID(v), phase}, "/"),
		Kind: l.Kind, Key: parent, Args: lifecycleArgs{parent, name, l.UID(v)}, Due: now.Add(l.Delay)})
}

// JobKind is the job kind that runs the steps.
func (l *Lifecycle[T, P]) JobKind() *jobs.Kind {
	attempts := l.MaxAttempts
	if attempts <= 0 {
		attempts = 5
	}
	return &jobs.Kind{Name: l.Kind, Workers: 4, Lease: 30 * time.Second, MaxAttempts: attempts,
		Handler: jobs.HandlerFunc(l.run), OnFailed: l.onFailed}
}

// current reads the value a job's args name, nil when it is gone or is
// another incarnation.
func (l *Lifecycle[T, P]) current(ctx context.Context, tx store.Tx, raw json.RawMessage) (P, int64, error) {
	var a lifecycleArgs
	if err := json.Unmarshal(raw, &a); err != nil {
		return nil, 0, jobs.Permanent(fmt.Errorf("%s: bad job args: %w", l.Kind, err))
	}
	v, version, err := l.Table.Get(ctx, tx, a.Parent, a.Name)
	if errors.Is(err, store.ErrNotFound) || err == nil && l.UID(v) != a.UID {
		return nil, 0, nil
	}
	return v, version, err
}

func (l *Lifecycle[T, P]) run(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
	var raw json.RawMessage
	if err := r.Args(&raw); err != nil {
		return jobs.Result{}, jobs.Permanent(err)
	}
	var phase string
	if l.Prepare != nil {
		var v P
		err := l.DB.View(ctx, func(tx store.Tx) error {
			var err error
			v, _, err = l.current(ctx, tx, raw)
			return err
		})
		if err != nil || v == nil || l.Phase(v) == "" {
			return jobs.Result{}, err
		}
		if err := l.Prepare(ctx, v); err != nil {
			return jobs.Result{}, err
		}
		phase = l.Phase(v)
	}
	return jobs.Result{Commit: func(ctx context.Context, tx store.Tx) error {
		v, version, err := l.current(ctx, tx, raw)
		if err != nil || v == nil || l.Phase(v) == "" {
			return err
		}
		if l.Prepare != nil && l.Phase(v) != phase {
			return fmt.Errorf("%s: the phase changed while it was prepared; it runs again", l.Kind)
		}
		again, err := l.Next(ctx, tx, v, version)
		if again {
			r.Again(l.Delay)
		}
		return err
	}}, nil
}

func (l *Lifecycle[T, P]) onFailed(ctx context.Context, tx store.Tx, j *jobs.Job, cause error) error {
	v, version, err := l.current(ctx, tx, j.Args)
	if err != nil || v == nil || l.Phase(v) == "" {
		return err
	}
	return l.Failed(ctx, tx, v, version, SafeReason(cause))
}

// SafeReason is what a status reason may say of err: a domain error's
// client-safe message, nothing of any other (paths, addresses, ports).
func SafeReason(err error) string {
	var f *fault.Error
	if errors.As(err, &f) {
		return f.Message
	}
	return "an internal error occurred"
}

// Resume schedules the step of every value in flight (Def.Pending), after
// a restart; a job already there is kept.
func (l *Lifecycle[T, P]) Resume(ctx context.Context, m Mutator) error {
	var after *store.Cursor
	for {
		err := m.Mutate(ctx, func(tx *Tx) error {
			page, err := l.Table.Page(ctx, tx, store.Query{AnyParent: true, PendingOnly: true, After: after}, 200)
			if err != nil {
				return err
			}
			for _, v := range page.Items {
				if err := l.EnqueueTx(ctx, tx, v); err != nil {
					return err
				}
			}
			after = page.Next
			return nil
		})
		if err != nil || after == nil {
			return err
		}
	}
}
