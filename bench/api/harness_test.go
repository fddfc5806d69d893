package api

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

// clients is the number of concurrent closed-loop clients of the throughput
// scenarios.
const clients = 50

// region and service are what every request is signed for.
const (
	region  = servertest.Region
	service = "finspace"
)

// emptyPayloadHash is the hex SHA-256 of an empty body: GET requests are
// signed with it precomputed, so the client never hashes a body.
var emptyPayloadHash = func() string {
	sum := sha256.Sum256(nil)
	return hex.EncodeToString(sum[:])
}()

// benchEnabled reports whether the long-running report tests should run.
func benchEnabled() bool { return os.Getenv("OPENFINSPACE_BENCH") == "1" }

// newTransport is the one http.Transport shared by all the clients of a
// scenario: keep-alive connections, at least one idle connection per client.
func newTransport() *http.Transport {
	return &http.Transport{
		Proxy:               nil, // always 127.0.0.1: never a proxy
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4 * clients,
		MaxIdleConnsPerHost: 2 * clients,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
}

// signer signs raw requests with the SDK's v4 signer directly (not the SDK
// middleware stack): the client-side cost stays small and the same for
// every scenario.
type signer struct {
	s     *v4.Signer
	creds aws.Credentials
	// service is the signing name ("" means finspace).
	service string
}

func (s *signer) signingName() string {
	if s.service != "" {
		return s.service
	}
	return service
}

func newSigner(akid, secret string) *signer {
	return &signer{s: v4.NewSigner(), creds: aws.Credentials{AccessKeyID: akid, SecretAccessKey: secret}}
}

func serverSigner(srv *server.Server) *signer {
	root := srv.Root()
	return newSigner(root.AccessKeyID, root.SecretAccessKey)
}

// get builds and signs a GET of rawURL (path already escaped as it goes on
// the wire) at time now.
func (s *signer) get(ctx context.Context, rawURL string, now time.Time) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, err
	}
	if err := s.s.SignHTTP(ctx, s.creds, req, emptyPayloadHash, s.signingName(), region, now); err != nil {
		return nil, err
	}
	return req, nil
}

// post builds and signs a JSON POST; the body hash is computed here.
func (s *signer) post(ctx context.Context, rawURL string, body []byte, now time.Time) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	sum := sha256.Sum256(body)
	if err := s.s.SignHTTP(ctx, s.creds, req, hex.EncodeToString(sum[:]), s.signingName(), region, now); err != nil {
		return nil, err
	}
	return req, nil
}

