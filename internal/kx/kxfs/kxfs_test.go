package kxfs

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

type contents map[string][]byte // hash → bytes

func (c contents) add(path string, b []byte) Entry {
	sum := sha256.Sum256(b)
	h := hex.EncodeToString(sum[:])
	c[h] = b
	return Entry{Path: path, Hash: h, Size: int64(len(b)), Mode: 0o644}
}

func (c contents) fetch(fetches *int) Fetch {
	var mu sync.Mutex
	return func(_ context.Context, hash string) (io.ReadCloser, error) {
		mu.Lock()
		*fetches++
		mu.Unlock()
		b, ok := c[hash]
		if !ok {
			return nil, fmt.Errorf("no content %s", hash)
		}
		return io.NopCloser(bytes.NewReader(b)), nil
	}
}

// diskBytes is the space the files under roots occupy, each inode once.
func diskBytes(t *testing.T, roots ...string) int64 {
	t.Helper()
	seen := map[uint64]bool{}
	var n int64
	for _, root := range roots {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			st := info.Sys().(*syscall.Stat_t)
			if !seen[st.Ino] {
				seen[st.Ino] = true
				n += st.Blocks * 512
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	return n
}

func TestTwoVersionsShareTheirFiles(t *testing.T) {
	ctx := context.Background()
	rng := rand.New(rand.NewSource(1))
	store := contents{}
	var v1, v2 Manifest
	for i := 0; i < 100; i++ {
		b := make([]byte, 64<<10)
		rng.Read(b)
		p := fmt.Sprintf("2024.01.%02d/trade/price", i)
		if i%10 == 0 {
			p = fmt.Sprintf("2024.01.%02d/trade/.d", i)
		}
		e := store.add(p, b)
		v1.Files = append(v1.Files, e)
		if i == 99 { // v2 changes one file of 100
			b2 := append([]byte(nil), b...)
			b2[0] ^= 0xff
			e = store.add(p, b2)
		}
		v2.Files = append(v2.Files, e)
	}
	v1.Files = append(v1.Files, store.add("sym", []byte("`AAPL`MSFT")))
	v2.Files = append(v2.Files, v1.Files[len(v1.Files)-1])
	v1.Sort()
	v2.Sort()

	root := t.TempDir()
	fetches := 0
	c := &Cache{Root: filepath.Join(root, "cache"), Fetch: store.fetch(&fetches)}
	d1, d2 := filepath.Join(root, "v1"), filepath.Join(root, "v2")
	if err := c.Materialize(ctx, &v1, d1); err != nil {
		t.Fatal(err)
	}
	if err := c.Materialize(ctx, &v2, d2); err != nil {
		t.Fatal(err)
	}
	if fetches != 102 {
		t.Errorf("%d fetches, want 102 (101 distinct contents and the changed file)", fetches)
	}
	_, oneVersion := v1.Totals()
	used := diskBytes(t, d1, d2, c.Root)
	t.Logf("one version %d bytes; two versions and the cache use %d bytes on disk (%.3f×)", oneVersion, used, float64(used)/float64(oneVersion))
	if float64(used) > 1.05*float64(oneVersion) {
		t.Errorf("two versions sharing 99%% of their files use %d bytes, %.2f× one version", used, float64(used)/float64(oneVersion))
	}
	for _, v := range []struct {
		dir string
		m   *Manifest
	}{{d1, &v1}, {d2, &v2}} {
		n := 0
		err := filepath.WalkDir(v.dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			info, _ := d.Info()
			if d.IsDir() {
				if info.Mode().Perm() != 0o555 {
					t.Errorf("%s: mode %v, want dr-xr-xr-x", p, info.Mode())
				}
				return nil
			}
			n++
			if info.Mode().Perm() != 0o444 || !info.Mode().IsRegular() {
				t.Errorf("%s: mode %v, want -r--r--r--", p, info.Mode())
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if n != len(v.m.Files) {
			t.Errorf("%s: %d files, want %d", v.dir, n, len(v.m.Files))
		}
		for _, e := range v.m.Files {
			b, err := os.ReadFile(filepath.Join(v.dir, e.Path))
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(b)
			if hex.EncodeToString(sum[:]) != e.Hash {
				t.Errorf("%s/%s is not byte-identical", v.dir, e.Path)
			}
		}
	}
	// A tree cannot be written through.
	if err := os.WriteFile(filepath.Join(d1, "sym"), []byte("x"), 0o644); err == nil && os.Geteuid() != 0 {
		t.Error("a materialized file was writable")
	}

	// Collection: nothing while both trees exist; v1's own file once v1 is
	// removed; everything once v2 is too, unless kept.
	if freed, err := c.Collect(); err != nil || freed != 0 {
		t.Errorf("Collect with both trees: freed %d, %v", freed, err)
	}
	if err := Remove(d1); err != nil {
		t.Fatal(err)
	}
	if freed, err := c.Collect(); err != nil || freed != 64<<10 {
		t.Errorf("Collect after removing v1: freed %d, %v; want the one file only v1 had", freed, err)
	}
	if err := Remove(d2); err != nil {
		t.Fatal(err)
	}
	if freed, err := c.Collect(&v2); err != nil || freed != 0 {
		t.Errorf("Collect keeping v2: freed %d, %v", freed, err)
	}
	if _, err := c.Collect(); err != nil || diskBytes(t, c.Root) != 0 {
		t.Errorf("Collect of an unused cache left %d bytes, %v", diskBytes(t, c.Root), err)
	}
	// A warm cache materializes without fetching.
	fetches = 0
	c2 := &Cache{Root: filepath.Join(root, "cache2"), Fetch: store.fetch(&fetches)}
	if err := c2.Materialize(ctx, &v2, filepath.Join(root, "a")); err != nil {
		t.Fatal(err)
	}
	fetches = 0
	if err := c2.Materialize(ctx, &v2, filepath.Join(root, "b")); err != nil || fetches != 0 {
		t.Errorf("warm materialize: %d fetches, %v", fetches, err)
	}
}

func TestManifestRefusesEscapes(t *testing.T) {
	h := fmt.Sprintf("%064d", 0)
	for _, p := range []string{"../x", "/etc/passwd", "a/../../b", "a//b", "a/./b", "a\x00b", "", `a\b`} {
		m := &Manifest{Files: []Entry{{Path: p, Hash: h}}}
		if err := m.Check(); err == nil {
			t.Errorf("path %q accepted", p)
		}
	}
	m := &Manifest{Files: []Entry{{Path: "a", Hash: h}, {Path: "a/b", Hash: h}}}
	if err := m.Check(); err == nil {
		t.Error("a file that is also a directory accepted")
	}
	bad := &Cache{Root: t.TempDir(), Fetch: func(context.Context, string) (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader([]byte("not what the hash says"))), nil
	}}
	if err := bad.Materialize(context.Background(), &Manifest{Files: []Entry{{Path: "f", Hash: h, Size: 22}}}, filepath.Join(bad.Root, "t")); err == nil {
		t.Error("content not matching its hash was materialized")
	}
}

// TestMaterializeFetchesInParallel: a cold materialization fetches up to
// Parallel contents at once, each once, and a failed fetch fails it and
// leaves no tree.
func TestMaterializeFetchesInParallel(t *testing.T) {
	store := contents{}
	m := &Manifest{}
	for i := range 40 {
		m.Files = append(m.Files, store.add(fmt.Sprintf("d/f%02d", i), []byte(fmt.Sprintf("content %d", i))))
	}
	m.Files = append(m.Files, store.add("d/again", []byte("content 7"))) // the same content twice
	m.Sort()
	var inFlight, most, calls atomic.Int64
	gate := make(chan struct{})
	var open sync.Once
	giveUp := time.Now().Add(5 * time.Second)
	fetch := func(ctx context.Context, hash string) (io.ReadCloser, error) {
		calls.Add(1)
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		if n == 3 {
			open.Do(func() { close(gate) }) // three at once: let everyone go
		}
		select {
		case <-gate:
		case <-time.After(time.Until(giveUp)): // never three at once: the check below fails
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		return io.NopCloser(bytes.NewReader(store[hash])), nil
	}
	root := t.TempDir()
	c := &Cache{Root: filepath.Join(root, "cache"), Fetch: fetch, Parallel: 3}
	if err := c.Materialize(context.Background(), m, filepath.Join(root, "tree")); err != nil {
		t.Fatal(err)
	}
	if most.Load() != 3 || calls.Load() != 40 {
		t.Errorf("%d fetches, at most %d at once; want 40 (one per distinct content), 3 at once", calls.Load(), most.Load())
	}
	got, err := HashTree(filepath.Join(root, "tree"))
	if err != nil || len(got) != len(m.Files) {
		t.Fatalf("tree: %d files (%v), want %d", len(got), err, len(m.Files))
	}
	for _, e := range m.Files {
		if got[e.Path] != e.Hash {
			t.Errorf("%s: hash %s, want %s", e.Path, got[e.Path], e.Hash)
		}
	}

	broken := &Cache{Root: filepath.Join(root, "cache2"), Parallel: 4, Fetch: func(_ context.Context, hash string) (io.ReadCloser, error) {
		if hash == m.Files[5].Hash {
			return nil, fmt.Errorf("content %s is gone", hash)
		}
		return io.NopCloser(bytes.NewReader(store[hash])), nil
	}}
	dest := filepath.Join(root, "tree2")
	if err := broken.Materialize(context.Background(), m, dest); err == nil || !strings.Contains(err.Error(), "is gone") {
		t.Errorf("materialize with a content missing: %v, want its fetch error", err)
	}
	if _, err := os.Lstat(dest); err == nil {
		t.Error("a failed materialization left its tree")
	}
}

func TestDiffTrees(t *testing.T) {
	want := map[string]string{"sym": "a", "2024.01.01/t/.d": "b", "2024.01.01/t/px": "c"}
	if d := DiffTrees(map[string]string{"sym": "a", "2024.01.01/t/.d": "b", "2024.01.01/t/px": "c"}, want); d != nil {
		t.Errorf("identical trees: %v", d)
	}
	got := map[string]string{"sym": "a", "2024.01.01/t/.d": "x", "2024.01.02/t/px": "c"}
	d := DiffTrees(got, want)
	if fmt.Sprint(d) != "[2024.01.01/t/.d 2024.01.01/t/px extra 2024.01.02/t/px]" {
		t.Errorf("DiffTrees = %q, want the changed and missing paths, then the extra one", d)
	}
}
