package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/middleware"
)

// Default transfer settings: parts of 16 MiB, 4 in flight, so a Put of a
// non-seekable stream holds at most 64 MiB of it in memory.
const (
	DefaultPartSize    = 16 << 20
	DefaultConcurrency = 4
	maxParts           = 10000
)

// S3Store is a Store over an S3 API: the embedded gateway (NewEmbedded) or
// an external service (NewS3).
type S3Store struct {
	client   *s3.Client
	uploader *manager.Uploader
	kind     string
	partSize int64
	// syncer makes the embedded gateway's objects durable (nil: writes
	// are durable when acknowledged).
	syncer Syncer

	// Single-bucket mode: every logical bucket is the key prefix
	// "<bucket>/" inside this physical bucket, and EnsureBucket writes the
	// marker object "<bucket>/".
	single string
	// bucketPrefix is prepended to logical bucket names otherwise.
	bucketPrefix string

	mu      sync.Mutex
	ensured map[string]bool
}

// S3Options configures an S3Store.
type S3Options struct {
	// Endpoint is the service URL (http://127.0.0.1:9000); empty means Amazon
	// S3's regional endpoint.
	Endpoint string
	Region   string
	// Static credentials.
	AccessKeyID, SecretAccessKey, SessionToken string
	// PathStyle addresses buckets as endpoint/bucket rather than
	// bucket.endpoint (MinIO and most self-hosted services need it).
	PathStyle bool
	// Bucket, when set, is the one physical bucket holding every logical
	// bucket as a key prefix.
	Bucket string
	// BucketPrefix is prepended to every logical bucket name (without
	// Bucket); the result must still be a valid bucket name.
	BucketPrefix string
	// HTTPClient overrides the SDK's HTTP client.
	HTTPClient *http.Client
	// PartSize and Concurrency tune multipart uploads (defaults
	// DefaultPartSize, DefaultConcurrency).
	PartSize    int64
	Concurrency int
}

// NewS3 returns a Store over an S3-compatible service.
func NewS3(o S3Options) (*S3Store, error) {
	if o.Region == "" {
		return nil, errors.New("blob: the S3 region is required")
	}
	if o.AccessKeyID == "" || o.SecretAccessKey == "" {
		return nil, errors.New("blob: the S3 access key id and secret access key are required")
	}
	if o.Bucket != "" && o.BucketPrefix != "" {
		return nil, errors.New("blob: set either a single bucket or a bucket prefix, not both")
	}
	if o.Bucket != "" {
		if err := ValidBucketName(o.Bucket); err != nil {
			return nil, fmt.Errorf("blob: the configured bucket: %w", err)
		}
	}
	if o.PartSize == 0 {
		o.PartSize = DefaultPartSize
	}
	if o.PartSize < manager.MinUploadPartSize {
		return nil, fmt.Errorf("blob: part size %d is below S3's minimum of %d", o.PartSize, manager.MinUploadPartSize)
	}
	if o.Concurrency <= 0 {
		o.Concurrency = DefaultConcurrency
	}
	so := s3.Options{
		Region:       o.Region,
		Credentials:  credentials.NewStaticCredentialsProvider(o.AccessKeyID, o.SecretAccessKey, o.SessionToken),
		UsePathStyle: o.PathStyle,
		// Checksums only when the operation requires them: the plain
		// SigV4 payload hash already protects every upload, and every
		// S3-compatible service understands it.
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	}
	if o.Endpoint != "" {
		so.BaseEndpoint = aws.String(o.Endpoint)
	}
	if o.HTTPClient != nil {
		so.HTTPClient = o.HTTPClient
	}
	client := s3.New(so)
	st := &S3Store{
		client:       client,
		kind:         "s3",
		partSize:     o.PartSize,
		single:       o.Bucket,
		bucketPrefix: o.BucketPrefix,
		ensured:      map[string]bool{},
	}
	st.uploader = manager.NewUploader(client, func(u *manager.Uploader) {
		u.PartSize = o.PartSize
		u.Concurrency = o.Concurrency
		u.LeavePartsOnError = false
	})
	return st, nil
}

