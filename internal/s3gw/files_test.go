package s3gw

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// objectFile refuses every path that is not plainly an object's file.
func TestObjectFile(t *testing.T) {
	root := filepath.Join(t.TempDir(), "objects")
	mustWrite := func(p, body string) {
		t.Helper()
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mustWrite(filepath.Join(root, "bkt", "dir", "obj"), "x")
	mustWrite(filepath.Join(t.TempDir(), "outside"), "y")
	outside := filepath.Join(filepath.Dir(root), "secret")
	mustWrite(outside, "z")
	if err := os.Symlink(outside, filepath.Join(root, "bkt", "link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "bkt", "dir"), filepath.Join(root, "bkt", "dirlink")); err != nil {
		t.Fatal(err)
	}
	real, _ := filepath.EvalSymlinks(root)
	if p, ok := objectFile(root, "bkt", "dir/obj"); !ok || p != filepath.Join(real, "bkt", "dir", "obj") {
		t.Fatalf("the object: %q %v", p, ok)
	}
	for _, c := range []struct{ bucket, key string }{
		{"bkt", "dir"},          // a directory
		{"bkt", "dir/"},         // a "directory" key
		{"bkt", "missing"},      // no file
		{"bkt", "link"},         // a symbolic link out
		{"bkt", "dirlink/obj"},  // through a symbolic link
		{"bkt", "../secret"},    // refused name
		{"bkt", "dir/../../x"},  // refused name
		{"BKT", "dir/obj"},      // refused bucket name
		{"b", "dir/obj"},        // refused bucket name
		{"nobucket", "dir/obj"}, // no bucket
	} {
		if p, ok := objectFile(root, c.bucket, c.key); ok {
			t.Errorf("%s/%s: %q", c.bucket, c.key, p)
		}
	}
	if _, ok := objectFile(filepath.Join(root, "none"), "bkt", "dir/obj"); ok {
		t.Error("a missing objects directory")
	}
	if _, ok := objectPath(root, "nobucket", "k"); ok {
		t.Error("objectPath in a missing bucket")
	}
	if _, ok := objectPath(root, "bkt", "k/"); ok {
		t.Error("objectPath of a directory key")
	}
}

// Through a running gateway: LocalObject is the file a PUT wrote, and
// LinkObject makes it a second object served with the same bytes and
// ETag, refusing a taken name and a missing bucket; with sidecar metadata
// (no xattrs) it declines, so the caller copies.
func TestLocalAndLinkedObjects(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("links of open files need Linux")
	}
	tg := startGateway(t)
	ctx := context.Background()
	for _, b := range []string{"src", "dst"} {
		if _, err := tg.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)}); err != nil {
			t.Fatal(err)
		}
	}
	body := randomBytes(t, 100_000)
	mustPutObject(t, tg.s3, "src", "a/b.bin", body)
	mustPutObject(t, tg.s3, "dst", "taken", []byte("taken"))
	p, ok := tg.g.LocalObject("src", "a/b.bin")
	if !ok {
		t.Fatal("no local file for a stored object")
	}
	if _, ok := tg.g.LocalObject("src", "a/"); ok {
		t.Fatal("a directory key has a local file")
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if tg.g.MetadataMode() != "xattr" {
		if ok, err := tg.g.LinkObject(f, "dst", "copy.bin"); ok || err != nil {
			t.Fatalf("sidecar metadata: linked %v %v", ok, err)
		}
		t.Skip("the file system has no user extended attributes: no links")
	}
	if ok, err := tg.g.LinkObject(f, "dst", "x/copy.bin"); !ok || err != nil {
		t.Fatalf("link: %v %v", ok, err)
	}
	if ok, err := tg.g.LinkObject(f, "dst", "taken"); ok || err != nil {
		t.Fatalf("link over a taken name: %v %v", ok, err)
	}
	if ok, err := tg.g.LinkObject(f, "nobucket", "k"); ok || err != nil {
		t.Fatalf("link into a missing bucket: %v %v", ok, err)
	}
	q, _ := tg.g.LocalObject("dst", "x/copy.bin")
	a, _ := os.Stat(p)
	b, err := os.Stat(q)
	if err != nil || !os.SameFile(a, b) {
		t.Fatalf("the linked object is not the same file: %v", err)
	}
	src, err := tg.s3.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("src"), Key: aws.String("a/b.bin")})
	if err != nil {
		t.Fatal(err)
	}
	got, err := tg.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("dst"), Key: aws.String("x/copy.bin")})
	if err != nil {
		t.Fatal(err)
	}
	data, err := io.ReadAll(got.Body)
	got.Body.Close()
	if err != nil || sum(data) != sum(body) || aws.ToString(got.ETag) != aws.ToString(src.ETag) {
		t.Fatalf("linked object: %v, ETag %s want %s", err, aws.ToString(got.ETag), aws.ToString(src.ETag))
	}
}
