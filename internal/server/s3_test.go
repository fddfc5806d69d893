package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/credstore"
	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
	fd "github.com/openfinspace/openfinspace/internal/testclient/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

// s3For returns an S3 client of srv's main port (path-style).
func s3For(srv *server.Server, creds aws.CredentialsProvider, opts ...func(*s3.Options)) *s3.Client {
	o := s3.Options{
		Region:           servertest.Region,
		BaseEndpoint:     aws.String(srv.URL()),
		UsePathStyle:     true,
		Credentials:      creds,
		RetryMaxAttempts: 1,
	}
	for _, f := range opts {
		f(&o)
	}
	return s3.New(o)
}

func rootS3(srv *server.Server, opts ...func(*s3.Options)) *s3.Client {
	r := srv.Root()
	return s3For(srv, credentials.NewStaticCredentialsProvider(r.AccessKeyID, r.SecretAccessKey, ""), opts...)
}

func mustCreateBucket(t *testing.T, c *s3.Client, bucket string) {
	t.Helper()
	if _, err := c.CreateBucket(context.Background(), &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatalf("CreateBucket(%s): %v", bucket, err)
	}
}

func mustPut(t *testing.T, c *s3.Client, bucket, key, body string) {
	t.Helper()
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: strings.NewReader(body)}); err != nil {
		t.Fatalf("PutObject(%s/%s): %v", bucket, key, err)
	}
}

func TestS3RoundTripWithSDK(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t)
	c := rootS3(srv)
	ctx := context.Background()
	mustCreateBucket(t, c, "data")
	_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("data")})
	servertest.WantS3Error(t, "CreateBucket twice", err, "BucketAlreadyOwnedByYou", 409)

	for _, k := range []string{"a.txt", "dir/b.txt", "dir/sub/c.txt", "dir2/d.txt", "sp ace+plus=eq.txt"} {
		mustPut(t, c, "data", k, "body of "+k)
	}
	got := servertest.S3Body(t, c, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("sp ace+plus=eq.txt")})
	if got != "body of sp ace+plus=eq.txt" {
		t.Errorf("GetObject = %q", got)
	}
	head, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("data"), Key: aws.String("dir/b.txt")})
	if err != nil || aws.ToInt64(head.ContentLength) != int64(len("body of dir/b.txt")) {
		t.Errorf("HeadObject = %+v, %v", head, err)
	}
	// Ranged read.
	got = servertest.S3Body(t, c, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("a.txt"), Range: aws.String("bytes=2-5")})
	if got != "dy o" {
		t.Errorf("ranged GetObject = %q", got)
	}

	list, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("data"), Prefix: aws.String("dir/"), Delimiter: aws.String("/")})
	if err != nil {
		t.Fatal(err)
	}
	var keys, prefixes []string
	for _, o := range list.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	for _, p := range list.CommonPrefixes {
		prefixes = append(prefixes, aws.ToString(p.Prefix))
	}
	if !slices.Equal(keys, []string{"dir/b.txt"}) || !slices.Equal(prefixes, []string{"dir/sub/"}) {
		t.Errorf("ListObjectsV2 dir/ / = %v %v", keys, prefixes)
	}
	// Paging.
	var all []string
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: aws.String("data"), MaxKeys: aws.Int32(2)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range page.Contents {
			all = append(all, aws.ToString(o.Key))
		}
	}
	if len(all) != 5 {
		t.Errorf("paged listing = %v", all)
	}

	// Copy, presigned GET, delete, batch delete.
	if _, err := c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: aws.String("data"), Key: aws.String("copy.txt"),
		CopySource: aws.String("data/a.txt")}); err != nil {
		t.Fatalf("CopyObject: %v", err)
	}
	pre, err := s3.NewPresignClient(c).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("copy.txt")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(pre.URL)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(b) != "body of a.txt" {
		t.Errorf("presigned GET: %d %q", resp.StatusCode, b)
	}
	if _, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("data"), Key: aws.String("copy.txt")}); err != nil {
		t.Fatal(err)
	}
	_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("data"), Key: aws.String("copy.txt")})
	servertest.WantS3Error(t, "HeadObject after delete", err, "NotFound", 404)
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("data"), Key: aws.String("copy.txt")})
	servertest.WantS3Error(t, "GetObject after delete", err, "NoSuchKey", 404)
	del, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: aws.String("data"), Delete: &s3types.Delete{
		Objects: []s3types.ObjectIdentifier{{Key: aws.String("dir/b.txt")}, {Key: aws.String("dir/sub/c.txt")}}}})
	if err != nil || len(del.Deleted) != 2 {
		t.Errorf("DeleteObjects = %+v, %v", del, err)
	}
	buckets, err := c.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(buckets.Buckets) != 1 || aws.ToString(buckets.Buckets[0].Name) != "data" {
		t.Errorf("ListBuckets = %+v, %v", buckets, err)
	}
	_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("nobucket"), Key: aws.String("k")})
	servertest.WantS3Error(t, "GetObject in a missing bucket", err, "NoSuchBucket", 404)

	// The same objects through the blob interface.
	rc, info, err := srv.Blobs().Get(ctx, "data", "dir2/d.txt")
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(rc)
	rc.Close()
	if string(b) != "body of dir2/d.txt" || info.Size != int64(len(b)) {
		t.Errorf("blob Get = %q %+v", b, info)
	}
}

