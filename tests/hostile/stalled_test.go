package hostile_test

// Clients that send a GET of a large object and never read the answer
// (stalled readers) must not take the S3 endpoint down: while a few hundred
// of them hold on, a well-behaved client's S3 GETs and finspace calls are
// served (never a plain-text 503), the stalled connections are dropped
// after the S3 idle timeout, and memory stays bounded.

import (
	"bytes"
	"context"
	"crypto/rand"
	"net/http"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

const (
	stalledReaders    = 200
	stalledObjectSize = 16 << 20 // far more than a connection's socket buffers hold
	// Long enough that, on a loaded 2-core machine under -race, every
	// download is open and held before the first is dropped.
	stalledIdleTimeout = 8 * time.Second
	// stalledRSSBound is a coarse bound on the growth of this process and
	// the gateway process together while the readers stall: under 10 MiB
	// is measured since large bodies are sent from the object's file
	// (about 40 MiB while they were proxied; before the bounded buffers
	// and sendfile, 200 stalled downloads took about 345 MiB and were
	// never dropped).
	stalledRSSBound = 150 << 20
)

func TestStalledReaders(t *testing.T) {
	needProc(t)
	srv := servertest.Start(t, func(c *server.Config) { c.S3Limits.IdleTimeout = stalledIdleTimeout })
	ctx := context.Background()
	s3c := s3ClientFor(srv)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("stalled")}); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, stalledObjectSize)
	_, _ = rand.Read(big)
	for key, body := range map[string][]byte{"big.bin": big, "small.txt": []byte("a small object")} {
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("stalled"), Key: aws.String(key),
			Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	big = nil
	env, err := servertest.Finspace(srv).CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{Name: aws.String("stalled")})
	if err != nil {
		t.Fatal(err)
	}
	envID := aws.ToString(env.EnvironmentId)
	target := presignedGetTarget(t, s3c, "stalled", "big.bin")

	pid := os.Getpid()
	gateways := childPIDs(pid)
	if len(gateways) != 1 {
		t.Fatalf("%d child processes, want the one gateway", len(gateways))
	}
	gw := gateways[0]
	runtime.GC()
	baseRSS, baseFDs, baseServerFDs := memoryWithChildren(pid), processFDs(gw), processFDs(pid)

	stalled := openStalledGETs(t, serverAddr(srv), target, stalledReaders)
	// Measured from the last one opened (opening 200 can take seconds
	// under -race on a loaded machine).
	opened := time.Now()

	// The server holds them (the client's connection and the object's
	// file each; the gateway passed the file and is done): this process
	// also holds the clients' ends.
	held := func() int { return (processFDs(pid) - baseServerFDs - len(stalled)) / 2 }
	for time.Since(opened) < stalledIdleTimeout*2/3 && (held() < stalledReaders || processFDs(gw) > baseFDs+4) {
		time.Sleep(20 * time.Millisecond)
	}
	if h := held(); h < stalledReaders/2 {
		t.Fatalf("the server holds %d of %d stalled downloads after %v", h, stalledReaders, time.Since(opened))
	}
	if n := processFDs(gw); n > baseFDs+4 {
		t.Errorf("the gateway process has %d descriptors open with the downloads stalled (before: %d): it holds them", n, baseFDs)
	}

	// A well-behaved client, while they stall.
	tally := newClientTally()
	hc := &http.Client{Timeout: 30 * time.Second}
	var wg sync.WaitGroup
	var peakRSS int64
	stop := time.Now().Add(stalledIdleTimeout / 2)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(stop) {
				if w == 0 {
					peakRSS = max(peakRSS, memoryWithChildren(pid))
				}
				tally.roundTrip(hc, "S3 GET", 200, func() *http.Request {
					r, _ := http.NewRequest(http.MethodGet, srv.URL()+"/stalled/small.txt", nil)
					return signRequest(t, srv, r, "s3", emptyPayloadSHA256)
				})
				tally.roundTrip(hc, "GetEnvironment", 200, func() *http.Request {
					r, _ := http.NewRequest(http.MethodGet, srv.URL()+"/environment/"+envID, nil)
					return signRequest(t, srv, r, "finspace", emptyPayloadSHA256)
				})
			}
		}()
	}
	wg.Wait()
	t.Logf("%d stalled downloads (%d held by the server); well-behaved client: %s", stalledReaders, held(), tally)
	if tally.failed() > 0 || tally.plainText > 0 || len(tally.ok["S3 GET"]) == 0 || len(tally.ok["GetEnvironment"]) == 0 {
		t.Errorf("the well-behaved client was not served: %s (%d plain-text answers)", tally, tally.plainText)
	}
	growth := peakRSS - baseRSS
	t.Logf("RSS of the server and the gateway: %.0f MiB before, %.0f MiB with the stalled downloads (+%.0f MiB)",
		float64(baseRSS)/(1<<20), float64(peakRSS)/(1<<20), float64(growth)/(1<<20))
	bound := int64(stalledRSSBound)
	if raceEnabled {
		bound *= 4 // 261 MiB measured under -race
	}
	if growth > bound {
		t.Errorf("RSS grew by %.0f MiB with %d stalled downloads (bound %d MiB)", float64(growth)/(1<<20), stalledReaders, bound>>20)
	}

	// Past the idle timeout the stalled connections are dropped: reading
	// them now gets what was in flight, then the end, never the object.
	time.Sleep(time.Until(opened.Add(stalledIdleTimeout + 2*time.Second)))
	got, closed := readUntilClosed(stalled, 15*time.Second)
	for i := range stalled {
		if !closed[i] || got[i] >= stalledObjectSize {
			t.Errorf("stalled reader %d: closed=%v after %d bytes: not dropped after the idle timeout", i, closed[i], got[i])
			break
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for processFDs(gw) > baseFDs+4 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if n := processFDs(gw); n > baseFDs+4 {
		t.Errorf("the gateway process has %d descriptors open after the drop (before: %d)", n, baseFDs)
	}
	// And the endpoint serves as before.
	if got := servertest.S3Body(t, s3c, &s3.GetObjectInput{Bucket: aws.String("stalled"), Key: aws.String("small.txt")}); got != "a small object" {
		t.Errorf("after the drop: %q", got)
	}
}
