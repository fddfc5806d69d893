package dataset

// Data views: a dataset as of a moment (static) or kept current as its
// changesets succeed (auto-update), materialized by a job (dataview_job.go)
// into Parquet or delimited text under a version prefix the view owns in
// the environment's managed bucket, and optionally registered as a Glue
// table. See README "Data views".

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/glue"
	"github.com/openfinspace/openfinspace/internal/identity"
	"github.com/openfinspace/openfinspace/internal/ids"
	"github.com/openfinspace/openfinspace/internal/ingest"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/store"
)

// DataViewKind is the record kind of data views: ID view id, Parent
// dataset id, SortKey creation time.
const DataViewKind = "fsdataview"

// ViewStatus is a data view's status (model DataViewStatus).
type ViewStatus string

const (
	ViewPending  ViewStatus = "PENDING"  // waiting for a materialization slot
	ViewStarting ViewStatus = "STARTING" // reading the dataset's time line, staging its data
	ViewRunning  ViewStatus = "RUNNING"  // DuckDB writing the version
	ViewSuccess  ViewStatus = "SUCCESS"
	ViewFailed   ViewStatus = "FAILED"
)

// Destination types and their file formats.
const (
	DestinationS3   = "S3"
	DestinationGlue = "GLUE_TABLE"
)

// Destination is a view's destinationTypeParams.
type Destination struct {
	Type    string            `json:"type"`
	Format  string            `json:"format"` // PARQUET or DELIMITED_TEXT
	Options map[string]string `json:"options,omitempty"`
}

// ViewVersion is one materialized version of a view: where it is and what
// it holds.
type ViewVersion struct {
	Gen    int64     `json:"gen"`
	Bucket string    `json:"bucket"`
	Prefix string    `json:"prefix"` // ends in "/"
	AsOf   time.Time `json:"asOf"`
	Rows   int64     `json:"rows"`
	Files  []string  `json:"files,omitempty"` // relative to Prefix
	// Partitions are the partition values of the version's folders, in
	// folder order (one per partition, parallel to Folders).
	Partitions [][]string `json:"partitions,omitempty"`
	Folders    []string   `json:"folders,omitempty"`
	Built      time.Time  `json:"built"`
	// FileRows are the rows of each file (parallel to Files), and
	// Changesets the changesets the version holds: what the next version
	// compares itself with to rebuild only the partitions that changed.
	FileRows   []int64  `json:"fileRows,omitempty"`
	Changesets []string `json:"changesets,omitempty"`
	// Rebuilt and Copied count the files DuckDB wrote and those taken
	// from the previous version.
	Rebuilt int `json:"rebuilt"`
	Copied  int `json:"copied,omitempty"`
}

// DataView is the stored document of one data view.
type DataView struct {
	ID          string      `json:"id"`
	Dataset     string      `json:"dataset"`
	Environment string      `json:"environment"`
	Region      string      `json:"region"`
	ARN         string      `json:"arn"`
	AutoUpdate  bool        `json:"autoUpdate"`
	Partition   []string    `json:"partition,omitempty"`
	Sort        []string    `json:"sort,omitempty"`
	Destination Destination `json:"destination"`
	// Schema is the dataset's schema when the view was created: the
	// view's columns for its whole life.
	Schema *Schema `json:"schema"`
	// AsOf is a static view's asOfTimestamp (for an auto-update view the
	// current version's).
	AsOf       time.Time  `json:"asOf,omitzero"`
	Status     ViewStatus `json:"status"`
	ErrorCat   string     `json:"errorCategory,omitempty"`
	ErrorMsg   string     `json:"errorMessage,omitempty"`
	CreatedAt  time.Time  `json:"createdAt"`
	ModifiedAt time.Time  `json:"modifiedAt"`
	// Wanted is the generation the latest request asks for (1 at create,
	// +1 per successful changeset of an auto-update view); each has its
	// job. Current is the version readers get, Previous the one before
	// (kept until the next switch).
	Wanted   int64        `json:"wanted"`
	Current  *ViewVersion `json:"current,omitempty"`
	Previous *ViewVersion `json:"previous,omitempty"`
	// GlueDatabase and GlueTable name a GLUE_TABLE view's table.
	GlueDatabase string `json:"glueDatabase,omitempty"`
	GlueTable    string `json:"glueTable,omitempty"`
}

