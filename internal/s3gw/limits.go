package s3gw

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Resource limits of the S3 endpoint under clients that do not play along
// (see guard.go for how they are applied).
//
// Every proxied request holds, until its response is written, a slot of
// the main port's admission (Limits.MaxRequests), a connection to the
// gateway process, a copy buffer here and an object body buffer there. A
// client that stops reading its response, or stops sending its body,
// would hold them forever; so:
//
//   - every read of a request body and every write of a response has a
//     deadline of Limits.IdleTimeout, extended as bytes move: a client
//     that makes no progress for that long is dropped (its connection
//     closed), whatever it was doing;
//   - at most Limits.MaxRequests requests are forwarded at once; the next
//     one is answered 503 SlowDown at once (S3's answer to "too much",
//     which every SDK retries with back-off), never queued;
//   - the parent never opens more connections to a gateway router than
//     the router accepts (maxChildConns below its fasthttp Concurrency),
//     so fasthttp's plain-text "Server.Concurrency limit exceeded" cannot
//     happen; and should a plain-text 503 come from the gateway anyway,
//     the client gets SlowDown in XML instead (guard.go);
//   - large copy buffers (fast transfers) are a bounded set: requests
//     beyond it copy with small buffers, so that memory per stalled
//     request is small and bounded.

// Limits bound what clients of the main port's S3 endpoint may hold.
type Limits struct {
	// MaxRequests bounds the S3 requests forwarded to the gateway process
	// at once (default DefaultMaxRequests); beyond it the main port
	// answers 503 SlowDown.
	MaxRequests int
	// IdleTimeout is how long a request body may send nothing and a
	// response may be refused by its client (no byte accepted) before the
	// connection is dropped (default DefaultIdleTimeout).
	IdleTimeout time.Duration
}

const (
	// DefaultMaxRequests is Limits.MaxRequests by default: well above the
	// concurrency of any real client fleet on one server, and a bounded
	// cost (about 100 KiB in the two processes per stalled request).
	DefaultMaxRequests = 4096
	// DefaultIdleTimeout is Limits.IdleTimeout by default: Amazon S3
	// closes a connection whose request body stops arriving after about 20
	// seconds (400 RequestTimeout).
	DefaultIdleTimeout = 20 * time.Second
)

// Environment variables of LimitsFromEnv.
const (
	EnvMaxRequests = "OPENFINSPACE_S3_MAX_REQUESTS"
	EnvIdleTimeout = "OPENFINSPACE_S3_IDLE_TIMEOUT"
)

// LimitsFromEnv reads OPENFINSPACE_S3_MAX_REQUESTS (a count) and
// OPENFINSPACE_S3_IDLE_TIMEOUT (a duration such as 20s); unset means the
// default.
func LimitsFromEnv(getenv func(string) string) (Limits, error) {
	var l Limits
	if v := strings.TrimSpace(getenv(EnvMaxRequests)); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return l, fmt.Errorf("%s=%q: want a positive number", EnvMaxRequests, v)
		}
		l.MaxRequests = n
	}
	if v := strings.TrimSpace(getenv(EnvIdleTimeout)); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return l, fmt.Errorf("%s=%q: want a positive duration such as 20s", EnvIdleTimeout, v)
		}
		l.IdleTimeout = d
	}
	return l, nil
}

func (l Limits) withDefaults() Limits {
	if l.MaxRequests <= 0 {
		l.MaxRequests = DefaultMaxRequests
	}
	if l.IdleTimeout <= 0 {
		l.IdleTimeout = DefaultIdleTimeout
	}
	return l
}

// Connections to one gateway router: the main port's requests
// (MaxRequests) plus the embedded blob store's (blobConns), and fasthttp's
// own limit above both by childConnSlack, which covers connections the
// parent has closed but the gateway has not yet noticed.
const (
	blobConns      = 64
	childConnSlack = 64
)

// maxChildConns is the most connections the parent opens to one router.
func maxChildConns(maxRequests int) int { return maxRequests + blobConns }

// childConcurrency is the gateway process's connection limit for
// maxRequests (Config.MaxConnections when that is not set).
func childConcurrency(maxRequests int) int { return maxChildConns(maxRequests) + childConnSlack }

// admission is a counting semaphore that never waits.
type admission struct {
	max   int64
	inUse atomic.Int64
}

func (a *admission) tryAcquire() bool {
	if a.inUse.Add(1) > a.max {
		a.inUse.Add(-1)
		return false
	}
	return true
}

func (a *admission) release() { a.inUse.Add(-1) }

// Copy buffers. A fast download copies in large pieces (fewer system
// calls: reads from the Unix socket return at most what its buffer holds,
// about 200 KiB, so larger buffers gain nothing); a stalled one holds its
// buffer until it is dropped. So at most maxLarge large buffers are out at
// a time, and the requests beyond them copy with small ones.
const (
	proxyLargeBuffer = 256 << 10
	proxySmallBuffer = 8 << 10
	proxyMaxLarge    = 32 // 8 MiB
)

// boundedBuffers hands out large buffers while fewer than maxLarge are in
// use, small ones after. It is an httputil.BufferPool.
type boundedBuffers struct {
	large, small int
	maxLarge     int64
	inUse        atomic.Int64 // large buffers handed out
	lp, sp       sync.Pool
}

func newBoundedBuffers(large, small, maxLarge int) *boundedBuffers {
	b := &boundedBuffers{large: large, small: small, maxLarge: int64(maxLarge)}
	b.lp.New = func() any { p := make([]byte, large); return &p }
	b.sp.New = func() any { p := make([]byte, small); return &p }
	return b
}

func (b *boundedBuffers) Get() []byte {
	if b.inUse.Add(1) <= b.maxLarge {
		return *(b.lp.Get().(*[]byte))
	}
	b.inUse.Add(-1)
	return *(b.sp.Get().(*[]byte))
}

func (b *boundedBuffers) Put(p []byte) {
	switch cap(p) {
	case b.large:
		p = p[:b.large]
		b.lp.Put(&p)
		b.inUse.Add(-1)
	case b.small:
		p = p[:b.small]
		b.sp.Put(&p)
	}
}
