package identity

import (
	"context"
	"encoding/json"
	"errors"
	"strings"

	"github.com/openfinspace/openfinspace/internal/environment"
	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/ids"
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

func emailKey(env, email string) string { return env + "/" + strings.ToLower(email) }

func (s *Service) insertUserTx(ctx context.Context, tx store.Tx, u *User) error {
	claim := &store.Record{Kind: KindEmail, ID: emailKey(u.EnvironmentID, u.Email), Parent: u.EnvironmentID, SortKey: u.ID, Data: []byte(`"` + u.ID + `"`)}
	if err := tx.Insert(ctx, claim); errors.Is(err, store.ErrExists) {
		return fault.Conflictf("A user with this email address already exists in the environment.")
	} else if err != nil {
		return err
	}
	return put(ctx, tx, &store.Record{Kind: KindUser, ID: u.ID, Parent: u.EnvironmentID, SortKey: sortKey(u.CreatedAt, u.ID)}, u, true)
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
	now := s.Now().UTC()
	u := &User{ID: ids.Base62(22), EnvironmentID: a.EnvironmentID, Email: in.Email, Status: StatusEnabled,
		CreatedAt: now, ModifiedAt: now, EnabledAt: now}
	if err := apply(u, in); err != nil {
		return nil, err
	}
	err := s.db.Update(ctx, func(tx store.Tx) error { return s.insertUserTx(ctx, tx, u) })
	return u, err
}

// CreateSuperuserTx is the environment hook that creates the superuser from
// CreateEnvironment's superuserParameters (or a default one) when an
// environment becomes CREATED. It is idempotent.
func (s *Service) CreateSuperuserTx(ctx context.Context, tx store.Tx, env *environment.Environment) error {
	su := env.Superuser
	if su == nil {
		su = &environment.Superuser{EmailAddress: "superuser@" + env.ID + ".openfinspace.local", FirstName: "Super", LastName: "User"}
	}
	if _, err := tx.Get(ctx, KindEmail, emailKey(env.ID, su.EmailAddress)); err == nil {
		return nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	now := s.Now().UTC()
	u := &User{ID: ids.Base62(22), EnvironmentID: env.ID, Email: su.EmailAddress, Type: SuperUser,
		FirstName: su.FirstName, LastName: su.LastName, Status: StatusEnabled, APIAccess: APIAccessEnabled,
		CreatedAt: now, ModifiedAt: now, EnabledAt: now}
	return s.insertUserTx(ctx, tx, u)
}

// GetUser returns a user of the actor's environment.
func (s *Service) GetUser(ctx context.Context, a *Actor, id string) (*User, error) {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return nil, err
	}
	var u *User
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		u, _, err = userTx(ctx, tx, a.EnvironmentID, id)
		return err
	})
	return u, err
}

// ListUsers pages through the actor's environment's users, oldest first.
func (s *Service) ListUsers(ctx context.Context, a *Actor, after *store.Cursor, limit int) (Page[*User], error) {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return Page[*User]{}, err
	}
	var page Page[*User]
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		page, err = listPage(ctx, tx, store.Query{Kind: KindUser, Parent: a.EnvironmentID, After: after}, limit, decodeUser)
		return err
	})
	return page, err
}

func decodeUser(rec *store.Record) (*User, error) {
	var u User
	err := json.Unmarshal(rec.Data, &u)
	return &u, err
}

// modifyUser runs change on a user of the actor's environment and saves it.
func (s *Service) modifyUser(ctx context.Context, a *Actor, id string, change func(*User) error) (*User, error) {
	if err := a.require(PermManageUsersAndGroups); err != nil {
		return nil, err
	}
	var u *User
	err := s.db.Update(ctx, func(tx store.Tx) error {
		var rec *store.Record
		var err error
		u, rec, err = userTx(ctx, tx, a.EnvironmentID, id)
		if err != nil {
			return err
		}
		if err := change(u); err != nil {
			return err
		}
		u.ModifiedAt = s.Now().UTC()
		return put(ctx, tx, rec, u, false)
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
			u.Status, u.DisabledAt = StatusDisabled, s.Now().UTC()
		}
		return nil
	})
}

// EnableUser enables a disabled user.
func (s *Service) EnableUser(ctx context.Context, a *Actor, id string) (*User, error) {
	return s.modifyUser(ctx, a, id, func(u *User) error {
		if u.Status != StatusEnabled {
			u.Status, u.EnabledAt = StatusEnabled, s.Now().UTC()
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
		pw, p = newTemporaryPassword(s.Now().UTC())
		u.Password = p
		return nil
	})
	return u, pw, err
}

// CheckPassword reports whether password is user id's current password.
func (s *Service) CheckPassword(ctx context.Context, env, id, password string) (bool, error) {
	var ok bool
	err := s.db.View(ctx, func(tx store.Tx) error {
		u, _, err := userTx(ctx, tx, env, id)
		if err != nil {
			return err
		}
		ok = u.Password.Matches(password, s.Now())
		return nil
	})
	return ok, err
}
