package dataset

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/glue"
	"github.com/openfinspace/openfinspace/internal/ingest"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/store"
)

// A materialization (one job per requested generation of a view):
//
//  1. STARTING: in one transaction, read the view and the dataset's
//     changesets and choose those visible as of the version's time (a
//     static view's asOfTimestamp; now for an auto-update view);
//  2. stage their stored Parquet files (hard links from the embedded
//     store, or copies);
//  3. RUNNING: DuckDB writes the version's files locally
//     (ingest.Engine.Materialize), which are stored under a fresh prefix
//     datasets/<dataset>/dataviews/<view>/v<gen>-<random>/ that nothing
//     names yet, then synced;
//  4. the switch: one transaction makes the new prefix the view's current
//     version (and the Glue table's location and partitions), with the
//     job's end. Readers see the old version or the new one, never a mix
//     and never a partial one; the previous version stays stored until the
//     next switch, so credentials issued just before it keep working;
//  5. after the commit, older versions (and what failed attempts left) are
//     removed.
//
// A crash anywhere before 4 leaves the view on its previous version; the
// job, claimed again after its lease, starts over under a new prefix.

// ViewJobKindDef is the materialization job kind, to register with the
// engine.
func (s *Service) ViewJobKindDef() *jobs.Kind {
	lease := s.cfg.Lease
	if lease <= 0 {
		lease = 30 * time.Second
	}
	return &jobs.Kind{Name: ViewJobKind, Workers: s.cfg.ViewWorkers, PerKey: s.cfg.PerEnvironment, MaxAttempts: 3,
		Lease: lease, Handler: jobs.HandlerFunc(s.runView), OnFailed: s.onViewFailed}
}

// visibleAsOf reports whether changeset c is part of the dataset as of t
// (epoch milliseconds, the precision clients see): it succeeded at or
// before t and nothing (a REPLACE, a correction) ended it by then.
func visibleAsOf(c *Changeset, t int64) bool {
	if c.Status != StatusSuccess || c.Kind == NonTabular || len(c.Objects) == 0 {
		return false
	}
	if c.ActiveFrom.UnixMilli() > t {
		return false
	}
	return c.ActiveUntil.IsZero() || c.ActiveUntil.UnixMilli() > t
}

// viewPlan is what a materialization reads, chosen in its first
// transaction.
type viewPlan struct {
	view   *DataView
	asOf   time.Time
	inputs []*Changeset
	// removed are the changesets the current version holds and this one
	// does not (a correction's target, what a REPLACE ended).
	removed []*Changeset
	// partial: only the partitions of the changed changesets (inputs
	// the current version lacks, and removed) are rebuilt; the others'
	// files are copied from the current version.
	partial bool
}

