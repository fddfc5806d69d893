// Package blobtest is the conformance suite every blob.Store passes: run it
// from an implementation's tests with Run; and a MinIO server for tests
// that need an external S3 service (RequireMinIO). Test code only.
package blobtest

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/blob"
)

// Run runs the suite. newStore returns the store under test; it is called
// once per subtest and may return the same store each time (every subtest
// uses its own buckets).
func Run(t *testing.T, newStore func(t *testing.T) blob.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s blob.Store)
	}{
		{"PutGetHead", testPutGetHead},
		{"Overwrite", testOverwrite},
		{"EmptyObject", testEmpty},
		{"UnknownSize", testUnknownSize},
		{"LargeStreaming", testLargeStreaming},
		{"SizeMismatch", testSizeMismatch},
		{"SeekableBodies", testSeekableBodies},
		{"NotFound", testNotFound},
		{"Delete", testDelete},
		{"List", testList},
		{"ListPaging", testListPaging},
		{"InvalidNames", testInvalidNames},
		{"EnsureBucketIdempotent", testEnsureBucket},
		{"SpecialKeys", testSpecialKeys},
		{"Concurrent", testConcurrent},
		{"Sources", testSources},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.fn(t, newStore(t))
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

// Bucket returns a fresh bucket name and creates the bucket.
func Bucket(t *testing.T, s blob.Store) string {
	t.Helper()
	var b [6]byte
	_, _ = rand.Read(b[:])
	name := "blobtest-" + hex.EncodeToString(b[:])
	if err := s.EnsureBucket(ctx(t), name); err != nil {
		t.Fatalf("EnsureBucket(%s): %v", name, err)
	}
	return name
}

func put(t *testing.T, s blob.Store, bucket, key, body string) *blob.ObjectInfo {
	t.Helper()
	info, err := s.Put(ctx(t), bucket, key, strings.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatalf("Put(%s/%s): %v", bucket, key, err)
	}
	return info
}

func get(t *testing.T, s blob.Store, bucket, key string) (string, *blob.ObjectInfo) {
	t.Helper()
	rc, info, err := s.Get(ctx(t), bucket, key)
	if err != nil {
		t.Fatalf("Get(%s/%s): %v", bucket, key, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("reading %s/%s: %v", bucket, key, err)
	}
	return string(b), info
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func testPutGetHead(t *testing.T, s blob.Store) {
	b := Bucket(t, s)
	body := "hello, blob\n"
	info := put(t, s, b, "dir/hello.txt", body)
	if info.Size != int64(len(body)) || info.ETag != md5hex(body) {
		t.Errorf("Put info = %+v, want size %d etag %s", info, len(body), md5hex(body))
	}
	got, ginfo := get(t, s, b, "dir/hello.txt")
	if got != body {
		t.Errorf("Get = %q, want %q", got, body)
	}
	if ginfo.Size != int64(len(body)) || ginfo.ETag != info.ETag || ginfo.Bucket != b || ginfo.Key != "dir/hello.txt" {
		t.Errorf("Get info = %+v", ginfo)
	}
	h, err := s.Head(ctx(t), b, "dir/hello.txt")
	if err != nil {
		t.Fatalf("Head: %v", err)
	}
	if h.Size != int64(len(body)) || h.ETag != info.ETag || h.LastModified.IsZero() {
		t.Errorf("Head = %+v", h)
	}
	if d := time.Since(h.LastModified); d < -time.Minute || d > 10*time.Minute {
		t.Errorf("LastModified %s is not recent", h.LastModified)
	}
}

func testOverwrite(t *testing.T, s blob.Store) {
	b := Bucket(t, s)
	put(t, s, b, "k", "first version")
	put(t, s, b, "k", "second")
	if got, _ := get(t, s, b, "k"); got != "second" {
		t.Errorf("after overwrite Get = %q", got)
	}
}

func testEmpty(t *testing.T, s blob.Store) {
	b := Bucket(t, s)
	info := put(t, s, b, "empty", "")
	if info.Size != 0 {
		t.Errorf("size %d", info.Size)
	}
	if got, ginfo := get(t, s, b, "empty"); got != "" || ginfo.Size != 0 {
		t.Errorf("Get = %q, %+v", got, ginfo)
	}
	// Unknown size, empty reader.
	info, err := s.Put(ctx(t), b, "empty2", strings.NewReader(""), -1)
	if err != nil || info.Size != 0 {
		t.Errorf("Put(-1, empty) = %+v, %v", info, err)
	}
}

// pattern is a deterministic, non-repeating-looking stream of n bytes that
// is never held in memory whole.
func pattern(n int64, seed byte) io.Reader {
	return io.LimitReader(&patternReader{seed: seed}, n)
}

type patternReader struct {
	seed byte
	off  int64
}

func (p *patternReader) Read(b []byte) (int, error) {
	for i := range b {
		x := p.off + int64(i)
		b[i] = byte(x*31+x>>9+x>>17) ^ p.seed
	}
	p.off += int64(len(b))
	return len(b), nil
}

func hashOf(r io.Reader) (string, int64) {
	h := sha256.New()
	n, _ := io.Copy(h, r)
	return hex.EncodeToString(h.Sum(nil)), n
}

// onlyReader hides any Seek/ReadAt/Len of the wrapped reader.
type onlyReader struct{ r io.Reader }

func (o onlyReader) Read(p []byte) (int, error) { return o.r.Read(p) }

func testUnknownSize(t *testing.T, s blob.Store) {
	b := Bucket(t, s)
	// Larger than the default part size, so an unknown-size stream is
	// uploaded in parts.
	const n = 20<<20 + 12345
	want, _ := hashOf(pattern(n, 1))
	info, err := s.Put(ctx(t), b, "big/unknown.bin", onlyReader{pattern(n, 1)}, -1)
	if err != nil {
		t.Fatalf("Put(-1): %v", err)
	}
	if info.Size != n {
		t.Errorf("Put(-1) size = %d, want %d", info.Size, n)
	}
	rc, ginfo, err := s.Get(ctx(t), b, "big/unknown.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, m := hashOf(rc)
	if got != want || m != n || ginfo.Size != n {
		t.Errorf("read back %d bytes (info %d), hash match %v", m, ginfo.Size, got == want)
	}
}

func testLargeStreaming(t *testing.T, s blob.Store) {
	b := Bucket(t, s)
	const n = 48<<20 + 7
	want, _ := hashOf(pattern(n, 2))
	if _, err := s.Put(ctx(t), b, "big/known.bin", onlyReader{pattern(n, 2)}, n); err != nil {
		t.Fatalf("Put: %v", err)
	}
	rc, info, err := s.Get(ctx(t), b, "big/known.bin")
	if err != nil {
		t.Fatal(err)
	}
	got, m := hashOf(rc)
	rc.Close()
	if got != want || m != n || info.Size != n {
		t.Errorf("read back %d bytes (info %d), hash match %v", m, info.Size, got == want)
	}
}

func testSizeMismatch(t *testing.T, s blob.Store) {
	b := Bucket(t, s)
	put(t, s, b, "keep", "original")
	for _, tc := range []struct {
		name string
		body string
		size int64
	}{
		{"short", "12345", 10},
		{"long", "1234567890", 5},
	} {
		_, err := s.Put(ctx(t), b, "keep", onlyReader{strings.NewReader(tc.body)}, tc.size)
		if !errors.Is(err, blob.ErrSizeMismatch) {
			t.Errorf("%s body: Put error = %v, want ErrSizeMismatch", tc.name, err)
		}
		_, err = s.Put(ctx(t), b, "new-"+tc.name, onlyReader{strings.NewReader(tc.body)}, tc.size)
		if !errors.Is(err, blob.ErrSizeMismatch) {
			t.Errorf("%s body: Put error = %v, want ErrSizeMismatch", tc.name, err)
		}
		if _, err := s.Head(ctx(t), b, "new-"+tc.name); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("%s body: a failed Put left an object (Head error %v)", tc.name, err)
		}
	}
	// A large short stream fails in the middle of a multipart upload.
	_, err := s.Put(ctx(t), b, "big-short", onlyReader{pattern(20<<20, 3)}, 30<<20)
	if !errors.Is(err, blob.ErrSizeMismatch) {
		t.Errorf("multipart short body: Put error = %v, want ErrSizeMismatch", err)
	}
	if _, err := s.Head(ctx(t), b, "big-short"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("a failed multipart Put left an object (Head error %v)", err)
	}
	if got, _ := get(t, s, b, "keep"); got != "original" {
		t.Errorf("a failed overwrite changed the object: %q", got)
	}
}

// testSeekableBodies puts bodies a store may read at offsets
// (bytes.Reader, *os.File): what is stored is the rest of the reader from
// its position, byte for byte, and a rest of another length than declared
// fails with ErrSizeMismatch and stores nothing.
func testSeekableBodies(t *testing.T, s blob.Store) {
	b := Bucket(t, s)
	for _, n := range []int64{1, 100 << 10, 20<<20 + 3} {
		data, _ := io.ReadAll(pattern(n+7, 4))
		want, _ := hashOf(bytes.NewReader(data[7:]))
		r := bytes.NewReader(data)
		r.Seek(7, io.SeekStart)
		key := fmt.Sprintf("seekable/%d", n)
		if _, err := s.Put(ctx(t), b, key, r, n); err != nil {
			t.Fatalf("Put of %d bytes from a bytes.Reader: %v", n, err)
		}
		rc, info, err := s.Get(ctx(t), b, key)
		if err != nil {
			t.Fatal(err)
		}
		got, m := hashOf(rc)
		rc.Close()
		if got != want || m != n || info.Size != n {
			t.Errorf("%d bytes from offset 7: read back %d (info %d), hash match %v", n, m, info.Size, got == want)
		}
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "body"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString("header|file body"); err != nil {
		t.Fatal(err)
	}
	f.Seek(7, io.SeekStart)
	if _, err := s.Put(ctx(t), b, "seekable/file", f, 9); err != nil {
		t.Fatalf("Put from a file: %v", err)
	}
	if got, _ := get(t, s, b, "seekable/file"); got != "file body" {
		t.Errorf("Put from a file stored %q", got)
	}
	put(t, s, b, "seekable/keep", "original")
	for _, tc := range []struct {
		name string
		size int64
	}{{"short", 11}, {"long", 9}} {
		for _, key := range []string{"seekable/keep", "seekable/new-" + tc.name} {
			_, err := s.Put(ctx(t), b, key, strings.NewReader("0123456789"), tc.size)
			if !errors.Is(err, blob.ErrSizeMismatch) {
				t.Errorf("%s strings.Reader: Put error = %v, want ErrSizeMismatch", tc.name, err)
			}
		}
		if _, err := s.Head(ctx(t), b, "seekable/new-"+tc.name); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("%s strings.Reader: a failed Put left an object (Head error %v)", tc.name, err)
		}
	}
	if got, _ := get(t, s, b, "seekable/keep"); got != "original" {
		t.Errorf("a failed overwrite changed the object: %q", got)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
		return
	}
	var be *blob.Error
	if !errors.As(err, &be) {
		t.Errorf("%s: error %T is not a *blob.Error", what, err)
	}
}

func testNotFound(t *testing.T, s blob.Store) {
	b := Bucket(t, s)
	missing := b + "-missing"
	c := ctx(t)
	_, _, err := s.Get(c, b, "nope")
	wantErr(t, "Get missing key", err, blob.ErrNotFound)
	if err != nil && !strings.Contains(err.Error(), "s3://"+b+"/nope") {
		t.Errorf("error %q does not name the location", err)
	}
	_, err = s.Head(c, b, "nope")
	wantErr(t, "Head missing key", err, blob.ErrNotFound)
	_, _, err = s.Get(c, missing, "k")
	wantErr(t, "Get in missing bucket", err, blob.ErrNoBucket)
	_, err = s.Head(c, missing, "k")
	wantErr(t, "Head in missing bucket", err, blob.ErrNoBucket)
	_, err = s.Put(c, missing, "k", strings.NewReader("x"), 1)
	wantErr(t, "Put in missing bucket", err, blob.ErrNoBucket)
	_, err = s.List(c, missing, blob.ListOptions{})
	wantErr(t, "List missing bucket", err, blob.ErrNoBucket)
	err = s.Delete(c, missing, "k")
	wantErr(t, "Delete in missing bucket", err, blob.ErrNoBucket)
	if errors.Is(err, blob.ErrNotFound) {
		t.Errorf("ErrNoBucket also matches ErrNotFound")
	}
}

func testDelete(t *testing.T, s blob.Store) {
	b := Bucket(t, s)
	put(t, s, b, "d/x", "x")
	put(t, s, b, "d/y", "y")
	if err := s.Delete(ctx(t), b, "d/x"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Head(ctx(t), b, "d/x"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("Head after Delete: %v", err)
	}
	if err := s.Delete(ctx(t), b, "d/x"); err != nil {
		t.Errorf("Delete of a missing object: %v", err)
	}
	if got, _ := get(t, s, b, "d/y"); got != "y" {
		t.Errorf("sibling changed: %q", got)
	}
}

func keysOf(p *blob.ListPage) []string {
	var out []string
	for _, o := range p.Objects {
		out = append(out, o.Key)
	}
	return out
}

func testList(t *testing.T, s blob.Store) {
	b := Bucket(t, s)
	keys := []string{"a.txt", "data/2024/01.csv", "data/2024/02.csv", "data/2025/01.csv", "data/readme", "z/last"}
	for _, k := range keys {
		put(t, s, b, k, "v:"+k)
	}
	c := ctx(t)
	p, err := s.List(c, b, blob.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := keysOf(p); !slices.Equal(got, keys) || p.NextCursor != "" {
		t.Errorf("List all = %v (cursor %q), want %v", got, p.NextCursor, keys)
	}
	for _, o := range p.Objects {
		if o.Size != int64(len("v:"+o.Key)) || o.ETag != md5hex("v:"+o.Key) || o.Bucket != b {
			t.Errorf("listed %+v", o)
		}
	}
	p, err = s.List(c, b, blob.ListOptions{Prefix: "data/", Delimiter: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if got := keysOf(p); !slices.Equal(got, []string{"data/readme"}) ||
		!slices.Equal(p.CommonPrefixes, []string{"data/2024/", "data/2025/"}) {
		t.Errorf("List data/ with / = objects %v prefixes %v", got, p.CommonPrefixes)
	}
	p, err = s.List(c, b, blob.ListOptions{Delimiter: "/"})
	if err != nil {
		t.Fatal(err)
	}
	if got := keysOf(p); !slices.Equal(got, []string{"a.txt"}) || !slices.Equal(p.CommonPrefixes, []string{"data/", "z/"}) {
		t.Errorf("List root with / = objects %v prefixes %v", got, p.CommonPrefixes)
	}
	p, err = s.List(c, b, blob.ListOptions{Prefix: "data/2024/"})
	if err != nil {
		t.Fatal(err)
	}
	if got := keysOf(p); !slices.Equal(got, []string{"data/2024/01.csv", "data/2024/02.csv"}) {
		t.Errorf("List data/2024/ = %v", got)
	}
	p, err = s.List(c, b, blob.ListOptions{Prefix: "nothing/"})
	if err != nil || len(p.Objects) != 0 || len(p.CommonPrefixes) != 0 {
		t.Errorf("List of an empty prefix = %+v, %v", p, err)
	}
}

func testListPaging(t *testing.T, s blob.Store) {
	b := Bucket(t, s)
	var want []string
	for i := range 7 {
		k := fmt.Sprintf("p/%02d", i)
		want = append(want, k)
		put(t, s, b, k, "x")
	}
	var got []string
	cursor := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging does not end")
		}
		p, err := s.List(ctx(t), b, blob.ListOptions{Prefix: "p/", Limit: 3, Cursor: cursor})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Objects) > 3 {
			t.Errorf("page of %d objects with Limit 3", len(p.Objects))
		}
		got = append(got, keysOf(p)...)
		if p.NextCursor == "" {
			break
		}
		cursor = p.NextCursor
	}
	if !slices.Equal(got, want) {
		t.Errorf("paged listing = %v, want %v", got, want)
	}
}

func testInvalidNames(t *testing.T, s blob.Store) {
	b := Bucket(t, s)
	c := ctx(t)
	for _, bad := range []string{"", "ab", "UPPER", "under_score", "-start", "end-", "a..b", "192.168.1.1", "xn--abc", strings.Repeat("a", 64)} {
		if err := s.EnsureBucket(c, bad); !errors.Is(err, blob.ErrInvalidName) {
			t.Errorf("EnsureBucket(%q) = %v, want ErrInvalidName", bad, err)
		}
		if _, _, err := s.Get(c, bad, "k"); !errors.Is(err, blob.ErrInvalidName) {
			t.Errorf("Get(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
	for _, bad := range []string{"", "/abs", "a/../b", "../up", "a/./b", ".", "..", "a//b", "nul\x00x", "\xff\xfe", strings.Repeat("k", 1025)} {
		if _, err := s.Put(c, b, bad, strings.NewReader("x"), 1); !errors.Is(err, blob.ErrInvalidName) {
			t.Errorf("Put(%q) = %v, want ErrInvalidName", bad, err)
		}
		if _, _, err := s.Get(c, b, bad); !errors.Is(err, blob.ErrInvalidName) {
			t.Errorf("Get(%q) = %v, want ErrInvalidName", bad, err)
		}
		if err := s.Delete(c, b, bad); !errors.Is(err, blob.ErrInvalidName) {
			t.Errorf("Delete(%q) = %v, want ErrInvalidName", bad, err)
		}
	}
	if _, err := s.List(c, b, blob.ListOptions{Prefix: "../"}); !errors.Is(err, blob.ErrInvalidName) {
		t.Errorf("List(prefix ../) = %v, want ErrInvalidName", err)
	}
	p, err := s.List(c, b, blob.ListOptions{})
	if err != nil || len(p.Objects) != 0 {
		t.Errorf("invalid names left objects: %+v, %v", p, err)
	}
}

func testEnsureBucket(t *testing.T, s blob.Store) {
	b := Bucket(t, s)
	put(t, s, b, "k", "v")
	for range 2 {
		if err := s.EnsureBucket(ctx(t), b); err != nil {
			t.Fatalf("EnsureBucket again: %v", err)
		}
	}
	if got, _ := get(t, s, b, "k"); got != "v" {
		t.Errorf("EnsureBucket changed the contents: %q", got)
	}
}

func testSpecialKeys(t *testing.T, s blob.Store) {
	b := Bucket(t, s)
	keys := []string{"sp ace/file name.csv", "plus+sign", "pct%41encoded", "eq=amp&q?hash#", "ünïcødé/日本語.txt", "folder/", "tilde~star*(paren)'", "semi;colon,comma:colon"}
	// Folder markers (keys ending in "/") are empty: the embedded store
	// keeps them as directories.
	body := func(k string) string {
		if strings.HasSuffix(k, "/") {
			return ""
		}
		return "v:" + k
	}
	for _, k := range keys {
		put(t, s, b, k, body(k))
	}
	for _, k := range keys {
		if got, info := get(t, s, b, k); got != body(k) || info.Key != k {
			t.Errorf("Get(%q) = %q, key %q", k, got, info.Key)
		}
	}
	p, err := s.List(ctx(t), b, blob.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got := keysOf(p)
	want := slices.Clone(keys)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("List = %q, want %q", got, want)
	}
}

func testConcurrent(t *testing.T, s blob.Store) {
	b := Bucket(t, s)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			body := strings.Repeat(fmt.Sprint(i), 1000+i)
			if _, err := s.Put(ctx(t), b, fmt.Sprintf("c/%02d", i), strings.NewReader(body), int64(len(body))); err != nil {
				errs <- err
				return
			}
			rc, _, err := s.Get(ctx(t), b, fmt.Sprintf("c/%02d", i))
			if err != nil {
				errs <- err
				return
			}
			got, _ := io.ReadAll(rc)
			rc.Close()
			if string(got) != body {
				errs <- fmt.Errorf("object %d read back wrong", i)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func testSources(t *testing.T, s blob.Store) {
	b := Bucket(t, s)
	put(t, s, b, "in/prices.csv", "sym,px\nA,1\n")
	c := ctx(t)
	rc, info, err := blob.OpenSource(c, s, "s3://"+b+"/in/prices.csv")
	if err != nil {
		t.Fatalf("OpenSource: %v", err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "sym,px\nA,1\n" || info.Size != 11 {
		t.Errorf("OpenSource read %q (%+v)", got, info)
	}
	dir := t.TempDir()
	path, _, err := blob.StageSource(c, s, "s3://"+b+"/in/prices.csv", dir)
	if err != nil {
		t.Fatalf("StageSource: %v", err)
	}
	if data, err := os.ReadFile(path); err != nil || !bytes.Equal(data, []byte("sym,px\nA,1\n")) || filepath.Ext(path) != ".csv" {
		t.Errorf("staged %s: %q, %v", path, data, err)
	}
	for _, tc := range []struct {
		uri    string
		target error
		msg    string
	}{
		{"s3://" + b + "/in/missing.csv", blob.ErrNotFound, "no such object"},
		{"s3://" + b + "-nope/in/prices.csv", blob.ErrNoBucket, "does not exist"},
		{"s3://" + b + "/../etc/passwd", blob.ErrInvalidName, ""},
		{"file:///etc/passwd", blob.ErrInvalidName, ""},
		{"s3://" + b, blob.ErrInvalidName, ""},
	} {
		_, _, err := blob.OpenSource(c, s, tc.uri)
		var se *blob.SourceError
		if !errors.Is(err, tc.target) || !errors.As(err, &se) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("OpenSource(%s) = %v, want %v (%q)", tc.uri, err, tc.target, tc.msg)
		}
		if _, _, err := blob.StageSource(c, s, tc.uri, dir); !errors.Is(err, tc.target) {
			t.Errorf("StageSource(%s) = %v, want %v", tc.uri, err, tc.target)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 1 {
		t.Errorf("failed stages left files: %d entries in the staging dir", len(ents))
	}
}
