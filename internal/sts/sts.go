// Package sts serves the subset of the AWS Security Token Service that
// openfinspace needs: AssumeRole and GetCallerIdentity, in the AWS Query
// protocol (API version 2011-06-15), so that the AWS CLI, boto3 and the AWS
// SDKs can obtain and inspect temporary credentials with only the endpoint
// URL changed.
//
// # Requests
//
// A request is a POST whose application/x-www-form-urlencoded body carries
// Action=...&Version=2011-06-15&..., or a GET with the same parameters in
// the query string (parameters from the query and the body are merged; the
// query wins for a name present in both). Presigned URLs (X-Amz-Credential
// and friends in the query), as used for GetCallerIdentity by tools such as
// the EKS authenticator, are accepted. The body is capped at MaxBodyBytes
// and every request is verified with SigV4 before its parameters are read;
// a body under an UNSIGNED-PAYLOAD signature is refused, since the body
// carries the parameters.
//
// Version may be omitted; any other value than 2011-06-15 answers
// InvalidAction, as AWS does.
//
// # AssumeRole
//
// RoleArn must be arn:aws:iam::<12 digits>:role/<optional/path/>name in
// this server's account (a role of another account, or another partition,
// answers 403 AccessDenied). openfinspace has no IAM: every role name of the
// account exists, and the trust rule is fixed:
//
//   - the root principal may assume any role of the account;
//   - an AssumedRole session of the account may assume any role of the
//     account (role chaining); as in AWS, a chained session lasts at most one
//     hour, and asking for more answers ValidationError;
//   - FinSpace users' programmatic credentials and scoped S3 read credentials
//     may not assume roles (403 AccessDenied).
//
// DurationSeconds is 900–43200 (default 3600). ExternalId, Policy,
// PolicyArns, Tags, TransitiveTagKeys, SourceIdentity, SerialNumber,
// TokenCode and ProvidedContexts are accepted and ignored: ExternalId,
// Policy, SourceIdentity, SerialNumber and TokenCode are checked against the
// constraints of the STS model, but no session policy or tag restricts the
// session, and PackedPolicySize is always 0.
//
// The assumed-role ARN is arn:aws:sts::<account>:assumed-role/<name>/<session>
// where name is the last segment of the role ARN's resource. The role id in
// AssumedRoleId (AROA + 17 letters) is derived from the role ARN, so it is
// stable for a role across sessions and restarts.
//
// # GetCallerIdentity
//
//	root               UserId <account>, Arn arn:aws:iam::<account>:root
//	assumed role       UserId AROA…:<session>, Arn arn:aws:sts::<account>:assumed-role/<role>/<session>
//	FinSpace user      UserId <user id>, Arn the principal's ARN
//	scoped S3 read     UserId the access key id, Arn the principal's ARN
//
// # Errors
//
// Errors use the Query protocol's XML envelope with STS's codes. See
// FromSigV4 for how authentication failures are mapped.
package sts

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/credstore"
	"github.com/openfinspace/openfinspace/internal/auth/sigv4"
	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/wire/restjson"
)

const (
	// SigningName is the SigV4 signing name (service) of STS.
	SigningName = "sts"
	// Version is the only API version served.
	Version = "2011-06-15"
	// Namespace is the XML namespace of every response.
	Namespace = "https://sts.amazonaws.com/doc/2011-06-15/"
	// MaxBodyBytes caps request bodies.
	MaxBodyBytes = 64 << 10
)

// Session durations.
const (
	MinDuration     = 900 * time.Second
	MaxDuration     = 43200 * time.Second
	DefaultDuration = time.Hour
	// MaxChainedDuration bounds a session obtained with the credentials of
	// another assumed-role session (role chaining).
	MaxChainedDuration = time.Hour
)

// Verifier authenticates a request whose body has been read (implemented
// by *sigv4.Verifier).
type Verifier interface {
	Verify(ctx context.Context, r *http.Request, body []byte) (*sigv4.Result, error)
}

// Issuer issues temporary credentials (implemented by *credstore.Store).
type Issuer interface {
	Issue(ctx context.Context, in credstore.IssueInput) (*auth.Credential, error)
}

// Observer records one request (implemented by *metrics.Metrics). The
// operation is "" when the action is not one STS defines.
type Observer interface {
	Observe(service, operation string, status int, elapsed time.Duration)
}

// Authorizer decides whether a caller may call an action (implemented by
// *authz.Authorizer); a refusal is a fault.Denied error.
type Authorizer interface {
	Authorize(ctx context.Context, caller auth.Caller, service, operation string) error
}