// Kind is "embedded" or "s3".
func (s *S3Store) Kind() string { return s.kind }

// Client is the underlying S3 client (tests and tools).
func (s *S3Store) Client() *s3.Client { return s.client }

// physical maps a logical bucket and key to the stored bucket and key.
func (s *S3Store) physical(bucket, key string) (string, string) {
	if s.single != "" {
		return s.single, bucket + "/" + key
	}
	return s.bucketPrefix + bucket, key
}

// PhysicalLocation returns where a client reaches bucket/prefix on the
// backing service (differs from the logical names only with a single bucket
// or a bucket prefix configured).
func (s *S3Store) PhysicalLocation(bucket, prefix string) (string, string) {
	return s.physical(bucket, prefix)
}

func (s *S3Store) checkBucket(bucket string) error {
	if err := ValidBucketName(bucket); err != nil {
		return err
	}
	if s.single == "" && s.bucketPrefix != "" {
		if err := ValidBucketName(s.bucketPrefix + bucket); err != nil {
			return fmt.Errorf("with the configured bucket prefix: %w", err)
		}
	}
	return nil
}

func (s *S3Store) check(bucket, key string) error {
	if err := s.checkBucket(bucket); err != nil {
		return err
	}
	return ValidKey(key)
}

// EnsureBucket implements Store.
func (s *S3Store) EnsureBucket(ctx context.Context, bucket string) error {
	if err := s.checkBucket(bucket); err != nil {
		return opErr("ensure-bucket", bucket, "", err)
	}
	s.mu.Lock()
	done := s.ensured[bucket]
	s.mu.Unlock()
	if done {
		return nil
	}
	pb, pk := s.physical(bucket, "")
	var err error
	if s.single != "" {
		_, err = s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &pb, Key: &pk, Body: strings.NewReader(""), ContentLength: aws.Int64(0)})
	} else {
		_, err = s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &pb})
		var owned *types.BucketAlreadyOwnedByYou
		if errors.As(err, &owned) || apiCode(err) == "BucketAlreadyOwnedByYou" {
			err = nil
		}
	}
	if err != nil {
		return opErr("ensure-bucket", bucket, "", mapErr(err))
	}
	s.mu.Lock()
	s.ensured[bucket] = true
	s.mu.Unlock()
	return nil
}

// bucketExists distinguishes ErrNoBucket from ErrNotFound after a 404 that
// does not say which (HEAD responses carry no error code).
func (s *S3Store) bucketExists(ctx context.Context, bucket string) (bool, error) {
	pb, pk := s.physical(bucket, "")
	var err error
	if s.single != "" {
		_, err = s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &pb, Key: &pk})
	} else {
		_, err = s.client.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: &pb})
	}
	if err == nil {
		return true, nil
	}
	if status(err) == http.StatusNotFound {
		s.forget(bucket)
		return false, nil
	}
	return false, mapErr(err)
}

// notFound turns a 404 into ErrNoBucket or ErrNotFound. Only an ambiguous
// one costs a request to tell which: a HEAD's 404, which carries no error
// code, or any 404 in single-bucket mode (where the logical bucket is a
// marker object); and not even that for a bucket this store has seen exist
// (created, ensured or checked) since it last met NoSuchBucket for it. A
// bucket deleted behind the store's back thus reads as ErrNotFound to Head
// until a Get, Put, List or Delete there answers NoSuchBucket.
func (s *S3Store) notFound(ctx context.Context, bucket string, err error) error {
	mapped := mapErr(err)
	if errors.Is(mapped, ErrNoBucket) {
		s.forget(bucket)
		return mapped
	}
	var nsk *types.NoSuchKey
	if s.single == "" && (errors.As(err, &nsk) || apiCode(err) == "NoSuchKey") {
		return ErrNotFound // S3 names the missing bucket NoSuchBucket
	}
	if errors.Is(mapped, ErrNotFound) || s.single != "" && status(err) == http.StatusNotFound {
		if s.known(bucket) {
			return ErrNotFound
		}
		ok, herr := s.bucketExists(ctx, bucket)
		if herr != nil {
			return herr
		}
		if !ok {
			return ErrNoBucket
		}
		s.remember(bucket)
		return ErrNotFound
	}
	return mapped
}

