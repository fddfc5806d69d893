package identity

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/ids"
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

// CreateGroup adds a permission group to the actor's environment.
func (s *Service) CreateGroup(ctx context.Context, a *Actor, in GroupInput) (*Group, error) {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return nil, err
	}
	now := s.Now().UTC()
	g := &Group{ID: ids.Base62(22), EnvironmentID: a.EnvironmentID, Name: deref(in.Name), Description: deref(in.Description),
		Permissions: uniq(in.Permissions), CreatedAt: now, ModifiedAt: now}
	err := s.db.Update(ctx, func(tx store.Tx) error {
		return put(ctx, tx, &store.Record{Kind: KindGroup, ID: g.ID, Parent: g.EnvironmentID, SortKey: sortKey(now, g.ID)}, g, true)
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
		g, _, err = groupTx(ctx, tx, a.EnvironmentID, id)
		return err
	})
	return g, err
}

// ListGroups pages through the environment's permission groups.
func (s *Service) ListGroups(ctx context.Context, a *Actor, after *store.Cursor, limit int) (Page[*Group], error) {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return Page[*Group]{}, err
	}
	var page Page[*Group]
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		page, err = listPage(ctx, tx, store.Query{Kind: KindGroup, Parent: a.EnvironmentID, After: after}, limit, func(rec *store.Record) (*Group, error) {
			var g Group
			return &g, json.Unmarshal(rec.Data, &g)
		})
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
		var rec *store.Record
		var err error
		g, rec, err = groupTx(ctx, tx, a.EnvironmentID, id)
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
		g.ModifiedAt = s.Now().UTC()
		return put(ctx, tx, rec, g, false)
	})
	return g, err
}

// DeleteGroup removes a group with its memberships and dataset grants.
func (s *Service) DeleteGroup(ctx context.Context, a *Actor, id string) error {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return err
	}
	return s.db.Update(ctx, func(tx store.Tx) error {
		if _, _, err := groupTx(ctx, tx, a.EnvironmentID, id); err != nil {
			return err
		}
		members, err := tx.List(ctx, store.Query{Kind: KindMemberGroup, Parent: id})
		if err != nil {
			return err
		}
		for _, m := range members {
			userID := m.ID[len(id)+1:]
			if err := tx.Delete(ctx, KindMemberGroup, m.ID); err != nil {
				return err
			}
			if err := tx.Delete(ctx, KindMemberUser, userID+"/"+id); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		grants, err := tx.List(ctx, store.Query{Kind: KindDatasetPerm, Parent: id})
		if err != nil {
			return err
		}
		for _, gr := range grants {
			if err := tx.Delete(ctx, KindDatasetPerm, gr.ID); err != nil {
				return err
			}
		}
		return tx.Delete(ctx, KindGroup, id)
	})
}

// Associate adds a user to a group; adding a member again is a conflict.
func (s *Service) Associate(ctx context.Context, a *Actor, groupID, userID string) error {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return err
	}
	return s.db.Update(ctx, func(tx store.Tx) error {
		if _, _, err := groupTx(ctx, tx, a.EnvironmentID, groupID); err != nil {
			return err
		}
		if _, _, err := userTx(ctx, tx, a.EnvironmentID, userID); err != nil {
			return err
		}
		m := Membership{UserID: userID, GroupID: groupID, Status: MembershipSuccess, CreatedAt: s.Now().UTC()}
		err := put(ctx, tx, &store.Record{Kind: KindMemberGroup, ID: groupID + "/" + userID, Parent: groupID, SortKey: userID}, m, true)
		if errors.Is(err, store.ErrExists) {
			return fault.Conflictf("User %s is already a member of permission group %s.", userID, groupID)
		}
		if err != nil {
			return err
		}
		return put(ctx, tx, &store.Record{Kind: KindMemberUser, ID: userID + "/" + groupID, Parent: userID, SortKey: groupID}, m, true)
	})
}

// Disassociate removes a user from a group.
func (s *Service) Disassociate(ctx context.Context, a *Actor, groupID, userID string) error {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return err
	}
	return s.db.Update(ctx, func(tx store.Tx) error {
		if _, _, err := groupTx(ctx, tx, a.EnvironmentID, groupID); err != nil {
			return err
		}
		if _, _, err := userTx(ctx, tx, a.EnvironmentID, userID); err != nil {
			return err
		}
		err := tx.Delete(ctx, KindMemberGroup, groupID+"/"+userID)
		if errors.Is(err, store.ErrNotFound) {
			return fault.NotFoundf("User %s is not a member of permission group %s.", userID, groupID)
		}
		if err != nil {
			return err
		}
		return tx.Delete(ctx, KindMemberUser, userID+"/"+groupID)
	})
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
func (s *Service) ListGroupMembers(ctx context.Context, a *Actor, groupID string, after *store.Cursor, limit int) (Page[UserInGroup], error) {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return Page[UserInGroup]{}, err
	}
	var page Page[UserInGroup]
	err := s.db.View(ctx, func(tx store.Tx) error {
		if _, _, err := groupTx(ctx, tx, a.EnvironmentID, groupID); err != nil {
			return err
		}
		var err error
		page, err = listPage(ctx, tx, store.Query{Kind: KindMemberGroup, Parent: groupID, After: after}, limit, func(rec *store.Record) (UserInGroup, error) {
			var m Membership
			if err := json.Unmarshal(rec.Data, &m); err != nil {
				return UserInGroup{}, err
			}
			u, _, err := userTx(ctx, tx, a.EnvironmentID, m.UserID)
			return UserInGroup{User: u, Membership: m.Status}, err
		})
		return err
	})
	return page, err
}

// ListUserGroups pages through the groups of a user.
func (s *Service) ListUserGroups(ctx context.Context, a *Actor, userID string, after *store.Cursor, limit int) (Page[GroupOfUser], error) {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return Page[GroupOfUser]{}, err
	}
	var page Page[GroupOfUser]
	err := s.db.View(ctx, func(tx store.Tx) error {
		if _, _, err := userTx(ctx, tx, a.EnvironmentID, userID); err != nil {
			return err
		}
		var err error
		page, err = listPage(ctx, tx, store.Query{Kind: KindMemberUser, Parent: userID, After: after}, limit, func(rec *store.Record) (GroupOfUser, error) {
			var m Membership
			if err := json.Unmarshal(rec.Data, &m); err != nil {
				return GroupOfUser{}, err
			}
			g, _, err := groupTx(ctx, tx, a.EnvironmentID, m.GroupID)
			return GroupOfUser{Group: g, Membership: m.Status}, err
		})
		return err
	})
	return page, err
}
