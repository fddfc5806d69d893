package finspace

import (
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/wire/finspace"
)

// defaultPageSize is used when a List operation's model gives maxResults no
// upper bound.
const defaultPageSize = 100

// pageLimit resolves a List operation's page size from maxResults and the
// bounds the model gives its maxResults member.
func pageLimit(opName string, maxResults *int32) int {
	var n *int64
	if maxResults != nil {
		v := int64(*maxResults)
		n = &v
	}
	modelMax := int64(-1)
	if op := finspace.OperationByName(opName); op != nil && op.Pagination != nil {
		modelMax = op.Pagination.LimitMax
	}
	return paging.Limit(n, modelMax, defaultPageSize)
}

// decodeToken resolves an optional nextToken for a listing scope.
func (a *Adapter) decodeToken(scope string, token *string) (*store.Cursor, error) {
	if token == nil || *token == "" {
		return nil, nil
	}
	return a.Pages.Decode(scope, *token)
}
