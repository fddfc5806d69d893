package s3gw

import (
	"errors"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Deadlines on the main port's S3 requests (see limits.go for the why).
//
// net/http sets no deadline on a request body or on a response: a client
// that stops sending its body, or stops reading the response, would hold
// its handler, its admission slot, a connection to the gateway process and
// the copy buffers for ever. guard gives each request:
//
//   - a read deadline of IdleTimeout on its body, moved forward on every
//     read, and cleared when the body ends (net/http's background read of
//     the next request shares the connection's read deadline, and must not
//     cancel a download that lasts longer than IdleTimeout);
//   - a write deadline of IdleTimeout on the response, moved forward on
//     every write: a client that accepts no byte for that long gets its
//     connection closed.
//
// After the handler, net/http writes what is left of the response (the
// buffered end, the last chunk of a response of unknown length) and then
// clears the write deadline itself (Go 1.26 conn.serve), so finish moves
// the deadline forward one last time to bound that final write, and the
// connection's next request, to whichever handler, starts without one.

// guard returns w and r with the deadlines applied; call finish on the
// returned writer when the handler returns.
func (g *Gateway) guard(w http.ResponseWriter, r *http.Request) (*guardedWriter, *http.Request) {
	gw := &guardedWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: g.limits.IdleTimeout}
	if r.Body != nil && r.Body != http.NoBody && r.ContentLength != 0 {
		gb := &guardedBody{ReadCloser: r.Body, rc: gw.rc, timeout: gw.timeout}
		if !gb.extend(time.Now()) {
			return gw, r // no deadlines on this connection: leave it as it is
		}
		gw.body = gb
		r2 := *r
		r2.Body = gb
		r = &r2
	}
	return gw, r
}

// guardedWriter is a ResponseWriter whose writes extend the connection's
// write deadline.
type guardedWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	body    *guardedBody // nil when the request has no body

	set         time.Time // when the write deadline was last moved (zero: never)
	unsupported bool      // the connection has no deadlines (tests' recorders)
}

func (w *guardedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// extend moves the write deadline to IdleTimeout from now, at most every
// sixteenth of it (a deadline is a timer update, not free).
func (w *guardedWriter) extend() {
	if w.unsupported {
		return
	}
	now := time.Now()
	if !w.set.IsZero() && now.Sub(w.set) < w.timeout/16 {
		return
	}
	if err := w.rc.SetWriteDeadline(now.Add(w.timeout)); err != nil {
		w.unsupported = true
		return
	}
	w.set = now
}

func (w *guardedWriter) Write(p []byte) (int, error) {
	w.extend()
	return w.ResponseWriter.Write(p)
}

// FlushError is what ResponseController.Flush finds first.
func (w *guardedWriter) FlushError() error {
	w.extend()
	return w.rc.Flush()
}

// finish bounds the write net/http makes after the handler (see the top).
func (w *guardedWriter) finish() {
	w.set = time.Time{}
	w.extend()
}

// guardedBody is a request body whose reads extend the connection's read
// deadline.
type guardedBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	timeout  time.Duration
	set      time.Time
	done     bool
	timedOut atomic.Bool // a read hit the deadline: the client stopped sending
}

func (b *guardedBody) extend(now time.Time) bool {
	if err := b.rc.SetReadDeadline(now.Add(b.timeout)); err != nil {
		return false
	}
	b.set = now
	return true
}

func (b *guardedBody) Read(p []byte) (int, error) {
	if b.done {
		return b.ReadCloser.Read(p)
	}
	if now := time.Now(); now.Sub(b.set) >= b.timeout/16 {
		b.extend(now)
	}
	n, err := b.ReadCloser.Read(p)
	switch {
	case err == nil:
	case errors.Is(err, os.ErrDeadlineExceeded):
		b.timedOut.Store(true)
		b.done = true
	default:
		// The end (or a broken connection): from here on the connection
		// is net/http's, whose background read must not time out.
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// Errors of the main port's own making, in S3's words.
const (
	slowDownMessage       = "Please reduce your request rate."
	requestTimeoutMessage = "Your socket connection to the server was not read from or written to within the timeout period. Idle connections will be closed."
	missingLengthMessage  = "You must provide the Content-Length HTTP header."
)

// forward proxies an authorized request to the gateway process, if the
// request's body has a length and the endpoint has room for it.
func (g *Gateway) forward(rt *route, w http.ResponseWriter, r *http.Request) {
	if r.ContentLength < 0 && !streamingWithLength(r) {
		// A body without a length (Transfer-Encoding: chunked) is what S3
		// refuses, except aws-chunked uploads, which name their decoded
		// length (some SDKs send those chunked). Refused here, so the body
		// never reaches the gateway's connection.
		writeError(w, r, http.StatusLengthRequired, "MissingContentLength", missingLengthMessage)
		return
	}
	if !g.admit.tryAcquire() {
		g.log.Debug("s3: too many requests in flight", "max", g.limits.MaxRequests)
		w.Header().Set("Retry-After", "1")
		writeError(w, r, http.StatusServiceUnavailable, "SlowDown", slowDownMessage)
		return
	}
	handed := false
	defer func() {
		if !handed {
			g.admit.release()
		}
	}()
	if downloadable(r) {
		handed = g.download(rt, w, r)
		return
	}
	rt.proxy.ServeHTTP(w, r)
}

// streamingWithLength reports whether r is an aws-chunked upload (a
// STREAMING-* payload) that declares its decoded length.
func streamingWithLength(r *http.Request) bool {
	if !strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
		return false
	}
	n, err := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
	return err == nil && n >= 0
}

// proxyError answers a request the reverse proxy could not complete.
func (g *Gateway) proxyError(w http.ResponseWriter, r *http.Request, err error) {
	if gw, ok := w.(*guardedWriter); ok && gw.body != nil && gw.body.timedOut.Load() {
		// The client stopped sending its body.
		w.Header().Set("Connection", "close")
		writeError(w, r, http.StatusBadRequest, "RequestTimeout", requestTimeoutMessage)
		return
	}
	if r.Context().Err() != nil || errors.Is(err, io.ErrUnexpectedEOF) {
		// The client stopped sending (or went away) before the end of its
		// body; the gateway discarded the partial upload.
		writeError(w, r, http.StatusBadRequest, "IncompleteBody",
			"You did not provide the number of bytes specified by the Content-Length HTTP header.")
		return
	}
	g.log.Warn("s3 gateway request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	writeError(w, r, http.StatusServiceUnavailable, "ServiceUnavailable", "The S3 gateway is not available; please retry.")
}

// modifyResponse makes sure a gateway response a client sees is S3's: a
// 503 the gateway's HTTP server wrote itself (plain text, when its
// connection limit is exceeded; the parent stays below that limit, so
// this should not happen) becomes S3's SlowDown.
func modifyResponse(res *http.Response) error {
	if res.StatusCode != http.StatusServiceUnavailable || strings.Contains(res.Header.Get("Content-Type"), "xml") {
		return nil
	}
	res.Body.Close()
	path := ""
	if res.Request != nil && res.Request.URL != nil {
		path, _, _ = strings.Cut(res.Request.URL.Opaque, "?")
	}
	body := xmlError("SlowDown", slowDownMessage, path)
	res.Body = io.NopCloser(strings.NewReader(body))
	res.ContentLength = int64(len(body))
	h := http.Header{}
	h.Set("Content-Type", "application/xml")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Amz-Error-Code", "SlowDown")
	h.Set("Retry-After", "1")
	res.Header = h
	return nil
}
