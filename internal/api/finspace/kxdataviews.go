package finspace

import (
	"context"

	"github.com/openfinspace/openfinspace/internal/api/apiutil"
	"github.com/openfinspace/openfinspace/internal/kx/dataviews"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/wire/finspace"
	"github.com/openfinspace/openfinspace/internal/wire/restjson"
)

func segmentsIn(in []finspace.KxDataviewSegmentConfiguration) []dataviews.Segment {
	if in == nil {
		return nil
	}
	out := make([]dataviews.Segment, 0, len(in))
	for _, s := range in {
		out = append(out, dataviews.Segment{DBPaths: s.DbPaths, Volume: apiutil.Str(s.VolumeName), OnDemand: apiutil.Deref(s.OnDemand)})
	}
	return out
}

func segmentsOut(in []dataviews.Segment) []finspace.KxDataviewSegmentConfiguration {
	var out []finspace.KxDataviewSegmentConfiguration
	for _, s := range in {
		out = append(out, finspace.KxDataviewSegmentConfiguration{DbPaths: s.DBPaths, VolumeName: apiutil.Ptr(s.Volume), OnDemand: apiutil.Ptr(s.OnDemand)})
	}
	return out
}

func (a *Adapter) createKxDataview(ctx context.Context, reg string, in *finspace.CreateKxDataviewRequest) (*finspace.CreateKxDataviewResponse, error) {
	d, err := a.Dataviews.Create(ctx, reg, apiutil.Str(in.EnvironmentId), dataviews.CreateInput{Database: apiutil.Str(in.DatabaseName),
		Name: apiutil.Str(in.DataviewName), AZMode: string(apiutil.Deref(in.AzMode)), Zone: apiutil.Str(in.AvailabilityZoneId),
		Changeset: apiutil.Str(in.ChangesetId), Description: apiutil.Str(in.Description), AutoUpdate: apiutil.Deref(in.AutoUpdate),
		ReadWrite: apiutil.Deref(in.ReadWrite), Segments: segmentsIn(in.SegmentConfigurations), Tags: in.Tags})
	if err != nil {
		return nil, err
	}
	return kxDataviewOut(d).ToCreateKxDataviewResponse(), nil
}

func (a *Adapter) getKxDataview(ctx context.Context, reg string, in *finspace.GetKxDataviewRequest) (*finspace.GetKxDataviewResponse, error) {
	d, err := a.Dataviews.Get(ctx, reg, apiutil.Str(in.EnvironmentId), apiutil.Str(in.DatabaseName), apiutil.Str(in.DataviewName))
	if err != nil {
		return nil, err
	}
	return kxDataviewOut(d), nil
}

func (a *Adapter) listKxDataviews(ctx context.Context, reg string, in *finspace.ListKxDataviewsRequest) (*finspace.ListKxDataviewsResponse, error) {
	env, db := apiutil.Str(in.EnvironmentId), apiutil.Str(in.DatabaseName)
	items, next, err := listPage(a, "ListKxDataviews", reg+"|"+env+"|"+db, in.NextToken, in.MaxResults,
		func(after *store.Cursor, limit int) (store.Page[*dataviews.Dataview], error) {
			return a.Dataviews.List(ctx, reg, env, db, after, limit)
		})
	if err != nil {
		return nil, err
	}
	out := &finspace.ListKxDataviewsResponse{KxDataviews: make([]finspace.KxDataviewListEntry, 0, len(items)), NextToken: next}
	for _, d := range items {
		out.KxDataviews = append(out.KxDataviews, *kxDataviewOut(d).ToKxDataviewListEntry())
	}
	return out, nil
}

func (a *Adapter) updateKxDataview(ctx context.Context, reg string, in *finspace.UpdateKxDataviewRequest) (*finspace.UpdateKxDataviewResponse, error) {
	d, err := a.Dataviews.Update(ctx, reg, apiutil.Str(in.EnvironmentId), apiutil.Str(in.DatabaseName), apiutil.Str(in.DataviewName),
		dataviews.UpdateInput{Description: in.Description, Changeset: in.ChangesetId, Segments: segmentsIn(in.SegmentConfigurations)})
	if err != nil {
		return nil, err
	}
	return kxDataviewOut(d).ToUpdateKxDataviewResponse(), nil
}

func (a *Adapter) deleteKxDataview(ctx context.Context, reg string, in *finspace.DeleteKxDataviewRequest) (*finspace.DeleteKxDataviewResponse, error) {
	if err := a.Dataviews.Delete(ctx, reg, apiutil.Str(in.EnvironmentId), apiutil.Str(in.DatabaseName), apiutil.Str(in.DataviewName)); err != nil {
		return nil, err
	}
	return &finspace.DeleteKxDataviewResponse{}, nil
}

// kxDataviewOut is the wire form of d with its active versions.
func kxDataviewOut(d *dataviews.Dataview) *finspace.GetKxDataviewResponse {
	out := &finspace.GetKxDataviewResponse{EnvironmentId: &d.Environment, DatabaseName: &d.Database, DataviewName: &d.Name,
		AzMode: apiutil.Ptr(finspace.KxAzMode(d.AZMode)), AvailabilityZoneId: apiutil.Ref(&d.Zone), ChangesetId: apiutil.Ref(&d.Changeset),
		SegmentConfigurations: segmentsOut(d.Segments), Description: apiutil.Ref(&d.Description),
		AutoUpdate: &d.AutoUpdate, ReadWrite: &d.ReadWrite, Status: apiutil.Ptr(finspace.KxDataviewStatus(d.Status)),
		StatusReason: apiutil.Ref(&d.StatusReason), CreatedTimestamp: restjson.NewTimestamp(d.CreatedAt),
		LastModifiedTimestamp: restjson.NewTimestamp(d.UpdatedAt)}
	for _, v := range d.Versions {
		out.ActiveVersions = append(out.ActiveVersions, finspace.KxDataviewActiveVersion{VersionId: apiutil.Ptr(v.ID),
			ChangesetId: apiutil.Ptr(v.Changeset), SegmentConfigurations: segmentsOut(v.Segments),
			AttachedClusters: []string{}, CreatedTimestamp: restjson.NewTimestamp(v.CreatedAt)})
	}
	return out
}
