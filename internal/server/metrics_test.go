package server_test

import (
	"net/http"
	"os"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

// scrape reads /metrics and parses it with the Prometheus text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("/metrics: %s", res.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// value is the value of the series of family name whose labels include
// labels (a counter's, a gauge's or an untyped value); -1 when there is
// none.
func value(fams map[string]*dto.MetricFamily, name string, labels map[string]string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		have := map[string]string{}
		for _, l := range m.Label {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range labels {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Untyped != nil:
			return m.Untyped.GetValue()
		}
	}
	return -1
}

// TestMetricsScrape: after S3 uploads and two changesets (one ingested,
// one failed), /metrics parses with the Prometheus text parser and counts
// them: S3 requests by operation and status, jobs by kind and outcome and
// the pending gauge, ingestion rows and bytes, changesets by status and
// category, kx gauges, Go runtime and process metrics.
func TestMetricsScrape(t *testing.T) {
	f := newDatasetFixture(t)
	g := f.group("analysts")
	sch := []finspacedata.ColumnDefinition{col("sym", finspacedata.ColumnDataTypeString), col("px", finspacedata.ColumnDataTypeDouble)}
	ds := f.dataset(f.su, "Prices", g, sch, allPermissions())
	ok := f.changeset(ds, finspacedata.ChangeTypeAppend, f.upload("good.csv", "sym,px\nA,1.5\nB,2\nC,3\n"), map[string]string{"formatType": "CSV"})
	f.succeed(ds, ok)
	bad := f.changeset(ds, finspacedata.ChangeTypeAppend, f.upload("bad.csv", "sym,px\nA,not-a-number\n"), map[string]string{"formatType": "CSV"})
	if out := f.wait(ds, bad); *out.Status != finspacedata.IngestionStatusFailed {
		t.Fatalf("bad changeset: %s", *out.Status)
	}

	fams := scrape(t, f.srv.URL())
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for name := range fams {
		if strings.HasPrefix(name, "openfinspace_") && !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("README.md's metrics table lacks %s", name)
		}
	}
	for _, c := range []struct {
		name   string
		labels map[string]string
		min    float64
		max    float64
	}{
		{"openfinspace_s3_requests_total", map[string]string{"operation": "PutObject", "status": "200"}, 2, 2},
		{"openfinspace_changesets_finished_total", map[string]string{"status": "SUCCESS"}, 1, 1},
		{"openfinspace_changesets_finished_total", map[string]string{"status": "FAILED", "category": "VALIDATION"}, 1, 1},
		{"openfinspace_ingest_rows_total", nil, 3, 3},
		{"openfinspace_ingest_stored_bytes_total", nil, 1, 1 << 30},
		{"openfinspace_jobs_finished_total", map[string]string{"kind": "changeset", "outcome": "done"}, 1, 1},
		{"openfinspace_jobs_finished_total", map[string]string{"kind": "changeset", "outcome": "failed"}, 1, 1},
		{"openfinspace_jobs_running", map[string]string{"kind": "changeset"}, 0, 0},
		{"openfinspace_jobs_pending", map[string]string{"kind": "changeset", "state": "queued"}, 0, 0},
		{"openfinspace_kx_nodes", map[string]string{"state": "up"}, 0, 0},
		{"openfinspace_kx_node_restarts_total", nil, 0, 0},
		{"openfinspace_requests_total", map[string]string{"service": "finspace-api", "operation": "CreateChangeset", "status": "200"}, 2, 2},
		{"go_goroutines", nil, 1, 1e6},
		{"process_resident_memory_bytes", nil, 1, 1e12},
	} {
		if v := value(fams, c.name, c.labels); v < c.min || v > c.max {
			t.Errorf("%s%v = %v, want %v..%v", c.name, c.labels, v, c.min, c.max)
		}
	}
}
