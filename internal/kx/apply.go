package kx

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/kx/kxfs"
	"github.com/openfinspace/openfinspace/internal/store"
)

// The content store: one bucket per region (ContentBucket) holding every
// kx database's file contents once, by SHA-256, and one manifest per
// completed changeset (the version it made).
//
//	sha256/<hh>/<hex>                  file contents
//	manifests/<database uid>/<changeset id>.json
const (
	contentPrefix  = "sha256/"
	manifestPrefix = "manifests/"
	// fileMode is the mode of every file a changeset stores (what kdb+
	// writes); materialized trees drop the write bits.
	fileMode = 0o644
	// inMemoryMax: sources up to this size are read once into memory and
	// hashed there; larger ones are read twice (hash, then store).
	inMemoryMax = 16 << 20
	// maxSourceObjects bounds the objects one changeset may read.
	maxSourceObjects = 200000
)

// ContentBucket is the bucket of region's kx content store.
func (s *Service) ContentBucket(region string) string {
	return blob.WorkingLocationBucket(s.account, region, "kxcontent")
}

func contentKey(hash string) string { return contentPrefix + hash[:2] + "/" + hash }

func manifestKey(dbUID, changeset string) string {
	return manifestPrefix + dbUID + "/" + changeset + ".json"
}

// applyError is a changeset failure the user must act on: errorInfo's
// type and message.
type applyError struct{ typ, msg string }

func (e *applyError) Error() string { return e.msg }

func failf(typ, format string, args ...any) error {
	return jobs.Permanent(&applyError{typ: typ, msg: fmt.Sprintf(format, args...)})
}

// ChangesetJobKindDef is the changeset job kind, to register with the
// engine.
func (s *Service) ChangesetJobKindDef() *jobs.Kind {
	return &jobs.Kind{Name: ChangesetJobKind, Workers: s.workers, PerKey: s.perEnv, MaxAttempts: 5,
		Lease: s.lease, Handler: jobs.HandlerFunc(s.runChangeset), OnFailed: s.changesetFailed}
}

// changesetFailed records a changeset's terminal failure and starts the
// database's next changeset; the previous version stays current.
func (s *Service) changesetFailed(ctx context.Context, tx store.Tx, j *jobs.Job, cause error) error {
	var args changesetArgs
	if err := json.Unmarshal(j.Args, &args); err != nil {
		return err
	}
	c, version, err := s.changesets.Get(ctx, tx, changesetID(args.Environment, args.Database, args.Changeset))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil || c.Status.Final() {
		return err
	}
	typ, msg := ErrorInternal, "An internal error has occurred while applying the changeset."
	var ae *applyError
	if errors.As(cause, &ae) {
		typ, msg = ae.typ, ae.msg
		s.log.Info("kx changeset failed", "changeset", c.ID, "database", c.Database, "environment", c.Environment,
			"outcome", ChangesetFailed, "error_type", typ)
	} else {
		s.log.Error("kx changeset failed", "changeset", c.ID, "database", c.Database, "environment", c.Environment,
			"outcome", ChangesetFailed, "error", cause)
	}
	if err := changesetMachine.Move("The changeset", &c.Status, ChangesetFailed); err != nil {
		return err
	}
	s.metrics.KxChangesetFinished(string(ChangesetFailed), 0, 0)
	now := s.now().UTC()
	c.ErrorType, c.ErrorMsg, c.UpdatedAt = typ, msg, now
	if err := s.changesets.Update(ctx, tx, c, version); err != nil {
		return err
	}
	// What its attempts stored no version references: collect it. (The
	// database's next changeset was waiting for its key.)
	return s.enqueueCollectTx(ctx, tx, c.Region, now)
}

