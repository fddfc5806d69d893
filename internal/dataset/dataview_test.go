package dataset

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/identity"
	"github.com/openfinspace/openfinspace/internal/ingest"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/sqlite"
)

func TestVisibleAsOf(t *testing.T) {
	ms := func(n int64) time.Time { return time.UnixMilli(n) }
	ok := &Changeset{Status: StatusSuccess, Kind: Tabular, Objects: []string{"x"}}
	with := func(from, until int64) *Changeset {
		c := *ok
		c.ActiveFrom = ms(from)
		if until > 0 {
			c.ActiveUntil = ms(until)
		}
		return &c
	}
	for _, tc := range []struct {
		name string
		c    *Changeset
		at   int64
		want bool
	}{
		{"active since before", with(100, 0), 200, true},
		{"active from that very millisecond", with(200, 0), 200, true},
		{"succeeded later", with(201, 0), 200, false},
		{"ended later (by a REPLACE or a correction)", with(100, 300), 200, true},
		{"ended at that millisecond", with(100, 200), 200, false},
		{"ended before", with(100, 150), 200, false},
		{"failed", &Changeset{Status: StatusFailed, Kind: Tabular, ActiveFrom: ms(1)}, 200, false},
		{"pending", &Changeset{Status: StatusPending, Kind: Tabular}, 200, false},
	} {
		if got := visibleAsOf(tc.c, tc.at); got != tc.want {
			t.Errorf("%s: visible = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// gatedMaterializer is a test double of the DuckDB engine's
// materialization: each counts itself running until the gate opens, then
// writes one stub file.
type gatedMaterializer struct {
	mu           sync.Mutex
	running, max int
	gate         chan struct{}
	// deaf: it does not notice its context's cancellation (as a DuckDB
	// statement may not, promptly) and writes its file anyway.
	deaf bool
}

func (g *gatedMaterializer) Materialize(ctx context.Context, spec ingest.ViewSpec) (*ingest.ViewResult, error) {
	g.mu.Lock()
	g.running++
	g.max = max(g.max, g.running)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.running--
		g.mu.Unlock()
	}()
	if g.deaf {
		<-g.gate
	} else {
		select {
		case <-g.gate:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	if err := os.MkdirAll(spec.OutDir, 0o700); err != nil {
		return nil, err
	}
	return &ingest.ViewResult{Files: []ingest.ViewFile{{Path: "part-00000.parquet"}}},
		os.WriteFile(filepath.Join(spec.OutDir, "part-00000.parquet"), []byte("PAR1"), 0o600)
}

func (g *gatedMaterializer) counts() (int, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.running, g.max
}

// TestDataViewsPerEnvironmentBound creates 14 views at once in one
// environment with room for 14 workers: at most PerEnvironment (10)
// materialize at a time, the others stay PENDING, and all end SUCCESS.
func TestDataViewsPerEnvironmentBound(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	engine, err := jobs.New(jobs.Config{Store: db, Exclusive: true, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	mat := &gatedMaterializer{gate: make(chan struct{})}
	s := New(Config{Store: db, Jobs: engine, Blobs: &fakeBlobs{}, Views: mat, Account: "000000000000",
		StagingDir: t.TempDir(), PerEnvironment: 10, ViewWorkers: 14})
	if err := engine.Register(s.ViewJobKindDef()); err != nil {
		t.Fatal(err)
	}
	engine.Start(ctx)
	t.Cleanup(engine.Stop)
	actor := &identity.Actor{EnvironmentID: testEnv, Region: testRegion, User: &identity.User{ID: "su", Type: identity.SuperUser}}
	d := &Dataset{ID: "ds00005", Environment: testEnv, Region: testRegion, Kind: Tabular, Title: "t",
		Schema: &Schema{Columns: []Column{{Name: "a", Type: "STRING"}}}, CreatedAt: time.Now()}
	if err := db.Update(ctx, func(tx store.Tx) error { return s.datasets.Insert(ctx, tx, d) }); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for range 14 {
		v, err := s.CreateDataView(ctx, actor, d.ID, ViewInput{DestinationType: DestinationS3})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, v.ID)
	}
	statuses := func() map[ViewStatus]int {
		out := map[ViewStatus]int{}
		for _, id := range ids {
			v, err := s.GetDataView(ctx, actor, d.ID, id)
			if err != nil {
				t.Fatal(err)
			}
			out[v.Status]++
		}
		return out
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if running, _ := mat.counts(); running == 10 {
			break
		}
		if time.Now().After(deadline) {
			running, _ := mat.counts()
			t.Fatalf("%d materializations running after 30 s, want 10", running)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := statuses(); st[ViewRunning] != 10 || st[ViewPending] != 4 {
		t.Errorf("while ten materialize: %v, want 10 RUNNING and 4 PENDING", st)
	}
	close(mat.gate)
	deadline = time.Now().Add(60 * time.Second)
	for {
		st := statuses()
		if st[ViewSuccess] == 14 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: %v, want 14 SUCCESS", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, most := mat.counts(); most != 10 {
		t.Errorf("at most %d materializations ran at once, want 10 (PerEnvironment)", most)
	}
	left, err := os.ReadDir(s.cfg.StagingDir)
	if err != nil || len(left) != 0 {
		t.Errorf("staging dir after the jobs: %v %v, want empty", left, err)
	}
}

// TestDataViewDeletedMidMaterialization: DeleteDataset while a view
// materializes cancels its job; an attempt that finishes anyway (its
// materialization not noticing) removes what it stored, and nothing of the
// view is left.
func TestDataViewDeletedMidMaterialization(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	engine, err := jobs.New(jobs.Config{Store: db, Exclusive: true, Poll: 20 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	mat := &gatedMaterializer{gate: make(chan struct{}), deaf: true}
	blobs := &fakeBlobs{}
	s := New(Config{Store: db, Jobs: engine, Blobs: blobs, Views: mat, Account: "000000000000", StagingDir: t.TempDir()})
	if err := engine.Register(s.ViewJobKindDef()); err != nil {
		t.Fatal(err)
	}
	engine.Start(ctx)
	t.Cleanup(engine.Stop)
	actor := &identity.Actor{EnvironmentID: testEnv, Region: testRegion, User: &identity.User{ID: "su", Type: identity.SuperUser}}
	d := &Dataset{ID: "ds00006", Environment: testEnv, Region: testRegion, Kind: Tabular, Title: "t",
		Schema: &Schema{Columns: []Column{{Name: "a", Type: "STRING"}}}, CreatedAt: time.Now()}
	if err := db.Update(ctx, func(tx store.Tx) error { return s.datasets.Insert(ctx, tx, d) }); err != nil {
		t.Fatal(err)
	}
	v, err := s.CreateDataView(ctx, actor, d.ID, ViewInput{DestinationType: DestinationS3})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for running, _ := mat.counts(); running == 0; running, _ = mat.counts() {
		if time.Now().After(deadline) {
			t.Fatal("the materialization did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.DeleteDataset(ctx, actor, d.ID); err != nil {
		t.Fatal(err)
	}
	close(mat.gate)
	bucket, prefix := s.ManagedBucket(testRegion, testEnv), viewPrefix(d.ID, v.ID)
	deadline = time.Now().Add(30 * time.Second)
	for {
		j, err := engine.Get(ctx, viewJobID(v.ID, 1))
		if err != nil {
			t.Fatal(err)
		}
		page, _ := blobs.List(ctx, bucket, blob.ListOptions{Prefix: prefix})
		if j.State.Terminal() && len(page.Objects) == 0 {
			t.Logf("job %s, no file left", j.State)
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("job %s, files left: %+v", j.State, page.Objects)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