func (s *S3Store) known(bucket string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.ensured[bucket]
}

func (s *S3Store) remember(bucket string) {
	s.mu.Lock()
	s.ensured[bucket] = true
	s.mu.Unlock()
}

// forget drops bucket from the buckets known to exist, after S3 said it
// does not (so that EnsureBucket creates it again).
func (s *S3Store) forget(bucket string) {
	s.mu.Lock()
	delete(s.ensured, bucket)
	s.mu.Unlock()
}

// Put implements Store.
func (s *S3Store) Put(ctx context.Context, bucket, key string, r io.Reader, size int64) (*ObjectInfo, error) {
	return s.put(ctx, bucket, key, r, size, "")
}

// PutSHA256 implements SHA256Putter: a seekable body of at most one part
// is signed with sum as its payload hash (X-Amz-Content-Sha256) instead of
// being hashed again by the SDK. The service verifies the body against the
// signed hash as always (the embedded gateway and Amazon S3 answer
// XAmzContentSHA256Mismatch), so a wrong sum fails the Put and stores
// nothing. Other bodies are put as by Put.
func (s *S3Store) PutSHA256(ctx context.Context, bucket, key string, r io.Reader, size int64, sum string) (*ObjectInfo, error) {
	if !validSHA256(sum) {
		return nil, opErr("put", bucket, key, fmt.Errorf("%q is not a hex SHA-256", sum))
	}
	return s.put(ctx, bucket, key, r, size, sum)
}

