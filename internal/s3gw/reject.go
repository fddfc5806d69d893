package s3gw

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/versity/versitygw/backend"
	"github.com/versity/versitygw/s3response"

	"github.com/openfinspace/openfinspace/internal/auth/sigv4"
	"github.com/openfinspace/openfinspace/internal/blob"
)

// Request rules checked on the main port before any request is proxied,
// for every principal (root and STS sessions included). They close the
// gaps between what versitygw's posix backend accepts and what Amazon S3
// answers:
//
//   - presigned URLs are verified here (sigv4.Verifier), whoever signed
//     them, after S3's own checks of the query parameters: X-Amz-Expires
//     is required, 0 to 604800 seconds; a URL dated more than the allowed
//     skew ahead is not yet valid (versitygw accepts future-dated URLs);
//     expired session credentials are refused;
//   - object keys: valid UTF-8 without NUL (400 InvalidURI), at most 1024
//     bytes (400 KeyTooLongError), no "." or ".." segment (403
//     AccessDenied: the filesystem would resolve them, a/../b is b), no
//     segment longer than the filesystem's 255-byte names (400
//     KeyTooLongError), nothing in the backend's reserved names (400
//     InvalidArgument, see reservedSegment);
//     the same for x-amz-copy-source, the keys of a DeleteObjects body and
//     listing prefixes;
//   - CreateBucket: S3's general purpose bucket naming rules
//     (blob.ValidBucketName; 400 InvalidBucketName);
//   - CompleteMultipartUpload: parts in ascending part number order (400
//     InvalidPartOrder), checked on the whole list before versitygw
//     checks the sizes part by part.
//
// Bodies are read only for DeleteObjects and CompleteMultipartUpload
// (small XML documents, bounded by maxCheckedBody) and forwarded byte for
// byte: the signature's payload hash covers them.

// metaTmpDir is versitygw's staging directory inside every bucket
// (posix.MetaTmpDir): in-progress multipart uploads and, where there is no
// O_TMPFILE, objects being written.
const metaTmpDir = ".sgwtmp"

// sidecarMetaDir is the directory name under which the sidecar metadata
// store keeps an object's (and a bucket's) attributes: <sidecar>/<bucket>/
// <key>/meta/<attribute> (versitygw backend/meta.SideCar).
const sidecarMetaDir = "meta"

// maxNameBytes is the longest file name of the filesystems the posix
// backend runs on (NAME_MAX): one segment of a key is one name.
const maxNameBytes = 255

// maxCheckedBody bounds the XML bodies read here. A DeleteObjects body
// names at most 1000 keys; a CompleteMultipartUpload body lists up to
// 10000 parts of about 130 bytes each with checksums.
const maxCheckedBody = 4 << 20

const (
	msgInvalidURI    = "Couldn't parse the specified URI."
	msgKeyTooLong    = "Your key is too long."
	msgPartOrder     = "The list of parts was not in ascending order. Parts must be ordered by part number."
	msgInvalidBucket = "The specified bucket is not valid."
)

func badRequest(code, msg string) *requestError {
	return &requestError{http.StatusBadRequest, code, msg}
}

