package identity

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/environment"
	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/store"
)

// Actor is the FinSpace user a finspace-data request acts as, with the
// application permissions of their groups.
type Actor struct {
	EnvironmentID string
	Region        string
	User          *User
	Groups        []string // ids of the groups the user belongs to
	perms         map[string]bool
}

// IsSuper reports whether the actor is a SUPER_USER.
func (a *Actor) IsSuper() bool { return a.User != nil && a.User.Type == SuperUser }

// Has reports whether the actor holds an application permission.
func (a *Actor) Has(perm string) bool { return a.IsSuper() || a.perms[perm] }

func (a *Actor) require(perm string) error {
	if a.Has(perm) {
		return nil
	}
	return fault.Deniedf("User %s is not authorized: the action requires the %s permission.", a.User.ID, perm)
}

// Require returns an AccessDenied fault unless the actor holds perm.
func (a *Actor) Require(perm string) error { return a.require(perm) }

// maxEnvironmentScan bounds the search for "the only environment".
const maxEnvironmentScan = 1000

// ResolveActor maps an authenticated caller to the FinSpace user it acts as:
//   - a FinSpace user's programmatic credentials act as that user;
//   - root credentials act as the superuser of the region's only active
//     environment;
//   - an IAM role session acts as the user of the region's only active
//     environment whose apiAccessPrincipalArn is that role.
//
// Otherwise AccessDenied says to use GetProgrammaticAccessCredentials. A
// disabled user, or a user of an environment that is not CREATED, is refused
// on every request, whatever credentials were issued before.
func (s *Service) ResolveActor(ctx context.Context, c auth.Caller) (*Actor, error) {
	var a *Actor
	err := s.db.View(ctx, func(tx store.Tx) error {
		var env environment.State
		var user *User
		var err error
		p := c.Principal
		switch p.Kind {
		case auth.FinSpaceUser:
			env, err = s.activeEnvironmentTx(ctx, tx, c.Region, p.EnvironmentID)
			if err != nil {
				return err
			}
			user, _, err = s.users.GetIn(ctx, tx, env.ID, p.UserID)
			if fault.KindOf(err) == fault.NotFound {
				return fault.Deniedf("The user of these credentials no longer exists.")
			}
		case auth.Root, auth.AssumedRole:
			env, err = s.onlyEnvironmentTx(ctx, tx, c.Region)
			if err != nil {
				return err
			}
			if p.Kind == auth.Root {
				user, err = s.superuserTx(ctx, tx, env)
			} else {
				user, err = s.userByRoleTx(ctx, tx, env.ID, p.RoleARN)
			}
		default:
			return fault.Deniedf("These credentials cannot call FinSpace Data APIs.")
		}
		if err != nil {
			return err
		}
		a, err = s.actorTx(ctx, tx, env, c.Region, user)
		return err
	})
	return a, err
}

// Live reports whether p, a FinSpace user's programmatic credentials,
// may still act in region: its environment is CREATED there and its user
// exists and is enabled. The authorization model (package authz) asks on
// every request those credentials sign, on every API, so that disabling
// the user or deleting the environment cuts them off at once.
func (s *Service) Live(ctx context.Context, p auth.Principal, region string) error {
	if p.Kind != auth.FinSpaceUser {
		return nil
	}
	return s.db.View(ctx, func(tx store.Tx) error {
		env, err := s.activeEnvironmentTx(ctx, tx, region, p.EnvironmentID)
		if err != nil {
			return err
		}
		st, err := s.states.GetIn(ctx, tx, env.ID, p.UserID)
		if errors.Is(err, store.ErrNotFound) {
			return fault.Deniedf("The user of these credentials no longer exists.")
		}
		if err != nil {
			return err
		}
		if st.Status != StatusEnabled {
			return fault.Deniedf("User %s is disabled.", p.UserID)
		}
		return nil
	})
}

func (s *Service) actorTx(ctx context.Context, tx store.Tx, env environment.State, region string, u *User) (*Actor, error) {
	if u.Status != StatusEnabled {
		return nil, fault.Deniedf("User %s is disabled.", u.ID)
	}
	a := &Actor{EnvironmentID: env.ID, Region: region, User: u, perms: map[string]bool{}}
	members, err := s.byUser.List(ctx, tx, store.Query{Parent: u.ID})
	if err != nil {
		return nil, err
	}
	for _, m := range members {
		g, _, err := s.groups.GetIn(ctx, tx, env.ID, m.GroupID)
		if fault.KindOf(err) == fault.NotFound {
			continue
		}
		if err != nil {
			return nil, err
		}
		a.Groups = append(a.Groups, m.GroupID)
		for _, p := range g.Permissions {
			a.perms[p] = true
		}
	}
	return a, nil
}

