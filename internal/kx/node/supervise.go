package node

import (
	"context"
	"sync"
	"time"

	"github.com/openfinspace/openfinspace/internal/runtime"
)

// Event is what a Supervisor reports of its node.
type Event struct {
	// Up is true when the node (re)started and answered a handshake, false
	// when it exited or failed to start; Err says why.
	Up      bool
	Process *Process
	Err     error
	// Restarts counts the starts after the first.
	Restarts int
}

// Supervisor keeps one node running: runtime.Supervisor with a new port
// per start and readiness by handshake. It starts the node, and when it
// exits starts it again after a backoff (doubling from MinBackoff to
// MaxBackoff, back to MinBackoff after a node stayed up for StableAfter),
// until its context ends or Stop is called; then it stops the node.
type Supervisor struct {
	Spec Spec
	// Driver runs the node (nil: a runtime.Local of the Supervisor's own).
	Driver runtime.Driver
	// Port picks the port of each start (default FreePort: a restarted
	// node may get a new port; OnEvent tells which).
	Port func() (int, error)
	// OnEvent is called, from the supervising goroutine, at each start
	// and exit.
	OnEvent func(Event)
	// Grace is how long a stop waits after SIGTERM (default 5 s).
	Grace                               time.Duration
	MinBackoff, MaxBackoff, StableAfter time.Duration

	once sync.Once
	rs   *runtime.Supervisor
	port int      // of the latest start (the supervising goroutine's)
	cur  *Process // the running node (the supervising goroutine's)
}

func (s *Supervisor) init() {
	s.once.Do(func() {
		if s.Driver == nil {
			s.Driver = &runtime.Local{}
		}
		if s.Port == nil {
			s.Port = FreePort
		}
		if s.OnEvent == nil {
			s.OnEvent = func(Event) {}
		}
		s.rs = &runtime.Supervisor{Driver: s.Driver, Ready: ready, ReadyTimeout: readyTimeout(s.Spec.ReadyTimeout),
			Grace: s.Grace, MinBackoff: s.MinBackoff, MaxBackoff: s.MaxBackoff, StableAfter: s.StableAfter,
			Spec: func(int) (runtime.Spec, error) {
				port, err := s.Port()
				if err != nil {
					return runtime.Spec{}, err
				}
				s.port = port
				spec := s.Spec
				spec.Port = port
				return spec.runtimeSpec()
			},
			OnEvent: s.event}
	})
}

func (s *Supervisor) event(e runtime.Event) {
	switch {
	case e.Up:
		s.cur = newProcess(s.Driver, e.Handle)
		s.OnEvent(Event{Up: true, Process: s.cur, Restarts: e.Restarts})
	case e.Exit != nil:
		p := s.cur
		if p == nil || p.Handle.ID != e.Handle.ID {
			p = newProcess(s.Driver, e.Handle)
		}
		s.cur = nil
		p.exited(*e.Exit)
		if !e.Stopped { // a stop is not news: the caller asked for it
			s.OnEvent(Event{Process: p, Err: e.Err, Restarts: e.Restarts})
		}
	default:
		s.OnEvent(Event{Err: startErr(e.Err, s.port, s.Spec.ReadyTimeout), Restarts: e.Restarts})
	}
}

// Run supervises until ctx ends or Stop; it returns once the node is
// stopped.
func (s *Supervisor) Run(ctx context.Context) {
	s.init()
	s.rs.Run(ctx)
}

// Stop ends the supervision and waits until the node is stopped (only
// after Run was called).
func (s *Supervisor) Stop() {
	s.init()
	s.rs.Stop()
}