func (s *Service) runView(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
	var args viewJobArgs
	if err := r.Args(&args); err != nil {
		return jobs.Result{}, jobs.Permanent(err)
	}
	plan, gone, err := s.startView(ctx, args)
	if gone {
		// The view (or its dataset) was deleted: remove whatever an
		// earlier attempt of it stored after the deletion removed the
		// rest, and finish.
		return jobs.Result{}, s.removePrefix(ctx, s.ManagedBucket(args.Region, args.Environment), viewPrefix(args.Dataset, args.View))
	}
	if err != nil || plan == nil {
		return jobs.Result{}, err
	}
	v := plan.view
	dir := filepath.Join(s.cfg.StagingDir, fmt.Sprintf("view-%s-%d", v.ID, args.Gen))
	if err := os.RemoveAll(dir); err != nil {
		return jobs.Result{}, err
	}
	if err := os.MkdirAll(filepath.Join(dir, "in"), 0o700); err != nil {
		return jobs.Result{}, err
	}
	defer os.RemoveAll(dir)
	if v.Destination.Type == DestinationGlue && s.cfg.Catalog == nil {
		return jobs.Result{}, failf(ingest.CategoryInternal, "This server has no Glue Data Catalog.")
	}
	if s.cfg.Views == nil {
		return jobs.Result{}, errors.New("dataset: no materializer configured")
	}

	start := time.Now()
	stage := func(c *Changeset, i int) (ingest.ViewInput, error) {
		path, err := s.stageStored(ctx, c, filepath.Join(dir, "in"), i)
		if err != nil {
			return ingest.ViewInput{}, err
		}
		in := ingest.ViewInput{Path: path}
		if c.Schema != nil {
			for _, col := range c.Schema.Columns {
				in.Columns = append(in.Columns, ingest.Column{Name: col.Name, Type: ingest.ColumnType(col.Type)})
			}
		}
		return in, nil
	}
	inputs := make([]ingest.ViewInput, 0, len(plan.inputs))
	var touched []ingest.ViewInput
	had := map[string]bool{}
	if v.Current != nil {
		for _, id := range v.Current.Changesets {
			had[id] = true
		}
	}
	for i, c := range plan.inputs {
		in, err := stage(c, i)
		if err != nil {
			return jobs.Result{}, err
		}
		inputs = append(inputs, in)
		if !had[c.ID] {
			touched = append(touched, in)
		}
	}
	if plan.partial {
		for i, c := range plan.removed {
			in, err := stage(c, len(plan.inputs)+i)
			if err != nil {
				return jobs.Result{}, err
			}
			touched = append(touched, in)
		}
	}
	staged := time.Since(start)
	if err := s.markView(ctx, args, ViewRunning); err != nil {
		return jobs.Result{}, err
	}

	spec := ingest.ViewSpec{Inputs: inputs, Schema: v.Schema.engineSchema(), Partition: v.Partition, Sort: v.Sort,
		Format: ingest.ViewFormat(v.Destination.Format), OutDir: filepath.Join(dir, "out"), Header: true,
		Partial: plan.partial, Touched: touched}
	if c, ok := v.Destination.option("compression"); ok {
		spec.Compression = strings.ToLower(c)
	}
	if h, ok := v.Destination.option("header"); ok {
		spec.Header = h == "true"
	}
	spec.Delimiter, _ = v.Destination.option("delimiter")
	spec.Quote, _ = v.Destination.option("quoteChar")
	spec.Escape, _ = v.Destination.option("escapeChar")
	spec.Null, _ = v.Destination.option("nullValue")
	start = time.Now()
	res, err := s.cfg.Views.Materialize(ctx, spec)
	built := time.Since(start)
	if err != nil {
		var re *ingest.RequestError
		if errors.As(err, &re) {
			return jobs.Result{}, failf(ingest.CategoryValidation, "%s: %s.", re.Member, re.Msg)
		}
		return jobs.Result{}, err
	}

	bucket := s.ManagedBucket(v.Region, v.Environment)
	if err := s.cfg.Blobs.EnsureBucket(ctx, bucket); err != nil {
		return jobs.Result{}, err
	}
	ver := &ViewVersion{Gen: args.Gen, Bucket: bucket, Prefix: viewPrefix(v.Dataset, v.ID) + versionName(args.Gen), AsOf: plan.asOf}
	for _, c := range plan.inputs {
		ver.Changesets = append(ver.Changesets, c.ID)
	}
	start = time.Now()
	type entry struct {
		file   ingest.ViewFile
		copied bool
	}
	var entries []entry
	for _, f := range res.Files {
		entries = append(entries, entry{file: f})
	}
	if plan.partial {
		// The partitions not rebuilt keep the current version's files.
		rebuilt := map[string]bool{}
		for _, t := range res.Touched {
			rebuilt[t] = true
		}
		cur := v.Current
		for i, f := range cur.Files {
			folder := f[:max(strings.LastIndexByte(f, '/'), 0)]
			if rebuilt[folder] {
				continue
			}
			var values []string
			for j, fo := range cur.Folders {
				if fo == folder {
					values = cur.Partitions[j]
				}
			}
			entries = append(entries, entry{file: ingest.ViewFile{Path: f, Rows: cur.FileRows[i], Values: values}, copied: true})
		}
	}
	slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.file.Path, b.file.Path) })
	var written, copied int64
	for _, e := range entries {
		f := e.file
		var n int64
		var err error
		if e.copied {
			n, err = s.copyObject(ctx, bucket, v.Current.Prefix+f.Path, ver.Prefix+f.Path)
			copied += n
			ver.Copied++
		} else {
			n, err = s.putFile(ctx, filepath.Join(spec.OutDir, filepath.FromSlash(f.Path)), bucket, ver.Prefix+f.Path)
			written += n
			ver.Rebuilt++
		}
		if err != nil {
			s.removePrefixQuietly(ctx, bucket, ver.Prefix)
			return jobs.Result{}, err
		}
		ver.Rows += f.Rows
		ver.Files = append(ver.Files, f.Path)
		ver.FileRows = append(ver.FileRows, f.Rows)
		if f.Values != nil {
			ver.Partitions = append(ver.Partitions, f.Values)
			ver.Folders = append(ver.Folders, f.Path[:strings.LastIndexByte(f.Path, '/')])
		}
	}
	stored := time.Since(start)
	if ctx.Err() != nil {
		s.removePrefixQuietly(context.WithoutCancel(ctx), bucket, ver.Prefix)
		return jobs.Result{}, ctx.Err()
	}
	if err := blob.Sync(ctx, s.cfg.Blobs); err != nil {
		return jobs.Result{}, err
	}
	return jobs.Result{Commit: func(ctx context.Context, tx store.Tx) error {
		return s.switchViewTx(ctx, tx, args, ver)
	}, Done: func() {
		s.log.Info("data view materialized", "dataview", v.ID, "dataset", v.Dataset, "environment", v.Environment,
			"gen", args.Gen, "as_of", plan.asOf.UnixMilli(), "changesets", len(plan.inputs), "partial", plan.partial,
			"files_rebuilt", ver.Rebuilt, "files_copied", ver.Copied, "rows", ver.Rows, "written_bytes", written,
			"copied_bytes", copied, "stage_ms", staged.Milliseconds(), "duckdb_ms", built.Milliseconds(),
			"store_ms", stored.Milliseconds())
		s.collectVersions(context.Background(), args)
	}}, nil
}