// roundTrip sends req, drains the body and returns the status and the time
// from sending the request to having read the whole response.
func roundTrip(hc *http.Client, req *http.Request, keep bool) (status int, body []byte, elapsed time.Duration, err error) {
	start := time.Now()
	resp, err := hc.Do(req)
	if err != nil {
		return 0, nil, time.Since(start), err
	}
	if keep {
		body, err = io.ReadAll(resp.Body)
	} else {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	resp.Body.Close()
	return resp.StatusCode, body, time.Since(start), err
}

// scenario is one kind of request sent in a closed loop by every client.
type scenario struct {
	name string
	hc   *http.Client
	// next builds and signs the next request.
	next func(ctx context.Context) (*http.Request, error)
}

// once sends one request and checks for a 200.
func (sc *scenario) once(ctx context.Context) (time.Duration, error) {
	req, err := sc.next(ctx)
	if err != nil {
		return 0, err
	}
	status, _, d, err := roundTrip(sc.hc, req, false)
	if err != nil {
		return d, err
	}
	if status != http.StatusOK {
		return d, fmt.Errorf("%s: HTTP %d", sc.name, status)
	}
	return d, nil
}

// body returns the response body of one request (for checks and sizes).
func (sc *scenario) body(ctx context.Context) ([]byte, error) {
	req, err := sc.next(ctx)
	if err != nil {
		return nil, err
	}
	status, body, _, err := roundTrip(sc.hc, req, true)
	if err != nil {
		return nil, err
	}
	if status != http.StatusOK {
		return nil, fmt.Errorf("%s: HTTP %d: %s", sc.name, status, body)
	}
	return body, nil
}

// warm opens the clients' keep-alive connections so that no measurement
// includes TCP connection setup.
func (sc *scenario) warm(ctx context.Context, n int) error {
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 4 {
				if _, err := sc.once(ctx); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// latencies collects per-request latencies from many goroutines, each
// appending to its own slice and merging once at the end.
type latencies struct {
	mu  sync.Mutex
	all []time.Duration
}

func (l *latencies) merge(local []time.Duration) {
	l.mu.Lock()
	l.all = append(l.all, local...)
	l.mu.Unlock()
}

// summary is the outcome of a load run.
type summary struct {
	name     string
	workers  int
	requests int
	elapsed  time.Duration
	p50, p90 time.Duration
	p99, max time.Duration
	mean     time.Duration
	cpu      cpuUse
	lat      []time.Duration // sorted
}

// combine merges runs of one scenario (interleaved slices) into one
// summary: requests, latencies, wall time and CPU add up.
func combine(runs []summary) summary {
	var all []time.Duration
	var elapsed time.Duration
	var cpu cpuUse
	var busyW, shareW float64
	for _, r := range runs {
		all = append(all, r.lat...)
		elapsed += r.elapsed
		cpu.proc += r.cpu.proc
		cpu.gcCycles += r.cpu.gcCycles
		cpu.gcCPU += r.cpu.gcCPU
		shareW += r.cpu.procShare * r.elapsed.Seconds()
		if r.cpu.machineBusy < 0 || busyW < 0 {
			busyW = -1
		} else {
			busyW += r.cpu.machineBusy * r.elapsed.Seconds()
		}
	}
	if len(runs) == 0 {
		return summary{}
	}
	s := summarize(runs[0].name, runs[0].workers, all, elapsed)
	cpu.procShare, cpu.machineBusy = shareW/elapsed.Seconds(), -1
	if busyW >= 0 {
		cpu.machineBusy = busyW / elapsed.Seconds()
	}
	s.cpu = cpu
	return s
}

// cpuPerRequest is the process CPU time (client and server together) per
// request.
func (s summary) cpuPerRequest() time.Duration {
	if s.requests == 0 {
		return 0
	}
	return s.cpu.proc / time.Duration(s.requests)
}

func (s summary) rps() float64 { return float64(s.requests) / s.elapsed.Seconds() }

func summarize(name string, workers int, lat []time.Duration, elapsed time.Duration) summary {
	s := summary{name: name, workers: workers, requests: len(lat), elapsed: elapsed}
	if len(lat) == 0 {
		return s
	}
	slices.Sort(lat)
	var total time.Duration
	for _, d := range lat {
		total += d
	}
	s.mean = total / time.Duration(len(lat))
	s.p50, s.p90, s.p99 = percentile(lat, 0.50), percentile(lat, 0.90), percentile(lat, 0.99)
	s.max = lat[len(lat)-1]
	s.lat = lat
	return s
}

// percentile is the nearest-rank percentile of sorted.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// runFor runs sc with exactly workers closed-loop clients for d and
// returns the summary. Requests still in flight at the deadline complete
// and count; elapsed runs until the last one finished.
func runFor(ctx context.Context, sc *scenario, workers int, d time.Duration) (summary, error) {
	var (
		lat     latencies
		stop    atomic.Bool
		errOnce sync.Once
		first   error
		wg      sync.WaitGroup
	)
	timer := time.AfterFunc(d, func() { stop.Store(true) })
	defer timer.Stop()
	c0 := sampleCPU()
	start := time.Now()
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 1<<14)
			for !stop.Load() {
				dur, err := sc.once(ctx)
				if err != nil {
					errOnce.Do(func() { first = err })
					stop.Store(true)
					break
				}
				local = append(local, dur)
			}
			lat.merge(local)
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	s := summarize(sc.name, workers, lat.all, elapsed)
	s.cpu = cpuBetween(c0, sampleCPU())
	return s, first
}

// benchParallel runs sc under b.RunParallel with about `clients`
// goroutines (SetParallelism rounds up to a multiple of GOMAXPROCS) and
// reports req/s, p50-ms, p99-ms and the number of clients.
func benchParallel(b *testing.B, sc *scenario) {
	ctx := context.Background()
	procs := runtime.GOMAXPROCS(0)
	par := (clients + procs - 1) / procs
	b.SetParallelism(par)
	var (
		lat    latencies
		failed atomic.Int64
		errMu  sync.Mutex
		first  error
	)
	b.ResetTimer()
	c0 := sampleCPU()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 1024)
		for pb.Next() {
			d, err := sc.once(ctx)
			if err != nil {
				if failed.Add(1) == 1 {
					errMu.Lock()
					first = err
					errMu.Unlock()
				}
				continue
			}
			local = append(local, d)
		}
		lat.merge(local)
	})
	elapsed := time.Since(start)
	use := cpuBetween(c0, sampleCPU())
	b.StopTimer()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d requests failed; first: %v", n, b.N, first)
	}
	s := summarize(sc.name, par*procs, lat.all, elapsed)
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "req/s")
	b.ReportMetric(ms(s.p50), "p50-ms")
	b.ReportMetric(ms(s.p99), "p99-ms")
	b.ReportMetric(float64(par*procs), "clients")
	// CPU of this process (clients and server) per request, and how busy
	// the machine was with other processes: a high other-% means the run
	// competed for the cores and its req/s and latencies are not clean.
	b.ReportMetric(float64(use.proc.Microseconds())/float64(b.N), "cpu-us/req")
	if o := use.others(); o >= 0 {
		b.ReportMetric(100*o, "other-%")
	}
	b.ReportMetric(float64(use.gcCycles)/elapsed.Seconds(), "gc/s")
}

