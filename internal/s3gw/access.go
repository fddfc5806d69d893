package s3gw

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/authz"
	"github.com/openfinspace/openfinspace/internal/auth/sigv4"
	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/fault"
)

// Who may do what on the main port's S3 endpoint (the S3 rows of the
// server's authorization model, package authz; Config.Authz decides the
// kind-level access and the liveness of FinSpace users' credentials, this
// file the resource rules of "own" access):
//
//   - root and STS assumed-role sessions (the account's administrators):
//     everything;
//   - a FinSpace user's programmatic credentials: any object or bucket
//     operation on the working bucket of the user's environment in the
//     request's region (blob.WorkingLocationBucket), and nothing else — no
//     ListBuckets, no other bucket, no copy from another bucket;
//   - scoped read credentials: reads under their bucket and prefix
//     (scopeDenial);
//   - anything else: nothing.
//
// The parent decides from the access key the request is signed with. The
// gateway process verifies every signature (including the payload hash
// and aws-chunked chunk signatures) before it acts, and checks that the
// key it verifies is the key the parent decided for (accessKeyHeader), so
// a request cannot be authorized under one key and executed under
// another. Where the parent can verify the signature without reading the
// body (no body, an unsigned payload, presigned URLs) it also does so
// first, so that a bad signature is reported as such rather than as
// AccessDenied.

// accessKeyHeader tells the gateway process the access key the parent
// authorized the request for; the gateway refuses the request when its
// signature is by another key (see child.go).
const accessKeyHeader = "X-Openfinspace-Access-Key"

// requestError is a client error answered before the request is proxied.
type requestError struct {
	status        int
	code, message string
}

// Query parameters that make the gateway (versitygw) or sigv4.Verifier
// treat a request as query-string (presigned) authenticated, SigV4 or V2.
var queryAuthParams = map[string]bool{
	"X-Amz-Algorithm": true, "X-Amz-Credential": true, "X-Amz-Date": true, "X-Amz-Signature": true,
	"X-Amz-SignedHeaders": true, "X-Amz-Expires": true,
	"AWSAccessKeyId": true, "Signature": true, "Expires": true,
}

