package s3gw

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/credstore"
	"github.com/openfinspace/openfinspace/internal/blob"
)

// MaxScopedReadTTL is the longest lifetime of a scoped read credential.
const MaxScopedReadTTL = 7 * 24 * time.Hour

// ScopedReadRole is the role name in scoped read credentials' ARNs.
const ScopedReadRole = "openfinspace-scoped-read"

// IssueScopedRead issues temporary credentials (ASIA… key, secret, session
// token) that may only read objects under bucket/prefix through the S3
// endpoint, until they expire after ttl:
//
//   - GET and HEAD of objects whose key starts with prefix;
//   - GET of the bucket (ListObjects, ListObjectsV2) with a prefix
//     parameter that starts with prefix;
//
// and nothing else (403 AccessDenied). An empty prefix grants the whole
// bucket. prefix is matched as a string, as S3 policies do: "data/2024"
// also covers "data/2024-x"; end it with "/" to grant a folder.
func IssueScopedRead(ctx context.Context, temp *credstore.Store, account, bucket, prefix string, ttl time.Duration) (*auth.Credential, error) {
	if temp == nil {
		return nil, errors.New("s3gw: no credential store")
	}
	if err := blob.ValidBucketName(bucket); err != nil {
		return nil, fmt.Errorf("s3gw: scoped read: %w", err)
	}
	if prefix != "" {
		if err := blob.ValidKey(prefix); err != nil {
			return nil, fmt.Errorf("s3gw: scoped read prefix: %w", err)
		}
	}
	if ttl <= 0 || ttl > MaxScopedReadTTL {
		return nil, fmt.Errorf("s3gw: scoped read credentials live between 1s and %s, not %s", MaxScopedReadTTL, ttl)
	}
	if account == "" {
		return nil, errors.New("s3gw: scoped read: the account id is required")
	}
	return temp.Issue(ctx, credstore.IssueInput{
		Principal: auth.Principal{
			Kind:    auth.ScopedRead,
			Account: account,
			ARN:     "arn:aws:sts::" + account + ":assumed-role/" + ScopedReadRole + "/" + bucket,
			Bucket:  bucket,
			Prefix:  prefix,
		},
		TTL:   ttl,
		Group: "s3-scoped-read/" + bucket,
	})
}

// Query parameters a scoped read may carry.
var (
	presignParams = map[string]bool{
		"X-Amz-Algorithm": true, "X-Amz-Credential": true, "X-Amz-Date": true, "X-Amz-Expires": true,
		"X-Amz-SignedHeaders": true, "X-Amz-Signature": true, "X-Amz-Security-Token": true,
		"x-id": true, // added by aws-sdk-go-v2
	}
	objectReadParams = map[string]bool{
		"versionId": true, "partNumber": true,
		"response-content-type": true, "response-content-language": true, "response-expires": true,
		"response-cache-control": true, "response-content-disposition": true, "response-content-encoding": true,
	}
	listParams = map[string]bool{
		"list-type": true, "prefix": true, "delimiter": true, "max-keys": true, "continuation-token": true,
		"start-after": true, "marker": true, "encoding-type": true, "fetch-owner": true,
	}
)

// scopeDenial returns why a request of a scoped read credential for
// bucket/prefix is refused, or "" when it may proceed. target is the exact
// request target forwarded to the gateway (escaped path and raw query),
// parsed the way the gateway parses it.
func scopeDenial(method, target, bucket, prefix string) string {
	if method != "GET" && method != "HEAD" {
		return "scoped read credentials may only GET and HEAD"
	}
	rawPath, rawQuery, _ := strings.Cut(target, "?")
	path, err := url.PathUnescape(rawPath)
	if err != nil || !strings.HasPrefix(path, "/") {
		return "malformed path"
	}
	b, key, _ := strings.Cut(path[1:], "/")
	if b != bucket {
		return "outside the credential's bucket"
	}
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "malformed query"
	}
	for k, vs := range q {
		if len(vs) > 1 {
			return "repeated query parameter " + k
		}
	}
	if key == "" {
		// Only listings, with a prefix inside the scope.
		if method != "GET" {
			return "scoped read credentials may not HEAD the bucket"
		}
		for k := range q {
			if !listParams[k] && !presignParams[k] {
				return "only object listings are allowed on the bucket"
			}
		}
		p := q.Get("prefix")
		if !strings.HasPrefix(p, prefix) || dotSegment(p) {
			return "listing outside the credential's prefix"
		}
		return ""
	}
	for k := range q {
		if !objectReadParams[k] && !presignParams[k] {
			return "only object reads are allowed"
		}
	}
	if !strings.HasPrefix(key, prefix) || dotSegment(key) {
		return "outside the credential's prefix"
	}
	return ""
}

// dotSegment reports a "." or ".." path segment, which the gateway's
// filesystem would resolve (a/../b is b).
func dotSegment(s string) bool {
	for seg := range strings.SplitSeq(s, "/") {
		if seg == "." || seg == ".." {
			return true
		}
	}
	return false
}
