package s3_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	s3types "github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

// principal is a named set of credentials that may use every bucket.
type principal struct {
	name  string
	creds aws.Credentials
}

// admins returns the root credentials and an STS assumed-role session:
// the principals whose requests the main port used to pass on without
// looking.
func admins(t *testing.T, srv *server.Server) []principal {
	t.Helper()
	r := srv.Root()
	root := aws.Credentials{AccessKeyID: r.AccessKeyID, SecretAccessKey: r.SecretAccessKey}
	stsc := sts.New(sts.Options{Region: servertest.Region, BaseEndpoint: aws.String(srv.URL()), RetryMaxAttempts: 1,
		Credentials: credentials.StaticCredentialsProvider{Value: root}})
	sess, err := stsc.AssumeRole(context.Background(), &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::000000000000:role/Admin"), RoleSessionName: aws.String("validation")})
	if err != nil {
		t.Fatal(err)
	}
	c := sess.Credentials
	return []principal{{"root", root},
		{"role session", aws.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken}}}
}

func (p principal) client(srv *server.Server) *s3.Client {
	return s3Of(srv, credentials.StaticCredentialsProvider{Value: p.creds}, servertest.Region)
}

// rawResponse is what a raw request got: status, S3 error code, body.
type rawResponse struct {
	status int
	code   string
	body   string
}

