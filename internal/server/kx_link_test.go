package server_test

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/finspace/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openfinspace/openfinspace/internal/kx/kxfs"
	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

// TestKxChangesetLinksLocalSources: with the embedded store, a changeset
// stores a new content read in place by hard-linking the source's object
// file into the content store (no copy); the content is what was hashed
// whatever happens to the source afterwards (overwritten, deleted), and
// the gateway serves it with its ETag.
func TestKxChangesetLinksLocalSources(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("links of open files need Linux")
	}
	dir := t.TempDir()
	srv, clk := servertest.StartClocked(t, func(c *server.Config) { c.DataDir = dir })
	c := servertest.Finspace(srv)
	s3c := rootS3(srv)
	ctx := context.Background()
	created, err := c.CreateKxEnvironment(ctx, &finspace.CreateKxEnvironmentInput{Name: aws.String("kxlink"),
		KmsKeyId: aws.String("arn:aws:kms:us-east-1:000000000000:key/k")})
	if err != nil {
		t.Fatal(err)
	}
	env := aws.ToString(created.EnvironmentId)
	waitKxStatus(t, c, clk, env, types.EnvironmentStatusCreated)
	if _, err := c.CreateKxDatabase(ctx, &finspace.CreateKxDatabaseInput{EnvironmentId: &env, DatabaseName: aws.String("hdb"), ClientToken: aws.String("db")}); err != nil {
		t.Fatal(err)
	}
	mustCreateBucket(t, s3c, "kxsrc")
	files := map[string]string{"sym": "`A`B", "2024.01.01/t/.d": "`sym`px", "2024.01.01/t/px": strings.Repeat("linked bytes ", 4000)}
	uploadLayout(t, s3c, "kxsrc", "hdb/", files)
	cs := changeset(t, c, env, "hdb", put("s3://kxsrc/hdb/", "/"))
	if cs.Status != types.ChangesetStatusCompleted {
		t.Fatalf("changeset: %s %+v", cs.Status, cs.ErrorInfo)
	}

	objects := filepath.Join(dir, "objects")
	content := srv.KxContentBucket(servertest.Region)
	contentFile := func(body string) string {
		sum := sha256.Sum256([]byte(body))
		h := hex.EncodeToString(sum[:])
		return filepath.Join(objects, content, "sha256", h[:2], h)
	}
	for p, body := range files {
		src, err := os.Stat(filepath.Join(objects, "kxsrc", "hdb", filepath.FromSlash(p)))
		if err != nil {
			t.Fatal(err)
		}
		dst, err := os.Stat(contentFile(body))
		if err != nil {
			t.Fatalf("content of %s: %v", p, err)
		}
		if !os.SameFile(src, dst) {
			t.Errorf("%s: the content is a copy, not a link of the source", p)
		}
	}

	// The source is overwritten, then deleted: the stored content stays
	// what was hashed, and the gateway serves it with its ETag.
	px := files["2024.01.01/t/px"]
	mustPut(t, s3c, "kxsrc", "hdb/2024.01.01/t/px", "something else")
	if _, err := s3c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("kxsrc"), Key: aws.String("hdb/sym")}); err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{px, files["sym"]} {
		sum := sha256.Sum256([]byte(body))
		h := hex.EncodeToString(sum[:])
		out, err := s3c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(content), Key: aws.String("sha256/" + h[:2] + "/" + h)})
		if err != nil {
			t.Fatalf("GetObject of content %s: %v", h, err)
		}
		got, _ := io.ReadAll(out.Body)
		out.Body.Close()
		md := md5.Sum([]byte(body))
		if string(got) != body || strings.Trim(aws.ToString(out.ETag), `"`) != hex.EncodeToString(md[:]) {
			t.Errorf("content %s: %d bytes, ETag %s; want the %d bytes hashed, ETag %x", h, len(got), aws.ToString(out.ETag), len(body), md)
		}
	}
	m, err := srv.Kx().Manifest(ctx, servertest.Region, env, "hdb", aws.ToString(cs.ChangesetId))
	if err != nil {
		t.Fatal(err)
	}
	cache := &kxfs.Cache{Root: filepath.Join(t.TempDir(), "cache"), Fetch: srv.Kx().Fetch(servertest.Region)}
	tree := filepath.Join(t.TempDir(), "tree")
	if err := cache.Materialize(ctx, m, tree); err != nil {
		t.Fatal(err)
	}
	for p, body := range files {
		got, err := os.ReadFile(filepath.Join(tree, filepath.FromSlash(p)))
		if err != nil || string(got) != body {
			t.Errorf("materialized %s: %d bytes (%v), want the bytes of the version", p, len(got), err)
		}
	}
}
