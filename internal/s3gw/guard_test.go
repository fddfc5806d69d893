package s3gw

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/authz"
	"github.com/openfinspace/openfinspace/internal/auth/sigv4"
)

func TestLimitsFromEnv(t *testing.T) {
	for _, tc := range []struct {
		env     map[string]string
		want    Limits
		wantErr bool
	}{
		{env: nil, want: Limits{}},
		{env: map[string]string{EnvMaxRequests: "100", EnvIdleTimeout: "3s"}, want: Limits{MaxRequests: 100, IdleTimeout: 3 * time.Second}},
		{env: map[string]string{EnvIdleTimeout: " 250ms "}, want: Limits{IdleTimeout: 250 * time.Millisecond}},
		{env: map[string]string{EnvMaxRequests: "0"}, wantErr: true},
		{env: map[string]string{EnvMaxRequests: "many"}, wantErr: true},
		{env: map[string]string{EnvIdleTimeout: "20"}, wantErr: true},
		{env: map[string]string{EnvIdleTimeout: "-1s"}, wantErr: true},
	} {
		got, err := LimitsFromEnv(func(k string) string { return tc.env[k] })
		if (err != nil) != tc.wantErr || (!tc.wantErr && got != tc.want) {
			t.Errorf("LimitsFromEnv(%v) = %+v, %v; want %+v, error %v", tc.env, got, err, tc.want, tc.wantErr)
		}
	}
	if d := (Limits{}).withDefaults(); d.MaxRequests != DefaultMaxRequests || d.IdleTimeout != DefaultIdleTimeout {
		t.Errorf("defaults = %+v", d)
	}
}

