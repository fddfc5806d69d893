// Package users is the kx users family: names bound to an IAM role in a
// kx environment (CreateKxUser, GetKxUser, ListKxUsers, UpdateKxUser,
// DeleteKxUser), ARN …:kxEnvironment/<env>/kxUser/<name>. Written on
// package resource and registered with kx.Service as a kx.Family (tags
// on its ARNs; the environment's deletion removes its users).
package users

import (
	"context"
	"time"

	"github.com/openfinspace/openfinspace/internal/kx"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/resource"
	"github.com/openfinspace/openfinspace/internal/store"
)

// Kind is the store record kind of kx users and their ARNs' resource type
// (record ID "<environment id>/<user name>", Parent the environment id).
const Kind = "kxUser"

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

// Service implements the kx user operations.
type Service struct {
	kx    *kx.Service
	m     resource.Mutator
	now   func() time.Time
	users *resource.Scoped[User, *User]
}

// New returns the service and registers the family with kxs.
func New(kxs *kx.Service, m resource.Mutator, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	s := &Service{kx: kxs, m: m, now: now, users: resource.NewScoped(resource.Def[User, *User]{Kind: Kind, Noun: "user",
		ParentNoun: "environment", Parent: func(u *User) string { return u.Environment }, Name: func(u *User) string { return u.Name }})}
	kxs.Register(kx.Family{ARNType: Kind, Exists: s.exists, DeleteAll: func(ctx context.Context, tx store.Tx, env *kx.Environment) error {
		return s.users.Each(ctx, tx, env.ID, func(u *User) error { return s.users.DeleteTagged(ctx, tx, u, u.ARN) })
	}})
	return s
}

// Create adds kx user name with role to environment env.
func (s *Service) Create(ctx context.Context, region, env, name, role string, tags map[string]string) (*User, error) {
	var u *User
	err := s.m.Mutate(ctx, func(tx *resource.Tx) error {
		e, err := s.kx.LiveEnvironmentTx(ctx, tx, region, env)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		u = &User{Environment: env, Region: region, Name: name, ARN: e.ARN + "/" + Kind + "/" + name, IAMRole: role, CreatedAt: now, UpdatedAt: now}
		return s.users.InsertTagged(ctx, tx, u, u.ARN, tags)
	})
	return u, err
}

// Get returns kx user name of environment env.
func (s *Service) Get(ctx context.Context, region, env, name string) (*User, error) {
	var u *User
	err := s.m.View(ctx, func(tx store.Tx) error {
		if _, err := s.kx.EnvironmentTx(ctx, tx, region, env); err != nil {
			return err
		}
		var err error
		u, _, err = s.users.Get(ctx, tx, env, name)
		return err
	})
	return u, err
}

// List returns one page of environment env's users, by name.
func (s *Service) List(ctx context.Context, region, env string, after *store.Cursor, limit int) (paging.Page[*User], error) {
	var page paging.Page[*User]
	err := s.m.View(ctx, func(tx store.Tx) error {
		if _, err := s.kx.EnvironmentTx(ctx, tx, region, env); err != nil {
			return err
		}
		var err error
		page, err = s.users.List(ctx, tx, env, after, limit)
		return err
	})
	return page, err
}

// Update replaces the IAM role of kx user name.
func (s *Service) Update(ctx context.Context, region, env, name, role string) (*User, error) {
	var u *User
	err := s.m.Mutate(ctx, func(tx *resource.Tx) error {
		if _, err := s.kx.LiveEnvironmentTx(ctx, tx, region, env); err != nil {
			return err
		}
		var version int64
		var err error
		if u, version, err = s.users.Get(ctx, tx, env, name); err != nil {
			return err
		}
		u.IAMRole, u.UpdatedAt = role, s.now().UTC()
		return s.users.Update(ctx, tx, u, version)
	})
	return u, err
}

// Delete removes kx user name and its tags.
func (s *Service) Delete(ctx context.Context, region, env, name string) error {
	return s.m.Mutate(ctx, func(tx *resource.Tx) error {
		if _, err := s.kx.LiveEnvironmentTx(ctx, tx, region, env); err != nil {
			return err
		}
		u, _, err := s.users.Get(ctx, tx, env, name)
		if err != nil {
			return err
		}
		return s.users.DeleteTagged(ctx, tx, u, u.ARN)
	})
}

func (s *Service) exists(ctx context.Context, tx store.Tx, region, env, name string) (bool, error) {
	return s.users.Exists(ctx, tx, env, name, func(u *User) bool { return u.Region == region })
}
