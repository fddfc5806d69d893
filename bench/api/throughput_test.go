package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/store/postgres/pgtest"
)

// Targets of the throughput scenarios (printed, never asserted).
const (
	targetRatio = 0.60                 // full-stack req/s / bare req/s
	targetP99   = 5 * time.Millisecond // full-stack p99
)

// BenchmarkGetEnvironment: GetEnvironment through the full stack (HTTP over
// loopback, SigV4 verification, SQLite read), ~50 concurrent clients. The
// server and the clients share the machine's cores.
func BenchmarkGetEnvironment(b *testing.B) {
	f := newFixture(b)
	runParallelScenario(b, f.getEnvironment())
}

// BenchmarkListTagsForResource: ListTagsForResource on the environment ARN
// (the ARN is resolved to a live environment, then its tag record read).
func BenchmarkListTagsForResource(b *testing.B) {
	f := newFixture(b)
	runParallelScenario(b, f.listTags())
}

// BenchmarkBareHandler is the reference: the same clients (requests signed
// the same way) against a net/http handler answering a constant JSON body.
func BenchmarkBareHandler(b *testing.B) {
	runParallelScenario(b, bareServer(b))
}

func runParallelScenario(b *testing.B, sc *scenario) {
	if err := sc.warm(context.Background(), clients); err != nil {
		b.Fatal(err)
	}
	b.Run("clients="+strconv.Itoa(clients), func(b *testing.B) { benchParallel(b, sc) })
}

// BenchmarkServerHandler measures the server's own CPU and allocations per
// request: srv.Handler() called in-process with a request signed once
// beforehand (no network, no client cost), one request at a time.
func BenchmarkServerHandler(b *testing.B) {
	f := newFixture(b)
	ctx := context.Background()
	cases := []struct {
		name string
		h    http.Handler
		url  string
	}{
		{"bare", bareHandler(), f.srv.URL() + "/environment/" + f.envID},
		{"GetEnvironment", f.srv.Handler(), f.srv.URL() + "/environment/" + f.envID},
		{"ListTagsForResource", f.srv.Handler(), f.srv.URL() + "/tags/" + url.PathEscape(f.envARN)},
		{"ListEnvironments", f.srv.Handler(), listURL(f.srv.URL(), 100, "")},
	}
	for _, c := range cases {
		b.Run("op="+c.name, func(b *testing.B) {
			req, err := f.sign.get(ctx, c.url, time.Now())
			if err != nil {
				b.Fatal(err)
			}
			serveInProcess(b, c.h, req)
		})
	}
}

// asServed turns a client request into what net/http's server hands a
// handler (body never nil, RequestURI and RemoteAddr set).
func asServed(ctx context.Context, req *http.Request) *http.Request {
	r := req.Clone(ctx)
	r.Body = http.NoBody
	r.RequestURI = req.URL.RequestURI()
	r.RemoteAddr = "127.0.0.1:50000"
	return r
}