// TestConnectionLimits: the gateway process accepts more connections than
// the parent ever opens, which is more than the requests it admits; a
// small MaxConnections lowers the admitted requests to fit.
func TestConnectionLimits(t *testing.T) {
	for _, tc := range []struct {
		maxReq, maxConns         int
		wantMaxReq, wantMaxConns int
		wantErr                  bool
	}{
		{0, 0, DefaultMaxRequests, DefaultMaxRequests + blobConns + childConnSlack, false},
		{100, 0, 100, 100 + blobConns + childConnSlack, false},
		{100, 1000, 100, 1000, false},
		{4096, 1024, 1024 - blobConns - childConnSlack, 1024, false},
		{0, blobConns + childConnSlack, 0, 0, true},
	} {
		creds := auth.Chain{auth.Static{}}
		g, err := New(Config{ObjectsDir: filepath.Join(t.TempDir(), "objects"), AccountID: testAccount, Credentials: creds,
			Verifier: &sigv4.Verifier{Credentials: creds}, Authz: &authz.Authorizer{Live: liveForTests},
			Limits: Limits{MaxRequests: tc.maxReq}, MaxConnections: tc.maxConns})
		if tc.wantErr {
			if err == nil {
				t.Errorf("MaxRequests %d, MaxConnections %d: no error", tc.maxReq, tc.maxConns)
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
		if g.limits.MaxRequests != tc.wantMaxReq || g.cfg.MaxConnections != tc.wantMaxConns || g.admit.max != int64(tc.wantMaxReq) {
			t.Errorf("MaxRequests %d, MaxConnections %d: got %d, %d", tc.maxReq, tc.maxConns, g.limits.MaxRequests, g.cfg.MaxConnections)
		}
		if maxChildConns(g.limits.MaxRequests) > g.cfg.MaxConnections-childConnSlack {
			t.Errorf("the parent may open %d connections, the gateway accepts %d", maxChildConns(g.limits.MaxRequests), g.cfg.MaxConnections)
		}
	}
}

func TestAdmission(t *testing.T) {
	a := &admission{max: 2}
	if !a.tryAcquire() || !a.tryAcquire() {
		t.Fatal("the first two are admitted")
	}
	if a.tryAcquire() {
		t.Fatal("the third is refused")
	}
	a.release()
	if !a.tryAcquire() {
		t.Fatal("a released slot is admitted again")
	}
	if a.inUse.Load() != 2 {
		t.Fatalf("in use %d, want 2", a.inUse.Load())
	}
}

func TestBoundedBuffers(t *testing.T) {
	b := newBoundedBuffers(1024, 64, 2)
	l1, l2, s1 := b.Get(), b.Get(), b.Get()
	if len(l1) != 1024 || len(l2) != 1024 || len(s1) != 64 {
		t.Fatalf("sizes %d %d %d, want two large then a small", len(l1), len(l2), len(s1))
	}
	b.Put(s1)
	if got := b.Get(); len(got) != 64 {
		t.Fatalf("with every large buffer out: %d bytes", len(got))
	}
	b.Put(l1[:10]) // resliced: still a large buffer
	if got := b.Get(); len(got) != 1024 {
		t.Fatalf("after a large buffer came back: %d bytes", len(got))
	}
	b.Put(make([]byte, 500)) // not ours: dropped, counts unchanged
	if b.inUse.Load() != 2 {
		t.Fatalf("large buffers out: %d, want 2", b.inUse.Load())
	}
}

// TestModifyResponse: a plain-text 503 of the gateway's HTTP server reaches
// the client as S3's SlowDown; other responses are untouched.
func TestModifyResponse(t *testing.T) {
	plain := "The connection cannot be served because Server.Concurrency limit exceeded"
	req := &http.Request{URL: &url.URL{Opaque: "/bucket/key", RawQuery: "x=1"}}
	res := &http.Response{StatusCode: 503, Header: http.Header{"Content-Type": {"text/plain"}},
		Body: io.NopCloser(strings.NewReader(plain)), ContentLength: int64(len(plain)), Request: req}
	if err := modifyResponse(res); err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 503 || res.Header.Get("Content-Type") != "application/xml" || !bytes.Contains(body, []byte("<Code>SlowDown</Code>")) ||
		!bytes.Contains(body, []byte("<Resource>/bucket/key</Resource>")) || res.ContentLength != int64(len(body)) ||
		res.Header.Get("Content-Length") != fmt.Sprint(len(body)) {
		t.Errorf("rewritten: %d %v %q", res.StatusCode, res.Header, body)
	}
	xmlBody := xmlError("ServiceUnavailable", "x", "")
	for _, r := range []*http.Response{
		{StatusCode: 503, Header: http.Header{"Content-Type": {"application/xml"}}, Body: io.NopCloser(strings.NewReader(xmlBody))},
		{StatusCode: 200, Header: http.Header{"Content-Type": {"text/plain"}}, Body: io.NopCloser(strings.NewReader("data"))},
	} {
		before := r.Body
		if err := modifyResponse(r); err != nil || r.Body != before {
			t.Errorf("status %d %s: changed", r.StatusCode, r.Header.Get("Content-Type"))
		}
	}
}

// limitedGateway is a gateway with limits, served as the main port serves
// it, beside a handler that is not the gateway (/_plain, like the main
// port's other APIs on the same connections).
func startLimitedGateway(t *testing.T, limits Limits) *testGateway {
	t.Helper()
	static := auth.Static{rootKey: {AccessKeyID: rootKey, SecretAccessKey: rootSecret,
		Principal: auth.Principal{Kind: auth.Root, Account: testAccount, ARN: "arn:aws:iam::" + testAccount + ":root"}}}
	creds := auth.Chain{static}
	g, err := New(Config{ObjectsDir: filepath.Join(t.TempDir(), "objects"), AccountID: testAccount, Credentials: creds,
		Verifier: &sigv4.Verifier{Credentials: creds}, Authz: &authz.Authorizer{Live: liveForTests},
		Logger: slog.New(slog.DiscardHandler), Limits: limits})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/_plain" {
			_, _ = io.WriteString(w, "plain")
			return
		}
		g.ServeHTTP(w, r)
	}))
	t.Cleanup(func() {
		srv.CloseClientConnections()
		srv.Close()
		if err := g.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &testGateway{g: g, url: srv.URL, s3: s3Client(srv.URL, rootKey, rootSecret, "")}
}

// presignedGet is the request target of a presigned GET of bucket/key.
func (tg *testGateway) presignedGet(t *testing.T, bucket, key string) string {
	t.Helper()
	ps, err := s3.NewPresignClient(tg.s3).PresignGetObject(context.Background(),
		&s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(ps.URL)
	return u.RequestURI()
}

// stalledGet sends a GET of target and never reads the answer.
func (tg *testGateway) stalledGet(t *testing.T, target string) net.Conn {
	t.Helper()
	host := strings.TrimPrefix(tg.url, "http://")
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if _, err := io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: "+host+"\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	return c
}

// waitFor polls cond for up to d.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// drain reads c to its end (or 10 s) and returns how many bytes came.
func drain(c net.Conn) (int64, error) {
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	return io.Copy(io.Discard, c)
}

// TestStalledDownloadDropped: a client that never reads its download is
// dropped after IdleTimeout, releasing its admission slot, while other
// clients are served.
func TestStalledDownloadDropped(t *testing.T) {
	const idle = 700 * time.Millisecond
	tg := startLimitedGateway(t, Limits{IdleTimeout: idle})
	ctx := context.Background()
	if _, err := tg.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("stall")}); err != nil {
		t.Fatal(err)
	}
	const size = 32 << 20 // far more than the socket buffers hold
	big := randomBytes(t, size)
	mustPutObject(t, tg.s3, "stall", "big.bin", big)

	start := time.Now()
	c := tg.stalledGet(t, tg.presignedGet(t, "stall", "big.bin"))
	waitFor(t, 5*time.Second, "the stalled GET was never admitted", func() bool { return tg.g.admit.inUse.Load() == 1 })
	// Meanwhile others are served.
	out, err := tg.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("stall"), Key: aws.String("big.bin")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil || sum(got) != sum(big) {
		t.Fatalf("a well-behaved GET during the stall: %d bytes, %v", len(got), err)
	}
	waitFor(t, idle+5*time.Second, "the stalled GET still holds its slot", func() bool { return tg.g.admit.inUse.Load() == 0 })
	dropped := time.Since(start)
	if dropped < idle {
		t.Errorf("dropped after %v, before the idle timeout %v", dropped, idle)
	}
	n, _ := drain(c)
	if n >= size {
		t.Errorf("the stalled client could still read %d bytes: the connection was not dropped", n)
	}
	t.Logf("stalled download dropped after %v (idle timeout %v); its connection had %d bytes in flight", dropped.Round(time.Millisecond), idle, n)
}

