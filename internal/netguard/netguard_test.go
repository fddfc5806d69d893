package netguard

import (
	"bufio"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// serve runs an http.Server on a netguard listener until the test ends.
func serve(t *testing.T, cfg Config, h http.Handler, tune ...func(*http.Server)) *Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Listen(ln, cfg)
	if h == nil {
		h = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, _ = io.Copy(io.Discard, r.Body)
			_, _ = w.Write([]byte("ok"))
		})
	}
	srv := &http.Server{Handler: h, ConnState: l.ConnState, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 5 * time.Second}
	for _, f := range tune {
		f(srv)
	}
	go func() { _ = srv.Serve(l) }()
	t.Cleanup(func() { _ = srv.Close() })
	return l
}

func dial(t *testing.T, l *Listener) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	t.Cleanup(func() { c.Close() })
	return c
}

// roundTrip sends raw and reads one response.
func roundTrip(t *testing.T, l *Listener, raw string) (*http.Response, string) {
	t.Helper()
	c := dial(t, l)
	if _, err := c.Write([]byte(raw)); err != nil {
		t.Fatal(err)
	}
	return readResponse(t, c, raw)
}

func readResponse(t *testing.T, c net.Conn, what string) (*http.Response, string) {
	t.Helper()
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("%q: reading the response: %v", what, err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

// envelope checks an AWS rest-json error from JSONRenderer.
func envelope(t *testing.T, what string, resp *http.Response, body string, status int, code string) {
	t.Helper()
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil {
		t.Errorf("%s: body %q is not JSON: %v", what, body, err)
	}
	if resp.StatusCode != status || e.Type != code || resp.Header.Get("X-Amzn-ErrorType") != code ||
		resp.Header.Get("Content-Type") != "application/json" || resp.Header.Get("x-amzn-RequestId") == "" ||
		!resp.Close || e.Message == "" || resp.Header.Get("Date") == "" {
		t.Errorf("%s: %d %v %q, want %d %s envelope with Connection: close", what, resp.StatusCode, resp.Header, body, status, code)
	}
}

// TestReplacesNetHTTPErrors drives a real net/http server: every error it
// writes itself comes out as an envelope with its status, so a change of
// net/http's forms fails here.
func TestReplacesNetHTTPErrors(t *testing.T) {
	l := serve(t, Config{}, nil, func(s *http.Server) { s.MaxHeaderBytes = 4 << 10 })
	cases := []struct {
		name, raw string
		status    int
		code      string
	}{
		{"bad escape in path", "GET /tags/arn%3 HTTP/1.1\r\nHost: x\r\n\r\n", 400, "BadRequestException"},
		{"no request line fields", "GET /\r\n\r\n", 400, "BadRequestException"},
		{"garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", 400, "BadRequestException"},
		{"bad version", "GET / HTTP/1.x\r\nHost: x\r\n\r\n", 400, "BadRequestException"},
		{"no Host", "GET / HTTP/1.1\r\n\r\n", 400, "BadRequestException"},
		{"bad header line", "GET / HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", 400, "BadRequestException"},
		{"bad Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400, "BadRequestException"},
		{"HTTP/0.9", "GET / HTTP/0.9\r\nHost: x\r\n\r\n", 505, "HTTPVersionNotSupportedException"},
		{"HTTP/2.0", "GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505, "HTTPVersionNotSupportedException"},
		{"gzip transfer encoding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "NotImplementedException"},
		{"oversized headers", "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 8<<10) + "\r\n\r\n", 431, "RequestHeaderFieldsTooLargeException"},
		{"unknown expectation", "GET / HTTP/1.1\r\nHost: x\r\nExpect: teapot\r\n\r\n", 417, "ExpectationFailedException"},
	}
	for _, tc := range cases {
		resp, body := roundTrip(t, l, tc.raw)
		envelope(t, tc.name, resp, body, tc.status, tc.code)
	}
	if got := l.Stats().Replaced; got != int64(len(cases)) {
		t.Errorf("Stats().Replaced = %d, want %d", got, len(cases))
	}
}

// TestHandlerResponsesUntouched: responses written by handlers pass
// byte for byte, even ones that look like net/http's errors.
func TestHandlerResponsesUntouched(t *testing.T) {
	l := serve(t, Config{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/plain400":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.Header().Set("Connection", "close")
			w.WriteHeader(400)
			_, _ = w.Write([]byte("400 Bad Request"))
		case "/continue":
			b, _ := io.ReadAll(r.Body)
			_, _ = w.Write(b)
		default:
			w.Header().Set("Content-Type", "text/plain")
			_, _ = w.Write([]byte("ok\n"))
		}
	}))
	resp, body := roundTrip(t, l, "GET /plain400 HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 400 || body != "400 Bad Request" || resp.Header.Get("Content-Type") != "text/plain; charset=utf-8" || resp.Header.Get("X-Amzn-ErrorType") != "" {
		t.Errorf("handler's text/plain 400 was changed: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	resp, body = roundTrip(t, l, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 200 || body != "ok\n" || resp.Header.Get("Content-Type") != "text/plain" {
		t.Errorf("plain page changed: %d %v %q", resp.StatusCode, resp.Header, body)
	}
	// 100 Continue (no Date header) goes through.
	c := dial(t, l)
	if _, err := c.Write([]byte("POST /continue HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	line, err := br.ReadString('\n')
	if err != nil || line != "HTTP/1.1 100 Continue\r\n" {
		t.Fatalf("100-continue: %q %v", line, err)
	}
	_, _ = br.ReadString('\n')
	if _, err := c.Write([]byte("hello")); err != nil {
		t.Fatal(err)
	}
	resp, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(b) != "hello" {
		t.Errorf("after 100 Continue: %d %q", resp.StatusCode, b)
	}
	if got := l.Stats().Replaced; got != 0 {
		t.Errorf("Stats().Replaced = %d, want 0", got)
	}
}

func TestParseServerError(t *testing.T) {
	const eh = netHTTPErrorHeaders
	date := "Wed, 02 Dec 2026 08:09:25 GMT"
	cases := []struct {
		in     string
		ok     bool
		status int
		reason string
	}{
		{"HTTP/1.1 400 Bad Request" + eh + "400 Bad Request", true, 400, ""},
		{"HTTP/1.1 431 Request Header Fields Too Large" + eh + "431 Request Header Fields Too Large", true, 431, ReasonHeaderTooLarge},
		{"HTTP/1.1 501 Not Implemented" + eh + "Unsupported transfer encoding", true, 501, ReasonUnsupportedTE},
		{"HTTP/1.1 400 Bad Request: missing required Host header" + eh + "400 Bad Request: missing required Host header", true, 400, "missing required Host header"},
		{"HTTP/1.1 505 HTTP Version Not Supported: unsupported protocol version" + eh + "505 HTTP Version Not Supported: unsupported protocol version", true, 505, "unsupported protocol version"},
		{"HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nDate: " + date + "\r\nContent-Length: 0\r\n\r\n", true, 417, ReasonExpectationUnsupported},
		{"HTTP/1.0 417 Expectation Failed\r\nConnection: close\r\nDate: " + date + "\r\nContent-Length: 0\r\n\r\n", true, 417, ReasonExpectationUnsupported},
		// Handler responses: a Date, sorted headers, a length.
		{"HTTP/1.1 400 Bad Request\r\nDate: " + date + "\r\nContent-Length: 15\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n400 Bad Request", false, 0, ""},
		{"HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nDate: " + date + "\r\n\r\n400 Bad Request", false, 0, ""},
		{"HTTP/1.1 417 Expectation Failed\r\nConnection: close\r\nContent-Type: application/json\r\nDate: " + date + "\r\nContent-Length: 2\r\n\r\n{}", false, 0, ""},
		{"HTTP/1.1 100 Continue\r\n\r\n", false, 0, ""},
		{"HTTP/1.1 400 Bad Request" + eh + "something else", false, 0, ""},
		{"HTTP/1.1 400 Bad Request" + eh, false, 0, ""},
		{"HTTP/1.0 400 Bad Request" + eh + "400 Bad Request", false, 0, ""},
		{"HTTP/1.1 999 Nope" + eh + "999 Nope", false, 0, ""},
		{"HTTP/1.1 4x0 Bad" + eh + "4x0 Bad", false, 0, ""},
		{"HTTP/1.1 200 OK\r\n", false, 0, ""},
		{"HTTP/1.1 ", false, 0, ""},
		{"{\"HTTP/1.1 400\"}", false, 0, ""},
	}
	for _, tc := range cases {
		rej, ok := ParseServerError([]byte(tc.in))
		if ok != tc.ok || rej.Status != tc.status || rej.Reason != tc.reason {
			t.Errorf("ParseServerError(%q) = %+v %v, want %d %q %v", tc.in, rej, ok, tc.status, tc.reason, tc.ok)
		}
	}
}

func TestFromLimit(t *testing.T) {
	for _, tc := range []struct {
		limit uint64
		want  int
	}{{20000, 8192}, {1 << 20, 8192}, {4096, 2048}, {1024, 512}, {10, 16}, {^uint64(0), 8192}} {
		if got := fromLimit(tc.limit); got != tc.want {
			t.Errorf("fromLimit(%d) = %d, want %d", tc.limit, got, tc.want)
		}
	}
	if n := DefaultMaxConns(); n < 16 || n > 8192 {
		t.Errorf("DefaultMaxConns() = %d", n)
	}
}

// TestCapRefusesCleanly: above the cap (no connection old enough to
// evict) a connection gets a 503 envelope with Retry-After and is closed;
// a freed slot admits the next one.
func TestCapRefusesCleanly(t *testing.T) {
	l := serve(t, Config{MaxConns: 3, EvictAfter: time.Hour, RetryAfter: 2 * time.Second}, nil)
	var held []net.Conn
	for range 3 {
		c := dial(t, l)
		resp, _ := func() (*http.Response, string) {
			_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
			return readResponse(t, c, "held")
		}()
		if resp.StatusCode != 200 {
			t.Fatalf("held connection: %d", resp.StatusCode)
		}
		held = append(held, c)
	}
	for i := range 5 {
		resp, body := roundTrip(t, l, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		envelope(t, "over the cap", resp, body, 503, "ServiceUnavailableException")
		if resp.Header.Get("Retry-After") != "2" {
			t.Errorf("refusal %d: Retry-After %q, want 2", i, resp.Header.Get("Retry-After"))
		}
	}
	if s := l.Stats(); s.Refused != 5 || s.Open != 3 {
		t.Errorf("stats %+v, want 5 refused, 3 open", s)
	}
	held[0].Close()
	waitFor(t, "slot freed", func() bool { return l.Stats().Open == 2 })
	resp, _ := roundTrip(t, l, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Errorf("after a slot was freed: %d", resp.StatusCode)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestEvictsSlowestFirst: at the cap, a new connection evicts the
// connection that has waited longest in the middle of its headers (it
// gets a 408), before any idle one; a connection being served is never
// evicted.
func TestEvictsSlowestFirst(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	l := serve(t, Config{MaxConns: 3, EvictAfter: 100 * time.Millisecond}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		_, _ = w.Write([]byte("ok"))
	}))
	// 1: idle after one request.
	idle := dial(t, l)
	_, _ = idle.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	readResponse(t, idle, "idle")
	// 2: stuck in its headers.
	slow := dial(t, l)
	_, _ = slow.Write([]byte("GET / HTTP/1.1\r\nHo"))
	// 3: being served.
	active := dial(t, l)
	_, _ = active.Write([]byte("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"))
	time.Sleep(300 * time.Millisecond)

	resp, _ := roundTrip(t, l, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("new connection at the cap: %d, want 200 (a slow one evicted)", resp.StatusCode)
	}
	resp, body := readResponse(t, slow, "evicted slow connection")
	envelope(t, "evicted slow connection", resp, body, 408, "RequestTimeoutException")

	// Next: the idle connection goes (closed without a response).
	resp, _ = roundTrip(t, l, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp.StatusCode != 200 {
		t.Fatalf("second new connection: %d", resp.StatusCode)
	}
	if n, err := idle.Read(make([]byte, 1)); n != 0 || err == nil {
		t.Errorf("idle connection not closed: %d %v", n, err)
	}
	// Later newcomers evict the older idle ones, never the active one.
	time.Sleep(200 * time.Millisecond)
	for i := range 2 {
		resp, _ = roundTrip(t, l, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		if resp.StatusCode != 200 {
			t.Fatalf("newcomer %d: %d", i, resp.StatusCode)
		}
	}
	once.Do(func() { close(release) })
	resp, _ = readResponse(t, active, "active connection")
	if resp.StatusCode != 200 {
		t.Errorf("active connection: %d, want 200 (never evicted)", resp.StatusCode)
	}
	if s := l.Stats(); s.Evicted != 4 || s.Refused != 0 {
		t.Errorf("stats %+v, want 4 evicted (slow, idle, two newcomers), none refused", s)
	}
}

// TestHeaderDeadlineIsTotal: a client trickling its headers a byte at a
// time is cut off at ReadHeaderTimeout from its first byte (not from its
// last), with a 408.
func TestHeaderDeadlineIsTotal(t *testing.T) {
	l := serve(t, Config{}, nil, func(s *http.Server) { s.ReadHeaderTimeout = 400 * time.Millisecond })
	c := dial(t, l)
	start := time.Now()
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, b := range []byte("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") {
			if _, err := c.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	resp, body := readResponse(t, c, "trickled headers")
	envelope(t, "trickled headers", resp, body, 408, "RequestTimeoutException")
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("cut off after %v, want about 400ms", d)
	}
	c.Close()
	<-done
}

// TestConnImplementsFastPaths: net/http's sendfile/splice path and its
// half-close before a 431 need these on the connection.
func TestConnImplementsFastPaths(t *testing.T) {
	var c net.Conn = &Conn{}
	if _, ok := c.(io.ReaderFrom); !ok {
		t.Error("Conn is not an io.ReaderFrom")
	}
	if _, ok := c.(interface{ CloseWrite() error }); !ok {
		t.Error("Conn has no CloseWrite")
	}
}

// TestWaitingCap: below the connection cap, connections that send nothing
// are bounded by MaxWaiting: each newcomer beyond it closes the oldest
// waiting one; the connection being served is never touched, and the
// count of waiting connections falls back to zero when all close.
func TestWaitingCap(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	t.Cleanup(func() { once.Do(func() { close(release) }) })
	l := serve(t, Config{MaxConns: 100, MaxWaiting: 5, EvictAfter: 50 * time.Millisecond}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			<-release
		}
		_, _ = w.Write([]byte("ok"))
	}))
	active := dial(t, l)
	_, _ = active.Write([]byte("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"))
	var old, young []net.Conn
	for range 5 {
		old = append(old, dial(t, l))
	}
	time.Sleep(150 * time.Millisecond)
	for range 5 {
		young = append(young, dial(t, l))
	}
	for i, c := range old {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil || isTimeout(err) {
			t.Errorf("old silent connection %d: read %d, %v; want it closed", i, n, err)
		}
	}
	if s := l.Stats(); s.Evicted != 5 || s.Waiting != 5 || s.Refused != 0 {
		t.Errorf("stats %+v, want 5 evicted, 5 waiting, none refused", s)
	}
	// The young ones are still open and can be served.
	for i, c := range young {
		_, _ = c.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
		if resp, _ := readResponse(t, c, "young connection"); resp.StatusCode != 200 {
			t.Errorf("young connection %d: %d", i, resp.StatusCode)
		}
	}
	once.Do(func() { close(release) })
	if resp, _ := readResponse(t, active, "active connection"); resp.StatusCode != 200 {
		t.Errorf("active connection: %d, want 200 (never evicted)", resp.StatusCode)
	}
	for _, c := range append(young, active) {
		c.Close()
	}
	deadline := time.Now().Add(5 * time.Second)
	for l.Stats().Open != 0 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := l.Stats(); s.Open != 0 || s.Waiting != 0 {
		t.Errorf("after every connection closed: %+v, want none open or waiting", s)
	}
}

// TestEvictedBeforeFirstRead: a new connection evicted after its client's
// bytes arrived but before the server read any still gets its 408 (the
// bytes are read and named), not a silent close.
func TestEvictedBeforeFirstRead(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	l := Listen(ln, Config{MaxConns: 10})
	defer l.Close()
	client, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	nc, err := l.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	c := nc.(*Conn)
	if _, err := client.Write([]byte("GET /environment HTTP/1.1\r\nHost: x\r\nX-Slow: a")); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // the bytes are in the server's socket buffer
	if !c.evict() {
		t.Fatal("a new connection was not evictable")
	}
	if n, err := c.Read(make([]byte, 4096)); n != 0 || err == nil {
		t.Fatalf("read of an evicted connection: %d, %v", n, err)
	}
	_ = client.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, body := readResponse(t, client, "evicted before its first read")
	envelope(t, "evicted before its first read", resp, body, 408, "RequestTimeoutException")
}
