package finspacedata

import (
	"context"

	"github.com/openfinspace/openfinspace/internal/api/apiutil"
	"github.com/openfinspace/openfinspace/internal/identity"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

func userInput(typ *finspacedata.UserType, first, last *string, access *finspacedata.ApiAccess, principal *string) identity.UserInput {
	in := identity.UserInput{FirstName: first, LastName: last, APIAccessPrincipalARN: principal}
	if typ != nil {
		t := string(*typ)
		in.Type = &t
	}
	if access != nil {
		v := string(*access)
		in.APIAccess = &v
	}
	return in
}

func (a *Adapter) createUser(ctx context.Context, actor *identity.Actor, in *finspacedata.CreateUserRequest) (*finspacedata.CreateUserResponse, error) {
	ui := userInput(in.Type, in.FirstName, in.LastName, in.ApiAccess, in.ApiAccessPrincipalArn)
	ui.Email = apiutil.Str(in.EmailAddress)
	u, err := a.Identity.CreateUser(ctx, actor, ui)
	if err != nil {
		return nil, err
	}
	return &finspacedata.CreateUserResponse{UserId: &u.ID}, nil
}

func userOut(u *identity.User) finspacedata.User {
	status, typ, access := finspacedata.UserStatus(u.Status), finspacedata.UserType(u.Type), finspacedata.ApiAccess(u.APIAccess)
	return finspacedata.User{
		UserId: apiutil.Ptr(u.ID), Status: &status, FirstName: apiutil.Ptr(u.FirstName), LastName: apiutil.Ptr(u.LastName),
		EmailAddress: apiutil.Ptr(u.Email), Type: &typ, ApiAccess: &access, ApiAccessPrincipalArn: apiutil.Ptr(u.APIAccessPrincipalARN),
		CreateTime: millis(u.CreatedAt), LastEnabledTime: millis(u.EnabledAt), LastDisabledTime: millis(u.DisabledAt),
		LastModifiedTime: millis(u.ModifiedAt), LastLoginTime: millis(u.LastLoginAt),
	}
}

func (a *Adapter) getUser(ctx context.Context, actor *identity.Actor, in *finspacedata.GetUserRequest) (*finspacedata.GetUserResponse, error) {
	u, err := a.Identity.GetUser(ctx, actor, apiutil.Str(in.UserId))
	if err != nil {
		return nil, err
	}
	o := userOut(u)
	return o.ToGetUserResponse(), nil
}

func (a *Adapter) listUsers(ctx context.Context, actor *identity.Actor, in *finspacedata.ListUsersRequest) (*finspacedata.ListUsersResponse, error) {
	sc := scope("ListUsers", actor, "")
	cursor, err := apiutil.DecodeToken(a.Pages, sc, in.NextToken)
	if err != nil {
		return nil, err
	}
	page, err := a.Identity.ListUsers(ctx, actor, cursor, apiutil.PageLimit(finspacedata.OperationByName("ListUsers"), in.MaxResults))
	if err != nil {
		return nil, err
	}
	out := &finspacedata.ListUsersResponse{Users: make([]finspacedata.User, 0, len(page.Items)), NextToken: apiutil.EncodeToken(a.Pages, sc, page.Next)}
	for _, u := range page.Items {
		out.Users = append(out.Users, userOut(u))
	}
	return out, nil
}

func (a *Adapter) updateUser(ctx context.Context, actor *identity.Actor, in *finspacedata.UpdateUserRequest) (*finspacedata.UpdateUserResponse, error) {
	u, err := a.Identity.UpdateUser(ctx, actor, apiutil.Str(in.UserId), userInput(in.Type, in.FirstName, in.LastName, in.ApiAccess, in.ApiAccessPrincipalArn))
	if err != nil {
		return nil, err
	}
	return &finspacedata.UpdateUserResponse{UserId: &u.ID}, nil
}

func (a *Adapter) disableUser(ctx context.Context, actor *identity.Actor, in *finspacedata.DisableUserRequest) (*finspacedata.DisableUserResponse, error) {
	u, err := a.Identity.DisableUser(ctx, actor, apiutil.Str(in.UserId))
	if err != nil {
		return nil, err
	}
	return &finspacedata.DisableUserResponse{UserId: &u.ID}, nil
}

func (a *Adapter) enableUser(ctx context.Context, actor *identity.Actor, in *finspacedata.EnableUserRequest) (*finspacedata.EnableUserResponse, error) {
	u, err := a.Identity.EnableUser(ctx, actor, apiutil.Str(in.UserId))
	if err != nil {
		return nil, err
	}
	return &finspacedata.EnableUserResponse{UserId: &u.ID}, nil
}

func (a *Adapter) resetUserPassword(ctx context.Context, actor *identity.Actor, in *finspacedata.ResetUserPasswordRequest) (*finspacedata.ResetUserPasswordResponse, error) {
	u, pw, err := a.Identity.ResetUserPassword(ctx, actor, apiutil.Str(in.UserId))
	if err != nil {
		return nil, err
	}
	return &finspacedata.ResetUserPasswordResponse{UserId: &u.ID, TemporaryPassword: &pw}, nil
}