// versionName is a fresh version folder: the generation, and a random
// part so that an attempt never writes where another (a lost lease, a
// crashed process) may still be writing.
func versionName(gen int64) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("v%06d-%s/", gen, hex.EncodeToString(b[:]))
}

// startView reads the view and chooses the changesets of the version,
// marking it STARTING. It returns gone when the view or its dataset was
// deleted, and a nil plan when there is nothing to do: a later request
// supersedes this one (its own job builds the newer version), or this
// generation is built already.
func (s *Service) startView(ctx context.Context, args viewJobArgs) (plan *viewPlan, gone bool, err error) {
	err = s.db.Update(ctx, func(tx store.Tx) error {
		plan, gone = nil, false
		v, version, err := s.views.GetIn(ctx, tx, args.Dataset, args.View)
		if errors.Is(err, store.ErrNotFound) {
			gone = true
			return nil
		}
		if err != nil {
			return err
		}
		if v.Wanted > args.Gen || (v.Current != nil && v.Current.Gen >= args.Gen) {
			return nil
		}
		if _, _, err := s.datasets.Get(ctx, tx, args.Dataset); errors.Is(err, store.ErrNotFound) {
			gone = true
			return nil
		} else if err != nil {
			return err
		}
		now := s.now().UTC()
		asOf := v.AsOf
		if v.AutoUpdate {
			asOf = now.Truncate(time.Millisecond)
		}
		all, err := s.changesets.List(ctx, tx, store.Query{Parent: args.Dataset})
		if err != nil {
			return err
		}
		p := &viewPlan{asOf: asOf}
		for _, c := range all {
			if visibleAsOf(c, asOf.UnixMilli()) {
				p.inputs = append(p.inputs, c)
			}
		}
		p.planPartial(v, all)
		v.Status, v.ErrorCat, v.ErrorMsg, v.ModifiedAt = ViewStarting, "", "", now
		if err := s.views.Update(ctx, tx, v, version); err != nil {
			return err
		}
		p.view = v
		plan = p
		return nil
	})
	return plan, gone, err
}

