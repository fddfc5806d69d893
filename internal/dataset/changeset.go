package dataset

import (
	"context"
	"errors"
	"fmt"
	"maps"
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

// Status is a changeset's (model IngestionStatus) or a dataset's (model
// DatasetStatus) status.
type Status string

const (
	StatusPending Status = "PENDING"
	StatusRunning Status = "RUNNING"
	StatusSuccess Status = "SUCCESS"
	StatusFailed  Status = "FAILED"
	// StatusStopRequested exists in the model; no finspace-data operation
	// stops a changeset, so no changeset here ever has it.
	StatusStopRequested Status = "STOP_REQUESTED"
)

func (s Status) final() bool { return s == StatusSuccess || s == StatusFailed }

// Change types (model ChangeType).
const (
	Replace = "REPLACE"
	Append  = "APPEND"
	Modify  = "MODIFY"
)

// Changeset is the stored document of one changeset.
type Changeset struct {
	ID           string            `json:"id"`
	Dataset      string            `json:"dataset"`
	Environment  string            `json:"environment"`
	Region       string            `json:"region"`
	ARN          string            `json:"arn"`
	Type         string            `json:"type"`
	SourceParams map[string]string `json:"sourceParams"`
	FormatParams map[string]string `json:"formatParams"`
	CreatedAt    time.Time         `json:"createdAt"`
	// Seq is the number of changesets the dataset had when this one was
	// created: it orders changesets created in the same millisecond.
	Seq    int    `json:"seq"`
	Status Status `json:"status"`
	// ErrorCategory and ErrorMessage are errorInfo of a FAILED changeset.
	ErrorCategory string `json:"errorCategory,omitempty"`
	ErrorMessage  string `json:"errorMessage,omitempty"`
	// ActiveFrom is when the changeset succeeded; ActiveUntil when a
	// later REPLACE or a correction (UpdatedBy) superseded it.
	ActiveFrom  time.Time `json:"activeFrom,omitzero"`
	ActiveUntil time.Time `json:"activeUntil,omitzero"`
	// Updates is the changeset a MODIFY corrects; UpdatedBy the MODIFY
	// that corrected this one.
	Updates   string `json:"updates,omitempty"`
	UpdatedBy string `json:"updatedBy,omitempty"`
	// What a SUCCESS changeset stored: the dataset kind and schema it was
	// ingested with, and its objects in Bucket (one Parquet file for a
	// TABULAR dataset, the source files as given for a NON_TABULAR one).
	Kind    string   `json:"kind"`
	Schema  *Schema  `json:"schema,omitempty"`
	Bucket  string   `json:"bucket,omitempty"`
	Objects []string `json:"objects,omitempty"`
	Rows    int64    `json:"rows,omitempty"`
	Bytes   int64    `json:"bytes,omitempty"`
}

// Clone returns a deep copy of c.
func (c *Changeset) Clone() *Changeset {
	d := *c
	d.SourceParams = maps.Clone(c.SourceParams)
	d.FormatParams = maps.Clone(c.FormatParams)
	d.Schema = c.Schema.clone()
	d.Objects = append([]string(nil), c.Objects...)
	if c.Objects == nil {
		d.Objects = nil
	}
	return &d
}

type objectRef struct{ bucket, key string }

func (c *Changeset) objects() []objectRef {
	out := make([]objectRef, 0, len(c.Objects))
	for _, k := range c.Objects {
		out = append(out, objectRef{c.Bucket, k})
	}
	return out
}

// JobKind is the job kind of changeset ingestion; a job's id is
// "changeset/<changeset id>" and its concurrency key the environment.
const JobKind = "changeset"

func jobID(changeset string) string { return "changeset/" + changeset }

type jobArgs struct {
	Changeset   string `json:"changeset"`
	Dataset     string `json:"dataset"`
	Environment string `json:"environment"`
	Region      string `json:"region"`
}

// dataPrefix is where a dataset's stored data lives in the managed bucket.
func dataPrefix(dataset string) string { return "datasets/" + dataset + "/" }

func changesetPrefix(dataset, changeset string) string {
	return dataPrefix(dataset) + "changesets/" + changeset + "/"
}

// ChangesetInput is what CreateChangeset and UpdateChangeset carry.
type ChangesetInput struct {
	Type         string
	SourceParams map[string]string
	FormatParams map[string]string
}

// source is a parsed sourceParams.
type source struct {
	bucket, key string // key "" or ending in "/": a prefix
}

func (s source) uri() string { return "s3://" + s.bucket + "/" + s.key }

func param(m map[string]string, name string) (string, bool) {
	for k, v := range m {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// parseSource checks sourceParams: s3SourcePath (an s3:// object or
// prefix) and, when given, sourceType S3.
func parseSource(p map[string]string) (source, error) {
	if t, ok := param(p, "sourceType"); ok && !strings.EqualFold(t, "S3") {
		return source{}, fault.Invalidf("sourceParams.sourceType: %q is not supported; the only source type is S3.", t)
	}
	for k := range p {
		if !strings.EqualFold(k, "sourceType") && !strings.EqualFold(k, "s3SourcePath") {
			return source{}, fault.Invalidf("sourceParams: unknown key %q (s3SourcePath and sourceType are the keys).", k)
		}
	}
	path, ok := param(p, "s3SourcePath")
	if !ok || path == "" {
		return source{}, fault.Invalidf("sourceParams.s3SourcePath is required (an s3://bucket/key object or prefix).")
	}
	rest, ok := strings.CutPrefix(path, "s3://")
	if !ok {
		return source{}, fault.Invalidf("sourceParams.s3SourcePath: %q is not an s3://bucket/key URI.", path)
	}
	bucket, key, _ := strings.Cut(rest, "/")
	if err := blob.ValidBucketName(bucket); err != nil {
		return source{}, fault.Invalidf("sourceParams.s3SourcePath: %v.", err)
	}
	if key != "" {
		if err := blob.ValidKey(strings.TrimSuffix(key, "/")); err != nil {
			return source{}, fault.Invalidf("sourceParams.s3SourcePath: %v.", err)
		}
	}
	return source{bucket: bucket, key: key}, nil
}

// checkInput validates a changeset's parameters against dataset d.
func checkInput(d *Dataset, in ChangesetInput) error {
	if _, err := parseSource(in.SourceParams); err != nil {
		return err
	}
	if in.FormatParams == nil {
		return fault.Invalidf("formatParams is required.")
	}
	if d.Kind == NonTabular {
		// The files are kept as given; formatParams only describes them.
		if _, ok := param(in.FormatParams, "formatType"); !ok {
			return fault.Invalidf("formatParams.formatType is required.")
		}
		return nil
	}
	if _, err := ingest.ParseFormatParams(in.FormatParams); err != nil {
		var re *ingest.RequestError
		if errors.As(err, &re) {
			return fault.Invalidf("%s: %s.", re.Member, re.Msg)
		}
		return fault.Invalidf("formatParams: %v.", err)
	}
	return nil
}

func (s *Service) changesetARN(d *Dataset, id string) string {
	return d.ARN + "/changeset/" + id
}

// CreateChangeset creates a changeset of dataset id, PENDING, with its
// ingestion job. changeType MODIFY names no changeset to correct here, so
// it is refused: a correction is made with UpdateChangeset.
func (s *Service) CreateChangeset(ctx context.Context, a *identity.Actor, datasetID string, in ChangesetInput) (*Changeset, error) {
	switch in.Type {
	case Replace, Append:
	case Modify:
		return nil, fault.Invalidf("changeType: MODIFY corrects one earlier changeset, which CreateChangeset cannot name; " +
			"call UpdateChangeset on the changeset to correct (it creates the MODIFY changeset).")
	default:
		return nil, fault.Invalidf("changeType: %q is not REPLACE, APPEND or MODIFY.", in.Type)
	}
	d, err := s.visible(ctx, a, datasetID, identity.DatasetAddData)
	if err != nil {
		return nil, err
	}
	if err := checkInput(d, in); err != nil {
		return nil, err
	}
	return s.insertChangeset(ctx, a, d, in, "")
}

// UpdateChangeset corrects SUCCESS changeset id of dataset datasetID: it
// creates a MODIFY changeset M with updatesChangesetId id and returns it.
// When M succeeds, id gets updatedByChangesetId M and activeUntilTimestamp.
func (s *Service) UpdateChangeset(ctx context.Context, a *identity.Actor, datasetID, id string, in ChangesetInput) (*Changeset, error) {
	d, err := s.visible(ctx, a, datasetID, identity.DatasetAddData)
	if err != nil {
		return nil, err
	}
	if err := checkInput(d, in); err != nil {
		return nil, err
	}
	in.Type = Modify
	return s.insertChangeset(ctx, a, d, in, id)
}

func (s *Service) insertChangeset(ctx context.Context, a *identity.Actor, d *Dataset, in ChangesetInput, updates string) (*Changeset, error) {
	now := s.now().UTC()
	c := &Changeset{ID: ids.Base62(22), Dataset: d.ID, Environment: d.Environment, Region: d.Region,
		Type: in.Type, SourceParams: maps.Clone(in.SourceParams), FormatParams: maps.Clone(in.FormatParams),
		CreatedAt: now, Status: StatusPending, Updates: updates}
	c.ARN = s.changesetARN(d, c.ID)
	err := s.db.Update(ctx, func(tx store.Tx) error {
		cur, _, err := s.datasetTx(ctx, tx, a, d.ID)
		if err != nil {
			return err
		}
		c.Kind, c.Schema = cur.Kind, cur.Schema.clone()
		if c.Seq, err = s.changesets.Count(ctx, tx, store.Query{Parent: d.ID}); err != nil {
			return err
		}
		if updates != "" {
			if err := s.checkTargetTx(ctx, tx, d.ID, updates); err != nil {
				return err
			}
		}
		if err := s.changesets.Insert(ctx, tx, c); err != nil {
			return err
		}
		if err := jobs.EnqueueTx(ctx, tx, now, jobs.Spec{ID: jobID(c.ID), Kind: JobKind, Key: d.Environment,
			Args: jobArgs{Changeset: c.ID, Dataset: d.ID, Environment: d.Environment, Region: d.Region}}); err != nil {
			return err
		}
		return s.cfg.Tokens.CommitTx(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	if s.cfg.Jobs != nil {
		s.cfg.Jobs.Wake(JobKind)
	}
	return c, nil
}

// checkTargetTx checks that changeset id of dataset may be corrected: it
// succeeded, nothing corrected it yet and no other correction of it is
// under way.
func (s *Service) checkTargetTx(ctx context.Context, tx store.Tx, dataset, id string) error {
	t, _, err := s.changesets.GetIn(ctx, tx, dataset, id)
	if err != nil {
		return err
	}
	switch {
	case t.Status != StatusSuccess:
		return fault.Invalidf("The changeset %s is %s; only a SUCCESS changeset can be corrected.", id, t.Status)
	case t.UpdatedBy != "":
		return fault.Conflictf("The changeset %s was already corrected by changeset %s; correct that one instead.", id, t.UpdatedBy)
	}
	all, err := s.changesets.List(ctx, tx, store.Query{Parent: dataset})
	if err != nil {
		return err
	}
	for _, o := range all {
		if o.Updates == id && !o.Status.final() {
			return fault.Conflictf("The changeset %s is already being corrected by changeset %s (%s).", id, o.ID, o.Status)
		}
	}
	return nil
}

// GetChangeset returns changeset id of dataset datasetID.
func (s *Service) GetChangeset(ctx context.Context, a *identity.Actor, datasetID, id string) (*Changeset, error) {
	if _, err := s.visible(ctx, a, datasetID, identity.DatasetViewDetails); err != nil {
		return nil, err
	}
	var c *Changeset
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		c, _, err = s.changesets.GetIn(ctx, tx, datasetID, id)
		return err
	})
	return c, err
}

// ListChangesets returns one page of dataset datasetID's changesets, in
// creation order.
func (s *Service) ListChangesets(ctx context.Context, a *identity.Actor, datasetID string, after *store.Cursor, limit int) (paging.Page[*Changeset], error) {
	var page paging.Page[*Changeset]
	if _, err := s.visible(ctx, a, datasetID, identity.DatasetViewDetails); err != nil {
		return page, err
	}
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		page, err = s.changesets.Page(ctx, tx, store.Query{Parent: datasetID, After: after}, limit)
		return err
	})
	return page, err
}

// statusTx is a dataset's status: that of its most recently created
// changeset (RUNNING while it ingests, FAILED if it failed), SUCCESS for a
// dataset without changesets.
func (s *Service) statusTx(ctx context.Context, tx store.Tx, dataset string) (Status, error) {
	last, err := s.changesets.List(ctx, tx, store.Query{Parent: dataset, Reverse: true, Limit: 1})
	if err != nil || len(last) == 0 {
		return StatusSuccess, err
	}
	if last[0].Status == StatusStopRequested {
		return StatusRunning, nil
	}
	return last[0].Status, nil
}

// failure is an ingestion failure the user can act on: it fails the
// changeset at once (no retry) with its category and message.
type failure struct {
	cat ingest.Category
	msg string
	err error
}

func (f *failure) Error() string             { return f.msg }
func (f *failure) Unwrap() error             { return f.err }
func (f *failure) Category() ingest.Category { return f.cat }

func failf(cat ingest.Category, format string, args ...any) error {
	return jobs.Permanent(&failure{cat: cat, msg: fmt.Sprintf(format, args...)})
}

// errorInfo maps an ingestion's last error to errorInfo: the categories of
// package ingest and of failure; anything else is an internal error whose
// text (which may name local paths) stays in the log.
func errorInfo(cause error) (ingest.Category, string) {
	cat := ingest.CategoryOf(cause)
	var c interface{ Category() ingest.Category }
	if cat == ingest.CategoryInternal || !errors.As(cause, &c) {
		return ingest.CategoryInternal, "The changeset could not be ingested because of an internal error; create it again, " +
			"and if it fails again report it to the server's operator."
	}
	return cat, c.(error).Error()
}
