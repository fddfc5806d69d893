// Package netguard hardens the server's listener and connections:
//
//   - a cap on open connections (Config.MaxConns). A connection above it
//     is accepted, answered with a short 503 (Retry-After, Connection:
//     close) and closed: never left in the kernel's backlog to time out.
//   - at the cap, a connection that has been waiting longer than
//     Config.EvictAfter for (the rest of) a request's headers, or idling
//     between requests, is closed to admit the new one, so slow clients
//     (slowloris: headers trickled a byte at a time) cannot hold every
//     slot; connections whose request is being served are never evicted.
//   - below the cap too, at most Config.MaxWaiting connections may wait
//     for a request: beyond it the longest waiting (at least EvictAfter)
//     is closed for each new one. A connection waiting for its request
//     costs a goroutine and net/http's buffers (about 16 KiB), so
//     thousands of connections that send nothing would otherwise cost
//     more than all the requests being served.
//   - the plain-text errors net/http writes straight to the connection for
//     requests it cannot parse (400, 431, 501, 505; and its 417) are
//     replaced by the AWS error envelope a Renderer builds from the bytes
//     the client sent, and a client that stops in the middle of its
//     headers gets a 408 envelope before its connection is closed.
//
// The http.Server must use Listener.ConnState as its ConnState hook: the
// listener learns from it which connections are being served. It is meant
// for an http.Server with ReadTimeout 0 (ReadHeaderTimeout and IdleTimeout
// set, body deadlines set by the handlers).
package netguard

import (
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Config configures a Listener.
type Config struct {
	// MaxConns caps open client connections. 0 means DefaultMaxConns();
	// a negative value means no cap.
	MaxConns int
	// EvictAfter is how long a connection must have been waiting for a
	// request (or its headers) before it may be evicted at the cap
	// (default 20 ms: a real client sends its headers in one go, within a
	// millisecond on the same network; a longer wait lets a flood of fresh
	// trickling connections keep every slot too young to evict, so that
	// new well-behaved clients are refused for as long as the flood lasts).
	EvictAfter time.Duration
	// MaxWaiting caps the connections waiting for a request or its
	// headers (new, idle between requests, or with headers begun). 0
	// means max(1024, MaxConns/8); a negative value means no cap but
	// MaxConns.
	MaxWaiting int
	// RetryAfter is the Retry-After of refusals (default 1 s).
	RetryAfter time.Duration
	// Renderer builds the error responses; nil means JSONRenderer.
	Renderer Renderer
	// Logger receives refusals (Warn, at most every 10 s) and evictions
	// (Debug).
	Logger *slog.Logger
}

// Stats counts what a Listener did.
type Stats struct {
	Open     int64 // connections open now (admitted, not closed)
	Refused  int64 // connections answered 503 at the cap
	Evicted  int64 // waiting connections closed to admit another
	Waiting  int64 // connections waiting for a request now
	Replaced int64 // net/http error responses replaced by envelopes
}

const (
	// headBytes is how much of each request's head a connection keeps
	// for the Renderer: the request line and the signing headers.
	headBytes = 8 << 10
	// maxRefusing bounds the connections being refused at once (each
	// reads what its client sent for up to refuseDrain before closing,
	// so that the client reads the 503 rather than a reset); beyond it a
	// refusal is written and the connection closed at once.
	maxRefusing = 64
	refuseDrain = 500 * time.Millisecond
	// emptyScanCache: after a scan found nothing to evict, over-cap
	// connections are refused without another scan for this long.
	emptyScanCache = 10 * time.Millisecond
	warnEvery      = 10 * time.Second
)

// Listener is a net.Listener with the protections of the package.
type Listener struct {
	net.Listener
	cfg      Config
	max      int64 // <= 0: no cap
	maxWait  int64 // <= 0: no cap
	waiting  atomic.Int64
	hardMax  int64 // ceiling while evicted connections close
	render   Renderer
	log      *slog.Logger
	epoch    time.Time
	open     atomic.Int64
	refusing atomic.Int32
	refused  atomic.Int64
	evicted  atomic.Int64
	replaced atomic.Int64
	// lastEmptyScan and lastWarn are monotonic times (see now), 0 = never.
	lastEmptyScan atomic.Int64
	lastWarn      atomic.Int64

	mu    sync.Mutex
	conns []*Conn // open connections, for eviction; Conn.idx is the index
}

// Listen wraps ln.
func Listen(ln net.Listener, cfg Config) *Listener {
	if cfg.MaxConns == 0 {
		cfg.MaxConns = DefaultMaxConns()
	}
	if cfg.EvictAfter <= 0 {
		cfg.EvictAfter = 20 * time.Millisecond
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = time.Second
	}
	l := &Listener{Listener: ln, cfg: cfg, render: cfg.Renderer, log: cfg.Logger, epoch: time.Now()}
	if l.render == nil {
		l.render = JSONRenderer{}
	}
	if l.log == nil {
		l.log = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxConns > 0 {
		l.max = int64(cfg.MaxConns)
		l.hardMax = l.max + max(16, l.max/16)
	}
	switch {
	case cfg.MaxWaiting > 0:
		l.maxWait = int64(cfg.MaxWaiting)
	case cfg.MaxWaiting == 0:
		l.maxWait = max(1024, l.max/8)
	}
	return l
}

// MaxConns is the cap in force (<= 0: none).
func (l *Listener) MaxConns() int { return int(l.max) }

// Stats returns the listener's counters.
func (l *Listener) Stats() Stats {
	return Stats{Open: l.open.Load(), Refused: l.refused.Load(), Evicted: l.evicted.Load(), Replaced: l.replaced.Load(),
		Waiting: l.waiting.Load()}
}

// now is the monotonic time since the listener was made.
func (l *Listener) now() int64 { return int64(time.Since(l.epoch)) }

// Accept returns the next admitted connection. Connections above the cap
// are refused here and never returned.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.admit() {
			c := l.track(nc)
			if l.maxWait > 0 && l.waiting.Load() > l.maxWait {
				l.evictOne()
			}
			return c, nil
		}
		l.refuse(nc)
	}
}

