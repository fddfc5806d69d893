// Package blob is openfinspace's own object storage: the interface the
// product reads and writes its data through (ingested files, changeset
// data, query results), and its two implementations.
//
//   - The embedded store (NewEmbedded) keeps objects under the data
//     directory, behind the S3 endpoint that openfinspace serves on its main
//     port (internal/s3gw). It is an S3 client of that gateway, over a
//     private socket, so the product and S3 clients see exactly the same
//     objects, metadata and ETags, and every byte goes through the
//     gateway's one implementation of the on-disk layout (versitygw's posix
//     backend: xattr metadata, O_TMPFILE + link for atomic puts, multipart
//     staging). Nothing here knows that layout.
//   - The external store (NewS3) talks to any S3-compatible service (Amazon
//     S3, MinIO, ...) with aws-sdk-go-v2, for production deployments.
//
// Open builds either from a Config (ConfigFromEnv reads the
// OPENFINSPACE_S3_* variables).
//
// Every operation streams: Put reads its io.Reader in bounded parts
// (multipart above one part), Get returns the response body. No operation
// holds a whole object in memory. A Put body that is an io.ReaderAt and
// io.Seeker (bytes.Reader, a regular *os.File) is sent from the caller's
// bytes, read at offsets, without being copied into part buffers.
//
// Names are checked before any request (ValidBucketName, ValidKey): bucket
// names follow Amazon S3's rules for general purpose buckets; keys must be
// valid UTF-8 of 1 to 1024 bytes without NUL, a leading "/", or empty, "."
// or ".." path segments — keys that a filesystem-backed store would alias
// or resolve outside the bucket. Missing objects and buckets are reported as
// errors matching ErrNotFound and ErrNoBucket (errors.Is), wrapped in *Error
// naming the operation and s3:// location.
package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
	"unicode/utf8"
)

// Store is the product's object storage. Bucket and key names are checked
// with ValidBucketName and ValidKey.
type Store interface {
	// EnsureBucket creates bucket when it does not exist yet.
	EnsureBucket(ctx context.Context, bucket string) error
	// Put stores r as bucket/key, replacing any object there. size is the
	// number of bytes r yields, or -1 when unknown; when size is given and r
	// yields fewer or more bytes, Put fails with ErrSizeMismatch and stores
	// nothing. The object becomes visible only once complete.
	Put(ctx context.Context, bucket, key string, r io.Reader, size int64) (*ObjectInfo, error)
	// Get opens bucket/key for reading. The caller must close the reader.
	Get(ctx context.Context, bucket, key string) (io.ReadCloser, *ObjectInfo, error)
	// Head returns the object's metadata.
	Head(ctx context.Context, bucket, key string) (*ObjectInfo, error)
	// List returns one page of the objects of bucket, in key order.
	List(ctx context.Context, bucket string, opts ListOptions) (*ListPage, error)
	// Delete removes bucket/key; deleting a missing object is not an error.
	Delete(ctx context.Context, bucket, key string) error
}

// SHA256Putter is a Store that can take a Put body's SHA-256 from the
// caller, who has computed it anyway (a content-addressed key), rather than
// hash the body a second time to sign it (S3Store).
type SHA256Putter interface {
	// PutSHA256 is Put of a body whose SHA-256 is sum (64 lowercase hex
	// digits). A body that does not hash to sum fails and stores nothing.
	PutSHA256(ctx context.Context, bucket, key string, r io.Reader, size int64, sum string) (*ObjectInfo, error)
}

// Syncer is implemented by stores whose acknowledged writes are not yet
// durable (the embedded store, over files written without fsync).
type Syncer interface {
	// Sync makes every write acknowledged so far durable.
	Sync(ctx context.Context) error
}

// Sync makes s's acknowledged writes durable where s needs it (Syncer); a
// result that names objects is committed elsewhere only after it.
func Sync(ctx context.Context, s Store) error {
	if y, ok := s.(Syncer); ok {
		return y.Sync(ctx)
	}
	return nil
}

// PutSHA256 puts r into s, passing its SHA-256 sum along when s is a
// SHA256Putter.
func PutSHA256(ctx context.Context, s Store, bucket, key string, r io.Reader, size int64, sum string) (*ObjectInfo, error) {
	if hp, ok := s.(SHA256Putter); ok {
		return hp.PutSHA256(ctx, bucket, key, r, size, sum)
	}
	return s.Put(ctx, bucket, key, r, size)
}

// ObjectInfo describes a stored object.
type ObjectInfo struct {
	Bucket, Key  string
	Size         int64
	ETag         string // without quotes
	LastModified time.Time
	ContentType  string // empty in listings
}

// ListOptions selects a page of List.
type ListOptions struct {
	// Prefix restricts the listing to keys that start with it.
	Prefix string
	// Delimiter, usually "/", rolls keys that contain it after Prefix up
	// into CommonPrefixes.
	Delimiter string
	// Cursor is the NextCursor of the previous page; empty for the first.
	Cursor string
	// Limit is the page size: 1 to 1000, 0 meaning 1000.
	Limit int
}