func validSHA256(sum string) bool {
	if len(sum) != 64 {
		return false
	}
	for i := 0; i < len(sum); i++ {
		if c := sum[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// withPayloadHash makes an operation sign sum as its payload hash (the
// SDK then neither reads the body to hash it nor sends UNSIGNED-PAYLOAD).
func withPayloadHash(sum string) func(*s3.Options) {
	return func(o *s3.Options) {
		if sum == "" {
			return
		}
		o.APIOptions = append(o.APIOptions, func(st *middleware.Stack) error {
			return st.Initialize.Add(middleware.InitializeMiddlewareFunc("openfinspacePayloadSHA256",
				func(ctx context.Context, in middleware.InitializeInput, next middleware.InitializeHandler) (middleware.InitializeOutput, middleware.Metadata, error) {
					return next.HandleInitialize(v4.SetPayloadHash(ctx, sum), in)
				}), middleware.Before)
		})
	}
}

func (s *S3Store) put(ctx context.Context, bucket, key string, r io.Reader, size int64, sum string) (*ObjectInfo, error) {
	if err := s.check(bucket, key); err != nil {
		return nil, opErr("put", bucket, key, err)
	}
	if s.single != "" {
		// Keep ErrNoBucket semantics: the logical bucket must exist.
		ok, err := s.bucketExists(ctx, bucket)
		if err != nil {
			return nil, opErr("put", bucket, key, err)
		}
		if !ok {
			return nil, opErr("put", bucket, key, ErrNoBucket)
		}
	}
	pb, pk := s.physical(bucket, key)
	var etag *string
	section, err := sectionOf(r, size)
	switch {
	case err != nil:
		return nil, opErr("put", bucket, key, err)
	case section != nil && size <= s.partSize:
		// One PutObject straight from the caller's bytes: the SDK hashes
		// the section for the signature, sends it, and seeks back to
		// retry, without copying it (the uploader would, into a part
		// buffer, for a body it cannot see is seekable).
		out, err := s.client.PutObject(ctx, &s3.PutObjectInput{Bucket: &pb, Key: &pk, Body: section, ContentLength: aws.Int64(size)},
			withPayloadHash(sum))
		if err != nil {
			return nil, opErr("put", bucket, key, s.notFound(ctx, bucket, err))
		}
		etag = out.ETag
	default:
		var body io.Reader = r
		partSize := s.partSize
		switch {
		case section != nil:
			// The uploader sends parts as sections of it.
			body = section
		case size >= 0:
			body = &exactReader{r: r, left: size}
		}
		if size >= 0 {
			if need := (size + maxParts - 1) / maxParts; need > partSize {
				partSize = need
			}
		}
		in := &s3.PutObjectInput{Bucket: &pb, Key: &pk, Body: body}
		out, err := s.uploader.Upload(ctx, in, func(u *manager.Uploader) { u.PartSize = partSize })
		if err != nil {
			if errors.Is(err, ErrSizeMismatch) {
				return nil, opErr("put", bucket, key, ErrSizeMismatch)
			}
			return nil, opErr("put", bucket, key, s.notFound(ctx, bucket, err))
		}
		etag = out.ETag
	}
	info := &ObjectInfo{Bucket: bucket, Key: key, Size: size, ETag: unquote(aws.ToString(etag))}
	if size < 0 {
		// Unknown length: ask the store.
		h, err := s.Head(ctx, bucket, key)
		if err != nil {
			return nil, err
		}
		info = h
	}
	return info, nil
}

// sectionOf returns the rest of r as a section of size bytes when r can be
// read at offsets and seeked (bytes.Reader, strings.Reader, a regular
// *os.File), so that the SDK signs, sends and retries the caller's bytes
// without copying them; nil (and no error) when it cannot, or the size is
// unknown. It fails with ErrSizeMismatch when the rest of r is not size
// bytes long.
func sectionOf(r io.Reader, size int64) (*io.SectionReader, error) {
	ra, ok := r.(io.ReaderAt)
	sk, ok2 := r.(io.Seeker)
	if !ok || !ok2 || size < 0 {
		return nil, nil
	}
	cur, err := sk.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, nil // a pipe or socket: stream it
	}
	end, err := sk.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, nil
	}
	if _, err := sk.Seek(cur, io.SeekStart); err != nil {
		return nil, err
	}
	if end-cur != size {
		return nil, fmt.Errorf("%w: the reader holds %d bytes, not %d", ErrSizeMismatch, end-cur, size)
	}
	return io.NewSectionReader(ra, cur, size), nil
}

// Get implements Store.
func (s *S3Store) Get(ctx context.Context, bucket, key string) (io.ReadCloser, *ObjectInfo, error) {
	if err := s.check(bucket, key); err != nil {
		return nil, nil, opErr("get", bucket, key, err)
	}
	pb, pk := s.physical(bucket, key)
	out, err := s.client.GetObject(ctx, &s3.GetObjectInput{Bucket: &pb, Key: &pk})
	if err != nil {
		return nil, nil, opErr("get", bucket, key, s.notFound(ctx, bucket, err))
	}
	info := &ObjectInfo{Bucket: bucket, Key: key, Size: aws.ToInt64(out.ContentLength),
		ETag: unquote(aws.ToString(out.ETag)), ContentType: aws.ToString(out.ContentType)}
	if out.LastModified != nil {
		info.LastModified = *out.LastModified
	}
	return out.Body, info, nil
}

// Head implements Store.
func (s *S3Store) Head(ctx context.Context, bucket, key string) (*ObjectInfo, error) {
	if err := s.check(bucket, key); err != nil {
		return nil, opErr("head", bucket, key, err)
	}
	pb, pk := s.physical(bucket, key)
	out, err := s.client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: &pb, Key: &pk})
	if err != nil {
		return nil, opErr("head", bucket, key, s.notFound(ctx, bucket, err))
	}
	info := &ObjectInfo{Bucket: bucket, Key: key, Size: aws.ToInt64(out.ContentLength),
		ETag: unquote(aws.ToString(out.ETag)), ContentType: aws.ToString(out.ContentType)}
	if out.LastModified != nil {
		info.LastModified = *out.LastModified
	}
	return info, nil
}

