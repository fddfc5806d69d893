package node

import (
	"context"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestSupervisorRestartsAndStops(t *testing.T) {
	q := kdbDouble(t)
	events := make(chan Event, 16)
	s := &Supervisor{Spec: Spec{Executable: q, Script: bootstrap(t)}, MinBackoff: 10 * time.Millisecond,
		Grace: 2 * time.Second, OnEvent: func(e Event) { events <- e }}
	done := make(chan struct{})
	go func() { s.Run(context.Background()); close(done) }()
	next := func() Event {
		t.Helper()
		select {
		case e := <-events:
			return e
		case <-time.After(20 * time.Second):
			t.Fatal("no event from the supervisor")
			return Event{}
		}
	}
	up := next()
	if !up.Up || up.Restarts != 0 {
		t.Fatalf("first event %+v", up)
	}
	// A node that dies is started again.
	if err := syscall.Kill(up.Process.PID(), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if down := next(); down.Up || down.Err == nil {
		t.Fatalf("after SIGKILL: %+v", down)
	}
	again := next()
	if !again.Up || again.Restarts != 1 || again.Process.PID() == up.Process.PID() {
		t.Fatalf("restart: %+v", again)
	}
	if err := Probe("127.0.0.1:"+strconv.Itoa(again.Process.Port), time.Second); err != nil {
		t.Fatalf("restarted node: %v", err)
	}
	s.Stop()
	<-done
	select {
	case <-again.Process.Done():
	default:
		t.Fatal("Stop returned with the node running")
	}
	s.Stop() // twice is fine
}

func TestSupervisorRetriesAFailingStart(t *testing.T) {
	q := kdbDouble(t)
	events := make(chan Event, 64)
	s := &Supervisor{Spec: Spec{Executable: q, Script: filepath.Join(t.TempDir(), "missing.q")},
		MinBackoff: 5 * time.Millisecond, MaxBackoff: 20 * time.Millisecond, OnEvent: func(e Event) {
			select {
			case events <- e:
			default: // the test reads three
			}
		}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	for i := 0; i < 3; i++ {
		select {
		case e := <-events:
			if e.Up || e.Err == nil || e.Restarts != i {
				t.Fatalf("attempt %d: %+v", i, e)
			}
		case <-time.After(20 * time.Second):
			t.Fatal("no retry")
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}
