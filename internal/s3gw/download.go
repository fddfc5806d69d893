package s3gw

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Object downloads (the main port's half; the gateway's is child_fd.go).
//
// A GET of an object goes to the gateway process on a connection of its
// own (not the reverse proxy's pool), asking for a large body as a
// descriptor. The answer is then one of:
//
//   - a body of at least descriptorBodyMin bytes, as the object's open
//     file: the gateway's request is over (its connection is closed at
//     once), the client's connection is hijacked from net/http, the
//     response head is written with "Connection: close", and the body is
//     sent from the file with sendfile(2) by one small goroutine until
//     the end, then the connection is closed. A client that stops reading
//     holds that goroutine, its connection and the open file — no
//     buffers, no connection to the gateway, none of net/http's
//     per-connection goroutines and buffers — until it has accepted
//     nothing for Limits.IdleTimeout (each sendPiece bytes get a fresh
//     write deadline, as each write of the proxy's copy did).
//   - anything else (small bodies, errors, an upstream's bodies): the
//     response as the reverse proxy would write it, through net/http, on
//     a connection that stays open for the client's next request.
//
// Only object GETs take this path (a key after the bucket, no request
// body); everything else goes through the reverse proxy.

const (
	// sendPiece is how much of a body one write deadline covers.
	sendPiece = 256 << 10
)

// downloadable reports whether r is a GET of an object that the download
// path serves.
func downloadable(r *http.Request) bool {
	if r.Method != http.MethodGet || r.ContentLength != 0 || (r.Body != nil && r.Body != http.NoBody) {
		return false
	}
	path, _, _ := strings.Cut(target(r), "?")
	_, key, _ := strings.Cut(strings.TrimPrefix(path, "/"), "/")
	return key != ""
}

// hopHeaders are the hop-by-hop headers a proxy does not forward
// (net/http/httputil's list).
var hopHeaders = []string{"Connection", "Proxy-Connection", "Keep-Alive", "Proxy-Authenticate",
	"Proxy-Authorization", "Te", "Trailer", "Transfer-Encoding", "Upgrade"}

func removeHopHeaders(h http.Header) {
	for _, f := range h["Connection"] {
		for sf := range strings.SplitSeq(f, ",") {
			if sf = strings.TrimSpace(sf); sf != "" {
				h.Del(sf)
			}
		}
	}
	for _, k := range hopHeaders {
		h.Del(k)
	}
}

// download serves an admitted object GET; it reports whether the request's
// admission slot was handed to a body sender (which releases it).
func (g *Gateway) download(rt *route, w http.ResponseWriter, r *http.Request) (handed bool) {
	ctx := r.Context()
	var d net.Dialer
	nc, err := d.DialContext(ctx, "unix", rt.sock)
	if err != nil {
		g.proxyError(w, r, err)
		return false
	}
	uc := nc.(*net.UnixConn)
	defer uc.Close()
	// The client going away ends the wait for the gateway's answer.
	stop := context.AfterFunc(ctx, func() { _ = uc.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	out := r.Clone(ctx)
	out.RequestURI = ""
	removeHopHeaders(out.Header)
	g.rewrite(&httputil.ProxyRequest{In: r, Out: out})
	if _, ok := out.Header["User-Agent"]; !ok {
		out.Header.Set("User-Agent", "") // not Go's default
	}
	out.Header.Set(descriptorHeader, "1")
	out.Close = true // one request per connection: the gateway closes it after
	bw := bufio.NewWriterSize(uc, 4<<10)
	if err := out.Write(bw); err == nil {
		err = bw.Flush()
	}
	if err != nil {
		g.proxyError(w, r, err)
		return false
	}
	fr := &fileReader{c: uc}
	defer fr.closeFiles()
	br := bufio.NewReaderSize(fr, 4<<10)
	res, err := http.ReadResponse(br, out)
	if err != nil {
		g.proxyError(w, r, err)
		return false
	}
	defer res.Body.Close()
	if res.StatusCode/100 == 2 && res.ContentLength >= descriptorBodyMin && len(res.TransferEncoding) == 0 {
		// The body's first bytes are the marker if they carry the file.
		if _, err := br.Peek(1); err != nil {
			g.proxyError(w, r, err)
			return false
		}
		if f := fr.take(); f != nil {
			var marker [descriptorMarkerLen]byte
			if _, err := io.ReadFull(br, marker[:]); err != nil || marker[0] != descriptorMarker {
				f.Close()
				g.proxyError(w, r, fmt.Errorf("s3gw: a malformed descriptor marker (%v)", err))
				return false
			}
			off := int64(binary.BigEndian.Uint64(marker[1:]))
			uc.Close() // the gateway is done
			return g.sendFile(w, r, res, f, off)
		}
	}
	_ = modifyResponse(res)
	g.copyResponse(w, res)
	return false
}

// copyResponse writes res through net/http, as the reverse proxy does.
func (g *Gateway) copyResponse(w http.ResponseWriter, res *http.Response) {
	removeHopHeaders(res.Header)
	h := w.Header()
	for k, vs := range res.Header {
		h[k] = vs
	}
	w.WriteHeader(res.StatusCode)
	buf := g.pool.Get()
	defer g.pool.Put(buf)
	_, _ = io.CopyBuffer(w, struct{ io.Reader }{res.Body}, buf)
}

// sendFile answers res with n bytes of f from off on the client's own
// connection (see the top). It takes f, and reports whether the admission
// slot went with it.
func (g *Gateway) sendFile(w http.ResponseWriter, r *http.Request, res *http.Response, f *os.File, off int64) bool {
	n := res.ContentLength
	gw, _ := w.(*guardedWriter)
	conn, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		// No connection to take (an HTTP/2 or test writer): the body
		// through net/http.
		defer f.Close()
		res.Body = io.NopCloser(io.NewSectionReader(f, off, n))
		g.copyResponse(w, res)
		return false
	}
	if gw != nil {
		gw.unsupported = true // its deadlines are net/http's no more
	}
	removeHopHeaders(res.Header)
	h := res.Header
	h.Set("Connection", "close")
	h.Set("Content-Length", strconv.FormatInt(n, 10))
	if h.Get("Date") == "" {
		h.Set("Date", time.Now().UTC().Format(http.TimeFormat))
	}
	var head strings.Builder
	fmt.Fprintf(&head, "HTTP/1.1 %03d %s\r\n", res.StatusCode, http.StatusText(res.StatusCode))
	_ = h.Write(&head)
	head.WriteString("\r\n")

	if !g.downloads.add(conn) {
		f.Close()
		conn.Close()
		return false
	}
	go func() {
		defer g.admit.release()
		defer g.downloads.done(conn)
		defer conn.Close()
		defer f.Close()
		if err := g.sendBody(conn, head.String(), f, off, n); err != nil {
			g.log.Debug("s3: download ended early", "path", r.URL.Path, "error", err)
		}
	}()
	return true
}

// sendBody writes head, then n bytes of f from off, to conn.
func (g *Gateway) sendBody(conn net.Conn, head string, f *os.File, off, n int64) error {
	idle := g.limits.IdleTimeout
	_ = conn.SetReadDeadline(time.Time{})
	if err := conn.SetWriteDeadline(time.Now().Add(idle)); err != nil {
		return err
	}
	if _, err := io.WriteString(conn, head); err != nil {
		return err
	}
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return err
	}
	// *net.TCPConn (and the listener's connection around it) turns this
	// into sendfile(2) from the file's offset.
	rf, ok := conn.(io.ReaderFrom)
	if !ok {
		rf = readFromCopy{conn}
	}
	lr := &io.LimitedReader{R: f}
	for n > 0 {
		if err := conn.SetWriteDeadline(time.Now().Add(idle)); err != nil {
			return err
		}
		lr.N = min(n, sendPiece)
		m, err := rf.ReadFrom(lr)
		n -= m
		if err != nil {
			return err
		}
		if m == 0 {
			return io.ErrUnexpectedEOF // the file is shorter than its object
		}
	}
	return nil
}