// reject answers the client and returns true when r must not be proxied
// (see the rules above).
func (g *Gateway) reject(w http.ResponseWriter, r *http.Request) bool {
	fail := func(e *requestError) bool {
		writeError(w, r, e.status, e.code, e.message)
		return true
	}
	rawPath, rawQuery, _ := strings.Cut(target(r), "?")
	query := parseRawQuery(rawQuery)
	if r.Header.Get("Authorization") == "" {
		// credentialOf found exactly one X-Amz-Credential: a presigned URL.
		if e := presignProblem(query); e != nil {
			return fail(e)
		}
		if !g.verifyPresigned(w, r) {
			return true
		}
	}
	path, err := url.PathUnescape(rawPath)
	if err != nil || !strings.HasPrefix(path, "/") {
		return fail(badRequest("InvalidURI", msgInvalidURI))
	}
	bucket, key, _ := strings.Cut(path[1:], "/")
	sidecar := func() (bool, error) { return g.sidecarMetadata(r.Context()) }
	checkKey := func(key string) bool {
		e, err := keyProblemLazy(key, sidecar)
		if err != nil {
			writeError(w, r, http.StatusServiceUnavailable, "ServiceUnavailable", "The S3 gateway is not available; please retry.")
			return true
		}
		if e != nil {
			return fail(e)
		}
		return false
	}
	if key != "" && checkKey(key) {
		return true
	}
	switch src := r.Header.Values("X-Amz-Copy-Source"); len(src) {
	case 0:
	case 1:
		// Parsed exactly as the gateway parses it; what it cannot parse it
		// refuses itself.
		if _, skey, _, err := backend.ParseCopySource(src[0]); err == nil && checkKey(skey) {
			return true
		}
	default:
		return fail(badRequest("InvalidArgument", "The x-amz-copy-source header may be given only once."))
	}
	switch {
	case bucket == "":
	case key == "" && r.Method == http.MethodPut && createBucketQuery(query):
		if blob.ValidBucketName(bucket) != nil {
			return fail(badRequest("InvalidBucketName", msgInvalidBucket))
		}
	case key == "" && r.Method == http.MethodGet:
		if p, ok := query.get("prefix"); ok {
			if e := prefixProblem(p); e != nil {
				return fail(e)
			}
		}
	case key == "" && r.Method == http.MethodPost && query.has("delete"):
		body, ok := g.peekBody(w, r)
		if !ok {
			return true
		}
		if body == nil && r.ContentLength != 0 {
			// Too long to check, so too long to pass.
			return fail(badRequest("MaxMessageLengthExceeded", "Your request was too big."))
		}
		for _, k := range deleteKeys(body) {
			if checkKey(k) {
				return true
			}
		}
	case key != "" && r.Method == http.MethodPut && declaredLength(r) > maxPutSize:
		// S3's limit for one PUT (an object or a part), refused before a
		// byte of the body is read.
		return fail(badRequest("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size."))
	case key != "" && r.Method == http.MethodPost && query.has("uploadId"):
		body, ok := g.peekBody(w, r)
		if !ok {
			return true
		}
		if e := partOrderProblem(body); e != nil {
			return fail(e)
		}
	}
	return false
}

// maxPutSize is the largest body one PutObject or UploadPart may carry
// (5 GiB).
const maxPutSize = 5 << 30

// declaredLength is the length of r's payload: the decoded length of an
// aws-chunked upload, else Content-Length (-1 when unknown).
func declaredLength(r *http.Request) int64 {
	if streamingWithLength(r) {
		n, _ := strconv.ParseInt(r.Header.Get("X-Amz-Decoded-Content-Length"), 10, 64)
		return n
	}
	return r.ContentLength
}

// keyProblem returns why key may not be used as an object key, or nil.
// sidecar says whether the gateway keeps metadata in a sidecar directory.
func keyProblem(key string, sidecar bool) *requestError {
	e, _ := keyProblemLazy(key, func() (bool, error) { return sidecar, nil })
	return e
}

// keyProblemLazy is keyProblem asking for the metadata mode only when the
// key has a segment whose meaning depends on it.
func keyProblemLazy(key string, sidecar func() (bool, error)) (*requestError, error) {
	switch {
	case !utf8.ValidString(key), strings.IndexByte(key, 0) >= 0:
		return badRequest("InvalidURI", msgInvalidURI), nil
	case len(key) > blob.MaxKeyLength:
		return badRequest("KeyTooLongError", msgKeyTooLong), nil
	}
	var meta bool
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "." || seg == "..":
			return dotSegmentDenied("Object keys"), nil
		case len(seg) > maxNameBytes:
			return badRequest("KeyTooLongError", fmt.Sprintf(
				"Your key is too long: each /-separated part of a key may be at most %d bytes on this server.", maxNameBytes)), nil
		case reservedSegment(seg):
			return reservedKey(metaTmpDir), nil
		case seg == sidecarMetaDir:
			meta = true
		}
	}
	if meta {
		sc, err := sidecar()
		if err != nil {
			return nil, err
		}
		if sc {
			return reservedKey(sidecarMetaDir), nil
		}
	}
	return nil, nil
}

// dotSegmentDenied refuses a "." or ".." segment, which the filesystem
// would resolve (a/../b is b, so one key would name another): 403
// AccessDenied, the answer FinSpace users and scoped read credentials
// already got for them from their authorization, now for every principal.
// (S3 itself takes such keys literally; no S3 error code fits exactly.)
func dotSegmentDenied(what string) *requestError {
	return &requestError{http.StatusForbidden, "AccessDenied",
		"Access Denied: " + what + " with a \".\" or \"..\" path segment are not supported by this server."}
}