// Handler is the STS endpoint. Account, Verifier, Credentials and Authz
// are required; the zero values of the other fields are usable.
type Handler struct {
	// Account is this server's AWS account id.
	Account     string
	Verifier    Verifier
	Credentials Issuer
	Authz       Authorizer
	Observer    Observer
	Logger      *slog.Logger
}

// stsActions are the actions of the STS API (for metrics labels and a
// clearer message when an unimplemented one is called).
var stsActions = map[string]bool{
	"AssumeRole": true, "AssumeRoleWithSAML": true, "AssumeRoleWithWebIdentity": true, "AssumeRoot": true,
	"DecodeAuthorizationMessage": true, "GetAccessKeyInfo": true, "GetCallerIdentity": true,
	"GetDelegatedAccessToken": true, "GetFederationToken": true, "GetSessionToken": true,
	"GetWebIdentityToken": true,
}

// request is one authenticated STS call.
type request struct {
	id     string
	params url.Values
	res    *sigv4.Result
}

func (h *Handler) logger() *slog.Logger {
	if h.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return h.Logger
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rid := w.Header().Get("x-amzn-RequestId")
	if rid == "" {
		rid = newRequestID()
		w.Header().Set("x-amzn-RequestId", rid)
	}
	sw := &restjson.StatusWriter{ResponseWriter: w}
	action := ""
	defer func() {
		if p := recover(); p != nil {
			h.logger().ErrorContext(r.Context(), "sts: panic serving request", "request_id", rid, "action", action, "panic", fmt.Sprint(p))
			if sw.Status == 0 {
				writeError(sw, rid, errInternal())
			}
		}
		if h.Observer != nil {
			op := ""
			if stsActions[action] {
				op = action
			}
			status := sw.Status
			if status == 0 {
				status = http.StatusOK
			}
			h.Observer.Observe(SigningName, op, status, time.Since(start))
		}
	}()
	action = h.serve(sw, r, rid)
}

// serve handles one request and returns its Action for metrics.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request, rid string) string {
	ctx := r.Context()
	body, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
	if err != nil {
		h.refuse(ctx, w, rid, &Error{Status: http.StatusBadRequest, Code: "MalformedQueryString", Message: "The request body could not be read."})
		return ""
	}
	if len(body) > MaxBodyBytes {
		h.refuse(ctx, w, rid, &Error{Status: http.StatusRequestEntityTooLarge, Code: "RequestEntityTooLarge",
			Message: fmt.Sprintf("The request body is larger than the limit of %d bytes.", MaxBodyBytes)})
		return ""
	}
	if h.Verifier == nil || h.Credentials == nil || h.Authz == nil {
		h.fail(ctx, w, rid, "", errors.New("sts: Handler needs a Verifier, Credentials and Authz"))
		return ""
	}
	res, err := h.Verifier.Verify(ctx, r, body)
	if err != nil {
		var se *sigv4.Error
		if errors.As(err, &se) {
			h.refuse(ctx, w, rid, FromSigV4(se))
		} else {
			h.fail(ctx, w, rid, "", err)
		}
		return ""
	}
	if res.PayloadHash == sigv4.UnsignedPayload && len(body) > 0 {
		h.refuse(ctx, w, rid, &Error{Status: http.StatusForbidden, Code: "SignatureDoesNotMatch",
			Message: "The request body must be signed: UNSIGNED-PAYLOAD is accepted only for requests without a body."})
		return ""
	}
	if res.Service != SigningName {
		h.refuse(ctx, w, rid, &Error{Status: http.StatusForbidden, Code: "SignatureDoesNotMatch",
			Message: "Credential should be scoped to correct service: 'sts'."})
		return ""
	}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		h.refuse(ctx, w, rid, &Error{Status: http.StatusMethodNotAllowed, Code: "InvalidAction",
			Message: fmt.Sprintf("STS accepts GET and POST requests, not %s.", r.Method)})
		return ""
	}
	params, perr := parseParams(r, body)
	if perr != nil {
		h.refuse(ctx, w, rid, perr)
		return ""
	}
	action := params.Get("Action")
	if action == "" {
		h.refuse(ctx, w, rid, &Error{Status: http.StatusBadRequest, Code: "MissingAction",
			Message: "The request must contain the parameter Action."})
		return ""
	}
	if v := params.Get("Version"); v != "" && v != Version {
		h.refuse(ctx, w, rid, &Error{Status: http.StatusBadRequest, Code: "InvalidAction",
			Message: fmt.Sprintf("Could not find operation %s for version %s", quote(action), quote(v))})
		return action
	}
	// As AWS does: the input is validated before the caller is authorized.
	if action == "AssumeRole" {
		if _, verr := parseAssumeRole(params); verr != nil {
			h.refuse(ctx, w, rid, verr)
			return action
		}
	}
	if stsActions[action] {
		caller := auth.Caller{Principal: res.Principal, AccessKeyID: res.AccessKeyID, Region: res.Region, RequestID: rid}
		if err := h.Authz.Authorize(ctx, caller, SigningName, action); err != nil {
			if fault.KindOf(err) != fault.Denied {
				h.fail(ctx, w, rid, action, err)
				return action
			}
			h.refuse(ctx, w, rid, &Error{Status: http.StatusForbidden, Code: "AccessDenied", Message: err.Error()})
			return action
		}
	}
	req := &request{id: rid, params: params, res: res}
	var resp any
	var aerr *Error
	switch action {
	case "AssumeRole":
		resp, aerr, err = h.assumeRole(ctx, req)
	case "GetCallerIdentity":
		resp = h.getCallerIdentity(req)
	default:
		msg := fmt.Sprintf("Could not find operation %s for version %s", quote(action), Version)
		if stsActions[action] {
			msg = fmt.Sprintf("openfinspace implements only the STS actions AssumeRole and GetCallerIdentity, not %s.", action)
		}
		aerr = &Error{Status: http.StatusBadRequest, Code: "InvalidAction", Message: msg}
	}
	switch {
	case err != nil:
		h.fail(ctx, w, rid, action, err)
	case aerr != nil:
		h.refuse(ctx, w, rid, aerr)
	default:
		writeXML(w, http.StatusOK, resp)
	}
	return action
}