// raw sends method target (the exact request target, in its canonical
// SigV4 form: S3 signs the path as sent) signed by p with the body.
func (p principal) raw(t *testing.T, srv *server.Server, method, target string, body []byte, hdr ...string) rawResponse {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL()+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	path, query, _ := strings.Cut(target, "?")
	req.URL.Opaque, req.URL.RawQuery = path, query
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	sum := sha256.Sum256(body)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	if err := signer.SignHTTP(context.Background(), p.creds, req, hash, "s3", servertest.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return rawResponse{status: resp.StatusCode, code: resp.Header.Get("X-Amz-Error-Code"), body: string(b)}
}

func wantRaw(t *testing.T, what string, got rawResponse, status int, code string) {
	t.Helper()
	if got.status != status || got.code != code {
		t.Errorf("%s: %d %s %.300s, want %d %s", what, got.status, got.code, got.body, status, code)
	}
}

// TestReservedNamespace: versitygw's staging area (.sgwtmp, where
// multipart parts wait) cannot be reached as keys by anyone: not read,
// written, deleted, copied from or listed, with or without dot segments or
// escapes; and multipart uploads keep working after every attempt.
func TestReservedNamespace(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	srv := servertest.Start(t, func(c *server.Config) { c.DataDir = dir })
	ctx := context.Background()
	for _, p := range admins(t, srv) {
		t.Run(p.name, func(t *testing.T) {
			c := p.client(srv)
			bucket := "reserved-" + strings.ReplaceAll(p.name, " ", "-")
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
				t.Fatal(err)
			}
			mustPut := func(key, body string) {
				t.Helper()
				if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(key), Body: strings.NewReader(body)}); err != nil {
					t.Fatalf("PutObject %s: %v", key, err)
				}
			}
			mustPut("plain.txt", "plain")

			// An upload in progress, its first part staged on disk.
			const key = "big.bin"
			part1 := bytes.Repeat([]byte("1"), 5<<20)
			part2 := []byte("last part")
			up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: aws.String(key)})
			if err != nil {
				t.Fatal(err)
			}
			var parts []s3types.CompletedPart
			for i, b := range [][]byte{part1, part2} {
				out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: aws.String(key), UploadId: up.UploadId,
					PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(b)})
				if err != nil {
					t.Fatal(err)
				}
				parts = append(parts, s3types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
			}
			sum := sha256.Sum256([]byte(key))
			staged := ".sgwtmp/multipart/" + hex.EncodeToString(sum[:]) + "/" + *up.UploadId
			onDisk := filepath.Join(dir, "objects", bucket, filepath.FromSlash(staged))
			if _, err := os.Stat(filepath.Join(onDisk, "1")); err != nil {
				t.Fatalf("the staged part is not where this test looks for it (versitygw's layout changed?): %v", err)
			}

			invalid := func(what string, err error) {
				t.Helper()
				servertest.WantS3Error(t, what, err, "InvalidArgument", 400)
			}
			for _, k := range []string{".sgwtmp", ".sgwtmp/", ".sgwtmp/multipart", staged + "/1", staged, "dir/.sgwtmp/x"} {
				_, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String(k)})
				invalid("GetObject "+k, err)
				_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String(k)})
				servertest.WantS3Error(t, "HeadObject "+k, err, "", 400)
				_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(k), Body: strings.NewReader("overwrite")})
				invalid("PutObject "+k, err)
				_, err = c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &bucket, Key: aws.String(k)})
				invalid("DeleteObject "+k, err)
				_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &bucket, Key: aws.String(k), CopySource: aws.String(bucket + "/plain.txt")})
				invalid("CopyObject to "+k, err)
				_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &bucket, Key: aws.String("stolen"), CopySource: aws.String(bucket + "/" + k)})
				invalid("CopyObject from "+k, err)
				_, err = c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: aws.String(k)})
				invalid("CreateMultipartUpload "+k, err)
				_, err = c.GetObjectTagging(ctx, &s3.GetObjectTaggingInput{Bucket: &bucket, Key: aws.String(k)})
				invalid("GetObjectTagging "+k, err)
			}
			_, err = c.UploadPartCopy(ctx, &s3.UploadPartCopyInput{Bucket: &bucket, Key: aws.String(key), UploadId: up.UploadId, PartNumber: aws.Int32(3),
				CopySource: aws.String(bucket + "/" + staged + "/1")})
			invalid("UploadPartCopy from a staged part", err)
			_, err = c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &bucket, Delete: &s3types.Delete{Objects: []s3types.ObjectIdentifier{
				{Key: aws.String("plain.txt")}, {Key: aws.String(staged + "/1")}}}})
			invalid("DeleteObjects with a staged part", err)

			// Spelled with dot segments or escapes, in raw requests.
			for _, r := range []struct {
				target string
				status int
				code   string
			}{
				{"/" + bucket + "/x/../" + staged + "/1", 403, "AccessDenied"}, // dot segments: refused as such
				{"/" + bucket + "/./.sgwtmp/multipart", 403, "AccessDenied"},
				{"/" + bucket + "/%2Esgwtmp/multipart", 400, "InvalidArgument"},
				{"/" + bucket + "/.sgwtmp%2Fmultipart", 400, "InvalidArgument"},
				{"/" + bucket + "//.sgwtmp/multipart", 400, "InvalidArgument"},
			} {
				wantRaw(t, "GET "+r.target, p.raw(t, srv, "GET", r.target, nil), r.status, r.code)
				wantRaw(t, "PUT "+r.target, p.raw(t, srv, "PUT", r.target, []byte("x")), r.status, r.code)
				wantRaw(t, "DELETE "+r.target, p.raw(t, srv, "DELETE", r.target, nil), r.status, r.code)
			}
			wantRaw(t, "copy source with a dot segment", p.raw(t, srv, "PUT", "/"+bucket+"/stolen", nil,
				"X-Amz-Copy-Source", "/"+bucket+"/x/../"+staged+"/1"), 403, "AccessDenied")
			wantRaw(t, "escaped copy source", p.raw(t, srv, "PUT", "/"+bucket+"/stolen", nil,
				"X-Amz-Copy-Source", bucket+"/%2Esgwtmp%2Fmultipart"), 400, "InvalidArgument")

			// Listings never show it.
			for _, prefix := range []string{".sgwtmp", ".sgwtmp/", ".sgwtmp/multipart/", staged + "/"} {
				_, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String(prefix)})
				invalid("ListObjectsV2 prefix "+prefix, err)
				_, err = c.ListObjects(ctx, &s3.ListObjectsInput{Bucket: &bucket, Prefix: aws.String(prefix)})
				invalid("ListObjects prefix "+prefix, err)
				_, err = c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &bucket, Prefix: aws.String(prefix)})
				invalid("ListObjectVersions prefix "+prefix, err)
			}
			noStaging := func(what string, keys []string) {
				t.Helper()
				for _, k := range keys {
					if strings.Contains(k, ".sgwtmp") {
						t.Errorf("%s lists %s", what, k)
					}
				}
			}
			for _, in := range []*s3.ListObjectsV2Input{{}, {Delimiter: aws.String("/")}, {StartAfter: aws.String(".sgwtmp")},
				{StartAfter: aws.String(".sgwtmp/multipart/")}, {Prefix: aws.String(".sgw")}} {
				in.Bucket = &bucket
				out, err := c.ListObjectsV2(ctx, in)
				if err != nil {
					t.Fatalf("ListObjectsV2 %+v: %v", in, err)
				}
				var keys []string
				for _, o := range out.Contents {
					keys = append(keys, *o.Key)
				}
				for _, cp := range out.CommonPrefixes {
					keys = append(keys, *cp.Prefix)
				}
				noStaging(fmt.Sprintf("ListObjectsV2 %+v", in), keys)
			}
			versions, err := c.ListObjectVersions(ctx, &s3.ListObjectVersionsInput{Bucket: &bucket})
			if err != nil {
				t.Fatal(err)
			}
			for _, v := range versions.Versions {
				noStaging("ListObjectVersions", []string{*v.Key})
			}
			uploads, err := c.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: &bucket})
			if err != nil || len(uploads.Uploads) != 1 || *uploads.Uploads[0].Key != key {
				t.Errorf("ListMultipartUploads: %+v, %v", uploads, err)
			}

			// The staged parts are intact, and the upload completes.
			if b, err := os.ReadFile(filepath.Join(onDisk, "2")); err != nil || !bytes.Equal(b, part2) {
				t.Errorf("the staged part 2 changed: %q, %v", b, err)
			}
			if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: aws.String(key),
				UploadId: up.UploadId, MultipartUpload: &s3types.CompletedMultipartUpload{Parts: parts}}); err != nil {
				t.Fatalf("CompleteMultipartUpload after the attempts: %v", err)
			}
			if got := readObject(t, c, bucket, key); got != string(part1)+string(part2) {
				t.Errorf("the completed object has %d bytes", len(got))
			}
			// A later multipart upload in the same bucket works too (writing
			// the key .sgwtmp/multipart used to break them all with 500).
			if got := readObject(t, c, bucket, "plain.txt"); got != "plain" {
				t.Errorf("plain.txt reads %q", got)
			}
			up2, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: aws.String("later.bin")})
			if err != nil {
				t.Fatalf("a later CreateMultipartUpload: %v", err)
			}
			out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: aws.String("later.bin"), UploadId: up2.UploadId,
				PartNumber: aws.Int32(1), Body: strings.NewReader("later")})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: aws.String("later.bin"),
				UploadId: up2.UploadId, MultipartUpload: &s3types.CompletedMultipartUpload{Parts: []s3types.CompletedPart{{PartNumber: aws.Int32(1), ETag: out.ETag}}}}); err != nil {
				t.Fatalf("a later CompleteMultipartUpload: %v", err)
			}
			if got := readObject(t, c, bucket, "later.bin"); got != "later" {
				t.Errorf("later.bin reads %q", got)
			}
		})
	}
}

