package node

import (
	"context"
	"sync"
	"time"
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

// Supervisor keeps one node running: it starts it, and when it exits
// starts it again after a backoff (doubling from MinBackoff to
// MaxBackoff, back to MinBackoff after a node stayed up for StableAfter),
// until its context ends or Stop is called; then it stops the node.
type Supervisor struct {
	Spec Spec
	// Port picks the port of each start (default FreePort: a restarted
	// node may get a new port; OnEvent tells which).
	Port func() (int, error)
	// OnEvent is called, from the supervising goroutine, at each start
	// and exit.
	OnEvent func(Event)
	// Grace is how long a stop waits after SIGTERM (default 5 s).
	Grace                               time.Duration
	MinBackoff, MaxBackoff, StableAfter time.Duration

	once, stopOnce sync.Once
	stop           chan struct{}
	done           chan struct{}
}

func (s *Supervisor) init() {
	s.once.Do(func() {
		s.stop, s.done = make(chan struct{}), make(chan struct{})
		if s.Port == nil {
			s.Port = FreePort
		}
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

// Run supervises until ctx ends or Stop; it returns once the node is
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
		p, err := s.start(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			s.OnEvent(Event{Err: err, Restarts: restarts})
		} else {
			s.OnEvent(Event{Up: true, Process: p, Restarts: restarts})
			select {
			case <-ctx.Done():
				p.Stop(s.Grace)
				return
			case <-p.Done():
			}
			if time.Since(p.Started) >= s.StableAfter {
				backoff = s.MinBackoff
			}
			s.OnEvent(Event{Process: p, Err: p.exitErr(), Restarts: restarts})
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, s.MaxBackoff)
	}
}

func (s *Supervisor) start(ctx context.Context) (*Process, error) {
	port, err := s.Port()
	if err != nil {
		return nil, err
	}
	spec := s.Spec
	spec.Port = port
	return Start(ctx, spec)
}

// Stop ends the supervision and waits until the node is stopped (only
// after Run was called).
func (s *Supervisor) Stop() {
	s.init()
	s.stopOnce.Do(func() { close(s.stop) })
	<-s.done
}