// pattern is n deterministic bytes, generated as read.
type pattern struct{ off, n int64 }

func (p *pattern) Read(b []byte) (int, error) {
	if p.off >= p.n {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n-p.off {
		b = b[:p.n-p.off]
	}
	for i := range b {
		x := p.off + int64(i)
		b[i] = byte(x ^ x>>8 ^ x>>16)
	}
	p.off += int64(len(b))
	return len(b), nil
}

func sha(r io.Reader) string {
	h := sha256.New()
	_, _ = io.Copy(h, r)
	return hex.EncodeToString(h.Sum(nil))
}

func TestS3UploadManagerMultipart(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t)
	c := rootS3(srv)
	ctx := context.Background()
	mustCreateBucket(t, c, "big")
	const n = 40<<20 + 333
	want := sha(&pattern{n: n})
	up := manager.NewUploader(c, func(u *manager.Uploader) { u.PartSize = 5 << 20; u.Concurrency = 3 })
	out, err := up.Upload(ctx, &s3.PutObjectInput{Bucket: aws.String("big"), Key: aws.String("data.bin"),
		Body: struct{ io.Reader }{&pattern{n: n}}})
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	if out.UploadID == "" || len(out.CompletedParts) != 9 {
		t.Errorf("not a multipart upload: id %q, %d parts", out.UploadID, len(out.CompletedParts))
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "down.bin"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	down := manager.NewDownloader(c, func(d *manager.Downloader) { d.PartSize = 8 << 20; d.Concurrency = 3 })
	got, err := down.Download(ctx, f, &s3.GetObjectInput{Bucket: aws.String("big"), Key: aws.String("data.bin")})
	if err != nil || got != n {
		t.Fatalf("download: %d bytes, %v", got, err)
	}
	_, _ = f.Seek(0, 0)
	if sha(f) != want {
		t.Error("downloaded object differs from the upload")
	}
	// The blob store reads the same object.
	rc, info, err := srv.Blobs().Get(ctx, "big", "data.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if sha(rc) != want || info.Size != n || !strings.HasSuffix(info.ETag, "-9") {
		t.Errorf("blob Get of the multipart object: size %d etag %s", info.Size, info.ETag)
	}
	// No upload is left in progress.
	mp, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String("big")})
	if err != nil || len(mp.Uploads) != 0 {
		t.Errorf("ListMultipartUploads = %+v, %v", mp, err)
	}
}