// List implements Store.
func (s *S3Store) List(ctx context.Context, bucket string, o ListOptions) (*ListPage, error) {
	if err := s.checkBucket(bucket); err != nil {
		return nil, opErr("list", bucket, o.Prefix, err)
	}
	if err := validPrefix(o.Prefix); err != nil {
		return nil, opErr("list", bucket, o.Prefix, err)
	}
	if o.Limit < 0 || o.Limit > 1000 {
		return nil, opErr("list", bucket, o.Prefix, fmt.Errorf("%w: limit %d is outside 1..1000", ErrInvalidName, o.Limit))
	}
	if o.Limit == 0 {
		o.Limit = 1000
	}
	pb, pp := s.physical(bucket, o.Prefix)
	in := &s3.ListObjectsV2Input{Bucket: &pb, MaxKeys: aws.Int32(int32(o.Limit))}
	if pp != "" {
		in.Prefix = aws.String(pp)
	}
	if o.Delimiter != "" {
		in.Delimiter = aws.String(o.Delimiter)
	}
	if o.Cursor != "" {
		in.ContinuationToken = aws.String(o.Cursor)
	}
	if s.single != "" {
		ok, err := s.bucketExists(ctx, bucket)
		if err != nil {
			return nil, opErr("list", bucket, o.Prefix, err)
		}
		if !ok {
			return nil, opErr("list", bucket, o.Prefix, ErrNoBucket)
		}
	}
	out, err := s.client.ListObjectsV2(ctx, in)
	if err != nil {
		err = mapErr(err)
		if errors.Is(err, ErrNoBucket) {
			s.forget(bucket)
		}
		return nil, opErr("list", bucket, o.Prefix, err)
	}
	strip := ""
	if s.single != "" {
		strip = bucket + "/"
	}
	page := &ListPage{}
	for _, obj := range out.Contents {
		k := strings.TrimPrefix(aws.ToString(obj.Key), strip)
		if k == "" { // the single-bucket marker
			continue
		}
		oi := ObjectInfo{Bucket: bucket, Key: k, Size: aws.ToInt64(obj.Size), ETag: unquote(aws.ToString(obj.ETag))}
		if obj.LastModified != nil {
			oi.LastModified = *obj.LastModified
		}
		page.Objects = append(page.Objects, oi)
	}
	for _, cp := range out.CommonPrefixes {
		page.CommonPrefixes = append(page.CommonPrefixes, strings.TrimPrefix(aws.ToString(cp.Prefix), strip))
	}
	if aws.ToBool(out.IsTruncated) {
		page.NextCursor = aws.ToString(out.NextContinuationToken)
	}
	return page, nil
}

// Delete implements Store.
func (s *S3Store) Delete(ctx context.Context, bucket, key string) error {
	if err := s.check(bucket, key); err != nil {
		return opErr("delete", bucket, key, err)
	}
	if s.single != "" {
		ok, err := s.bucketExists(ctx, bucket)
		if err != nil {
			return opErr("delete", bucket, key, err)
		}
		if !ok {
			return opErr("delete", bucket, key, ErrNoBucket)
		}
	}
	pb, pk := s.physical(bucket, key)
	_, err := s.client.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: &pb, Key: &pk})
	if err != nil {
		err = mapErr(err)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if errors.Is(err, ErrNoBucket) {
			s.forget(bucket)
		}
		return opErr("delete", bucket, key, err)
	}
	return nil
}

// mapErr turns S3 "not found" errors into ErrNoBucket / ErrNotFound and
// leaves the rest as they are.
func mapErr(err error) error {
	if err == nil {
		return nil
	}
	var nsb *types.NoSuchBucket
	var nsk *types.NoSuchKey
	switch {
	case errors.As(err, &nsb):
		return ErrNoBucket
	case errors.As(err, &nsk):
		return ErrNotFound
	}
	switch apiCode(err) {
	case "NoSuchBucket":
		return ErrNoBucket
	case "NoSuchKey", "NotFound":
		return ErrNotFound
	}
	return err
}

func apiCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func status(err error) int {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.HTTPStatusCode()
	}
	return 0
}

func unquote(etag string) string { return strings.Trim(etag, `"`) }

// Sync makes the objects written so far durable: the embedded gateway's
// files are synced; an S3 service acknowledges only durable writes.
func (s *S3Store) Sync(ctx context.Context) error {
	if s.syncer == nil {
		return nil
	}
	return s.syncer.Sync(ctx)
}