type readFromCopy struct{ w io.Writer }

func (c readFromCopy) ReadFrom(r io.Reader) (int64, error) { return io.Copy(c.w, r) }

// fileReader reads a Unix connection and keeps the files that arrive
// with its bytes (SCM_RIGHTS).
type fileReader struct {
	c     *net.UnixConn
	oob   [64]byte
	files []*os.File
}

func (fr *fileReader) Read(p []byte) (int, error) {
	n, oobn, _, _, err := fr.c.ReadMsgUnix(p, fr.oob[:])
	if oobn > 0 {
		if msgs, perr := syscall.ParseSocketControlMessage(fr.oob[:oobn]); perr == nil {
			for i := range msgs {
				fds, ferr := syscall.ParseUnixRights(&msgs[i])
				if ferr != nil {
					continue
				}
				for _, fd := range fds {
					fr.files = append(fr.files, os.NewFile(uintptr(fd), "object"))
				}
			}
		}
	}
	if n == 0 && err == nil && len(p) > 0 {
		err = io.EOF
	}
	return n, err
}

// take returns the one file that arrived (nil if none, or more than one).
func (fr *fileReader) take() *os.File {
	if len(fr.files) != 1 {
		return nil
	}
	f := fr.files[0]
	fr.files = nil
	return f
}

func (fr *fileReader) closeFiles() {
	for _, f := range fr.files {
		f.Close()
	}
	fr.files = nil
}

// downloadSet tracks the bodies being sent on hijacked connections, which
// net/http's Shutdown does not see: Gateway.Close waits for them, then
// closes what is left.
type downloadSet struct {
	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	wg     sync.WaitGroup
}

func (d *downloadSet) add(c net.Conn) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return false
	}
	if d.conns == nil {
		d.conns = map[net.Conn]struct{}{}
	}
	d.conns[c] = struct{}{}
	d.wg.Add(1)
	return true
}

func (d *downloadSet) done(c net.Conn) {
	d.mu.Lock()
	delete(d.conns, c)
	d.mu.Unlock()
	d.wg.Done()
}

// close refuses new downloads, waits for the running ones until ctx ends
// or max has passed, then closes their connections and waits for them.
func (d *downloadSet) close(ctx context.Context, max time.Duration) {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	all := make(chan struct{})
	go func() { d.wg.Wait(); close(all) }()
	timer := time.NewTimer(max)
	defer timer.Stop()
	select {
	case <-all:
		return
	case <-ctx.Done():
	case <-timer.C:
	}
	d.mu.Lock()
	for c := range d.conns {
		c.Close()
	}
	d.mu.Unlock()
	<-all
}