// runChangeset is one attempt at a changeset: IN_PROGRESS, the previous
// version's manifest, the requests applied in order with new contents
// stored by hash, the new manifest stored, and COMPLETED committed with
// the database's counters. An attempt cut short (a crash, a lost lease)
// left at most contents nobody references yet, and a manifest no record
// points to; the next attempt starts again from the previous version.
func (s *Service) runChangeset(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
	var args changesetArgs
	if err := r.Args(&args); err != nil {
		return jobs.Result{}, jobs.Permanent(err)
	}
	c, d, err := s.startChangeset(ctx, args)
	if err != nil || c == nil {
		return jobs.Result{}, err
	}
	bucket := s.ContentBucket(c.Region)
	if err := s.blobs.EnsureBucket(ctx, bucket); err != nil {
		return jobs.Result{}, err
	}
	files := map[string]kxfs.Entry{}
	if d.LastCompleted != "" {
		prev, err := s.readManifest(ctx, bucket, d.UID, d.LastCompleted)
		if err != nil {
			return jobs.Result{}, err
		}
		for _, e := range prev.Files {
			files[e.Path] = e
		}
	}
	for i, req := range c.Requests {
		if err := s.apply(ctx, c, bucket, req, files); err != nil {
			var ae *applyError
			if errors.As(err, &ae) {
				ae.msg = fmt.Sprintf("changeRequests[%d]: %s", i, ae.msg)
			}
			return jobs.Result{}, err
		}
	}
	m := &kxfs.Manifest{Files: make([]kxfs.Entry, 0, len(files))}
	for _, e := range files {
		m.Files = append(m.Files, e)
	}
	m.Sort()
	if err := m.Check(); err != nil {
		return jobs.Result{}, failf(ErrorInvalid, "The changeset would make an invalid database: %s.", strings.TrimPrefix(err.Error(), "kxfs: "))
	}
	data, err := json.Marshal(m)
	if err != nil {
		return jobs.Result{}, err
	}
	if _, err := s.blobs.Put(ctx, bucket, manifestKey(d.UID, c.ID), bytes.NewReader(data), int64(len(data))); err != nil {
		return jobs.Result{}, fmt.Errorf("storing the manifest: %w", err)
	}
	// The contents and manifest the version names are on disk before it
	// is committed (the embedded store's files are written without fsync).
	if err := blob.Sync(ctx, s.blobs); err != nil {
		return jobs.Result{}, err
	}
	nfiles, nbytes := m.Totals()
	return jobs.Result{Done: func() {
		s.metrics.KxChangesetFinished(string(ChangesetCompleted), nfiles, nbytes)
		s.log.Info("kx changeset applied", "changeset", args.Changeset, "database", args.Database, "environment", args.Environment,
			"outcome", ChangesetCompleted, "files", nfiles, "bytes", nbytes)
	}, Commit: func(ctx context.Context, tx store.Tx) error {
		return s.completeTx(ctx, tx, args, d.UID, nfiles, nbytes)
	}}, nil
}

// startChangeset moves the changeset to IN_PROGRESS and returns it with
// its database; nil when either is gone or the changeset is final.
func (s *Service) startChangeset(ctx context.Context, args changesetArgs) (c *Changeset, d *Database, err error) {
	err = s.db.Update(ctx, func(tx store.Tx) error {
		var version int64
		var err error
		c, version, err = s.changesets.Get(ctx, tx, changesetID(args.Environment, args.Database, args.Changeset))
		if errors.Is(err, store.ErrNotFound) {
			c = nil
			return nil
		}
		if err != nil {
			return err
		}
		if d, _, err = s.databases.Get(ctx, tx, databaseID(args.Environment, args.Database)); errors.Is(err, store.ErrNotFound) || (err == nil && d.UID != c.DatabaseUID) {
			c = nil
			return nil
		} else if err != nil {
			return err
		}
		if c.Status.Final() {
			c = nil
			return nil
		}
		if c.Status == ChangesetPending {
			if err := changesetMachine.Move("The changeset", &c.Status, ChangesetInProgress); err != nil {
				return err
			}
			c.UpdatedAt = s.now().UTC()
			return s.changesets.Update(ctx, tx, c, version)
		}
		return nil
	})
	return c, d, err
}