// TestInvalidKeys: keys the filesystem cannot hold are 400s, never 500s,
// for every principal; valid keys at the limits still work.
func TestInvalidKeys(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t)
	ctx := context.Background()
	for _, p := range admins(t, srv) {
		t.Run(p.name, func(t *testing.T) {
			c := p.client(srv)
			bucket := "keys-" + strings.ReplaceAll(p.name, " ", "-")
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
				t.Fatal(err)
			}
			seg := func(n int) string { return strings.Repeat("s", n) }
			for _, k := range []struct {
				key    string
				status int
				code   string
			}{
				{"nul\x00byte", 400, "InvalidURI"},
				{"\x00", 400, "InvalidURI"},
				{strings.Repeat("k/", 512) + "k", 400, "KeyTooLongError"}, // 1025 bytes
				{seg(256), 400, "KeyTooLongError"},
				{"dir/" + seg(300) + "/x", 400, "KeyTooLongError"},
				// Dot segments: the answer FinSpace users and scoped reads
				// always had, now for everyone.
				{"a/../b", 403, "AccessDenied"},
				{"../escape", 403, "AccessDenied"},
				{"a/./b", 403, "AccessDenied"},
				{".", 403, "AccessDenied"},
			} {
				_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(k.key), Body: strings.NewReader("x")})
				servertest.WantS3Error(t, fmt.Sprintf("PutObject %.40q", k.key), err, k.code, k.status)
				_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String(k.key)})
				servertest.WantS3Error(t, fmt.Sprintf("GetObject %.40q", k.key), err, k.code, k.status)
				_, err = c.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String(k.key)})
				servertest.WantS3Error(t, fmt.Sprintf("HeadObject %.40q", k.key), err, "", k.status)
				_, err = c.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &bucket, Key: aws.String("copy"), CopySource: aws.String(bucket + "/" + k.key)})
				if k.code != "InvalidURI" { // the SDK does not escape NUL in x-amz-copy-source
					servertest.WantS3Error(t, fmt.Sprintf("CopyObject from %.40q", k.key), err, k.code, k.status)
				}
			}
			// In raw requests: escapes that decode to invalid UTF-8, NUL, dots.
			for _, r := range []struct {
				target string
				status int
				code   string
			}{
				{"/" + bucket + "/%FF", 400, "InvalidURI"},
				{"/" + bucket + "/a%C3", 400, "InvalidURI"},
				{"/" + bucket + "/%ED%A0%80", 400, "InvalidURI"},
				{"/" + bucket + "/a%00b", 400, "InvalidURI"},
				{"/" + bucket + "/a/%2E%2E/b", 403, "AccessDenied"},
				{"/" + bucket + "/a/./b", 403, "AccessDenied"},
				{"/" + bucket + "/..", 403, "AccessDenied"},
			} {
				wantRaw(t, "PUT "+r.target, p.raw(t, srv, "PUT", r.target, []byte("x")), r.status, r.code)
				wantRaw(t, "GET "+r.target, p.raw(t, srv, "GET", r.target, nil), r.status, r.code)
			}
			wantRaw(t, "copy source with NUL", p.raw(t, srv, "PUT", "/"+bucket+"/copy", nil, "X-Amz-Copy-Source", bucket+"/a%00b"), 400, "InvalidURI")
			_, err := c.DeleteObjects(ctx, &s3.DeleteObjectsInput{Bucket: &bucket, Delete: &s3types.Delete{Objects: []s3types.ObjectIdentifier{
				{Key: aws.String("a/../b")}}}})
			servertest.WantS3Error(t, "DeleteObjects a/../b", err, "AccessDenied", 403)

			// At the limits: a 255-byte name, a 1024-byte key.
			for _, k := range []string{seg(255), strings.Repeat(seg(254)+"/", 4) + "kkkk", "ü/中/🥳 a+b=c&d", "a//b"} {
				if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(k), Body: strings.NewReader("at the limit")}); err != nil {
					t.Errorf("PutObject %.40q (%d bytes): %v", k, len(k), err)
					continue
				}
				if got := readObject(t, c, bucket, k); got != "at the limit" {
					t.Errorf("GetObject %.40q: %q", k, got)
				}
			}

			// NoSuchBucket, NoSuchKey and NoSuchUpload keep their answers.
			_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("k")})
			servertest.WantS3Error(t, "GetObject in a missing bucket", err, "NoSuchBucket", 404)
			_, err = c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("no-such-bucket"), Key: aws.String("k"), Body: strings.NewReader("x")})
			servertest.WantS3Error(t, "PutObject in a missing bucket", err, "NoSuchBucket", 404)
			_, err = c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String("no-such-bucket")})
			servertest.WantS3Error(t, "ListObjectsV2 of a missing bucket", err, "NoSuchBucket", 404)
			_, err = c.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("no-such-bucket")})
			servertest.WantS3Error(t, "HeadBucket of a missing bucket", err, "", 404)
			_, err = c.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("missing")})
			servertest.WantS3Error(t, "GetObject of a missing key", err, "NoSuchKey", 404)
			_, err = c.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: &bucket, Key: aws.String("k"), UploadId: aws.String("nope")})
			servertest.WantS3Error(t, "AbortMultipartUpload of a missing upload", err, "NoSuchUpload", 404)
			_, err = c.ListParts(ctx, &s3.ListPartsInput{Bucket: &bucket, Key: aws.String("k"), UploadId: aws.String("nope")})
			servertest.WantS3Error(t, "ListParts of a missing upload", err, "NoSuchUpload", 404)
		})
	}
}

