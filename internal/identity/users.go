package identity

import (
	"context"
	"errors"
	"strings"

	"github.com/openfinspace/openfinspace/internal/environment"
	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/ids"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/store"
)

// UserInput is what CreateUser and UpdateUser carry; nil leaves a field.
type UserInput struct {
	Email                 string // create only
	Type                  *string
	FirstName, LastName   *string
	APIAccess             *string
	APIAccessPrincipalARN *string
}

func apply(u *User, in UserInput) error {
	if in.Type != nil {
		u.Type = *in.Type
	}
	if in.FirstName != nil {
		u.FirstName = *in.FirstName
	}
	if in.LastName != nil {
		u.LastName = *in.LastName
	}
	if in.APIAccess != nil {
		u.APIAccess = *in.APIAccess
	}
	if in.APIAccessPrincipalARN != nil {
		u.APIAccessPrincipalARN = *in.APIAccessPrincipalARN
	}
	if u.APIAccess == "" {
		u.APIAccess = APIAccessDisabled
	}
	return nil
}

// CreateUser adds a user to the actor's environment.
func (s *Service) CreateUser(ctx context.Context, a *Actor, in UserInput) (*User, error) {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return nil, err
	}
	now := s.now().UTC()
	u := &User{ID: ids.Base62(22), EnvironmentID: a.EnvironmentID, Email: in.Email, Status: StatusEnabled,
		CreatedAt: now, ModifiedAt: now, EnabledAt: now}
	if err := apply(u, in); err != nil {
		return nil, err
	}
	err := s.db.Update(ctx, func(tx store.Tx) error {
		if err := s.users.Insert(ctx, tx, u); err != nil {
			return err
		}
		return s.tokens.CommitTx(ctx, tx)
	})
	return u, err
}

// CreateSuperuserTx is the environment hook that creates the superuser from
// CreateEnvironment's superuserParameters (or a default one) when an
// environment becomes CREATED. It is idempotent.
func (s *Service) CreateSuperuserTx(ctx context.Context, tx store.Tx, env *environment.Environment) error {
	su := env.Superuser
	if su == nil {
		su = &environment.Superuser{EmailAddress: superuserEmail(env.ID, ""), FirstName: "Super", LastName: "User"}
	}
	if _, err := s.users.KeyOwner(ctx, tx, "email", env.ID, strings.ToLower(su.EmailAddress)); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	now := s.now().UTC()
	u := &User{ID: ids.Base62(22), EnvironmentID: env.ID, Email: su.EmailAddress, Type: SuperUser,
		FirstName: su.FirstName, LastName: su.LastName, Status: StatusEnabled, APIAccess: APIAccessEnabled,
		CreatedAt: now, ModifiedAt: now, EnabledAt: now}
	return s.users.Insert(ctx, tx, u)
}

// superuserEmail is the email address of env's superuser: given, or the
// default one when CreateEnvironment named none.
func superuserEmail(env, given string) string {
	if given != "" {
		return given
	}
	return "superuser@" + env + ".openfinspace.local"
}

// GetUser returns a user of the actor's environment.
func (s *Service) GetUser(ctx context.Context, a *Actor, id string) (*User, error) {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return nil, err
	}
	var u *User
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		u, _, err = s.users.GetIn(ctx, tx, a.EnvironmentID, id)
		return err
	})
	return u, err
}

// ListUsers pages through the actor's environment's users, oldest first.
func (s *Service) ListUsers(ctx context.Context, a *Actor, after *store.Cursor, limit int) (paging.Page[*User], error) {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return paging.Page[*User]{}, err
	}
	var page paging.Page[*User]
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		page, err = s.users.Page(ctx, tx, store.Query{Parent: a.EnvironmentID, After: after}, limit)
		return err
	})
	return page, err
}

// modifyUser runs change on a user of the actor's environment and saves it
// (the commit of UpdateUser, DisableUser, EnableUser, ResetUserPassword).
func (s *Service) modifyUser(ctx context.Context, a *Actor, id string, change func(*User) error) (*User, error) {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return nil, err
	}
	var u *User
	err := s.db.Update(ctx, func(tx store.Tx) error {
		var version int64
		var err error
		u, version, err = s.users.GetIn(ctx, tx, a.EnvironmentID, id)
		if err != nil {
			return err
		}
		if err := change(u); err != nil {
			return err
		}
		u.ModifiedAt = s.now().UTC()
		if err := s.users.Update(ctx, tx, u, version); err != nil {
			return err
		}
		return s.tokens.CommitTx(ctx, tx)
	})
	return u, err
}

// UpdateUser changes a user's type, names or API access.
func (s *Service) UpdateUser(ctx context.Context, a *Actor, id string, in UserInput) (*User, error) {
	return s.modifyUser(ctx, a, id, func(u *User) error { return apply(u, in) })
}

// DisableUser disables a user: their credentials are refused from now on,
// including ones issued before.
func (s *Service) DisableUser(ctx context.Context, a *Actor, id string) (*User, error) {
	return s.modifyUser(ctx, a, id, func(u *User) error {
		if a.User != nil && a.User.ID == u.ID {
			return fault.Invalidf("A user cannot disable themselves.")
		}
		if u.Status != StatusDisabled {
			u.Status, u.DisabledAt = StatusDisabled, s.now().UTC()
		}
		return nil
	})
}

// EnableUser enables a disabled user.
func (s *Service) EnableUser(ctx context.Context, a *Actor, id string) (*User, error) {
	return s.modifyUser(ctx, a, id, func(u *User) error {
		if u.Status != StatusEnabled {
			u.Status, u.EnabledAt = StatusEnabled, s.now().UTC()
		}
		return nil
	})
}

// ResetUserPassword gives a user a new random temporary password, valid 7
// days; the previous password stops working at once. Only the hash is kept.
func (s *Service) ResetUserPassword(ctx context.Context, a *Actor, id string) (*User, string, error) {
	var pw string
	u, err := s.modifyUser(ctx, a, id, func(u *User) error {
		var p *Password
		pw, p = newTemporaryPassword(s.now().UTC())
		u.Password = p
		return nil
	})
	return u, pw, err
}

// CheckPassword reports whether password is user id's current password.
func (s *Service) CheckPassword(ctx context.Context, env, id, password string) (bool, error) {
	var ok bool
	err := s.db.View(ctx, func(tx store.Tx) error {
		u, _, err := s.users.GetIn(ctx, tx, env, id)
		if err != nil {
			return err
		}
		ok = u.Password.Matches(password, s.now())
		return nil
	})
	return ok, err
}