// completeTx commits a changeset's version.
func (s *Service) completeTx(ctx context.Context, tx store.Tx, args changesetArgs, uid string, nfiles int, nbytes int64) error {
	c, cv, err := s.changesets.Get(ctx, tx, changesetID(args.Environment, args.Database, args.Changeset))
	if errors.Is(err, store.ErrNotFound) {
		return nil // the database was deleted while it ran: a collection removes the manifest
	}
	if err != nil {
		return err
	}
	d, dv, err := s.databases.Get(ctx, tx, databaseID(args.Environment, args.Database))
	if errors.Is(err, store.ErrNotFound) || (err == nil && d.UID != uid) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := changesetMachine.Move("The changeset", &c.Status, ChangesetCompleted); err != nil {
		return err
	}
	now := s.now().UTC()
	c.ActiveFrom, c.UpdatedAt, c.NumFiles, c.NumBytes = now, now, nfiles, nbytes
	if err := s.changesets.Update(ctx, tx, c, cv); err != nil {
		return err
	}
	d.LastCompleted, d.NumFiles, d.NumBytes, d.UpdatedAt = c.ID, nfiles, nbytes, now
	if err := s.databases.Update(ctx, tx, d, dv); err != nil {
		return err
	}
	return s.familiesChangesetCompletedTx(ctx, tx, args.Environment, args.Database, c.ID)
}

func (s *Service) readManifest(ctx context.Context, bucket, uid, changeset string) (*kxfs.Manifest, error) {
	rc, _, err := s.blobs.Get(ctx, bucket, manifestKey(uid, changeset))
	if err != nil {
		return nil, fmt.Errorf("reading the manifest of %s: %w", changeset, err)
	}
	defer rc.Close()
	var m kxfs.Manifest
	if err := json.NewDecoder(rc).Decode(&m); err != nil {
		return nil, fmt.Errorf("decoding the manifest of %s: %w", changeset, err)
	}
	return &m, nil
}

// Manifest returns the version changeset made of database db (a COMPLETED
// changeset), for materializing it.
func (s *Service) Manifest(ctx context.Context, region, env, db, changeset string) (*kxfs.Manifest, error) {
	c, err := s.GetChangeset(ctx, region, env, db, changeset)
	if err != nil {
		return nil, err
	}
	if c.Status != ChangesetCompleted {
		return nil, fmt.Errorf("kx: changeset %s is %s, not COMPLETED", changeset, c.Status)
	}
	return s.readManifest(ctx, s.ContentBucket(region), c.DatabaseUID, changeset)
}

// Fetch opens stored content by hash (kxfs.Fetch of region).
func (s *Service) Fetch(region string) kxfs.Fetch {
	return func(ctx context.Context, hash string) (io.ReadCloser, error) {
		rc, _, err := s.blobs.Get(ctx, s.ContentBucket(region), contentKey(hash))
		return rc, err
	}
}

// dbRel turns a checked dbPath into a manifest path prefix: "" for "/",
// "a/b" for "/a/b/" or "/a/b".
func dbRel(dbPath string) string { return strings.Trim(dbPath, "/") }

func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// apply applies one change request to files.
func (s *Service) apply(ctx context.Context, c *Changeset, bucket string, req ChangeRequest, files map[string]kxfs.Entry) error {
	dir := dbRel(req.DbPath)
	if req.Type == Delete {
		for p := range files {
			if p == dir || strings.HasPrefix(p, dir+"/") {
				delete(files, p)
			}
		}
		return nil
	}
	srcBucket, key, err := splitS3(req.S3Path)
	if err != nil {
		return failf(ErrorInvalid, "%s", err.Error())
	}
	if err := s.mayRead(c.Region, srcBucket); err != nil {
		return err
	}
	objs, err := s.listSource(ctx, srcBucket, key)
	if err != nil {
		return err
	}
	type job struct {
		obj  blob.ObjectInfo
		path string
	}
	var todo []job
	for _, o := range objs {
		var rel string
		if strings.HasSuffix(key, "/") || key == "" {
			rel = strings.TrimPrefix(o.Key, key)
		} else {
			rel = path.Base(o.Key)
		}
		p := joinRel(dir, rel)
		if err := kxfs.CheckPath(p); err != nil {
			return failf(ErrorInvalid, "The object s3://%s/%s cannot be placed at /%s: %s.", o.Bucket, o.Key, p, strings.TrimPrefix(err.Error(), "kxfs: "))
		}
		todo = append(todo, job{o, p})
	}
	results := make([]kxfs.Entry, len(todo))
	errs := make([]error, len(todo))
	next := make(chan int)
	var wg sync.WaitGroup
	for w := 0; w < s.copyWorkers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				results[i], errs[i] = s.store(ctx, bucket, todo[i].obj)
			}
		}()
	}
	for i := range todo {
		next <- i
	}
	close(next)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return err
		}
		e := results[i]
		e.Path = todo[i].path
		files[e.Path] = e
	}
	return nil
}

