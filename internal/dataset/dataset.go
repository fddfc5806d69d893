// Package dataset implements FinSpace Data datasets and their changesets:
// typed tables whose contents are the sum of their changesets over time.
//
// A changeset names source files in S3. It is created PENDING with an
// ingestion job (package jobs, kind JobKind, at most Config.PerEnvironment
// running per environment across processes); the job marks it RUNNING,
// converts the sources with package ingest (DuckDB) into one Parquet file
// typed by the dataset's schema, stores that file in the environment's
// managed bucket through the blob store, and commits SUCCESS with
// activeFromTimestamp in the same transaction as the job's end. A failure
// the user can act on (a missing source, a value that does not fit the
// schema) fails the changeset at once with errorInfo; an internal one is
// retried and recorded FAILED after the last attempt. Nothing of a
// changeset is visible until its commit, so a crash leaves it RUNNING and
// the job (taken over when its lease lapses) ends it SUCCESS with every row
// or FAILED.
//
// The stored changeset records are the time line data views are built
// from: each SUCCESS changeset keeps its Parquet object, its row count, its
// activeFrom (when it succeeded) and, once superseded by a correction, its
// activeUntil and updatedBy. See README "Datasets and changesets".
package dataset

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/identity"
	"github.com/openfinspace/openfinspace/internal/ids"
	"github.com/openfinspace/openfinspace/internal/ingest"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/store"
)

// Record kinds.
const (
	DatasetKind   = "fsdataset"   // ID dataset id, Parent environment id
	ChangesetKind = "fschangeset" // ID changeset id, Parent dataset id, SortKey creation time
)

// Dataset kinds (model DatasetKind).
const (
	Tabular    = "TABULAR"
	NonTabular = "NON_TABULAR"
)

// Column is one column of a tabular schema.
type Column struct {
	Name        string `json:"name"`
	Type        string `json:"type"`
	Description string `json:"description,omitempty"`
}

// Schema is a tabular dataset's schema.
type Schema struct {
	Columns     []Column `json:"columns"`
	PrimaryKeys []string `json:"primaryKeys,omitempty"`
}

func (s *Schema) clone() *Schema {
	if s == nil {
		return nil
	}
	return &Schema{Columns: slices.Clone(s.Columns), PrimaryKeys: slices.Clone(s.PrimaryKeys)}
}

// engineSchema is the schema package ingest casts to.
func (s *Schema) engineSchema() ingest.Schema {
	out := ingest.Schema{Columns: make([]ingest.Column, len(s.Columns))}
	for i, c := range s.Columns {
		out.Columns[i] = ingest.Column{Name: c.Name, Type: ingest.ColumnType(c.Type)}
	}
	return out
}

// validate checks a schema the way a create request is checked: columns
// named, unique (without case), typed; primary keys among the columns.
func (s *Schema) validate(member string) error {
	if len(s.Columns) == 0 {
		return fault.Invalidf("%s.tabularSchemaConfig.columns: a tabular schema needs at least one column.", member)
	}
	if err := s.engineSchema().Validate(); err != nil {
		return fault.Invalidf("%s.tabularSchemaConfig.columns: %v.", member, err)
	}
	seen := map[string]bool{}
	for _, c := range s.Columns {
		if strings.ContainsAny(c.Name, "\x00\n\r") {
			return fault.Invalidf("%s.tabularSchemaConfig.columns: column name %q contains a control character.", member, c.Name)
		}
		seen[strings.ToLower(c.Name)] = true
	}
	dup := map[string]bool{}
	for _, k := range s.PrimaryKeys {
		if !seen[strings.ToLower(k)] {
			return fault.Invalidf("%s.tabularSchemaConfig.primaryKeyColumns: %q is not a column of the schema.", member, k)
		}
		if dup[strings.ToLower(k)] {
			return fault.Invalidf("%s.tabularSchemaConfig.primaryKeyColumns: %q appears more than once.", member, k)
		}
		dup[strings.ToLower(k)] = true
	}
	return nil
}

// Owner is a dataset's ownerInfo.
type Owner struct {
	Name  string `json:"name,omitempty"`
	Phone string `json:"phone,omitempty"`
	Email string `json:"email,omitempty"`
}

