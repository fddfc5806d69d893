package s3gw

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/authz"
	"github.com/openfinspace/openfinspace/internal/auth/sigv4"
)

const (
	testAccount = "000000000000"
	testRegion  = "us-east-1"
	rootKey     = "AKIATESTROOTROOTROOT"
	rootSecret  = "root-secret"
)

// testGateway is a Gateway served on a loopback TCP listener, as the main
// port serves it (the server's handler hands it the raw ResponseWriter).
type testGateway struct {
	g   *Gateway
	url string
	s3  *s3.Client
}

func startGateway(t *testing.T, extra ...*auth.Credential) *testGateway {
	t.Helper()
	static := auth.Static{rootKey: {AccessKeyID: rootKey, SecretAccessKey: rootSecret,
		Principal: auth.Principal{Kind: auth.Root, Account: testAccount, ARN: "arn:aws:iam::" + testAccount + ":root"}}}
	for _, c := range extra {
		static[c.AccessKeyID] = c
	}
	creds := auth.Chain{static}
	dir := t.TempDir()
	g, err := New(Config{ObjectsDir: filepath.Join(dir, "objects"), AccountID: testAccount, Credentials: creds,
		Verifier: &sigv4.Verifier{Credentials: creds}, Authz: &authz.Authorizer{Live: liveForTests}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(g)
	t.Cleanup(func() {
		srv.Close()
		if err := g.Close(context.Background()); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return &testGateway{g: g, url: srv.URL, s3: s3Client(srv.URL, rootKey, rootSecret, "")}
}

func s3Client(url, akid, secret, token string) *s3.Client {
	return s3.New(s3.Options{Region: testRegion, BaseEndpoint: aws.String(url), UsePathStyle: true, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(akid, secret, token)})
}

// signedGet is a GET of path signed with the root credentials.
func (tg *testGateway) signedGet(t *testing.T, method, path string, hdr map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, tg.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	const empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
	req.Header.Set("X-Amz-Content-Sha256", empty)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: rootKey, SecretAccessKey: rootSecret},
		req, empty, "s3", testRegion, time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func sum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

func mustPutObject(t *testing.T, c *s3.Client, bucket, key string, body []byte) {
	t.Helper()
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: bytes.NewReader(body)}); err != nil {
		t.Fatalf("PutObject %s/%s: %v", bucket, key, err)
	}
}

// TestGetThroughProxy: downloads through the main port's proxy are byte
// for byte what was stored, with their status and headers.
func TestGetThroughProxy(t *testing.T) {
	tg := startGateway(t)
	ctx := context.Background()
	if _, err := tg.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("fast")}); err != nil {
		t.Fatal(err)
	}
	const size = 6<<20 + 12345
	big := randomBytes(t, size)
	small := []byte("a small object, read through the proxy's buffer")
	mustPutObject(t, tg.s3, "fast", "dir/big.bin", big)
	mustPutObject(t, tg.s3, "fast", "small.txt", small)

	// A whole object, byte for byte.
	out, err := tg.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("fast"), Key: aws.String("dir/big.bin")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil || len(got) != size || sum(got) != sum(big) {
		t.Fatalf("GET: %d bytes (want %d), sha256 %s (want %s), %v", len(got), size, sum(got), sum(big), err)
	}
	if aws.ToInt64(out.ContentLength) != size || aws.ToString(out.ETag) == "" {
		t.Errorf("GET headers: Content-Length %d, ETag %q", aws.ToInt64(out.ContentLength), aws.ToString(out.ETag))
	}

	// Ranges: 206 with the right bytes and Content-Range.
	for _, r := range []struct{ first, last int }{{1000, 3_000_999}, {size - 100_000, size - 1}, {0, 99}, {5, 5}} {
		out, err := tg.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("fast"), Key: aws.String("dir/big.bin"),
			Range: aws.String(fmt.Sprintf("bytes=%d-%d", r.first, r.last))})
		if err != nil {
			t.Fatalf("range %v: %v", r, err)
		}
		got, err := io.ReadAll(out.Body)
		out.Body.Close()
		want := big[r.first : r.last+1]
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("range %v: %d bytes, equal %v, %v", r, len(got), bytes.Equal(got, want), err)
		}
		if cr, wantCR := aws.ToString(out.ContentRange), fmt.Sprintf("bytes %d-%d/%d", r.first, r.last, size); cr != wantCR {
			t.Errorf("range %v: Content-Range %q, want %q", r, cr, wantCR)
		}
	}
	// The same with a raw client: the status is 206.
	resp, err := http.DefaultClient.Do(tg.signedGet(t, "GET", "/fast/dir/big.bin", map[string]string{"Range": "bytes=100-199999"}))
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusPartialContent || !bytes.Equal(got, big[100:200000]) ||
		resp.Header.Get("Content-Range") != fmt.Sprintf("bytes 100-199999/%d", size) || resp.ContentLength != 199900 {
		t.Errorf("raw range GET: %s, %d bytes, Content-Range %q", resp.Status, len(got), resp.Header.Get("Content-Range"))
	}

	// A small object, a listing (chunked or not), a missing key.
	out, err = tg.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("fast"), Key: aws.String("small.txt")})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = io.ReadAll(out.Body)
	out.Body.Close()
	if !bytes.Equal(got, small) {
		t.Errorf("small GET = %q", got)
	}
	list, err := tg.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("fast")})
	if err != nil || len(list.Contents) != 2 {
		t.Errorf("ListObjectsV2 = %+v, %v", list, err)
	}
	resp, err = http.DefaultClient.Do(tg.signedGet(t, "GET", "/fast/dir/missing.bin", nil))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 404 || !strings.Contains(string(body), "<Code>NoSuchKey</Code>") ||
		!strings.Contains(resp.Header.Get("Content-Type"), "xml") {
		t.Errorf("missing key: %s %q %s", resp.Status, resp.Header.Get("Content-Type"), body)
	}
	_, err = tg.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("fast"), Key: aws.String("missing")})
	var ae smithy.APIError
	if !errors.As(err, &ae) || ae.ErrorCode() != "NoSuchKey" {
		t.Errorf("SDK GET of a missing key: %v", err)
	}

	// HEAD keeps its headers and sends no body.
	resp, err = http.DefaultClient.Do(tg.signedGet(t, "HEAD", "/fast/dir/big.bin", nil))
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.ContentLength != size || len(body) != 0 || resp.Header.Get("ETag") == "" {
		t.Errorf("HEAD: %s, Content-Length %d, %d body bytes", resp.Status, resp.ContentLength, len(body))
	}
}

