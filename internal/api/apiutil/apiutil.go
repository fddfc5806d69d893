// Package apiutil holds what the API adapters share: page sizes and tokens
// resolved from the operation tables, and pointer helpers.
package apiutil

import (
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/wire/restjson"
)

// DefaultPageSize is used when an operation's model gives maxResults no
// upper bound.
const DefaultPageSize = 100

// PageLimit resolves a List operation's page size from maxResults and the
// bounds the model gives its maxResults member.
func PageLimit(op *restjson.Operation, maxResults *int32) int {
	var n *int64
	if maxResults != nil {
		v := int64(*maxResults)
		n = &v
	}
	modelMax := int64(-1)
	if op != nil && op.Pagination != nil {
		modelMax = op.Pagination.LimitMax
	}
	return paging.Limit(n, modelMax, DefaultPageSize)
}

// DecodeToken resolves an optional nextToken for a listing scope.
func DecodeToken(c *paging.Codec, scope string, token *string) (*store.Cursor, error) {
	if token == nil || *token == "" {
		return nil, nil
	}
	return c.Decode(scope, *token)
}

// EncodeToken returns the nextToken of a page, nil on the last page.
func EncodeToken(c *paging.Codec, scope string, next *store.Cursor) *string {
	if next == nil {
		return nil
	}
	tok := c.Encode(scope, *next)
	return &tok
}

// Str dereferences an optional string.
func Str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

// Ref returns p, or nil when *p is the zero value (omitted on the wire):
// Ptr without the copy, for values the output may point into.
func Ref[T comparable](p *T) *T {
	var zero T
	if *p == zero {
		return nil
	}
	return p
}

// Ptr returns a pointer to v, nil for the zero value (omitted on the wire).
func Ptr[T comparable](v T) *T {
	var zero T
	if v == zero {
		return nil
	}
	return &v
}

// Deref dereferences an optional value (the zero value for nil).
func Deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
