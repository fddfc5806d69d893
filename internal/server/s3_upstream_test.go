package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/blob/blobtest"
	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
	fd "github.com/openfinspace/openfinspace/internal/testclient/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

func TestMain(m *testing.M) {
	code := m.Run()
	blobtest.StopMinIO()
	os.Exit(code)
}

// upstreamConfig points a server's objects at MinIO, with the S3 endpoint
// of the main port in front of it.
func upstreamConfig(m *blobtest.MinIO) func(*server.Config) {
	return func(c *server.Config) {
		c.S3 = blob.Config{External: true, S3: blob.S3Options{Endpoint: m.URL, Region: "us-east-1",
			AccessKeyID: m.User, SecretAccessKey: m.Password, PathStyle: true}}
	}
}

// TestS3EndpointFrontsExternalS3: with an external S3 service the main
// port's S3 endpoint serves its buckets, so two servers (in one process,
// configured apart) in front of one service serve the same objects, and
// the server's own blob store sees what clients uploaded.
func TestS3EndpointFrontsExternalS3(t *testing.T) {
	m := blobtest.RequireMinIO(t)
	a, _ := servertest.StartClocked(t, upstreamConfig(m))
	b, _ := servertest.StartClocked(t, upstreamConfig(m))
	ctx := context.Background()
	var rnd [4]byte
	_, _ = rand.Read(rnd[:])
	bucket := "front-" + hex.EncodeToString(rnd[:])

	mustCreateBucket(t, rootS3(a), bucket)
	mustPut(t, rootS3(a), bucket, "dir/hello.txt", "hello through A")
	if got := servertest.S3Body(t, rootS3(b), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("dir/hello.txt")}); got != "hello through A" {
		t.Errorf("GET through B = %q", got)
	}
	// Straight from MinIO, and through the server's blob store.
	direct, err := blob.NewS3(blob.S3Options{Endpoint: m.URL, Region: "us-east-1", AccessKeyID: m.User, SecretAccessKey: m.Password, PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	for name, st := range map[string]blob.Store{"MinIO": direct, "B's blob store": b.Blobs()} {
		rc, _, err := st.Get(ctx, bucket, "dir/hello.txt")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body, _ := io.ReadAll(rc)
		rc.Close()
		if string(body) != "hello through A" {
			t.Errorf("%s read %q", name, body)
		}
	}
	// A multipart upload of a stream (unsigned parts upstream) through B.
	big := bytes.Repeat([]byte("0123456789abcdef"), 7<<16) // 7 MiB: two parts
	up := manager.NewUploader(rootS3(b), func(u *manager.Uploader) { u.PartSize = 5 << 20 })
	if _, err := up.Upload(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("big.bin"),
		Body: io.MultiReader(bytes.NewReader(big))}); err != nil {
		t.Fatalf("multipart upload through B: %v", err)
	}
	if got := servertest.S3Body(t, rootS3(a), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("big.bin")}); got != string(big) {
		t.Errorf("multipart object read through A: %d bytes, want %d", len(got), len(big))
	}
	list, err := rootS3(b).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil || len(list.Contents) != 2 {
		t.Errorf("listing through B: %v, %v", list, err)
	}

	// A FinSpace user's credentials reach the working location (a bucket
	// of the upstream) through the endpoint, and nothing else.
	fs := servertest.Finspace(a, func(o *finspace.Options) { o.Region = "us-west-2" })
	env := createdEnvironment(t, fs, "front")
	root := a.Root()
	issued, err := fd.New(a.URL(), "us-west-2", fd.StaticCredentials(root.AccessKeyID, root.SecretAccessKey, "")).GetProgrammaticAccessCredentials(ctx,
		&finspacedata.GetProgrammaticAccessCredentialsRequest{EnvironmentId: aws.String(env), DurationInMinutes: aws.Int64(60)})
	if err != nil {
		t.Fatal(err)
	}
	user := credentials.NewStaticCredentialsProvider(*issued.Credentials.AccessKeyId, *issued.Credentials.SecretAccessKey, *issued.Credentials.SessionToken)
	loc, err := fd.New(a.URL(), "us-west-2", user).GetWorkingLocation(ctx, &finspacedata.GetWorkingLocationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	uc := s3For(a, user, func(o *s3.Options) { o.Region = "us-west-2" })
	key := strings.TrimPrefix(*loc.S3Path, *loc.S3Bucket+"/") + "prices.csv"
	mustPut(t, uc, *loc.S3Bucket, key, "sym,px\nA,1\n")
	if rc, _, err := direct.Get(ctx, *loc.S3Bucket, key); err != nil {
		t.Errorf("the upload is not in MinIO: %v", err)
	} else {
		rc.Close()
	}
	_, err = uc.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("x"), Body: strings.NewReader("x")})
	servertest.WantS3Error(t, "a FinSpace user writing another bucket", err, "AccessDenied", 403)
}
