package s3gw

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// TestDownloadFromFile: GETs of bodies of descriptorBodyMin bytes or more
// are sent from the object's file on the client's own connection (closed
// after the body), byte for byte, with the gateway's status and headers;
// ranges are applied as the backend applies them; smaller bodies keep the
// connection.
func TestDownloadFromFile(t *testing.T) {
	tg := startGateway(t)
	ctx := context.Background()
	if _, err := tg.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("files")}); err != nil {
		t.Fatal(err)
	}
	const size = 5<<20 + 777
	big := randomBytes(t, size)
	if _, err := tg.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("files"), Key: aws.String("big.bin"),
		Body: bytes.NewReader(big), ContentType: aws.String("application/x-test"),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32, Metadata: map[string]string{"color": "blue"}}); err != nil {
		t.Fatal(err)
	}

	get := func(rng string, hdr map[string]string) (*http.Response, []byte) {
		t.Helper()
		h := map[string]string{}
		for k, v := range hdr {
			h[k] = v
		}
		if rng != "" {
			h["Range"] = rng
		}
		resp, err := http.DefaultClient.Do(tg.signedGet(t, "GET", "/files/big.bin", h))
		if err != nil {
			t.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			t.Fatalf("GET %q: %v", rng, err)
		}
		return resp, body
	}

	for _, tc := range []struct {
		rng          string
		status       int
		first, last  int
		contentRange string
		fromFile     bool // sent from the file: Connection: close
	}{
		{"", 200, 0, size - 1, "", true},
		{"bytes=0-", 206, 0, size - 1, fmt.Sprintf("bytes 0-%d/%d", size-1, size), true},
		{"bytes=100-2097251", 206, 100, 2097251, fmt.Sprintf("bytes 100-2097251/%d", size), true},
		{fmt.Sprintf("bytes=%d-", size-(2<<20)), 206, size - (2 << 20), size - 1, fmt.Sprintf("bytes %d-%d/%d", size-(2<<20), size-1, size), true},
		{"bytes=-1048576", 206, size - 1048576, size - 1, fmt.Sprintf("bytes %d-%d/%d", size-1048576, size-1, size), true},
		{"bytes=10-1048585", 206, 10, 1048585, fmt.Sprintf("bytes 10-1048585/%d", size), true},
		{"bytes=10-1048584", 206, 10, 1048584, fmt.Sprintf("bytes 10-1048584/%d", size), false}, // one byte short
		{"bytes=-10", 206, size - 10, size - 1, fmt.Sprintf("bytes %d-%d/%d", size-10, size-1, size), false},
		{"bytes=5-5", 206, 5, 5, fmt.Sprintf("bytes 5-5/%d", size), false},
	} {
		resp, body := get(tc.rng, nil)
		want := big[tc.first : tc.last+1]
		if resp.StatusCode != tc.status || !bytes.Equal(body, want) || resp.ContentLength != int64(len(want)) {
			t.Errorf("GET %q: %s, %d bytes (want %d), equal %v", tc.rng, resp.Status, len(body), len(want), bytes.Equal(body, want))
		}
		if cr := resp.Header.Get("Content-Range"); cr != tc.contentRange {
			t.Errorf("GET %q: Content-Range %q, want %q", tc.rng, cr, tc.contentRange)
		}
		if resp.Close != tc.fromFile {
			t.Errorf("GET %q: Connection: close is %v, want %v (sent from the file)", tc.rng, resp.Close, tc.fromFile)
		}
		if resp.Header.Get("ETag") == "" || resp.Header.Get("Last-Modified") == "" || resp.Header.Get("Date") == "" ||
			resp.Header.Get("Content-Type") != "application/x-test" || resp.Header.Get("X-Amz-Meta-Color") != "blue" ||
			resp.Header.Get("Accept-Ranges") != "bytes" {
			t.Errorf("GET %q: headers %v", tc.rng, resp.Header)
		}
		if v := resp.Header.Get(descriptorHeader); v != "" {
			t.Errorf("GET %q: the internal header reached the client: %q", tc.rng, v)
		}
	}

	// Checksums are returned for the whole object only, as the backend
	// returns them.
	whole, _ := get("", map[string]string{"X-Amz-Checksum-Mode": "ENABLED"})
	ranged, _ := get("bytes=100-2097251", map[string]string{"X-Amz-Checksum-Mode": "ENABLED"})
	if whole.Header.Get("X-Amz-Checksum-Crc32") == "" || ranged.Header.Get("X-Amz-Checksum-Crc32") != "" {
		t.Errorf("checksum of the whole object %q, of a range %q (want it only for the whole)",
			whole.Header.Get("X-Amz-Checksum-Crc32"), ranged.Header.Get("X-Amz-Checksum-Crc32"))
	}

	// Errors stay S3's, in XML.
	for _, tc := range []struct{ rng, code string }{{fmt.Sprintf("bytes=%d-", size+10), "InvalidRange"}} {
		resp, body := get(tc.rng, nil)
		if resp.StatusCode != 416 || !strings.Contains(string(body), "<Code>"+tc.code+"</Code>") ||
			!strings.Contains(resp.Header.Get("Content-Type"), "xml") {
			t.Errorf("GET %q: %s %q", tc.rng, resp.Status, body)
		}
	}
	resp, body := get("", map[string]string{"If-None-Match": aws.ToString(aws.String(whole.Header.Get("ETag")))})
	if resp.StatusCode != 304 || len(body) != 0 || resp.Close {
		t.Errorf("conditional GET: %s, %d bytes, close=%v", resp.Status, len(body), resp.Close)
	}

	// The SDK reads it as it reads any GET.
	out, err := tg.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("files"), Key: aws.String("big.bin")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(out.Body)
	out.Body.Close()
	if err != nil || sum(got) != sum(big) || aws.ToString(out.ContentType) != "application/x-test" {
		t.Errorf("SDK GET: %d bytes, %v", len(got), err)
	}

	// A client can not ask the gateway for descriptors itself: the header
	// (here not signed) is dropped from what the reverse proxy forwards.
	req := tg.signedGet(t, "GET", "/files?list-type=2", nil)
	req.Header.Set(descriptorHeader, "1")
	resp2, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp2.Body)
	resp2.Body.Close()
	if resp2.StatusCode != 200 || !strings.Contains(string(body), "<Key>big.bin</Key>") {
		t.Errorf("listing with the internal header: %s %q", resp2.Status, body)
	}
}

