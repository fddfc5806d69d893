package restjson

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/clienttoken"
	"github.com/openfinspace/openfinspace/internal/fault"
)

// Service is one rest-json API served by the handler.
type Service struct {
	SigningName string
	Operations  []*Operation
	// Lookup returns the implementation of an operation, nil when the
	// operation's domain is not built yet.
	Lookup func(name string) HandlerFunc

	router *Router
}

// Authenticator verifies a request's signature and returns the caller.
// Failures it wants shown to the client are *APIError values.
type Authenticator interface {
	Authenticate(ctx context.Context, r *http.Request, body []byte) (auth.Caller, error)
}

// Idempotency remembers responses by client token (package idempotency
// implements it). The claim's key reaches the operation in its context
// (clienttoken.Key).
type Idempotency interface {
	// Begin claims key for a request whose input hashes to inputHash. It
	// returns a stored response to replay, nil to go ahead, or an error
	// (a fault.Conflict when the token was used with another input).
	Begin(ctx context.Context, key, inputHash string) (*clienttoken.Response, error)
	// Complete stores the response of a claimed key.
	Complete(ctx context.Context, key string, resp clienttoken.Response) error
	// Abort releases a claimed key after a failed request.
	Abort(ctx context.Context, key string)
}

// Authorizer decides whether an authenticated caller may call an
// operation (see package authz); a refusal is a fault.Denied error.
type Authorizer interface {
	Authorize(ctx context.Context, caller auth.Caller, service, operation string) error
}

// Observer receives one call per finished API request (metrics).
type Observer interface {
	Observe(service, operation string, status int, elapsed time.Duration)
}

// Handler serves every rest-json service on one port, dispatching by the
// SigV4 signing name.
type Handler struct {
	Services map[string]*Service // by signing name
	// Delegates serve other signing names (s3, sts) with their own protocol.
	Delegates map[string]http.Handler
	// Scope returns the signing name of a request without verifying it.
	Scope func(r *http.Request) (service string, ok bool)
	Auth  Authenticator
	// Authz is required: without it every request is refused.
	Authz       Authorizer
	Idempotency Idempotency // optional
	Observer    Observer    // optional
	Logger      *slog.Logger
	// MaxBodyBytes caps request bodies (default 16 MiB: the largest model
	// member, a SAML metadata document, is 10 000 000 characters).
	MaxBodyBytes int64
	// BodyTimeout bounds the time to receive a request body (default 30 s),
	// so a client trickling a body cannot hold its connection (see body.go).
	BodyTimeout time.Duration
}

// Init compiles the routers; call once before serving.
func (h *Handler) Init() {
	for _, s := range h.Services {
		s.router = NewRouter(s.Operations)
	}
	if h.MaxBodyBytes == 0 {
		h.MaxBodyBytes = 16 << 20
	}
	if h.BodyTimeout == 0 {
		h.BodyTimeout = DefaultBodyTimeout
	}
	if h.Logger == nil {
		h.Logger = slog.New(slog.DiscardHandler)
	}
}

type requestIDKey struct{}

// requestIDHeader is the canonical form of x-amzn-RequestId.
var requestIDHeader = http.CanonicalHeaderKey("x-amzn-RequestId")

// RequestID returns the request id of ctx, if any.
func RequestID(ctx context.Context) string {
	s, _ := ctx.Value(requestIDKey{}).(string)
	return s
}

func newRequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	rid := newRequestID()
	ctx := context.WithValue(r.Context(), requestIDKey{}, rid)
	r = r.WithContext(ctx)
	// Set, without canonicalizing "x-amzn-RequestId" on every request.
	w.Header()[requestIDHeader] = []string{rid}

	svcName, ok := "", false
	if h.Scope != nil {
		svcName, ok = h.Scope(r)
	}
	if !ok {
		h.writeError(w, r, nil, &APIError{Status: 403, Code: "MissingAuthenticationTokenException", Message: "Missing Authentication Token"}, false)
		return
	}
	if d, found := h.Delegates[svcName]; found {
		d.ServeHTTP(w, r)
		return
	}
	svc, found := h.Services[svcName]
	if !found {
		h.writeError(w, r, nil, &APIError{Status: 400, Code: "UnknownServiceException",
			Message: fmt.Sprintf("The signing name %q is not served here; expected finspace, finspace-api, glue, s3 or sts.", svcName)}, false)
		return
	}
	sw := &StatusWriter{ResponseWriter: w}
	opName := h.serveAPI(sw, r, svc)
	if h.Observer != nil {
		h.Observer.Observe(svcName, opName, sw.Status, time.Since(start))
	}
}

