// Package awsjson is the hand-written runtime of the AWS JSON 1.1 protocol
// (awsJson1_1), the counterpart of restjson for services whose every call
// is POST / with the operation named in X-Amz-Target (Glue): one generic
// handler that reads the bounded body, authenticates, finds the operation,
// authorizes, binds the JSON body strictly into the generated input,
// validates it, calls the typed function and encodes its output or error.
//
// Errors are written as awsJson does: HTTP 400 for a client error (500 for
// a server fault), Content-Type application/x-amz-json-1.1, body
// {"__type": "<Shape>", "message": "..."}, the shape also in
// X-Amzn-ErrorType. Every response carries x-amzn-RequestId.
package awsjson

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/wire/shape"
)

// ContentType is the media type of awsJson 1.1 requests and responses.
const ContentType = "application/x-amz-json-1.1"

// Service is one awsJson API.
type Service struct {
	SigningName  string // e.g. "glue"
	TargetPrefix string // e.g. "AWSGlue"
	// Operations is the generated table: every operation of the model,
	// those without NewInput answered by Unsupported.
	Operations []*shape.Operation
	// Lookup returns the implementation of an operation (the generated
	// Handlers.Lookup); nil answers as Unsupported does.
	Lookup func(name string) shape.HandlerFunc
	// ErrorStatus is the generated ErrorHTTPStatus (0 for an unknown shape).
	ErrorStatus func(shape string) int
	// Unsupported is the error of an operation the service does not serve
	// (nil: 501 NotImplementedException, as restjson answers).
	Unsupported func(op *shape.Operation) error
}

// Authenticator verifies a request's signature and returns the caller.
// Failures it wants shown to the client are *APIError values.
type Authenticator interface {
	Authenticate(ctx context.Context, r *http.Request, body []byte) (auth.Caller, error)
}

// Authorizer decides whether a caller may call an operation (package
// authz); a refusal is a fault.Denied error.
type Authorizer interface {
	Authorize(ctx context.Context, caller auth.Caller, service, operation string) error
}

// Observer receives one call per finished request (metrics).
type Observer interface {
	Observe(service, operation string, status int, elapsed time.Duration)
}

// Handler serves one awsJson service. Service, Auth and Authz are required
// (without Authz every request is refused).
type Handler struct {
	Service  *Service
	Auth     Authenticator
	Authz    Authorizer
	Observer Observer
	Logger   *slog.Logger
	// MaxBodyBytes caps request bodies (default DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// BodyTimeout bounds receiving a body (default DefaultBodyTimeout).
	BodyTimeout time.Duration

	byTarget map[string]*shape.Operation
}

// Defaults of Handler.
const (
	DefaultMaxBodyBytes = 1 << 20
	DefaultBodyTimeout  = 30 * time.Second
)

// Init indexes the operations; call once before serving.
func (h *Handler) Init() {
	h.byTarget = make(map[string]*shape.Operation, len(h.Service.Operations))
	for _, op := range h.Service.Operations {
		h.byTarget[op.Target] = op
	}
	if h.MaxBodyBytes == 0 {
		h.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if h.BodyTimeout == 0 {
		h.BodyTimeout = DefaultBodyTimeout
	}
	if h.Logger == nil {
		h.Logger = slog.New(slog.DiscardHandler)
	}
}

var requestIDHeader = http.CanonicalHeaderKey("x-amzn-RequestId")

type requestIDKey struct{}

// RequestID returns the request id of a context the handler served.
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
	// A front handler (restjson's, which dispatches by signing name) may
	// have named the request already.
	rid := ""
	if v := w.Header()[requestIDHeader]; len(v) > 0 {
		rid = v[0]
	}
	if rid == "" {
		rid = newRequestID()
		w.Header()[requestIDHeader] = []string{rid}
	}
	r = r.WithContext(context.WithValue(r.Context(), requestIDKey{}, rid))
	sw := &statusWriter{ResponseWriter: w}
	opName := h.serve(sw, r)
	if h.Observer != nil {
		h.Observer.Observe(h.Service.SigningName, opName, cmpStatus(sw.status), time.Since(start))
	}
}

func cmpStatus(s int) int {
	if s == 0 {
		return http.StatusOK
	}
	return s
}

