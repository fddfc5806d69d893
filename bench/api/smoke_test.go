package api

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// TestHarness keeps the benchmarks honest in a plain `go test` run (a second
// or two): every scenario answers 200 with the expected body, signatures are
// accepted, and short load runs complete without errors.
func TestHarness(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	bare := bareServer(t)
	for _, sc := range []*scenario{bare, f.getEnvironment(), f.listTags()} {
		body, err := sc.body(ctx)
		if err != nil {
			t.Fatal(err)
		}
		s, err := runFor(ctx, sc, 4, 50*time.Millisecond)
		if err != nil {
			t.Fatalf("%s: %v", sc.name, err)
		}
		if s.requests == 0 || s.p99 <= 0 {
			t.Errorf("%s: %+v", sc.name, s)
		}
		t.Logf("%s: %d B body, %d requests in %v", sc.name, len(body), s.requests, s.elapsed)
	}

	var env struct {
		Environment struct {
			EnvironmentID, Status string
		}
	}
	body, _ := f.getEnvironment().body(ctx)
	if err := json.Unmarshal(body, &env); err != nil || env.Environment.EnvironmentID != f.envID || env.Environment.Status != "CREATED" {
		t.Errorf("GetEnvironment body %s (%v)", body, err)
	}
	var tags struct{ Tags map[string]string }
	body, _ = f.listTags().body(ctx)
	if err := json.Unmarshal(body, &tags); err != nil || tags.Tags["team"] != "quant" || len(tags.Tags) != 2 {
		t.Errorf("ListTagsForResource body %s (%v)", body, err)
	}
	if len(bareBody) < len(body) {
		t.Errorf("bare body (%d B) smaller than a tags body (%d B)", len(bareBody), len(body))
	}

	// List pages: the fixture, the token and the in-process request.
	lf := newListFixture(t, 12)
	if lf.middleToken == "" {
		t.Fatal("no middle token")
	}
	for _, c := range lf.cases() {
		if _, items := lf.request(t, c); items != lf.pageItems(c) || items == 0 {
			t.Errorf("%s: %d items", c.name(), items)
		}
	}
	if u := cpuBetween(sampleCPU(), sampleCPU()); u.proc < 0 {
		t.Errorf("cpu sample went backwards: %+v", u)
	}
}
