package s3

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// TestReportStalledClients measures what hostile clients cost everybody
// else on the main port: OPENFINSPACE_BENCH_STALLED clients (default
// 2 000) that send a GET of a 40 MiB object and never read the response,
// plus OPENFINSPACE_BENCH_HALFOPEN connections (default 8 000) that
// connect and send nothing or half a request line. While they hold on, one
// well-behaved client alternates an S3 GET of a small object and a
// finspace GetEnvironment for OPENFINSPACE_BENCH_DURATION (default 10s);
// the report gives their p50/p99, every non-2xx answer (and whether it was
// plain text), and the resident memory of the server and its gateway
// process before, during (peak) and after.
//
// The server is a real `openfinspace serve` subprocess (the test process
// holds ~10 000 sockets; one process could not hold both ends under the
// 20 000 descriptor limit). Everything is on 127.0.0.1.
//
//	OPENFINSPACE_BENCH=1 go test -run TestReportStalledClients -v -timeout 10m ./bench/s3/
//
// OPENFINSPACE_BENCH_SERVER_ENV adds space-separated NAME=value settings to
// the server's environment (e.g. OPENFINSPACE_S3_IDLE_TIMEOUT=5s).
func TestReportStalledClients(t *testing.T) {
	if os.Getenv("OPENFINSPACE_BENCH") != "1" {
		t.Skip("set OPENFINSPACE_BENCH=1 to run the stalled-clients report")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	stalled := envInt("OPENFINSPACE_BENCH_STALLED", 2000)
	halfOpen := envInt("OPENFINSPACE_BENCH_HALFOPEN", 8000)
	duration := 10 * time.Second
	if d, err := time.ParseDuration(os.Getenv("OPENFINSPACE_BENCH_DURATION")); err == nil && d > 0 {
		duration = min(d, 2*time.Minute)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	srv := startSubprocess(t, ctx, strings.Fields(os.Getenv("OPENFINSPACE_BENCH_SERVER_ENV")))
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.url), UsePathStyle: true, RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(srv.akid, srv.secret, "")})
	fsc := finspace.New(finspace.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(srv.akid, srv.secret, "")})
	if _, err := s3c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("stall")}); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 40<<20)
	_, _ = rand.Read(big)
	small := make([]byte, 16<<10)
	_, _ = rand.Read(small)
	for key, body := range map[string][]byte{"big.bin": big, "small.bin": small} {
		if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("stall"), Key: aws.String(key),
			Body: bytes.NewReader(body)}); err != nil {
			t.Fatal(err)
		}
	}
	env, err := fsc.CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{Name: aws.String("stalled")})
	if err != nil {
		t.Fatal(err)
	}
	good := &wellBehaved{base: srv.url, akid: srv.akid, secret: srv.secret, envID: aws.ToString(env.EnvironmentId),
		hc: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}, Timeout: 30 * time.Second}}
	presigned, err := s3.NewPresignClient(s3c).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("stall"),
		Key: aws.String("big.bin")}, s3.WithPresignExpires(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	host := strings.TrimPrefix(srv.url, "http://")

	// Quiet baseline.
	idle := good.run(ctx, 3*time.Second)
	time.Sleep(time.Second)
	before := srv.memory()

	// The hostile clients.
	var conns []net.Conn
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	// The stalled readers first (so that a cap on connections, if the
	// server has one, does not refuse them), then the half-open ones.
	u, _ := url.Parse(presigned.URL)
	stallReq := "GET " + u.RequestURI() + " HTTP/1.1\r\nHost: " + host + "\r\nUser-Agent: stalled-reader\r\n\r\n"
	dialStart := time.Now()
	st, stErr := dialMany(ctx, host, stalled, func(_ int, c net.Conn) error {
		_, err := io.WriteString(c, stallReq) // and never read
		return err
	})
	conns = append(conns, st...)
	stTime := time.Since(dialStart)
	time.Sleep(time.Second)
	withStalled := srv.memory()
	dialStart = time.Now()
	ho, hoErr := dialMany(ctx, host, halfOpen, func(i int, c net.Conn) error {
		if i%2 == 0 {
			return nil // connected, sends nothing
		}
		_, err := io.WriteString(c, "GET /stall/big.bin HTT") // half a request line
		return err
	})
	conns = append(conns, ho...)
	hoTime := time.Since(dialStart)
	time.Sleep(time.Second)

	var peak memSample
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		tk := time.NewTicker(250 * time.Millisecond)
		defer tk.Stop()
		for {
			m := srv.memory()
			peak.parent, peak.child = max(peak.parent, m.parent), max(peak.child, m.child)
			peak.parentFDs, peak.childFDs = max(peak.parentFDs, m.parentFDs), max(peak.childFDs, m.childFDs)
			select {
			case <-stopSampling:
				return
			case <-tk.C:
			}
		}
	}()
	under := good.run(ctx, duration)
	close(stopSampling)
	<-sampled
	during := srv.memory()

	for _, c := range conns {
		c.Close()
	}
	conns = nil
	time.Sleep(3 * time.Second)
	after := srv.memory()
	recovered := good.run(ctx, 2*time.Second)

	var b strings.Builder
	fmt.Fprintf(&b, "\nstalled clients: %d GETs of a 40 MiB object never read (%d connected in %v, %v), %d half-open connections (%d connected in %v, %v)\n",
		stalled, len(st), stTime.Round(time.Millisecond), errString(stErr), halfOpen, len(ho), hoTime.Round(time.Millisecond), errString(hoErr))
	fmt.Fprintf(&b, "server env: %q\n", os.Getenv("OPENFINSPACE_BENCH_SERVER_ENV"))
	fmt.Fprintf(&b, "%-28s %s\n", "quiet (3 s)", idle)
	fmt.Fprintf(&b, "%-28s %s\n", fmt.Sprintf("under attack (%v)", duration), under)
	fmt.Fprintf(&b, "%-28s %s\n", "after the clients left", recovered)
	fmt.Fprintf(&b, "RSS MiB (server + gateway): before %s, 1 s after the stalled GETs %s, peak during %s, end of attack %s, 3 s after %s\n",
		before, withStalled, peak, during, after)
	fmt.Fprintf(&b, "RSS growth (peak - before): %.0f MiB (target < 200)\n", mib(peak.parent+peak.child-before.parent-before.child))
	t.Log(b.String())
}