// mayRead decides which buckets a changeset may read: every bucket of the
// account on this server except openfinspace's own (named
// "finspace-<region>-…": the kx content store, finspace-data working and
// managed buckets), which on AWS live in service accounts no changeset
// can read. Refusals and S3 AccessDenied answers fail the changeset with
// errorType "Missing required permission to perform this request.".
func (s *Service) mayRead(region, bucket string) error {
	if strings.HasPrefix(bucket, "finspace-"+region+"-") || bucket == s.ContentBucket(region) {
		return failf(ErrorDenied, "Access denied reading s3://%s/: the bucket belongs to the service, not to your account.", bucket)
	}
	return nil
}

// listSource returns the objects a PUT's s3Path names: one object, or
// every object under a prefix (folder markers skipped). A prefix with no
// objects is an empty list (the real service accepted it); a missing
// single object fails.
func (s *Service) listSource(ctx context.Context, bucket, key string) ([]blob.ObjectInfo, error) {
	uri := "s3://" + bucket + "/" + key
	if key != "" && !strings.HasSuffix(key, "/") {
		info, err := s.blobs.Head(ctx, bucket, key)
		if err != nil {
			return nil, sourceErr(uri, err)
		}
		return []blob.ObjectInfo{*info}, nil
	}
	var out []blob.ObjectInfo
	cursor := ""
	for {
		page, err := s.blobs.List(ctx, bucket, blob.ListOptions{Prefix: key, Cursor: cursor})
		if err != nil {
			return nil, sourceErr(uri, err)
		}
		for _, o := range page.Objects {
			if strings.HasSuffix(o.Key, "/") {
				continue
			}
			out = append(out, o)
		}
		if len(out) > maxSourceObjects {
			return nil, failf(ErrorQuota, "The source %s holds more than %d objects.", uri, maxSourceObjects)
		}
		if page.NextCursor == "" {
			return out, nil
		}
		cursor = page.NextCursor
	}
}

// sourceErr maps an error reading a source: what the user must fix fails
// the changeset; anything else is retried.
func sourceErr(uri string, err error) error {
	var coded interface{ ErrorCode() string }
	switch {
	case errors.Is(err, blob.ErrNoBucket):
		return failf(ErrorNotFound, "The source %s cannot be read: its bucket does not exist.", uri)
	case errors.Is(err, blob.ErrNotFound):
		return failf(ErrorNotFound, "The source %s does not exist.", uri)
	case errors.Is(err, blob.ErrInvalidName):
		return failf(ErrorInvalid, "The source %s is not a valid S3 location.", uri)
	case errors.As(err, &coded) && (coded.ErrorCode() == "AccessDenied" || coded.ErrorCode() == "Forbidden"):
		return failf(ErrorDenied, "Access denied reading %s.", uri)
	}
	return fmt.Errorf("reading source %s: %w", uri, err)
}

