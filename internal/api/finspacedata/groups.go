package finspacedata

import (
	"context"
	"net/http"

	"github.com/openfinspace/openfinspace/internal/api/apiutil"
	"github.com/openfinspace/openfinspace/internal/identity"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

func permissions(in []finspacedata.ApplicationPermission) []string {
	if in == nil {
		return nil
	}
	out := make([]string, len(in))
	for i, p := range in {
		out[i] = string(p)
	}
	return out
}

func groupOut(g *identity.Group) finspacedata.PermissionGroup {
	perms := make([]finspacedata.ApplicationPermission, len(g.Permissions))
	for i, p := range g.Permissions {
		perms[i] = finspacedata.ApplicationPermission(p)
	}
	return finspacedata.PermissionGroup{PermissionGroupId: apiutil.Ptr(g.ID), Name: apiutil.Ptr(g.Name),
		Description: apiutil.Ptr(g.Description), ApplicationPermissions: perms,
		CreateTime: millis(g.CreatedAt), LastModifiedTime: millis(g.ModifiedAt)}
}

func (a *Adapter) createPermissionGroup(ctx context.Context, actor *identity.Actor, in *finspacedata.CreatePermissionGroupRequest) (*finspacedata.CreatePermissionGroupResponse, error) {
	g, err := a.Identity.CreateGroup(ctx, actor, identity.GroupInput{Name: in.Name, Description: in.Description, Permissions: permissions(in.ApplicationPermissions)})
	if err != nil {
		return nil, err
	}
	return &finspacedata.CreatePermissionGroupResponse{PermissionGroupId: &g.ID}, nil
}

func (a *Adapter) getPermissionGroup(ctx context.Context, actor *identity.Actor, in *finspacedata.GetPermissionGroupRequest) (*finspacedata.GetPermissionGroupResponse, error) {
	g, err := a.Identity.GetGroup(ctx, actor, apiutil.Str(in.PermissionGroupId))
	if err != nil {
		return nil, err
	}
	out := groupOut(g)
	return &finspacedata.GetPermissionGroupResponse{PermissionGroup: &out}, nil
}

func (a *Adapter) listPermissionGroups(ctx context.Context, actor *identity.Actor, in *finspacedata.ListPermissionGroupsRequest) (*finspacedata.ListPermissionGroupsResponse, error) {
	sc := scope("ListPermissionGroups", actor, "")
	cursor, err := apiutil.DecodeToken(a.Pages, sc, in.NextToken)
	if err != nil {
		return nil, err
	}
	page, err := a.Identity.ListGroups(ctx, actor, cursor, apiutil.PageLimit(finspacedata.OperationByName("ListPermissionGroups"), in.MaxResults))
	if err != nil {
		return nil, err
	}
	out := &finspacedata.ListPermissionGroupsResponse{PermissionGroups: make([]finspacedata.PermissionGroup, 0, len(page.Items)),
		NextToken: apiutil.EncodeToken(a.Pages, sc, page.Next)}
	for _, g := range page.Items {
		out.PermissionGroups = append(out.PermissionGroups, groupOut(g))
	}
	return out, nil
}

func (a *Adapter) updatePermissionGroup(ctx context.Context, actor *identity.Actor, in *finspacedata.UpdatePermissionGroupRequest) (*finspacedata.UpdatePermissionGroupResponse, error) {
	g, err := a.Identity.UpdateGroup(ctx, actor, apiutil.Str(in.PermissionGroupId),
		identity.GroupInput{Name: in.Name, Description: in.Description, Permissions: permissions(in.ApplicationPermissions)})
	if err != nil {
		return nil, err
	}
	return &finspacedata.UpdatePermissionGroupResponse{PermissionGroupId: &g.ID}, nil
}

func (a *Adapter) deletePermissionGroup(ctx context.Context, actor *identity.Actor, in *finspacedata.DeletePermissionGroupRequest) (*finspacedata.DeletePermissionGroupResponse, error) {
	id := apiutil.Str(in.PermissionGroupId)
	if err := a.Identity.DeleteGroup(ctx, actor, id); err != nil {
		return nil, err
	}
	return &finspacedata.DeletePermissionGroupResponse{PermissionGroupId: &id}, nil
}

func statusOK() *int32 {
	v := int32(http.StatusOK)
	return &v
}

func (a *Adapter) associate(ctx context.Context, actor *identity.Actor, in *finspacedata.AssociateUserToPermissionGroupRequest) (*finspacedata.AssociateUserToPermissionGroupResponse, error) {
	if err := a.Identity.Associate(ctx, actor, apiutil.Str(in.PermissionGroupId), apiutil.Str(in.UserId)); err != nil {
		return nil, err
	}
	return &finspacedata.AssociateUserToPermissionGroupResponse{StatusCode: statusOK()}, nil
}

func (a *Adapter) disassociate(ctx context.Context, actor *identity.Actor, in *finspacedata.DisassociateUserFromPermissionGroupRequest) (*finspacedata.DisassociateUserFromPermissionGroupResponse, error) {
	if err := a.Identity.Disassociate(ctx, actor, apiutil.Str(in.PermissionGroupId), apiutil.Str(in.UserId)); err != nil {
		return nil, err
	}
	return &finspacedata.DisassociateUserFromPermissionGroupResponse{StatusCode: statusOK()}, nil
}

func (a *Adapter) listUsersByPermissionGroup(ctx context.Context, actor *identity.Actor, in *finspacedata.ListUsersByPermissionGroupRequest) (*finspacedata.ListUsersByPermissionGroupResponse, error) {
	gid := apiutil.Str(in.PermissionGroupId)
	sc := scope("ListUsersByPermissionGroup", actor, gid)
	cursor, err := apiutil.DecodeToken(a.Pages, sc, in.NextToken)
	if err != nil {
		return nil, err
	}
	page, err := a.Identity.ListGroupMembers(ctx, actor, gid, cursor, apiutil.PageLimit(finspacedata.OperationByName("ListUsersByPermissionGroup"), in.MaxResults))
	if err != nil {
		return nil, err
	}
	out := &finspacedata.ListUsersByPermissionGroupResponse{Users: make([]finspacedata.UserByPermissionGroup, 0, len(page.Items)),
		NextToken: apiutil.EncodeToken(a.Pages, sc, page.Next)}
	for _, m := range page.Items {
		u := userOut(m.User)
		e := u.ToUserByPermissionGroup()
		e.MembershipStatus = apiutil.Ptr(finspacedata.PermissionGroupMembershipStatus(m.Membership))
		out.Users = append(out.Users, *e)
	}
	return out, nil
}

func (a *Adapter) listPermissionGroupsByUser(ctx context.Context, actor *identity.Actor, in *finspacedata.ListPermissionGroupsByUserRequest) (*finspacedata.ListPermissionGroupsByUserResponse, error) {
	uid := apiutil.Str(in.UserId)
	sc := scope("ListPermissionGroupsByUser", actor, uid)
	cursor, err := apiutil.DecodeToken(a.Pages, sc, in.NextToken)
	if err != nil {
		return nil, err
	}
	page, err := a.Identity.ListUserGroups(ctx, actor, uid, cursor, apiutil.PageLimit(finspacedata.OperationByName("ListPermissionGroupsByUser"), in.MaxResults))
	if err != nil {
		return nil, err
	}
	out := &finspacedata.ListPermissionGroupsByUserResponse{PermissionGroups: make([]finspacedata.PermissionGroupByUser, 0, len(page.Items)),
		NextToken: apiutil.EncodeToken(a.Pages, sc, page.Next)}
	for _, m := range page.Items {
		ms := finspacedata.PermissionGroupMembershipStatus(m.Membership)
		out.PermissionGroups = append(out.PermissionGroups, finspacedata.PermissionGroupByUser{
			PermissionGroupId: apiutil.Ptr(m.Group.ID), Name: apiutil.Ptr(m.Group.Name), MembershipStatus: &ms})
	}
	return out, nil
}