// serve runs the pipeline and returns the operation name ("" when the
// target names none) for metrics.
func (h *Handler) serve(w http.ResponseWriter, r *http.Request) (opName string) {
	ctx := r.Context()
	var op *shape.Operation
	defer func() {
		if p := recover(); p != nil {
			h.Logger.ErrorContext(ctx, "panic serving request", "request_id", RequestID(ctx), "operation", opName, "panic", fmt.Sprint(p))
			h.writeError(w, r, op, fmt.Errorf("panic: %v", p))
		}
	}()

	body, err := h.readBody(w, r)
	if err != nil {
		h.writeError(w, r, nil, err)
		return ""
	}
	// Find the operation before authenticating only to name it in
	// metrics; an authentication failure still answers first.
	target := r.Header.Get("X-Amz-Target")
	op = h.byTarget[target]
	if op != nil {
		opName = op.Name
	}
	caller, err := h.Auth.Authenticate(ctx, r, body)
	if err != nil {
		h.writeError(w, r, nil, err)
		return opName
	}
	caller.RequestID = RequestID(ctx)
	ctx = auth.WithCaller(ctx, caller)

	if r.Method != http.MethodPost || r.URL.Path != "/" {
		op = nil
		h.writeError(w, r, nil, &APIError{Status: 404, Code: "UnknownOperationException",
			Message: fmt.Sprintf("%s accepts POST / only, not %s %s.", h.Service.SigningName, r.Method, r.URL.EscapedPath())})
		return ""
	}
	if op == nil {
		msg := "The request has no X-Amz-Target header naming the operation."
		if target != "" {
			msg = fmt.Sprintf("%q is not an operation of %s (want %s.<Operation>).", target, h.Service.SigningName, h.Service.TargetPrefix)
		}
		h.writeError(w, r, nil, &APIError{Status: 400, Code: "UnknownOperationException", Message: msg})
		return ""
	}
	if err := checkContentType(r.Header.Get("Content-Type")); err != nil {
		h.writeError(w, r, op, err)
		return opName
	}

	// Authorization precedes binding, validation and whether the
	// operation is served at all, as in restjson.
	if h.Authz == nil {
		h.writeError(w, r, op, fault.Deniedf("This server has no authorization policy."))
		return opName
	}
	if err := h.Authz.Authorize(ctx, caller, h.Service.SigningName, op.Name); err != nil {
		h.writeError(w, r, op, err)
		return opName
	}

	var impl shape.HandlerFunc
	if op.NewInput != nil && h.Service.Lookup != nil {
		impl = h.Service.Lookup(op.Name)
	}
	if impl == nil {
		h.writeError(w, r, op, h.unsupported(op))
		return opName
	}
	in, err := Bind(op, body)
	if err == nil {
		err = in.Validate()
	}
	if err != nil {
		h.writeError(w, r, op, err)
		return opName
	}
	out, err := impl(ctx, in)
	if err != nil {
		h.writeError(w, r, op, err)
		return opName
	}
	payload := []byte("{}")
	if out != nil {
		if payload, err = json.Marshal(out); err != nil {
			h.writeError(w, r, op, fmt.Errorf("encoding %s output: %w", op.Name, err))
			return opName
		}
	}
	writeJSON(w, http.StatusOK, payload)
	h.Logger.DebugContext(ctx, "request", "request_id", RequestID(ctx), "operation", op.Name, "status", http.StatusOK)
	return opName
}

func (h *Handler) unsupported(op *shape.Operation) error {
	if h.Service.Unsupported != nil {
		return h.Service.Unsupported(op)
	}
	return fault.Unavailablef("openfinspace does not implement %s.", op.Name)
}

// checkContentType accepts application/x-amz-json-1.1 (with parameters)
// and a missing Content-Type (an empty body); anything else is refused.
func checkContentType(ct string) error {
	if ct == "" {
		return nil
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err == nil && mt == ContentType {
		return nil
	}
	return &APIError{Status: 400, Code: "SerializationException",
		Message: fmt.Sprintf("The Content-Type must be %s, not %q.", ContentType, ct)}
}

// readBody reads r's body, at most h.MaxBodyBytes, within h.BodyTimeout
// (a deadline on the connection, cleared afterwards; see restjson's
// body.go for why).
func (h *Handler) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength == 0 {
		return nil, nil
	}
	rc := http.NewResponseController(w)
	deadline := h.BodyTimeout > 0 && rc.SetReadDeadline(time.Now().Add(h.BodyTimeout)) == nil
	body, err := io.ReadAll(io.LimitReader(r.Body, h.MaxBodyBytes+1))
	if err != nil || int64(len(body)) > h.MaxBodyBytes {
		w.Header().Set("Connection", "close")
	} else if deadline {
		_ = rc.SetReadDeadline(time.Time{})
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return nil, &APIError{Status: http.StatusRequestTimeout, Code: "RequestTimeoutException",
			Message: fmt.Sprintf("The request body was not received within %v.", h.BodyTimeout)}
	case err != nil:
		return nil, &APIError{Status: 400, Code: "SerializationException", Message: "The request body could not be read."}
	case int64(len(body)) > h.MaxBodyBytes:
		return nil, &APIError{Status: http.StatusRequestEntityTooLarge, Code: "SerializationException",
			Message: fmt.Sprintf("The request body is larger than the limit of %d bytes.", h.MaxBodyBytes)}
	}
	return body, nil
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", ContentType)
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// writeError writes err as an awsJson error: client errors at Debug,
// internal ones (their cause logged, never sent) at Error.
func (h *Handler) writeError(w http.ResponseWriter, r *http.Request, op *shape.Operation, err error) {
	e, internal := h.toAPIError(op, err)
	ctx := r.Context()
	if internal {
		h.Logger.ErrorContext(ctx, "request failed", "request_id", RequestID(ctx), "operation", opNameOf(op), "error", err)
	} else {
		h.Logger.DebugContext(ctx, "request refused", "request_id", RequestID(ctx), "operation", opNameOf(op), "code", e.Code, "status", e.Status)
	}
	WriteAPIError(w, e)
}

// WriteAPIError writes e as an awsJson error response.
func WriteAPIError(w http.ResponseWriter, e *APIError) {
	b, _ := json.Marshal(map[string]string{"__type": e.Code, "message": e.Message})
	w.Header().Set("X-Amzn-ErrorType", e.Code)
	writeJSON(w, e.Status, b)
}

// statusWriter records the status written (for metrics).
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (body deadlines).
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func opNameOf(op *shape.Operation) string {
	if op == nil {
		return ""
	}
	return op.Name
}
