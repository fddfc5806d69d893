package ingest

import (
	"context"
	"errors"
	"fmt"
)

// Category is a FinSpace ErrorCategory (errorInfo.errorCategory of a failed
// changeset).
type Category string

// The FinSpace ErrorCategory values.
const (
	CategoryValidation           Category = "VALIDATION"
	CategoryServiceQuotaExceeded Category = "SERVICE_QUOTA_EXCEEDED"
	CategoryAccessDenied         Category = "ACCESS_DENIED"
	CategoryResourceNotFound     Category = "RESOURCE_NOT_FOUND"
	CategoryThrottling           Category = "THROTTLING"
	CategoryInternal             Category = "INTERNAL_SERVICE_EXCEPTION"
	CategoryCancelled            Category = "CANCELLED"
	CategoryUserRecoverable      Category = "USER_RECOVERABLE"
)

// CategoryOf maps an error returned by this package to the errorCategory a
// failed changeset reports. Errors of other origins are internal.
func CategoryOf(err error) Category {
	var c interface{ Category() Category }
	switch {
	case err == nil:
		return ""
	case errors.As(err, &c):
		return c.Category()
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return CategoryCancelled
	}
	return CategoryInternal
}

// Every error type below follows the project's rule: Error() is text a user
// may see (source names, never local paths or DuckDB internals); the cause,
// when there is one, is reached with errors.Unwrap for the log.

// RequestError is a bad format, schema or request, detected before any
// source is read (a ValidationException at create time, in the API).
type RequestError struct {
	Member string // the request member at fault, e.g. "formatParams.separator"
	Msg    string
}

func (e *RequestError) Error() string      { return e.Msg }
func (e *RequestError) Category() Category { return CategoryValidation }

// ValidationError is a value or a row that does not fit the schema.
type ValidationError struct {
	File   string // the source's name as the user knows it
	Line   int64  // 1-based; lines as a user counts them (CSV, NDJSON, JSON array: the line the record starts on), rows for Parquet; 0 if unknown
	Unit   string // "line" or "row"
	Column string // schema column; "" when the whole row is at fault
	Type   ColumnType
	Value  string // the offending text (truncated to 200 bytes)
	Reason string // what is wrong, for a human
}

func (e *ValidationError) Error() string {
	loc := e.File
	if e.Line > 0 {
		loc = fmt.Sprintf("%s, %s %d", e.File, orDefault(e.Unit, "line"), e.Line)
	}
	switch {
	case e.Column != "" && e.Reason == "":
		return fmt.Sprintf("%s, column %q: value %q is not a valid %s", loc, e.Column, e.Value, e.Type)
	case e.Column != "":
		return fmt.Sprintf("%s, column %q: %s", loc, e.Column, e.Reason)
	}
	return fmt.Sprintf("%s: %s", loc, e.Reason)
}

func (e *ValidationError) Category() Category { return CategoryValidation }

// SourceProblem says what is wrong with a source file as a whole.
type SourceProblem string

// Source problems.
const (
	SourceMissing     SourceProblem = "missing"     // RESOURCE_NOT_FOUND
	SourceUnreadable  SourceProblem = "unreadable"  // USER_RECOVERABLE
	SourceEmpty       SourceProblem = "empty"       // USER_RECOVERABLE
	SourceCompression SourceProblem = "compression" // not compressed as declared, or truncated/corrupt stream
	SourceMalformed   SourceProblem = "malformed"   // not the declared format (bad CSV quoting, invalid JSON, not Parquet)
	SourceLineTooLong SourceProblem = "line-length" // a record longer than the server reads (Limits.MaxLineBytes)
	SourceNoRows      SourceProblem = "no-rows"     // data that yields no row (never a silent success)
)

// SourceError is a source file that cannot be read as declared.
type SourceError struct {
	File    string
	Line    int64 // when known
	Problem SourceProblem
	Msg     string
	Err     error // cause, for the log
}

func (e *SourceError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s, line %d: %s", e.File, e.Line, e.Msg)
	}
	return fmt.Sprintf("%s: %s", e.File, e.Msg)
}

func (e *SourceError) Unwrap() error { return e.Err }

func (e *SourceError) Category() Category {
	if e.Problem == SourceMissing {
		return CategoryResourceNotFound
	}
	return CategoryUserRecoverable
}

// LimitError is a conversion that ran out of its memory or staging-space
// budget. The input may be fine; it needs more room than this server gives.
type LimitError struct {
	Msg string
	Err error
}

func (e *LimitError) Error() string      { return e.Msg }
func (e *LimitError) Unwrap() error      { return e.Err }
func (e *LimitError) Category() Category { return CategoryServiceQuotaExceeded }

// cancelled wraps the context's error so errors.Is(err, context.Canceled)
// holds and the text stays client-safe.
type cancelledError struct{ err error }

func (e *cancelledError) Error() string      { return "ingestion was cancelled" }
func (e *cancelledError) Unwrap() error      { return e.err }
func (e *cancelledError) Category() Category { return CategoryCancelled }

// internalError hides an unexpected engine error behind a safe message.
type internalError struct{ err error }

func (e *internalError) Error() string      { return "internal error while converting the data" }
func (e *internalError) Unwrap() error      { return e.err }
func (e *internalError) Category() Category { return CategoryInternal }
