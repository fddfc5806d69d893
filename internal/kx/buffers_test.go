package kx

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"slices"
	"sync"
	"testing"

	"github.com/openfinspace/openfinspace/internal/blob"
)

func TestBufClass(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want int
	}{{0, 16}, {1, 16}, {64 << 10, 16}, {64<<10 + 1, 17}, {1 << 20, 20}, {1<<20 + 1, 21}, {inMemoryMax, 24}} {
		if got := bufClass(c.n); got != c.want {
			t.Errorf("bufClass(%d) = %d, want %d", c.n, got, c.want)
		}
	}
	if len(bufPools) != 9 {
		t.Errorf("%d pools, want 9 (64 KiB to 16 MiB)", len(bufPools))
	}
	b := getBuf(100 << 10)
	if cap(*b) != 128<<10 {
		t.Errorf("getBuf(100 KiB) has cap %d, want 128 KiB", cap(*b))
	}
	putBuf(b)
	odd := make([]byte, 100)
	putBuf(&odd) // not a class size: dropped, not pooled
}

// storeSources puts objects of the given sizes (random contents) under
// src/ and returns them as listed.
func storeSources(t *testing.T, blobs *memBlobs, rng *rand.Rand, sizes []int64) ([]blob.ObjectInfo, map[string][]byte) {
	t.Helper()
	ctx := context.Background()
	if err := blobs.EnsureBucket(ctx, "src"); err != nil {
		t.Fatal(err)
	}
	bodies := map[string][]byte{}
	var objs []blob.ObjectInfo
	for i, n := range sizes {
		b := make([]byte, n+8)
		for j := 0; j < len(b)-8; j += 8 {
			binary.LittleEndian.PutUint64(b[j:], rng.Uint64())
		}
		b = b[:n]
		key := fmt.Sprintf("hdb/f%03d", i)
		if _, err := blobs.Put(ctx, "src", key, bytes.NewReader(b), n); err != nil {
			t.Fatal(err)
		}
		bodies[key] = b
		objs = append(objs, blob.ObjectInfo{Bucket: "src", Key: key, Size: n})
	}
	return objs, bodies
}

// TestStorePooledBuffers: store copies sources of every size class (and
// one streamed, above inMemoryMax) into the content store byte for byte,
// four at a time and twice over, so pooled buffers are reused by other
// sources of other sizes: no entry and no stored content shows another
// source's bytes.
func TestStorePooledBuffers(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	blobs := newMemBlobs()
	s := New(Config{Account: "000000000000", Blobs: blobs})
	const content = "content"
	if err := blobs.EnsureBucket(ctx, content); err != nil {
		t.Fatal(err)
	}
	small := []int64{0, 1, 100, 64<<10 - 1, 64 << 10, 64<<10 + 1, 300 << 10, 1<<20 + 3, 5 << 20}
	sizes := append(append(small, small...), inMemoryMax, inMemoryMax+1)
	for range 2 {
		objs, bodies := storeSources(t, blobs, rng, sizes)
		var wg sync.WaitGroup
		errs := make([]error, len(objs))
		next := make(chan int)
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range next {
					o := objs[i]
					e, err := s.store(ctx, content, o)
					if err != nil {
						errs[i] = err
						continue
					}
					sum := sha256.Sum256(bodies[o.Key])
					if e.Hash != hex.EncodeToString(sum[:]) || e.Size != o.Size {
						errs[i] = fmt.Errorf("%s: entry %s/%d, want %x/%d", o.Key, e.Hash, e.Size, sum, o.Size)
						continue
					}
					rc, _, err := blobs.Get(ctx, content, contentKey(e.Hash))
					if err != nil {
						errs[i] = err
						continue
					}
					got, _ := io.ReadAll(rc)
					if !bytes.Equal(got, bodies[o.Key]) {
						errs[i] = fmt.Errorf("%s: stored content differs from the source", o.Key)
					}
				}
			}()
		}
		for i := range objs {
			next <- i
		}
		close(next)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
	}
}

// lyingBlobs reports a source's size as listed but serves a longer body
// (an object replaced between the listing and the read).
type lyingBlobs struct {
	*memBlobs
	extra []byte
}

func (l lyingBlobs) Get(ctx context.Context, bucket, key string) (io.ReadCloser, *blob.ObjectInfo, error) {
	rc, info, err := l.memBlobs.Get(ctx, bucket, key)
	if err != nil || bucket != "src" {
		return rc, info, err
	}
	return io.NopCloser(io.MultiReader(rc, bytes.NewReader(l.extra))), info, nil
}

