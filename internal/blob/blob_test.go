package blob_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/authz"
	"github.com/openfinspace/openfinspace/internal/auth/sigv4"
	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/blob/blobtest"
	"github.com/openfinspace/openfinspace/internal/s3gw"
)

func TestMain(m *testing.M) {
	code := m.Run()
	blobtest.StopMinIO()
	os.Exit(code)
}

// embedded starts a gateway over a temporary directory and returns the
// embedded store.
func embedded(t testing.TB) (*blob.S3Store, *s3gw.Gateway, string) {
	t.Helper()
	dir := t.TempDir()
	root := &auth.Credential{AccessKeyID: "AKIAROOTROOTROOTROOT", SecretAccessKey: "root-secret-for-tests",
		Principal: auth.Principal{Kind: auth.Root, Account: "000000000000", ARN: "arn:aws:iam::000000000000:root"}}
	creds := auth.Chain{auth.Static{root.AccessKeyID: root}}
	gw, err := s3gw.New(s3gw.Config{
		ObjectsDir:  filepath.Join(dir, "objects"),
		AccountID:   "000000000000",
		Credentials: creds,
		Verifier:    &sigv4.Verifier{Credentials: creds},
		Authz:       &authz.Authorizer{},
		Logger:      testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		if err := gw.Close(ctx); err != nil {
			t.Errorf("closing the gateway: %v", err)
		}
	})
	st, err := blob.NewEmbedded(gw, root.AccessKeyID, root.SecretAccessKey)
	if err != nil {
		t.Fatal(err)
	}
	return st, gw, dir
}

func testLogger() *slog.Logger {
	if os.Getenv("OPENFINSPACE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.DiscardHandler)
}

func TestConformanceEmbedded(t *testing.T) {
	st, gw, dir := embedded(t)
	blobtest.Run(t, func(*testing.T) blob.Store { return st })
	if n := gw.Starts(); n != 1 {
		t.Errorf("the gateway process was started %d times", n)
	}
	// Everything stayed inside the objects directory.
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		if e.Name() != "objects" && e.Name() != "objects-meta" {
			t.Errorf("unexpected entry %s beside the objects directory", e.Name())
		}
	}
}

// atOnly is a body that can only be read at offsets: Read fails.
type atOnly struct{ *bytes.Reader }

func (a atOnly) Read([]byte) (int, error) {
	return 0, errors.New("the body was read as a stream (copied) rather than at offsets")
}

// TestPutSeekableNotCopied: a seekable body reaches the SDK as it is (a
// section of it, read at offsets), one part or several, rather than being
// streamed into the uploader's part buffers.
func TestPutSeekableNotCopied(t *testing.T) {
	st, _, _ := embedded(t)
	ctx := context.Background()
	if err := st.EnsureBucket(ctx, "seekable"); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 1 << 20, blob.DefaultPartSize + 5} {
		data := bytes.Repeat([]byte{byte(n), 1, 2, 3}, n/4+1)[:n]
		key := fmt.Sprintf("k%d", n)
		if _, err := st.Put(ctx, "seekable", key, atOnly{bytes.NewReader(data)}, int64(n)); err != nil {
			t.Fatalf("Put of %d bytes: %v", n, err)
		}
		rc, _, err := st.Get(ctx, "seekable", key)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, data) {
			t.Errorf("%d bytes: read back %d different bytes", n, len(got))
		}
	}
}

