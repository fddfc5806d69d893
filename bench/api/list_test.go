package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"testing"
	"text/tabwriter"
	"time"
)

// listFixture is a server holding n CREATED environments and the nextToken
// that starts the page right after the first n/2 of them.
type listFixture struct {
	*fixture
	n           int
	middleToken string        // after the first n/2 environments
	lastToken   string        // after the first n-100 (when n > 200)
	seedTime    time.Duration // creating the n environments (all commits)
	settleTime  time.Duration // then waiting for every lifecycle to finish
}

func newListFixture(tb testing.TB, n int) *listFixture {
	tb.Helper()
	f := newFixture(tb) // one environment already
	ctx := context.Background()
	lf := &listFixture{fixture: f, n: n}
	start := time.Now()
	if _, err := f.createEnvironments(ctx, n-1, 16, nil); err != nil {
		tb.Fatal(err)
	}
	lf.seedTime = time.Since(start)
	start = time.Now()
	if err := f.waitSettled(ctx, 90*time.Second); err != nil {
		tb.Fatal(err)
	}
	lf.settleTime = time.Since(start)
	total, _, token, err := listAll(ctx, f.hc, f.sign, f.srv.URL(), n/2)
	if err != nil {
		tb.Fatal(err)
	}
	if total != n {
		tb.Fatalf("server lists %d environments, want %d", total, n)
	}
	lf.middleToken = token
	if n > 200 {
		if _, _, lf.lastToken, err = listAll(ctx, f.hc, f.sign, f.srv.URL(), n-100); err != nil {
			tb.Fatal(err)
		}
	}
	return lf
}

// listCase is one page to fetch.
type listCase struct {
	maxResults int
	page       string // "first", "middle" or "last" (100 from the end)
}

func (c listCase) name() string { return fmt.Sprintf("maxResults=%d/page=%s", c.maxResults, c.page) }

// cases returns the pages worth measuring for lf's size: the first page at
// maxResults 100 and 10 and, when there is one, a page from the middle.
func (lf *listFixture) cases() []listCase {
	var out []listCase
	for _, m := range []int{100, 10} {
		out = append(out, listCase{m, "first"})
		if lf.n > m && lf.middleToken != "" {
			out = append(out, listCase{m, "middle"})
		}
		if lf.lastToken != "" {
			out = append(out, listCase{m, "last"})
		}
	}
	return out
}

// pageItems is how many environments page c holds.
func (lf *listFixture) pageItems(c listCase) int {
	switch c.page {
	case "middle":
		return min(c.maxResults, lf.n-lf.n/2)
	case "last":
		return min(c.maxResults, 100)
	}
	return min(c.maxResults, lf.n)
}

// request signs the ListEnvironments request of c once (the signature
// stays valid for the 15 minutes of allowed skew).
func (lf *listFixture) request(tb testing.TB, c listCase) (*http.Request, int) {
	tb.Helper()
	token := ""
	switch c.page {
	case "middle":
		token = lf.middleToken
	case "last":
		token = lf.lastToken
	}
	ctx := context.Background()
	req, err := lf.sign.get(ctx, listURL(lf.srv.URL(), c.maxResults, token), time.Now())
	if err != nil {
		tb.Fatal(err)
	}
	w := httptest.NewRecorder()
	lf.srv.Handler().ServeHTTP(w, asServed(ctx, req))
	if w.Code != http.StatusOK {
		tb.Fatalf("ListEnvironments: HTTP %d: %s", w.Code, w.Body)
	}
	var p listPage
	if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
		tb.Fatal(err)
	}
	if want := lf.pageItems(c); len(p.Environments) != want {
		tb.Fatalf("%s: %d environments on the page, want %d", c.name(), len(p.Environments), want)
	}
	return req, len(p.Environments)
}

// benchPage measures one page: the server's handler called in-process with
// the pre-signed request (SigV4 verification, token decoding, keyset query,
// decoding and encoding every item), no network.
func (lf *listFixture) benchPage(b *testing.B, c listCase) {
	req, items := lf.request(b, c)
	serveInProcess(b, lf.srv.Handler(), req)
	perPage := float64(b.Elapsed().Nanoseconds()) / float64(b.N)
	b.ReportMetric(float64(items), "items/page")
	b.ReportMetric(perPage/float64(items), "ns/item")
}

// BenchmarkListEnvironmentsPage compares the cost of a ListEnvironments page
// with 10 and with 10 000 environments stored: first page, a page from the
// middle and one 100 environments from the end (nextTokens captured
// beforehand), at maxResults 100 and 10.
// Seeding 10 000 environments through the API takes a few seconds.
func BenchmarkListEnvironmentsPage(b *testing.B) {
	for _, n := range []int{10, 10000} {
		b.Run(fmt.Sprintf("items=%d", n), func(b *testing.B) {
			lf := newListFixture(b, n)
			for _, c := range lf.cases() {
				b.Run(c.name(), func(b *testing.B) { lf.benchPage(b, c) })
			}
		})
	}
}