// parseParams merges the query string and a form body.
func parseParams(r *http.Request, body []byte) (url.Values, *Error) {
	malformed := func(msg string) *Error {
		return &Error{Status: http.StatusBadRequest, Code: "MalformedQueryString", Message: msg}
	}
	params, err := url.ParseQuery(r.URL.RawQuery)
	if err != nil {
		return nil, malformed("The query string is not valid application/x-www-form-urlencoded data.")
	}
	if len(body) == 0 {
		return params, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/x-www-form-urlencoded" {
			return nil, malformed(fmt.Sprintf("STS request bodies must be application/x-www-form-urlencoded, not %s.", quote(ct)))
		}
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, malformed("The request body is not valid application/x-www-form-urlencoded data.")
	}
	for k, vs := range form {
		params[k] = append(params[k], vs...)
	}
	return params, nil
}

// refuse answers a client error.
func (h *Handler) refuse(ctx context.Context, w http.ResponseWriter, rid string, e *Error) {
	h.logger().DebugContext(ctx, "sts: request refused", "request_id", rid, "code", e.Code, "status", e.Status)
	writeError(w, rid, e)
}

// fail answers an internal error; err is logged, not sent.
func (h *Handler) fail(ctx context.Context, w http.ResponseWriter, rid, action string, err error) {
	h.logger().ErrorContext(ctx, "sts: request failed", "request_id", rid, "action", action, "error", err)
	writeError(w, rid, errInternal())
}

func errInternal() *Error {
	return &Error{Status: http.StatusInternalServerError, Code: "InternalFailure",
		Message: "The request processing has failed because of an unknown error, exception or failure."}
}

func writeError(w http.ResponseWriter, rid string, e *Error) {
	typ := "Sender"
	if e.Status >= 500 {
		typ = "Receiver"
	}
	writeXML(w, e.Status, &errorResponse{
		Error:     errorBody{Type: typ, Code: e.Code, Message: e.Message},
		RequestID: rid,
	})
}

func writeXML(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		// Only unsupported types fail to encode; the response types here
		// are plain structs of strings.
		panic("sts: encoding response: " + err.Error())
	}
	h := w.Header()
	h.Set("Content-Type", "text/xml")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	s := hex.EncodeToString(b[:])
	return s[0:8] + "-" + s[8:12] + "-" + s[12:16] + "-" + s[16:20] + "-" + s[20:32]
}

// quote shortens and quotes a client-supplied value for a message.
func quote(s string) string {
	const max = 128
	if len(s) > max {
		s = s[:max] + "..."
	}
	return "'" + s + "'"
}