// Dataset is the stored document of one dataset.
type Dataset struct {
	ID          string    `json:"id"`
	Environment string    `json:"environment"`
	Region      string    `json:"region"`
	ARN         string    `json:"arn"`
	Title       string    `json:"title"`
	Kind        string    `json:"kind"`
	Description string    `json:"description,omitempty"`
	Alias       string    `json:"alias,omitempty"`
	Owner       *Owner    `json:"owner,omitempty"`
	Schema      *Schema   `json:"schema,omitempty"`
	CreatedAt   time.Time `json:"createdAt"`
	ModifiedAt  time.Time `json:"modifiedAt"`
	// Status is not stored: it follows the dataset's most recently
	// created changeset (statusTx) and is filled in by reads.
	Status Status `json:"-"`
}

// Clone returns a deep copy of d.
func (d *Dataset) Clone() *Dataset {
	c := *d
	if d.Owner != nil {
		o := *d.Owner
		c.Owner = &o
	}
	c.Schema = d.Schema.clone()
	return &c
}

// Jobs is what the service needs of the job engine.
type Jobs interface {
	Wake(kind string)
	Cancelled(kind, id string)
}

// ClientTokens marks the client token of the request ctx belongs to as
// carried out, in the transaction that commits its effects.
type ClientTokens interface {
	CommitTx(ctx context.Context, tx store.Tx) error
}

// Converter turns sources into one typed Parquet file (*ingest.Engine).
type Converter interface {
	Convert(ctx context.Context, sources []ingest.Source, f ingest.Format, s ingest.Schema, out string) (int64, error)
}

// Config builds a Service.
type Config struct {
	Store    store.Store
	Jobs     Jobs
	Tokens   ClientTokens
	Identity *identity.Service
	// Blobs holds sources and stored data (nil only in tests of the
	// records: no ingestion job may run then).
	Blobs   blob.Store
	Engine  Converter
	Account string
	// StagingDir holds each ingestion's downloaded sources and output
	// until it is stored (one subdirectory per running job, removed when
	// the attempt ends; swept at start). Required to run ingestion jobs.
	StagingDir string
	// PerEnvironment bounds the changesets ingesting at once per
	// environment, across processes (default 10, the real service's
	// quota); Workers the ingestions running at once in this process
	// (default PerEnvironment).
	PerEnvironment, Workers int
	// LocalObject, when set, maps an object to the file that holds it on
	// this machine (the embedded store): such sources are hard-linked into
	// the staging area (an immutable snapshot: the store replaces objects
	// by linking a new file) instead of copied. ok is false when the
	// object has no such file or the link fails; it is then copied.
	LocalObject func(bucket, key string) (path string, ok bool)
	// MaxSourceBytes caps the bytes one changeset's sources may stage
	// locally (default 50 GiB); a larger source set fails the changeset
	// with SERVICE_QUOTA_EXCEEDED.
	MaxSourceBytes int64
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Lease overrides the ingestion jobs' lease (0: 30 s).
	Lease time.Duration
	// Logger receives what the service and its jobs log (nil: nothing).
	Logger *slog.Logger
	// Metrics counts finished changesets (nil: not counted).
	Metrics Metrics

	// Data views (dataview.go). Views materializes them (nil: Engine,
	// when it can); Catalog registers GLUE_TABLE views (nil: such views
	// fail); ScopedReads issues their external access credentials.
	Views       Materializer
	Catalog     Catalog
	ScopedReads ScopedReads
	// MaxViewsPerDataset is the data view quota per dataset (0: none; the
	// real service allowed 3). ViewWorkers bounds the materializations
	// running at once in this process (default 4); at most PerEnvironment
	// run per environment across processes.
	MaxViewsPerDataset, ViewWorkers int
}

// Materializer writes a data view's version (*ingest.Engine).
type Materializer interface {
	Materialize(ctx context.Context, spec ingest.ViewSpec) (*ingest.ViewResult, error)
}

// Metrics is what the service reports to the server's metrics.
type Metrics interface {
	ChangesetIngested(rows, storedBytes int64)
	ChangesetFailed(category string)
}

type noMetrics struct{}

func (noMetrics) ChangesetIngested(int64, int64) {}
func (noMetrics) ChangesetFailed(string)         {}

// Service implements datasets and changesets.
type Service struct {
	cfg        Config
	log        *slog.Logger
	db         store.Store
	now        func() time.Time
	datasets   *store.Table[Dataset, *Dataset]
	changesets *store.Table[Changeset, *Changeset]
	views      *store.Table[DataView, *DataView]
	// freeSpace reports the free bytes of the staging file system
	// (freeBytes; tests replace it).
	freeSpace func(dir string) (int64, bool)
}