// TestReportListCost prints the per-page and per-item cost of
// ListEnvironments pages with 10 and 10 000 environments stored. The cases
// run round-robin, 5 rounds of 0.6 s each, and the median is printed, so
// that a burst of load from other processes does not favour one case. Needs
// OPENFINSPACE_BENCH=1.
func TestReportListCost(t *testing.T) {
	if !benchEnabled() {
		t.Skip("set OPENFINSPACE_BENCH=1 to run the list-cost report")
	}
	const rounds = 5
	const roundTime = 600 * time.Millisecond
	type row struct {
		n      int
		c      listCase
		items  int
		req    *http.Request
		h      http.Handler
		ns     []float64 // wall ns/op per round
		cpu    []float64 // process CPU ns/op per round
		allocs int64
		bytes  int64
	}
	var rows []*row
	var seeds bytes.Buffer
	for _, n := range []int{10, 10000} {
		lf := newListFixture(t, n)
		if n > 10 {
			fmt.Fprintf(&seeds, "seeding %d environments through the API (16 clients): %v (%.0f creates/s), lifecycles settled %v later\n",
				n, lf.seedTime.Round(time.Millisecond), float64(n-1)/lf.seedTime.Seconds(), lf.settleTime.Round(time.Millisecond))
		}
		for _, c := range lf.cases() {
			req, items := lf.request(t, c)
			rows = append(rows, &row{n: n, c: c, items: items, req: req, h: lf.srv.Handler()})
		}
	}
	waitQuiet(10 * time.Second)
	for range rounds {
		for _, r := range rows {
			m := measureFor(r.h, r.req, roundTime)
			r.ns = append(r.ns, m.ns)
			r.cpu = append(r.cpu, m.cpu)
			r.allocs, r.bytes = int64(m.allocs), int64(m.bytes)
		}
	}
	var buf bytes.Buffer
	fmt.Fprintf(&buf, "\nListEnvironments page cost, in-process handler (pre-signed request, no network), median of %d interleaved 0.6 s runs, GOMAXPROCS=%d\n", rounds, runtime.GOMAXPROCS(0))
	buf.Write(seeds.Bytes())
	tw := tabwriter.NewWriter(&buf, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "stored\tmaxResults\tpage\titems\tµs/page\tµs/item\tCPU µs/page\tCPU µs/item\tallocs/page\tKB/page\t")
	for _, r := range rows {
		us, cpu := median(r.ns)/1e3, median(r.cpu)/1e3
		fmt.Fprintf(tw, "%d\t%d\t%s\t%d\t%.1f\t%.2f\t%.1f\t%.2f\t%d\t%.1f\t\n", r.n, r.c.maxResults, r.c.page, r.items, us, us/float64(r.items),
			cpu, cpu/float64(r.items), r.allocs, float64(r.bytes)/1024)
	}
	tw.Flush()
	find := func(n, m int, page string) *row {
		for _, r := range rows {
			if r.n == n && r.c.maxResults == m && r.c.page == page {
				return r
			}
		}
		return nil
	}
	ratio := func(a, b *row) string {
		return fmt.Sprintf("%.2f× (CPU %.2f×)", median(a.ns)/median(b.ns), median(a.cpu)/median(b.cpu))
	}
	small := find(10, 10, "first")
	for _, page := range []string{"first", "middle"} {
		if big := find(10000, 10, page); small != nil && big != nil {
			fmt.Fprintf(&buf, "10-item page, 10 000 stored (%s page) vs 10 stored: %s\n", page, ratio(big, small))
		}
	}
	for _, page := range []string{"middle", "last"} {
		if first, other := find(10000, 100, "first"), find(10000, 100, page); first != nil && other != nil {
			fmt.Fprintf(&buf, "100-item %s page vs the first page (10 000 stored): %s\n", page, ratio(other, first))
		}
	}
	if mid, last := find(10000, 10, "middle"), find(10000, 10, "last"); mid != nil && last != nil {
		fmt.Fprintf(&buf, "10-item page 100 from the end vs from the middle (10 000 stored): %s\n", ratio(last, mid))
	}
	fmt.Print(buf.String())
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// perOp is what measureFor measured, per request.
type perOp struct{ ns, cpu, allocs, bytes float64 }

// measureFor serves copies of the pre-signed req with h, one at a time, for
// about d, and returns the wall time, process CPU time and allocations per
// request.
func measureFor(h http.Handler, req *http.Request, d time.Duration) perOp {
	ctx := context.Background()
	var m0, m1 runtime.MemStats
	runtime.ReadMemStats(&m0)
	c0 := sampleCPU()
	start := time.Now()
	n := 0
	for time.Since(start) < d {
		for range 10 {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, asServed(ctx, req))
			n++
		}
	}
	elapsed := time.Since(start)
	use := cpuBetween(c0, sampleCPU())
	runtime.ReadMemStats(&m1)
	f := float64(n)
	return perOp{ns: float64(elapsed.Nanoseconds()) / f, cpu: float64(use.proc.Nanoseconds()) / f,
		allocs: float64(m1.Mallocs-m0.Mallocs) / f, bytes: float64(m1.TotalAlloc-m0.TotalAlloc) / f}
}