func (l *Listener) admit() bool {
	n := l.open.Add(1)
	if l.max <= 0 || n <= l.max {
		return true
	}
	if n <= l.hardMax && l.evictOne() {
		// The count stays above the cap until the evicted connection has
		// closed (promptly: its pending read fails at once).
		return true
	}
	l.open.Add(-1)
	return false
}

func (l *Listener) track(nc net.Conn) *Conn {
	c := &Conn{Conn: nc, l: l}
	c.since.Store(l.now())
	c.startWaiting()
	l.mu.Lock()
	c.idx = len(l.conns)
	l.conns = append(l.conns, c)
	l.mu.Unlock()
	return c
}

func (l *Listener) release(c *Conn) {
	l.mu.Lock()
	last := len(l.conns) - 1
	if c.idx <= last && l.conns[c.idx] == c {
		l.conns[c.idx] = l.conns[last]
		l.conns[c.idx].idx = c.idx
		l.conns[last] = nil
		l.conns = l.conns[:last]
	}
	l.mu.Unlock()
	c.stopWaiting()
	l.open.Add(-1)
}

// evictOne closes the connection that has waited longest for a request,
// preferring one in the middle of its headers over an idle one, among
// those that have waited at least EvictAfter.
func (l *Listener) evictOne() bool {
	now := l.now()
	if t := l.lastEmptyScan.Load(); t != 0 && now-t < int64(emptyScanCache) {
		return false
	}
	minAge := int64(l.cfg.EvictAfter)
	var best *Conn
	bestClass, bestSince := -1, int64(0)
	l.mu.Lock()
	for _, c := range l.conns {
		class := 0 // idle between requests
		switch c.phase.Load() {
		case phaseNew, phaseHead:
			class = 1 // waiting for (the rest of) its headers
		case phaseIdle:
		default:
			continue
		}
		s := c.since.Load()
		if now-s < minAge || c.evicted.Load() {
			continue
		}
		if class > bestClass || class == bestClass && s < bestSince {
			best, bestClass, bestSince = c, class, s
		}
	}
	l.mu.Unlock()
	if best == nil {
		l.lastEmptyScan.Store(now)
		return false
	}
	if !best.evict() {
		return false
	}
	l.evicted.Add(1)
	l.log.Debug("netguard: evicted a waiting connection at the connection limit",
		"remote", best.RemoteAddr().String(), "waited", time.Duration(now-bestSince).String(), "headers_started", bestClass == 1)
	return true
}

// refuse answers a connection above the cap with a 503 and closes it.
func (l *Listener) refuse(nc net.Conn) {
	n := l.refused.Add(1)
	if now := l.now(); now-l.lastWarn.Load() >= int64(warnEvery) || l.lastWarn.Load() == 0 {
		l.lastWarn.Store(now)
		l.log.Warn("netguard: connection limit reached; refusing new connections with 503",
			"max_connections", l.max, "open", l.open.Load(), "refused_total", n)
	}
	resp := l.render.RenderRejection(Rejection{Status: 503, Reason: ReasonTooManyConnections, RetryAfter: l.cfg.RetryAfter})
	if l.refusing.Add(1) > maxRefusing {
		l.refusing.Add(-1)
		_ = nc.SetWriteDeadline(time.Now().Add(refuseDrain))
		_, _ = nc.Write(resp)
		_ = nc.Close()
		return
	}
	go func() {
		defer l.refusing.Add(-1)
		_ = nc.SetDeadline(time.Now().Add(refuseDrain))
		if _, err := nc.Write(resp); err == nil {
			// Half-close, then read what the client sent: closing with
			// unread data would reset the connection, and the client
			// might lose the 503 before reading it.
			if cw, ok := nc.(interface{ CloseWrite() error }); ok {
				_ = cw.CloseWrite()
			}
			_, _ = io.Copy(io.Discard, io.LimitReader(nc, 64<<10))
		}
		_ = nc.Close()
	}()
}
