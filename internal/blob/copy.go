package blob

import (
	"context"
	"net/url"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Copier is a Store that copies an object on the storage side (S3
// CopyObject), without the bytes passing through the caller. A data view's
// new version takes the files of the partitions it did not rebuild from the
// previous version this way.
type Copier interface {
	// Copy copies srcBucket/srcKey to dstBucket/dstKey, replacing any
	// object there. Objects of more than 5 GiB may be refused (S3's limit
	// for one CopyObject); callers then copy through Get and Put.
	Copy(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string) error
}

// Copy implements Copier.
func (s *S3Store) Copy(ctx context.Context, srcBucket, srcKey, dstBucket, dstKey string) error {
	if err := s.check(srcBucket, srcKey); err != nil {
		return opErr("copy", srcBucket, srcKey, err)
	}
	if err := s.check(dstBucket, dstKey); err != nil {
		return opErr("copy", dstBucket, dstKey, err)
	}
	sb, sk := s.physical(srcBucket, srcKey)
	db, dk := s.physical(dstBucket, dstKey)
	// x-amz-copy-source is bucket/key, URL-encoded (slashes kept).
	src := url.PathEscape(sb) + "/" + strings.ReplaceAll(url.PathEscape(sk), "%2F", "/")
	if _, err := s.client.CopyObject(ctx, &s3.CopyObjectInput{Bucket: &db, Key: &dk, CopySource: &src}); err != nil {
		return opErr("copy", srcBucket, srcKey, s.notFound(ctx, srcBucket, err))
	}
	return nil
}
