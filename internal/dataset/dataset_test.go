package dataset

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/identity"
	"github.com/openfinspace/openfinspace/internal/ingest"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/sqlite"
)

// fakeBlobs is a test double of blob.Store: objects in a map.
type fakeBlobs struct {
	mu      sync.Mutex
	objects map[string][]byte // "bucket/key"
	// puts counts Puts, syncs Syncs, putsAtSync the Puts before the last.
	puts, syncs, putsAtSync atomic.Int64
}

// Sync is blob.Syncer: it records how many Puts it covered.
func (f *fakeBlobs) Sync(context.Context) error {
	f.syncs.Add(1)
	f.putsAtSync.Store(f.puts.Load())
	return nil
}

func (f *fakeBlobs) EnsureBucket(context.Context, string) error { return nil }

func (f *fakeBlobs) Put(_ context.Context, bucket, key string, r io.Reader, size int64) (*blob.ObjectInfo, error) {
	f.puts.Add(1)
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.objects == nil {
		f.objects = map[string][]byte{}
	}
	f.objects[bucket+"/"+key] = data
	return &blob.ObjectInfo{Bucket: bucket, Key: key, Size: int64(len(data))}, nil
}

func (f *fakeBlobs) Get(_ context.Context, bucket, key string) (io.ReadCloser, *blob.ObjectInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	data, ok := f.objects[bucket+"/"+key]
	if !ok {
		return nil, nil, blob.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(data)), &blob.ObjectInfo{Bucket: bucket, Key: key, Size: int64(len(data))}, nil
}

func (f *fakeBlobs) Head(ctx context.Context, bucket, key string) (*blob.ObjectInfo, error) {
	_, info, err := f.Get(ctx, bucket, key)
	return info, err
}