// TestStalledUploadDropped: a client that stops sending its body gets S3's
// RequestTimeout and its connection is closed; nothing is stored.
func TestStalledUploadDropped(t *testing.T) {
	const idle = 700 * time.Millisecond
	tg := startLimitedGateway(t, Limits{IdleTimeout: idle})
	ctx := context.Background()
	if _, err := tg.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("stall")}); err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPut, tg.url+"/stall/partial.bin", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = 1 << 20
	req.Header.Set("X-Amz-Content-Sha256", sigv4.UnsignedPayload)
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: rootKey, SecretAccessKey: rootSecret},
		req, sigv4.UnsignedPayload, "s3", testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(tg.url, "http://")
	c, err := net.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var head bytes.Buffer
	fmt.Fprintf(&head, "PUT /stall/partial.bin HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n", host, req.ContentLength)
	for k, vs := range req.Header {
		for _, v := range vs {
			fmt.Fprintf(&head, "%s: %s\r\n", k, v)
		}
	}
	head.WriteString("\r\n")
	head.Write(bytes.Repeat([]byte("x"), 1000)) // and no more
	start := time.Now()
	if _, err := c.Write(head.Bytes()); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(idle + 10*time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer to the stalled upload: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	elapsed := time.Since(start)
	if resp.StatusCode != 400 || !bytes.Contains(body, []byte("<Code>RequestTimeout</Code>")) || !resp.Close ||
		resp.Header.Get("Content-Type") != "application/xml" {
		t.Errorf("stalled upload: %s close=%v %q", resp.Status, resp.Close, body)
	}
	if elapsed < idle {
		t.Errorf("answered after %v, before the idle timeout %v", elapsed, idle)
	}
	if n, err := drain(c); n != 0 || err != nil {
		t.Errorf("after the answer: %d more bytes, %v (want the connection closed)", n, err)
	}
	if _, err := tg.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("stall"), Key: aws.String("partial.bin")}); err == nil {
		t.Error("the partial upload was stored")
	}
	waitFor(t, 5*time.Second, "the stalled upload still holds its slot", func() bool { return tg.g.admit.inUse.Load() == 0 })
}

