package finspacedata

import (
	"context"
	"maps"

	"github.com/openfinspace/openfinspace/internal/api/apiutil"
	"github.com/openfinspace/openfinspace/internal/dataset"
	"github.com/openfinspace/openfinspace/internal/identity"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

// Keys of destinationTypeParams.s3DestinationExportFileFormatOptions under
// which GetDataView and ListDataViews name a GLUE_TABLE view's table (the
// model has no member for them; the real service's documentation says
// GetDataView "includes details on the target database and table name").
const (
	GlueDatabaseOption = "glueDatabaseName"
	GlueTableOption    = "glueTableName"
)

func destinationOut(v *dataset.DataView) *finspacedata.DataViewDestinationTypeParams {
	f := finspacedata.ExportFileFormat(v.Destination.Format)
	opts := maps.Clone(v.Destination.Options)
	if v.GlueTable != "" {
		if opts == nil {
			opts = map[string]string{}
		}
		opts[GlueDatabaseOption], opts[GlueTableOption] = v.GlueDatabase, v.GlueTable
	}
	return &finspacedata.DataViewDestinationTypeParams{DestinationType: apiutil.Ptr(v.Destination.Type),
		S3DestinationExportFileFormat: &f, S3DestinationExportFileFormatOptions: opts}
}

func viewErrorOut(v *dataset.DataView) *finspacedata.DataViewErrorInfo {
	if v.ErrorCat == "" {
		return nil
	}
	cat := finspacedata.ErrorCategory(v.ErrorCat)
	return &finspacedata.DataViewErrorInfo{ErrorMessage: apiutil.Ptr(v.ErrorMsg), ErrorCategory: &cat}
}

func viewOut(v *dataset.DataView) *finspacedata.GetDataViewResponse {
	st := finspacedata.DataViewStatus(v.Status)
	auto := v.AutoUpdate // false is said, not omitted
	return &finspacedata.GetDataViewResponse{AutoUpdate: &auto, PartitionColumns: v.Partition,
		DatasetId: apiutil.Ptr(v.Dataset), AsOfTimestamp: millis(v.AsOf), ErrorInfo: viewErrorOut(v),
		LastModifiedTime: millis(v.ModifiedAt), CreateTime: millis(v.CreatedAt), SortColumns: v.Sort,
		DataViewId: apiutil.Ptr(v.ID), DataViewArn: apiutil.Ptr(v.ARN), DestinationTypeParams: destinationOut(v),
		Status: &st}
}

func viewSummaryOut(v *dataset.DataView) finspacedata.DataViewSummary {
	g := viewOut(v)
	return finspacedata.DataViewSummary{DataViewId: g.DataViewId, DataViewArn: g.DataViewArn, DatasetId: g.DatasetId,
		AsOfTimestamp: g.AsOfTimestamp, PartitionColumns: g.PartitionColumns, SortColumns: g.SortColumns, Status: g.Status,
		ErrorInfo: g.ErrorInfo, DestinationTypeProperties: g.DestinationTypeParams, AutoUpdate: g.AutoUpdate,
		CreateTime: g.CreateTime, LastModifiedTime: g.LastModifiedTime}
}

func (a *Adapter) createDataView(ctx context.Context, actor *identity.Actor, in *finspacedata.CreateDataViewRequest) (*finspacedata.CreateDataViewResponse, error) {
	vi := dataset.ViewInput{AutoUpdate: in.AutoUpdate != nil && *in.AutoUpdate, AsOf: in.AsOfTimestamp,
		Partition: in.PartitionColumns, Sort: in.SortColumns}
	if p := in.DestinationTypeParams; p != nil {
		vi.DestinationType = apiutil.Str(p.DestinationType)
		vi.Format = string(apiutil.Str((*string)(p.S3DestinationExportFileFormat)))
		vi.Options = p.S3DestinationExportFileFormatOptions
	}
	v, err := a.Datasets.CreateDataView(ctx, actor, apiutil.Str(in.DatasetId), vi)
	if err != nil {
		return nil, err
	}
	return &finspacedata.CreateDataViewResponse{DatasetId: &v.Dataset, DataViewId: &v.ID}, nil
}

func (a *Adapter) getDataView(ctx context.Context, actor *identity.Actor, in *finspacedata.GetDataViewRequest) (*finspacedata.GetDataViewResponse, error) {
	v, err := a.Datasets.GetDataView(ctx, actor, apiutil.Str(in.DatasetId), apiutil.Str(in.DataViewId))
	if err != nil {
		return nil, err
	}
	return viewOut(v), nil
}

func (a *Adapter) listDataViews(ctx context.Context, actor *identity.Actor, in *finspacedata.ListDataViewsRequest) (*finspacedata.ListDataViewsResponse, error) {
	id := apiutil.Str(in.DatasetId)
	sc := scope("ListDataViews", actor, id)
	cursor, err := apiutil.DecodeToken(a.Pages, sc, in.NextToken)
	if err != nil {
		return nil, err
	}
	page, err := a.Datasets.ListDataViews(ctx, actor, id, cursor, apiutil.PageLimit(finspacedata.OperationByName("ListDataViews"), in.MaxResults))
	if err != nil {
		return nil, err
	}
	out := &finspacedata.ListDataViewsResponse{DataViews: make([]finspacedata.DataViewSummary, 0, len(page.Items)),
		NextToken: apiutil.EncodeToken(a.Pages, sc, page.Next)}
	for _, v := range page.Items {
		out.DataViews = append(out.DataViews, viewSummaryOut(v))
	}
	return out, nil
}

func (a *Adapter) getExternalDataViewAccessDetails(ctx context.Context, actor *identity.Actor, in *finspacedata.GetExternalDataViewAccessDetailsRequest) (*finspacedata.GetExternalDataViewAccessDetailsResponse, error) {
	x, err := a.Datasets.ExternalAccess(ctx, actor, apiutil.Str(in.DatasetId), apiutil.Str(in.DataViewId))
	if err != nil {
		return nil, err
	}
	c := x.Credential
	return &finspacedata.GetExternalDataViewAccessDetailsResponse{
		Credentials: &finspacedata.AwsCredentials{AccessKeyId: &c.AccessKeyID, SecretAccessKey: &c.SecretAccessKey,
			SessionToken: &c.SessionToken, Expiration: millis(c.Expires)},
		S3Location: &finspacedata.S3Location{Bucket: &x.Bucket, Key: &x.Prefix},
	}, nil
}
