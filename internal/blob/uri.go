package blob

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ParseURI splits an s3://bucket/key URI. The key is taken literally (no
// percent-decoding, as the AWS CLI does) and checked with ValidKey.
func ParseURI(uri string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok {
		return "", "", fmt.Errorf("%w: source %q is not an s3://bucket/key URI", ErrInvalidName, uri)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if err := ValidBucketName(bucket); err != nil {
		return "", "", fmt.Errorf("source %q: %w", uri, err)
	}
	if err := ValidKey(key); err != nil {
		return "", "", fmt.Errorf("source %q: %w", uri, err)
	}
	return bucket, key, nil
}

// SourceError is a source that cannot be read; it wraps the cause
// (ErrNotFound, ErrNoBucket, ErrInvalidName, ...).
type SourceError struct {
	URI string
	Err error
}

func (e *SourceError) Error() string {
	switch {
	case errors.Is(e.Err, ErrNoBucket):
		b, _, _ := strings.Cut(strings.TrimPrefix(e.URI, "s3://"), "/")
		return fmt.Sprintf("source %s: the bucket %q does not exist", e.URI, b)
	case errors.Is(e.Err, ErrNotFound):
		return fmt.Sprintf("source %s: no such object", e.URI)
	}
	return fmt.Sprintf("source %s: %v", e.URI, e.Err)
}

func (e *SourceError) Unwrap() error { return e.Err }

// OpenSource opens the object an s3:// source URI names.
func OpenSource(ctx context.Context, s Store, uri string) (io.ReadCloser, *ObjectInfo, error) {
	bucket, key, err := ParseURI(uri)
	if err != nil {
		return nil, nil, &SourceError{URI: uri, Err: err}
	}
	rc, info, err := s.Get(ctx, bucket, key)
	if err != nil {
		return nil, nil, &SourceError{URI: uri, Err: err}
	}
	return rc, info, nil
}

// StageSource copies the object an s3:// source URI names into a new file
// in dir (for engines that read local files only) and returns its path. The
// file is removed again if the copy fails.
func StageSource(ctx context.Context, s Store, uri, dir string) (string, *ObjectInfo, error) {
	rc, info, err := OpenSource(ctx, s, uri)
	if err != nil {
		return "", nil, err
	}
	defer rc.Close()
	f, err := os.CreateTemp(dir, "source-*"+SafeExt(info.Key))
	if err != nil {
		return "", nil, &SourceError{URI: uri, Err: err}
	}
	n, err := io.Copy(f, rc)
	if err == nil && info.Size >= 0 && n != info.Size {
		err = fmt.Errorf("%w: read %d of %d bytes", ErrSizeMismatch, n, info.Size)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", nil, &SourceError{URI: uri, Err: err}
	}
	return f.Name(), info, nil
}

// SafeExt keeps a short, plain extension of key (".csv", ".csv.gz") so
// engines that sniff by name still can.
func SafeExt(key string) string {
	base := filepath.Base(key)
	i := strings.IndexByte(base, '.')
	if i < 0 {
		return ""
	}
	ext := base[i:]
	if len(ext) > 16 {
		return ""
	}
	for _, c := range ext {
		if !(c == '.' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return ""
		}
	}
	return ext
}