// issueFor issues a credential for p from a second credential store over
// srv's (see sideStore).
func issueFor(t *testing.T, srv *server.Server, dir string, p auth.Principal, ttl time.Duration, now func() time.Time) *auth.Credential {
	t.Helper()
	cs := sideStore(t, srv, dir, now)
	cred, err := cs.Issue(context.Background(), credstore.IssueInput{Principal: p, TTL: ttl, Group: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func TestS3TemporaryCredentials(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, _ := servertest.StartClocked(t, func(c *server.Config) { c.DataDir = dir })
	ctx := context.Background()
	root := rootS3(srv)
	mustCreateBucket(t, root, "shared")

	// An STS session.
	r := srv.Root()
	stsc := stsClient(srv, credentials.NewStaticCredentialsProvider(r.AccessKeyID, r.SecretAccessKey, ""))
	sess, err := stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/Uploader"),
		RoleSessionName: aws.String("s3-test")})
	if err != nil {
		t.Fatal(err)
	}
	sc := s3For(srv, sessionProvider(sess))
	mustPut(t, sc, "shared", "from-session.txt", "session")
	mustCreateBucket(t, sc, "session-bucket")
	// A FinSpace user's programmatic credentials.
	live := liveUser(t, srv, servertest.Region)
	user := issueFor(t, srv, dir, live, time.Hour, nil)
	uc := s3For(srv, credsOf(user))
	// The user works in its environment's working bucket only (see
	// tests/s3 TestEnvironmentIsolation for the whole rule).
	work := blob.WorkingLocationBucket("000000000000", "us-east-1", live.EnvironmentID)
	mustCreateBucket(t, sc, work)
	mustPut(t, uc, work, "from-user.txt", "user")
	if got := servertest.S3Body(t, root, &s3.GetObjectInput{Bucket: aws.String(work), Key: aws.String("from-user.txt")}); got != "user" {
		t.Errorf("root reads %q", got)
	}
	mustPut(t, sc, work, "from-session.txt", "session")
	if got := servertest.S3Body(t, uc, &s3.GetObjectInput{Bucket: aws.String(work), Key: aws.String("from-session.txt")}); got != "session" {
		t.Errorf("user reads %q", got)
	}
	_, err = uc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("shared"), Key: aws.String("from-session.txt")})
	servertest.WantS3Error(t, "user reads outside its working bucket", err, "AccessDenied", 403)
	// The account owns every bucket, whoever created it.
	acl, err := root.GetBucketAcl(ctx, &s3.GetBucketAclInput{Bucket: aws.String("session-bucket")})
	if err != nil || aws.ToString(acl.Owner.ID) != "000000000000" {
		t.Errorf("GetBucketAcl = %+v, %v", acl, err)
	}

	// Forged and missing session tokens, an expired credential, unknown key,
	// wrong secret.
	forged := s3For(srv, credentials.NewStaticCredentialsProvider(user.AccessKeyID, user.SecretAccessKey, "forged"))
	_, err = forged.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("shared")})
	servertest.WantS3Error(t, "forged session token", err, "", 400)
	_, err = forged.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("shared")})
	servertest.WantS3Error(t, "forged session token", err, "InvalidToken", 400)
	noToken := s3For(srv, credentials.NewStaticCredentialsProvider(user.AccessKeyID, user.SecretAccessKey, ""))
	_, err = noToken.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("shared")})
	servertest.WantS3Error(t, "missing session token", err, "InvalidToken", 400)
	old := issueFor(t, srv, dir, live, time.Minute, func() time.Time { return time.Now().Add(-2 * time.Minute) })
	_, err = s3For(srv, credsOf(old)).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("shared")})
	servertest.WantS3Error(t, "expired credential", err, "ExpiredToken", 400)
	_, err = s3For(srv, credentials.NewStaticCredentialsProvider("AKIAUNKNOWNUNKNOWN00", "secret", "")).
		ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("shared")})
	servertest.WantS3Error(t, "unknown access key", err, "InvalidAccessKeyId", 403)
	wrong := s3For(srv, credentials.NewStaticCredentialsProvider(r.AccessKeyID, r.SecretAccessKey+"x", ""))
	_, err = wrong.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("shared")})
	servertest.WantS3Error(t, "wrong secret", err, "SignatureDoesNotMatch", 403)
	_, err = wrong.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("shared"), Key: aws.String("evil"), Body: strings.NewReader("x")})
	servertest.WantS3Error(t, "PUT with a wrong secret", err, "SignatureDoesNotMatch", 403)
	_, err = root.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("shared"), Key: aws.String("evil")})
	servertest.WantS3Error(t, "object of a refused PUT", err, "NotFound", 404)
}