// ListPage is one page of a listing.
type ListPage struct {
	Objects        []ObjectInfo
	CommonPrefixes []string
	// NextCursor is empty on the last page.
	NextCursor string
}

// Errors reported by every Store, wrapped in *Error; test with errors.Is.
var (
	// ErrNotFound: the bucket exists but the object does not.
	ErrNotFound = errors.New("object not found")
	// ErrNoBucket: the bucket does not exist.
	ErrNoBucket = errors.New("bucket not found")
	// ErrInvalidName: a bucket name or key that ValidBucketName or ValidKey
	// refuses, or a malformed s3:// URI.
	ErrInvalidName = errors.New("invalid bucket name or key")
	// ErrSizeMismatch: Put's reader yielded more or fewer bytes than size.
	ErrSizeMismatch = errors.New("object body does not match its declared size")
)

// Error describes a failed operation on one location.
type Error struct {
	Op          string // put, get, head, list, delete, ensure-bucket, ...
	Bucket, Key string
	Err         error
}

func (e *Error) Error() string {
	loc := "s3://" + e.Bucket
	if e.Key != "" {
		loc += "/" + e.Key
	}
	return "blob: " + e.Op + " " + loc + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

func opErr(op, bucket, key string, err error) error {
	if err == nil {
		return nil
	}
	var be *Error
	if errors.As(err, &be) {
		return err
	}
	return &Error{Op: op, Bucket: bucket, Key: key, Err: err}
}

// MaxKeyLength is the longest key accepted, in bytes (Amazon S3's limit).
const MaxKeyLength = 1024

// ValidBucketName reports why name is not a valid Amazon S3 general purpose
// bucket name, or nil: 3 to 63 characters of lowercase letters, digits,
// dots and hyphens, beginning and ending with a letter or digit, no two
// adjacent dots, not an IPv4 address, and none of the reserved prefixes and
// suffixes.
func ValidBucketName(name string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: bucket name %q %s", ErrInvalidName, name, why)
	}
	if len(name) < 3 || len(name) > 63 {
		return bad("must be 3 to 63 characters long")
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '-') {
			return bad("may contain only lowercase letters, digits, dots and hyphens")
		}
	}
	if !alnum(name[0]) || !alnum(name[len(name)-1]) {
		return bad("must begin and end with a letter or digit")
	}
	if strings.Contains(name, "..") {
		return bad("must not contain two adjacent dots")
	}
	if ip := net.ParseIP(name); ip != nil && ip.To4() != nil {
		return bad("must not be formatted as an IP address")
	}
	for _, p := range []string{"xn--", "sthree-", "amzn-s3-demo-"} {
		if strings.HasPrefix(name, p) {
			return bad("must not start with " + p)
		}
	}
	for _, s := range []string{"-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3"} {
		if strings.HasSuffix(name, s) {
			return bad("must not end with " + s)
		}
	}
	return nil
}

func alnum(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// ValidKey reports why key is not accepted as an object key, or nil. Keys
// are valid UTF-8 of 1 to MaxKeyLength bytes, without NUL, without a leading
// "/", and without empty ("a//b"), "." or ".." segments; a trailing "/" is
// allowed (a folder marker).
func ValidKey(key string) error {
	bad := func(why string) error {
		return fmt.Errorf("%w: key %q %s", ErrInvalidName, key, why)
	}
	if key == "" {
		return bad("is empty")
	}
	if len(key) > MaxKeyLength {
		return fmt.Errorf("%w: key of %d bytes is longer than %d bytes", ErrInvalidName, len(key), MaxKeyLength)
	}
	if !utf8.ValidString(key) {
		return bad("is not valid UTF-8")
	}
	if strings.IndexByte(key, 0) >= 0 {
		return bad("contains NUL")
	}
	if key[0] == '/' {
		return bad("must not start with /")
	}
	segs := strings.Split(strings.TrimSuffix(key, "/"), "/")
	for _, s := range segs {
		switch s {
		case "":
			return bad("must not contain an empty path segment (//)")
		case ".", "..":
			return bad("must not contain a . or .. path segment")
		}
	}
	return nil
}

// validPrefix checks a listing prefix: like a key, but it may be empty.
func validPrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	return ValidKey(prefix)
}

// exactReader yields exactly size bytes of r, failing with ErrSizeMismatch
// when r ends early or holds more.
type exactReader struct {
	r    io.Reader
	left int64
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.left == 0 {
		// Check that r is exhausted too.
		var one [1]byte
		for {
			n, err := e.r.Read(one[:])
			if n > 0 {
				return 0, fmt.Errorf("%w: the reader holds more bytes than the declared size", ErrSizeMismatch)
			}
			if err == io.EOF {
				return 0, io.EOF
			}
			if err != nil {
				return 0, err
			}
		}
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	if err == io.EOF {
		if e.left > 0 {
			return n, fmt.Errorf("%w: the reader ended %d bytes before the declared size", ErrSizeMismatch, e.left)
		}
		if n > 0 {
			return n, nil
		}
		return e.Read(p)
	}
	return n, err
}