// TestDownloadHoldsNoGatewayConnection: a stalled download sent from the
// file holds nothing in the gateway process (its request is over) and is
// dropped after IdleTimeout; a client that hangs up mid-body frees its
// slot, goroutine and descriptors at once.
func TestDownloadHoldsNoGatewayConnection(t *testing.T) {
	const idle = 700 * time.Millisecond
	tg := startLimitedGateway(t, Limits{IdleTimeout: idle})
	ctx := context.Background()
	if _, err := tg.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("stall")}); err != nil {
		t.Fatal(err)
	}
	const size = 32 << 20
	big := randomBytes(t, size)
	mustPutObject(t, tg.s3, "stall", "big.bin", big)
	target := tg.presignedGet(t, "stall", "big.bin")
	// One complete download first, so that the gateway's idle
	// connections and goroutines are there before counting.
	resp, err := http.Get(tg.url + target)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if sum(got) != sum(big) || !resp.Close {
		t.Fatalf("a presigned GET: %d bytes, close=%v", len(got), resp.Close)
	}
	pid := tg.g.proc.handle.PID
	childFDs := openFDs(t, pid)

	// Three stalled readers: three downloads, no gateway descriptors.
	var conns []interface{ Close() error }
	for range 3 {
		conns = append(conns, tg.stalledGet(t, target))
	}
	waitFor(t, 5*time.Second, "the stalled GETs are not all being sent", func() bool {
		tg.g.downloads.mu.Lock()
		defer tg.g.downloads.mu.Unlock()
		return len(tg.g.downloads.conns) == 3 && tg.g.admit.inUse.Load() == 3
	})
	if cf := openFDs(t, pid); cf > childFDs {
		t.Errorf("the gateway holds %d descriptors with 3 stalled downloads, %d before", cf, childFDs)
	}
	waitFor(t, idle+5*time.Second, "the stalled downloads were not dropped", func() bool {
		return tg.g.admit.inUse.Load() == 0
	})
	for _, c := range conns {
		c.Close()
	}

	// A client that reads a little and hangs up.
	c := tg.stalledGet(t, target)
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	part := make([]byte, 3<<20)
	if _, err := io.ReadFull(res.Body, part); err != nil || !bytes.Equal(part, big[:len(part)]) {
		t.Fatalf("start of the body: %v", err)
	}
	c.Close()
	waitFor(t, 5*time.Second, "the hung-up download still holds its slot", func() bool {
		tg.g.downloads.mu.Lock()
		defer tg.g.downloads.mu.Unlock()
		return len(tg.g.downloads.conns) == 0 && tg.g.admit.inUse.Load() == 0
	})
	if cf := openFDs(t, pid); cf > childFDs {
		t.Errorf("the gateway holds %d descriptors after the hang-up, %d before", cf, childFDs)
	}
}

// TestCloseEndsDownloads: Gateway.Close waits for downloads until its
// context ends, then closes their connections.
func TestCloseEndsDownloads(t *testing.T) {
	tg := startLimitedGateway(t, Limits{IdleTimeout: time.Hour})
	ctx := context.Background()
	if _, err := tg.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("stall")}); err != nil {
		t.Fatal(err)
	}
	mustPutObject(t, tg.s3, "stall", "big.bin", randomBytes(t, 32<<20))
	c := tg.stalledGet(t, tg.presignedGet(t, "stall", "big.bin"))
	waitFor(t, 5*time.Second, "the stalled GET is not being sent", func() bool { return tg.g.admit.inUse.Load() == 1 })
	cctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	_ = tg.g.Close(cctx)
	if tg.g.admit.inUse.Load() != 0 {
		t.Error("Close returned with a download running")
	}
	if n, _ := drain(c); n >= 32<<20 {
		t.Errorf("the client read %d bytes after Close", n)
	}
}