// planPartial decides whether the version can rebuild only some
// partitions: the view is partitioned, its current version records what it
// holds, and some of that is still there (a REPLACE removes everything:
// the whole view is rebuilt).
func (p *viewPlan) planPartial(v *DataView, all []*Changeset) {
	cur := v.Current
	if cur == nil || len(v.Partition) == 0 || len(cur.Changesets) == 0 || len(cur.FileRows) != len(cur.Files) {
		return
	}
	now := map[string]bool{}
	for _, c := range p.inputs {
		now[c.ID] = true
	}
	byID := map[string]*Changeset{}
	for _, c := range all {
		byID[c.ID] = c
	}
	kept := 0
	for _, id := range cur.Changesets {
		switch c, ok := byID[id]; {
		case !ok || len(c.Objects) == 0:
			return // its data is gone: rebuild everything
		case now[id]:
			kept++
		default:
			p.removed = append(p.removed, c)
		}
	}
	p.partial = kept > 0
}

// markView sets the status of a view whose generation gen is being built
// (when no later request superseded it meanwhile).
func (s *Service) markView(ctx context.Context, args viewJobArgs, st ViewStatus) error {
	return s.db.Update(ctx, func(tx store.Tx) error {
		v, version, err := s.views.GetIn(ctx, tx, args.Dataset, args.View)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil || v.Wanted != args.Gen {
			return err
		}
		v.Status, v.ModifiedAt = st, s.now().UTC()
		return s.views.Update(ctx, tx, v, version)
	})
}

// stageStored makes changeset c's stored Parquet file a local file in dir.
func (s *Service) stageStored(ctx context.Context, c *Changeset, dir string, i int) (string, error) {
	key := c.Objects[0]
	if s.cfg.LocalObject != nil {
		if local, ok := s.cfg.LocalObject(c.Bucket, key); ok {
			p := filepath.Join(dir, fmt.Sprintf("cs-%05d.parquet", i))
			if err := os.Link(local, p); err == nil {
				return p, nil
			}
		}
	}
	p, _, err := blob.StageSource(ctx, s.cfg.Blobs, "s3://"+c.Bucket+"/"+key, dir)
	if err != nil {
		return "", fmt.Errorf("staging the data of changeset %s: %w", c.ID, err)
	}
	return p, nil
}

func (s *Service) putFile(ctx context.Context, path, bucket, key string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	if _, err := s.cfg.Blobs.Put(ctx, bucket, key, f, st.Size()); err != nil {
		return 0, fmt.Errorf("storing data view file: %w", err)
	}
	return st.Size(), nil
}

// copyObject copies a stored file within bucket: on the storage side when
// the store can (blob.Copier), through this process otherwise.
func (s *Service) copyObject(ctx context.Context, bucket, src, dst string) (int64, error) {
	info, err := s.cfg.Blobs.Head(ctx, bucket, src)
	if err != nil {
		return 0, fmt.Errorf("copying data view file %s: %w", src, err)
	}
	if c, ok := s.cfg.Blobs.(blob.Copier); ok && info.Size < 5<<30 {
		if err := c.Copy(ctx, bucket, src, bucket, dst); err != nil {
			return 0, fmt.Errorf("copying data view file %s: %w", src, err)
		}
		return info.Size, nil
	}
	rc, info, err := s.cfg.Blobs.Get(ctx, bucket, src)
	if err != nil {
		return 0, fmt.Errorf("copying data view file %s: %w", src, err)
	}
	defer rc.Close()
	if _, err := s.cfg.Blobs.Put(ctx, bucket, dst, rc, info.Size); err != nil {
		return 0, fmt.Errorf("copying data view file %s: %w", src, err)
	}
	return info.Size, nil
}