func TestStoreSourceLongerThanListed(t *testing.T) {
	ctx := context.Background()
	mem := newMemBlobs()
	s := New(Config{Account: "000000000000", Blobs: lyingBlobs{mem, []byte("more")}})
	objs, _ := storeSources(t, mem, rand.New(rand.NewPCG(3, 4)), []int64{1000})
	if err := mem.EnsureBucket(ctx, "content"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.store(ctx, "content", objs[0]); !errors.Is(err, errLongerThanListed) {
		t.Fatalf("store of a source longer than listed: %v, want errLongerThanListed", err)
	}
	if page, _ := mem.List(ctx, "content", blob.ListOptions{}); len(page.Objects) != 0 {
		t.Errorf("stored %d objects, want none", len(page.Objects))
	}
}

// TestStoreReusesBuffers: storing a megabyte source whose content is
// already stored allocates a small fraction of its size (the buffer comes
// from the pool); io.ReadAll allocated about twice the size every time.
// The figure is the least any one run allocated, with the GC off (it
// empties pools): allocations of other goroutines of the test binary only
// ever add to a run's count.
func TestStoreReusesBuffers(t *testing.T) {
	ctx := context.Background()
	mem := newMemBlobs()
	s := New(Config{Account: "000000000000", Blobs: mem})
	if err := mem.EnsureBucket(ctx, "content"); err != nil {
		t.Fatal(err)
	}
	const size, runs = 1<<20 + 12345, 20
	objs, _ := storeSources(t, mem, rand.New(rand.NewPCG(5, 6)), []int64{size})
	if _, err := s.store(ctx, "content", objs[0]); err != nil { // stores it
		t.Fatal(err)
	}
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	least := uint64(math.MaxUint64)
	for range runs {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		if _, err := s.store(ctx, "content", objs[0]); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		least = min(least, after.TotalAlloc-before.TotalAlloc)
	}
	if least > size/4 {
		t.Errorf("store allocated at least %d bytes per %d-byte source, want under a quarter of it", least, size)
	}
}

// sumBlobs is a blob.SHA256Putter that checks every sum it is given.
type sumBlobs struct {
	*memBlobs
	mu   sync.Mutex
	sums map[string]string // key → sum given
}

func (b *sumBlobs) PutSHA256(ctx context.Context, bucket, key string, r io.Reader, size int64, sum string) (*blob.ObjectInfo, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	if h := sha256.Sum256(data); hex.EncodeToString(h[:]) != sum {
		return nil, fmt.Errorf("PutSHA256 of %s: the body does not hash to %s", key, sum)
	}
	b.mu.Lock()
	b.sums[key] = sum
	b.mu.Unlock()
	return b.memBlobs.Put(ctx, bucket, key, bytes.NewReader(data), size)
}

// TestStorePassesSHA256: store hands the content's SHA-256 (its key) to a
// store that takes it, for in-memory and streamed sources alike.
func TestStorePassesSHA256(t *testing.T) {
	ctx := context.Background()
	mem := newMemBlobs()
	blobs := &sumBlobs{memBlobs: mem, sums: map[string]string{}}
	s := New(Config{Account: "000000000000", Blobs: blobs})
	if err := blobs.EnsureBucket(ctx, "content"); err != nil {
		t.Fatal(err)
	}
	objs, _ := storeSources(t, mem, rand.New(rand.NewPCG(3, 4)), []int64{0, 10, 1 << 20, inMemoryMax + 1})
	for _, o := range objs {
		e, err := s.store(ctx, "content", o)
		if err != nil {
			t.Fatal(err)
		}
		if got := blobs.sums[contentKey(e.Hash)]; got != e.Hash {
			t.Errorf("%s (%d bytes): stored with sum %q, want %s", o.Key, o.Size, got, e.Hash)
		}
	}
}

// noGetBlobs counts the Gets of sources.
type noGetBlobs struct {
	*memBlobs
	mu   sync.Mutex
	gets []string
}

func (b *noGetBlobs) Get(ctx context.Context, bucket, key string) (io.ReadCloser, *blob.ObjectInfo, error) {
	if bucket == "src" {
		b.mu.Lock()
		b.gets = append(b.gets, key)
		b.mu.Unlock()
	}
	return b.memBlobs.Get(ctx, bucket, key)
}

// TestStoreReadsLocalFiles: sources with a local file (Config.LocalObject)
// are read from it, not through a Get, and stored byte for byte; a file
// that is a symbolic link or not of the listed size is not trusted: the
// source is read through the store.
func TestStoreReadsLocalFiles(t *testing.T) {
	ctx := context.Background()
	mem := newMemBlobs()
	blobs := &noGetBlobs{memBlobs: mem}
	dir := t.TempDir()
	objs, bodies := storeSources(t, mem, rand.New(rand.NewPCG(5, 6)), []int64{0, 10, 1 << 20, inMemoryMax + 1, 100, 200})
	paths := map[string]string{}
	for i, o := range objs {
		p := filepath.Join(dir, fmt.Sprintf("f%d", i))
		body := bodies[o.Key]
		switch i {
		case 4: // a symbolic link to a file of the right contents
			if err := os.WriteFile(p+".target", body, 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.Symlink(p+".target", p); err != nil {
				t.Fatal(err)
			}
		case 5: // not the listed size
			body = append(bytes.Clone(body), 'x')
			fallthrough
		default:
			if err := os.WriteFile(p, body, 0o600); err != nil {
				t.Fatal(err)
			}
		}
		paths[o.Key] = p
	}
	s := New(Config{Account: "000000000000", Blobs: blobs, LocalObject: func(bucket, key string) (string, bool) {
		p, ok := paths[key]
		return p, ok && bucket == "src"
	}})
	if err := blobs.EnsureBucket(ctx, "content"); err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		e, err := s.store(ctx, "content", o)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(bodies[o.Key])
		if e.Hash != hex.EncodeToString(sum[:]) || e.Size != o.Size {
			t.Errorf("%s: entry %s/%d, want %x/%d", o.Key, e.Hash, e.Size, sum, o.Size)
		}
		rc, _, err := mem.Get(ctx, "content", contentKey(e.Hash))
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		if !bytes.Equal(got, bodies[o.Key]) {
			t.Errorf("%s: stored content differs from the source", o.Key)
		}
	}
	// The symbolic link and the wrong-sized file, each read once (one
	// hash-and-store read into memory).
	if want := []string{objs[4].Key, objs[5].Key}; !slices.Equal(blobs.gets, want) {
		t.Errorf("sources read through the store: %v, want %v", blobs.gets, want)
	}
}
