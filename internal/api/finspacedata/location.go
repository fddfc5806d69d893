package finspacedata

import (
	"context"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/identity"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

// getWorkingLocation returns (creating on demand) the environment's
// location for uploads (INGESTION, the default) or notebooks (SAGEMAKER).
func (a *Adapter) getWorkingLocation(ctx context.Context, actor *identity.Actor, in *finspacedata.GetWorkingLocationRequest) (*finspacedata.GetWorkingLocationResponse, error) {
	kind := ""
	if in.LocationType != nil {
		kind = string(*in.LocationType)
	}
	bucket, prefix, err := blob.WorkingLocation(ctx, a.Blobs, a.Account, actor.Region, actor.EnvironmentID, kind)
	if err != nil {
		return nil, err
	}
	path := bucket + "/" + prefix
	uri := "s3://" + path
	return &finspacedata.GetWorkingLocationResponse{S3Uri: &uri, S3Path: &path, S3Bucket: &bucket}, nil
}