// store copies one source object into the content store (unless its
// content is there already) and returns its entry (without path).
func (s *Service) store(ctx context.Context, bucket string, o blob.ObjectInfo) (_ kxfs.Entry, retErr error) {
	uri := "s3://" + o.Bucket + "/" + o.Key
	local := true
	open := func() (io.ReadCloser, *blob.ObjectInfo, error) {
		if local {
			if f := s.openLocal(o); f != nil {
				return f, &blob.ObjectInfo{Bucket: o.Bucket, Key: o.Key, Size: o.Size}, nil
			}
			local = false // and for the second read too
		}
		rc, info, err := s.blobs.Get(ctx, o.Bucket, o.Key)
		if err != nil {
			return nil, nil, sourceErr(uri, err)
		}
		return rc, info, nil
	}
	rc, info, err := open()
	if err != nil {
		return kxfs.Entry{}, err
	}
	// A source read in place stays open until it is stored: it may be
	// linked as the content rather than copied.
	lf, _ := rc.(*os.File)
	if lf != nil {
		defer lf.Close()
	}
	h := sha256.New()
	var buf []byte
	var n int64
	switch {
	case o.Size <= inMemoryMax && info != nil && info.Size == o.Size:
		// Into a pooled buffer of the listed size, given back once stored
		// (not after a failed Put, whose transport may still read it).
		bp := getBuf(o.Size)
		defer func() {
			if retErr == nil {
				putBuf(bp)
			}
		}()
		buf = (*bp)[:o.Size]
		err = readExactly(rc, buf)
		h.Write(buf)
		n = o.Size
	case o.Size <= inMemoryMax:
		buf, err = io.ReadAll(rc)
		h.Write(buf)
		n = int64(len(buf))
	default:
		n, err = io.Copy(h, rc)
	}
	if lf == nil {
		rc.Close()
	}
	if err != nil {
		return kxfs.Entry{}, sourceErr(uri, err)
	}
	e := kxfs.Entry{Hash: hex.EncodeToString(h.Sum(nil)), Size: n, Mode: fileMode}
	key := contentKey(e.Hash)
	if info, err := s.blobs.Head(ctx, bucket, key); err == nil && info.Size == n {
		return e, nil
	} else if err != nil && !errors.Is(err, blob.ErrNotFound) {
		return kxfs.Entry{}, err
	}
	if lf != nil && s.linkObject != nil {
		// The file hashed is the file linked (its descriptor, not its
		// name, which the store may have given another file since).
		if ok, err := s.linkObject(lf, bucket, key); err != nil {
			return kxfs.Entry{}, fmt.Errorf("linking %s: %w", uri, err)
		} else if ok {
			return e, nil
		}
	}
	var body io.Reader
	if buf != nil {
		body = bytes.NewReader(buf)
	} else {
		var rc io.ReadCloser
		if rc, _, err = open(); err != nil {
			return kxfs.Entry{}, err
		}
		defer rc.Close()
		// The object must not change between the two reads.
		body = &hashingReader{r: rc, h: sha256.New(), want: e.Hash}
	}
	// The store need not hash the body again to sign it: its SHA-256 is
	// the key, and the S3 service still checks the body against it.
	if _, err := blob.PutSHA256(ctx, s.blobs, bucket, key, body, n, e.Hash); err != nil {
		var ae *applyError
		if errors.As(err, &ae) {
			return kxfs.Entry{}, err
		}
		return kxfs.Entry{}, fmt.Errorf("storing %s: %w", uri, err)
	}
	return e, nil
}

// openLocal opens the file holding source o on this machine
// (Config.LocalObject), or returns nil: there is none, it is a symbolic
// link, or it is not a regular file of the listed size (replaced since the
// listing). The open file stays the object it was even if the store
// replaces it (by linking a new file in its place).
func (s *Service) openLocal(o blob.ObjectInfo) *os.File {
	if s.localObject == nil {
		return nil
	}
	p, ok := s.localObject(o.Bucket, o.Key)
	if !ok {
		return nil
	}
	f, err := os.OpenFile(p, os.O_RDONLY|syscall.O_NOFOLLOW|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil
	}
	if st, err := f.Stat(); err != nil || !st.Mode().IsRegular() || st.Size() != o.Size {
		f.Close()
		return nil
	}
	return f
}

// hashingReader fails at EOF when what it read does not hash to want.
type hashingReader struct {
	r io.Reader
	h interface {
		io.Writer
		Sum([]byte) []byte
	}
	want string
}

func (r *hashingReader) Read(p []byte) (int, error) {
	n, err := r.r.Read(p)
	r.h.Write(p[:n])
	if err == io.EOF && hex.EncodeToString(r.h.Sum(nil)) != r.want {
		return n, errors.New("kx: the source object changed while it was copied")
	}
	return n, err
}

// The collection of region's content store holds the region's content
// key exclusively (contentKey), which every changeset of the region holds
// shared (package jobs): no changeset runs while it marks and sweeps, so
// nothing it removes can be referenced by a version being made; and it
// waits for the running ones to end. It stops deleting as soon as its
// lease is no longer certainly held (Run.LeaseHeld): another process may
// have taken the job over.
const (
	// CollectJobKind collects the content store after deletions.
	CollectJobKind = "kxCollect"
)