// TestSlowDownWhenSaturated: beyond MaxRequests the answer is S3's
// SlowDown, in XML, at once; slots free up as stalled clients are dropped.
func TestSlowDownWhenSaturated(t *testing.T) {
	const idle = 700 * time.Millisecond
	tg := startLimitedGateway(t, Limits{MaxRequests: 2, IdleTimeout: idle})
	ctx := context.Background()
	if _, err := tg.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("busy")}); err != nil {
		t.Fatal(err)
	}
	mustPutObject(t, tg.s3, "busy", "big.bin", randomBytes(t, 32<<20))
	mustPutObject(t, tg.s3, "busy", "small.txt", []byte("small"))
	target := tg.presignedGet(t, "busy", "big.bin")
	tg.stalledGet(t, target)
	tg.stalledGet(t, target)
	waitFor(t, 5*time.Second, "two stalled GETs were not admitted", func() bool { return tg.g.admit.inUse.Load() == 2 })

	start := time.Now()
	resp, err := http.DefaultClient.Do(tg.signedGet(t, "GET", "/busy/small.txt", nil))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 503 || resp.Header.Get("Content-Type") != "application/xml" || resp.Header.Get("Retry-After") == "" ||
		!bytes.Contains(body, []byte("<Code>SlowDown</Code>")) || !bytes.Contains(body, []byte(slowDownMessage)) {
		t.Errorf("saturated: %s %v %q", resp.Status, resp.Header, body)
	}
	if e := time.Since(start); e > idle/2 {
		t.Errorf("SlowDown took %v: it must not wait", e)
	}
	// The stalled clients are dropped; the endpoint serves again.
	waitFor(t, idle+5*time.Second, "the stalled GETs were not dropped", func() bool { return tg.g.admit.inUse.Load() == 0 })
	resp, err = http.DefaultClient.Do(tg.signedGet(t, "GET", "/busy/small.txt", nil))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != "small" {
		t.Errorf("after the stalls: %s %q", resp.Status, body)
	}
}

// TestDeadlinesDoNotOutliveTheRequest: after S3 responses of every kind
// (proxied with a length, proxied without a body, of the main port's own
// making), the connection serves a later request — to another handler,
// long after IdleTimeout — as if no deadline had been set.
func TestDeadlinesDoNotOutliveTheRequest(t *testing.T) {
	const idle = 300 * time.Millisecond
	tg := startLimitedGateway(t, Limits{IdleTimeout: idle})
	ctx := context.Background()
	if _, err := tg.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("keep")}); err != nil {
		t.Fatal(err)
	}
	mustPutObject(t, tg.s3, "keep", "obj.txt", []byte("an object"))
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	var conns []string
	var mu sync.Mutex
	do := func(req *http.Request) (*http.Response, string) {
		t.Helper()
		var local string
		trace := &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) { local = i.Conn.LocalAddr().String() }}
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), trace))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		mu.Lock()
		conns = append(conns, local)
		mu.Unlock()
		return resp, string(body)
	}
	plain := func() *http.Request { r, _ := http.NewRequest("GET", tg.url+"/_plain", nil); return r }
	for _, tc := range []struct {
		name   string
		req    func() *http.Request
		status int
	}{
		{"GET with a length", func() *http.Request { return tg.signedGet(t, "GET", "/keep/obj.txt", nil) }, 200},
		{"HEAD", func() *http.Request { return tg.signedGet(t, "HEAD", "/keep/obj.txt", nil) }, 200},
		{"the gateway's 404", func() *http.Request { return tg.signedGet(t, "GET", "/keep/missing", nil) }, 404},
		{"the main port's own error", func() *http.Request {
			r := tg.signedGet(t, "GET", "/keep/obj.txt", nil)
			r.Header.Set("Authorization", r.Header.Get("Authorization")+", Credential=x") // two credentials
			r.Header.Add("Authorization", "AWS4-HMAC-SHA256 Credential=other")
			return r
		}, 400},
	} {
		resp, _ := do(tc.req())
		if resp.StatusCode != tc.status || resp.Close {
			t.Errorf("%s: %s, close=%v", tc.name, resp.Status, resp.Close)
		}
		time.Sleep(3 * idle)
		if resp, body := do(plain()); resp.StatusCode != 200 || body != "plain" {
			t.Errorf("after %s, another handler on the connection: %s %q", tc.name, resp.Status, body)
		}
	}
	for _, c := range conns[1:] {
		if c != conns[0] {
			t.Fatalf("the requests did not share one connection: %v", conns)
		}
	}
}

