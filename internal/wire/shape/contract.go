// Package shape is the contract the generated wire shapes implement and the
// helpers they call (Params, Validator, Timestamp), free of HTTP: the
// generated packages (internal/wire/finspace, internal/wire/finspacedata)
// import only this package, so a domain package may keep a validated
// generated shape (a configuration it stores and echoes) without importing
// the rest-json runtime or net/http. The runtime that serves them is
// internal/wire/restjson.
package shape

import (
	"context"
	"net/url"
)

// Input is implemented by every generated operation input.
type Input interface {
	// BindParams sets the members bound to the URI path and query string.
	// Type errors are returned as *ValidationError.
	BindParams(p Params) error
	// Validate checks every model constraint (required, length, range,
	// pattern, enum, list and map sizes), nested members included, and
	// returns a *ValidationError listing all violations, or nil.
	Validate() error
}

// Idempotent is implemented by inputs that carry an idempotency token.
type Idempotent interface {
	IdempotencyToken() *string
	SetIdempotencyToken(*string)
}

// StatusCoder is implemented by outputs with a member bound to the HTTP
// status code (finspace-data AssociateUserToPermissionGroup and
// DisassociateUserFromPermissionGroup).
type StatusCoder interface {
	HTTPStatusCode() (int, bool)
}

// HandlerFunc is an untyped operation implementation. Generated Handlers
// structs adapt typed functions to it.
type HandlerFunc func(ctx context.Context, in Input) (any, error)

// Operation describes one operation of a service model.
type Operation struct {
	Service string // signing name: "finspace" or "finspace-api"
	Name    string // e.g. "CreateEnvironment"
	Method  string // HTTP method
	URI     string // request URI template, e.g. "/tags/{resourceArn}"
	// Target is the X-Amz-Target of an awsJson operation
	// ("AWSGlue.GetTable"), "" for rest-json.
	Target      string
	SuccessCode int      // HTTP status on success
	Errors      []string // declared error shapes
	Deprecated  bool
	// IdempotencyToken is the wire name of the idempotency token member, "" if none.
	IdempotencyToken string
	// Pagination is nil for operations without nextToken.
	Pagination *Pagination
	// NewInput returns a zero input of the operation's input type. It is
	// nil for an operation the generator was told to leave out (awsJson
	// services generate a configured subset): the table still names it so
	// that the runtime can answer it with a clear refusal.
	NewInput func() Input
}

// Declares reports whether the operation declares the error shape.
func (o *Operation) Declares(shape string) bool {
	for _, e := range o.Errors {
		if e == shape {
			return true
		}
	}
	return false
}

// Pagination is the paging metadata of a List operation.
type Pagination struct {
	InputToken  string // wire name of the request token, "nextToken"
	OutputToken string // wire name of the response token
	LimitKey    string // wire name of the page-size member, "" if none
	ResultKey   string // wire name of the result list, "" if unknown
	// LimitMin and LimitMax are the model's range of the page-size member
	// (-1 when unbounded).
	LimitMin, LimitMax int64
	// LimitRequired is true when the model requires the page-size member.
	LimitRequired bool
}

// Params is the part of a request outside the JSON body.
type Params struct {
	Path   map[string]string // URI labels, already unescaped
	Query  url.Values
	Header map[string][]string // an http.Header
}
