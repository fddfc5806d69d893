package finspace

import (
	"context"

	"github.com/openfinspace/openfinspace/internal/api/apiutil"
	"github.com/openfinspace/openfinspace/internal/kx"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/wire/finspace"
	"github.com/openfinspace/openfinspace/internal/wire/restjson"
)

// regional adapts an operation that takes the caller's region (every
// finspace resource is regional) to a handler: the region lookup is
// written once, not in each operation.
func regional[In, Out any](fn func(ctx context.Context, region string, in *In) (*Out, error)) func(context.Context, *In) (*Out, error) {
	return func(ctx context.Context, in *In) (*Out, error) {
		reg, err := region(ctx)
		if err != nil {
			return nil, err
		}
		return fn(ctx, reg, in)
	}
}

// listPage runs one page of a listing under scope: the token decoded, the
// page size from the model, the next token encoded.
func listPage[T any](a *Adapter, op, scope string, token *string, maxResults *int32,
	list func(after *store.Cursor, limit int) (paging.Page[T], error)) ([]T, *string, error) {
	cursor, err := apiutil.DecodeToken(a.Pages, op+"|"+scope, token)
	if err != nil {
		return nil, nil, err
	}
	page, err := list(cursor, apiutil.PageLimit(finspace.OperationByName(op), maxResults))
	if err != nil {
		return nil, nil, err
	}
	return page.Items, apiutil.EncodeToken(a.Pages, op+"|"+scope, page.Next), nil
}

func (a *Adapter) createKxDatabase(ctx context.Context, reg string, in *finspace.CreateKxDatabaseRequest) (*finspace.CreateKxDatabaseResponse, error) {
	d, err := a.Kx.CreateDatabase(ctx, reg, apiutil.Str(in.EnvironmentId), apiutil.Str(in.DatabaseName), apiutil.Str(in.Description), in.Tags)
	if err != nil {
		return nil, err
	}
	return kxDatabaseOut(d).ToCreateKxDatabaseResponse(), nil
}

func (a *Adapter) getKxDatabase(ctx context.Context, reg string, in *finspace.GetKxDatabaseRequest) (*finspace.GetKxDatabaseResponse, error) {
	d, err := a.Kx.GetDatabase(ctx, reg, apiutil.Str(in.EnvironmentId), apiutil.Str(in.DatabaseName))
	if err != nil {
		return nil, err
	}
	return kxDatabaseOut(d), nil
}

func (a *Adapter) listKxDatabases(ctx context.Context, reg string, in *finspace.ListKxDatabasesRequest) (*finspace.ListKxDatabasesResponse, error) {
	env := apiutil.Str(in.EnvironmentId)
	items, next, err := listPage(a, "ListKxDatabases", reg+"|"+env, in.NextToken, in.MaxResults,
		func(after *store.Cursor, limit int) (paging.Page[*kx.Database], error) {
			return a.Kx.ListDatabases(ctx, reg, env, after, limit)
		})
	if err != nil {
		return nil, err
	}
	out := &finspace.ListKxDatabasesResponse{KxDatabases: make([]finspace.KxDatabaseListEntry, 0, len(items)), NextToken: next}
	for _, d := range items {
		out.KxDatabases = append(out.KxDatabases, *kxDatabaseOut(d).ToKxDatabaseListEntry())
	}
	return out, nil
}

func (a *Adapter) updateKxDatabase(ctx context.Context, reg string, in *finspace.UpdateKxDatabaseRequest) (*finspace.UpdateKxDatabaseResponse, error) {
	d, err := a.Kx.UpdateDatabase(ctx, reg, apiutil.Str(in.EnvironmentId), apiutil.Str(in.DatabaseName), apiutil.Str(in.Description))
	if err != nil {
		return nil, err
	}
	return kxDatabaseOut(d).ToUpdateKxDatabaseResponse(), nil
}

func (a *Adapter) deleteKxDatabase(ctx context.Context, reg string, in *finspace.DeleteKxDatabaseRequest) (*finspace.DeleteKxDatabaseResponse, error) {
	if err := a.Kx.DeleteDatabase(ctx, reg, apiutil.Str(in.EnvironmentId), apiutil.Str(in.DatabaseName)); err != nil {
		return nil, err
	}
	return &finspace.DeleteKxDatabaseResponse{}, nil
}