func (s *Service) removePrefixQuietly(ctx context.Context, bucket, prefix string) {
	if err := s.removePrefix(ctx, bucket, prefix); err != nil {
		s.log.Warn("removing data view files", "bucket", bucket, "prefix", prefix, "err", err)
	}
}

// switchViewTx makes ver the view's current version, in the transaction
// that ends the job.
func (s *Service) switchViewTx(ctx context.Context, tx store.Tx, args viewJobArgs, ver *ViewVersion) error {
	v, version, err := s.views.GetIn(ctx, tx, args.Dataset, args.View)
	if errors.Is(err, store.ErrNotFound) {
		// Deleted while it ran: fail the attempt; the retry finds nothing
		// and the dataset's prefix (with this version) is gone or going.
		return errors.New("dataset: the data view was deleted during its materialization")
	}
	if err != nil {
		return err
	}
	now := s.now().UTC()
	ver.Built = now
	v.Previous, v.Current = v.Current, ver
	if v.AutoUpdate {
		v.AsOf = ver.AsOf
	}
	v.Status, v.ErrorCat, v.ErrorMsg, v.ModifiedAt = ViewSuccess, "", "", now
	if v.Wanted > args.Gen {
		v.Status = ViewPending // a newer version is asked for; its job follows
	}
	if v.Destination.Type == DestinationGlue {
		if err := s.publishGlueTx(ctx, tx, v); err != nil {
			return err
		}
	}
	return s.views.Update(ctx, tx, v, version)
}

// hiveTypes are the Glue (Hive) column types of the FinSpace types.
var hiveTypes = map[string]string{
	"STRING": "string", "CHAR": "string", "INTEGER": "int", "TINYINT": "tinyint", "SMALLINT": "smallint",
	"BIGINT": "bigint", "FLOAT": "float", "DOUBLE": "double", "DATE": "date", "DATETIME": "timestamp",
	"BOOLEAN": "boolean", "BINARY": "binary",
}

// publishGlueTx registers a GLUE_TABLE view's current version: its table
// (data columns, partition keys, location, Parquet SerDe) and one
// partition per folder, replacing the previous version's.
func (s *Service) publishGlueTx(ctx context.Context, tx store.Tx, v *DataView) error {
	cur := v.Current
	loc := "s3://" + cur.Bucket + "/" + cur.Prefix
	part := map[string]bool{}
	var keys []glue.Column
	for _, p := range v.Partition {
		part[strings.ToLower(p)] = true
	}
	var cols []glue.Column
	for _, c := range v.Schema.Columns {
		gc := glue.Column{Name: strings.ToLower(c.Name), Type: hiveTypes[c.Type], Comment: c.Description}
		if !part[strings.ToLower(c.Name)] {
			cols = append(cols, gc)
		}
	}
	for _, p := range v.Partition {
		for _, c := range v.Schema.Columns {
			if c.Name == p {
				keys = append(keys, glue.Column{Name: strings.ToLower(c.Name), Type: hiveTypes[c.Type]})
			}
		}
	}
	t := glue.Table{Region: v.Region, DatabaseName: v.GlueDatabase, Name: v.GlueTable,
		Description: "FinSpace data view " + v.ID + " of dataset " + v.Dataset, TableType: "EXTERNAL_TABLE",
		PartitionKeys: keys, Storage: glue.ParquetStorage(loc, cols),
		Parameters: map[string]string{"classification": "parquet", "EXTERNAL": "TRUE", "finspace.datasetId": v.Dataset,
			"finspace.dataViewId": v.ID, "finspace.version": strconv.FormatInt(cur.Gen, 10),
			"finspace.asOfTimestamp": strconv.FormatInt(cur.AsOf.UnixMilli(), 10)}}
	parts := make([]glue.PartitionInput, len(cur.Partitions))
	for i, vals := range cur.Partitions {
		parts[i] = glue.PartitionInput{Values: vals, Location: loc + cur.Folders[i] + "/"}
	}
	db := glue.Database{Region: v.Region, Name: v.GlueDatabase,
		Description: "FinSpace data views of environment " + v.Environment}
	return s.cfg.Catalog.PublishTableTx(ctx, tx, db, t, parts)
}