func TestS3ScopedReadCredentials(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := servertest.Start(t, func(c *server.Config) { c.DataDir = dir })
	ctx := context.Background()
	root := rootS3(srv)
	mustCreateBucket(t, root, "views")
	mustCreateBucket(t, root, "other")
	for _, k := range []string{"view1/part-0.parquet", "view1/sub/part-1.parquet", "view10/x", "view2/secret.parquet"} {
		mustPut(t, root, "views", k, "data:"+k)
	}
	mustPut(t, root, "other", "view1/x", "other")

	cred, err := srv.IssueScopedRead(ctx, "views", "view1/", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if cred.Principal.Kind != auth.ScopedRead || !strings.HasPrefix(cred.AccessKeyID, "ASIA") || cred.SessionToken == "" {
		t.Fatalf("IssueScopedRead = %+v", cred)
	}
	sc := s3For(srv, credsOf(cred))

	// Allowed: reads and listings under the prefix.
	if got := servertest.S3Body(t, sc, &s3.GetObjectInput{Bucket: aws.String("views"), Key: aws.String("view1/sub/part-1.parquet")}); got != "data:view1/sub/part-1.parquet" {
		t.Errorf("scoped GetObject = %q", got)
	}
	if _, err := sc.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("views"), Key: aws.String("view1/part-0.parquet")}); err != nil {
		t.Errorf("scoped HeadObject: %v", err)
	}
	list, err := sc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("views"), Prefix: aws.String("view1/"), Delimiter: aws.String("/")})
	if err != nil || len(list.Contents) != 1 || len(list.CommonPrefixes) != 1 {
		t.Errorf("scoped listing = %+v, %v", list, err)
	}
	if _, err := sc.ListObjects(ctx, &s3.ListObjectsInput{Bucket: aws.String("views"), Prefix: aws.String("view1/sub/")}); err != nil {
		t.Errorf("scoped ListObjects (v1): %v", err)
	}
	pre, err := s3.NewPresignClient(sc).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("views"), Key: aws.String("view1/part-0.parquet")})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(pre.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("presigned scoped GET: %d", resp.StatusCode)
	}

	// Denied: everything else.
	denied := func(what string, err error) {
		t.Helper()
		servertest.WantS3Error(t, what, err, "AccessDenied", 403)
	}
	_, err = sc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("views"), Key: aws.String("view2/secret.parquet")})
	denied("GetObject outside the prefix", err)
	_, err = sc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("views"), Key: aws.String("view1/../view2/secret.parquet")})
	denied("GetObject with ..", err)
	_, err = sc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("views"), Key: aws.String("view10/x")})
	denied("GetObject of a sibling prefix", err)
	_, err = sc.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("other"), Key: aws.String("view1/x")})
	denied("GetObject in another bucket", err)
	_, err = sc.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("views"), Key: aws.String("view2/secret.parquet")})
	servertest.WantS3Error(t, "HeadObject outside the prefix", err, "", 403)
	_, err = sc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("views")})
	denied("ListObjectsV2 without a prefix", err)
	_, err = sc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("views"), Prefix: aws.String("view2/")})
	denied("ListObjectsV2 of another prefix", err)
	_, err = sc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("views"), Prefix: aws.String("view1/../")})
	denied("ListObjectsV2 with ..", err)
	_, err = sc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("views"), Key: aws.String("view1/new"), Body: strings.NewReader("x")})
	denied("PutObject", err)
	_, err = sc.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String("views"), Key: aws.String("view1/part-0.parquet")})
	denied("DeleteObject", err)
	_, err = sc.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("views"), Key: aws.String("view1/mp")})
	denied("CreateMultipartUpload", err)
	_, err = sc.GetObjectAcl(ctx, &s3.GetObjectAclInput{Bucket: aws.String("views"), Key: aws.String("view1/part-0.parquet")})
	denied("GetObjectAcl", err)
	_, err = sc.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: aws.String("views"), Key: aws.String("view1/part-0.parquet")})
	denied("GetObjectTagging", err)
	_, err = sc.ListBuckets(ctx, &s3.ListBucketsInput{})
	denied("ListBuckets", err)
	_, err = sc.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("views")})
	servertest.WantS3Error(t, "HeadBucket", err, "", 403)
	_, err = sc.GetBucketLocation(ctx, &s3.GetBucketLocationInput{Bucket: aws.String("views")})
	denied("GetBucketLocation", err)
	// A wrong secret with the scoped key is a signature error, not a grant.
	_, err = s3For(srv, credentials.NewStaticCredentialsProvider(cred.AccessKeyID, "wrong", cred.SessionToken)).
		GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("views"), Key: aws.String("view1/part-0.parquet")})
	servertest.WantS3Error(t, "scoped key with a wrong secret", err, "SignatureDoesNotMatch", 403)
	// Nothing was written or deleted.
	if got := servertest.S3Body(t, root, &s3.GetObjectInput{Bucket: aws.String("views"), Key: aws.String("view1/part-0.parquet")}); got != "data:view1/part-0.parquet" {
		t.Errorf("object changed: %q", got)
	}
	_, err = root.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("views"), Key: aws.String("view1/new")})
	servertest.WantS3Error(t, "object of a refused scoped PUT", err, "NotFound", 404)

	// Expired scoped credentials.
	old := issueFor(t, srv, dir, auth.Principal{Kind: auth.ScopedRead, Account: "000000000000", ARN: "arn:aws:sts::000000000000:assumed-role/x/views",
		Bucket: "views", Prefix: "view1/"}, time.Minute, func() time.Time { return time.Now().Add(-time.Hour) })
	_, err = s3For(srv, credsOf(old)).GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("views"), Key: aws.String("view1/part-0.parquet")})
	servertest.WantS3Error(t, "expired scoped credential", err, "ExpiredToken", 400)

	// Bad arguments.
	for _, bad := range []struct{ bucket, prefix string }{{"Bad_Bucket", ""}, {"views", "../x"}, {"views", "/abs"}} {
		if _, err := srv.IssueScopedRead(ctx, bad.bucket, bad.prefix, time.Hour); err == nil {
			t.Errorf("IssueScopedRead(%q, %q) accepted", bad.bucket, bad.prefix)
		}
	}
	if _, err := srv.IssueScopedRead(ctx, "views", "", 30*24*time.Hour); err == nil {
		t.Error("IssueScopedRead accepted a 30-day lifetime")
	}
}