// Clone returns a deep copy of v.
func (v *DataView) Clone() *DataView {
	c := *v
	c.Partition = slices.Clone(v.Partition)
	c.Sort = slices.Clone(v.Sort)
	c.Destination.Options = maps.Clone(v.Destination.Options)
	c.Schema = v.Schema.clone()
	c.Current = v.Current.clone()
	c.Previous = v.Previous.clone()
	return &c
}

func (v *ViewVersion) clone() *ViewVersion {
	if v == nil {
		return nil
	}
	c := *v
	c.Files = slices.Clone(v.Files)
	c.Folders = slices.Clone(v.Folders)
	c.FileRows = slices.Clone(v.FileRows)
	c.Changesets = slices.Clone(v.Changesets)
	c.Partitions = make([][]string, len(v.Partitions))
	for i, p := range v.Partitions {
		c.Partitions[i] = slices.Clone(p)
	}
	if v.Partitions == nil {
		c.Partitions = nil
	}
	return &c
}

// Catalog is what views need of the Glue Data Catalog (*glue.Catalog).
type Catalog interface {
	PublishTableTx(ctx context.Context, tx store.Tx, db glue.Database, t glue.Table, parts []glue.PartitionInput) error
	RemoveTableTx(ctx context.Context, tx store.Tx, region, database, table string) error
}

// ScopedReads issues credentials that may only read bucket/prefix through
// the S3 endpoint for ttl (the server's IssueScopedRead).
type ScopedReads func(ctx context.Context, bucket, prefix string, ttl time.Duration) (*auth.Credential, error)

// ViewJobKind is the job kind of materializations; a job's id is
// "dataview/<view>/<generation>", its concurrency key the environment, and
// it holds the view exclusively, so one view's versions are built one at
// a time, in order.
const ViewJobKind = "dataview"

func viewJobID(view string, gen int64) string { return fmt.Sprintf("dataview/%s/%d", view, gen) }

type viewJobArgs struct {
	View        string `json:"view"`
	Dataset     string `json:"dataset"`
	Environment string `json:"environment"`
	Region      string `json:"region"`
	Gen         int64  `json:"gen"`
}

// viewPrefix is where a view's versions live in the managed bucket (under
// its dataset's, so DeleteDataset removes them).
func viewPrefix(dataset, view string) string { return dataPrefix(dataset) + "dataviews/" + view + "/" }

// ViewInput is what CreateDataView carries.
type ViewInput struct {
	AutoUpdate      bool
	AsOf            *int64 // epoch ms
	Partition, Sort []string
	DestinationType string
	Format          string
	Options         map[string]string
}

// viewOptions are the destination options a format takes (lower case).
var viewOptions = map[string][]string{
	string(ingest.ViewParquet):   {"compression"},
	string(ingest.ViewDelimited): {"header", "delimiter", "compression", "quotechar", "escapechar", "nullvalue"},
}

