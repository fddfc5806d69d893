package servertest

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/server"
)

// ClockStep is the LifecycleStep of a server started by StartClocked.
const ClockStep = time.Second

// Clock is a manual clock for server.Config.Clock. Time stands still until
// the test moves it with Advance, so a server's asynchronous lifecycles take
// their steps exactly when the test says, however slow the machine. Each
// reading is one microsecond after the previous one, so that records
// created one after another keep their order; a microsecond a reading never
// adds up to a lifecycle step.
type Clock struct {
	mu   sync.Mutex
	now  time.Time
	wake func()
	// Step is the server's LifecycleStep: Advance(Step) makes every
	// lifecycle's next status step due.
	Step time.Duration
}

// Now is the clock's time (server.Config.Clock).
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(time.Microsecond)
	return c.now
}

// Advance moves the clock forward by d and wakes the server's job engine,
// so that jobs the move made due start at once.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	wake := c.wake
	c.mu.Unlock()
	if wake != nil {
		wake()
	}
}

// StartClocked runs a server like Start on a Clock that starts at the
// current time, with LifecycleStep ClockStep. opts must leave Clock and
// LifecycleStep alone.
func StartClocked(t testing.TB, opts ...func(*server.Config)) (*server.Server, *Clock) {
	t.Helper()
	clk := &Clock{now: time.Now(), Step: ClockStep}
	opts = append([]func(*server.Config){func(c *server.Config) {
		c.Clock, c.LifecycleStep = clk.Now, clk.Step
	}}, opts...)
	srv := Start(t, opts...)
	clk.mu.Lock()
	clk.wake = srv.WakeJobs
	clk.mu.Unlock()
	clocks.Store(srv.URL(), clk)
	t.Cleanup(func() { clocks.Delete(srv.URL()) })
	return srv, clk
}

// clocks are the Clocks of running StartClocked servers, by URL, so that
// helpers given only a client (its endpoint) drive the right one.
var clocks sync.Map

// ClockAt returns the Clock of the StartClocked server at url (a client's
// endpoint), or nil for a server on the real clock.
func ClockAt(url string) *Clock {
	clk, _ := clocks.Load(strings.TrimSuffix(url, "/"))
	c, _ := clk.(*Clock)
	return c
}