// TestResponseOfUnknownLength: a guarded response of unknown length (its
// last chunk written by net/http after the handler) keeps its connection,
// and the deadline does not reach the connection's next request.
func TestResponseOfUnknownLength(t *testing.T) {
	const idle = 200 * time.Millisecond
	g := &Gateway{limits: Limits{IdleTimeout: idle}}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/plain" {
			_, _ = io.WriteString(w, "plain")
			return
		}
		gw, _ := g.guard(w, r)
		defer gw.finish()
		_, _ = io.WriteString(gw, "streamed")
		_ = http.NewResponseController(gw).Flush()
		_, _ = io.WriteString(gw, " body")
	}))
	defer srv.Close()
	client := &http.Client{Transport: &http.Transport{}}
	var addrs []string
	for _, path := range []string{"/stream", "/plain", "/stream", "/plain"} {
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
			GotConn: func(i httptrace.GotConnInfo) { addrs = append(addrs, i.Conn.LocalAddr().String()) }}))
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		want := map[string]string{"/stream": "streamed body", "/plain": "plain"}[path]
		if string(body) != want || resp.Close || (path == "/stream" && resp.ContentLength != -1) {
			t.Errorf("%s: %q close=%v length %d", path, body, resp.Close, resp.ContentLength)
		}
		time.Sleep(3 * idle)
	}
	for _, a := range addrs {
		if a != addrs[0] {
			t.Errorf("not one connection: %v", addrs)
		}
	}
}

// awsChunkedUnsigned is body in aws-chunked framing with an unsigned
// trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER) carrying its CRC32.
func awsChunkedUnsigned(body []byte, chunk int) []byte {
	var b bytes.Buffer
	for off := 0; off < len(body); off += chunk {
		end := min(off+chunk, len(body))
		fmt.Fprintf(&b, "%x\r\n", end-off)
		b.Write(body[off:end])
		b.WriteString("\r\n")
	}
	sum := crc32.ChecksumIEEE(body)
	crc := base64.StdEncoding.EncodeToString([]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
	fmt.Fprintf(&b, "0\r\nx-amz-checksum-crc32:%s\r\n\r\n", crc)
	return b.Bytes()
}

// chunkedPut is a PUT of body sent with Transfer-Encoding: chunked (no
// Content-Length), as aws-chunked when decoded >= 0.
func (tg *testGateway) chunkedPut(t *testing.T, path string, body []byte, decoded int) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPut, tg.url+path, io.NopCloser(bytes.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1
	hash := sigv4.UnsignedPayload
	if decoded >= 0 {
		hash = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
		req.Header.Set("Content-Encoding", "aws-chunked")
		req.Header.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(decoded))
		req.Header.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
	}
	req.Header.Set("X-Amz-Content-Sha256", hash)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: rootKey, SecretAccessKey: rootSecret},
		req, hash, "s3", testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

