package s3_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	fstypes "github.com/aws/aws-sdk-go-v2/service/finspace/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
	fd "github.com/openfinspace/openfinspace/internal/testclient/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

// environment creates a FinSpace environment and waits until it is
// CREATED.
func environment(t *testing.T, srv *server.Server, name string) string {
	t.Helper()
	ctx := context.Background()
	c := servertest.Finspace(srv)
	out, err := c.CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{Name: aws.String(name),
		SuperuserParameters: &fstypes.SuperuserParameters{EmailAddress: aws.String("admin@" + name + ".example.com"),
			FirstName: aws.String("Admin"), LastName: aws.String("User")}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		env, err := c.GetEnvironment(ctx, &finspace.GetEnvironmentInput{EnvironmentId: out.EnvironmentId})
		if err != nil {
			t.Fatal(err)
		}
		if env.Environment.Status == fstypes.EnvironmentStatusCreated {
			return *out.EnvironmentId
		}
		if time.Now().After(deadline) {
			t.Fatalf("environment %s is %s after 30s", name, env.Environment.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// envUser is a FinSpace user's programmatic credentials for one
// environment and that environment's working bucket.
type envUser struct {
	env, bucket, prefix string
	creds               aws.CredentialsProvider
}

func userOf(t *testing.T, srv *server.Server, env string) envUser {
	t.Helper()
	ctx := context.Background()
	root := srv.Root()
	rootData := fd.New(srv.URL(), servertest.Region, fd.StaticCredentials(root.AccessKeyID, root.SecretAccessKey, ""))
	out, err := rootData.GetProgrammaticAccessCredentials(ctx, &finspacedata.GetProgrammaticAccessCredentialsRequest{EnvironmentId: &env})
	if err != nil {
		t.Fatalf("GetProgrammaticAccessCredentials(%s): %v", env, err)
	}
	c := out.Credentials
	creds := credentials.NewStaticCredentialsProvider(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)
	user := fd.New(srv.URL(), servertest.Region, fd.StaticCredentials(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken))
	loc, err := user.GetWorkingLocation(ctx, &finspacedata.GetWorkingLocationRequest{})
	if err != nil {
		t.Fatalf("GetWorkingLocation(%s): %v", env, err)
	}
	bucket := aws.ToString(loc.S3Bucket)
	if want := blob.WorkingLocationBucket("000000000000", servertest.Region, env); bucket != want {
		t.Fatalf("working bucket %q, want %q", bucket, want)
	}
	return envUser{env: env, bucket: bucket, prefix: strings.TrimPrefix(aws.ToString(loc.S3Path), bucket+"/"), creds: creds}
}

func s3Of(srv *server.Server, creds aws.CredentialsProvider, region string) *s3.Client {
	return s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(srv.URL()), UsePathStyle: true,
		Credentials: creds, RetryMaxAttempts: 1})
}

func readObject(t *testing.T, c *s3.Client, bucket, key string) string {
	t.Helper()
	return servertest.S3Body(t, c, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
}

// TestEnvironmentIsolation: a FinSpace user's programmatic credentials
// reach the working bucket of the user's environment through the S3
// endpoint, and nothing else; root and IAM role sessions reach everything.
func TestEnvironmentIsolation(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t)
	ctx := context.Background()
	a := userOf(t, srv, environment(t, srv, "isolation-a"))
	b := userOf(t, srv, environment(t, srv, "isolation-b"))
	ua, ub := s3Of(srv, a.creds, servertest.Region), s3Of(srv, b.creds, servertest.Region)
	r := srv.Root()
	root := s3Of(srv, credentials.NewStaticCredentialsProvider(r.AccessKeyID, r.SecretAccessKey, ""), servertest.Region)
	denied := func(what string, err error) {
		t.Helper()
		servertest.WantS3Error(t, what, err, "AccessDenied", 403)
	}

	// Each user works in its own bucket: PUT (single and multipart), GET,
	// LIST, HEAD, COPY, DELETE.
	for _, u := range []struct {
		envUser
		c *s3.Client
	}{{a, ua}, {b, ub}} {
		key := u.prefix + "trades.csv"
		if _, err := u.c.PutObject(ctx, &s3.PutObjectInput{Bucket: &u.bucket, Key: &key, Body: strings.NewReader("sym,px\n" + u.env + ",1\n")}); err != nil {
			t.Fatalf("user of %s: PutObject in its bucket: %v", u.env, err)
		}
		if got := readObject(t, u.c, u.bucket, key); got != "sym,px\n"+u.env+",1\n" {
			t.Errorf("user of %s reads %q", u.env, got)
		}
		big := bytes.Repeat([]byte("0123456789abcdef"), 700_000) // 11.2 MB: 3 parts
		up := manager.NewUploader(u.c, func(m *manager.Uploader) { m.PartSize = 5 << 20 })
		if _, err := up.Upload(ctx, &s3.PutObjectInput{Bucket: &u.bucket, Key: aws.String(u.prefix + "big.bin"), Body: bytes.NewReader(big)}); err != nil {
			t.Fatalf("user of %s: multipart upload: %v", u.env, err)
		}
		if got := readObject(t, u.c, u.bucket, u.prefix+"big.bin"); got != string(big) {
			t.Errorf("user of %s: multipart object read back %d bytes", u.env, len(got))
		}
		list, err := u.c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &u.bucket, Prefix: &u.prefix})
		if err != nil || len(list.Contents) != 2 {
			t.Errorf("user of %s lists its bucket: %+v, %v", u.env, list, err)
		}
		if _, err := u.c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &u.bucket, Key: &key}); err != nil {
			t.Errorf("user of %s: HeadObject: %v", u.env, err)
		}
		if _, err := u.c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &u.bucket}); err != nil {
			t.Errorf("user of %s: HeadBucket: %v", u.env, err)
		}
		if _, err := u.c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &u.bucket, Key: aws.String(u.prefix + "copy.csv"),
			CopySource: aws.String(u.bucket + "/" + key)}); err != nil {
			t.Errorf("user of %s: CopyObject inside its bucket: %v", u.env, err)
		}
		if _, err := u.c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &u.bucket, Key: aws.String(u.prefix + "copy.csv")}); err != nil {
			t.Errorf("user of %s: DeleteObject: %v", u.env, err)
		}
	}

	// A's user may not touch B's bucket, list buckets or create others.
	keyB := b.prefix + "trades.csv"
	_, err := ua.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: &keyB})
	denied("A's user: GetObject in B's bucket", err)
	_, err = ua.PutObject(ctx, &s3.PutObjectInput{Bucket: &b.bucket, Key: aws.String(b.prefix + "evil.csv"), Body: strings.NewReader("x")})
	denied("A's user: PutObject in B's bucket", err)
	_, err = ua.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &b.bucket})
	denied("A's user: ListObjectsV2 of B's bucket", err)
	_, err = ua.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &b.bucket, Key: &keyB})
	servertest.WantS3Error(t, "A's user: HeadObject in B's bucket", err, "", 403)
	_, err = ua.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &b.bucket})
	servertest.WantS3Error(t, "A's user: HeadBucket of B's bucket", err, "", 403)
	_, err = ua.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &b.bucket, Key: &keyB})
	denied("A's user: DeleteObject in B's bucket", err)
	_, err = ua.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &b.bucket, Delete: &s3types.Delete{Objects: []s3types.ObjectIdentifier{{Key: &keyB}}}})
	denied("A's user: DeleteObjects in B's bucket", err)
	_, err = ua.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &b.bucket, Key: aws.String("mp")})
	denied("A's user: CreateMultipartUpload in B's bucket", err)
	_, err = ua.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &a.bucket, Key: aws.String(a.prefix + "stolen.csv"),
		CopySource: aws.String(b.bucket + "/" + keyB)})
	denied("A's user: CopyObject from B's bucket into A's", err)
	_, err = ua.ListBuckets(ctx, &s3.ListBucketsInput{})
	denied("A's user: ListBuckets", err)
	_, err = ua.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("a-private-bucket")})
	denied("A's user: CreateBucket", err)
	_, err = ua.DeleteBucket(ctx, &s3.DeleteBucketInput{Bucket: &b.bucket})
	denied("A's user: DeleteBucket of B's bucket", err)
	// Nor through a presigned URL.
	pre, err := s3.NewPresignClient(ua).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: &keyB})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get(pre.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>AccessDenied</Code>") {
		t.Errorf("A's user: presigned GET in B's bucket: %s %s", resp.Status, body)
	}
	// The working bucket is per region: signing for another region names
	// another bucket.
	_, err = s3Of(srv, a.creds, "us-west-2").GetObject(ctx, &s3.GetObjectInput{Bucket: &a.bucket, Key: aws.String(a.prefix + "trades.csv")})
	denied("A's user signing for us-west-2: A's us-east-1 bucket", err)
	// And symmetrically.
	keyA := a.prefix + "trades.csv"
	_, err = ub.GetObject(ctx, &s3.GetObjectInput{Bucket: &a.bucket, Key: &keyA})
	denied("B's user: GetObject in A's bucket", err)

	// Signature errors stay signature errors, in the user's own bucket too.
	ac, _ := a.creds.Retrieve(ctx)
	wrong := s3Of(srv, credentials.NewStaticCredentialsProvider(ac.AccessKeyID, "wrong", ac.SessionToken), servertest.Region)
	_, err = wrong.GetObject(ctx, &s3.GetObjectInput{Bucket: &b.bucket, Key: &keyB})
	servertest.WantS3Error(t, "A's key with a wrong secret, B's bucket", err, "SignatureDoesNotMatch", 403)
	_, err = wrong.PutObject(ctx, &s3.PutObjectInput{Bucket: &a.bucket, Key: aws.String(a.prefix + "forged.csv"), Body: strings.NewReader("x")})
	servertest.WantS3Error(t, "A's key with a wrong secret, PUT in A's bucket", err, "SignatureDoesNotMatch", 403)
	_, err = s3Of(srv, credentials.NewStaticCredentialsProvider(ac.AccessKeyID, ac.SecretAccessKey, "forged"), servertest.Region).
		ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &a.bucket})
	servertest.WantS3Error(t, "A's key with a forged session token", err, "InvalidToken", 400)

	// Nothing was written where it was refused.
	for _, obj := range []struct{ bucket, key string }{{b.bucket, b.prefix + "evil.csv"}, {a.bucket, a.prefix + "stolen.csv"}, {a.bucket, a.prefix + "forged.csv"}} {
		_, err := root.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &obj.bucket, Key: &obj.key})
		servertest.WantS3Error(t, "object of a refused request "+obj.key, err, "NotFound", 404)
	}
	if got := readObject(t, root, b.bucket, keyB); got != "sym,px\n"+b.env+",1\n" {
		t.Errorf("B's object changed: %q", got)
	}

	// Root and IAM role sessions are the account's administrators.
	buckets, err := root.ListBuckets(ctx, &s3.ListBucketsInput{})
	if err != nil || len(buckets.Buckets) < 2 {
		t.Errorf("root ListBuckets: %+v, %v", buckets, err)
	}
	if got := readObject(t, root, a.bucket, keyA); !strings.Contains(got, a.env) {
		t.Errorf("root reads A's object: %q", got)
	}
	if _, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("root-bucket")}); err != nil {
		t.Errorf("root CreateBucket: %v", err)
	}
	stsc := sts.New(sts.Options{Region: servertest.Region, BaseEndpoint: aws.String(srv.URL()), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(r.AccessKeyID, r.SecretAccessKey, "")})
	sess, err := stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/Admin"), RoleSessionName: aws.String("isolation")})
	if err != nil {
		t.Fatal(err)
	}
	sc := s3Of(srv, credentials.NewStaticCredentialsProvider(*sess.Credentials.AccessKeyId, *sess.Credentials.SecretAccessKey, *sess.Credentials.SessionToken), servertest.Region)
	if _, err := sc.ListBuckets(ctx, &s3.ListBucketsInput{}); err != nil {
		t.Errorf("role session ListBuckets: %v", err)
	}
	if got := readObject(t, sc, b.bucket, keyB); !strings.Contains(got, b.env) {
		t.Errorf("role session reads B's object: %q", got)
	}
	if _, err := sc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("root-bucket"), Key: aws.String("k"), Body: strings.NewReader("x")}); err != nil {
		t.Errorf("role session PutObject: %v", err)
	}
}
