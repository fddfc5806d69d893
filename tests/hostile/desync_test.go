package hostile_test

// A PUT with Transfer-Encoding: chunked that the gateway answers without
// reading its body used to leave the body on the pooled connection to the
// gateway process, where it was read as the next request — other clients'
// requests then got its answers ("Unsolicited response" in the log, 400s).
// Here hostile clients send such PUTs, their bodies shaped like requests,
// while well-behaved clients work: not one of theirs may fail.

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"hash/crc32"
	"io"
	"log"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

const (
	desyncVictims = 8
	desyncHostile = 2
	desyncRun     = 4 * time.Second
)

// desyncSmuggled is a body that parses as requests if it is ever read as
// the start of the next request on a connection.
var desyncSmuggled = strings.Repeat("GET /desync/victim.txt HTTP/1.1\r\nHost: s3gw\r\nContent-Length: 0\r\n\r\n", 40)

// desyncAWSChunked frames body as aws-chunked with an unsigned CRC32
// trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER); a wrong CRC when bad.
func desyncAWSChunked(body []byte, bad bool) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%x\r\n", len(body))
	b.Write(body)
	b.WriteString("\r\n")
	sum := crc32.ChecksumIEEE(body)
	if bad {
		sum++
	}
	crc := base64.StdEncoding.EncodeToString([]byte{byte(sum >> 24), byte(sum >> 16), byte(sum >> 8), byte(sum)})
	fmt.Fprintf(&b, "0\r\nx-amz-checksum-crc32:%s\r\n\r\n", crc)
	return b.Bytes()
}

// desyncPut is a chunked PUT (no Content-Length). kind: "plain" (not
// aws-chunked), "aws" (aws-chunked, valid), "badcrc" (aws-chunked, wrong
// trailer checksum) or "unknownkey" (aws-chunked, signed by a key nobody
// has: the gateway refuses it before reading the body).
func desyncPut(t *testing.T, srv *server.Server, kind, key string) *http.Request {
	t.Helper()
	body := []byte(desyncSmuggled)
	hash := "UNSIGNED-PAYLOAD"
	hdr := http.Header{}
	if kind != "plain" {
		body = desyncAWSChunked(body, kind == "badcrc")
		hash = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
		hdr.Set("Content-Encoding", "aws-chunked")
		hdr.Set("X-Amz-Decoded-Content-Length", fmt.Sprint(len(desyncSmuggled)))
		hdr.Set("X-Amz-Trailer", "x-amz-checksum-crc32")
	}
	req, err := http.NewRequest(http.MethodPut, srv.URL()+"/desync/"+key, io.NopCloser(bytes.NewReader(body)))
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = -1 // Transfer-Encoding: chunked
	for k, v := range hdr {
		req.Header[k] = v
	}
	if kind != "unknownkey" {
		return signRequest(t, srv, req, "s3", hash)
	}
	req.Header.Set("X-Amz-Content-Sha256", hash)
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKIANOBODYHASTHISKEY", SecretAccessKey: "x"},
		req, hash, "s3", servertest.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

// lockedBuffer collects the standard logger's output (net/http's
// Transport logs "Unsolicited response received on idle HTTP channel"
// there).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestChunkedPutDesync(t *testing.T) {
	logged := &lockedBuffer{}
	log.SetOutput(logged)
	t.Cleanup(func() { log.SetOutput(os.Stderr) })

	srv := servertest.Start(t)
	ctx := context.Background()
	s3c := s3ClientFor(srv)
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("desync")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("desync"), Key: aws.String("victim.txt"),
		Body: strings.NewReader("victim")}); err != nil {
		t.Fatal(err)
	}

	runCtx, cancel := context.WithTimeout(ctx, desyncRun)
	defer cancel()
	victims := newClientTally()
	var hostileMu sync.Mutex
	hostile := map[string]int{} // "plain 411" → n
	var hostileSent atomic.Int64
	var wg sync.WaitGroup
	for v := range desyncVictims {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Timeout: 30 * time.Second}
			for i := 0; runCtx.Err() == nil; i++ {
				if i%2 == 0 {
					victims.roundTrip(hc, "GET", 200, func() *http.Request {
						r, _ := http.NewRequest(http.MethodGet, srv.URL()+"/desync/victim.txt", nil)
						return signRequest(t, srv, r, "s3", emptyPayloadSHA256)
					})
					continue
				}
				victims.roundTrip(hc, "PUT", 200, func() *http.Request {
					body := fmt.Sprintf("victim %d object %d", v, i)
					r, _ := http.NewRequest(http.MethodPut, srv.URL()+fmt.Sprintf("/desync/v%d.txt", v), strings.NewReader(body))
					return signRequest(t, srv, r, "s3", "UNSIGNED-PAYLOAD")
				})
			}
		}()
	}
	kinds := []string{"plain", "unknownkey", "aws", "badcrc"}
	for h := range desyncHostile {
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Timeout: 30 * time.Second}
			for i := 0; runCtx.Err() == nil; i++ {
				kind := kinds[(i+h)%len(kinds)]
				resp, err := hc.Do(desyncPut(t, srv, kind, fmt.Sprintf("h%d-%s.bin", h, kind)))
				hostileSent.Add(1)
				outcome := "transport error"
				if err == nil {
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					outcome = fmt.Sprintf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
				}
				hostileMu.Lock()
				hostile[kind+" "+outcome]++
				hostileMu.Unlock()
			}
		}()
	}
	wg.Wait()

	t.Logf("victims: %s", victims)
	t.Logf("hostile chunked PUTs (%d): %v", hostileSent.Load(), hostile)
	if n := victims.failed(); n > 0 || len(victims.ok["GET"]) == 0 || len(victims.ok["PUT"]) == 0 {
		t.Errorf("%d of the victims' requests failed: %s", n, victims)
	}
	for outcome, n := range hostile {
		kind, answer, _ := strings.Cut(outcome, " ")
		want := map[string]string{"plain": "411 application/xml", "aws": "200", "badcrc": "400 application/xml"}[kind]
		if want != "" && !strings.HasPrefix(answer, want) {
			t.Errorf("hostile %s PUTs: %d answered %q, want %q", kind, n, answer, want)
		}
	}
	if s := logged.String(); strings.Contains(s, "Unsolicited response") {
		t.Errorf("the proxy's connections to the gateway went out of step:\n%.2000s", s)
	}
	// The valid aws-chunked uploads were stored byte for byte.
	for h := range desyncHostile {
		if got := servertest.S3Body(t, s3c, &s3.GetObjectInput{Bucket: aws.String("desync"), Key: aws.String(fmt.Sprintf("h%d-aws.bin", h))}); got != desyncSmuggled {
			t.Errorf("aws-chunked upload %d: %d bytes stored, not the body", h, len(got))
		}
	}
}