// serveAPI runs the rest-json pipeline and returns the operation name
// ("" when routing failed) for metrics.
func (h *Handler) serveAPI(w http.ResponseWriter, r *http.Request, svc *Service) (opName string) {
	ctx := r.Context()
	var op *Operation
	defer func() {
		if p := recover(); p != nil {
			h.Logger.ErrorContext(ctx, "panic serving request", "request_id", RequestID(ctx), "operation", opName, "panic", fmt.Sprint(p))
			h.writeError(w, r, op, fmt.Errorf("panic: %v", p), true)
		}
	}()

	body, err := h.readBody(w, r)
	if err != nil {
		h.writeError(w, r, nil, err, false)
		return ""
	}
	// Route before authenticating only to name the operation in metrics;
	// an authentication failure still answers first.
	path := escapedPath(r)
	op, labels, pathMatched := svc.router.Match(r.Method, path)
	if op != nil {
		opName = op.Name
	}
	caller, err := h.Auth.Authenticate(ctx, r, body)
	if err != nil {
		h.writeError(w, r, nil, err, false)
		return opName
	}
	caller.RequestID = RequestID(ctx)
	ctx = auth.WithCaller(ctx, caller)

	if op == nil {
		if bad, label, problem := svc.router.Explain(r.Method, path); bad != nil {
			h.writeError(w, r, bad, LabelError(label, problem), false)
			return bad.Name
		}
		msg := fmt.Sprintf("No operation of %s matches %s %s.", svc.SigningName, r.Method, r.URL.EscapedPath())
		if pathMatched {
			msg = fmt.Sprintf("Method %s is not allowed on %s.", r.Method, r.URL.EscapedPath())
		}
		h.writeError(w, r, nil, &APIError{Status: 404, Code: "UnknownOperationException", Message: msg}, false)
		return ""
	}

	// Authorization precedes binding, validation and everything the
	// operation does: a caller that may not call the operation learns
	// nothing about its input or whether it is implemented.
	if h.Authz == nil {
		h.writeError(w, r, op, fault.Deniedf("This server has no authorization policy."), false)
		return opName
	}
	if err := h.Authz.Authorize(ctx, caller, svc.SigningName, op.Name); err != nil {
		h.writeError(w, r, op, err, fault.KindOf(err) == fault.Internal)
		return opName
	}

	query, err := ParseQuery(r.URL.RawQuery)
	if err != nil {
		h.writeError(w, r, op, err, false)
		return opName
	}
	in, err := Bind(op, Params{Path: labels, Query: query, Header: r.Header}, body)
	if err == nil {
		err = in.Validate()
	}
	if err != nil {
		h.writeError(w, r, op, err, false)
		return opName
	}

	impl := svc.Lookup(op.Name)
	if impl == nil {
		h.writeError(w, r, op, fault.Unavailablef("openfinspace does not implement %s yet; its request was valid.", op.Name), false)
		return opName
	}

	// Idempotency: same token and same input replay the first response.
	var idemKey string
	if tok, ok := in.(Idempotent); ok && h.Idempotency != nil {
		if t := tok.IdempotencyToken(); t != nil && *t != "" {
			idemKey = svc.SigningName + "|" + op.Name + "|" + caller.Principal.ARN + "|" + caller.Region + "|" + *t
			hash, herr := inputHash(op, in, r, query)
			if herr != nil {
				h.writeError(w, r, op, herr, true)
				return opName
			}
			replay, ierr := h.Idempotency.Begin(ctx, idemKey, hash)
			if ierr != nil {
				h.writeError(w, r, op, ierr, fault.KindOf(ierr) == fault.Internal)
				return opName
			}
			if replay != nil {
				writeJSON(w, replay.Status, replay.Body)
				return opName
			}
		}
	}

	if idemKey != "" {
		ctx = clienttoken.WithKey(ctx, idemKey)
	}
	out, err := impl(ctx, in)
	if err != nil {
		if idemKey != "" {
			h.Idempotency.Abort(context.WithoutCancel(ctx), idemKey)
		}
		h.writeError(w, r, op, err, false)
		return opName
	}
	status, payload, err := encodeOutput(op, out)
	if err != nil {
		if idemKey != "" {
			h.Idempotency.Abort(context.WithoutCancel(ctx), idemKey)
		}
		h.writeError(w, r, op, err, true)
		return opName
	}
	if idemKey != "" {
		if cerr := h.Idempotency.Complete(context.WithoutCancel(ctx), idemKey, clienttoken.Response{Status: status, Body: payload}); cerr != nil {
			h.Logger.ErrorContext(ctx, "storing idempotent response", "request_id", RequestID(ctx), "operation", op.Name, "error", cerr)
		}
	}
	writeJSON(w, status, payload)
	h.Logger.DebugContext(ctx, "request", "request_id", RequestID(ctx), "operation", op.Name, "status", status)
	return opName
}

// escapedPath is the path of r as the client sent it: the request line's
// (what SigV4 signs), or r.URL.EscapedPath() when the request line had an
// absolute URI or r did not come from a server. For a request read from the
// wire the two are the same; the request line is cheaper than EscapedPath,
// which re-validates RawPath against Path (several microseconds for an ARN
// label).
func escapedPath(r *http.Request) string {
	if ru := r.RequestURI; ru != "" && ru[0] == '/' {
		p, _, _ := strings.Cut(ru, "?")
		return p
	}
	return r.URL.EscapedPath()
}