func errString(err error) string {
	if err == nil {
		return "no errors"
	}
	return "first error: " + err.Error()
}

// dialMany opens n connections to addr (64 at a time) and runs setup on
// each; it returns the connections it kept and the first error.
func dialMany(ctx context.Context, addr string, n int, setup func(int, net.Conn) error) ([]net.Conn, error) {
	var (
		mu    sync.Mutex
		out   []net.Conn
		first error
		next  atomic.Int64
		wg    sync.WaitGroup
	)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d := net.Dialer{Timeout: 10 * time.Second}
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := d.DialContext(ctx, "tcp", addr)
				if err == nil {
					if err = setup(i, c); err != nil {
						c.Close()
					}
				}
				mu.Lock()
				if err != nil && first == nil {
					first = err
				}
				if err == nil {
					out = append(out, c)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return out, first
}

// wellBehaved is a client that reads what it asks for.
type wellBehaved struct {
	base, akid, secret, envID string
	hc                        *http.Client
}

// outcome is a well-behaved client's experience over a run.
type outcome struct {
	s3, api  []time.Duration // successful requests
	failures map[string]int  // "s3 503 text/plain" → count
}

func (o outcome) String() string {
	var fails []string
	for k, n := range o.failures {
		fails = append(fails, fmt.Sprintf("%s ×%d", k, n))
	}
	slices.Sort(fails)
	f := "none"
	if len(fails) > 0 {
		f = strings.Join(fails, ", ")
	}
	return fmt.Sprintf("S3 GET %d ok p50 %s p99 %s; GetEnvironment %d ok p50 %s p99 %s; failures: %s",
		len(o.s3), pct(o.s3, 50), pct(o.s3, 99), len(o.api), pct(o.api, 50), pct(o.api, 99), f)
}

func pct(d []time.Duration, p float64) string {
	if len(d) == 0 {
		return "-"
	}
	s := slices.Clone(d)
	slices.Sort(s)
	i := int(float64(len(s))*p/100+0.5) - 1
	i = max(0, min(len(s)-1, i))
	return fmt.Sprintf("%.1fms", float64(s[i])/float64(time.Millisecond))
}

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func (c *wellBehaved) request(ctx context.Context, service, path string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	if service == "s3" {
		req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	}
	err = v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: c.akid, SecretAccessKey: c.secret},
		req, emptySHA256, service, "us-east-1", time.Now())
	return req, err
}