// checkDestination validates destinationTypeParams and returns them
// normalized (format defaulted, option keys as given).
func checkDestination(in ViewInput) (Destination, error) {
	d := Destination{Type: in.DestinationType, Format: in.Format, Options: maps.Clone(in.Options)}
	switch d.Type {
	case DestinationS3, DestinationGlue:
	default:
		return d, fault.Invalidf("destinationTypeParams.destinationType: %q is not S3 or GLUE_TABLE.", d.Type)
	}
	if d.Format == "" {
		d.Format = string(ingest.ViewParquet)
	}
	allowed, ok := viewOptions[d.Format]
	if !ok {
		return d, fault.Invalidf("destinationTypeParams.s3DestinationExportFileFormat: %q is not PARQUET or DELIMITED_TEXT.", d.Format)
	}
	if d.Type == DestinationGlue && d.Format != string(ingest.ViewParquet) {
		return d, fault.Invalidf("destinationTypeParams: a GLUE_TABLE view is written as PARQUET, not %s.", d.Format)
	}
	for k, v := range d.Options {
		if !slices.Contains(allowed, strings.ToLower(k)) {
			return d, fault.Invalidf("destinationTypeParams.s3DestinationExportFileFormatOptions: unknown option %q for %s (options: %s).",
				k, d.Format, strings.Join(allowed, ", "))
		}
		switch strings.ToLower(k) {
		case "header":
			if v != "true" && v != "false" {
				return d, fault.Invalidf("destinationTypeParams.s3DestinationExportFileFormatOptions.header: %q is not true or false.", v)
			}
		case "delimiter", "quotechar", "escapechar":
			if len([]rune(v)) != 1 || v == "\n" || v == "\r" {
				return d, fault.Invalidf("destinationTypeParams.s3DestinationExportFileFormatOptions.%s: %q must be one character (not a line break).", k, v)
			}
		case "compression":
			ok := []string{"none", "gzip", "zstd"}
			if d.Format == string(ingest.ViewParquet) {
				ok = []string{"none", "snappy", "gzip", "zstd"}
			}
			if !slices.Contains(ok, strings.ToLower(v)) {
				return d, fault.Invalidf("destinationTypeParams.s3DestinationExportFileFormatOptions.compression: %q is not one of %s.", v, strings.Join(ok, ", "))
			}
		}
	}
	return d, nil
}

// option reads a destination option without regard to case.
func (d Destination) option(name string) (string, bool) { return param(d.Options, name) }

// checkViewColumns resolves partition and sort columns against the schema
// (without case; the schema's spelling is kept).
func checkViewColumns(s *Schema, member string, names []string, partition bool) ([]string, error) {
	out := make([]string, 0, len(names))
	seen := map[string]bool{}
	for _, n := range names {
		var col *Column
		for i := range s.Columns {
			if strings.EqualFold(s.Columns[i].Name, n) {
				col = &s.Columns[i]
			}
		}
		if col == nil {
			var have []string
			for _, c := range s.Columns {
				have = append(have, c.Name)
			}
			return nil, fault.Invalidf("%s: %q is not a column of the dataset (its columns: %s).", member, n, strings.Join(have, ", "))
		}
		if seen[strings.ToLower(n)] {
			return nil, fault.Invalidf("%s: %q appears more than once.", member, n)
		}
		seen[strings.ToLower(n)] = true
		if partition && col.Type == string(ingest.TypeBinary) {
			return nil, fault.Invalidf("%s: %q is a BINARY column, which cannot name a partition folder.", member, n)
		}
		out = append(out, col.Name)
	}
	if partition && len(out) > 0 && len(out) >= len(s.Columns) {
		return nil, fault.Invalidf("%s: every column is a partition column; the files need at least one other column.", member)
	}
	return out, nil
}

func (s *Service) viewARN(d *Dataset, id string) string { return d.ARN + "/dataview/" + id }

// GlueDatabaseName is the Glue database of an environment's GLUE_TABLE
// views; a view's table is "dataview_<view id>".
func GlueDatabaseName(env string) string { return "finspace_" + strings.ToLower(env) }

