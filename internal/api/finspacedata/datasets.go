package finspacedata

import (
	"context"

	"github.com/openfinspace/openfinspace/internal/api/apiutil"
	"github.com/openfinspace/openfinspace/internal/dataset"
	"github.com/openfinspace/openfinspace/internal/identity"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

func schemaIn(u *finspacedata.SchemaUnion) *dataset.Schema {
	if u == nil || u.TabularSchemaConfig == nil {
		return nil
	}
	s := &dataset.Schema{PrimaryKeys: u.TabularSchemaConfig.PrimaryKeyColumns}
	for _, c := range u.TabularSchemaConfig.Columns {
		s.Columns = append(s.Columns, dataset.Column{Name: apiutil.Str(c.ColumnName),
			Type: string(apiutil.Str((*string)(c.DataType))), Description: apiutil.Str(c.ColumnDescription)})
	}
	return s
}

func schemaOut(s *dataset.Schema) *finspacedata.SchemaUnion {
	if s == nil {
		return nil
	}
	def := &finspacedata.SchemaDefinition{Columns: make([]finspacedata.ColumnDefinition, len(s.Columns)),
		PrimaryKeyColumns: s.PrimaryKeys}
	for i, c := range s.Columns {
		t := finspacedata.ColumnDataType(c.Type)
		def.Columns[i] = finspacedata.ColumnDefinition{ColumnName: apiutil.Ptr(c.Name), DataType: &t,
			ColumnDescription: apiutil.Ref(&c.Description)}
	}
	return &finspacedata.SchemaUnion{TabularSchemaConfig: def}
}

func ownerIn(o *finspacedata.DatasetOwnerInfo) *dataset.Owner {
	if o == nil {
		return nil
	}
	return &dataset.Owner{Name: apiutil.Str(o.Name), Phone: apiutil.Str(o.PhoneNumber), Email: apiutil.Str(o.Email)}
}

func ownerOut(o *dataset.Owner) *finspacedata.DatasetOwnerInfo {
	if o == nil {
		return nil
	}
	return &finspacedata.DatasetOwnerInfo{Name: apiutil.Ref(&o.Name), PhoneNumber: apiutil.Ref(&o.Phone), Email: apiutil.Ref(&o.Email)}
}

func datasetOut(d *dataset.Dataset) finspacedata.Dataset {
	kind := finspacedata.DatasetKind(d.Kind)
	return finspacedata.Dataset{DatasetId: apiutil.Ptr(d.ID), DatasetArn: apiutil.Ptr(d.ARN), DatasetTitle: apiutil.Ptr(d.Title),
		Kind: &kind, DatasetDescription: apiutil.Ref(&d.Description), OwnerInfo: ownerOut(d.Owner),
		CreateTime: millis(d.CreatedAt), LastModifiedTime: millis(d.ModifiedAt), SchemaDefinition: schemaOut(d.Schema),
		Alias: apiutil.Ref(&d.Alias)}
}

func (a *Adapter) createDataset(ctx context.Context, actor *identity.Actor, in *finspacedata.CreateDatasetRequest) (*finspacedata.CreateDatasetResponse, error) {
	var grant dataset.Grant
	if p := in.PermissionGroupParams; p != nil {
		grant.Group = apiutil.Str(p.PermissionGroupId)
		for _, rp := range p.DatasetPermissions {
			grant.Permissions = append(grant.Permissions, apiutil.Str(rp.Permission))
		}
	}
	d, err := a.Datasets.CreateDataset(ctx, actor, dataset.DatasetInput{Title: apiutil.Str(in.DatasetTitle),
		Kind: string(apiutil.Str((*string)(in.Kind))), Description: apiutil.Str(in.DatasetDescription),
		Alias: apiutil.Str(in.Alias), Owner: ownerIn(in.OwnerInfo), Schema: schemaIn(in.SchemaDefinition)}, grant)
	if err != nil {
		return nil, err
	}
	return &finspacedata.CreateDatasetResponse{DatasetId: &d.ID}, nil
}

func (a *Adapter) getDataset(ctx context.Context, actor *identity.Actor, in *finspacedata.GetDatasetRequest) (*finspacedata.GetDatasetResponse, error) {
	d, err := a.Datasets.GetDataset(ctx, actor, apiutil.Str(in.DatasetId))
	if err != nil {
		return nil, err
	}
	o := datasetOut(d)
	out := o.ToGetDatasetResponse()
	out.Status = apiutil.Ptr(finspacedata.DatasetStatus(d.Status))
	return out, nil
}

func (a *Adapter) listDatasets(ctx context.Context, actor *identity.Actor, in *finspacedata.ListDatasetsRequest) (*finspacedata.ListDatasetsResponse, error) {
	sc := scope("ListDatasets", actor, "")
	cursor, err := apiutil.DecodeToken(a.Pages, sc, in.NextToken)
	if err != nil {
		return nil, err
	}
	page, err := a.Datasets.ListDatasets(ctx, actor, cursor, apiutil.PageLimit(finspacedata.OperationByName("ListDatasets"), in.MaxResults))
	if err != nil {
		return nil, err
	}
	out := &finspacedata.ListDatasetsResponse{Datasets: make([]finspacedata.Dataset, 0, len(page.Items)),
		NextToken: apiutil.EncodeToken(a.Pages, sc, page.Next)}
	for _, d := range page.Items {
		out.Datasets = append(out.Datasets, datasetOut(d))
	}
	return out, nil
}

func (a *Adapter) updateDataset(ctx context.Context, actor *identity.Actor, in *finspacedata.UpdateDatasetRequest) (*finspacedata.UpdateDatasetResponse, error) {
	d, err := a.Datasets.UpdateDataset(ctx, actor, apiutil.Str(in.DatasetId), dataset.DatasetInput{Title: apiutil.Str(in.DatasetTitle),
		Kind: string(apiutil.Str((*string)(in.Kind))), Description: apiutil.Str(in.DatasetDescription),
		Alias: apiutil.Str(in.Alias), Schema: schemaIn(in.SchemaDefinition)})
	if err != nil {
		return nil, err
	}
	return &finspacedata.UpdateDatasetResponse{DatasetId: &d.ID}, nil
}

func (a *Adapter) deleteDataset(ctx context.Context, actor *identity.Actor, in *finspacedata.DeleteDatasetRequest) (*finspacedata.DeleteDatasetResponse, error) {
	id := apiutil.Str(in.DatasetId)
	if err := a.Datasets.DeleteDataset(ctx, actor, id); err != nil {
		return nil, err
	}
	return &finspacedata.DeleteDatasetResponse{DatasetId: &id}, nil
}

func changesetOut(c *dataset.Changeset) finspacedata.ChangesetSummary {
	ct := finspacedata.ChangeType(c.Type)
	st := finspacedata.IngestionStatus(c.Status)
	out := finspacedata.ChangesetSummary{ChangesetId: apiutil.Ptr(c.ID), ChangesetArn: apiutil.Ptr(c.ARN),
		DatasetId: apiutil.Ptr(c.Dataset), ChangeType: &ct, SourceParams: c.SourceParams, FormatParams: c.FormatParams,
		CreateTime: millis(c.CreatedAt), Status: &st, ActiveFromTimestamp: millis(c.ActiveFrom),
		ActiveUntilTimestamp: millis(c.ActiveUntil), UpdatesChangesetId: apiutil.Ref(&c.Updates),
		UpdatedByChangesetId: apiutil.Ref(&c.UpdatedBy)}
	if c.ErrorCategory != "" {
		cat := finspacedata.ErrorCategory(c.ErrorCategory)
		out.ErrorInfo = &finspacedata.ChangesetErrorInfo{ErrorMessage: apiutil.Ptr(c.ErrorMessage), ErrorCategory: &cat}
	}
	return out
}

func (a *Adapter) createChangeset(ctx context.Context, actor *identity.Actor, in *finspacedata.CreateChangesetRequest) (*finspacedata.CreateChangesetResponse, error) {
	c, err := a.Datasets.CreateChangeset(ctx, actor, apiutil.Str(in.DatasetId), dataset.ChangesetInput{
		Type: string(apiutil.Str((*string)(in.ChangeType))), SourceParams: in.SourceParams, FormatParams: in.FormatParams})
	if err != nil {
		return nil, err
	}
	return &finspacedata.CreateChangesetResponse{DatasetId: &c.Dataset, ChangesetId: &c.ID}, nil
}

func (a *Adapter) updateChangeset(ctx context.Context, actor *identity.Actor, in *finspacedata.UpdateChangesetRequest) (*finspacedata.UpdateChangesetResponse, error) {
	c, err := a.Datasets.UpdateChangeset(ctx, actor, apiutil.Str(in.DatasetId), apiutil.Str(in.ChangesetId),
		dataset.ChangesetInput{SourceParams: in.SourceParams, FormatParams: in.FormatParams})
	if err != nil {
		return nil, err
	}
	return &finspacedata.UpdateChangesetResponse{DatasetId: &c.Dataset, ChangesetId: &c.ID}, nil
}

func (a *Adapter) getChangeset(ctx context.Context, actor *identity.Actor, in *finspacedata.GetChangesetRequest) (*finspacedata.GetChangesetResponse, error) {
	c, err := a.Datasets.GetChangeset(ctx, actor, apiutil.Str(in.DatasetId), apiutil.Str(in.ChangesetId))
	if err != nil {
		return nil, err
	}
	o := changesetOut(c)
	return o.ToGetChangesetResponse(), nil
}

func (a *Adapter) listChangesets(ctx context.Context, actor *identity.Actor, in *finspacedata.ListChangesetsRequest) (*finspacedata.ListChangesetsResponse, error) {
	id := apiutil.Str(in.DatasetId)
	sc := scope("ListChangesets", actor, id)
	cursor, err := apiutil.DecodeToken(a.Pages, sc, in.NextToken)
	if err != nil {
		return nil, err
	}
	page, err := a.Datasets.ListChangesets(ctx, actor, id, cursor, apiutil.PageLimit(finspacedata.OperationByName("ListChangesets"), in.MaxResults))
	if err != nil {
		return nil, err
	}
	out := &finspacedata.ListChangesetsResponse{Changesets: make([]finspacedata.ChangesetSummary, 0, len(page.Items)),
		NextToken: apiutil.EncodeToken(a.Pages, sc, page.Next)}
	for _, c := range page.Items {
		out.Changesets = append(out.Changesets, changesetOut(c))
	}
	return out, nil
}