// run alternates an S3 GET and a GetEnvironment, one at a time, for d.
func (c *wellBehaved) run(ctx context.Context, d time.Duration) outcome {
	o := outcome{failures: map[string]int{}}
	end := time.Now().Add(d)
	for i := 0; time.Now().Before(end) && ctx.Err() == nil; i++ {
		service, path := "s3", "/stall/small.bin"
		if i%2 == 1 {
			service, path = "finspace", "/environment/"+c.envID
		}
		req, err := c.request(ctx, service, path)
		if err != nil {
			o.failures[service+" signing: "+err.Error()]++
			continue
		}
		start := time.Now()
		resp, err := c.hc.Do(req)
		if err != nil {
			o.failures[service+" transport error"]++
			continue
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		elapsed := time.Since(start)
		switch {
		case err != nil:
			o.failures[service+" body error"]++
		case resp.StatusCode != http.StatusOK:
			o.failures[fmt.Sprintf("%s %d %s", service, resp.StatusCode, resp.Header.Get("Content-Type"))]++
		case service == "s3":
			o.s3 = append(o.s3, elapsed)
		default:
			o.api = append(o.api, elapsed)
		}
	}
	return o
}

// subprocess is a running `openfinspace serve`.
type subprocess struct {
	url, akid, secret string
	pid               int
}

// startSubprocess builds ./cmd/openfinspace and serves it on a free
// loopback port with a fresh data directory until the test ends.
func startSubprocess(t *testing.T, ctx context.Context, extraEnv []string) *subprocess {
	t.Helper()
	dir := t.TempDir()
	bin := filepath.Join(dir, "openfinspace")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	build := exec.CommandContext(ctx, gobin, "build", "-o", bin, "github.com/openfinspace/openfinspace/cmd/openfinspace")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	const akid, secret = "AKIAOPENFINSPACEBENCH", "openfinspace-bench-secret-key-0123456789"
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--log-level", "warn")
	cmd.Env = append(os.Environ(), "OPENFINSPACE_ACCESS_KEY_ID="+akid, "OPENFINSPACE_SECRET_ACCESS_KEY="+secret)
	cmd.Env = append(cmd.Env, extraEnv...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	urlc := make(chan string, 1)
	var logMu sync.Mutex
	var logTail []string
	go func() {
		serving := regexp.MustCompile(`serving at (http://\S+)`)
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			if m := serving.FindStringSubmatch(line); m != nil {
				select {
				case urlc <- m[1]:
				default:
				}
			}
			logMu.Lock()
			logTail = append(logTail, line)
			if len(logTail) > 30 {
				logTail = logTail[1:]
			}
			logMu.Unlock()
		}
		_ = cmd.Wait()
		close(exited)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
		}
		logMu.Lock()
		t.Logf("server stderr (last %d lines):\n%s", len(logTail), strings.Join(logTail, "\n"))
		logMu.Unlock()
	})
	select {
	case u := <-urlc:
		return &subprocess{url: u, akid: akid, secret: secret, pid: cmd.Process.Pid}
	case <-exited:
		t.Fatal("the server exited before serving")
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not print its URL within 30 s")
	}
	return nil
}

// memSample is the resident memory (bytes) and open descriptors of the
// server and of its gateway process.
type memSample struct{ parent, child, parentFDs, childFDs int64 }

func (m memSample) String() string {
	return fmt.Sprintf("%.0f + %.0f = %.0f (fds %d + %d)", mib(m.parent), mib(m.child), mib(m.parent+m.child), m.parentFDs, m.childFDs)
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func (s *subprocess) memory() memSample {
	m := memSample{parent: vmRSS(s.pid), parentFDs: fdCount(s.pid)}
	for _, c := range childPIDs(s.pid) {
		m.child += vmRSS(c)
		m.childFDs += fdCount(c)
	}
	return m
}

func childPIDs(pid int) []int {
	tasks, _ := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/children", pid))
	var out []int
	for _, f := range tasks {
		b, _ := os.ReadFile(f)
		for _, f := range strings.Fields(string(b)) {
			if n, err := strconv.Atoi(f); err == nil {
				out = append(out, n)
			}
		}
	}
	return out
}

func vmRSS(pid int) int64 {
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

func fdCount(pid int) int64 {
	ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0
	}
	return int64(len(ents))
}
