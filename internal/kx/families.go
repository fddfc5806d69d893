package kx

import (
	"context"

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

// familyExists resolves a tag ARN kxEnvironment/<env>/<type>/<name> of a
// registered family.
func (s *Service) familyExists(ctx context.Context, tx store.Tx, a tagging.ARN) (bool, error) {
	for _, f := range s.families {
		if f.ARNType == a.Resource[1] {
			return f.Exists(ctx, tx, a.Region, a.Resource[0], a.Resource[2])
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