// CreateDataView creates a view of dataset datasetID, PENDING, with the
// job that materializes its first version.
func (s *Service) CreateDataView(ctx context.Context, a *identity.Actor, datasetID string, in ViewInput) (*DataView, error) {
	d, err := s.visible(ctx, a, datasetID, identity.DatasetCreateView)
	if err != nil {
		return nil, err
	}
	if d.Kind != Tabular || d.Schema == nil {
		return nil, fault.Invalidf("The dataset %s is %s: data views are made of TABULAR datasets.", d.ID, d.Kind)
	}
	dest, err := checkDestination(in)
	if err != nil {
		return nil, err
	}
	part, err := checkViewColumns(d.Schema, "partitionColumns", in.Partition, true)
	if err != nil {
		return nil, err
	}
	sortCols, err := checkViewColumns(d.Schema, "sortColumns", in.Sort, false)
	if err != nil {
		return nil, err
	}
	now := s.now().UTC()
	v := &DataView{ID: ids.LowerAlnum(22), Dataset: d.ID, Environment: d.Environment, Region: d.Region,
		AutoUpdate: in.AutoUpdate, Partition: part, Sort: sortCols, Destination: dest, Schema: d.Schema.clone(),
		Status: ViewPending, CreatedAt: now, ModifiedAt: now, Wanted: 1}
	v.ARN = s.viewARN(d, v.ID)
	switch {
	case in.AsOf != nil && in.AutoUpdate:
		return nil, fault.Invalidf("asOfTimestamp: an auto-update view follows the dataset's latest changesets; asOfTimestamp is for static views (autoUpdate false).")
	case in.AsOf != nil && *in.AsOf < 0:
		return nil, fault.Invalidf("asOfTimestamp: %d is before 1970.", *in.AsOf)
	case in.AsOf != nil && time.UnixMilli(*in.AsOf).After(now):
		return nil, fault.Invalidf("asOfTimestamp: %d is in the future (now is %d); a view shows the dataset as it was.", *in.AsOf, now.UnixMilli())
	case in.AsOf != nil:
		v.AsOf = time.UnixMilli(*in.AsOf).UTC()
	case !in.AutoUpdate:
		v.AsOf = now.Truncate(time.Millisecond)
	}
	if dest.Type == DestinationGlue {
		v.GlueDatabase, v.GlueTable = GlueDatabaseName(d.Environment), "dataview_"+v.ID
	}
	err = s.db.Update(ctx, func(tx store.Tx) error {
		if _, _, err := s.datasetTx(ctx, tx, a, d.ID); err != nil {
			return err
		}
		if q := s.cfg.MaxViewsPerDataset; q > 0 {
			n, err := s.views.Count(ctx, tx, store.Query{Parent: d.ID})
			if err != nil {
				return err
			}
			if n >= q {
				return fault.LimitExceededf("The dataset %s has %d data views, the most this server allows per dataset (%d).", d.ID, n, q)
			}
		}
		if err := s.views.Insert(ctx, tx, v); err != nil {
			return err
		}
		if err := s.enqueueViewTx(ctx, tx, v, now); err != nil {
			return err
		}
		return s.cfg.Tokens.CommitTx(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	if s.cfg.Jobs != nil {
		s.cfg.Jobs.Wake(ViewJobKind)
	}
	return v, nil
}

func (s *Service) enqueueViewTx(ctx context.Context, tx store.Tx, v *DataView, now time.Time) error {
	return jobs.EnqueueTx(ctx, tx, now, jobs.Spec{ID: viewJobID(v.ID, v.Wanted), Kind: ViewJobKind, Key: v.Environment,
		Exclusive: []string{"dataview/" + v.ID},
		Args:      viewJobArgs{View: v.ID, Dataset: v.Dataset, Environment: v.Environment, Region: v.Region, Gen: v.Wanted}})
}

// GetDataView returns view id of dataset datasetID.
func (s *Service) GetDataView(ctx context.Context, a *identity.Actor, datasetID, id string) (*DataView, error) {
	if _, err := s.visible(ctx, a, datasetID, identity.DatasetViewDetails); err != nil {
		return nil, err
	}
	var v *DataView
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		v, _, err = s.views.GetIn(ctx, tx, datasetID, id)
		return err
	})
	return v, err
}

// ListDataViews returns one page of dataset datasetID's views, oldest
// first.
func (s *Service) ListDataViews(ctx context.Context, a *identity.Actor, datasetID string, after *store.Cursor, limit int) (paging.Page[*DataView], error) {
	var page paging.Page[*DataView]
	if _, err := s.visible(ctx, a, datasetID, identity.DatasetViewDetails); err != nil {
		return page, err
	}
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		page, err = s.views.Page(ctx, tx, store.Query{Parent: datasetID, After: after}, limit)
		return err
	})
	return page, err
}