// New returns the datasets service.
func New(cfg Config) *Service {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.PerEnvironment <= 0 {
		cfg.PerEnvironment = 10
	}
	if cfg.Workers <= 0 {
		cfg.Workers = cfg.PerEnvironment
	}
	if cfg.MaxSourceBytes <= 0 {
		cfg.MaxSourceBytes = 50 << 30
	}
	if cfg.Tokens == nil {
		cfg.Tokens = noTokens{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = noMetrics{}
	}
	if m, ok := cfg.Engine.(Materializer); ok && cfg.Views == nil {
		cfg.Views = m
	}
	if cfg.ViewWorkers <= 0 {
		cfg.ViewWorkers = 4
	}
	s := &Service{cfg: cfg, log: cfg.Logger, db: cfg.Store, now: cfg.Now, freeSpace: freeBytes}
	s.datasets = store.NewTable(store.TableDef[Dataset, *Dataset]{
		Kind:   DatasetKind,
		ID:     func(d *Dataset) string { return d.ID },
		Parent: func(d *Dataset) string { return d.Environment },
		SortKey: func(d *Dataset) string {
			return fmt.Sprintf("%016d/%s", d.CreatedAt.UnixMilli(), d.ID)
		},
		Unique: []store.UniqueKey[*Dataset]{{Name: "alias",
			Of: func(d *Dataset) string { return d.Alias },
			Taken: func(d *Dataset) error {
				return fault.Conflictf("A dataset with alias %s already exists in this environment.", d.Alias)
			}}},
		NotFound: func(id string) error { return datasetNotFound(id) },
		Conflict: func(id string) error {
			return fault.Conflictf("The dataset %s was changed by another request; retry.", id)
		},
	})
	s.changesets = store.NewTable(store.TableDef[Changeset, *Changeset]{
		Kind:   ChangesetKind,
		ID:     func(c *Changeset) string { return c.ID },
		Parent: func(c *Changeset) string { return c.Dataset },
		SortKey: func(c *Changeset) string {
			return fmt.Sprintf("%016d/%08d", c.CreatedAt.UnixMilli(), c.Seq)
		},
		NotFound: func(id string) error { return changesetNotFound(id) },
		Conflict: func(id string) error {
			return fault.Conflictf("The changeset %s was changed by another request; retry.", id)
		},
	})
	s.views = store.NewTable(store.TableDef[DataView, *DataView]{
		Kind:   DataViewKind,
		ID:     func(v *DataView) string { return v.ID },
		Parent: func(v *DataView) string { return v.Dataset },
		SortKey: func(v *DataView) string {
			return fmt.Sprintf("%016d/%s", v.CreatedAt.UnixMilli(), v.ID)
		},
		NotFound: func(id string) error { return viewNotFound(id) },
		Conflict: func(id string) error {
			return fault.Conflictf("The data view %s was changed by another request; retry.", id)
		},
	})
	return s
}

type noTokens struct{}

func (noTokens) CommitTx(context.Context, store.Tx) error { return nil }

func datasetNotFound(id string) error {
	f := fault.NotFoundf("The dataset %s does not exist.", id)
	f.Err = store.ErrNotFound
	return f
}

func changesetNotFound(id string) error {
	f := fault.NotFoundf("The changeset %s does not exist.", id)
	f.Err = store.ErrNotFound
	return f
}

// ARN forms. The real service's dataset ARNs were not recorded; these
// follow the environment's (arn:aws:finspace:<region>:<account>:...).
func (s *Service) datasetARN(region, id string) string {
	return "arn:aws:finspace:" + region + ":" + s.cfg.Account + ":dataset/" + id
}

// DatasetInput is what CreateDataset and UpdateDataset carry.
type DatasetInput struct {
	Title, Kind, Description, Alias string
	Owner                           *Owner
	Schema                          *Schema
}

// Grant is a permissionGroupParams: dataset permissions for one group.
type Grant struct {
	Group       string
	Permissions []string
}

var datasetPermissions = []string{identity.DatasetViewDetails, identity.DatasetReadData, identity.DatasetAddData,
	identity.DatasetCreateView, identity.DatasetEditMetadata, identity.DatasetDelete}

func (in *DatasetInput) validate() error {
	switch in.Kind {
	case Tabular:
		if in.Schema == nil {
			return fault.Invalidf("schemaDefinition: a TABULAR dataset needs schemaDefinition.tabularSchemaConfig.")
		}
		return in.Schema.validate("schemaDefinition")
	case NonTabular:
		if in.Schema != nil && len(in.Schema.Columns) > 0 {
			return fault.Invalidf("schemaDefinition: a NON_TABULAR dataset has no schema.")
		}
		in.Schema = nil
		return nil
	}
	return fault.Invalidf("kind: %q is not TABULAR or NON_TABULAR.", in.Kind)
}

// CreateDataset creates a dataset in the actor's environment and grants
// grant's group its dataset permissions on it.
func (s *Service) CreateDataset(ctx context.Context, a *identity.Actor, in DatasetInput, grant Grant) (*Dataset, error) {
	if err := a.Require(identity.PermCreateDataset); err != nil {
		return nil, err
	}
	if err := in.validate(); err != nil {
		return nil, err
	}
	if grant.Group == "" {
		return nil, fault.Invalidf("permissionGroupParams.permissionGroupId is required.")
	}
	perms := make([]string, 0, len(grant.Permissions))
	for _, p := range grant.Permissions {
		if !slices.Contains(datasetPermissions, p) {
			return nil, fault.Invalidf("permissionGroupParams.datasetPermissions: %q is not a dataset permission (one of %s).",
				p, strings.Join(datasetPermissions, ", "))
		}
		if !slices.Contains(perms, p) {
			perms = append(perms, p)
		}
	}
	now := s.now().UTC()
	d := &Dataset{ID: ids.LowerAlnum(7), Environment: a.EnvironmentID, Region: a.Region, Title: in.Title,
		Kind: in.Kind, Description: in.Description, Alias: in.Alias, Owner: in.Owner, Schema: in.Schema,
		CreatedAt: now, ModifiedAt: now}
	d.ARN = s.datasetARN(a.Region, d.ID)
	err := s.db.Update(ctx, func(tx store.Tx) error {
		if err := s.datasets.Insert(ctx, tx, d); err != nil {
			return err
		}
		if err := identity.GrantDatasetTx(ctx, tx, a.EnvironmentID, d.ID, grant.Group, perms); err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return fault.NotFoundf("permissionGroupParams.permissionGroupId: the permission group %s does not exist.", grant.Group)
			}
			return err
		}
		return s.cfg.Tokens.CommitTx(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// datasetTx reads dataset id of the actor's environment; a dataset of
// another environment does not exist for it.
func (s *Service) datasetTx(ctx context.Context, tx store.Tx, a *identity.Actor, id string) (*Dataset, int64, error) {
	return s.datasets.GetIn(ctx, tx, a.EnvironmentID, id)
}

// may returns AccessDenied unless the actor holds perm on dataset id
// (checked after the dataset is known to exist in its environment, so the
// answer reveals nothing about other environments).
func (s *Service) may(ctx context.Context, a *identity.Actor, id, perm string) error {
	ok, err := s.cfg.Identity.MayOnDataset(ctx, a, id, perm)
	if err != nil {
		return err
	}
	if !ok {
		return fault.Deniedf("User %s is not authorized: the action requires the %s permission on dataset %s.", a.User.ID, perm, id)
	}
	return nil
}

// visible reads dataset id and checks the actor holds perm on it.
func (s *Service) visible(ctx context.Context, a *identity.Actor, id, perm string) (*Dataset, error) {
	var d *Dataset
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		if d, _, err = s.datasetTx(ctx, tx, a, id); err != nil {
			return err
		}
		d.Status, err = s.statusTx(ctx, tx, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if err := s.may(ctx, a, id, perm); err != nil {
		return nil, err
	}
	return d, nil
}

// GetDataset returns dataset id.
func (s *Service) GetDataset(ctx context.Context, a *identity.Actor, id string) (*Dataset, error) {
	return s.visible(ctx, a, id, identity.DatasetViewDetails)
}

// ListDatasets returns one page of the datasets of the actor's environment
// it may view, oldest first. A page may hold fewer than limit datasets
// (those the actor may not view are skipped) and still have a next page.
func (s *Service) ListDatasets(ctx context.Context, a *identity.Actor, after *store.Cursor, limit int) (paging.Page[*Dataset], error) {
	var page paging.Page[*Dataset]
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		if page, err = s.datasets.Page(ctx, tx, store.Query{Parent: a.EnvironmentID, After: after}, limit); err != nil {
			return err
		}
		for _, d := range page.Items {
			if d.Status, err = s.statusTx(ctx, tx, d.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || a.IsSuper() {
		return page, err
	}
	kept := page.Items[:0]
	for _, d := range page.Items {
		ok, err := s.cfg.Identity.MayOnDataset(ctx, a, d.ID, identity.DatasetViewDetails)
		if err != nil {
			return page, err
		}
		if ok {
			kept = append(kept, d)
		}
	}
	page.Items = kept
	return page, nil
}

// UpdateDataset replaces dataset id's title, kind, description, alias and
// schema. The kind cannot change once the dataset has changesets; a schema
// change applies to changesets ingested after it (each changeset records
// the schema it was ingested with, so stored data is never reinterpreted).
func (s *Service) UpdateDataset(ctx context.Context, a *identity.Actor, id string, in DatasetInput) (*Dataset, error) {
	if err := in.validate(); err != nil {
		return nil, err
	}
	if _, err := s.visible(ctx, a, id, identity.DatasetEditMetadata); err != nil {
		return nil, err
	}
	var d *Dataset
	err := s.db.Update(ctx, func(tx store.Tx) error {
		var version int64
		var err error
		d, version, err = s.datasetTx(ctx, tx, a, id)
		if err != nil {
			return err
		}
		if d.Kind != in.Kind {
			n, err := s.changesets.Count(ctx, tx, store.Query{Parent: id})
			if err != nil {
				return err
			}
			if n > 0 {
				return fault.Invalidf("kind: dataset %s has changesets; its kind cannot change from %s to %s.", id, d.Kind, in.Kind)
			}
		}
		d.Title, d.Kind, d.Description, d.Alias, d.Schema = in.Title, in.Kind, in.Description, in.Alias, in.Schema
		if in.Owner != nil {
			d.Owner = in.Owner
		}
		d.ModifiedAt = s.now().UTC()
		if err := s.datasets.Update(ctx, tx, d, version); err != nil {
			return err
		}
		return s.cfg.Tokens.CommitTx(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// DeleteDataset removes dataset id: its changesets (cancelling those still
// ingesting), its grants and its stored data. Later reads answer
// ResourceNotFoundException.
func (s *Service) DeleteDataset(ctx context.Context, a *identity.Actor, id string) error {
	d, err := s.visible(ctx, a, id, identity.DatasetDelete)
	if err != nil {
		return err
	}
	var cancelled, viewJobs []string
	var objects []objectRef
	err = s.db.Update(ctx, func(tx store.Tx) error {
		cancelled, objects, viewJobs = nil, nil, nil
		if _, _, err := s.datasetTx(ctx, tx, a, id); err != nil {
			return err
		}
		all, err := s.changesets.List(ctx, tx, store.Query{Parent: id})
		if err != nil {
			return err
		}
		now := s.now().UTC()
		for _, c := range all {
			if !c.Status.final() {
				err := jobs.CancelTx(ctx, tx, now, nil, jobID(c.ID))
				if err != nil && !errors.Is(err, store.ErrNotFound) {
					return err
				}
				cancelled = append(cancelled, jobID(c.ID))
			}
			objects = append(objects, c.objects()...)
			if err := s.changesets.Delete(ctx, tx, c.ID); err != nil {
				return err
			}
		}
		views, err := s.deleteViewsTx(ctx, tx, id, now)
		if err != nil {
			return err
		}
		viewJobs = views
		if err := identity.RevokeDatasetTx(ctx, tx, a.EnvironmentID, id); err != nil {
			return err
		}
		if err := s.datasets.Delete(ctx, tx, id); err != nil {
			return err
		}
		return s.cfg.Tokens.CommitTx(ctx, tx)
	})
	if err != nil {
		return err
	}
	for _, j := range cancelled {
		if s.cfg.Jobs != nil {
			s.cfg.Jobs.Cancelled(JobKind, j)
		}
	}
	for _, j := range viewJobs {
		if s.cfg.Jobs != nil {
			s.cfg.Jobs.Cancelled(ViewJobKind, j)
		}
	}
	// The records are gone, so nothing refers to the data any more. A
	// crash here leaves unreferenced objects under the dataset's prefix,
	// never a dataset with missing data. An ingestion cancelled mid-way
	// removes what it stored itself (runIngestion).
	s.removeObjects(ctx, objects)
	if err := s.removePrefix(ctx, s.ManagedBucket(d.Region, d.Environment), dataPrefix(d.ID)); err != nil {
		s.log.Warn("removing dataset data", "dataset", d.ID, "err", err)
	}
	return nil
}