// credentialOf returns the access key id and region of the credential r is
// signed with. A request must use exactly one mechanism (one Authorization
// header, or a presigned query string with one X-Amz-Credential): anything
// else could be read as signed by different keys here and in the gateway.
func credentialOf(r *http.Request) (akid, region string, rerr *requestError) {
	malformed := &requestError{http.StatusBadRequest, "AuthorizationHeaderMalformed",
		"The authorization header is malformed; the Credential is mal-formed."}
	authz := r.Header.Values("Authorization")
	_, rawQuery, _ := strings.Cut(target(r), "?")
	presigned, presignedV4, creds := false, false, []string{}
	for pair := range strings.SplitSeq(rawQuery, "&") {
		k, v, _ := strings.Cut(pair, "=")
		if dk, err := url.QueryUnescape(k); err == nil {
			k = dk
		}
		if !queryAuthParams[k] {
			continue
		}
		presigned = true
		presignedV4 = presignedV4 || strings.HasPrefix(k, "X-Amz-")
		if k == "X-Amz-Credential" {
			if dv, err := url.QueryUnescape(v); err == nil {
				v = dv
			}
			creds = append(creds, v)
		}
	}
	var cred string
	switch {
	case len(authz) > 1:
		return "", "", &requestError{http.StatusBadRequest, "AuthorizationHeaderMalformed", "Request contains more than one Authorization header."}
	case len(authz) == 1 && presigned:
		return "", "", &requestError{http.StatusBadRequest, "InvalidArgument",
			"Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified"}
	case len(authz) == 1:
		h := authz[0]
		i := strings.Index(h, "Credential=")
		if i < 0 {
			return "", "", malformed
		}
		cred = h[i+len("Credential="):]
		if j := strings.IndexAny(cred, ", \t"); j >= 0 {
			cred = cred[:j]
		}
	case len(creds) == 1:
		cred = creds[0]
	case len(creds) > 1:
		return "", "", &requestError{http.StatusBadRequest, "AuthorizationQueryParametersError",
			"Query-string authentication parameter X-Amz-Credential appears more than once."}
	case presignedV4:
		return "", "", &requestError{http.StatusBadRequest, "AuthorizationQueryParametersError", msgQueryRequires}
	default:
		return "", "", malformed
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[0] == "" {
		if len(authz) == 0 {
			return "", "", &requestError{http.StatusBadRequest, "AuthorizationQueryParametersError",
				`Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`}
		}
		return "", "", malformed
	}
	return parts[0], parts[2], nil
}

// authorize answers the client and returns false when p may not make
// request r, signed for region.
func (g *Gateway) authorize(w http.ResponseWriter, r *http.Request, p auth.Principal, region string) bool {
	if p.Kind == auth.FinSpaceUser && verifiableWithoutBody(r) {
		// Report a bad signature as such, before anything else.
		res, ok := g.verify(w, r)
		if !ok {
			return false
		}
		p, region = res.Principal, res.Region
	}
	// The server's one model (package authz) decides how far the kind of
	// principal reaches, and whether a FinSpace user's credentials are
	// still live (user enabled, environment CREATED); the resource rules
	// of "own" access follow here.
	access, err := g.cfg.Authz.Decide(r.Context(), auth.Caller{Principal: p, Region: region}, authz.S3, "")
	if err != nil {
		if fault.KindOf(err) != fault.Denied {
			g.log.Error("s3: authorizing a request", "error", err)
			writeError(w, r, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
			return false
		}
		g.log.Debug("s3: denied", "arn", p.ARN, "method", r.Method, "target", target(r), "reason", err.Error())
		writeError(w, r, http.StatusForbidden, "AccessDenied", "Access Denied")
		return false
	}
	if access == authz.Full {
		return true
	}
	switch p.Kind {
	case auth.ScopedRead:
		return g.authorizeScoped(w, r)
	case auth.FinSpaceUser:
		return g.authorizeEnvironment(w, r, p, region)
	}
	g.log.Warn("s3: refusing a principal of unknown kind", "kind", p.Kind, "arn", p.ARN)
	writeError(w, r, http.StatusForbidden, "AccessDenied", "Access Denied")
	return false
}

// verify checks r's signature (see sigv4.Verifier.Verify: the body must
// be empty or unsigned), answering the client when it fails.
func (g *Gateway) verify(w http.ResponseWriter, r *http.Request) (*sigv4.Result, bool) {
	res, err := g.cfg.Verifier.Verify(r.Context(), r, nil)
	if err != nil {
		var se *sigv4.Error
		if errors.As(err, &se) {
			s3e := se.ForS3()
			writeError(w, r, s3e.Status, s3e.Code, s3e.Message)
			return nil, false
		}
		g.log.Error("s3: verifying a request", "error", err)
		writeError(w, r, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
		return nil, false
	}
	return res, true
}

// verifiableWithoutBody reports whether r's signature can be checked
// without its body: sigv4.Verifier hashes the body it is given, so it can
// check only requests whose signed payload hash is not the body's — no
// body, UNSIGNED-PAYLOAD, or a presigned URL (which signs
// UNSIGNED-PAYLOAD). A signed payload (hex SHA-256 or aws-chunked
// STREAMING-*) is left to the gateway, which checks the header signature
// against the claimed hash and then the body or chunks as they stream.
func verifiableWithoutBody(r *http.Request) bool {
	cs := r.Header.Get("X-Amz-Content-Sha256")
	switch {
	case r.ContentLength == 0 && len(r.TransferEncoding) == 0:
		return true
	case cs == sigv4.UnsignedPayload:
		return true
	case cs == "" && r.Header.Get("Authorization") == "":
		return true
	}
	return false
}

// authorizeEnvironment lets a FinSpace user use its environment's working
// bucket only.
func (g *Gateway) authorizeEnvironment(w http.ResponseWriter, r *http.Request, p auth.Principal, region string) bool {
	why := "no environment"
	if p.Account != "" && p.EnvironmentID != "" {
		bucket := blob.WorkingLocationBucket(p.Account, region, p.EnvironmentID)
		why = environmentDenial(target(r), r.Header.Values("X-Amz-Copy-Source"), bucket)
	}
	if why != "" {
		g.log.Debug("s3: FinSpace user denied", "arn", p.ARN, "method", r.Method, "target", target(r), "reason", why)
		writeError(w, r, http.StatusForbidden, "AccessDenied", "Access Denied")
		return false
	}
	return true
}

// environmentDenial returns why a request for target (the exact request
// target, as the gateway parses it) with the given x-amz-copy-source
// values may not proceed for a user whose working bucket is bucket, or ""
// when it may.
func environmentDenial(target string, copySource []string, bucket string) string {
	rawPath, _, _ := strings.Cut(target, "?")
	path, err := url.PathUnescape(rawPath)
	if err != nil || !strings.HasPrefix(path, "/") {
		return "malformed path"
	}
	b, key, _ := strings.Cut(path[1:], "/")
	switch {
	case b == "":
		return "only the environment's working bucket may be used (no ListBuckets)"
	case b != bucket:
		return "outside the environment's working bucket"
	case dotSegment(key):
		return "dot segment in the key"
	}
	switch len(copySource) {
	case 0:
		return ""
	case 1:
	default:
		return "repeated x-amz-copy-source"
	}
	// As the gateway parses it (versitygw backend.ParseCopySource).
	src := strings.TrimPrefix(copySource[0], "/")
	src, err = url.QueryUnescape(src)
	if err != nil {
		return "malformed x-amz-copy-source"
	}
	src, _, _ = strings.Cut(src, "?versionId=")
	sb, skey, ok := strings.Cut(src, "/")
	switch {
	case !ok || sb != bucket:
		return "copy from outside the environment's working bucket"
	case dotSegment(skey):
		return "dot segment in the copy source"
	}
	return ""
}