// TestChunkedBodies: a PUT with Transfer-Encoding: chunked is refused with
// 411 MissingContentLength unless it is aws-chunked with its decoded
// length, which is stored byte for byte.
func TestChunkedBodies(t *testing.T) {
	tg := startLimitedGateway(t, Limits{})
	ctx := context.Background()
	if _, err := tg.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("chunky")}); err != nil {
		t.Fatal(err)
	}
	data := randomBytes(t, 300_000)
	for _, tc := range []struct {
		name    string
		req     *http.Request
		status  int
		code    string
		wantKey string
	}{
		{"plain chunked", tg.chunkedPut(t, "/chunky/plain.bin", data, -1), 411, "MissingContentLength", ""},
		{"aws-chunked without its decoded length", func() *http.Request {
			r := tg.chunkedPut(t, "/chunky/nolen.bin", awsChunkedUnsigned(data, 64<<10), 0)
			r.Header.Del("X-Amz-Decoded-Content-Length")
			return r
		}(), 411, "MissingContentLength", ""},
		{"aws-chunked, chunked transfer", tg.chunkedPut(t, "/chunky/aws.bin", awsChunkedUnsigned(data, 64<<10), len(data)), 200, "", "aws.bin"},
	} {
		resp, err := http.DefaultClient.Do(tc.req)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.status || (tc.code != "" && (!bytes.Contains(body, []byte("<Code>"+tc.code+"</Code>")) ||
			resp.Header.Get("Content-Type") != "application/xml")) {
			t.Errorf("%s: %s %q, want %d %s", tc.name, resp.Status, body, tc.status, tc.code)
		}
		if tc.code == "MissingContentLength" && !bytes.Contains(body, []byte(missingLengthMessage)) {
			t.Errorf("%s: message %q", tc.name, body)
		}
		if tc.wantKey != "" {
			out, err := tg.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("chunky"), Key: aws.String(tc.wantKey)})
			if err != nil {
				t.Fatalf("%s: %v", tc.name, err)
			}
			got, _ := io.ReadAll(out.Body)
			out.Body.Close()
			if !bytes.Equal(got, data) {
				t.Errorf("%s: stored %d bytes, not the body", tc.name, len(got))
			}
		}
	}
}

// TestGatewayClosesAfterChunkedBody: even straight to the gateway process
// (the blob store's path, without the main port's 411), a chunked body
// the gateway does not read closes its connection instead of being read
// as the next request.
func TestGatewayClosesAfterChunkedBody(t *testing.T) {
	tg := startLimitedGateway(t, Limits{})
	ctx := context.Background()
	if _, err := tg.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("direct")}); err != nil {
		t.Fatal(err)
	}
	mustPutObject(t, tg.s3, "direct", "obj.txt", []byte("object"))
	hc := tg.g.HTTPClient()
	sign := func(req *http.Request, hash string) *http.Request {
		req.Header.Set("X-Amz-Content-Sha256", hash)
		if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: rootKey, SecretAccessKey: rootSecret},
			req, hash, "s3", testRegion, time.Now()); err != nil {
			t.Fatal(err)
		}
		return req
	}
	// The body looks like a request: were it read as one, it would answer.
	smuggled := "GET /direct/obj.txt HTTP/1.1\r\nHost: x\r\n\r\n"
	for i := range 5 {
		req, _ := http.NewRequest(http.MethodPut, tg.g.EndpointURL()+"/direct/smuggle.bin", io.NopCloser(strings.NewReader(smuggled)))
		req.ContentLength = -1
		resp, err := hc.Do(sign(req, sigv4.UnsignedPayload))
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode < 400 || !resp.Close {
				t.Errorf("chunked PUT %d straight to the gateway: %s, close=%v", i, resp.Status, resp.Close)
			}
		} else {
			// The gateway answered and closed before this side had written
			// the body (a write error instead of the answer): a race of
			// closing, not a desync.
			t.Logf("chunked PUT %d: %v", i, err)
		}
		for range 3 {
			req, _ := http.NewRequest(http.MethodGet, tg.g.EndpointURL()+"/direct/obj.txt", nil)
			resp, err := hc.Do(sign(req, emptySHA))
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(body) != "object" {
				t.Fatalf("GET after a chunked PUT: %s %q", resp.Status, body)
			}
		}
	}
}

const emptySHA = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
