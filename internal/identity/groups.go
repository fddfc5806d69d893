package identity

import (
	"context"
	"errors"
	"time"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/ids"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/store"
)

// GroupInput is what Create/UpdatePermissionGroup carry; nil leaves a field.
type GroupInput struct {
	Name, Description *string
	Permissions       []string
}

// Membership is a user's place in a group.
type Membership struct {
	UserID    string    `json:"userId"`
	GroupID   string    `json:"groupId"`
	Status    string    `json:"status"`
	CreatedAt time.Time `json:"createdAt"`
}

// Clone returns a copy of m.
func (m *Membership) Clone() *Membership { c := *m; return &c }

// CreateGroup adds a permission group to the actor's environment.
func (s *Service) CreateGroup(ctx context.Context, a *Actor, in GroupInput) (*Group, error) {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	g := &Group{ID: ids.Base62(22), EnvironmentID: a.EnvironmentID, Name: deref(in.Name), Description: deref(in.Description),
		Permissions: uniq(in.Permissions), CreatedAt: now, ModifiedAt: now}
	err := s.db.Update(ctx, func(tx store.Tx) error {
		if err := s.groups.Insert(ctx, tx, g); err != nil {
			return err
		}
		return s.tokens.CommitTx(ctx, tx)
	})
	return g, err
}

func deref(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func uniq(in []string) []string {
	out := make([]string, 0, len(in))
	seen := map[string]bool{}
	for _, v := range in {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// GetGroup returns a permission group of the actor's environment.
func (s *Service) GetGroup(ctx context.Context, a *Actor, id string) (*Group, error) {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return nil, err
	}
	var g *Group
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		g, _, err = s.groups.GetIn(ctx, tx, a.EnvironmentID, id)
		return err
	})
	return g, err
}

// ListGroups pages through the environment's permission groups.
func (s *Service) ListGroups(ctx context.Context, a *Actor, after *store.Cursor, limit int) (paging.Page[*Group], error) {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return paging.Page[*Group]{}, err
	}
	var page paging.Page[*Group]
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		page, err = s.groups.Page(ctx, tx, store.Query{Parent: a.EnvironmentID, After: after}, limit)
		return err
	})
	return page, err
}

// UpdateGroup changes a group's name, description or permissions.
func (s *Service) UpdateGroup(ctx context.Context, a *Actor, id string, in GroupInput) (*Group, error) {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return nil, err
	}
	var g *Group
	err := s.db.Update(ctx, func(tx store.Tx) error {
		var version int64
		var err error
		g, version, err = s.groups.GetIn(ctx, tx, a.EnvironmentID, id)
		if err != nil {
			return err
		}
		if in.Name != nil {
			g.Name = *in.Name
		}
		if in.Description != nil {
			g.Description = *in.Description
		}
		if in.Permissions != nil {
			g.Permissions = uniq(in.Permissions)
		}
		g.ModifiedAt = s.now().UTC()
		if err := s.groups.Update(ctx, tx, g, version); err != nil {
			return err
		}
		return s.tokens.CommitTx(ctx, tx)
	})
	return g, err
}

// DeleteGroup removes a group with its memberships and dataset grants.
func (s *Service) DeleteGroup(ctx context.Context, a *Actor, id string) error {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return err
	}
	return s.db.Update(ctx, func(tx store.Tx) error {
		if _, _, err := s.groups.GetIn(ctx, tx, a.EnvironmentID, id); err != nil {
			return err
		}
		members, err := s.byGroup.List(ctx, tx, store.Query{Parent: id})
		if err != nil {
			return err
		}
		for _, m := range members {
			if err := s.byGroup.Delete(ctx, tx, id+"/"+m.UserID); err != nil {
				return err
			}
			if err := s.byUser.Delete(ctx, tx, m.UserID+"/"+id); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		grants, err := s.grants.List(ctx, tx, store.Query{Parent: id})
		if err != nil {
			return err
		}
		for _, gr := range grants {
			if err := s.grants.Delete(ctx, tx, gr.dataset+"/"+gr.group); err != nil {
				return err
			}
		}
		if err := s.groups.Delete(ctx, tx, id); err != nil {
			return err
		}
		return s.tokens.CommitTx(ctx, tx)
	})
}

