package dataset

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/ingest"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/store"
)

// maxSourceObjects bounds the objects one s3SourcePath prefix may name.
const maxSourceObjects = 10000

// JobKindDef is the ingestion job kind, to register with the engine.
func (s *Service) JobKindDef() *jobs.Kind {
	lease := s.cfg.Lease
	if lease <= 0 {
		lease = 30 * time.Second
	}
	return &jobs.Kind{Name: JobKind, Workers: s.cfg.Workers, PerKey: s.cfg.PerEnvironment, MaxAttempts: 3,
		Lease: lease, Handler: jobs.HandlerFunc(s.runIngestion), OnFailed: s.onFailed}
}

// ManagedBucket is the bucket holding an environment's ingested data.
func (s *Service) ManagedBucket(region, env string) string {
	return blob.WorkingLocationBucket(s.cfg.Account, region, env+"-managed")
}

// SweepStaging removes what earlier runs of this process left in the
// staging directory (a crash mid-ingestion); call before the job engine
// starts. The staging directory belongs to one process.
func (s *Service) SweepStaging() error {
	if s.cfg.StagingDir == "" {
		return nil
	}
	entries, err := os.ReadDir(s.cfg.StagingDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range entries {
		if err := os.RemoveAll(filepath.Join(s.cfg.StagingDir, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

// onFailed records a changeset's terminal failure (the job's last attempt,
// or a failure the user must act on).
func (s *Service) onFailed(ctx context.Context, tx store.Tx, j *jobs.Job, cause error) error {
	var args jobArgs
	if err := json.Unmarshal(j.Args, &args); err != nil {
		return err
	}
	c, version, err := s.changesets.GetIn(ctx, tx, args.Dataset, args.Changeset)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.Status.final() {
		return nil
	}
	cat, msg := errorInfo(cause)
	if cat == ingest.CategoryInternal {
		s.log.Error("changeset ingestion failed", "changeset", c.ID, "dataset", c.Dataset, "environment", c.Environment,
			"outcome", StatusFailed, "category", cat, "error", cause)
	} else {
		// The user's error: what the changeset's errorInfo says.
		s.log.Info("changeset ingestion failed", "changeset", c.ID, "dataset", c.Dataset, "environment", c.Environment,
			"outcome", StatusFailed, "category", cat)
	}
	c.Status, c.ErrorCategory, c.ErrorMessage = StatusFailed, string(cat), msg
	// Counted in the transaction that records it: a failure to commit
	// it is retried by the engine and would count twice (rare; a
	// counter, not a record).
	s.cfg.Metrics.ChangesetFailed(string(cat))
	return s.changesets.Update(ctx, tx, c, version)
}

// runIngestion is one attempt at a changeset: mark it RUNNING, read its
// sources, convert and store them, and commit SUCCESS with the job.
func (s *Service) runIngestion(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
	var args jobArgs
	if err := r.Args(&args); err != nil {
		return jobs.Result{}, jobs.Permanent(err)
	}
	c, done, err := s.start(ctx, args)
	if err != nil || done {
		return jobs.Result{}, err
	}
	if c == nil {
		// The dataset (or changeset) was deleted: remove whatever an
		// earlier attempt stored, and finish.
		return jobs.Result{}, s.removePrefix(ctx, s.ManagedBucket(args.Region, args.Environment), changesetPrefix(args.Dataset, args.Changeset))
	}
	dir := filepath.Join(s.cfg.StagingDir, c.ID)
	if err := os.RemoveAll(dir); err != nil {
		return jobs.Result{}, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return jobs.Result{}, err
	}
	defer os.RemoveAll(dir)

	src, err := parseSource(c.SourceParams)
	if err != nil {
		return jobs.Result{}, failf(ingest.CategoryValidation, "%v", err)
	}
	if err := s.mayRead(c, src); err != nil {
		return jobs.Result{}, err
	}
	objs, err := s.listSource(ctx, src)
	if err != nil {
		return jobs.Result{}, err
	}
	bucket := s.ManagedBucket(c.Region, c.Environment)
	if err := s.cfg.Blobs.EnsureBucket(ctx, bucket); err != nil {
		return jobs.Result{}, err
	}
	prefix := changesetPrefix(c.Dataset, c.ID)
	var stored []string
	var rows, size int64
	var ph phases
	if c.Kind == NonTabular {
		stored, size, err = s.copyFiles(ctx, src, objs, bucket, prefix)
	} else {
		stored, rows, size, err = s.convert(ctx, c, objs, dir, bucket, prefix, &ph)
	}
	if err != nil {
		return jobs.Result{}, err
	}
	if ctx.Err() != nil {
		// Cancelled (the dataset is being deleted) or the lease was lost:
		// this attempt commits nothing, so what it stored goes again.
		s.removeObjects(context.WithoutCancel(ctx), refs(bucket, stored))
		return jobs.Result{}, ctx.Err()
	}
	// What SUCCESS names is on disk before the commit (the embedded
	// store's files are written without fsync).
	if err := blob.Sync(ctx, s.cfg.Blobs); err != nil {
		return jobs.Result{}, err
	}
	return jobs.Result{Commit: func(ctx context.Context, tx store.Tx) error {
		return s.succeedTx(ctx, tx, c.Dataset, c.ID, bucket, stored, rows, size)
	}, Done: func() {
		if s.cfg.Jobs != nil {
			s.cfg.Jobs.Wake(ViewJobKind) // auto-update views (autoUpdateTx)
		}
		s.cfg.Metrics.ChangesetIngested(rows, size)
		s.log.Info("changeset ingested", "changeset", c.ID, "dataset", c.Dataset, "environment", c.Environment,
			"outcome", StatusSuccess, "files", len(objs), "rows", rows, "stored_bytes", size, "linked", ph.linked,
			"stage_ms", ph.stage.Milliseconds(), "convert_ms", ph.convert.Milliseconds(), "store_ms", ph.store.Milliseconds())
	}}, nil
}

func refs(bucket string, keys []string) []objectRef {
	out := make([]objectRef, len(keys))
	for i, k := range keys {
		out[i] = objectRef{bucket, k}
	}
	return out
}

// start reads the changeset and marks it RUNNING. It returns nil when the
// changeset or its dataset is gone, and done when it already finished.
func (s *Service) start(ctx context.Context, args jobArgs) (c *Changeset, done bool, err error) {
	err = s.db.Update(ctx, func(tx store.Tx) error {
		var version int64
		var err error
		c, version, err = s.changesets.GetIn(ctx, tx, args.Dataset, args.Changeset)
		if errors.Is(err, store.ErrNotFound) {
			c = nil
			return nil
		}
		if err != nil {
			return err
		}
		if _, _, err := s.datasets.Get(ctx, tx, args.Dataset); errors.Is(err, store.ErrNotFound) {
			c = nil
			return nil
		} else if err != nil {
			return err
		}
		if c.Status.final() {
			done = true
			return nil
		}
		if c.Status != StatusPending {
			return nil
		}
		c.Status = StatusRunning
		return s.changesets.Update(ctx, tx, c, version)
	})
	return c, done, err
}

// mayRead checks that the environment may read src: its working bucket
// (GetWorkingLocation), where its users stage their files. Other buckets
// on this server belong to other environments or to the operator.
func (s *Service) mayRead(c *Changeset, src source) error {
	wb := blob.WorkingLocationBucket(s.cfg.Account, c.Region, c.Environment)
	if src.bucket != wb {
		return failf(ingest.CategoryAccessDenied, "Access denied reading %s: changesets of this environment read sources only from its working bucket s3://%s/ (GetWorkingLocation).",
			src.uri(), wb)
	}
	return nil
}

// listSource returns the objects src names: one object, or every object
// under a prefix (keys ending in "/" are folder markers and skipped), in
// key order.
func (s *Service) listSource(ctx context.Context, src source) ([]blob.ObjectInfo, error) {
	if src.key != "" && !strings.HasSuffix(src.key, "/") {
		info, err := s.cfg.Blobs.Head(ctx, src.bucket, src.key)
		if err == nil {
			return []blob.ObjectInfo{*info}, nil
		}
		if !errors.Is(err, blob.ErrNotFound) {
			return nil, sourceErr(src.uri(), err)
		}
		src.key += "/" // not an object: maybe a folder
	}
	var out []blob.ObjectInfo
	cursor := ""
	for {
		page, err := s.cfg.Blobs.List(ctx, src.bucket, blob.ListOptions{Prefix: src.key, Cursor: cursor})
		if err != nil {
			return nil, sourceErr(src.uri(), err)
		}
		for _, o := range page.Objects {
			if strings.HasSuffix(o.Key, "/") {
				continue
			}
			out = append(out, o)
			if len(out) > maxSourceObjects {
				return nil, failf(ingest.CategoryValidation, "The source %s holds more than %d objects; split it into several changesets.", src.uri(), maxSourceObjects)
			}
		}
		if page.NextCursor == "" {
			break
		}
		cursor = page.NextCursor
	}
	if len(out) == 0 {
		return nil, failf(ingest.CategoryResourceNotFound, "The source %s names no object (no such key, and no objects under it as a prefix).", strings.TrimSuffix(src.uri(), "/"))
	}
	return out, nil
}

// sourceErr maps an error reading a source: a missing bucket or object is
// the user's to fix, anything else is retried.
func sourceErr(uri string, err error) error {
	switch {
	case errors.Is(err, blob.ErrNoBucket):
		return failf(ingest.CategoryResourceNotFound, "The source %s cannot be read: its bucket does not exist.", uri)
	case errors.Is(err, blob.ErrNotFound):
		return failf(ingest.CategoryResourceNotFound, "The source %s does not exist.", uri)
	case errors.Is(err, blob.ErrInvalidName):
		return failf(ingest.CategoryValidation, "The source %s is not a valid S3 location: %v.", uri, err)
	}
	return fmt.Errorf("reading source %s: %w", uri, err)
}

// convert stages the sources locally, converts them to one Parquet file
// and stores it.
// phases times an ingestion's steps (for the log).
type phases struct {
	stage, convert, store time.Duration
	linked                int
}

func (s *Service) convert(ctx context.Context, c *Changeset, objs []blob.ObjectInfo, dir, bucket, prefix string, ph *phases) ([]string, int64, int64, error) {
	f, err := ingest.ParseFormatParams(c.FormatParams)
	if err != nil {
		return nil, 0, 0, failf(ingest.CategoryValidation, "%v", err)
	}
	if c.Schema == nil {
		return nil, 0, 0, failf(ingest.CategoryValidation, "The dataset has no schema.")
	}
	var total int64
	for _, o := range objs {
		total += o.Size
	}
	if total > s.cfg.MaxSourceBytes {
		return nil, 0, 0, failf(ingest.CategoryServiceQuotaExceeded, "The sources hold %d bytes, more than the %d bytes one changeset may ingest on this server.", total, s.cfg.MaxSourceBytes)
	}
	// Sources the embedded store holds as local files are linked (read in
	// place); only the others are copied, and must fit the free space.
	sources := make([]ingest.Source, len(objs))
	start := time.Now()
	var copied int64
	for i, o := range objs {
		sources[i].Name = "s3://" + o.Bucket + "/" + o.Key
		if p, ok := s.linkSource(o, dir, i); ok {
			sources[i].Path = p
			ph.linked++
		} else {
			copied += o.Size
		}
	}
	if free, ok := s.freeSpace(dir); ok && copied > free {
		return nil, 0, 0, failf(ingest.CategoryServiceQuotaExceeded, "The sources hold %d bytes but the server's staging area has %d bytes free; free space there, or ingest the files in smaller changesets.", copied, free)
	}
	// Copies count against the staging budget every conversion shares
	// (with what they decompress there), and keep the disk's reserve.
	if r, ok := s.cfg.Engine.(stagingReserver); ok && copied > 0 {
		release, err := r.Reserve(copied)
		if err != nil {
			return nil, 0, 0, failf(ingest.CategoryServiceQuotaExceeded, "The sources hold %d bytes to copy into the server's staging area, which has no room for them: %v.", copied, err)
		}
		defer release()
	}
	for i := range sources {
		if sources[i].Path != "" {
			continue
		}
		uri := sources[i].Name
		p, _, err := blob.StageSource(ctx, s.cfg.Blobs, uri, dir)
		if err != nil {
			if isNoSpace(err) {
				return nil, 0, 0, failf(ingest.CategoryServiceQuotaExceeded, "The server's staging area ran out of space while reading %s; free space there, or ingest the files in smaller changesets.", uri)
			}
			return nil, 0, 0, sourceErr(uri, err)
		}
		sources[i].Path = p
	}
	out := filepath.Join(dir, "data.parquet")
	ph.stage = time.Since(start)
	start = time.Now()
	rows, err := s.cfg.Engine.Convert(ctx, sources, f, c.Schema.engineSchema(), out)
	ph.convert = time.Since(start)
	if err != nil {
		var c interface{ Category() ingest.Category }
		if errors.As(err, &c) && c.Category() != ingest.CategoryInternal && c.Category() != ingest.CategoryCancelled {
			return nil, 0, 0, jobs.Permanent(err)
		}
		return nil, 0, 0, err
	}
	for _, src := range sources {
		os.Remove(src.Path) // staged copies are no longer needed
	}
	file, err := os.Open(out)
	if err != nil {
		return nil, 0, 0, err
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil {
		return nil, 0, 0, err
	}
	key := prefix + "data.parquet"
	start = time.Now()
	if _, err := s.cfg.Blobs.Put(ctx, bucket, key, file, st.Size()); err != nil {
		return nil, 0, 0, fmt.Errorf("storing changeset data: %w", err)
	}
	ph.store = time.Since(start)
	return []string{key}, rows, st.Size(), nil
}

// stagingReserver is a Converter whose staging budget copied sources
// count against (*ingest.Engine).
type stagingReserver interface {
	Reserve(n int64) (release func(), err error)
}

// linkSource hard-links object o's local file (Config.LocalObject) into
// dir, when there is one on the same file system and it is the object
// listed (same size); DuckDB then reads it in place.
func (s *Service) linkSource(o blob.ObjectInfo, dir string, i int) (string, bool) {
	if s.cfg.LocalObject == nil {
		return "", false
	}
	local, ok := s.cfg.LocalObject(o.Bucket, o.Key)
	if !ok {
		return "", false
	}
	p := filepath.Join(dir, fmt.Sprintf("linked-%05d%s", i, blob.SafeExt(o.Key)))
	if err := os.Link(local, p); err != nil {
		return "", false
	}
	st, err := os.Lstat(p)
	if err != nil || !st.Mode().IsRegular() || st.Size() != o.Size {
		os.Remove(p) // replaced since the listing, or not a plain file: copy it
		return "", false
	}
	return p, true
}

// copyFiles keeps a NON_TABULAR changeset's files as given: each object is
// copied under prefix + "files/", named by its path below the source
// prefix (or its base name for a single object).
func (s *Service) copyFiles(ctx context.Context, src source, objs []blob.ObjectInfo, bucket, prefix string) ([]string, int64, error) {
	var keys []string
	var total int64
	base := src.key
	if len(objs) == 1 && objs[0].Key == src.key {
		base = path.Dir(src.key) + "/"
		if base == "./" {
			base = ""
		}
	}
	for _, o := range objs {
		rel := strings.TrimPrefix(o.Key, base)
		uri := "s3://" + o.Bucket + "/" + o.Key
		rc, info, err := blob.OpenSource(ctx, s.cfg.Blobs, uri)
		if err != nil {
			return nil, 0, sourceErr(uri, err)
		}
		key := prefix + "files/" + rel
		_, err = s.cfg.Blobs.Put(ctx, bucket, key, rc, info.Size)
		rc.Close()
		if err != nil {
			return nil, 0, fmt.Errorf("storing %s: %w", uri, err)
		}
		keys = append(keys, key)
		total += info.Size
	}
	return keys, total, nil
}

// succeedTx commits a changeset's success: SUCCESS, activeFrom now, what
// it stored; a REPLACE ends every earlier active changeset, a MODIFY its
// target.
func (s *Service) succeedTx(ctx context.Context, tx store.Tx, dataset, id, bucket string, objects []string, rows, size int64) error {
	c, version, err := s.changesets.GetIn(ctx, tx, dataset, id)
	if errors.Is(err, store.ErrNotFound) {
		// Deleted while it ran: fail the attempt so the retry (which finds
		// nothing) removes the stored objects.
		return errors.New("dataset: the changeset was deleted during its ingestion")
	}
	if err != nil {
		return err
	}
	now := s.now().UTC()
	c.Status, c.ActiveFrom, c.Bucket, c.Objects, c.Rows, c.Bytes = StatusSuccess, now, bucket, objects, rows, size
	c.ErrorCategory, c.ErrorMessage = "", ""
	if err := s.changesets.Update(ctx, tx, c, version); err != nil {
		return err
	}
	if err := s.autoUpdateTx(ctx, tx, dataset, now); err != nil {
		return err
	}
	switch c.Type {
	case Replace:
		all, err := s.changesets.List(ctx, tx, store.Query{Parent: dataset})
		if err != nil {
			return err
		}
		for _, o := range all {
			if o.ID == c.ID || o.Status != StatusSuccess || !o.ActiveUntil.IsZero() || o.ActiveFrom.After(now) {
				continue
			}
			_, v, err := s.changesets.Get(ctx, tx, o.ID)
			if err != nil {
				return err
			}
			o.ActiveUntil = now
			if err := s.changesets.Update(ctx, tx, o, v); err != nil {
				return err
			}
		}
	case Modify:
		t, v, err := s.changesets.GetIn(ctx, tx, dataset, c.Updates)
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		t.UpdatedBy = c.ID
		if t.ActiveUntil.IsZero() {
			t.ActiveUntil = now
		}
		return s.changesets.Update(ctx, tx, t, v)
	}
	return nil
}

// removeObjects deletes stored objects, logging (not failing on) errors:
// they are unreferenced already.
func (s *Service) removeObjects(ctx context.Context, objs []objectRef) {
	if s.cfg.Blobs == nil {
		return
	}
	for _, o := range objs {
		if err := s.cfg.Blobs.Delete(ctx, o.bucket, o.key); err != nil {
			s.log.Warn("removing changeset data", "bucket", o.bucket, "key", o.key, "err", err)
		}
	}
}

// removePrefix deletes every object under prefix of bucket (nothing when
// bucket or prefix is empty).
func (s *Service) removePrefix(ctx context.Context, bucket, prefix string) error {
	if bucket == "" || prefix == "" || s.cfg.Blobs == nil {
		return nil
	}
	cursor := ""
	for {
		page, err := s.cfg.Blobs.List(ctx, bucket, blob.ListOptions{Prefix: prefix, Cursor: cursor})
		if errors.Is(err, blob.ErrNoBucket) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, o := range page.Objects {
			if err := s.cfg.Blobs.Delete(ctx, bucket, o.Key); err != nil {
				return err
			}
		}
		if page.NextCursor == "" {
			return nil
		}
		cursor = page.NextCursor
	}
}