// Bind builds op's input from the request parts: URI labels and query via
// the generated BindParams, then the JSON body. Bad JSON or wrong JSON types
// are validation errors, never panics.
func Bind(op *Operation, p Params, body []byte) (Input, error) {
	in := op.NewInput()
	if err := in.BindParams(p); err != nil {
		return nil, err
	}
	if trimmed := bytes.TrimSpace(body); len(trimmed) > 0 {
		if trimmed[0] != '{' {
			return nil, &ValidationError{Violations: []Violation{{Member: "body", Constraint: "Request body must be a JSON object"}}}
		}
		// Label and query members are tagged json:"-", so the body cannot
		// override them.
		if err := json.Unmarshal(trimmed, in); err != nil {
			return nil, jsonError(err)
		}
	}
	return in, nil
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		member := te.Field
		if member == "" {
			member = "body"
		}
		return &ValidationError{Violations: []Violation{{Member: member, Constraint: "Member must be of type " + jsonTypeName(te)}}}
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return &ValidationError{Violations: []Violation{{Member: "body", Constraint: "Request body must be valid JSON (syntax error at offset " + strconv.FormatInt(se.Offset, 10) + ")"}}}
	}
	return &ValidationError{Violations: []Violation{{Member: "body", Constraint: "Request body could not be parsed"}}}
}

func jsonTypeName(te *json.UnmarshalTypeError) string {
	if te.Type == nil {
		return "the model type"
	}
	switch te.Type.Kind().String() {
	case "string":
		return "string"
	case "int32", "int64", "int":
		return "integer"
	case "float64", "float32":
		return "number"
	case "bool":
		return "boolean"
	case "slice":
		return "list"
	case "map":
		return "map"
	case "struct", "ptr":
		return "structure"
	}
	return te.Type.String()
}

// inputHash fingerprints a request for idempotency: the operation, its URI
// labels and query (bar the token) and the body members as the server
// understood them (so whitespace and member order do not matter).
func inputHash(op *Operation, in Input, r *http.Request, query url.Values) (string, error) {
	tok := in.(Idempotent)
	saved := tok.IdempotencyToken()
	tok.SetIdempotencyToken(nil)
	body, err := json.Marshal(in)
	tok.SetIdempotencyToken(saved)
	if err != nil {
		return "", err
	}
	keys := make([]string, 0, len(query))
	for k := range query {
		if k != op.IdempotencyToken {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	sum := sha256.New()
	fmt.Fprintf(sum, "%s\n%s\n", op.Name, r.URL.EscapedPath())
	for _, k := range keys {
		fmt.Fprintf(sum, "%s=%q\n", k, query[k])
	}
	sum.Write(body)
	return hex.EncodeToString(sum.Sum(nil)), nil
}

func encodeOutput(op *Operation, out any) (int, []byte, error) {
	status := op.SuccessCode
	if out == nil {
		return status, []byte("{}"), nil
	}
	if sc, ok := out.(StatusCoder); ok {
		if c, set := sc.HTTPStatusCode(); set {
			status = c
		}
	}
	b, err := json.Marshal(out)
	if err != nil {
		return 0, nil, fmt.Errorf("encoding %s output: %w", op.Name, err)
	}
	return status, b, nil
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError writes err in the AWS rest-json error format.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, op *Operation, err error, internal bool) {
	apiErr, isInternal := toAPIError(op, err)
	internal = internal || isInternal
	ctx := r.Context()
	if internal {
		h.Logger.ErrorContext(ctx, "request failed", "request_id", RequestID(ctx), "operation", opNameOf(op), "error", err)
	} else {
		h.Logger.DebugContext(ctx, "request refused", "request_id", RequestID(ctx), "operation", opNameOf(op),
			"code", apiErr.Code, "reason", apiErr.Reason, "status", apiErr.Status)
	}
	WriteAPIError(w, apiErr)
}

// WriteAPIError writes e as a rest-json error response.
func WriteAPIError(w http.ResponseWriter, e *APIError) {
	body := map[string]string{"message": e.Message, "__type": e.Code}
	if e.Reason != "" {
		body["reason"] = e.Reason
	}
	b, _ := json.Marshal(body)
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	writeJSON(w, e.Status, b)
}

// StatusWriter records the HTTP status a handler wrote (for metrics); the
// delegate services (STS) use it too.
type StatusWriter struct {
	http.ResponseWriter
	Status int
}

func (s *StatusWriter) WriteHeader(code int) {
	if s.Status == 0 {
		s.Status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *StatusWriter) Write(b []byte) (int, error) {
	if s.Status == 0 {
		s.Status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (body deadlines).
func (s *StatusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func opNameOf(op *Operation) string {
	if op == nil {
		return ""
	}
	return op.Name
}
