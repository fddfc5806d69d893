package finspace

import (
	"context"

	"github.com/openfinspace/openfinspace/internal/api/apiutil"
	"github.com/openfinspace/openfinspace/internal/kx/users"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/wire/finspace"
	"github.com/openfinspace/openfinspace/internal/wire/restjson"
)

func (a *Adapter) createKxUser(ctx context.Context, reg string, in *finspace.CreateKxUserRequest) (*finspace.CreateKxUserResponse, error) {
	u, err := a.Users.Create(ctx, reg, apiutil.Str(in.EnvironmentId), apiutil.Str(in.UserName), apiutil.Str(in.IamRole), in.Tags)
	if err != nil {
		return nil, err
	}
	return &finspace.CreateKxUserResponse{UserName: &u.Name, UserArn: &u.ARN, EnvironmentId: &u.Environment, IamRole: &u.IAMRole}, nil
}

func (a *Adapter) getKxUser(ctx context.Context, reg string, in *finspace.GetKxUserRequest) (*finspace.GetKxUserResponse, error) {
	u, err := a.Users.Get(ctx, reg, apiutil.Str(in.EnvironmentId), apiutil.Str(in.UserName))
	if err != nil {
		return nil, err
	}
	return &finspace.GetKxUserResponse{UserName: &u.Name, UserArn: &u.ARN, EnvironmentId: &u.Environment, IamRole: &u.IAMRole}, nil
}

func (a *Adapter) listKxUsers(ctx context.Context, reg string, in *finspace.ListKxUsersRequest) (*finspace.ListKxUsersResponse, error) {
	env := apiutil.Str(in.EnvironmentId)
	items, next, err := listPage(a, "ListKxUsers", reg+"|"+env, in.NextToken, in.MaxResults,
		func(after *store.Cursor, limit int) (store.Page[*users.User], error) {
			return a.Users.List(ctx, reg, env, after, limit)
		})
	if err != nil {
		return nil, err
	}
	out := &finspace.ListKxUsersResponse{Users: make([]finspace.KxUser, 0, len(items)), NextToken: next}
	for _, u := range items {
		out.Users = append(out.Users, finspace.KxUser{UserArn: &u.ARN, UserName: &u.Name, IamRole: &u.IAMRole,
			CreateTimestamp: restjson.NewTimestamp(u.CreatedAt), UpdateTimestamp: restjson.NewTimestamp(u.UpdatedAt)})
	}
	return out, nil
}

func (a *Adapter) updateKxUser(ctx context.Context, reg string, in *finspace.UpdateKxUserRequest) (*finspace.UpdateKxUserResponse, error) {
	u, err := a.Users.Update(ctx, reg, apiutil.Str(in.EnvironmentId), apiutil.Str(in.UserName), apiutil.Str(in.IamRole))
	if err != nil {
		return nil, err
	}
	return &finspace.UpdateKxUserResponse{UserName: &u.Name, UserArn: &u.ARN, EnvironmentId: &u.Environment, IamRole: &u.IAMRole}, nil
}

func (a *Adapter) deleteKxUser(ctx context.Context, reg string, in *finspace.DeleteKxUserRequest) (*finspace.DeleteKxUserResponse, error) {
	if err := a.Users.Delete(ctx, reg, apiutil.Str(in.EnvironmentId), apiutil.Str(in.UserName)); err != nil {
		return nil, err
	}
	return &finspace.DeleteKxUserResponse{}, nil
}
