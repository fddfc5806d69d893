// Package finspacedata adapts the generated `finspace-data` wire types to
// the domain services. Every operation but GetProgrammaticAccessCredentials
// acts as a FinSpace user: withActor resolves it once, structurally.
package finspacedata

import (
	"context"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/dataset"
	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/identity"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

// Adapter holds the domain services the finspace-data operations call.
type Adapter struct {
	Identity *identity.Service
	Datasets *dataset.Service
	Pages    *paging.Codec
	// Blobs is the object store (working locations' buckets).
	Blobs   blob.Store
	Account string
}

// Register fills the operations this package implements. Operations left
// nil answer NotImplementedException after binding and validation.
func Register(h *finspacedata.Handlers, a *Adapter) {
	h.CreateUser = withActor(a, a.createUser)
	h.GetUser = withActor(a, a.getUser)
	h.ListUsers = withActor(a, a.listUsers)
	h.UpdateUser = withActor(a, a.updateUser)
	h.DisableUser = withActor(a, a.disableUser)
	h.EnableUser = withActor(a, a.enableUser)
	h.ResetUserPassword = withActor(a, a.resetUserPassword)
	h.CreatePermissionGroup = withActor(a, a.createPermissionGroup)
	h.GetPermissionGroup = withActor(a, a.getPermissionGroup)
	h.ListPermissionGroups = withActor(a, a.listPermissionGroups)
	h.UpdatePermissionGroup = withActor(a, a.updatePermissionGroup)
	h.DeletePermissionGroup = withActor(a, a.deletePermissionGroup)
	h.AssociateUserToPermissionGroup = withActor(a, a.associate)
	h.DisassociateUserFromPermissionGroup = withActor(a, a.disassociate)
	h.ListUsersByPermissionGroup = withActor(a, a.listUsersByPermissionGroup)
	h.ListPermissionGroupsByUser = withActor(a, a.listPermissionGroupsByUser)
	h.GetProgrammaticAccessCredentials = a.getProgrammaticAccessCredentials
	h.GetWorkingLocation = withActor(a, a.getWorkingLocation)
	h.CreateDataset = withActor(a, a.createDataset)
	h.GetDataset = withActor(a, a.getDataset)
	h.ListDatasets = withActor(a, a.listDatasets)
	h.UpdateDataset = withActor(a, a.updateDataset)
	h.DeleteDataset = withActor(a, a.deleteDataset)
	h.CreateChangeset = withActor(a, a.createChangeset)
	h.GetChangeset = withActor(a, a.getChangeset)
	h.ListChangesets = withActor(a, a.listChangesets)
	h.UpdateChangeset = withActor(a, a.updateChangeset)
	h.CreateDataView = withActor(a, a.createDataView)
	h.GetDataView = withActor(a, a.getDataView)
	h.ListDataViews = withActor(a, a.listDataViews)
	h.GetExternalDataViewAccessDetails = withActor(a, a.getExternalDataViewAccessDetails)
}

// withActor resolves the FinSpace user a request acts as before calling f.
func withActor[In, Out any](a *Adapter, f func(context.Context, *identity.Actor, *In) (*Out, error)) func(context.Context, *In) (*Out, error) {
	return func(ctx context.Context, in *In) (*Out, error) {
		c, ok := auth.CallerFrom(ctx)
		if !ok {
			return nil, fault.Deniedf("The request has no authenticated caller.")
		}
		actor, err := a.Identity.ResolveActor(ctx, c)
		if err != nil {
			return nil, err
		}
		return f(ctx, actor, in)
	}
}

// millis is the finspace-data time format: epoch milliseconds.
func millis(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	v := t.UnixMilli()
	return &v
}

// scope names a listing for page tokens: a token works only for the same
// operation, environment and filter.
func scope(op string, a *identity.Actor, filter string) string {
	return op + "|" + a.EnvironmentID + "|" + filter
}
