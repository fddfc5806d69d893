package kx

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// TestChangesetWaitsForCollection: a changeset due while a collection of
// the content store holds its lock waits for the collection — however
// many times it looks — instead of spending its attempts and failing, and
// completes once the lock is gone.
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
	saved := collectWait
	collectWait = 2 * time.Millisecond
	defer func() { collectWait = saved }()
	kind := s.ChangesetJobKindDef()
	// Retries as fast as the waits: were a wait an attempt, the changeset
	// would fail after kind.MaxAttempts looks.
	kind.Backoff = func(int) time.Duration { return 2 * time.Millisecond }
	var runs atomic.Int64
	inner := kind.Handler
	kind.Handler = jobs.HandlerFunc(func(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
		runs.Add(1)
		return inner.Run(ctx, r)
	})
	if err := engine.Register(kind); err != nil {
		t.Fatal(err)
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
	// A collection holds the lock (for longer than the test runs).
	lock, _ := json.Marshal(collectLock{Until: now.Add(time.Hour)})
	if err := db.Update(ctx, func(tx store.Tx) error {
		return tx.Insert(ctx, &store.Record{Kind: collectLockKind, ID: region, Data: lock})
	}); err != nil {
		t.Fatal(err)
	}

	engine.Start(ctx)
	defer engine.Stop()
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
	looks := int64(4 * kind.MaxAttempts)
	deadline := time.Now().Add(30 * time.Second)
	for runs.Load() < looks {
		if got := status(); got.Status.Final() {
			t.Fatalf("changeset %s while a collection holds the lock, after %d looks: %s (%s)", c.ID, runs.Load(), got.Status, got.ErrorMsg)
		}
		if time.Now().After(deadline) {
			t.Fatalf("the changeset's job ran %d times in 30 s, want %d", runs.Load(), looks)
		}
		time.Sleep(2 * time.Millisecond)
	}
	if got := status(); got.Status != ChangesetPending {
		t.Fatalf("changeset after %d looks under the lock: %s, want PENDING", runs.Load(), got.Status)
	}
	if d, err := s.GetDatabase(ctx, region, envID, "hdb"); err != nil || d.LastCompleted != "" || d.NumFiles != 0 {
		t.Fatalf("database under the lock: %+v %v", d, err)
	}

	// The collection ends: the changeset completes.
	if err := db.Update(ctx, func(tx store.Tx) error { return tx.Delete(ctx, collectLockKind, region) }); err != nil {
		t.Fatal(err)
	}
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

// fakeClock is a clock tests move by hand.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *fakeClock) advance(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// TestCollectionKeepsItsLock: a collection that outlasts its lock's TTL
// renews the lock, so changesets keep waiting for it to the last
// deletion; and one whose lock is not renewed in time stops deleting
// (a changeset may have started and reuse what it would delete).
func TestCollectionKeepsItsLock(t *testing.T) {
	const region = "us-east-1"
	for _, tc := range []struct {
		name     string
		renew    time.Duration
		wantLost bool
	}{{"renewed", time.Millisecond, false}, {"not renewed", time.Hour, true}} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "metadata.db"))
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			clock := &fakeClock{t: time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)}
			blobs := newMemBlobs()
			s := New(Config{Store: db, Account: "000000000000", Blobs: blobs, Now: clock.now})
			saved := collectRenew
			collectRenew = tc.renew
			defer func() { collectRenew = saved }()
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
			lockUntil := func() time.Time {
				var l collectLock
				if err := db.View(ctx, func(tx store.Tx) error {
					rec, err := tx.Get(ctx, collectLockKind, region)
					if err != nil {
						return err
					}
					return json.Unmarshal(rec.Data, &l)
				}); err != nil {
					t.Error(err)
				}
				return l.Until
			}
			deletes := 0
			blobs.onDelete = func() {
				deletes++
				// Every deletion happens under a lock a changeset respects.
				if err := db.View(ctx, func(tx store.Tx) error { return s.collectingTx(ctx, tx, region) }); !errors.Is(err, errCollecting) {
					t.Errorf("deletion %d at %s: a changeset would start (%v)", deletes, clock.now().Format(time.TimeOnly), err)
				}
				// Each deletion takes 3 minutes: ten outlast the 10-minute TTL.
				clock.advance(3 * time.Minute)
				if tc.wantLost {
					return
				}
				for deadline := time.Now().Add(10 * time.Second); !lockUntil().Equal(clock.now().Add(collectLockTTL)); {
					if time.Now().After(deadline) {
						t.Fatalf("the lock was not renewed at %s", clock.now().Format(time.TimeOnly))
					}
					time.Sleep(time.Millisecond)
				}
			}
			args, _ := json.Marshal(collectArgs{Region: region})
			_, err = s.runCollect(ctx, &jobs.Run{Job: jobs.Job{Args: args}})
			left, _ := blobs.List(ctx, bucket, blob.ListOptions{Prefix: contentPrefix})
			if tc.wantLost {
				// Deletions at 0 and 3 minutes; at 6 the last renewal (at 0)
				// is older than TTL/2.
				if !errors.Is(err, errLockLost) || deletes != 2 || len(left.Objects) != garbage-2 {
					t.Errorf("collection without renewals: err %v after %d deletions, %d objects left; want errLockLost, 2, %d",
						err, deletes, len(left.Objects), garbage-2)
				}
				return
			}
			if err != nil || deletes != garbage || len(left.Objects) != 0 {
				t.Errorf("collection with renewals: err %v after %d deletions, %d objects left; want nil, %d, 0", err, deletes, len(left.Objects), garbage)
			}
		})
	}
}