func reservedKey(name string) *requestError {
	return badRequest("InvalidArgument", fmt.Sprintf(
		"Object keys with a path segment named %q are reserved for this server's own use.", name))
}

// reservedSegment reports a key segment that names the gateway's own
// files: its staging directory ".sgwtmp" (in every bucket; the backend's
// listings skip every directory of that name, at any depth) and the
// temporary names ".<name>.sgwtmp.<digits>" it links an object under
// while replacing it.
func reservedSegment(seg string) bool {
	if seg == metaTmpDir {
		return true
	}
	if !strings.HasPrefix(seg, ".") {
		return false
	}
	i := strings.LastIndex(seg, metaTmpDir+".")
	if i < 2 {
		return false
	}
	digits := seg[i+len(metaTmpDir)+1:]
	return digits != "" && strings.Trim(digits, "0123456789") == ""
}

// prefixProblem returns why a listing prefix is refused: listings with a
// prefix inside the staging directory would list it.
func prefixProblem(prefix string) *requestError {
	for seg := range strings.SplitSeq(prefix, "/") {
		switch {
		case reservedSegment(seg):
			return reservedKey(metaTmpDir)
		case seg == "." || seg == "..":
			return dotSegmentDenied("Prefixes")
		}
	}
	return nil
}

// createBucketQuery reports whether a PUT of a bucket with this query is
// CreateBucket: no subresource, only authentication parameters.
func createBucketQuery(q rawQuery) bool {
	for _, p := range q {
		if !presignParams[p.key] {
			return false
		}
	}
	return true
}

// deleteKeys returns the keys named by a DeleteObjects body, parsed as the
// gateway parses it (xml.Unmarshal into s3response.DeleteObjects); a body
// it cannot parse the gateway refuses.
func deleteKeys(body []byte) []string {
	var d s3response.DeleteObjects
	if xml.Unmarshal(body, &d) != nil {
		return nil
	}
	keys := make([]string, 0, len(d.Objects))
	for _, o := range d.Objects {
		if o.Key != nil {
			keys = append(keys, *o.Key)
		}
	}
	return keys
}

// partOrderProblem returns InvalidPartOrder when a CompleteMultipartUpload
// body lists its parts out of ascending part number order. Bodies the
// gateway refuses for other reasons (not XML, no parts, a missing or
// non-positive part number) are left to it.
func partOrderProblem(body []byte) *requestError {
	var c s3response.CompleteMultipartUploadRequestBody
	if xml.Unmarshal(body, &c) != nil {
		return nil
	}
	var last int32
	for _, p := range c.Parts {
		if p.PartNumber == nil || *p.PartNumber < 1 {
			return nil
		}
		if *p.PartNumber <= last {
			return badRequest("InvalidPartOrder", msgPartOrder)
		}
		last = *p.PartNumber
	}
	return nil
}

// peekBody reads up to maxCheckedBody bytes of r's body and puts them
// back in front of the rest, so the gateway receives the same bytes. It
// returns nil (and true) when there is no body or it is longer. It
// answers the client and returns false when the body cannot be read.
func (g *Gateway) peekBody(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, true
	}
	if r.ContentLength > maxCheckedBody {
		return nil, true
	}
	buf, err := io.ReadAll(io.LimitReader(r.Body, maxCheckedBody+1))
	r.Body = &prefixedBody{Reader: io.MultiReader(bytes.NewReader(buf), r.Body), body: r.Body}
	if err != nil {
		writeError(w, r, http.StatusBadRequest, "IncompleteBody",
			"You did not provide the number of bytes specified by the Content-Length HTTP header.")
		return nil, false
	}
	if len(buf) > maxCheckedBody {
		return nil, true
	}
	return buf, true
}

// prefixedBody is a request body whose first bytes were read ahead.
type prefixedBody struct {
	io.Reader
	body io.ReadCloser
}

func (b *prefixedBody) Close() error { return b.body.Close() }