// fixture is a running server holding one CREATED environment with two
// tags, and clients for it.
type fixture struct {
	srv    *server.Server
	sign   *signer
	tr     *http.Transport
	hc     *http.Client
	envID  string
	envARN string
}

func newFixture(tb testing.TB, opts ...func(*server.Config)) *fixture {
	tb.Helper()
	srv := servertest.Start(tb, opts...)
	tr := newTransport()
	tb.Cleanup(tr.CloseIdleConnections)
	f := &fixture{srv: srv, sign: serverSigner(srv), tr: tr, hc: &http.Client{Transport: tr}}
	ctx := context.Background()
	ids, err := f.createEnvironments(ctx, 1, 1, map[string]string{"team": "quant", "cost-center": "42"})
	if err != nil {
		tb.Fatal(err)
	}
	f.envID = ids[0]
	f.envARN = "arn:aws:finspace:" + region + ":000000000000:environment/" + f.envID
	if err := f.waitSettled(ctx, 30*time.Second); err != nil {
		tb.Fatal(err)
	}
	return f
}

// getEnvironment is the GetEnvironment scenario of f's environment.
func (f *fixture) getEnvironment() *scenario {
	u := f.srv.URL() + "/environment/" + f.envID
	return &scenario{name: "GetEnvironment", hc: f.hc, next: func(ctx context.Context) (*http.Request, error) {
		return f.sign.get(ctx, u, time.Now())
	}}
}

// listTags is the ListTagsForResource scenario of f's environment. The ARN
// label is escaped as the SDKs send it (":" and "/" percent-encoded).
func (f *fixture) listTags() *scenario {
	u := f.srv.URL() + "/tags/" + url.PathEscape(f.envARN)
	return &scenario{name: "ListTagsForResource", hc: f.hc, next: func(ctx context.Context) (*http.Request, error) {
		return f.sign.get(ctx, u, time.Now())
	}}
}

// createEnvironments creates n environments with `workers` concurrent
// clients and returns their ids in creation order per worker.
func (f *fixture) createEnvironments(ctx context.Context, n, workers int, tags map[string]string) ([]string, error) {
	return createEnvironments(ctx, f.hc, f.sign, f.srv.URL(), n, workers, tags)
}

func createEnvironments(ctx context.Context, hc *http.Client, s *signer, base string, n, workers int, tags map[string]string) ([]string, error) {
	var (
		next  atomic.Int64
		mu    sync.Mutex
		ids   = make([]string, 0, n)
		first error
		wg    sync.WaitGroup
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				in := map[string]any{"name": fmt.Sprintf("bench-%06d", i), "description": "Benchmark environment"}
				if len(tags) > 0 {
					in["tags"] = tags
				}
				body, _ := json.Marshal(in)
				req, err := s.post(ctx, base+"/environment", body, time.Now())
				var status int
				var resp []byte
				if err == nil {
					status, resp, _, err = roundTrip(hc, req, true)
				}
				if err == nil && status != http.StatusOK {
					err = fmt.Errorf("CreateEnvironment: HTTP %d: %s", status, resp)
				}
				var out struct {
					EnvironmentID string `json:"environmentId"`
				}
				if err == nil {
					err = json.Unmarshal(resp, &out)
				}
				mu.Lock()
				if err != nil && first == nil {
					first = err
					next.Store(int64(n)) // stop everyone
				}
				if err == nil {
					ids = append(ids, out.EnvironmentID)
				}
				mu.Unlock()
				if err != nil {
					return
				}
			}
		}()
	}
	wg.Wait()
	return ids, first
}