// testPutSHA256: a body put with its SHA-256 is stored byte for byte, and
// the service still checks it against the hash it was signed with: a
// wrong hash (which the SDK would have replaced had it hashed the body
// itself) is refused and stores nothing.
func testPutSHA256(t *testing.T, st *blob.S3Store, bucket string) {
	ctx := context.Background()
	if err := st.EnsureBucket(ctx, bucket); err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{0, 5, 3 << 20, blob.DefaultPartSize + 9} {
		data := bytes.Repeat([]byte{byte(n), 7, 9}, n/3+1)[:n]
		sum := sha256.Sum256(data)
		key := fmt.Sprintf("sha/%d", n)
		if _, err := st.PutSHA256(ctx, bucket, key, bytes.NewReader(data), int64(n), hex.EncodeToString(sum[:])); err != nil {
			t.Fatalf("PutSHA256 of %d bytes: %v", n, err)
		}
		rc, _, err := st.Get(ctx, bucket, key)
		if err != nil {
			t.Fatal(err)
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if !bytes.Equal(got, data) {
			t.Errorf("%d bytes: read back %d different bytes", n, len(got))
		}
	}
	if _, err := st.Put(ctx, bucket, "sha/keep", strings.NewReader("original"), 8); err != nil {
		t.Fatal(err)
	}
	other := sha256.Sum256([]byte("something else"))
	for _, key := range []string{"sha/keep", "sha/new"} {
		_, err := st.PutSHA256(ctx, bucket, key, strings.NewReader("tampered"), 8, hex.EncodeToString(other[:]))
		if err == nil || !strings.Contains(err.Error(), "XAmzContentSHA256Mismatch") {
			t.Errorf("PutSHA256 of %s with the wrong hash: error %v, want XAmzContentSHA256Mismatch", key, err)
		}
	}
	if _, err := st.Head(ctx, bucket, "sha/new"); !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("a refused PutSHA256 left an object (Head error %v)", err)
	}
	rc, _, err := st.Get(ctx, bucket, "sha/keep")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "original" {
		t.Errorf("a refused PutSHA256 changed the object: %q", got)
	}
	for _, bad := range []string{"", "abc", strings.Repeat("A", 64), strings.Repeat("g", 64)} {
		if _, err := st.PutSHA256(ctx, bucket, "sha/bad", strings.NewReader("x"), 1, bad); err == nil {
			t.Errorf("PutSHA256 with sum %q succeeded", bad)
		}
	}
	// blob.PutSHA256 passes the sum on to an S3Store.
	if _, err := blob.PutSHA256(ctx, st, bucket, "sha/helper", strings.NewReader("tampered"), 8, hex.EncodeToString(other[:])); err == nil {
		t.Error("blob.PutSHA256 with the wrong hash succeeded")
	}
}

func TestPutSHA256Embedded(t *testing.T) {
	st, _, _ := embedded(t)
	testPutSHA256(t, st, "sha256")
}

func TestPutSHA256MinIO(t *testing.T) {
	m := blobtest.RequireMinIO(t)
	st, err := blob.NewS3(blob.S3Options{Endpoint: m.URL, Region: "us-east-1", AccessKeyID: m.User,
		SecretAccessKey: m.Password, PathStyle: true, BucketPrefix: "ofs-"})
	if err != nil {
		t.Fatal(err)
	}
	testPutSHA256(t, st, "sha256")
}

// countingGateway counts the requests the embedded store sends.
type countingGateway struct {
	*s3gw.Gateway
	mu   sync.Mutex
	reqs []string
}

func (g *countingGateway) HTTPClient() *http.Client {
	inner := g.Gateway.HTTPClient().Transport
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		g.mu.Lock()
		g.reqs = append(g.reqs, r.Method+" "+r.URL.Path)
		g.mu.Unlock()
		return inner.RoundTrip(r)
	})}
}

func (g *countingGateway) take() []string {
	g.mu.Lock()
	defer g.mu.Unlock()
	r := g.reqs
	g.reqs = nil
	return r
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// TestMissRequests: a missing object in a bucket the store knows exists
// costs one request (no HeadBucket to tell ErrNotFound from ErrNoBucket);
// a bucket deleted behind the store's back is ErrNoBucket again once S3
// has said NoSuchBucket.
func TestMissRequests(t *testing.T) {
	_, gw, _ := embedded(t)
	cg := &countingGateway{Gateway: gw}
	root := "AKIAROOTROOTROOTROOT"
	st, err := blob.NewEmbedded(cg, root, "root-secret-for-tests")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := st.EnsureBucket(ctx, "known"); err != nil {
		t.Fatal(err)
	}
	cg.take()
	if _, err := st.Head(ctx, "known", "missing"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Head of a missing object: %v", err)
	}
	if _, _, err := st.Get(ctx, "known", "missing"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Get of a missing object: %v", err)
	}
	if r := cg.take(); len(r) != 2 {
		t.Errorf("a missing object's Head and Get sent %v, want one request each", r)
	}
	// A bucket the store never saw: one check, then none.
	if _, err := st.Client().CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("other")}); err != nil {
		t.Fatal(err)
	}
	cg.take()
	for range 3 {
		if _, err := st.Head(ctx, "other", "missing"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("Head of a missing object: %v", err)
		}
	}
	if r := cg.take(); len(r) != 4 {
		t.Errorf("three Heads of missing objects in a new bucket sent %v, want 4 requests", r)
	}
	if _, err := st.Head(ctx, "never-made", "k"); !errors.Is(err, blob.ErrNoBucket) {
		t.Errorf("Head in a missing bucket: %v", err)
	}
	// Deleted behind the store's back: a Get says NoSuchBucket, and
	// Head and EnsureBucket know it from then on.
	if _, err := st.Client().DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: aws.String("known")}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.Get(ctx, "known", "missing"); !errors.Is(err, blob.ErrNoBucket) {
		t.Errorf("Get in a deleted bucket: %v", err)
	}
	if _, err := st.Head(ctx, "known", "missing"); !errors.Is(err, blob.ErrNoBucket) {
		t.Errorf("Head in a deleted bucket after NoSuchBucket: %v", err)
	}
	if err := st.EnsureBucket(ctx, "known"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, "known", "k", strings.NewReader("x"), 1); err != nil {
		t.Errorf("Put after EnsureBucket recreated the bucket: %v", err)
	}
}

