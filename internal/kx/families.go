package kx

import (
	"context"
	"errors"

	"github.com/openfinspace/openfinspace/internal/fault"

	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/tagging"
)

// Family is a kind of resource a kx environment holds, kept by a package
// of its own (kx/scaling, …) and registered with the Service, which asks
// every registered family, never one by name: whether an ARN's resource
// exists (tags), whether the environment may be deleted, and to remove
// what it holds once the environment is DELETED.
type Family struct {
	// ARNType is the resource type in the family's ARNs, after the
	// environment ("kxScalingGroup" in …:kxEnvironment/<env>/kxScalingGroup/<name>).
	ARNType string
	// Exists reports whether name exists in environment env of region
	// (tag operations on its ARN).
	Exists func(ctx context.Context, tx store.Tx, region, env, name string) (bool, error)
	// BlocksDelete, when set, refuses the environment's deletion with a
	// client-safe error while the family holds what must go first.
	BlocksDelete func(ctx context.Context, tx store.Tx, env *Environment) error
	// DeleteAll, when set, removes everything the family holds in env,
	// when env becomes DELETED.
	DeleteAll func(ctx context.Context, tx store.Tx, env *Environment) error
	// BlocksDatabaseDelete, when set, refuses database db's deletion with
	// a client-safe error while the family holds what belongs to it.
	BlocksDatabaseDelete func(ctx context.Context, tx store.Tx, env, db string) error
	// ChangesetCompleted, when set, is told in the transaction that
	// completes it that changeset is database db's latest version.
	ChangesetCompleted func(ctx context.Context, tx store.Tx, env, db, changeset string) error
}

// Register adds a family. Call before serving.
func (s *Service) Register(f Family) { s.families = append(s.families, f) }

// LiveEnvironmentTx reads kx environment id of region for an operation on
// what it holds: not found when absent; a ValidationException naming its
// status when it is being deleted or gone, as the real service answered.
func (s *Service) LiveEnvironmentTx(ctx context.Context, tx store.Tx, region, id string) (*Environment, error) {
	return s.liveEnvTx(ctx, tx, region, id)
}

// EnvironmentTx reads kx environment id of region, whatever its status
// (reads of what it holds).
func (s *Service) EnvironmentTx(ctx context.Context, tx store.Tx, region, id string) (*Environment, error) {
	env, _, err := s.envs.GetIn(ctx, tx, region, id)
	return env, err
}

// familyExists resolves a tag ARN of a registered family:
// kxEnvironment/<env>/<type>/<name>, or for what belongs to a database
// kxEnvironment/<env>/kxDatabase/<db>/<type>/<name> (name "<db>/<name>").
func (s *Service) familyExists(ctx context.Context, tx store.Tx, a tagging.ARN) (bool, error) {
	typ, name := a.Resource[1], a.Resource[2]
	if len(a.Resource) == 5 {
		if a.Resource[1] != "kxDatabase" {
			return false, nil
		}
		typ, name = a.Resource[3], a.Resource[2]+"/"+a.Resource[4]
	}
	for _, f := range s.families {
		if f.ARNType == typ {
			return f.Exists(ctx, tx, a.Region, a.Resource[0], name)
		}
	}
	return false, nil
}

// familiesBlockDeleteTx asks every family whether env may be deleted.
func (s *Service) familiesBlockDeleteTx(ctx context.Context, tx store.Tx, env *Environment) error {
	for _, f := range s.families {
		if f.BlocksDelete != nil {
			if err := f.BlocksDelete(ctx, tx, env); err != nil {
				return err
			}
		}
	}
	return nil
}

// familiesBlockDatabaseDeleteTx asks every family whether database db of
// env may be deleted.
func (s *Service) familiesBlockDatabaseDeleteTx(ctx context.Context, tx store.Tx, env, db string) error {
	for _, f := range s.families {
		if f.BlocksDatabaseDelete != nil {
			if err := f.BlocksDatabaseDelete(ctx, tx, env, db); err != nil {
				return err
			}
		}
	}
	return nil
}

// familiesChangesetCompletedTx tells every family that changeset is
// database db's latest.
func (s *Service) familiesChangesetCompletedTx(ctx context.Context, tx store.Tx, env, db, changeset string) error {
	for _, f := range s.families {
		if f.ChangesetCompleted != nil {
			if err := f.ChangesetCompleted(ctx, tx, env, db, changeset); err != nil {
				return err
			}
		}
	}
	return nil
}

// familiesDeleteAllTx has every family remove what it holds in env.
func (s *Service) familiesDeleteAllTx(ctx context.Context, tx store.Tx, env *Environment) error {
	for _, f := range s.families {
		if f.DeleteAll != nil {
			if err := f.DeleteAll(ctx, tx, env); err != nil {
				return err
			}
		}
	}
	return nil
}

// DatabaseTx reads database name of environment env in region (a family
// whose resources belong to a database reads it so).
func (s *Service) DatabaseTx(ctx context.Context, tx store.Tx, region, env, name string) (*Database, error) {
	d, _, err := s.databaseTx(ctx, tx, region, env, name)
	return d, err
}

// CompletedChangesetTx checks that id is a COMPLETED changeset of
// database db of env (a ValidationException saying so otherwise).
func (s *Service) CompletedChangesetTx(ctx context.Context, tx store.Tx, env, db, id string) error {
	ch, _, err := s.changesets.GetIn(ctx, tx, changesetParent(env, db), changesetID(env, db, id))
	if errors.Is(err, store.ErrNotFound) || err == nil && ch.Status != ChangesetCompleted {
		return fault.Invalidf("The changeset %s is not a completed changeset of database %s.", id, db)
	}
	return err
}
