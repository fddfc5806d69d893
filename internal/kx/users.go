package kx

import (
	"context"
	"errors"
	"time"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/tagging"
)

// UserKind is the store record kind of kx users (Parent = environment id,
// ID = "<environment id>/<user name>").
const UserKind = "kxUser"

// User is a kx user: a name bound to an IAM role.
type User struct {
	Environment string    `json:"environment"`
	Region      string    `json:"region"`
	Name        string    `json:"name"`
	ARN         string    `json:"arn"`
	IAMRole     string    `json:"iamRole"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// Clone returns a copy of u.
func (u *User) Clone() *User { c := *u; return &c }

func userID(env, name string) string { return env + "/" + name }

func newUserTable() *store.Table[User, *User] {
	return store.NewTable(store.TableDef[User, *User]{
		Kind:   UserKind,
		ID:     func(u *User) string { return userID(u.Environment, u.Name) },
		Parent: func(u *User) string { return u.Environment },
		NotFound: func(id string) error {
			f := fault.NotFoundf("The user %s does not exist.", id)
			f.Err = store.ErrNotFound
			return f
		},
		Conflict: func(id string) error {
			return fault.Conflictf("The user %s was changed by another request; retry.", id)
		},
	})
}

func userNotFound(env, name string) error {
	f := fault.NotFoundf("The user %s does not exist in environment %s.", name, env)
	f.Err = store.ErrNotFound
	return f
}

// CreateUser adds kx user name with role to environment env.
func (s *Service) CreateUser(ctx context.Context, region, env, name, role string, tags map[string]string) (*User, error) {
	var u *User
	err := s.db.Update(ctx, func(tx store.Tx) error {
		e, err := s.liveEnvTx(ctx, tx, region, env)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		u = &User{Environment: env, Region: region, Name: name, ARN: e.ARN + "/kxUser/" + name,
			IAMRole: role, CreatedAt: now, UpdatedAt: now}
		if err := s.users.Insert(ctx, tx, u); err != nil {
			if errors.Is(err, store.ErrExists) {
				return fault.Conflictf("A user named %s already exists in environment %s.", name, env)
			}
			return err
		}
		if err := tagging.PutTx(ctx, tx, u.ARN, tags); err != nil {
			return err
		}
		return s.tokens.CommitTx(ctx, tx)
	})
	return u, err
}

// userTx reads user name of environment env in region.
func (s *Service) userTx(ctx context.Context, tx store.Tx, region, env, name string) (*User, int64, error) {
	if _, _, err := s.envs.GetIn(ctx, tx, region, env); err != nil {
		return nil, 0, err
	}
	u, version, err := s.users.GetIn(ctx, tx, env, userID(env, name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, userNotFound(env, name)
	}
	return u, version, err
}

// GetUser returns kx user name of environment env.
func (s *Service) GetUser(ctx context.Context, region, env, name string) (*User, error) {
	var u *User
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		u, _, err = s.userTx(ctx, tx, region, env, name)
		return err
	})
	return u, err
}

// ListUsers returns one page of environment env's users, by name.
func (s *Service) ListUsers(ctx context.Context, region, env string, after *store.Cursor, limit int) (paging.Page[*User], error) {
	var page paging.Page[*User]
	err := s.db.View(ctx, func(tx store.Tx) error {
		if _, _, err := s.envs.GetIn(ctx, tx, region, env); err != nil {
			return err
		}
		var err error
		page, err = s.users.Page(ctx, tx, store.Query{Parent: env, After: after}, limit)
		return err
	})
	return page, err
}

// UpdateUser replaces the IAM role of kx user name.
func (s *Service) UpdateUser(ctx context.Context, region, env, name, role string) (*User, error) {
	var u *User
	err := s.db.Update(ctx, func(tx store.Tx) error {
		if _, err := s.liveEnvTx(ctx, tx, region, env); err != nil {
			return err
		}
		var version int64
		var err error
		u, version, err = s.userTx(ctx, tx, region, env, name)
		if err != nil {
			return err
		}
		u.IAMRole, u.UpdatedAt = role, s.now().UTC()
		if err := s.users.Update(ctx, tx, u, version); err != nil {
			return err
		}
		return s.tokens.CommitTx(ctx, tx)
	})
	return u, err
}

// DeleteUser removes kx user name and its tags.
func (s *Service) DeleteUser(ctx context.Context, region, env, name string) error {
	return s.db.Update(ctx, func(tx store.Tx) error {
		if _, err := s.liveEnvTx(ctx, tx, region, env); err != nil {
			return err
		}
		u, _, err := s.userTx(ctx, tx, region, env, name)
		if err != nil {
			return err
		}
		if err := s.users.Delete(ctx, tx, userID(env, name)); err != nil {
			return err
		}
		if err := tagging.DeleteTx(ctx, tx, u.ARN); err != nil {
			return err
		}
		return s.tokens.CommitTx(ctx, tx)
	})
}

// deleteUsersTx removes every user of env (when env becomes DELETED).
func (s *Service) deleteUsersTx(ctx context.Context, tx store.Tx, env *Environment) error {
	for {
		page, err := s.users.Page(ctx, tx, store.Query{Parent: env.ID}, 200)
		if err != nil {
			return err
		}
		for _, u := range page.Items {
			if err := s.users.Delete(ctx, tx, userID(u.Environment, u.Name)); err != nil {
				return err
			}
			if err := tagging.DeleteTx(ctx, tx, u.ARN); err != nil {
				return err
			}
		}
		if page.Next == nil {
			return nil
		}
	}
}