// activeEnvironmentTx returns environment id if it is CREATED.
func (s *Service) activeEnvironmentTx(ctx context.Context, tx store.Tx, region, id string) (environment.State, error) {
	env, err := s.envs.StateTx(ctx, tx, region, id)
	if fault.KindOf(err) == fault.NotFound {
		return env, fault.Deniedf("The environment %s does not exist in %s.", id, region)
	}
	if err != nil {
		return env, err
	}
	if env.Status != environment.Created {
		return env, fault.Deniedf("The environment %s is %s.", id, env.Status)
	}
	return env, nil
}

// onlyEnvironmentTx returns the region's only CREATED environment.
func (s *Service) onlyEnvironmentTx(ctx context.Context, tx store.Tx, region string) (environment.State, error) {
	envs, err := s.envs.ListStatesTx(ctx, tx, region, maxEnvironmentScan)
	if err != nil {
		return environment.State{}, err
	}
	var active []environment.State
	for _, e := range envs {
		if e.Status == environment.Created {
			active = append(active, e)
		}
	}
	if len(active) != 1 {
		return environment.State{}, fault.Deniedf("These credentials act for a FinSpace user only where the region has exactly one active environment (it has %d): call GetProgrammaticAccessCredentials with the environmentId and use the credentials it returns.", len(active))
	}
	return active[0], nil
}

func (t *tables) superuserTx(ctx context.Context, tx store.Tx, env environment.State) (*User, error) {
	id, err := t.users.KeyOwner(ctx, tx, "email", env.ID, strings.ToLower(superuserEmail(env.ID, env.SuperuserEmail)))
	if errors.Is(err, store.ErrNotFound) {
		return nil, fault.Deniedf("The environment %s has no superuser yet.", env.ID)
	}
	if err != nil {
		return nil, err
	}
	u, _, err := t.users.GetIn(ctx, tx, env.ID, id)
	return u, err
}

func (t *tables) userByRoleTx(ctx context.Context, tx store.Tx, env, roleARN string) (*User, error) {
	q := store.Query{Parent: env}
	for {
		page, err := t.users.Page(ctx, tx, q, 500)
		if err != nil {
			return nil, err
		}
		for _, u := range page.Items {
			if roleARN != "" && u.APIAccessPrincipalARN == roleARN {
				if u.APIAccess != APIAccessEnabled {
					return nil, fault.Deniedf("User %s does not have API access enabled.", u.ID)
				}
				return u, nil
			}
		}
		if page.Next == nil {
			return nil, fault.Deniedf("No FinSpace user of environment %s has %s as apiAccessPrincipalArn.", env, roleARN)
		}
		q.After = page.Next
	}
}

// MayOnDataset reports whether the actor holds a dataset permission on
// dataset (through one of its groups); superusers hold them all.
func (s *Service) MayOnDataset(ctx context.Context, a *Actor, dataset, perm string) (bool, error) {
	if a.IsSuper() {
		return true, nil
	}
	ok := false
	err := s.db.View(ctx, func(tx store.Tx) error {
		for _, g := range a.Groups {
			grant, _, err := s.grants.Get(ctx, tx, dataset+"/"+g)
			if errors.Is(err, store.ErrNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			if slices.Contains(grant.Permissions, perm) {
				ok = true
				return nil
			}
		}
		return nil
	})
	return ok, err
}

// datasetGrant is the dataset permissions of a group on a dataset.
type datasetGrant struct {
	dataset, group string   // from the record ID
	Permissions    []string `json:"permissions"`
}

func (g *datasetGrant) Clone() *datasetGrant {
	c := *g
	c.Permissions = slices.Clone(g.Permissions)
	return &c
}

// GrantDatasetTx gives group the dataset permissions on dataset, replacing
// earlier grants of that group on that dataset.
func GrantDatasetTx(ctx context.Context, tx store.Tx, env, dataset, group string, perms []string) error {
	t := &uncached
	if _, _, err := t.groups.GetIn(ctx, tx, env, group); err != nil {
		return err
	}
	grant := &datasetGrant{dataset: dataset, group: group, Permissions: perms}
	_, version, err := t.grants.Get(ctx, tx, dataset+"/"+group)
	if errors.Is(err, store.ErrNotFound) {
		return t.grants.Insert(ctx, tx, grant)
	}
	if err != nil {
		return err
	}
	return t.grants.Update(ctx, tx, grant, version)
}

// RevokeDatasetTx removes every group's grants on dataset (of environment
// env), in tx: the dataset is being deleted.
func RevokeDatasetTx(ctx context.Context, tx store.Tx, env, dataset string) error {
	t := &uncached
	groups, err := t.groups.List(ctx, tx, store.Query{Parent: env})
	if err != nil {
		return err
	}
	for _, g := range groups {
		if err := t.grants.Delete(ctx, tx, dataset+"/"+g.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}
