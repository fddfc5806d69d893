package kx

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/sqlite"
)

// memBlobs is an in-memory blob.Store (what the changesets here use of
// it: no delimiters).
type memBlobs struct {
	mu      sync.Mutex
	buckets map[string]map[string][]byte
	// onDelete, if set, runs before each Delete (outside the lock).
	onDelete func()
	// syncs counts Sync calls; puts counts Puts, putsAtSync the Puts
	// made before the last Sync.
	syncs, puts, putsAtSync atomic.Int64
}

// Sync is blob.Syncer: it records how many Puts it covered.
func (m *memBlobs) Sync(context.Context) error {
	m.syncs.Add(1)
	m.putsAtSync.Store(m.puts.Load())
	return nil
}

func newMemBlobs() *memBlobs { return &memBlobs{buckets: map[string]map[string][]byte{}} }

func (m *memBlobs) EnsureBucket(_ context.Context, bucket string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.buckets[bucket] == nil {
		m.buckets[bucket] = map[string][]byte{}
	}
	return nil
}

func (m *memBlobs) bucket(bucket string) (map[string][]byte, error) {
	b := m.buckets[bucket]
	if b == nil {
		return nil, &blob.Error{Op: "get", Bucket: bucket, Err: blob.ErrNoBucket}
	}
	return b, nil
}

func (m *memBlobs) Put(_ context.Context, bucket, key string, r io.Reader, size int64) (*blob.ObjectInfo, error) {
	m.puts.Add(1)
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if size >= 0 && int64(len(data)) != size {
		return nil, &blob.Error{Op: "put", Bucket: bucket, Key: key, Err: blob.ErrSizeMismatch}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return nil, err
	}
	b[key] = data
	return &blob.ObjectInfo{Bucket: bucket, Key: key, Size: int64(len(data))}, nil
}

func (m *memBlobs) Head(_ context.Context, bucket, key string) (*blob.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return nil, err
	}
	data, ok := b[key]
	if !ok {
		return nil, &blob.Error{Op: "head", Bucket: bucket, Key: key, Err: blob.ErrNotFound}
	}
	return &blob.ObjectInfo{Bucket: bucket, Key: key, Size: int64(len(data))}, nil
}

