package finspace

import (
	"context"

	"github.com/openfinspace/openfinspace/internal/api/apiutil"
	"github.com/openfinspace/openfinspace/internal/kx/scaling"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/wire/finspace"
	"github.com/openfinspace/openfinspace/internal/wire/restjson"
)

func (a *Adapter) createKxScalingGroup(ctx context.Context, reg string, in *finspace.CreateKxScalingGroupRequest) (*finspace.CreateKxScalingGroupResponse, error) {
	g, err := a.Scaling.Create(ctx, reg, apiutil.Str(in.EnvironmentId), scaling.CreateInput{Name: apiutil.Str(in.ScalingGroupName),
		HostType: apiutil.Str(in.HostType), Zone: apiutil.Str(in.AvailabilityZoneId), Tags: in.Tags})
	if err != nil {
		return nil, err
	}
	out := kxScalingGroupOut(g, nil).ToCreateKxScalingGroupResponse()
	out.EnvironmentId = &g.Environment
	return out, nil
}

func (a *Adapter) getKxScalingGroup(ctx context.Context, reg string, in *finspace.GetKxScalingGroupRequest) (*finspace.GetKxScalingGroupResponse, error) {
	g, clusters, err := a.Scaling.Get(ctx, reg, apiutil.Str(in.EnvironmentId), apiutil.Str(in.ScalingGroupName))
	if err != nil {
		return nil, err
	}
	return kxScalingGroupOut(g, clusters), nil
}

func (a *Adapter) listKxScalingGroups(ctx context.Context, reg string, in *finspace.ListKxScalingGroupsRequest) (*finspace.ListKxScalingGroupsResponse, error) {
	env := apiutil.Str(in.EnvironmentId)
	items, next, err := listPage(a, "ListKxScalingGroups", reg+"|"+env, in.NextToken, in.MaxResults,
		func(after *store.Cursor, limit int) (store.Page[*scaling.Group], error) {
			return a.Scaling.List(ctx, reg, env, after, limit)
		})
	if err != nil {
		return nil, err
	}
	out := &finspace.ListKxScalingGroupsResponse{ScalingGroups: make([]finspace.KxScalingGroup, 0, len(items)), NextToken: next}
	for _, g := range items {
		out.ScalingGroups = append(out.ScalingGroups, *kxScalingGroupOut(g, nil).ToKxScalingGroup())
	}
	return out, nil
}

func (a *Adapter) deleteKxScalingGroup(ctx context.Context, reg string, in *finspace.DeleteKxScalingGroupRequest) (*finspace.DeleteKxScalingGroupResponse, error) {
	if err := a.Scaling.Delete(ctx, reg, apiutil.Str(in.EnvironmentId), apiutil.Str(in.ScalingGroupName)); err != nil {
		return nil, err
	}
	return &finspace.DeleteKxScalingGroupResponse{}, nil
}

// kxScalingGroupOut is the wire form of g with the clusters on it.
func kxScalingGroupOut(g *scaling.Group, clusters []string) *finspace.GetKxScalingGroupResponse {
	return &finspace.GetKxScalingGroupResponse{ScalingGroupName: &g.Name, ScalingGroupArn: &g.ARN, HostType: &g.HostType,
		Clusters: clusters, AvailabilityZoneId: &g.Zone, Status: apiutil.Ptr(finspace.KxScalingGroupStatus(g.Status)),
		StatusReason: apiutil.Ref(&g.StatusReason), CreatedTimestamp: restjson.NewTimestamp(g.CreatedAt),
		LastModifiedTimestamp: restjson.NewTimestamp(g.UpdatedAt)}
}