// listPage is one ListEnvironments page as the wire shows it.
type listPage struct {
	Environments []struct {
		EnvironmentID string `json:"environmentId"`
		Status        string `json:"status"`
	} `json:"environments"`
	NextToken string `json:"nextToken"`
}

// listURL is the ListEnvironments URL for maxResults and an optional token.
func listURL(base string, maxResults int, token string) string {
	q := url.Values{}
	if maxResults > 0 {
		q.Set("maxResults", fmt.Sprint(maxResults))
	}
	if token != "" {
		q.Set("nextToken", token)
	}
	u := base + "/environment"
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return u
}

// listAll walks every ListEnvironments page over HTTP and returns the
// number of environments, how many are not yet CREATED, and the nextToken
// found after `tokenAfter` environments (0 or less: none wanted).
func listAll(ctx context.Context, hc *http.Client, s *signer, base string, tokenAfter int) (total, unsettled int, token string, err error) {
	// Pages of up to 100 that end exactly at tokenAfter.
	size := 100
	if tokenAfter > 0 {
		for size = min(100, tokenAfter); tokenAfter%size != 0; size-- {
		}
	}
	next := ""
	for {
		req, err := s.get(ctx, listURL(base, size, next), time.Now())
		if err != nil {
			return 0, 0, "", err
		}
		status, body, _, err := roundTrip(hc, req, true)
		if err != nil {
			return 0, 0, "", err
		}
		if status != http.StatusOK {
			return 0, 0, "", fmt.Errorf("ListEnvironments: HTTP %d: %s", status, body)
		}
		var p listPage
		if err := json.Unmarshal(body, &p); err != nil {
			return 0, 0, "", err
		}
		for _, e := range p.Environments {
			if e.Status != "CREATED" {
				unsettled++
			}
		}
		total += len(p.Environments)
		if total == tokenAfter && p.NextToken != "" {
			token = p.NextToken
		}
		if p.NextToken == "" {
			return total, unsettled, token, nil
		}
		next = p.NextToken
	}
}

// waitSettled waits until every environment of f is CREATED (the lifecycle
// reconciler has stopped writing).
func (f *fixture) waitSettled(ctx context.Context, timeout time.Duration) error {
	return waitSettled(ctx, f.hc, f.sign, f.srv.URL(), timeout)
}

func waitSettled(ctx context.Context, hc *http.Client, s *signer, base string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		total, unsettled, _, err := listAll(ctx, hc, s, base, -1)
		if err != nil {
			return err
		}
		if unsettled == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%d of %d environments still not CREATED after %v", unsettled, total, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// bareBody is the constant body of the bare handler: a GetEnvironment
// response of the same shape and about the same size as the real one.
var bareBody = []byte(`{"environment":{"awsAccountId":"000000000000","description":"Benchmark environment",` +
	`"environmentArn":"arn:aws:finspace:us-east-1:000000000000:environment/abcdefghijklmnopqrstuv",` +
	`"environmentId":"abcdefghijklmnopqrstuv","environmentUrl":"http://127.0.0.1:40000/environments/abcdefghijklmnopqrstuv",` +
	`"federationMode":"LOCAL","name":"bench-000000","status":"CREATED"}}`)

// bareHandler is the reference: a plain net/http handler answering a
// constant JSON body, no authentication, no store.
func bareHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(bareBody)
	})
}

// bareServer starts the bare handler on 127.0.0.1 and returns a scenario
// whose requests are built and signed exactly like the full-stack ones (the
// server ignores the signature), so the client-side cost is identical.
func bareServer(tb testing.TB) *scenario {
	tb.Helper()
	ts := httptest.NewServer(bareHandler()) // listens on 127.0.0.1:0
	tb.Cleanup(ts.Close)
	tr := newTransport()
	tb.Cleanup(tr.CloseIdleConnections)
	hc := &http.Client{Transport: tr}
	s := newSigner("AKIABENCHBAREHANDLER", "bare-handler-secret-not-checked")
	u := ts.URL + "/environment/abcdefghijklmnopqrstuv"
	return &scenario{name: "bare net/http JSON", hc: hc, next: func(ctx context.Context) (*http.Request, error) {
		return s.get(ctx, u, time.Now())
	}}
}