// TestBucketNames: CreateBucket follows S3's general purpose bucket naming
// rules, and the names the product gives working locations pass.
func TestBucketNames(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t)
	ctx := context.Background()
	p := admins(t, srv)
	root, session := p[0].client(srv), p[1].client(srv)
	for _, name := range []string{"a..b", "xn--punycode", "sthree-bucket", "amzn-s3-demo-bucket", "data-s3alias", "data--ol-s3",
		"data.mrap", "data--table-s3", "192.168.5.4", "ab", strings.Repeat("a", 64), "Upper", "under_score", "-dash", "dot."} {
		_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
		servertest.WantS3Error(t, "root CreateBucket "+name, err, "InvalidBucketName", 400)
		_, err = session.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)})
		servertest.WantS3Error(t, "role session CreateBucket "+name, err, "InvalidBucketName", 400)
	}
	// The Go SDK takes a name ending in --x-s3 for a directory bucket (and
	// asks for a session first), so that one goes raw.
	for _, a := range p {
		wantRaw(t, a.name+" CreateBucket data--x-s3", a.raw(t, srv, "PUT", "/data--x-s3", nil), 400, "InvalidBucketName")
	}
	valid := []string{"abc", strings.Repeat("a", 63), "my.data.bucket", "a-b-c", "1-2-3", "xn-a", "s3alias-data",
		blob.WorkingLocationBucket("000000000000", "us-east-1", "abcdefghijklmnopqrstuv"),
		blob.WorkingLocationBucket("000000000000", "eu-west-2", strings.Repeat("e", 30))}
	for _, name := range valid {
		if _, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(name)}); err != nil {
			t.Errorf("CreateBucket %s: %v", name, err)
			continue
		}
		mustPutGet(t, root, name)
	}
	_, err := root.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("abc")})
	servertest.WantS3Error(t, "CreateBucket of an existing bucket", err, "BucketAlreadyOwnedByYou", 409)

	// The product's own working bucket (created through the blob store)
	// works for its FinSpace user.
	u := userOf(t, srv, environment(t, srv, "names"))
	mustPutGet(t, s3Of(srv, u.creds, servertest.Region), u.bucket, u.prefix)
}

