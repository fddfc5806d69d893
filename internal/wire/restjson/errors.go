package restjson

import (
	"errors"

	"github.com/openfinspace/openfinspace/internal/fault"
)

// APIError is an error already in wire form: an exception shape name, its
// HTTP status and a client-safe message.
type APIError struct {
	Status  int
	Code    string
	Message string
	Reason  string // optional `reason` member
}

func (e *APIError) Error() string { return e.Code + ": " + e.Message }

// errorStatus is the HTTP status of every error shape declared by the
// finspace and finspace-data models (checked against the models by a test),
// plus the few codes the server emits before an operation is known.
var errorStatus = map[string]int{
	"AccessDeniedException":          403,
	"ConflictException":              409,
	"InternalServerException":        500,
	"InvalidRequestException":        400,
	"LimitExceededException":         400,
	"ResourceAlreadyExistsException": 409,
	"ResourceNotFoundException":      404,
	"ServiceQuotaExceededException":  402,
	"ThrottlingException":            429,
	"ValidationException":            400,
}

// kindShapes lists, per fault kind, the exception shapes to use in order of
// preference; the first one the operation declares wins, else the first.
var kindShapes = map[fault.Kind][]string{
	fault.NotFound:      {"ResourceNotFoundException"},
	fault.Conflict:      {"ConflictException", "ValidationException", "InvalidRequestException"},
	fault.AlreadyExists: {"ResourceAlreadyExistsException", "ConflictException", "ValidationException"},
	fault.Invalid:       {"ValidationException", "InvalidRequestException"},
	fault.Denied:        {"AccessDeniedException"},
	fault.LimitExceeded: {"LimitExceededException", "ServiceQuotaExceededException", "ValidationException"},
	fault.Quota:         {"ServiceQuotaExceededException", "LimitExceededException"},
	fault.Throttled:     {"ThrottlingException"},
}

// NotImplementedCode is the error code of operations whose domain is not
// built yet. It is not in the models: SDKs surface it as a generic API error.
const NotImplementedCode = "NotImplementedException"

// toAPIError converts any error returned while serving op into wire form.
// internal reports whether the error is not client-safe (logged at Error).
func toAPIError(op *Operation, err error) (apiErr *APIError, internal bool) {
	var ae *APIError
	if errors.As(err, &ae) {
		return ae, ae.Status >= 500
	}
	var ve *ValidationError
	if errors.As(err, &ve) {
		shape := pickShape(op, kindShapes[fault.Invalid])
		return &APIError{Status: errorStatus[shape], Code: shape, Message: ve.Error()}, false
	}
	var fe *fault.Error
	if errors.As(err, &fe) && fe.Kind != fault.Internal {
		if fe.Kind == fault.Unavailable {
			return &APIError{Status: 501, Code: NotImplementedCode, Message: fe.Message}, false
		}
		shape := pickShape(op, kindShapes[fe.Kind])
		return &APIError{Status: errorStatus[shape], Code: shape, Message: fe.Message, Reason: fe.Reason}, false
	}
	return &APIError{Status: 500, Code: "InternalServerException", Message: "An internal error occurred. Try again later."}, true
}

func pickShape(op *Operation, prefs []string) string {
	if op != nil {
		for _, s := range prefs {
			if op.Declares(s) {
				return s
			}
		}
	}
	return prefs[0]
}
