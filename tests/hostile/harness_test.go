package hostile_test

// Shared helpers of the hostile-client tests: signed raw requests, clients
// that stall, a well-behaved client that reports what it saw, and the
// memory and descriptors of the server and its gateway process.

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

// emptyPayloadSHA256 is the SHA-256 of an empty body.
const emptyPayloadSHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// s3ClientFor is an S3 client of srv's root credentials (path-style, no
// retries: a failure is seen as such).
func s3ClientFor(srv *server.Server) *s3.Client {
	root := srv.Root()
	return s3.New(s3.Options{Region: servertest.Region, BaseEndpoint: aws.String(srv.URL()), UsePathStyle: true,
		RetryMaxAttempts: 1, Credentials: credentials.NewStaticCredentialsProvider(root.AccessKeyID, root.SecretAccessKey, "")})
}

// serverAddr is srv's host:port.
func serverAddr(srv *server.Server) string { return strings.TrimPrefix(srv.URL(), "http://") }

// signRequest signs req for service with srv's root credentials and the
// given payload hash (for S3 also sent as X-Amz-Content-Sha256).
func signRequest(t testing.TB, srv *server.Server, req *http.Request, service, payloadHash string) *http.Request {
	t.Helper()
	if service == "s3" {
		req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	}
	root := srv.Root()
	if err := v4.NewSigner().SignHTTP(req.Context(), aws.Credentials{AccessKeyID: root.AccessKeyID, SecretAccessKey: root.SecretAccessKey},
		req, payloadHash, service, servertest.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

// presignedGetTarget is the request target (path and query) of a
// presigned GET of bucket/key.
func presignedGetTarget(t testing.TB, c *s3.Client, bucket, key string) string {
	t.Helper()
	ps, err := s3.NewPresignClient(c).PresignGetObject(context.Background(), &s3.GetObjectInput{
		Bucket: aws.String(bucket), Key: aws.String(key)}, s3.WithPresignExpires(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(ps.URL)
	if err != nil {
		t.Fatal(err)
	}
	return u.RequestURI()
}

// openStalledGETs opens n connections to addr that each send a GET of
// target and never read a byte of the answer. They are closed when the
// test ends.
func openStalledGETs(t testing.TB, addr, target string, n int) []net.Conn {
	t.Helper()
	req := "GET " + target + " HTTP/1.1\r\nHost: " + addr + "\r\nUser-Agent: stalled-reader\r\n\r\n"
	conns := make([]net.Conn, 0, n)
	t.Cleanup(func() {
		for _, c := range conns {
			c.Close()
		}
	})
	for range n {
		c, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatalf("dialing stalled reader %d: %v", len(conns), err)
		}
		conns = append(conns, c)
		if _, err := io.WriteString(c, req); err != nil {
			t.Fatalf("stalled reader %d: %v", len(conns), err)
		}
	}
	return conns
}

// readUntilClosed reads every connection to its end (at most d) and
// returns how many bytes each got and whether the server closed it.
func readUntilClosed(conns []net.Conn, d time.Duration) (bytes []int64, closed []bool) {
	bytes, closed = make([]int64, len(conns)), make([]bool, len(conns))
	deadline := time.Now().Add(d)
	var wg sync.WaitGroup
	for i, c := range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetReadDeadline(deadline)
			n, err := io.Copy(io.Discard, c)
			bytes[i] = n
			// EOF (io.Copy's nil) or a reset: the server let go; a timeout:
			// it still holds the connection.
			var ne net.Error
			closed[i] = err == nil || !(asNetError(err, &ne) && ne.Timeout())
		}()
	}
	wg.Wait()
	return bytes, closed
}

func asNetError(err error, target *net.Error) bool {
	ne, ok := err.(net.Error)
	if ok {
		*target = ne
	}
	return ok
}

// clientTally is what a well-behaved client saw: latencies of the
// successes and a count of each kind of failure.
type clientTally struct {
	mu        sync.Mutex
	ok        map[string][]time.Duration // by call
	failures  map[string]int             // "s3 GET 503 text/plain" → n
	plainText int                        // answers in text/plain (never S3's or the APIs' shape)
}

func newClientTally() *clientTally {
	return &clientTally{ok: map[string][]time.Duration{}, failures: map[string]int{}}
}

func (ct *clientTally) record(call string, status int, contentType string, err error, elapsed time.Duration, okStatus int) {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	if strings.HasPrefix(contentType, "text/plain") {
		ct.plainText++
	}
	switch {
	case err != nil:
		ct.failures[call+" error: "+err.Error()]++
	case status != okStatus:
		ct.failures[fmt.Sprintf("%s %d %s", call, status, contentType)]++
	default:
		ct.ok[call] = append(ct.ok[call], elapsed)
	}
}

func (ct *clientTally) failed() int {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	n := 0
	for _, c := range ct.failures {
		n += c
	}
	return n
}

func (ct *clientTally) String() string {
	ct.mu.Lock()
	defer ct.mu.Unlock()
	var parts []string
	for call, d := range ct.ok {
		var worst time.Duration
		for _, x := range d {
			worst = max(worst, x)
		}
		parts = append(parts, fmt.Sprintf("%s: %d ok (slowest %v)", call, len(d), worst.Round(time.Millisecond)))
	}
	for k, n := range ct.failures {
		parts = append(parts, fmt.Sprintf("%s ×%d", k, n))
	}
	return strings.Join(parts, "; ")
}

// roundTrip sends a signed request built by mk with hc, reads the whole
// answer and records it.
func (ct *clientTally) roundTrip(hc *http.Client, call string, okStatus int, mk func() *http.Request) {
	start := time.Now()
	resp, err := hc.Do(mk())
	if err != nil {
		ct.record(call, 0, "", err, time.Since(start), okStatus)
		return
	}
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	ct.record(call, resp.StatusCode, resp.Header.Get("Content-Type"), err, time.Since(start), okStatus)
}

// processRSS is the resident memory of pid, in bytes (0 if unknown).
func processRSS(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// childPIDs lists the child processes of pid (a server's gateway process).
func childPIDs(pid int) []int {
	files, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range files {
		b, _ := os.ReadFile(f)
		for _, s := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(s); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

// processFDs counts pid's open descriptors (-1 if unknown).
func processFDs(pid int) int {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return -1
	}
	return len(ents)
}

// memoryWithChildren is the RSS of pid and its children together.
func memoryWithChildren(pid int) int64 {
	n := processRSS(pid)
	for _, c := range childPIDs(pid) {
		n += processRSS(c)
	}
	return n
}

// needProc skips a test that reads /proc where there is none.
func needProc(t testing.TB) {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
}
