// Package finspace adapts the generated `finspace` wire types to the domain
// services: one file per resource family, each a set of typed functions.
package finspace

import (
	"context"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/environment"
	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/kx"
	"github.com/openfinspace/openfinspace/internal/kx/dataviews"
	"github.com/openfinspace/openfinspace/internal/kx/scaling"
	"github.com/openfinspace/openfinspace/internal/kx/users"
	"github.com/openfinspace/openfinspace/internal/kx/volumes"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/tagging"
	"github.com/openfinspace/openfinspace/internal/wire/finspace"
)

// Adapter holds the domain services the finspace operations call.
type Adapter struct {
	Environments *environment.Service
	Kx           *kx.Service
	Scaling      *scaling.Service
	Users        *users.Service
	Volumes      *volumes.Service
	Dataviews    *dataviews.Service
	Tags         *tagging.Service
	Pages        *paging.Codec
}

// Register fills the operations this package implements. Operations left
// nil answer NotImplementedException after binding and validation.
func Register(h *finspace.Handlers, a *Adapter) {
	h.CreateEnvironment = a.createEnvironment
	h.GetEnvironment = a.getEnvironment
	h.ListEnvironments = a.listEnvironments
	h.UpdateEnvironment = a.updateEnvironment
	h.DeleteEnvironment = a.deleteEnvironment
	h.CreateKxEnvironment = a.createKxEnvironment
	h.GetKxEnvironment = a.getKxEnvironment
	h.ListKxEnvironments = a.listKxEnvironments
	h.UpdateKxEnvironment = a.updateKxEnvironment
	h.DeleteKxEnvironment = a.deleteKxEnvironment
	h.UpdateKxEnvironmentNetwork = a.updateKxEnvironmentNetwork
	h.CreateKxUser = regional(a.createKxUser)
	h.GetKxUser = regional(a.getKxUser)
	h.ListKxUsers = regional(a.listKxUsers)
	h.UpdateKxUser = regional(a.updateKxUser)
	h.DeleteKxUser = regional(a.deleteKxUser)
	h.CreateKxDatabase = regional(a.createKxDatabase)
	h.GetKxDatabase = regional(a.getKxDatabase)
	h.ListKxDatabases = regional(a.listKxDatabases)
	h.UpdateKxDatabase = regional(a.updateKxDatabase)
	h.DeleteKxDatabase = regional(a.deleteKxDatabase)
	h.CreateKxChangeset = regional(a.createKxChangeset)
	h.GetKxChangeset = regional(a.getKxChangeset)
	h.ListKxChangesets = regional(a.listKxChangesets)
	h.CreateKxCluster = regional(a.createKxCluster)
	h.GetKxCluster = regional(a.getKxCluster)
	h.ListKxClusters = regional(a.listKxClusters)
	h.DeleteKxCluster = regional(a.deleteKxCluster)
	h.ListKxClusterNodes = regional(a.listKxClusterNodes)
	h.CreateKxScalingGroup = regional(a.createKxScalingGroup)
	h.GetKxScalingGroup = regional(a.getKxScalingGroup)
	h.ListKxScalingGroups = regional(a.listKxScalingGroups)
	h.DeleteKxScalingGroup = regional(a.deleteKxScalingGroup)
	h.CreateKxVolume = regional(a.createKxVolume)
	h.GetKxVolume = regional(a.getKxVolume)
	h.ListKxVolumes = regional(a.listKxVolumes)
	h.UpdateKxVolume = regional(a.updateKxVolume)
	h.DeleteKxVolume = regional(a.deleteKxVolume)
	h.CreateKxDataview = regional(a.createKxDataview)
	h.GetKxDataview = regional(a.getKxDataview)
	h.ListKxDataviews = regional(a.listKxDataviews)
	h.UpdateKxDataview = regional(a.updateKxDataview)
	h.DeleteKxDataview = regional(a.deleteKxDataview)
	h.TagResource = a.tagResource
	h.UntagResource = a.untagResource
	h.ListTagsForResource = a.listTagsForResource
}

// region returns the caller's SigV4 region: resources are regional.
func region(ctx context.Context) (string, error) {
	c, ok := auth.CallerFrom(ctx)
	if !ok || c.Region == "" {
		return "", fault.Deniedf("The request has no authenticated caller.")
	}
	return c.Region, nil
}