func (f *fakeBlobs) List(_ context.Context, bucket string, o blob.ListOptions) (*blob.ListPage, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	page := &blob.ListPage{}
	for k, v := range f.objects {
		if key, ok := strings.CutPrefix(k, bucket+"/"); ok && strings.HasPrefix(key, o.Prefix) {
			page.Objects = append(page.Objects, blob.ObjectInfo{Bucket: bucket, Key: key, Size: int64(len(v))})
		}
	}
	slices.SortFunc(page.Objects, func(a, b blob.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return page, nil
}

func (f *fakeBlobs) Delete(_ context.Context, bucket, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.objects, bucket+"/"+key)
	return nil
}

// gatedConverter is a test double of the DuckDB engine: each Convert
// counts itself running until the gate opens, then writes a stub file.
type gatedConverter struct {
	mu           sync.Mutex
	running, max int
	gate         chan struct{}
}

func (g *gatedConverter) Convert(ctx context.Context, _ []ingest.Source, _ ingest.Format, _ ingest.Schema, out string) (int64, error) {
	g.mu.Lock()
	g.running++
	g.max = max(g.max, g.running)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.running--
		g.mu.Unlock()
	}()
	select {
	case <-g.gate:
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	return 1, os.WriteFile(out, []byte("PAR1"), 0o600)
}

func (g *gatedConverter) counts() (int, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.running, g.max
}

// TestChangesetsPerEnvironmentBound creates 25 changesets at once in one
// environment with room for 25 workers: at most PerEnvironment (10) ingest
// at a time, the others stay PENDING, and all finish.
func TestChangesetsPerEnvironmentBound(t *testing.T) {
	ctx := context.Background()
	conv := &gatedConverter{gate: make(chan struct{})}
	s, blobs, actor, d, uri := newTestService(t, conv, func(c *Config) { c.PerEnvironment, c.Workers = 10, 25 }, nil)
	env, region := testEnv, testRegion
	var ids []string
	var wg sync.WaitGroup
	var mu sync.Mutex
	for range 25 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := s.CreateChangeset(ctx, actor, d.ID, ChangesetInput{Type: Append,
				SourceParams: map[string]string{"s3SourcePath": uri},
				FormatParams: map[string]string{"formatType": "CSV"}})
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			ids = append(ids, c.ID)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if len(ids) != 25 {
		t.Fatalf("%d changesets created", len(ids))
	}

	statuses := func() map[Status]int {
		out := map[Status]int{}
		for _, id := range ids {
			c, err := s.GetChangeset(ctx, actor, d.ID, id)
			if err != nil {
				t.Fatal(err)
			}
			out[c.Status]++
		}
		return out
	}
	// Wait for the engine to fill the environment's ten slots.
	deadline := time.Now().Add(30 * time.Second)
	for {
		if running, _ := conv.counts(); running == 10 {
			break
		}
		if time.Now().After(deadline) {
			running, _ := conv.counts()
			t.Fatalf("%d conversions running after 30 s, want 10", running)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if st := statuses(); st[StatusRunning] != 10 || st[StatusPending] != 15 {
		t.Errorf("while ten ingest: %v, want 10 RUNNING and 15 PENDING", st)
	}
	close(conv.gate)
	deadline = time.Now().Add(60 * time.Second)
	for {
		st := statuses()
		if st[StatusSuccess] == 25 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60 s: %v, want 25 SUCCESS", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Each SUCCESS came after a Sync of what it stored (the last after
	// the last Put).
	if n := blobs.syncs.Load(); n < 25 || blobs.putsAtSync.Load() != blobs.puts.Load() {
		t.Errorf("%d syncs, the last after %d of %d puts: a SUCCESS was committed before its Parquet was synced",
			n, blobs.putsAtSync.Load(), blobs.puts.Load())
	}
	if _, most := conv.counts(); most != 10 {
		t.Errorf("at most %d conversions ran at once, want 10 (PerEnvironment)", most)
	}
	left, err := os.ReadDir(s.cfg.StagingDir)
	if err != nil || len(left) != 0 {
		t.Errorf("staging dir after the jobs: %v %v, want empty", left, err)
	}
	for _, id := range ids {
		if _, _, err := blobs.Get(ctx, s.ManagedBucket(region, env), changesetPrefix(d.ID, id)+"data.parquet"); err != nil {
			t.Errorf("changeset %s: stored data: %v", id, err)
		}
	}
}

// recordingConverter is a test double of the DuckDB engine that records
// which files it was given.
type recordingConverter struct {
	mu      sync.Mutex
	sources []ingest.Source
	same    []bool // whether each source was the local file itself (a link)
	local   string
}

func (r *recordingConverter) Convert(_ context.Context, src []ingest.Source, _ ingest.Format, _ ingest.Schema, out string) (int64, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	orig, err := os.Stat(r.local)
	if err != nil {
		return 0, err
	}
	for _, s := range src {
		st, err := os.Stat(s.Path)
		if err != nil {
			return 0, err
		}
		r.sources = append(r.sources, s)
		r.same = append(r.same, os.SameFile(orig, st))
	}
	return 1, os.WriteFile(out, []byte("PAR1"), 0o600)
}

// TestLocalSourcesAreLinked: a source the embedded store holds as a local
// file is hard-linked into the staging area (DuckDB reads it in place);
// one whose local file is not the listed object (another size) is copied.
func TestLocalSourcesAreLinked(t *testing.T) {
	ctx := context.Background()
	staging := t.TempDir()
	local := filepath.Join(filepath.Dir(staging), filepath.Base(staging)+"-object.csv") // same file system
	if err := os.WriteFile(local, []byte("a\nx\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Remove(local) })
	conv := &recordingConverter{local: local}
	wb := blob.WorkingLocationBucket("000000000000", testRegion, testEnv)
	s, blobs, a, d, _ := newTestService(t, conv, func(c *Config) {
		c.StagingDir = staging
		c.LocalObject = func(bucket, key string) (string, bool) { return local, bucket == wb }
	}, nil)
	blobs.Put(ctx, wb, "ingestion/in/a.csv", strings.NewReader("a\nx\n"), -1)      // the local file's size
	blobs.Put(ctx, wb, "ingestion/in/b.csv", strings.NewReader("a\nlonger\n"), -1) // not: copied
	c, err := s.CreateChangeset(ctx, a, d.ID, ChangesetInput{Type: Append,
		SourceParams: map[string]string{"s3SourcePath": "s3://" + wb + "/ingestion/in/"},
		FormatParams: map[string]string{"formatType": "CSV"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := waitFinal(t, s, a, d.ID, c.ID); got.Status != StatusSuccess {
		t.Fatalf("changeset %s: %s", got.Status, got.ErrorMessage)
	}
	conv.mu.Lock()
	defer conv.mu.Unlock()
	if len(conv.same) != 2 || !conv.same[0] || conv.same[1] {
		t.Errorf("sources %v linked %v, want a.csv linked (the local file) and b.csv copied", conv.sources, conv.same)
	}
	if _, err := os.Stat(local); err != nil {
		t.Errorf("the local object after the changeset: %v", err)
	}
}

// TestStagingSpaceExhausted: sources that would not fit the staging area's
// free space fail the changeset with SERVICE_QUOTA_EXCEEDED and a message
// saying so, before anything is copied.
func TestStagingSpaceExhausted(t *testing.T) {
	ctx := context.Background()
	s, blobs, a, d, _ := newTestService(t, &recordingConverter{}, nil, nil)
	// Set before any job can run: CreateChangeset below wakes the engine.
	s.freeSpace = func(string) (int64, bool) { return 10, true }
	wb := blob.WorkingLocationBucket("000000000000", testRegion, testEnv)
	blobs.Put(ctx, wb, "ingestion/big.csv", strings.NewReader("a\n"+strings.Repeat("x\n", 100)), -1)
	c, err := s.CreateChangeset(ctx, a, d.ID, ChangesetInput{Type: Append,
		SourceParams: map[string]string{"s3SourcePath": "s3://" + wb + "/ingestion/big.csv"},
		FormatParams: map[string]string{"formatType": "CSV"}})
	if err != nil {
		t.Fatal(err)
	}
	got := waitFinal(t, s, a, d.ID, c.ID)
	if got.Status != StatusFailed || got.ErrorCategory != "SERVICE_QUOTA_EXCEEDED" || !strings.Contains(got.ErrorMessage, "staging area has 10 bytes free") {
		t.Fatalf("changeset %s %s %q, want FAILED SERVICE_QUOTA_EXCEEDED about the staging space", got.Status, got.ErrorCategory, got.ErrorMessage)
	}
	if left, _ := os.ReadDir(s.cfg.StagingDir); len(left) != 0 {
		t.Errorf("staging dir after the failure: %v", left)
	}
}

// testEnv, testRegion are the test services' environment and region.
const testEnv, testRegion = "envaaaaaaaaaaaaaaaaaaa", "us-east-1"

// newTestService is a service over a real SQLite store and job engine
// with test doubles for the blob store and the converter, and one
// dataset whose working bucket holds ingestion/a.csv (its URI is
// returned). cfg adjusts the configuration, kind the ingestion job kind.
func newTestService(t *testing.T, conv Converter, cfg func(*Config), kind func(*jobs.Kind)) (*Service, *fakeBlobs, *identity.Actor, *Dataset, string) {
	t.Helper()
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
	env, region := testEnv, testRegion
	blobs := &fakeBlobs{}
	c := Config{Store: db, Jobs: engine, Blobs: blobs, Engine: conv, Account: "000000000000", StagingDir: t.TempDir()}
	if cfg != nil {
		cfg(&c)
	}
	s := New(c)
	k := s.JobKindDef()
	if kind != nil {
		kind(k)
	}
	if err := engine.Register(k); err != nil {
		t.Fatal(err)
	}
	engine.Start(ctx)
	t.Cleanup(engine.Stop)
	actor := &identity.Actor{EnvironmentID: env, Region: region, User: &identity.User{ID: "su", Type: identity.SuperUser}}
	d := &Dataset{ID: "ds00004", Environment: env, Region: region, Kind: Tabular, Title: "t",
		Schema: &Schema{Columns: []Column{{Name: "a", Type: "STRING"}}}, CreatedAt: time.Now()}
	if err := db.Update(ctx, func(tx store.Tx) error { return s.datasets.Insert(ctx, tx, d) }); err != nil {
		t.Fatal(err)
	}
	wb := blob.WorkingLocationBucket("000000000000", region, env)
	blobs.Put(ctx, wb, "ingestion/a.csv", strings.NewReader("a\nx\n"), -1)
	return s, blobs, actor, d, "s3://" + wb + "/ingestion/a.csv"
}

func waitFinal(t *testing.T, s *Service, a *identity.Actor, dataset, id string) *Changeset {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := s.GetChangeset(context.Background(), a, dataset, id)
		if err != nil {
			t.Fatal(err)
		}
		if got.Status.final() {
			return got
		}
		if time.Now().After(deadline) {
			t.Fatalf("changeset still %s", got.Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// failingConverter is a test double whose conversions fail with an
// internal error (one that is retried).
type failingConverter struct {
	mu    sync.Mutex
	calls int
}

func (f *failingConverter) Convert(context.Context, []ingest.Source, ingest.Format, ingest.Schema, string) (int64, error) {
	f.mu.Lock()
	f.calls++
	f.mu.Unlock()
	return 0, fmt.Errorf("duckdb: something broke in /var/lib/secret/path")
}

// TestInternalFailureRetriedThenFailed: an internal error is retried; after
// the last attempt the changeset is FAILED with INTERNAL_SERVICE_EXCEPTION
// and a message that does not leak the cause's local details.
func TestInternalFailureRetriedThenFailed(t *testing.T) {
	conv := &failingConverter{}
	s, _, a, d, uri := newTestService(t, conv, nil, func(k *jobs.Kind) {
		k.Backoff = func(int) time.Duration { return 10 * time.Millisecond }
	})
	c, err := s.CreateChangeset(context.Background(), a, d.ID, ChangesetInput{Type: Append,
		SourceParams: map[string]string{"s3SourcePath": uri}, FormatParams: map[string]string{"formatType": "CSV"}})
	if err != nil {
		t.Fatal(err)
	}
	got := waitFinal(t, s, a, d.ID, c.ID)
	if got.Status != StatusFailed || got.ErrorCategory != "INTERNAL_SERVICE_EXCEPTION" || strings.Contains(got.ErrorMessage, "/var/lib") {
		t.Errorf("changeset %s %s %q", got.Status, got.ErrorCategory, got.ErrorMessage)
	}
	conv.mu.Lock()
	defer conv.mu.Unlock()
	if conv.calls != 3 {
		t.Errorf("%d attempts, want 3 (the kind's MaxAttempts)", conv.calls)
	}
}

// TestDeleteDatasetCancelsIngestion: deleting a dataset while its
// changeset converts cancels the conversion, and nothing of it remains.
func TestDeleteDatasetCancelsIngestion(t *testing.T) {
	conv := &gatedConverter{gate: make(chan struct{})}
	s, blobs, a, d, uri := newTestService(t, conv, nil, nil)
	ctx := context.Background()
	c, err := s.CreateChangeset(ctx, a, d.ID, ChangesetInput{Type: Append,
		SourceParams: map[string]string{"s3SourcePath": uri}, FormatParams: map[string]string{"formatType": "CSV"}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if running, _ := conv.counts(); running == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the conversion did not start")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := s.DeleteDataset(ctx, a, d.ID); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(30 * time.Second)
	for {
		if running, _ := conv.counts(); running == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the conversion was not cancelled")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if _, err := s.GetChangeset(ctx, a, d.ID, c.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetChangeset after DeleteDataset: %v", err)
	}
	deadline = time.Now().Add(10 * time.Second)
	for {
		left, _ := os.ReadDir(s.cfg.StagingDir)
		page, _ := blobs.List(ctx, s.ManagedBucket(d.Region, d.Environment), blob.ListOptions{Prefix: dataPrefix(d.ID)})
		if len(left) == 0 && len(page.Objects) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the deletion: staging %v, stored %v", left, page.Objects)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
