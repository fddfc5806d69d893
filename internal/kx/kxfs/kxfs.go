// Package kxfs is the file side of kx database versions: the manifest that
// describes one version (path → content hash, size, mode), and a local
// content-addressed cache that materializes any version as a real,
// read-only directory tree with hard links, so N versions of a database on
// one disk cost about one copy of its distinct files.
//
// Cache layout under its root:
//
//	objects/<hh>/<sha256>-<mode>   one file per (content, mode), read-only
//	tmp/                           downloads in progress
//
// A materialized tree's files are hard links to cache objects, so an
// object's link count tells whether any tree still uses it: Collect removes
// the objects with a link count of 1 that no kept manifest names.
package kxfs

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
)

// Entry is one file of a version.
type Entry struct {
	// Path is the file's path below the database root, without a leading
	// "/" ("2024.01.02/trade/price", "sym").
	Path string `json:"path"`
	// Hash is the hex SHA-256 of the content.
	Hash string `json:"sha256"`
	Size int64  `json:"size"`
	// Mode is the permission bits (0644 for what changesets store).
	Mode fs.FileMode `json:"mode"`
}

// Manifest is one immutable version of a database: its files, by path.
type Manifest struct {
	Files []Entry `json:"files"`
}

// Sort orders the files by path.
func (m *Manifest) Sort() {
	sort.Slice(m.Files, func(i, j int) bool { return m.Files[i].Path < m.Files[j].Path })
}

// Totals returns the number of files and their bytes.
func (m *Manifest) Totals() (files int, bytes int64) {
	for _, e := range m.Files {
		bytes += e.Size
	}
	return len(m.Files), bytes
}

// CheckPath refuses a manifest path that is absolute, empty, has empty,
// "." or ".." segments or NUL: nothing a manifest names can resolve
// outside the directory it is materialized in.
func CheckPath(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsRune(p, 0) || strings.Contains(p, "\\") {
		return fmt.Errorf("kxfs: path %q is empty, absolute, or contains NUL or a backslash", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("kxfs: path %q has an empty, . or .. segment", p)
		}
	}
	return nil
}

// Check validates a manifest: valid paths and hashes, no path twice, and
// no file that is also a directory of another ("a" and "a/b").
func (m *Manifest) Check() error {
	files := make(map[string]bool, len(m.Files))
	for _, e := range m.Files {
		if err := CheckPath(e.Path); err != nil {
			return err
		}
		if len(e.Hash) != 64 {
			return fmt.Errorf("kxfs: %s: bad hash %q", e.Path, e.Hash)
		}
		if files[e.Path] {
			return fmt.Errorf("kxfs: %s appears twice", e.Path)
		}
		files[e.Path] = true
	}
	for _, e := range m.Files {
		for d := path.Dir(e.Path); d != "."; d = path.Dir(d) {
			if files[d] {
				return fmt.Errorf("kxfs: %s is a file and the directory of %s", d, e.Path)
			}
		}
	}
	return nil
}

// Fetch opens the content whose SHA-256 is hash (from the blob store).
type Fetch func(ctx context.Context, hash string) (io.ReadCloser, error)

// Cache is a local content-addressed cache under Root.
type Cache struct {
	Root  string
	Fetch Fetch
	// Parallel bounds the fetches Materialize runs at once (default 4).
	Parallel int
}

func (c *Cache) objectPath(hash string, mode fs.FileMode) string {
	return filepath.Join(c.Root, "objects", hash[:2], fmt.Sprintf("%s-%04o", hash, readOnly(mode)))
}

func readOnly(mode fs.FileMode) fs.FileMode { return mode.Perm() &^ 0o222 }

// ensure returns the cache object of e, downloading it (and checking its
// hash and size) when absent.
func (c *Cache) ensure(ctx context.Context, e Entry) (string, error) {
	p := c.objectPath(e.Hash, e.Mode)
	if _, err := os.Lstat(p); err == nil {
		return p, nil
	}
	if c.Fetch == nil {
		return "", fmt.Errorf("kxfs: %s not cached and no fetch configured", e.Hash)
	}
	tmpDir := filepath.Join(c.Root, "tmp")
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", err
	}
	rc, err := c.Fetch(ctx, e.Hash)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	f, err := os.CreateTemp(tmpDir, "obj-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), rc)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != e.Hash || n != e.Size {
		return "", fmt.Errorf("kxfs: content %s: got %d bytes hashing to %s, want %d bytes", e.Hash, n, got, e.Size)
	}
	if err := os.Chmod(f.Name(), readOnly(e.Mode)); err != nil {
		return "", err
	}
	// Link, not rename: a concurrent ensure of the same object may have won.
	if err := os.Link(f.Name(), p); err != nil && !errors.Is(err, fs.ErrExist) {
		return "", err
	}
	return p, nil
}