// signed builds a request signed for s3 with the root credentials.
func signedRequest(t *testing.T, srv *server.Server, method, path string, body []byte, payloadHash string, hdr map[string]string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	if payloadHash == "" {
		sum := sha256.Sum256(body)
		payloadHash = hex.EncodeToString(sum[:])
	}
	req.Header.Set("X-Amz-Content-Sha256", payloadHash)
	r := srv.Root()
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: r.AccessKeyID, SecretAccessKey: r.SecretAccessKey},
		req, payloadHash, "s3", servertest.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	return req
}

// rawExchange writes req to a new connection with the body bytes given
// (which may disagree with Content-Length) and returns the status line, or
// "" when the server closed the connection without answering.
func rawExchange(t *testing.T, srv *server.Server, req *http.Request, body []byte, closeAfter bool) string {
	t.Helper()
	u, _ := url.Parse(srv.URL())
	conn, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	var head bytes.Buffer
	fmt.Fprintf(&head, "%s %s HTTP/1.1\r\nHost: %s\r\n", req.Method, req.URL.RequestURI(), req.Host)
	if req.ContentLength > 0 && req.Header.Get("Content-Length") == "" {
		// http.Request keeps the length out of Header; it was signed.
		fmt.Fprintf(&head, "Content-Length: %d\r\n", req.ContentLength)
	}
	_ = req.Header.Write(&head)
	head.WriteString("\r\n")
	if _, err := conn.Write(append(head.Bytes(), body...)); err != nil {
		t.Fatal(err)
	}
	if closeAfter {
		_ = conn.(*net.TCPConn).CloseWrite()
	}
	_ = conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	line, _ := bufio.NewReader(conn).ReadString('\n')
	return strings.TrimSpace(line)
}

// chunked encodes body as an aws-chunked STREAMING-AWS4-HMAC-SHA256-PAYLOAD
// stream of chunk bytes each, signed from seed; corrupt breaks the
// signature of the second chunk.
func chunked(t *testing.T, srv *server.Server, seed string, at time.Time, body []byte, chunk int, corrupt bool) []byte {
	t.Helper()
	r := srv.Root()
	seedSig, err := hex.DecodeString(seed)
	if err != nil {
		t.Fatal(err)
	}
	ss := v4.NewStreamSigner(aws.Credentials{AccessKeyID: r.AccessKeyID, SecretAccessKey: r.SecretAccessKey}, "s3", servertest.Region, seedSig)
	var out bytes.Buffer
	for i := 0; ; i++ {
		n := min(chunk, len(body))
		part := body[:n]
		body = body[n:]
		sig, err := ss.GetSignature(context.Background(), nil, part, at)
		if err != nil {
			t.Fatal(err)
		}
		hexSig := hex.EncodeToString(sig)
		if corrupt && i == 1 {
			hexSig = strings.Repeat("0", 64)
		}
		fmt.Fprintf(&out, "%x;chunk-signature=%s\r\n", n, hexSig)
		out.Write(part)
		out.WriteString("\r\n")
		if n == 0 {
			return out.Bytes()
		}
	}
}

