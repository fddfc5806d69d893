package netguard

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"sync"
	"sync/atomic"
	"time"
)

// Connection phases, from the http.Server's ConnState hook and the reads.
const (
	phaseNew      int32 = iota // accepted, reading the first request's headers
	phaseIdle                  // between requests, nothing of the next one read
	phaseHead                  // reading the headers of a later request
	phaseActive                // a request is being served (its body included)
	phaseHijacked              // no longer the http.Server's
)

// errEvicted is what reads of an evicted connection return: a timeout, so
// net/http closes the connection without answering (the listener has
// answered, if anything).
var errEvicted = &net.OpError{Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}

// Conn is an admitted connection. See the package documentation.
type Conn struct {
	net.Conn
	l   *Listener
	idx int // in l.conns, under l.mu

	phase atomic.Int32
	// since is when the connection began waiting for its current request
	// (phaseNew: accepted; phaseIdle: the last response; phaseHead: the
	// first byte of this request), in Listener.now time.
	since atomic.Int64

	// counted: the connection is in Listener.waiting.
	counted atomic.Bool

	mu      sync.Mutex // orders evict against the switch to phaseActive
	evicted atomic.Bool
	closed  atomic.Bool

	// Owned by the connection's goroutine (reads outside phaseActive,
	// writes, ConnState): the request head read so far, at most headBytes.
	head     []byte
	answered bool // the listener wrote its own response (408)
}

// ConnState must be the http.Server's ConnState hook.
func (l *Listener) ConnState(nc net.Conn, st http.ConnState) {
	c, ok := nc.(*Conn)
	if !ok {
		return
	}
	switch st {
	case http.StateActive:
		c.stopWaiting()
		c.mu.Lock()
		c.phase.Store(phaseActive)
		if c.evicted.Load() {
			// The headers completed before the eviction took hold: serve
			// the request (net/http has cleared the read deadline; clear
			// the eviction's too, it may have come after), then close.
			_ = c.Conn.SetReadDeadline(time.Time{})
		}
		c.mu.Unlock()
	case http.StateIdle:
		c.head = c.head[:0]
		c.since.Store(l.now())
		c.phase.Store(phaseIdle)
		c.startWaiting()
	case http.StateHijacked:
		c.stopWaiting()
		c.phase.Store(phaseHijacked)
	}
}

// startWaiting and stopWaiting keep Listener.waiting: a connection counts
// from its acceptance or its last response until its next request begins
// being served, or it is evicted or closed.
func (c *Conn) startWaiting() {
	if c.counted.CompareAndSwap(false, true) {
		c.l.waiting.Add(1)
	}
}

func (c *Conn) stopWaiting() {
	if c.counted.CompareAndSwap(true, false) {
		c.l.waiting.Add(-1)
	}
}

// evict makes the connection's pending and future reads fail, unless a
// request is being served on it.
func (c *Conn) evict() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch c.phase.Load() {
	case phaseNew, phaseIdle, phaseHead:
	default:
		return false
	}
	if !c.evicted.CompareAndSwap(false, true) {
		return false
	}
	_ = c.Conn.SetReadDeadline(time.Unix(1, 0))
	c.stopWaiting()
	return true
}

func (c *Conn) Read(p []byte) (int, error) {
	ph := c.phase.Load()
	if ph == phaseActive || ph == phaseHijacked {
		return c.Conn.Read(p) // bodies, net/http's background read
	}
	if c.evicted.Load() {
		c.takeArrived(p)
		c.answerTimeout()
		return 0, errEvicted
	}
	n, err := c.Conn.Read(p)
	if n == 0 && err != nil && c.evicted.Load() {
		c.takeArrived(p)
	}
	if n > 0 {
		if ph == phaseIdle {
			c.since.Store(c.l.now())
			c.phase.Store(phaseHead)
		}
		if room := headBytes - len(c.head); room > 0 {
			c.head = append(c.head, p[:min(n, room)]...)
		}
	}
	if err != nil && isTimeout(err) {
		c.answerTimeout()
	}
	return n, err
}

// takeArrived reads, on an evicted new connection with nothing of its
// first request read yet, what the client has already sent (the eviction may come
// between its bytes' arrival and the first read), so that answerTimeout
// can answer the request with a 408 rather than close silently.
func (c *Conn) takeArrived(p []byte) {
	if len(c.head) != 0 || c.answered || len(p) == 0 || c.phase.Load() != phaseNew {
		return // an idle connection closes silently, as it always may
	}
	_ = c.Conn.SetReadDeadline(time.Now().Add(time.Millisecond))
	if n, _ := c.Conn.Read(p); n > 0 {
		c.head = append(c.head, p[:min(n, headBytes)]...)
	}
}

// answerTimeout answers a client that stopped in the middle of its
// request's headers (net/http's ReadHeaderTimeout, or an eviction) with a
// 408; a connection with nothing of a request read closes silently, as an
// idle one does.
func (c *Conn) answerTimeout() {
	if len(c.head) == 0 || c.answered {
		return
	}
	c.answered = true
	resp := c.l.render.RenderRejection(Rejection{Status: http.StatusRequestTimeout, Reason: ReasonHeaderTimeout, Head: c.head})
	c.l.replaced.Add(1)
	_ = c.Conn.SetWriteDeadline(time.Now().Add(time.Second))
	_, _ = c.Conn.Write(resp)
}

func (c *Conn) Write(p []byte) (int, error) {
	// Only the first write of a 4xx or 5xx response can be one of
	// net/http's own (ParseServerError matches them exactly); anything else
	// goes through untouched. (net/http reports the connection active
	// before it writes a parse error, so the phase cannot tell.)
	if len(p) > 12 && p[0] == 'H' && (p[9] == '4' || p[9] == '5') {
		if rej, ok := ParseServerError(p); ok {
			if c.answered {
				return len(p), nil
			}
			c.answered = true
			rej.Head = c.head
			c.l.replaced.Add(1)
			if _, err := c.Conn.Write(c.l.render.RenderRejection(rej)); err != nil {
				return 0, err
			}
			return len(p), nil
		}
	}
	return c.Conn.Write(p)
}

// ReadFrom keeps the connection's sendfile/splice path for response
// bodies (net/http uses it when the connection implements it).
func (c *Conn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := c.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(writerOnly{c.Conn}, r)
}

type writerOnly struct{ io.Writer }

// CloseWrite half-closes the connection (net/http does before it waits to
// close after a 431).
func (c *Conn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}

// Close closes the connection and frees its slot.
func (c *Conn) Close() error {
	err := c.Conn.Close()
	if c.closed.CompareAndSwap(false, true) {
		c.l.release(c)
	}
	return err
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
