package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/openfinspace/openfinspace/internal/server"
)

// loadedEnvironments is how many environments the loaded measurements create.
const loadedEnvironments = 10000

// memPoint is one memory measurement.
type memPoint struct {
	Label     string `json:"label"`
	HeapAlloc int64  `json:"heapAlloc"` // -1 when unknown
	HeapInuse int64  `json:"heapInuse"`
	GoSys     int64  `json:"goSys"` // runtime.MemStats.Sys: memory the Go runtime got from the OS
	VmRSS     int64  `json:"vmRSS"`
	VmHWM     int64  `json:"vmHWM"` // peak RSS
	RssAnon   int64  `json:"rssAnon"`
	RssFile   int64  `json:"rssFile"`
	Gorout    int64  `json:"goroutines"`
	Note      string `json:"note,omitempty"`
}

// selfMem measures this process after a GC.
func selfMem(label string) memPoint {
	runtime.GC()
	runtime.GC() // the second cycle frees what the first one's finalizers released
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return memPoint{
		Label: label, HeapAlloc: int64(ms.HeapAlloc), HeapInuse: int64(ms.HeapInuse), GoSys: int64(ms.Sys),
		VmRSS: procStatus("self", "VmRSS"), VmHWM: procStatus("self", "VmHWM"),
		RssAnon: procStatus("self", "RssAnon"), RssFile: procStatus("self", "RssFile"),
		Gorout: int64(runtime.NumGoroutine()),
	}
}

func printMem(w io.Writer, title string, points []memPoint) {
	fmt.Fprintf(w, "\n%s\n", title)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "state\tHeapAlloc MiB\tHeapInuse MiB\tGo Sys MiB\tVmRSS MiB\tRssAnon MiB\tRssFile MiB\tpeak RSS MiB\tgoroutines\t")
	f := func(b int64) string {
		if b < 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.1f", mib(b))
	}
	for _, p := range points {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t\n", p.Label, f(p.HeapAlloc), f(p.HeapInuse), f(p.GoSys),
			f(p.VmRSS), f(p.RssAnon), f(p.RssFile), f(p.VmHWM), p.Gorout)
	}
	tw.Flush()
	for _, p := range points {
		if p.Note != "" {
			fmt.Fprintf(w, "  %s: %s\n", p.Label, p.Note)
		}
	}
}

const memChildEnv = "OPENFINSPACE_BENCH_MEMCHILD"

// TestReportMemoryInProcess measures a server started in-process: the
// test binary alone, the idle server after start and a GC, and the server
// holding 10 000 environments. It re-runs itself in a fresh test process so
// that nothing another test allocated is counted; VmRSS includes the test
// binary. Needs OPENFINSPACE_BENCH=1.
func TestReportMemoryInProcess(t *testing.T) {
	if os.Getenv(memChildEnv) == "1" {
		memChild(t)
		return
	}
	if !benchEnabled() {
		t.Skip("set OPENFINSPACE_BENCH=1 to run the memory report")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 110*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestReportMemoryInProcess$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), memChildEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	var points []memPoint
	var seed string
	for _, line := range strings.Split(string(out), "\n") {
		if rest, ok := strings.CutPrefix(line, "MEMPOINT "); ok {
			var p memPoint
			if err := json.Unmarshal([]byte(rest), &p); err != nil {
				t.Fatal(err)
			}
			points = append(points, p)
		}
		if rest, ok := strings.CutPrefix(line, "SEED "); ok {
			seed = rest
		}
	}
	if len(points) != 3 {
		t.Fatalf("child printed %d measurements, want 3:\n%s", len(points), out)
	}
	var buf bytes.Buffer
	printMem(&buf, fmt.Sprintf("memory, server in-process (fresh test process, after runtime.GC ×2; VmRSS includes the test binary), %s", seed), points)
	fmt.Fprintf(&buf, "idle server: +%.1f MiB HeapInuse, +%.1f MiB VmRSS over the bare test binary\n",
		mib(points[1].HeapInuse-points[0].HeapInuse), mib(points[1].VmRSS-points[0].VmRSS))
	fmt.Fprintf(&buf, "%d environments: +%.1f MiB HeapInuse (%.0f B per environment), +%.1f MiB VmRSS over the idle server\n",
		loadedEnvironments, mib(points[2].HeapInuse-points[1].HeapInuse),
		float64(points[2].HeapInuse-points[1].HeapInuse)/loadedEnvironments, mib(points[2].VmRSS-points[1].VmRSS))
	fmt.Print(buf.String())
}