func streamingPut(t *testing.T, srv *server.Server, key string, body []byte, corrupt bool) *http.Response {
	t.Helper()
	at := time.Now().UTC()
	// Sign with the final Content-Length: encode once with a dummy seed to
	// learn the length (signatures have a fixed size).
	encLen := len(chunked(t, srv, strings.Repeat("0", 64), at, body, 64<<10, false))
	req, err := http.NewRequest("PUT", srv.URL()+"/edge/"+key, nil)
	if err != nil {
		t.Fatal(err)
	}
	const payload = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
	req.Header.Set("X-Amz-Content-Sha256", payload)
	req.Header.Set("Content-Encoding", "aws-chunked")
	req.Header.Set("X-Amz-Decoded-Content-Length", strconv.Itoa(len(body)))
	req.ContentLength = int64(encLen)
	r := srv.Root()
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: r.AccessKeyID, SecretAccessKey: r.SecretAccessKey},
		req, payload, "s3", servertest.Region, at); err != nil {
		t.Fatal(err)
	}
	authz := req.Header.Get("Authorization")
	seed := authz[strings.LastIndex(authz, "Signature=")+len("Signature="):]
	enc := chunked(t, srv, seed, at, body, 64<<10, corrupt)
	req.Body = io.NopCloser(bytes.NewReader(enc))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// leftovers lists the files under the objects directory other than the
// gateway's own bookkeeping and the given objects.
func leftovers(t *testing.T, dataDir string, bucket string, keep ...string) []string {
	t.Helper()
	var out []string
	root := filepath.Join(dataDir, "objects", bucket)
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		if strings.HasPrefix(rel, ".sgwtmp") && strings.Contains(rel, "multipart") {
			return nil
		}
		if !slices.Contains(keep, rel) {
			out = append(out, rel)
		}
		return nil
	})
	return out
}

func TestS3BadInput(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := servertest.Start(t, func(c *server.Config) { c.DataDir = dir })
	ctx := context.Background()
	c := rootS3(srv)
	mustCreateBucket(t, c, "edge")
	mustPut(t, c, "edge", "ok.txt", "fine")

	// Invalid bucket names.
	for _, b := range []string{"UPPER", "a_b", "ab", "-x-"} {
		_, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(b)})
		servertest.WantS3Error(t, "CreateBucket "+b, err, "InvalidBucketName", 400)
	}
	// Keys that would leave the bucket or the root are refused.
	for _, k := range []string{"../escape", "a/../../escape", "../../etc/passwd"} {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("edge"), Key: aws.String(k), Body: strings.NewReader("x")})
		if err == nil {
			t.Errorf("PutObject(%q) accepted", k)
		}
	}
	// Absolute-looking keys and NUL stay inside (or are refused).
	_, _ = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("edge"), Key: aws.String("/abs/path"), Body: strings.NewReader("x")})
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("edge"), Key: aws.String("nul\x00byte"), Body: strings.NewReader("x")})
	if err == nil {
		t.Error("a key with NUL was accepted")
	}
	for _, p := range []string{filepath.Join(dir, "escape"), filepath.Join(dir, "objects", "escape"), "/abs/path"} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s was written outside the bucket", p)
		}
	}

	// A body shorter than its Content-Length: the connection ends early.
	body := bytes.Repeat([]byte("s"), 4096)
	req := signedRequest(t, srv, "PUT", "/edge/short.bin", body, "UNSIGNED-PAYLOAD", nil)
	status := rawExchange(t, srv, req, body[:1000], true)
	if status != "" && !strings.Contains(status, " 400 ") {
		t.Errorf("short body: status %q, want 400 or no answer", status)
	}
	// A body longer than its Content-Length, signed over the whole body.
	req = signedRequest(t, srv, "PUT", "/edge/long.bin", body, "", nil)
	req.Header.Set("Content-Length", "1000")
	status = rawExchange(t, srv, req, body, false)
	if !strings.Contains(status, " 400 ") && !strings.Contains(status, " 403 ") {
		t.Errorf("longer body: status %q, want 400 (content SHA-256 mismatch)", status)
	}
	// A body that does not match its signed SHA-256.
	req = signedRequest(t, srv, "PUT", "/edge/tampered.bin", body, "", nil)
	tampered := bytes.Repeat([]byte("t"), len(body))
	status = rawExchange(t, srv, req, tampered, false)
	if !strings.Contains(status, " 400 ") && !strings.Contains(status, " 403 ") {
		t.Errorf("tampered body: status %q, want 400 or 403", status)
	}
	// aws-chunked streaming signatures: a good one, then a bad chunk.
	big := bytes.Repeat([]byte("0123456789abcdef"), 20000) // 320 000 bytes, 5 chunks
	if resp := streamingPut(t, srv, "streamed.bin", big, false); resp.StatusCode != 200 {
		t.Errorf("streaming upload: %s", resp.Status)
	}
	if got := servertest.S3Body(t, c, &s3.GetObjectInput{Bucket: aws.String("edge"), Key: aws.String("streamed.bin")}); got != string(big) {
		t.Errorf("streamed object read back %d bytes", len(got))
	}
	if resp := streamingPut(t, srv, "badchunk.bin", big, true); resp.StatusCode != 403 {
		t.Errorf("bad chunk signature: %s, want 403", resp.Status)
	}
	for _, k := range []string{"short.bin", "long.bin", "tampered.bin", "badchunk.bin"} {
		_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("edge"), Key: aws.String(k)})
		servertest.WantS3Error(t, "refused upload "+k, err, "NotFound", 404)
	}
	if left := leftovers(t, dir, "edge", "ok.txt", "streamed.bin", "abs/path"); len(left) != 0 {
		t.Errorf("refused uploads left files: %v", left)
	}
}

