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

func (a *Adapter) createKxCluster(ctx context.Context, reg string, in *finspace.CreateKxClusterRequest) (*finspace.CreateKxClusterResponse, error) {
	c, err := a.Kx.CreateCluster(ctx, reg, apiutil.Str(in.EnvironmentId), in)
	if err != nil {
		return nil, err
	}
	out := kxClusterOut(c).ToCreateKxClusterResponse()
	out.EnvironmentId = &c.Environment
	return out, nil
}

func (a *Adapter) getKxCluster(ctx context.Context, reg string, in *finspace.GetKxClusterRequest) (*finspace.GetKxClusterResponse, error) {
	c, err := a.Kx.GetCluster(ctx, reg, apiutil.Str(in.EnvironmentId), apiutil.Str(in.ClusterName))
	if err != nil {
		return nil, err
	}
	return kxClusterOut(c), nil
}

func (a *Adapter) listKxClusters(ctx context.Context, reg string, in *finspace.ListKxClustersRequest) (*finspace.ListKxClustersResponse, error) {
	env, typ := apiutil.Str(in.EnvironmentId), string(apiutil.Str((*string)(in.ClusterType)))
	items, next, err := listPage(a, "ListKxClusters", reg+"|"+env+"|"+typ, in.NextToken, in.MaxResults,
		func(after *store.Cursor, limit int) (paging.Page[*kx.Cluster], error) {
			return a.Kx.ListClusters(ctx, reg, env, typ, after, limit)
		})
	if err != nil {
		return nil, err
	}
	out := &finspace.ListKxClustersResponse{KxClusterSummaries: make([]finspace.KxCluster, 0, len(items)), NextToken: next}
	for _, c := range items {
		out.KxClusterSummaries = append(out.KxClusterSummaries, *kxClusterOut(c).ToKxCluster())
	}
	return out, nil
}

func (a *Adapter) deleteKxCluster(ctx context.Context, reg string, in *finspace.DeleteKxClusterRequest) (*finspace.DeleteKxClusterResponse, error) {
	if err := a.Kx.DeleteCluster(ctx, reg, apiutil.Str(in.EnvironmentId), apiutil.Str(in.ClusterName)); err != nil {
		return nil, err
	}
	return &finspace.DeleteKxClusterResponse{}, nil
}

// listKxClusterNodes lists a cluster's nodes, all on one page (at most
// five).
func (a *Adapter) listKxClusterNodes(ctx context.Context, reg string, in *finspace.ListKxClusterNodesRequest) (*finspace.ListKxClusterNodesResponse, error) {
	c, err := a.Kx.GetCluster(ctx, reg, apiutil.Str(in.EnvironmentId), apiutil.Str(in.ClusterName))
	if err != nil {
		return nil, err
	}
	out := &finspace.ListKxClusterNodesResponse{Nodes: make([]finspace.KxNode, 0, len(c.Nodes))}
	for _, n := range c.Nodes {
		st := finspace.KxNodeStatus("PROVISIONING")
		if n.Up {
			st = "RUNNING"
		}
		kn := finspace.KxNode{NodeId: apiutil.Ptr(n.ID), AvailabilityZoneId: apiutil.Ptr(n.Zone), Status: &st}
		if !n.LaunchedAt.IsZero() {
			kn.LaunchTime = restjson.NewTimestamp(n.LaunchedAt)
		}
		out.Nodes = append(out.Nodes, kn)
	}
	return out, nil
}

// kxClusterOut is the wire form of c: its stored configuration echoed,
// with each database's resolved changeset.
func kxClusterOut(c *kx.Cluster) *finspace.GetKxClusterResponse {
	out := c.Config.ToGetKxClusterResponse()
	out.Status, out.StatusReason = apiutil.Ptr(finspace.KxClusterStatus(c.Status)), apiutil.Ref(&c.StatusReason)
	out.CreatedTimestamp, out.LastModifiedTimestamp = restjson.NewTimestamp(c.CreatedAt), restjson.NewTimestamp(c.UpdatedAt)
	out.Databases = nil // rebuilt: the stored configuration is shared and never changed
	for i, d := range c.Config.Databases {
		if i < len(c.Databases) && c.Databases[i].Changeset != "" {
			d.ChangesetId = apiutil.Ptr(c.Databases[i].Changeset)
		}
		out.Databases = append(out.Databases, d)
	}
	return out
}
