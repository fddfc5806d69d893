package runtime

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

var (
	// ErrExitedBeforeReady: the process ended before its readiness hook
	// succeeded.
	ErrExitedBeforeReady = errors.New("runtime: the process exited before it was ready")
	// ErrReadyTimeout: the readiness hook did not succeed in time.
	ErrReadyTimeout = errors.New("runtime: the process was not ready in time")
)

// Ready reports when a started process is ready: it returns nil once it
// is, or an error when ctx ends (the process exited, or the wait timed
// out) or when it can tell the process will never be.
type Ready func(ctx context.Context, h Handle) error

// StartReady starts spec on d and waits for ready (nil: ready at once),
// for at most timeout (default 30 s). On failure the process is stopped
// (grace 1 s) and destroyed; the error wraps ErrExitedBeforeReady (and
// an *ExitError), ErrReadyTimeout, ctx's error, or the hook's.
func StartReady(ctx context.Context, d Driver, spec Spec, ready Ready, timeout time.Duration) (Handle, error) {
	h, err := d.Start(ctx, spec)
	if err != nil || ready == nil {
		return h, err
	}
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	exited := make(chan Exit, 1)
	go func() {
		if e, err := d.Wait(rctx, h); err == nil {
			exited <- e
			cancel()
		}
	}()
	err = ready(rctx, h)
	if err == nil {
		return h, nil
	}
	fail := func(err error) (Handle, error) {
		_ = d.Stop(h, time.Second)
		_ = d.Destroy(h)
		return Handle{}, err
	}
	select {
	case e := <-exited:
		return fail(fmt.Errorf("%w: %w", ErrExitedBeforeReady, &ExitError{Exit: e}))
	default:
	}
	switch {
	case ctx.Err() != nil:
		return fail(ctx.Err())
	case rctx.Err() != nil:
		return fail(fmt.Errorf("%w (%s)", ErrReadyTimeout, timeout))
	}
	return fail(err)
}

// Event is what a Supervisor reports at each start and exit.
type Event struct {
	// Up is true when the process (re)started and is ready; false when it
	// exited (Exit is set) or failed to start (Err says why).
	Up bool
	// Stopped marks the exit of a process the supervisor stopped (its
	// context ended, or Stop): no restart follows.
	Stopped bool
	Handle  Handle
	Exit    *Exit
	Err     error
	// Restarts counts the starts after the first.
	Restarts int
}

// Supervisor keeps one process running on Driver: it starts it (Spec is
// asked for each start, so each may differ: a new port), waits for Ready,
// and when the process exits or fails to start, starts it again after a
// backoff doubling from MinBackoff to MaxBackoff (back to MinBackoff once
// a process stayed up StableAfter), until its context ends or Stop; then
// it stops the process (SIGTERM, SIGKILL after Grace).
type Supervisor struct {
	Driver Driver
	// Spec returns the spec of the start after restarts earlier ones.
	Spec         func(restarts int) (Spec, error)
	Ready        Ready
	ReadyTimeout time.Duration
	// OnEvent is called from the supervising goroutine at each start and
	// exit.
	OnEvent func(Event)
	// Grace is how long a stop waits after SIGTERM (default 5 s).
	Grace                               time.Duration
	MinBackoff, MaxBackoff, StableAfter time.Duration

	once, stopOnce sync.Once
	stop, done     chan struct{}

	mu     sync.Mutex
	status Status
	handle Handle
}

func (s *Supervisor) init() {
	s.once.Do(func() {
		s.stop, s.done = make(chan struct{}), make(chan struct{})
		if s.OnEvent == nil {
			s.OnEvent = func(Event) {}
		}
		if s.Grace <= 0 {
			s.Grace = 5 * time.Second
		}
		if s.MinBackoff <= 0 {
			s.MinBackoff = 200 * time.Millisecond
		}
		if s.MaxBackoff <= 0 {
			s.MaxBackoff = 30 * time.Second
		}
		if s.StableAfter <= 0 {
			s.StableAfter = time.Minute
		}
	})
}

// Run supervises until ctx ends or Stop, and returns once the process is
// stopped.
func (s *Supervisor) Run(ctx context.Context) {
	s.init()
	defer close(s.done)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		select {
		case <-s.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	backoff := s.MinBackoff
	for restarts := 0; ; restarts++ {
		h, err := s.start(ctx, restarts)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.record(Handle{}, Status{State: StateExited, Restarts: restarts})
			s.OnEvent(Event{Err: err, Restarts: restarts})
		} else {
			s.record(h, Status{State: StateRunning, PID: h.PID, Started: h.Started, Restarts: restarts})
			s.OnEvent(Event{Up: true, Handle: h, Restarts: restarts})
			exit, err := s.Driver.Wait(ctx, h)
			if err != nil { // ctx ended
				_ = s.Driver.Stop(h, s.Grace)
				exit, err := s.Driver.Wait(context.Background(), h)
				_ = s.Driver.Destroy(h)
				if err == nil {
					s.record(h, Status{State: StateExited, PID: h.PID, Started: h.Started, Exit: &exit, Restarts: restarts})
					s.OnEvent(Event{Stopped: true, Handle: h, Exit: &exit, Err: &ExitError{Exit: exit}, Restarts: restarts})
				}
				return
			}
			_ = s.Driver.Destroy(h)
			if exit.At.Sub(h.Started) >= s.StableAfter {
				backoff = s.MinBackoff
			}
			s.record(h, Status{State: StateExited, PID: h.PID, Started: h.Started, Exit: &exit, Restarts: restarts})
			s.OnEvent(Event{Handle: h, Exit: &exit, Err: &ExitError{Exit: exit}, Restarts: restarts})
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
		backoff = min(2*backoff, s.MaxBackoff)
	}
}

func (s *Supervisor) start(ctx context.Context, restarts int) (Handle, error) {
	spec, err := s.Spec(restarts)
	if err != nil {
		return Handle{}, err
	}
	return StartReady(ctx, s.Driver, spec, s.Ready, s.ReadyTimeout)
}

func (s *Supervisor) record(h Handle, st Status) {
	s.mu.Lock()
	s.handle, s.status = h, st
	s.mu.Unlock()
}

// Inspect reports the current (or last) process and the restarts so far.
func (s *Supervisor) Inspect() (Handle, Status) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.handle, s.status
}

// Stop ends the supervision and waits until the process is stopped (only
// after Run was called).
func (s *Supervisor) Stop() {
	s.init()
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
}