// sidecarMetadata reports whether the gateway keeps object metadata in a
// sidecar directory, starting the gateway process to learn it if needed.
func (g *Gateway) sidecarMetadata(ctx context.Context) (bool, error) {
	if m := g.MetadataMode(); m != "" {
		return m == "sidecar", nil
	}
	if _, err := g.running(ctx); err != nil {
		return false, err
	}
	return g.MetadataMode() == "sidecar", nil
}

// Presigned URLs.

const (
	msgQueryRequires = "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, " +
		"X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
	amzDateLayout = "20060102T150405Z"
)

// presignProblem checks a presigned URL's parameters as Amazon S3 does
// before it looks at the signature (AuthorizationQueryParametersError,
// with S3's messages), or returns nil. Expiry, the signature and the
// credential are sigv4.Verifier's (verifyPresigned).
func presignProblem(q rawQuery) *requestError {
	queryErr := func(msg string) *requestError { return badRequest("AuthorizationQueryParametersError", msg) }
	for _, name := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date",
		"X-Amz-SignedHeaders", "X-Amz-Expires"} {
		if v, _ := q.get(name); v == "" {
			return queryErr(msgQueryRequires)
		}
	}
	date, _ := q.get("X-Amz-Date")
	if t, err := time.Parse(amzDateLayout, date); err != nil || t.Format(amzDateLayout) != date {
		return queryErr(`X-Amz-Date must be in the ISO8601 Long Format "yyyyMMdd'T'HHmmss'Z'"`)
	}
	cred, _ := q.get("X-Amz-Credential")
	if parts := strings.Split(cred, "/"); len(parts) == 5 && parts[1] != date[:8] {
		return queryErr(fmt.Sprintf("Invalid credential date %q. This date is not the same as X-Amz-Date: %q.", parts[1], date[:8]))
	}
	exp, _ := q.get("X-Amz-Expires")
	switch n, err := strconv.ParseInt(exp, 10, 64); {
	case err != nil:
		return queryErr("X-Amz-Expires should be a number")
	case n < 0:
		return queryErr("X-Amz-Expires must be non-negative")
	case n > int64(sigv4.MaxPresignExpiry/time.Second):
		return queryErr("X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds")
	}
	signed, _ := q.get("X-Amz-SignedHeaders")
	if !slices.Contains(strings.Split(signed, ";"), "host") {
		return &requestError{http.StatusForbidden, "AccessDenied", "There were headers present in the request which were not signed"}
	}
	return nil
}

// verifyPresigned verifies a presigned URL with the server's verifier,
// answering the client in S3's vocabulary when it fails. The payload of a
// presigned S3 URL is UNSIGNED-PAYLOAD whatever X-Amz-Content-Sha256
// says (as the gateway verifies it), so an unsigned X-Amz-Content-Sha256
// header is left out of the verification.
func (g *Gateway) verifyPresigned(w http.ResponseWriter, r *http.Request) bool {
	vr := r
	if cs := r.Header.Get("X-Amz-Content-Sha256"); cs != "" && !slices.Contains(signedHeaders(r), "x-amz-content-sha256") {
		vr = r.Clone(r.Context())
		vr.Header.Del("X-Amz-Content-Sha256")
	}
	_, err := g.cfg.Verifier.Verify(r.Context(), vr, nil)
	if err == nil {
		return true
	}
	var se *sigv4.Error
	if errors.As(err, &se) {
		s3e := se.ForS3()
		writeError(w, r, s3e.Status, s3e.Code, s3e.Message)
		return false
	}
	g.log.Error("s3: verifying a presigned URL", "error", err)
	writeError(w, r, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
	return false
}

// rawQuery is a request's query parameters in order, split as the gateway
// (fasthttp) splits them: on "&" only, names and values unescaped.
type rawQuery []struct{ key, value string }

func parseRawQuery(raw string) rawQuery {
	var q rawQuery
	if raw == "" {
		return q
	}
	for pair := range strings.SplitSeq(raw, "&") {
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if dv, err := url.QueryUnescape(v); err == nil {
			v = dv
		}
		q = append(q, struct{ key, value string }{k, v})
	}
	return q
}

// get returns the first value of key.
func (q rawQuery) get(key string) (string, bool) {
	for _, p := range q {
		if p.key == key {
			return p.value, true
		}
	}
	return "", false
}

func (q rawQuery) has(key string) bool {
	_, ok := q.get(key)
	return ok
}