// serveInProcess benchmarks h on copies of the pre-signed req.
func serveInProcess(b *testing.B, h http.Handler, req *http.Request) {
	ctx := context.Background()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, asServed(ctx, req))
	if w.Code != http.StatusOK {
		b.Fatalf("HTTP %d: %s", w.Code, w.Body)
	}
	b.ReportAllocs()
	c0 := sampleCPU()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, asServed(ctx, req))
		if w.Code != http.StatusOK {
			b.Fatalf("HTTP %d: %s", w.Code, w.Body)
		}
	}
	// CPU time per request (all goroutines of the process, GC included):
	// steadier than ns/op when other processes compete for the cores.
	use := cpuBetween(c0, sampleCPU())
	b.ReportMetric(float64(use.proc.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// reportDuration is how long each report scenario runs in all: 5 s, or
// OPENFINSPACE_BENCH_DURATION (capped at 20 s so the report stays bounded).
func reportDuration(t *testing.T) time.Duration {
	d := 5 * time.Second
	if v := os.Getenv("OPENFINSPACE_BENCH_DURATION"); v != "" {
		var err error
		if d, err = time.ParseDuration(v); err != nil || d <= 0 {
			t.Fatalf("bad OPENFINSPACE_BENCH_DURATION %q", v)
		}
	}
	return min(d, 20*time.Second)
}

// reportRounds is how many interleaved slices each scenario's time is cut
// into.
const reportRounds = 5

// TestReportThroughput runs each scenario for a fixed duration with exactly
// 50 clients and prints one table. Needs OPENFINSPACE_BENCH=1.
//
// The scenarios run interleaved: 5 rounds in which each scenario runs for a
// fifth of the duration, so that all of them see the same conditions on a
// shared machine (its speed drifts by ±20% from minute to minute); the
// table adds the rounds up, and the per-round ratios show the spread.
func TestReportThroughput(t *testing.T) {
	if !benchEnabled() {
		t.Skip("set OPENFINSPACE_BENCH=1 to run the throughput report")
	}
	reportThroughput(t, reportScenarios(t))
}

// TestReportThroughputPostgres is TestReportThroughput with GetEnvironment
// on a SQLite server and on a PostgreSQL one (OPENFINSPACE_TEST_POSTGRES,
// see pgtest) in the same run, interleaved: the cost of the network
// round trips a PostgreSQL transaction takes. Needs OPENFINSPACE_BENCH=1.
func TestReportThroughputPostgres(t *testing.T) {
	if !benchEnabled() {
		t.Skip("set OPENFINSPACE_BENCH=1 to run the throughput report")
	}
	sqliteEnv := newFixture(t).getEnvironment()
	sqliteEnv.name = "GetEnvironment SQLite"
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	pgEnv := newFixture(t, func(c *server.Config) {
		c.DatabaseURL = pgtest.URL(t)
		c.ServerKey = key
		c.RootAccessKeyID, c.RootSecretAccessKey = "AKIAOPENFINSPACEPGBENCH", "openfinspace-pg-bench-secret-0123456789"
	}).getEnvironment()
	pgEnv.name = "GetEnvironment PostgreSQL"
	rows := reportThroughput(t, []*scenario{bareServer(t), sqliteEnv, pgEnv})
	fmt.Printf("PostgreSQL / SQLite GetEnvironment throughput: %.0f%%\n", 100*rows[2].rps()/rows[1].rps())
}

// reportThroughput runs scenarios (the first is the reference) in
// interleaved rounds, prints the table and returns the combined rows.
func reportThroughput(t *testing.T, scenarios []*scenario) []summary {
	ctx := context.Background()
	d := reportDuration(t)
	for _, sc := range scenarios {
		if err := sc.warm(ctx, clients); err != nil {
			t.Fatal(err)
		}
		if _, err := runFor(ctx, sc, clients, time.Second); err != nil { // warm-up, discarded
			t.Fatal(err)
		}
	}
	settle(t)
	runs := make([][]summary, len(scenarios))
	for range reportRounds {
		for i, sc := range scenarios {
			s, err := runFor(ctx, sc, clients, d/reportRounds)
			if err != nil {
				t.Fatal(err)
			}
			runs[i] = append(runs[i], s)
		}
	}
	rows := make([]summary, len(scenarios))
	for i := range scenarios {
		rows[i] = combine(runs[i])
	}
	size := func(sc *scenario) int {
		body, err := sc.body(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return len(body)
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "\nthroughput: %d closed-loop clients, %v per scenario in %d interleaved rounds (after 1 s warm-up), GOMAXPROCS=%d, %s/%s, %s\n",
		clients, d, reportRounds, runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "scenario\tbody B\trequests\treq/s\tmean ms\tp50 ms\tp90 ms\tp99 ms\tmax ms\treq/s vs bare\tper round\tCPU µs/req\tCPU vs bare\tGC cycles/s\tGC CPU\tother load\t")
	for i, s := range rows {
		other := "n/a"
		if o := s.cpu.others(); o >= 0 {
			other = fmt.Sprintf("%.0f%%", 100*o)
		}
		lo, hi := math.Inf(1), math.Inf(-1)
		for r := range runs[i] {
			x := runs[i][r].rps() / runs[0][r].rps()
			lo, hi = min(lo, x), max(hi, x)
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.0f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f\t%.2f–%.2f\t%.0f\t%.2f\t%.0f\t%.0f%%\t%s\t\n", s.name, size(scenarios[i]), s.requests, s.rps(),
			ms(s.mean), ms(s.p50), ms(s.p90), ms(s.p99), ms(s.max), s.rps()/rows[0].rps(), lo, hi,
			float64(s.cpuPerRequest())/float64(time.Microsecond), float64(s.cpuPerRequest())/float64(rows[0].cpuPerRequest()),
			float64(s.cpu.gcCycles)/s.elapsed.Seconds(), 100*s.cpu.gcCPU.Seconds()/max(s.cpu.proc.Seconds(), 1e-9), other)
	}
	tw.Flush()
	for _, s := range rows[1:] {
		ratio := s.rps() / rows[0].rps()
		fmt.Fprintf(&buf, "%-20s throughput %.0f%% of bare (target >= %.0f%%: %s); p99 %.2f ms (target < %v: %s)\n",
			s.name, 100*ratio, 100*targetRatio, verdict(ratio >= targetRatio), ms(s.p99), targetP99, verdict(s.p99 < targetP99))
	}
	fmt.Fprintf(&buf, "CPU µs/req is this process's CPU time (clients + server, user + system) per request; GC CPU is the GC's share of it; other load is the share of the machine used by other processes during the run (load average now %.2f).\n", loadAverage())
	fmt.Fprintf(&buf, "Little's law: with %d closed-loop clients mean latency = %d / throughput, so a mean under 5 ms needs > %.0f req/s.\n",
		clients, clients, float64(clients)/targetP99.Seconds())
	fmt.Print(buf.String())
	return rows
}

// reportScenarios starts the reports' three scenarios: the bare handler,
// then GetEnvironment and ListTagsForResource through a full server.
func reportScenarios(t *testing.T) []*scenario {
	t.Helper()
	f := newFixture(t)
	return []*scenario{bareServer(t), f.getEnvironment(), f.listTags()}
}

// settle waits (at most 30 s) for other processes to go quiet, and says
// so in the log when they do not.
func settle(t *testing.T) {
	t.Helper()
	if waited, busy := waitQuiet(30 * time.Second); busy >= 0.15 {
		t.Logf("machine still %.0f%% busy after waiting %v: figures will be noisy", 100*busy, waited.Round(time.Second))
	}
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

// BenchmarkClientSign is the client-side cost every scenario pays per
// request: building the request and signing it with the v4 signer (payload
// hash precomputed).
func BenchmarkClientSign(b *testing.B) {
	s := newSigner("AKIAOPENFINSPACEBENCH", "openfinspace-bench-secret-key-0123456789")
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.get(ctx, "http://127.0.0.1:40000/environment/abcdefghijklmnopqrstuv", time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}