func mustPutGet(t *testing.T, c *s3.Client, bucket string, prefix ...string) {
	t.Helper()
	key := strings.Join(prefix, "") + "k.txt"
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: strings.NewReader("v")}); err != nil {
		t.Errorf("PutObject %s/%s: %v", bucket, key, err)
		return
	}
	if got := readObject(t, c, bucket, key); got != "v" {
		t.Errorf("%s/%s reads %q", bucket, key, got)
	}
}

// TestCompletePartOrder: parts listed out of order are InvalidPartOrder
// (not EntityTooSmall), and the same upload then completes: the body the
// gateway receives is the one the client signed.
func TestCompletePartOrder(t *testing.T) {
	t.Parallel()
	srv := servertest.Start(t)
	ctx := context.Background()
	for _, p := range admins(t, srv) {
		t.Run(p.name, func(t *testing.T) {
			c := p.client(srv)
			bucket := "order-" + strings.ReplaceAll(p.name, " ", "-")
			if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
				t.Fatal(err)
			}
			bodies := [][]byte{bytes.Repeat([]byte("a"), 5<<20), bytes.Repeat([]byte("b"), 5<<20), []byte("tail")}
			up, err := c.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: &bucket, Key: aws.String("big")})
			if err != nil {
				t.Fatal(err)
			}
			var parts []s3types.CompletedPart
			for i, b := range bodies {
				out, err := c.UploadPart(ctx, &s3.UploadPartInput{Bucket: &bucket, Key: aws.String("big"), UploadId: up.UploadId,
					PartNumber: aws.Int32(int32(i + 1)), Body: bytes.NewReader(b)})
				if err != nil {
					t.Fatal(err)
				}
				parts = append(parts, s3types.CompletedPart{PartNumber: aws.Int32(int32(i + 1)), ETag: out.ETag})
			}
			complete := func(ps ...s3types.CompletedPart) error {
				_, err := c.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{Bucket: &bucket, Key: aws.String("big"),
					UploadId: up.UploadId, MultipartUpload: &s3types.CompletedMultipartUpload{Parts: ps}})
				return err
			}
			for name, ps := range map[string][]s3types.CompletedPart{
				"small part first": {parts[2], parts[0], parts[1]},
				"2, 1, 3":          {parts[1], parts[0], parts[2]},
				"1, 3, 2":          {parts[0], parts[2], parts[1]},
				"1, 1, 2, 3":       {parts[0], parts[0], parts[1], parts[2]},
			} {
				err := complete(ps...)
				servertest.WantS3Error(t, "CompleteMultipartUpload "+name, err, "InvalidPartOrder", 400)
				if err != nil && !strings.Contains(err.Error(), "The list of parts was not in ascending order. Parts must be ordered by part number.") {
					t.Errorf("CompleteMultipartUpload %s: message %v", name, err)
				}
			}
			if err := complete(parts...); err != nil {
				t.Fatalf("CompleteMultipartUpload in order: %v", err)
			}
			if got := readObject(t, c, bucket, "big"); got != string(bytes.Join(bodies, nil)) {
				t.Errorf("the object has %d bytes", len(got))
			}
		})
	}
}
