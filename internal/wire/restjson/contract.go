// Package restjson is the hand-written runtime of the AWS rest-json protocol:
// the router, binding of HTTP requests into generated inputs, the one
// generic handler and the error envelopes. The contract generated code
// implements (Input, Operation, Params, Validator, Timestamp) lives in
// internal/wire/shape, which imports no HTTP code; the names below are
// aliases of it.
package restjson

import "github.com/openfinspace/openfinspace/internal/wire/shape"

type (
	Input           = shape.Input
	Idempotent      = shape.Idempotent
	StatusCoder     = shape.StatusCoder
	HandlerFunc     = shape.HandlerFunc
	Operation       = shape.Operation
	Pagination      = shape.Pagination
	Params          = shape.Params
	Timestamp       = shape.Timestamp
	Validator       = shape.Validator
	ValidationError = shape.ValidationError
	Violation       = shape.Violation
	Matcher         = shape.Matcher
)

var (
	NewTimestamp     = shape.NewTimestamp
	MustMatcher      = shape.MustMatcher
	HasManualPattern = shape.HasManualPattern
)

// Ptr returns a pointer to v.
func Ptr[T any](v T) *T { return &v }