// slowReader yields n bytes slowly and signals after the first read.
type slowReader struct {
	n       int
	started chan struct{}
	once    sync.Once
}

func (s *slowReader) Read(p []byte) (int, error) {
	s.once.Do(func() { close(s.started) })
	if s.n <= 0 {
		return 0, io.EOF
	}
	time.Sleep(20 * time.Millisecond)
	k := min(len(p), 64<<10, s.n)
	s.n -= k
	return k, nil
}

func TestS3CrashMidUpload(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := servertest.Start(t, func(c *server.Config) { c.DataDir = dir })
	ctx := context.Background()
	c := rootS3(srv)
	mustCreateBucket(t, c, "crash")
	mustPut(t, c, "crash", "before.txt", "kept")

	sr := &slowReader{n: 20 << 20, started: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("crash"), Key: aws.String("partial.bin"),
			Body: sr, ContentLength: aws.Int64(20 << 20)}, s3.WithAPIOptions(v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware))
		done <- err
	}()
	<-sr.started
	time.Sleep(300 * time.Millisecond)
	srv.S3Gateway().Kill() // the gateway process dies mid-upload
	if err := <-done; err == nil {
		t.Fatal("the interrupted upload succeeded")
	}
	// The next request starts a new gateway process: no partial object.
	_, err := c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("crash"), Key: aws.String("partial.bin")})
	servertest.WantS3Error(t, "object of the interrupted upload", err, "NotFound", 404)
	if got := servertest.S3Body(t, c, &s3.GetObjectInput{Bucket: aws.String("crash"), Key: aws.String("before.txt")}); got != "kept" {
		t.Errorf("earlier object = %q", got)
	}
	if n := srv.S3Gateway().Starts(); n != 2 {
		t.Errorf("gateway started %d times, want 2", n)
	}
	if left := leftovers(t, dir, "crash", "before.txt"); len(left) != 0 {
		t.Errorf("the crash left files: %v", left)
	}
}

func TestS3PersistsAcrossRestartAndServersAreIsolated(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ctx := context.Background()
	first, err := server.New(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Start(ctx); err != nil {
		t.Fatal(err)
	}
	c := rootS3(first)
	mustCreateBucket(t, c, "durable")
	mustPut(t, c, "durable", "k.txt", "survives")
	// A second server in the same process has its own objects.
	other := servertest.Start(t)
	oc := rootS3(other)
	mustCreateBucket(t, oc, "durable")
	mustPut(t, oc, "durable", "k.txt", "other server")
	_, err = oc.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String("durable"), Key: aws.String("missing")})
	servertest.WantS3Error(t, "other server", err, "NotFound", 404)
	if err := first.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}

	again := servertest.Start(t, func(c *server.Config) { c.DataDir = dir })
	if got := servertest.S3Body(t, rootS3(again), &s3.GetObjectInput{Bucket: aws.String("durable"), Key: aws.String("k.txt")}); got != "survives" {
		t.Errorf("after restart = %q", got)
	}
	if got := servertest.S3Body(t, oc, &s3.GetObjectInput{Bucket: aws.String("durable"), Key: aws.String("k.txt")}); got != "other server" {
		t.Errorf("other server = %q", got)
	}
}