func memChild(t *testing.T) {
	emit := func(p memPoint) {
		b, _ := json.Marshal(p)
		fmt.Printf("MEMPOINT %s\n", b)
	}
	emit(selfMem("test binary, no server"))
	// The default lifecycle pause (400 ms), as the real server uses.
	f := newFixture(t, func(c *server.Config) { c.LifecycleStep = 400 * time.Millisecond })
	f.tr.CloseIdleConnections()
	time.Sleep(500 * time.Millisecond)
	emit(selfMem("idle server (1 environment)"))
	ctx := context.Background()
	start := time.Now()
	if _, err := f.createEnvironments(ctx, loadedEnvironments-1, 32, nil); err != nil {
		t.Fatal(err)
	}
	seedTime := time.Since(start)
	if err := f.waitSettled(ctx, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	settled := time.Since(start)
	f.tr.CloseIdleConnections()
	time.Sleep(500 * time.Millisecond)
	emit(selfMem(fmt.Sprintf("%d environments, all CREATED", loadedEnvironments)))
	fmt.Printf("SEED %d environments created in %v (%.0f/s, 32 clients), all CREATED after %v\n",
		loadedEnvironments, seedTime.Round(time.Millisecond), float64(loadedEnvironments)/seedTime.Seconds(), settled.Round(time.Millisecond))
}

// TestReportMemoryServer builds ./cmd/openfinspace, runs `serve` as a real
// subprocess and reads its memory from /proc/<pid>/status (and the Go heap
// from its /metrics) when idle and after creating 10 000 environments
// through the API. Needs OPENFINSPACE_BENCH=1 and Linux.
func TestReportMemoryServer(t *testing.T) {
	if !benchEnabled() {
		t.Skip("set OPENFINSPACE_BENCH=1 to run the memory report")
	}
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/<pid>/status")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 115*time.Second)
	defer cancel()
	dir := t.TempDir()
	bin := filepath.Join(dir, "openfinspace")
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		gobin = "go"
	}
	buildStart := time.Now()
	build := exec.CommandContext(ctx, gobin, "build", "-o", bin, "github.com/openfinspace/openfinspace/cmd/openfinspace")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	buildTime := time.Since(buildStart)

	const akid, secret = "AKIAOPENFINSPACEBENCH", "openfinspace-bench-secret-key-0123456789"
	srv := exec.CommandContext(ctx, bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", filepath.Join(dir, "data"), "--log-level", "warn")
	srv.Env = append(os.Environ(), "OPENFINSPACE_ACCESS_KEY_ID="+akid, "OPENFINSPACE_SECRET_ACCESS_KEY="+secret)
	srv.Cancel = func() error { return srv.Process.Signal(syscall.SIGTERM) }
	srv.WaitDelay = 10 * time.Second
	stderr, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	t.Cleanup(func() {
		_ = srv.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(15 * time.Second):
			_ = srv.Process.Kill()
		}
	})
	urlc := make(chan string, 1)
	var (
		logMu   sync.Mutex
		logTail []string
	)
	t.Cleanup(func() {
		if t.Failed() {
			logMu.Lock()
			t.Logf("server stderr (last lines):\n%s", strings.Join(logTail, "\n"))
			logMu.Unlock()
		}
	})
	go func() {
		serving := regexp.MustCompile(`serving at (http://\S+)`)
		sc := bufio.NewScanner(stderr)
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
			if len(logTail) > 20 {
				logTail = logTail[1:]
			}
			logMu.Unlock()
		}
		exited <- srv.Wait()
	}()
	var base string
	select {
	case base = <-urlc:
	case <-time.After(20 * time.Second):
		t.Fatal("the server did not print its URL within 20 s")
	}
	pid := strconv.Itoa(srv.Process.Pid)

	tr := newTransport()
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	sign := newSigner(akid, secret)
	measure := func(label string) memPoint {
		p := memPoint{Label: label, HeapAlloc: -1, HeapInuse: -1, GoSys: -1, Gorout: -1,
			VmRSS: procStatus(pid, "VmRSS"), VmHWM: procStatus(pid, "VmHWM"),
			RssAnon: procStatus(pid, "RssAnon"), RssFile: procStatus(pid, "RssFile")}
		m, err := scrapeMetrics(ctx, hc, base)
		if err != nil {
			t.Logf("metrics: %v", err)
			return p
		}
		p.HeapAlloc, p.HeapInuse = int64(m["go_memstats_heap_alloc_bytes"]), int64(m["go_memstats_heap_inuse_bytes"])
		p.GoSys, p.Gorout = int64(m["go_memstats_sys_bytes"]), int64(m["go_goroutines"])
		return p
	}

	time.Sleep(time.Second)
	points := []memPoint{measure("idle after start")}
	start := time.Now()
	if _, err := createEnvironments(ctx, hc, sign, base, loadedEnvironments, 32, nil); err != nil {
		t.Fatal(err)
	}
	seedTime := time.Since(start)
	points = append(points, measure(fmt.Sprintf("%d created (lifecycles running)", loadedEnvironments)))
	if err := waitSettled(ctx, hc, sign, base, 60*time.Second); err != nil {
		t.Fatal(err)
	}
	settled := time.Since(start)
	tr.CloseIdleConnections()
	time.Sleep(2 * time.Second)
	points = append(points, measure(fmt.Sprintf("%d environments, all CREATED, idle 2 s", loadedEnvironments)))
	dbSize := dirSize(filepath.Join(dir, "data"))

	var buf bytes.Buffer
	printMem(&buf, fmt.Sprintf("memory, real `openfinspace serve` subprocess (pid %s; /proc/<pid>/status; Go heap figures from its /metrics, not after a forced GC)", pid), points)
	fmt.Fprintf(&buf, "build %v; %d environments created in %v (%.0f/s, 32 clients), all CREATED %v after the first create; data dir %.1f MiB\n",
		buildTime.Round(time.Millisecond), loadedEnvironments, seedTime.Round(time.Millisecond),
		float64(loadedEnvironments)/seedTime.Seconds(), settled.Round(time.Millisecond), mib(dbSize))
	fmt.Fprintf(&buf, "VmRSS %.1f MiB idle → %.1f MiB with %d environments (+%.0f B per environment); peak %.1f MiB\n",
		mib(points[0].VmRSS), mib(points[2].VmRSS), loadedEnvironments,
		float64(points[2].VmRSS-points[0].VmRSS)/loadedEnvironments, mib(points[2].VmHWM))
	fmt.Print(buf.String())
}

// scrapeMetrics reads the numeric samples without labels of /metrics.
func scrapeMetrics(ctx context.Context, hc *http.Client, base string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: HTTP %d", resp.StatusCode)
	}
	out := map[string]float64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.ContainsRune(line, '{') {
			continue
		}
		name, val, ok := strings.Cut(line, " ")
		if !ok {
			continue
		}
		if v, err := strconv.ParseFloat(strings.TrimSpace(val), 64); err == nil {
			out[name] = v
		}
	}
	return out, sc.Err()
}

func dirSize(dir string) int64 {
	var n int64
	_ = filepath.Walk(dir, func(_ string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			n += info.Size()
		}
		return nil
	})
	return n
}
