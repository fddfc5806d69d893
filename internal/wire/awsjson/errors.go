package awsjson

import (
	"errors"
	"net/http"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/wire/shape"
)

// APIError is an error already in wire form: the exception shape (the
// body's __type), its HTTP status and a client-safe message.
type APIError struct {
	Status  int
	Code    string
	Message string
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// kindShapes lists, per fault kind, the exception shapes to answer in
// order of preference: the first the operation declares wins, else the
// first. The names are those of the awsJson models (Glue's first).
var kindShapes = map[fault.Kind][]string{
	fault.NotFound:      {"EntityNotFoundException", "ResourceNotFoundException"},
	fault.Conflict:      {"ConcurrentModificationException", "ConflictException", "InvalidStateException", "InvalidInputException"},
	fault.AlreadyExists: {"AlreadyExistsException", "ResourceAlreadyExistsException", "ConflictException"},
	fault.Invalid:       {"InvalidInputException", "ValidationException", "InvalidRequestException"},
	fault.Denied:        {"AccessDeniedException"},
	fault.LimitExceeded: {"ResourceNumberLimitExceededException", "LimitExceededException", "ServiceQuotaExceededException"},
	fault.Quota:         {"ServiceQuotaExceededException", "ResourceNumberLimitExceededException", "LimitExceededException"},
	fault.Throttled:     {"ThrottlingException"},
	fault.Internal:      {"InternalServiceException", "InternalServerException", "InternalFailure"},
}

// NotImplementedCode answers fault.Unavailable, as restjson does.
const NotImplementedCode = "NotImplementedException"

// toAPIError converts an error returned while serving op into wire form;
// internal reports whether it is not client-safe (logged at Error, sent as
// the generic internal error).
func (h *Handler) toAPIError(op *shape.Operation, err error) (e *APIError, internal bool) {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae, ae.Status >= 500
	}
	var ve *shape.ValidationError
	if errors.As(err, &ve) {
		return h.shaped(op, fault.Invalid, ve.Error()), false
	}
	var fe *fault.Error
	if errors.As(err, &fe) && fe.Kind != fault.Internal {
		if fe.Kind == fault.Unavailable {
			return &APIError{Status: http.StatusNotImplemented, Code: NotImplementedCode, Message: fe.Message}, false
		}
		if _, ok := kindShapes[fe.Kind]; ok {
			return h.shaped(op, fe.Kind, fe.Message), false
		}
	}
	return h.shaped(op, fault.Internal, "An internal error occurred. Try again later."), true
}

// shaped is the error of kind for op: the preferred shape it declares, with
// the model's status (awsJson: 400, 500 for a fault).
func (h *Handler) shaped(op *shape.Operation, kind fault.Kind, msg string) *APIError {
	prefs := kindShapes[kind]
	code := prefs[0]
	if op != nil {
		for _, s := range prefs {
			if op.Declares(s) {
				code = s
				break
			}
		}
	}
	status := 0
	if h.Service.ErrorStatus != nil {
		status = h.Service.ErrorStatus(code)
	}
	if status == 0 {
		status = http.StatusBadRequest
		if kind == fault.Internal {
			status = http.StatusInternalServerError
		}
	}
	return &APIError{Status: status, Code: code, Message: msg}
}
