// Package fault gives domain errors a kind and a client-safe message.
//
// Domain code returns *fault.Error values; the wire layer maps the kind to an
// exception shape the operation declares. Any other error is internal: its
// text is logged, never shown to the client.
package fault

import (
	"errors"
	"fmt"
	"log/slog"
)

// Kind classifies an error for the wire layer.
type Kind int

const (
	Internal      Kind = iota // not client-safe; becomes InternalServerException
	NotFound                  // ResourceNotFoundException
	Conflict                  // ConflictException (state or idempotency conflicts)
	AlreadyExists             // ResourceAlreadyExistsException, else ConflictException
	Invalid                   // ValidationException / InvalidRequestException
	Denied                    // AccessDeniedException
	LimitExceeded             // LimitExceededException
	Quota                     // ServiceQuotaExceededException, else LimitExceededException
	Throttled                 // ThrottlingException
	Unavailable               // operation not available yet in openfinspace
)

var kindNames = [...]string{"internal", "not found", "conflict", "already exists", "invalid",
	"denied", "limit exceeded", "quota", "throttled", "unavailable"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is a domain error with a kind and a message that is safe to show.
type Error struct {
	Kind    Kind
	Message string
	// Reason fills the optional `reason` member some exception shapes carry.
	Reason string
	// Err is an optional cause; it is logged, never sent.
	Err error
}

// Error is the client-safe message alone, so that %v, %s or a wrapping
// fmt.Errorf can never carry the cause to a client. The cause is reached
// with errors.Unwrap, and logged through LogValue.
func (e *Error) Error() string { return e.Message }

// LogValue shows the cause in logs (log/slog calls it for an error attribute
// of this type); it is never sent to a client.
func (e *Error) LogValue() slog.Value {
	if e.Err != nil {
		return slog.StringValue(e.Message + ": " + e.Err.Error())
	}
	return slog.StringValue(e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, fault.NotFoundError) style checks work by kind.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Kind == e.Kind
}

func newf(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

func NotFoundf(format string, args ...any) *Error      { return newf(NotFound, format, args...) }
func Conflictf(format string, args ...any) *Error      { return newf(Conflict, format, args...) }
func AlreadyExistsf(format string, args ...any) *Error { return newf(AlreadyExists, format, args...) }
func Invalidf(format string, args ...any) *Error       { return newf(Invalid, format, args...) }
func Deniedf(format string, args ...any) *Error        { return newf(Denied, format, args...) }
func LimitExceededf(format string, args ...any) *Error { return newf(LimitExceeded, format, args...) }
func Quotaf(format string, args ...any) *Error         { return newf(Quota, format, args...) }
func Unavailablef(format string, args ...any) *Error   { return newf(Unavailable, format, args...) }

// NoSuch is the error of a resource that does not exist: "The
// <what> <name> does not exist." (what: "scaling group", "cluster"…).
func NoSuch(what, name string) *Error {
	return NotFoundf("The %s %s does not exist.", what, name)
}

// NoSuchIn is NoSuch naming the parent the resource was looked for
// in: "The <what> <name> does not exist in <parentWhat> <parent>."
func NoSuchIn(what, name, parentWhat, parent string) *Error {
	return NotFoundf("The %s %s does not exist in %s %s.", what, name, parentWhat, parent)
}

// Sentinels for errors.Is checks by kind.
var (
	ErrNotFound      = &Error{Kind: NotFound}
	ErrConflict      = &Error{Kind: Conflict}
	ErrAlreadyExists = &Error{Kind: AlreadyExists}
	ErrInvalid       = &Error{Kind: Invalid}
	ErrDenied        = &Error{Kind: Denied}
)

// KindOf returns the kind of err, Internal when err carries none.
func KindOf(err error) Kind {
	var fe *Error
	if errors.As(err, &fe) {
		return fe.Kind
	}
	return Internal
}
