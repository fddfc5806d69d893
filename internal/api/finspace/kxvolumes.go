package finspace

import (
	"context"

	"github.com/openfinspace/openfinspace/internal/api/apiutil"
	"github.com/openfinspace/openfinspace/internal/kx"
	"github.com/openfinspace/openfinspace/internal/kx/volumes"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/wire/finspace"
	"github.com/openfinspace/openfinspace/internal/wire/restjson"
)

func (a *Adapter) createKxVolume(ctx context.Context, reg string, in *finspace.CreateKxVolumeRequest) (*finspace.CreateKxVolumeResponse, error) {
	vin := volumes.CreateInput{Name: apiutil.Str(in.VolumeName), Type: string(apiutil.Deref(in.VolumeType)),
		Description: apiutil.Str(in.Description), AZMode: string(apiutil.Deref(in.AzMode)), Zones: in.AvailabilityZoneIds, Tags: in.Tags}
	if c := in.Nas1Configuration; c != nil {
		vin.NASType, vin.SizeGiB = string(apiutil.Deref(c.Type)), int(apiutil.Deref(c.Size))
	}
	v, err := a.Volumes.Create(ctx, reg, apiutil.Str(in.EnvironmentId), vin)
	if err != nil {
		return nil, err
	}
	return kxVolumeOut(v, nil).ToCreateKxVolumeResponse(), nil
}

func (a *Adapter) getKxVolume(ctx context.Context, reg string, in *finspace.GetKxVolumeRequest) (*finspace.GetKxVolumeResponse, error) {
	v, attached, err := a.Volumes.Get(ctx, reg, apiutil.Str(in.EnvironmentId), apiutil.Str(in.VolumeName))
	if err != nil {
		return nil, err
	}
	return kxVolumeOut(v, attached), nil
}

func (a *Adapter) listKxVolumes(ctx context.Context, reg string, in *finspace.ListKxVolumesRequest) (*finspace.ListKxVolumesResponse, error) {
	env, typ := apiutil.Str(in.EnvironmentId), string(apiutil.Deref(in.VolumeType))
	items, next, err := listPage(a, "ListKxVolumes", reg+"|"+env+"|"+typ, in.NextToken, in.MaxResults,
		func(after *store.Cursor, limit int) (store.Page[*volumes.Volume], error) {
			return a.Volumes.List(ctx, reg, env, typ, after, limit)
		})
	if err != nil {
		return nil, err
	}
	out := &finspace.ListKxVolumesResponse{KxVolumeSummaries: make([]finspace.KxVolume, 0, len(items)), NextToken: next}
	for _, v := range items {
		out.KxVolumeSummaries = append(out.KxVolumeSummaries, *kxVolumeOut(v, nil).ToKxVolume())
	}
	return out, nil
}

func (a *Adapter) updateKxVolume(ctx context.Context, reg string, in *finspace.UpdateKxVolumeRequest) (*finspace.UpdateKxVolumeResponse, error) {
	up := volumes.UpdateInput{Description: in.Description}
	if c := in.Nas1Configuration; c != nil {
		if c.Type != nil {
			up.NASType = apiutil.Ptr(string(*c.Type))
		}
		if c.Size != nil {
			up.SizeGiB = apiutil.Ptr(int(*c.Size))
		}
	}
	v, attached, err := a.Volumes.Update(ctx, reg, apiutil.Str(in.EnvironmentId), apiutil.Str(in.VolumeName), up)
	if err != nil {
		return nil, err
	}
	return kxVolumeOut(v, attached).ToUpdateKxVolumeResponse(), nil
}

func (a *Adapter) deleteKxVolume(ctx context.Context, reg string, in *finspace.DeleteKxVolumeRequest) (*finspace.DeleteKxVolumeResponse, error) {
	if err := a.Volumes.Delete(ctx, reg, apiutil.Str(in.EnvironmentId), apiutil.Str(in.VolumeName)); err != nil {
		return nil, err
	}
	return &finspace.DeleteKxVolumeResponse{}, nil
}

// kxVolumeOut is the wire form of v with the clusters attached to it.
func kxVolumeOut(v *volumes.Volume, attached []kx.Attached) *finspace.GetKxVolumeResponse {
	out := &finspace.GetKxVolumeResponse{EnvironmentId: &v.Environment, VolumeName: &v.Name, VolumeType: apiutil.Ptr(finspace.KxVolumeType(v.Type)),
		VolumeArn: &v.ARN, Status: apiutil.Ptr(finspace.KxVolumeStatus(v.Status)), StatusReason: apiutil.Ref(&v.StatusReason),
		Description: apiutil.Ref(&v.Description), AzMode: apiutil.Ptr(finspace.KxAzMode(v.AZMode)), AvailabilityZoneIds: v.Zones,
		Nas1Configuration: &finspace.KxNAS1Configuration{Type: apiutil.Ptr(finspace.KxNAS1Type(v.NASType)), Size: apiutil.Ptr(int32(v.SizeGiB))},
		CreatedTimestamp:  restjson.NewTimestamp(v.CreatedAt), LastModifiedTimestamp: restjson.NewTimestamp(v.UpdatedAt)}
	for _, c := range attached {
		out.AttachedClusters = append(out.AttachedClusters, finspace.KxAttachedCluster{ClusterName: apiutil.Ptr(c.Cluster),
			ClusterType: apiutil.Ptr(finspace.KxClusterType(c.Type)), ClusterStatus: apiutil.Ptr(finspace.KxClusterStatus(c.Status))})
	}
	return out
}