// errLeaseLost stops a sweep whose lease is no longer certainly held.
var errLeaseLost = errors.New("kx: the collection is no longer certain of its lease; it stops and runs again")

type collectArgs struct {
	Region string `json:"region"`
}

// contentLock is the exclusive key of region's content store: shared by
// its changesets, exclusive to its collection.
func contentLock(region string) string { return "kxcontent/" + region }

// databaseLock is the exclusive key of one database's changesets: they
// run one at a time, in order.
func databaseLock(env, db string) string { return "kxdb/" + env + "/" + db }

func (s *Service) enqueueCollectTx(ctx context.Context, tx store.Tx, region string, now time.Time) error {
	return jobs.EnqueueTx(ctx, tx, now, jobs.Spec{ID: "kxCollect/" + region + "/" + fmt.Sprint(now.UnixNano()),
		Kind: CollectJobKind, Key: region, Args: collectArgs{Region: region}, Exclusive: []string{contentLock(region)}})
}

// CollectJobKindDef is the collection job kind: one at a time per region
// (its exclusive key), never beside the region's changesets.
func (s *Service) CollectJobKindDef() *jobs.Kind {
	return &jobs.Kind{Name: CollectJobKind, Workers: 1, MaxAttempts: 20, Lease: s.lease,
		Handler: jobs.HandlerFunc(s.runCollect)}
}

// runCollect removes the contents and manifests of region's content store
// that no COMPLETED changeset of a live database references.
func (s *Service) runCollect(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
	var args collectArgs
	if err := r.Args(&args); err != nil {
		return jobs.Result{}, jobs.Permanent(err)
	}
	if s.blobs == nil {
		return jobs.Result{}, nil
	}
	return jobs.Result{}, s.collect(ctx, args.Region, r.LeaseHeld)
}

// collect is runCollect's work; held says whether the run may still
// delete.
func (s *Service) collect(ctx context.Context, region string, held func() bool) error {
	var versions map[string]bool // manifest keys
	err := s.db.View(ctx, func(tx store.Tx) error {
		busy, err := s.changesets.List(ctx, tx, store.Query{AnyParent: true, PendingOnly: true})
		if err != nil {
			return err
		}
		for _, c := range busy {
			// None is, under the content key, unless its job was enqueued
			// by a version before the key existed.
			if c.Region == region && c.Status == ChangesetInProgress {
				return errors.New("kx: a changeset is in progress; the collection waits")
			}
		}
		versions = map[string]bool{}
		all, err := s.changesets.List(ctx, tx, store.Query{AnyParent: true})
		if err != nil {
			return err
		}
		for _, c := range all {
			if c.Region == region && c.Status == ChangesetCompleted {
				versions[manifestKey(c.DatabaseUID, c.ID)] = true
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	bucket := s.ContentBucket(region)
	live := map[string]bool{}
	err = s.eachObject(ctx, bucket, manifestPrefix, func(o blob.ObjectInfo) error {
		if !versions[o.Key] {
			if !held() {
				return errLeaseLost
			}
			return s.blobs.Delete(ctx, bucket, o.Key)
		}
		rc, _, err := s.blobs.Get(ctx, bucket, o.Key)
		if err != nil {
			return err
		}
		defer rc.Close()
		var m kxfs.Manifest
		if err := json.NewDecoder(rc).Decode(&m); err != nil {
			return err
		}
		for _, e := range m.Files {
			live[e.Hash] = true
		}
		return nil
	})
	if err == nil {
		err = s.eachObject(ctx, bucket, contentPrefix, func(o blob.ObjectInfo) error {
			if live[path.Base(o.Key)] {
				return nil
			}
			if !held() {
				return errLeaseLost
			}
			return s.blobs.Delete(ctx, bucket, o.Key)
		})
	}
	return err
}

func (s *Service) eachObject(ctx context.Context, bucket, prefix string, fn func(blob.ObjectInfo) error) error {
	cursor := ""
	for {
		page, err := s.blobs.List(ctx, bucket, blob.ListOptions{Prefix: prefix, Cursor: cursor})
		if errors.Is(err, blob.ErrNoBucket) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, o := range page.Objects {
			if err := fn(o); err != nil {
				return err
			}
		}
		if page.NextCursor == "" {
			return nil
		}
		cursor = page.NextCursor
	}
}