// Associate adds a user to a group; adding a member again is a conflict.
func (s *Service) Associate(ctx context.Context, a *Actor, groupID, userID string) error {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return err
	}
	return s.db.Update(ctx, func(tx store.Tx) error {
		if err := s.groupAndUserTx(ctx, tx, a.EnvironmentID, groupID, userID); err != nil {
			return err
		}
		m := &Membership{UserID: userID, GroupID: groupID, Status: MembershipSuccess, CreatedAt: s.now().UTC()}
		err := s.byGroup.Insert(ctx, tx, m)
		if errors.Is(err, store.ErrExists) {
			return fault.Conflictf("User %s is already a member of permission group %s.", userID, groupID)
		}
		if err != nil {
			return err
		}
		if err := s.byUser.Insert(ctx, tx, m); err != nil {
			return err
		}
		return s.tokens.CommitTx(ctx, tx)
	})
}

// Disassociate removes a user from a group.
func (s *Service) Disassociate(ctx context.Context, a *Actor, groupID, userID string) error {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return err
	}
	return s.db.Update(ctx, func(tx store.Tx) error {
		if err := s.groupAndUserTx(ctx, tx, a.EnvironmentID, groupID, userID); err != nil {
			return err
		}
		err := s.byGroup.Delete(ctx, tx, groupID+"/"+userID)
		if errors.Is(err, store.ErrNotFound) {
			return fault.NotFoundf("User %s is not a member of permission group %s.", userID, groupID)
		}
		if err != nil {
			return err
		}
		if err := s.byUser.Delete(ctx, tx, userID+"/"+groupID); err != nil {
			return err
		}
		return s.tokens.CommitTx(ctx, tx)
	})
}

// groupAndUserTx checks that group and user exist in env.
func (t *tables) groupAndUserTx(ctx context.Context, tx store.Tx, env, group, user string) error {
	if _, _, err := t.groups.GetIn(ctx, tx, env, group); err != nil {
		return err
	}
	_, _, err := t.users.GetIn(ctx, tx, env, user)
	return err
}

// UserInGroup is a member of a group.
type UserInGroup struct {
	User       *User
	Membership string
}

// GroupOfUser is a group a user belongs to.
type GroupOfUser struct {
	Group      *Group
	Membership string
}

// ListGroupMembers pages through a group's users.
func (s *Service) ListGroupMembers(ctx context.Context, a *Actor, groupID string, after *store.Cursor, limit int) (paging.Page[UserInGroup], error) {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return paging.Page[UserInGroup]{}, err
	}
	var page paging.Page[UserInGroup]
	err := s.db.View(ctx, func(tx store.Tx) error {
		if _, _, err := s.groups.GetIn(ctx, tx, a.EnvironmentID, groupID); err != nil {
			return err
		}
		members, err := s.byGroup.Page(ctx, tx, store.Query{Parent: groupID, After: after}, limit)
		if err != nil {
			return err
		}
		page.Next = members.Next
		for _, m := range members.Items {
			u, _, err := s.users.GetIn(ctx, tx, a.EnvironmentID, m.UserID)
			if err != nil {
				return err
			}
			page.Items = append(page.Items, UserInGroup{User: u, Membership: m.Status})
		}
		return nil
	})
	return page, err
}

// ListUserGroups pages through the groups of a user.
func (s *Service) ListUserGroups(ctx context.Context, a *Actor, userID string, after *store.Cursor, limit int) (paging.Page[GroupOfUser], error) {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return paging.Page[GroupOfUser]{}, err
	}
	var page paging.Page[GroupOfUser]
	err := s.db.View(ctx, func(tx store.Tx) error {
		if _, _, err := s.users.GetIn(ctx, tx, a.EnvironmentID, userID); err != nil {
			return err
		}
		groups, err := s.byUser.Page(ctx, tx, store.Query{Parent: userID, After: after}, limit)
		if err != nil {
			return err
		}
		page.Next = groups.Next
		for _, m := range groups.Items {
			g, _, err := s.groups.GetIn(ctx, tx, a.EnvironmentID, m.GroupID)
			if err != nil {
				return err
			}
			page.Items = append(page.Items, GroupOfUser{Group: g, Membership: m.Status})
		}
		return nil
	})
	return page, err
}