func (a *Adapter) createKxChangeset(ctx context.Context, reg string, in *finspace.CreateKxChangesetRequest) (*finspace.CreateKxChangesetResponse, error) {
	reqs := make([]kx.ChangeRequest, 0, len(in.ChangeRequests))
	for _, r := range in.ChangeRequests {
		reqs = append(reqs, kx.ChangeRequest{Type: string(apiutil.Str((*string)(r.ChangeType))), S3Path: apiutil.Str(r.S3Path), DbPath: apiutil.Str(r.DbPath)})
	}
	c, err := a.Kx.CreateChangeset(ctx, reg, apiutil.Str(in.EnvironmentId), apiutil.Str(in.DatabaseName), reqs)
	if err != nil {
		return nil, err
	}
	return kxChangesetOut(c).ToCreateKxChangesetResponse(), nil
}

func (a *Adapter) getKxChangeset(ctx context.Context, reg string, in *finspace.GetKxChangesetRequest) (*finspace.GetKxChangesetResponse, error) {
	c, err := a.Kx.GetChangeset(ctx, reg, apiutil.Str(in.EnvironmentId), apiutil.Str(in.DatabaseName), apiutil.Str(in.ChangesetId))
	if err != nil {
		return nil, err
	}
	return kxChangesetOut(c), nil
}

func (a *Adapter) listKxChangesets(ctx context.Context, reg string, in *finspace.ListKxChangesetsRequest) (*finspace.ListKxChangesetsResponse, error) {
	env, db := apiutil.Str(in.EnvironmentId), apiutil.Str(in.DatabaseName)
	items, next, err := listPage(a, "ListKxChangesets", reg+"|"+env+"|"+db, in.NextToken, in.MaxResults,
		func(after *store.Cursor, limit int) (paging.Page[*kx.Changeset], error) {
			return a.Kx.ListChangesets(ctx, reg, env, db, after, limit)
		})
	if err != nil {
		return nil, err
	}
	out := &finspace.ListKxChangesetsResponse{KxChangesets: make([]finspace.KxChangesetListEntry, 0, len(items)), NextToken: next}
	for _, c := range items {
		out.KxChangesets = append(out.KxChangesets, *kxChangesetOut(c).ToKxChangesetListEntry())
	}
	return out, nil
}

// kxDatabaseOut is the wire form of d.
func kxDatabaseOut(d *kx.Database) *finspace.GetKxDatabaseResponse {
	// Counters are present, zeros included, for an empty database.
	nb, nf, nc := d.NumBytes, int32(d.NumFiles), int32(d.Changesets)
	return &finspace.GetKxDatabaseResponse{DatabaseName: &d.Name, DatabaseArn: &d.ARN, EnvironmentId: &d.Environment,
		Description: apiutil.Ref(&d.Description), CreatedTimestamp: restjson.NewTimestamp(d.CreatedAt),
		LastModifiedTimestamp: restjson.NewTimestamp(d.UpdatedAt), LastCompletedChangesetId: apiutil.Ref(&d.LastCompleted),
		NumBytes: &nb, NumFiles: &nf, NumChangesets: &nc}
}

// kxChangesetOut is the wire form of c.
func kxChangesetOut(c *kx.Changeset) *finspace.GetKxChangesetResponse {
	out := &finspace.GetKxChangesetResponse{ChangesetId: &c.ID, DatabaseName: &c.Database, EnvironmentId: &c.Environment,
		CreatedTimestamp: restjson.NewTimestamp(c.CreatedAt), LastModifiedTimestamp: restjson.NewTimestamp(c.UpdatedAt),
		Status: apiutil.Ptr(finspace.ChangesetStatus(c.Status))}
	if !c.ActiveFrom.IsZero() {
		out.ActiveFromTimestamp = restjson.NewTimestamp(c.ActiveFrom)
	}
	for _, r := range c.Requests {
		out.ChangeRequests = append(out.ChangeRequests, finspace.ChangeRequest{ChangeType: apiutil.Ptr(finspace.ChangeType(r.Type)),
			S3Path: apiutil.Ptr(r.S3Path), DbPath: apiutil.Ptr(r.DbPath)})
	}
	if c.ErrorType != "" {
		out.ErrorInfo = &finspace.ErrorInfo{ErrorType: apiutil.Ptr(finspace.ErrorDetails(c.ErrorType)), ErrorMessage: apiutil.Ptr(c.ErrorMsg)}
	}
	return out
}