func TestS3Regions(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t)
	ctx := context.Background()
	mustCreateBucket(t, rootS3(srv), "regional")
	for _, region := range []string{"us-west-2", "eu-central-1"} {
		c := rootS3(srv, func(o *s3.Options) { o.Region = region })
		mustPut(t, c, "regional", region+".txt", region)
		if got := servertest.S3Body(t, c, &s3.GetObjectInput{Bucket: aws.String("regional"), Key: aws.String(region + ".txt")}); got != region {
			t.Errorf("%s: %q", region, got)
		}
	}
	// A region that is no name: refused before reaching the gateway.
	req, err := http.NewRequest("GET", srv.URL()+"/regional", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Amz-Content-Sha256", emptySHA256)
	r := srv.Root()
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: r.AccessKeyID, SecretAccessKey: r.SecretAccessKey},
		req, emptySHA256, "s3", "Bad_Region", time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(b), "<Code>AuthorizationHeaderMalformed</Code>") {
		t.Errorf("invalid region: %d %s", resp.StatusCode, b)
	}
}

// The finspace-data GetWorkingLocation flow at the domain level: the
// location, an upload into it as a client would (a FinSpace user's
// credentials, through the main port), and the server reading it back
// through the blob interface.
func TestS3WorkingLocationFlow(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv, _ := servertest.StartClocked(t, func(c *server.Config) { c.DataDir = dir })
	ctx := context.Background()
	live := liveUser(t, srv, "us-west-2")
	env := live.EnvironmentID
	bucket, prefix, err := blob.WorkingLocation(ctx, srv.Blobs(), "000000000000", "us-west-2", env, blob.LocationIngestion)
	if err != nil {
		t.Fatal(err)
	}
	if bucket != "finspace-us-west-2-000000000000-"+env || prefix != "ingestion/" {
		t.Errorf("location %s/%s", bucket, prefix)
	}
	user := issueFor(t, srv, dir, live, time.Hour, nil)
	uc := s3For(srv, credsOf(user), func(o *s3.Options) { o.Region = "us-west-2" })
	const csv = "sym,date,px\nAAPL,2024-01-02,185.6\n"
	key := prefix + "upload-1/prices.csv"
	mustPut(t, uc, bucket, key, csv)

	rc, info, err := blob.OpenSource(ctx, srv.Blobs(), "s3://"+bucket+"/"+key)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(rc)
	rc.Close()
	if string(got) != csv || info.Size != int64(len(csv)) {
		t.Errorf("read back %q (%+v)", got, info)
	}
	page, err := srv.Blobs().List(ctx, bucket, blob.ListOptions{Prefix: prefix, Delimiter: "/"})
	if err != nil || !slices.Equal(page.CommonPrefixes, []string{"ingestion/upload-1/"}) {
		t.Errorf("listing the location: %+v, %v", page, err)
	}
	// A missing source is a typed error.
	_, _, err = blob.OpenSource(ctx, srv.Blobs(), "s3://"+bucket+"/"+prefix+"missing.csv")
	if !errors.Is(err, blob.ErrNotFound) {
		t.Errorf("missing source: %v", err)
	}
	// The location is also readable through scoped credentials for it.
	cred, err := srv.IssueScopedRead(ctx, bucket, prefix, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if got := servertest.S3Body(t, s3For(srv, credsOf(cred), func(o *s3.Options) { o.Region = "us-west-2" }),
		&s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); got != csv {
		t.Errorf("scoped read of the location = %q", got)
	}
}

// liveUser creates a CREATED environment in region and returns the
// principal of its superuser: credentials issued for it pass the
// authorization model's liveness check (forged principals of environments
// that do not exist are refused, see TestRevocation).
func liveUser(t *testing.T, srv *server.Server, region string) auth.Principal {
	t.Helper()
	ctx := context.Background()
	fs := servertest.Finspace(srv, func(o *finspace.Options) { o.Region = region })
	env := createdEnvironment(t, fs, "live-"+region)
	root := srv.Root()
	c := fd.New(srv.URL(), region, fd.StaticCredentials(root.AccessKeyID, root.SecretAccessKey, ""))
	out, err := c.ListUsers(ctx, &finspacedata.ListUsersRequest{MaxResults: aws.Int32(10)})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range out.Users {
		if u.Type != nil && *u.Type == "SUPER_USER" {
			id := aws.ToString(u.UserId)
			return auth.Principal{Kind: auth.FinSpaceUser, Account: "000000000000",
				ARN: "arn:aws:finspace:" + region + ":000000000000:user/" + id, EnvironmentID: env, UserID: id}
		}
	}
	t.Fatal("no superuser")
	return auth.Principal{}
}