// openFDs counts this process's (or pid's) open file descriptors.
func openFDs(t *testing.T, pid int) int {
	t.Helper()
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(ents)
}

// TestGetClientDisconnect: clients that hang up in the middle of a large
// download leave nothing behind, and the endpoint keeps working.
func TestGetClientDisconnect(t *testing.T) {
	tg := startGateway(t)
	ctx := context.Background()
	if _, err := tg.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("drop")}); err != nil {
		t.Fatal(err)
	}
	const size = 32 << 20 // far more than the socket buffers hold
	big := randomBytes(t, size)
	mustPutObject(t, tg.s3, "drop", "big.bin", big)

	client := func() *http.Client { return &http.Client{Transport: &http.Transport{DisableKeepAlives: true}} }
	fullGet := func() {
		t.Helper()
		resp, err := client().Do(tg.signedGet(t, "GET", "/drop/big.bin", nil))
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || sum(got) != sum(big) {
			t.Fatalf("GET after disconnects: %s, %d bytes, %v", resp.Status, len(got), err)
		}
	}
	fullGet()
	pid := tg.g.proc.handle.PID
	fds, childFDs, goroutines := openFDs(t, os.Getpid()), openFDs(t, pid), runtime.NumGoroutine()

	// Clients that read a little and hang up.
	for i := range 5 {
		resp, err := client().Do(tg.signedGet(t, "GET", "/drop/big.bin", nil))
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 100_000*(i+1))
		if _, err := io.ReadFull(resp.Body, buf); err != nil || !bytes.Equal(buf, big[:len(buf)]) {
			t.Fatalf("start of the body: %v", err)
		}
		resp.Body.Close() // the transport closes the connection mid-body
	}
	// Nothing is left behind: connections, goroutines, descriptors in
	// both processes.
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, cf, gr := openFDs(t, os.Getpid()), openFDs(t, pid), runtime.NumGoroutine()
		if f <= fds && cf <= childFDs && gr <= goroutines {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after disconnects: %d fds (before %d), gateway %d fds (before %d), %d goroutines (before %d)",
				f, fds, cf, childFDs, gr, goroutines)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The server is healthy.
	fullGet()
	if _, err := tg.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("drop"), Key: aws.String("big.bin")}); err != nil {
		t.Error(err)
	}
}

// liveForTests is a test double for identity's liveness check: every
// FinSpace user principal is live.
func liveForTests(context.Context, auth.Principal, string) error { return nil }