// prefetch fetches the cache objects m needs and the cache lacks, up to
// Parallel at a time (each once); the first failure stops the rest.
func (c *Cache) prefetch(ctx context.Context, m *Manifest) error {
	var todo []Entry
	seen := map[string]bool{}
	for _, e := range m.Files {
		p := c.objectPath(e.Hash, e.Mode)
		if seen[p] {
			continue
		}
		seen[p] = true
		if _, err := os.Lstat(p); err != nil {
			todo = append(todo, e)
		}
	}
	if len(todo) == 0 || c.Fetch == nil {
		return nil
	}
	workers := c.Parallel
	if workers <= 0 {
		workers = 4
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan Entry)
	var wg sync.WaitGroup
	for range min(workers, len(todo)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for e := range next {
				if _, err := c.ensure(ctx, e); err != nil {
					cancel(err)
				}
			}
		}()
	}
feed:
	for _, e := range todo {
		select {
		case next <- e:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	return context.Cause(ctx)
}

// Materialize builds version m as a read-only tree at dest (which must not
// exist): directories 0555, each file a hard link to its cache object
// (mode the entry's without write bits), fetching missing objects first.
// dest must be on the cache's file system. A failure removes what was
// built.
func (c *Cache) Materialize(ctx context.Context, m *Manifest, dest string) (err error) {
	if err := m.Check(); err != nil {
		return err
	}
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("kxfs: %s exists", dest)
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = Remove(dest)
		}
	}()
	if err := c.prefetch(ctx, m); err != nil {
		return err
	}
	dirs := map[string]bool{}
	for _, e := range m.Files {
		if err := ctx.Err(); err != nil {
			return err
		}
		obj, err := c.ensure(ctx, e)
		if err != nil {
			return err
		}
		target := filepath.Join(dest, filepath.FromSlash(e.Path))
		if d := filepath.Dir(target); !dirs[d] {
			if err := os.MkdirAll(d, 0o755); err != nil {
				return err
			}
			dirs[d] = true
		}
		if err := os.Link(obj, target); err != nil {
			return err
		}
	}
	// Read-only directories, deepest first so parents are still writable.
	all := []string{dest}
	for d := range dirs {
		for ; d != dest && strings.HasPrefix(d, dest); d = filepath.Dir(d) {
			all = append(all, d)
		}
	}
	sort.Slice(all, func(i, j int) bool { return len(all[i]) > len(all[j]) })
	for _, d := range all {
		if err := os.Chmod(d, 0o555); err != nil {
			return err
		}
	}
	return nil
}

// Remove deletes a materialized tree (making its directories writable
// first); its cache objects stay, for Collect.
func Remove(dest string) error {
	_ = filepath.WalkDir(dest, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o755)
		}
		return nil
	})
	return os.RemoveAll(dest)
}

// Collect removes the cache objects that no materialized tree links (link
// count 1) and no manifest of keep names, and returns how many bytes it
// freed.
func (c *Cache) Collect(keep ...*Manifest) (int64, error) {
	kept := map[string]bool{}
	for _, m := range keep {
		for _, e := range m.Files {
			kept[filepath.Base(c.objectPath(e.Hash, e.Mode))] = true
		}
	}
	var freed int64
	err := filepath.WalkDir(filepath.Join(c.Root, "objects"), func(p string, d fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil || d.IsDir() || kept[d.Name()] {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && st.Nlink > 1 {
			return nil
		}
		if err := os.Remove(p); err != nil {
			return err
		}
		freed += info.Size()
		return nil
	})
	return freed, err
}

// HashTree returns the hex SHA-256 of every regular file under root, by
// its slash-separated path below root (what a manifest's entries say of a
// materialized tree; tests compare trees with it).
func HashTree(root string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		h := sha256.New()
		if _, err := io.Copy(h, f); err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = hex.EncodeToString(h.Sum(nil))
		return nil
	})
	return out, err
}

// DiffTrees compares two HashTree results and returns, sorted, the paths
// whose contents differ or that want has and got lacks, and "extra <path>"
// for each path only got has; nil when the trees are identical.
func DiffTrees(got, want map[string]string) []string {
	var diffs []string
	for p, h := range want {
		if got[p] != h {
			diffs = append(diffs, p)
		}
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			diffs = append(diffs, "extra "+p)
		}
	}
	sort.Strings(diffs)
	return diffs
}