func (m *memBlobs) Get(ctx context.Context, bucket, key string) (io.ReadCloser, *blob.ObjectInfo, error) {
	info, err := m.Head(ctx, bucket, key)
	if err != nil {
		return nil, nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return io.NopCloser(bytes.NewReader(m.buckets[bucket][key])), info, nil
}

func (m *memBlobs) List(_ context.Context, bucket string, opts blob.ListOptions) (*blob.ListPage, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return nil, err
	}
	var keys []string
	for k := range b {
		if strings.HasPrefix(k, opts.Prefix) && k > opts.Cursor {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	limit := opts.Limit
	if limit <= 0 {
		limit = 1000
	}
	page := &blob.ListPage{}
	for i, k := range keys {
		if i == limit {
			page.NextCursor = keys[i-1]
			break
		}
		page.Objects = append(page.Objects, blob.ObjectInfo{Bucket: bucket, Key: k, Size: int64(len(b[k]))})
	}
	return page, nil
}

func (m *memBlobs) Delete(_ context.Context, bucket, key string) error {
	if m.onDelete != nil {
		m.onDelete()
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b, err := m.bucket(bucket)
	if err != nil {
		return err
	}
	delete(b, key)
	return nil
}

// TestChangesetWaitsForCollection: a changeset created while a collection
// of the content store runs waits for it — its job is not even claimed,
// so it spends no attempt — and completes once the collection ended.
func TestChangesetWaitsForCollection(t *testing.T) {
	const region, envID = "us-east-1", "kxcollectwait"
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	engine, err := jobs.New(jobs.Config{Store: db, Exclusive: true, Poll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	blobs := newMemBlobs()
	s := New(Config{Store: db, Jobs: engine, Account: "000000000000", Blobs: blobs})
	kind := s.ChangesetJobKindDef()
	var runs atomic.Int64
	inner := kind.Handler
	kind.Handler = jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
		runs.Add(1)
		return inner.Run(ctx, r)
	})
	collecting, release := make(chan struct{}), make(chan struct{})
	collect := s.CollectJobKindDef()
	innerCollect := collect.Handler
	collect.Handler = jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
		close(collecting)
		<-release
		return innerCollect.Run(ctx, r)
	})
	for _, k := range []*jobs.Kind{kind, collect} {
		if err := engine.Register(k); err != nil {
			t.Fatal(err)
		}
	}

	now := time.Now().UTC()
	if err := db.Update(ctx, func(tx store.Tx) error {
		return s.envs.Insert(ctx, tx, &Environment{ID: envID, Region: region, Account: s.account, ARN: s.ARN(region, envID),
			Status: Created, CreatedAt: now, UpdatedAt: now})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateDatabase(ctx, region, envID, "hdb", "", nil); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"sym": "`AAPL`MSFT", "2024.01.01/t/.d": "`sym`price", "2024.01.01/t/price": strings.Repeat("p", 100)}
	if err := blobs.EnsureBucket(ctx, "src"); err != nil {
		t.Fatal(err)
	}
	var nbytes int64
	for p, body := range files {
		if _, err := blobs.Put(ctx, "src", "hdb/"+p, strings.NewReader(body), int64(len(body))); err != nil {
			t.Fatal(err)
		}
		nbytes += int64(len(body))
	}
	// A collection runs (and does not end until released).
	if err := db.Update(ctx, func(tx store.Tx) error { return s.enqueueCollectTx(ctx, tx, region, now) }); err != nil {
		t.Fatal(err)
	}
	engine.Start(ctx)
	defer engine.Stop()
	<-collecting
	c, err := s.CreateChangeset(ctx, region, envID, "hdb", []ChangeRequest{{Type: Put, S3Path: "s3://src/hdb/", DbPath: "/"}})
	if err != nil {
		t.Fatal(err)
	}
	status := func() *Changeset {
		t.Helper()
		got, err := s.GetChangeset(ctx, region, envID, "hdb", c.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	// Many polls (5 ms) pass: the changeset stays PENDING, unclaimed.
	time.Sleep(200 * time.Millisecond)
	if got := status(); got.Status != ChangesetPending || runs.Load() != 0 {
		t.Fatalf("changeset during a collection: %s after %d runs, want PENDING and not run", got.Status, runs.Load())
	}
	deadline := time.Now().Add(30 * time.Second)
	if d, err := s.GetDatabase(ctx, region, envID, "hdb"); err != nil || d.LastCompleted != "" || d.NumFiles != 0 {
		t.Fatalf("database under the lock: %+v %v", d, err)
	}

	// The collection ends: the changeset completes.
	close(release)
	for got := status(); got.Status != ChangesetCompleted; got = status() {
		if got.Status == ChangesetFailed {
			t.Fatalf("changeset after the collection: FAILED (%s)", got.ErrorMsg)
		}
		if time.Now().After(deadline) {
			t.Fatalf("changeset still %s 30 s after the collection ended", got.Status)
		}
		time.Sleep(2 * time.Millisecond)
	}
	d, err := s.GetDatabase(ctx, region, envID, "hdb")
	if err != nil {
		t.Fatal(err)
	}
	if d.LastCompleted != c.ID || d.NumFiles != len(files) || d.NumBytes != nbytes {
		t.Errorf("database after the changeset: last %q, %d files, %d bytes; want %q, %d, %d", d.LastCompleted, d.NumFiles, d.NumBytes,
			c.ID, len(files), nbytes)
	}
	m, err := s.Manifest(ctx, region, envID, "hdb", c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if n, b := m.Totals(); n != len(files) || b != nbytes {
		t.Errorf("manifest: %d files, %d bytes", n, b)
	}
	// Everything the version names was made durable before it was
	// committed: a Sync after the last Put (contents, then the manifest).
	if blobs.syncs.Load() == 0 || blobs.putsAtSync.Load() != blobs.puts.Load() {
		t.Errorf("%d syncs, the last after %d of %d puts: the version was committed before its objects were synced",
			blobs.syncs.Load(), blobs.putsAtSync.Load(), blobs.puts.Load())
	}
}

// TestCollectionStopsWithoutLease: a collection stops deleting as soon as
// its lease is no longer certainly held (another process may hold the
// job, and the region's changesets may run after it).
func TestCollectionStopsWithoutLease(t *testing.T) {
	const region = "us-east-1"
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	blobs := newMemBlobs()
	s := New(Config{Store: db, Account: "000000000000", Blobs: blobs})
	bucket := s.ContentBucket(region)
	if err := blobs.EnsureBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	const garbage = 10 // contents no version references
	for i := range garbage {
		hash := strings.Repeat(string(rune('a'+i)), 64)
		if _, err := blobs.Put(ctx, bucket, contentKey(hash), strings.NewReader("x"), 1); err != nil {
			t.Fatal(err)
		}
	}
	deletes := 0
	blobs.onDelete = func() { deletes++ }
	err = s.collect(ctx, region, func() bool { return deletes < 2 })
	left, _ := blobs.List(ctx, bucket, blob.ListOptions{Prefix: contentPrefix})
	if !errors.Is(err, errLeaseLost) || deletes != 2 || len(left.Objects) != garbage-2 {
		t.Errorf("collection losing its lease: err %v after %d deletions, %d objects left; want errLeaseLost, 2, %d",
			err, deletes, len(left.Objects), garbage-2)
	}
	deletes = 0
	if err := s.collect(ctx, region, func() bool { return true }); err != nil {
		t.Fatal(err)
	}
	if left, _ := blobs.List(ctx, bucket, blob.ListOptions{Prefix: contentPrefix}); len(left.Objects) != 0 {
		t.Errorf("%d unreferenced contents left", len(left.Objects))
	}
}

// TestChangesetsOfOneDatabaseInOrder: changesets created back to back (in
// the same millisecond, some) run one at a time in sequence order under
// their database's key: each version builds on the previous one, so the
// last holds every file.
func TestChangesetsOfOneDatabaseInOrder(t *testing.T) {
	const region, envID = "us-east-1", "kxorder"
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	engine, err := jobs.New(jobs.Config{Store: db, Exclusive: true, Poll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	blobs := newMemBlobs()
	s := New(Config{Store: db, Jobs: engine, Account: "000000000000", Blobs: blobs, Workers: 8})
	var mu sync.Mutex
	var order []string
	running := 0
	kind := s.ChangesetJobKindDef()
	inner := kind.Handler
	kind.Handler = jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
		var a changesetArgs
		_ = r.Args(&a)
		mu.Lock()
		running++
		if running > 1 {
			t.Errorf("%d changesets of one database ran at once", running)
		}
		order = append(order, a.Changeset)
		mu.Unlock()
		defer func() { mu.Lock(); running--; mu.Unlock() }()
		return inner.Run(ctx, r)
	})
	for _, k := range []*jobs.Kind{kind, s.CollectJobKindDef()} {
		if err := engine.Register(k); err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	if err := db.Update(ctx, func(tx store.Tx) error {
		return s.envs.Insert(ctx, tx, &Environment{ID: envID, Region: region, Account: s.account, ARN: s.ARN(region, envID),
			Status: Created, CreatedAt: now, UpdatedAt: now})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateDatabase(ctx, region, envID, "hdb", "", nil); err != nil {
		t.Fatal(err)
	}
	if err := blobs.EnsureBucket(ctx, "src"); err != nil {
		t.Fatal(err)
	}
	const n = 6
	var created []string
	for i := range n {
		key := fmt.Sprintf("p/f%d", i)
		if _, err := blobs.Put(ctx, "src", key, strings.NewReader(key), int64(len(key))); err != nil {
			t.Fatal(err)
		}
		c, err := s.CreateChangeset(ctx, region, envID, "hdb", []ChangeRequest{{Type: Put, S3Path: "s3://src/" + key, DbPath: "/"}})
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, c.ID)
	}
	engine.Start(ctx)
	defer engine.Stop()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := s.GetDatabase(ctx, region, envID, "hdb")
		if err != nil {
			t.Fatal(err)
		}
		if d.LastCompleted == created[n-1] {
			if d.NumFiles != n {
				t.Errorf("the last version holds %d files, want %d: changesets did not build on each other", d.NumFiles, n)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("last completed %q, want %q", d.LastCompleted, created[n-1])
		}
		time.Sleep(5 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(order) != fmt.Sprint(created) {
		t.Errorf("ran %v, want creation order %v", order, created)
	}
}