func TestConformanceMinIOBucketPerBucket(t *testing.T) {
	m := blobtest.RequireMinIO(t)
	st, err := blob.NewS3(blob.S3Options{Endpoint: m.URL, Region: "us-east-1", AccessKeyID: m.User,
		SecretAccessKey: m.Password, PathStyle: true, BucketPrefix: "ofs-"})
	if err != nil {
		t.Fatal(err)
	}
	blobtest.Run(t, func(*testing.T) blob.Store { return st })
}

func TestConformanceMinIOSingleBucket(t *testing.T) {
	m := blobtest.RequireMinIO(t)
	admin, err := blob.NewS3(blob.S3Options{Endpoint: m.URL, Region: "us-east-1", AccessKeyID: m.User,
		SecretAccessKey: m.Password, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	// Its own name: the MinIO may be shared with other packages and runs.
	single := fmt.Sprintf("openfinspace-single-%x", time.Now().UnixNano())
	if err := admin.EnsureBucket(context.Background(), single); err != nil {
		t.Fatal(err)
	}
	cfg, err := blob.ConfigFromEnv(envMap(map[string]string{
		blob.EnvEndpoint: m.URL, blob.EnvBucket: single,
		blob.EnvAccessKeyID: m.User, blob.EnvSecretKey: m.Password, blob.EnvEmbedded: "false",
	}))
	if err != nil {
		t.Fatal(err)
	}
	st, err := blob.Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if st.Kind() != "s3" {
		t.Errorf("Kind = %s", st.Kind())
	}
	blobtest.Run(t, func(*testing.T) blob.Store { return st })
	if b, p := st.PhysicalLocation("logical", "ingestion/"); b != single || p != "logical/ingestion/" {
		t.Errorf("PhysicalLocation = %s, %s", b, p)
	}
}

func envMap(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfigFromEnv(t *testing.T) {
	c, err := blob.ConfigFromEnv(envMap(nil))
	if err != nil || c.External || c.NoEndpoint {
		t.Errorf("empty environment: %+v, %v", c, err)
	}
	c, err = blob.ConfigFromEnv(envMap(map[string]string{
		blob.EnvEndpoint: "http://127.0.0.1:9000", blob.EnvBucketPrefix: "p-", blob.EnvAccessKeyID: "a",
		blob.EnvSecretKey: "s", blob.EnvRegion: "eu-west-1", blob.EnvPathStyle: "false", blob.EnvEmbedded: "false",
	}))
	if err != nil || !c.External || !c.NoEndpoint || c.S3.PathStyle || c.S3.Region != "eu-west-1" || c.S3.BucketPrefix != "p-" {
		t.Errorf("external: %+v, %v", c, err)
	}
	for name, env := range map[string]map[string]string{
		"embedded off without external":     {blob.EnvEmbedded: "false"},
		"no credentials":                    {blob.EnvEndpoint: "http://x"},
		"bucket and prefix":                 {blob.EnvEndpoint: "http://x", blob.EnvBucket: "abc", blob.EnvBucketPrefix: "p", blob.EnvAccessKeyID: "a", blob.EnvSecretKey: "s"},
		"bad path style":                    {blob.EnvPathStyle: "maybe"},
		"single bucket behind the endpoint": {blob.EnvEndpoint: "http://x", blob.EnvBucket: "abc", blob.EnvAccessKeyID: "a", blob.EnvSecretKey: "s"},
		"prefix behind the endpoint":        {blob.EnvEndpoint: "http://x", blob.EnvBucketPrefix: "p-", blob.EnvAccessKeyID: "a", blob.EnvSecretKey: "s"},
		"bad endpoint":                      {blob.EnvEndpoint: "127.0.0.1:9000", blob.EnvAccessKeyID: "a", blob.EnvSecretKey: "s"},
	} {
		if _, err := blob.ConfigFromEnv(envMap(env)); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
}

func TestValidNames(t *testing.T) {
	for _, ok := range []string{"abc", "my-bucket.data", "finspace-us-east-1-000000000000-5lcklyegnrzyxd2aa6qk72", strings.Repeat("a", 63)} {
		if err := blob.ValidBucketName(ok); err != nil {
			t.Errorf("ValidBucketName(%q) = %v", ok, err)
		}
	}
	for _, ok := range []string{"a", "a/b/c.csv", "folder/", "..a/b..", "a/.hidden", "日本"} {
		if err := blob.ValidKey(ok); err != nil {
			t.Errorf("ValidKey(%q) = %v", ok, err)
		}
	}
}

func TestParseURI(t *testing.T) {
	b, k, err := blob.ParseURI("s3://bucket-1/a/b c.csv")
	if err != nil || b != "bucket-1" || k != "a/b c.csv" {
		t.Errorf("ParseURI = %q %q %v", b, k, err)
	}
	for _, bad := range []string{"s3://", "s3://bucket", "s3://bucket/", "http://bucket/k", "s3://BAD/k", "s3://bucket//k"} {
		if _, _, err := blob.ParseURI(bad); !errors.Is(err, blob.ErrInvalidName) {
			t.Errorf("ParseURI(%q) = %v", bad, err)
		}
	}
}

func TestWorkingLocation(t *testing.T) {
	st, _, _ := embedded(t)
	ctx := context.Background()
	b, p, err := blob.WorkingLocation(ctx, st, "000000000000", "us-east-1", "5lcklyegnrzyxd2aa6qk72", "INGESTION")
	if err != nil {
		t.Fatal(err)
	}
	if b != "finspace-us-east-1-000000000000-5lcklyegnrzyxd2aa6qk72" || p != "ingestion/" {
		t.Errorf("INGESTION location = %s/%s", b, p)
	}
	b2, p2, err := blob.WorkingLocation(ctx, st, "000000000000", "us-east-1", "5lcklyegnrzyxd2aa6qk72", "SAGEMAKER")
	if err != nil || b2 != b || p2 != "sagemaker/" {
		t.Errorf("SAGEMAKER location = %s/%s, %v", b2, p2, err)
	}
	if _, _, err := blob.WorkingLocation(ctx, st, "000000000000", "us-east-1", "env", "ELSEWHERE"); err == nil {
		t.Error("unknown location type accepted")
	}
	// The bucket exists and is writable through the store.
	if _, err := st.Put(ctx, b, p+"f.csv", strings.NewReader("a,b\n"), 4); err != nil {
		t.Fatal(err)
	}
	rc, _, err := st.Get(ctx, b, p+"f.csv")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != "a,b\n" {
		t.Errorf("read back %q", got)
	}
	// Long or odd inputs still give valid, distinct names.
	long := blob.WorkingLocationBucket("000000000000", "ap-southeast-4", strings.Repeat("x", 40))
	odd := blob.WorkingLocationBucket("000000000000", "us-east-1", "Env_ID")
	odd2 := blob.WorkingLocationBucket("000000000000", "us-east-1", "env_id")
	for _, n := range []string{long, odd, odd2} {
		if err := blob.ValidBucketName(n); err != nil {
			t.Errorf("WorkingLocationBucket gave %q: %v", n, err)
		}
	}
	if odd == odd2 {
		t.Errorf("environment ids differing in case share a bucket: %s", odd)
	}
}

// syncingGateway counts the Syncs the store asks the gateway for.
type syncingGateway struct {
	*s3gw.Gateway
	syncs int
}

func (g *syncingGateway) Sync(ctx context.Context) error {
	g.syncs++
	return g.Gateway.Sync(ctx)
}

// TestEmbeddedSync: blob.Sync of the embedded store syncs the gateway's
// object files (what a changeset does before it commits a result).
func TestEmbeddedSync(t *testing.T) {
	_, gw, _ := embedded(t)
	sg := &syncingGateway{Gateway: gw}
	st, err := blob.NewEmbedded(sg, "AKIAROOTROOTROOTROOT", "root-secret-for-tests")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := st.EnsureBucket(ctx, "synced"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.Put(ctx, "synced", "k", strings.NewReader("durable"), 7); err != nil {
		t.Fatal(err)
	}
	if err := blob.Sync(ctx, st); err != nil || sg.syncs != 1 {
		t.Errorf("blob.Sync: %v after %d gateway syncs, want nil after 1", err, sg.syncs)
	}
}