// collectVersions removes a view's stored versions other than its current
// and previous ones (older versions, what failed or crashed attempts
// left). Best effort: what it misses, the next version's collection gets.
func (s *Service) collectVersions(ctx context.Context, args viewJobArgs) {
	var v *DataView
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		v, _, err = s.views.GetIn(ctx, tx, args.Dataset, args.View)
		return err
	})
	if err != nil || v.Current == nil {
		return
	}
	keep := map[string]bool{v.Current.Prefix: true}
	if v.Previous != nil {
		keep[v.Previous.Prefix] = true
	}
	bucket, root := v.Current.Bucket, viewPrefix(v.Dataset, v.ID)
	cursor := ""
	for {
		page, err := s.cfg.Blobs.List(ctx, bucket, blob.ListOptions{Prefix: root, Cursor: cursor})
		if err != nil {
			s.log.Warn("collecting data view versions", "dataview", v.ID, "err", err)
			return
		}
		for _, o := range page.Objects {
			rest := strings.TrimPrefix(o.Key, root)
			folder, _, _ := strings.Cut(rest, "/")
			if keep[root+folder+"/"] {
				continue
			}
			// A version folder of a generation not yet switched may be
			// being written by a running attempt: leave those.
			if g, ok := folderGen(folder); ok && g > v.Current.Gen {
				continue
			}
			if err := s.cfg.Blobs.Delete(ctx, bucket, o.Key); err != nil {
				s.log.Warn("collecting data view versions", "dataview", v.ID, "key", o.Key, "err", err)
			}
		}
		if page.NextCursor == "" {
			return
		}
		cursor = page.NextCursor
	}
}

func folderGen(folder string) (int64, bool) {
	num, _, ok := strings.Cut(strings.TrimPrefix(folder, "v"), "-")
	if !ok {
		return 0, false
	}
	g, err := strconv.ParseInt(num, 10, 64)
	return g, err == nil
}

// onViewFailed records a materialization's terminal failure: FAILED with
// errorInfo, unless a later request supersedes it (its job tries again).
// The current version, if any, stays readable.
func (s *Service) onViewFailed(ctx context.Context, tx store.Tx, j *jobs.Job, cause error) error {
	var args viewJobArgs
	if err := json.Unmarshal(j.Args, &args); err != nil {
		return err
	}
	v, version, err := s.views.GetIn(ctx, tx, args.Dataset, args.View)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || v.Wanted > args.Gen {
		return err
	}
	cat, msg := errorInfo(cause)
	if cat == ingest.CategoryInternal {
		msg = "The data view could not be materialized because of an internal error; create it again, " +
			"and if it fails again report it to the server's operator."
		s.log.Error("data view materialization failed", "dataview", v.ID, "dataset", v.Dataset, "gen", args.Gen, "error", cause)
	} else {
		s.log.Info("data view materialization failed", "dataview", v.ID, "dataset", v.Dataset, "gen", args.Gen, "category", cat)
	}
	v.Status, v.ErrorCat, v.ErrorMsg, v.ModifiedAt = ViewFailed, string(cat), msg, s.now().UTC()
	return s.views.Update(ctx, tx, v, version)
}
