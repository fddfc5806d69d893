package kx

import (
	"context"
	"errors"
	"time"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/ids"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/tagging"
)

// DatabaseKind is the store record kind of kx databases (Parent =
// environment id, ID = "<environment id>/<database name>").
const DatabaseKind = "kxDatabase"

// Database is a kx database: a name, and the versions its completed
// changesets made. Its counters describe the last completed version.
type Database struct {
	Environment string `json:"environment"`
	Region      string `json:"region"`
	Name        string `json:"name"`
	// UID names this incarnation of the database in the content store
	// (manifests live under it), so a database deleted and created again
	// under the same name shares nothing but content with the first.
	UID         string    `json:"uid"`
	ARN         string    `json:"arn"`
	Description string    `json:"description,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	UpdatedAt   time.Time `json:"updatedAt"`
	// Changesets counts the changesets created (any status); it is each
	// changeset's Seq.
	Changesets int `json:"changesets"`
	// LastCompleted is the last COMPLETED changeset: its version is the
	// database's current one, described by NumBytes and NumFiles.
	LastCompleted string `json:"lastCompleted,omitempty"`
	NumBytes      int64  `json:"numBytes"`
	NumFiles      int    `json:"numFiles"`
}

// Clone returns a copy of d.
func (d *Database) Clone() *Database { c := *d; return &c }

func databaseID(env, name string) string { return env + "/" + name }

func newDatabaseTable() *store.Table[Database, *Database] {
	return store.NewTable(store.TableDef[Database, *Database]{
		Kind:   DatabaseKind,
		ID:     func(d *Database) string { return databaseID(d.Environment, d.Name) },
		Parent: func(d *Database) string { return d.Environment },
		NotFound: func(id string) error {
			f := fault.NotFoundf("The database %s does not exist.", id)
			f.Err = store.ErrNotFound
			return f
		},
		Conflict: func(id string) error {
			return fault.Conflictf("The database %s was changed by another request; retry.", id)
		},
	})
}

func databaseNotFound(env, name string) error {
	f := fault.NotFoundf("The database %s does not exist in environment %s.", name, env)
	f.Err = store.ErrNotFound
	return f
}

// usableEnvTx reads environment id for creating or changing what it holds:
// like liveEnvTx, and also refused while it is not created yet.
func (s *Service) usableEnvTx(ctx context.Context, tx store.Tx, region, id string) (*Environment, error) {
	env, err := s.liveEnvTx(ctx, tx, region, id)
	if err != nil {
		return nil, err
	}
	switch env.Status {
	case Created, UpdateNetworkRequested, UpdatingNetwork:
		return env, nil
	}
	return nil, fault.Invalidf("The Environment is in %s state.", env.Status)
}

// CreateDatabase adds database name to environment env.
func (s *Service) CreateDatabase(ctx context.Context, region, env, name, description string, tags map[string]string) (*Database, error) {
	var d *Database
	err := s.db.Update(ctx, func(tx store.Tx) error {
		e, err := s.usableEnvTx(ctx, tx, region, env)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		d = &Database{Environment: env, Region: region, Name: name, UID: ids.LowerAlnum(22),
			ARN: e.ARN + "/kxDatabase/" + name, Description: description, CreatedAt: now, UpdatedAt: now}
		if err := s.databases.Insert(ctx, tx, d); err != nil {
			if errors.Is(err, store.ErrExists) {
				return fault.Conflictf("A database named %s already exists in environment %s.", name, env)
			}
			return err
		}
		if err := tagging.PutTx(ctx, tx, d.ARN, tags); err != nil {
			return err
		}
		return s.tokens.CommitTx(ctx, tx)
	})
	return d, err
}

// databaseTx reads database name of environment env in region.
func (s *Service) databaseTx(ctx context.Context, tx store.Tx, region, env, name string) (*Database, int64, error) {
	if _, _, err := s.envs.GetIn(ctx, tx, region, env); err != nil {
		return nil, 0, err
	}
	d, version, err := s.databases.GetIn(ctx, tx, env, databaseID(env, name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, databaseNotFound(env, name)
	}
	return d, version, err
}

// GetDatabase returns database name of environment env.
func (s *Service) GetDatabase(ctx context.Context, region, env, name string) (*Database, error) {
	var d *Database
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		d, _, err = s.databaseTx(ctx, tx, region, env, name)
		return err
	})
	return d, err
}

// ListDatabases returns one page of environment env's databases, by name.
func (s *Service) ListDatabases(ctx context.Context, region, env string, after *store.Cursor, limit int) (paging.Page[*Database], error) {
	var page paging.Page[*Database]
	err := s.db.View(ctx, func(tx store.Tx) error {
		if _, _, err := s.envs.GetIn(ctx, tx, region, env); err != nil {
			return err
		}
		var err error
		page, err = s.databases.Page(ctx, tx, store.Query{Parent: env, After: after}, limit)
		return err
	})
	return page, err
}

// UpdateDatabase replaces the description of database name.
func (s *Service) UpdateDatabase(ctx context.Context, region, env, name, description string) (*Database, error) {
	var d *Database
	err := s.db.Update(ctx, func(tx store.Tx) error {
		if _, err := s.liveEnvTx(ctx, tx, region, env); err != nil {
			return err
		}
		var version int64
		var err error
		if d, version, err = s.databaseTx(ctx, tx, region, env, name); err != nil {
			return err
		}
		d.Description, d.UpdatedAt = description, s.now().UTC()
		if err := s.databases.Update(ctx, tx, d, version); err != nil {
			return err
		}
		return s.tokens.CommitTx(ctx, tx)
	})
	return d, err
}

// DeleteDatabase removes database name at once (Terraform does not wait),
// with its changesets and tags; a collection of the content store then
// removes the files no other database's version references.
func (s *Service) DeleteDatabase(ctx context.Context, region, env, name string) error {
	err := s.db.Update(ctx, func(tx store.Tx) error {
		if _, err := s.liveEnvTx(ctx, tx, region, env); err != nil {
			return err
		}
		d, _, err := s.databaseTx(ctx, tx, region, env, name)
		if err != nil {
			return err
		}
		if err := s.mountedTx(ctx, tx, env, name); err != nil {
			return err
		}
		if err := s.familiesBlockDatabaseDeleteTx(ctx, tx, env, name); err != nil {
			return err
		}
		if err := s.removeDatabaseTx(ctx, tx, d); err != nil {
			return err
		}
		return s.tokens.CommitTx(ctx, tx)
	})
	if err != nil {
		return err
	}
	s.jobs.Wake(CollectJobKind)
	return nil
}

// removeDatabaseTx deletes d, its changesets (cancelling their jobs) and
// tags, and schedules a collection of the content store.
func (s *Service) removeDatabaseTx(ctx context.Context, tx store.Tx, d *Database) error {
	now := s.now().UTC()
	parent := changesetParent(d.Environment, d.Name)
	for {
		page, err := s.changesets.Page(ctx, tx, store.Query{Parent: parent}, 200)
		if err != nil {
			return err
		}
		for _, c := range page.Items {
			for _, job := range []string{changesetJob(c), legacyChangesetJob(c)} {
				if err := jobs.CancelTx(ctx, tx, now, nil, job); err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
			}
			if err := s.changesets.Delete(ctx, tx, changesetID(d.Environment, d.Name, c.ID)); err != nil {
				return err
			}
		}
		if page.Next == nil {
			break
		}
	}
	if err := s.databases.Delete(ctx, tx, databaseID(d.Environment, d.Name)); err != nil {
		return err
	}
	if err := tagging.DeleteTx(ctx, tx, d.ARN); err != nil {
		return err
	}
	return s.enqueueCollectTx(ctx, tx, d.Region, now)
}

// deleteDatabasesTx removes every database of env (when env becomes
// DELETED).
func (s *Service) deleteDatabasesTx(ctx context.Context, tx store.Tx, env *Environment) error {
	for {
		page, err := s.databases.Page(ctx, tx, store.Query{Parent: env.ID}, 100)
		if err != nil {
			return err
		}
		for _, d := range page.Items {
			if err := s.removeDatabaseTx(ctx, tx, d); err != nil {
				return err
			}
		}
		if page.Next == nil {
			return nil
		}
	}
}

// databaseExistsTx resolves the tag ARNs of databases (kx.Family).
func (s *Service) databaseExistsTx(ctx context.Context, tx store.Tx, region, env, name string) (bool, error) {
	d, _, err := s.databases.GetIn(ctx, tx, env, databaseID(env, name))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil && d.Region == region, err
}