// ExternalAccessTTL is how long GetExternalDataViewAccessDetails'
// credentials live (the real service's 60 minutes).
const ExternalAccessTTL = time.Hour

// ExternalAccess is GetExternalDataViewAccessDetails' answer.
type ExternalAccess struct {
	Credential *auth.Credential
	Bucket     string
	Prefix     string
}

// ExternalAccess issues credentials that read view id's current version,
// and only that, through the S3 endpoint for ExternalAccessTTL.
func (s *Service) ExternalAccess(ctx context.Context, a *identity.Actor, datasetID, id string) (*ExternalAccess, error) {
	if _, err := s.visible(ctx, a, datasetID, identity.DatasetReadData); err != nil {
		return nil, err
	}
	var v *DataView
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		v, _, err = s.views.GetIn(ctx, tx, datasetID, id)
		return err
	})
	if err != nil {
		return nil, err
	}
	if v.Current == nil {
		return nil, fault.Invalidf("The data view %s has no materialized version yet (status %s).", id, v.Status)
	}
	if s.cfg.ScopedReads == nil {
		return nil, errors.New("dataset: no scoped read credentials (the embedded S3 endpoint is off)")
	}
	cred, err := s.cfg.ScopedReads(ctx, v.Current.Bucket, v.Current.Prefix, ExternalAccessTTL)
	if err != nil {
		return nil, err
	}
	return &ExternalAccess{Credential: cred, Bucket: v.Current.Bucket, Prefix: v.Current.Prefix}, nil
}

// autoUpdateTx asks every auto-update view of dataset for a new version
// (the changeset whose success is being committed in tx changed it).
func (s *Service) autoUpdateTx(ctx context.Context, tx store.Tx, dataset string, now time.Time) error {
	all, err := s.views.List(ctx, tx, store.Query{Parent: dataset})
	if err != nil {
		return err
	}
	for _, v := range all {
		if !v.AutoUpdate {
			continue
		}
		_, version, err := s.views.Get(ctx, tx, v.ID)
		if err != nil {
			return err
		}
		v.Wanted++
		if v.Status == ViewSuccess || v.Status == ViewFailed {
			v.Status = ViewPending
		}
		v.ModifiedAt = now
		if err := s.views.Update(ctx, tx, v, version); err != nil {
			return err
		}
		if err := s.enqueueViewTx(ctx, tx, v, now); err != nil {
			return err
		}
	}
	return nil
}

// deleteViewsTx removes dataset's views with the dataset: their records,
// their Glue tables and their queued jobs (a running one finds its view
// gone and ends). Their data goes with the dataset's prefix.
func (s *Service) deleteViewsTx(ctx context.Context, tx store.Tx, dataset string, now time.Time) ([]string, error) {
	all, err := s.views.List(ctx, tx, store.Query{Parent: dataset})
	if err != nil {
		return nil, err
	}
	var cancelled []string
	for _, v := range all {
		built := int64(0)
		if v.Current != nil {
			built = v.Current.Gen
		}
		for g := built + 1; g <= v.Wanted; g++ {
			err := jobs.CancelTx(ctx, tx, now, nil, viewJobID(v.ID, g))
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
			cancelled = append(cancelled, viewJobID(v.ID, g))
		}
		if v.GlueTable != "" && s.cfg.Catalog != nil {
			err := s.cfg.Catalog.RemoveTableTx(ctx, tx, v.Region, v.GlueDatabase, v.GlueTable)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return nil, err
			}
		}
		if err := s.views.Delete(ctx, tx, v.ID); err != nil {
			return nil, err
		}
	}
	return cancelled, nil
}

func viewNotFound(id string) error {
	f := fault.NotFoundf("The data view %s does not exist.", id)
	f.Err = store.ErrNotFound
	return f
}
