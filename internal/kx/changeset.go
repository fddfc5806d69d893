package kx

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/ids"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/store"
)

// ChangesetKind is the store record kind of kx changesets (Parent =
// "<environment id>/<database name>", ID = that + "/" + changeset id,
// SortKey the inverted sequence number: newest first).
const ChangesetKind = "kxChangeset"

// ChangesetJobKind applies changesets: one job per changeset, enqueued
// with it, keyed by environment (at most Config.PerEnvironment at a time
// in one environment), holding its database's key exclusively (so one
// database's changesets run one at a time, in order: the jobs' due times,
// then their ids, which carry the sequence number) and its region's
// content key shared (a collection waits for them, and they for it).
const ChangesetJobKind = "kxChangeset"

// ChangesetStatus is a kx changeset's status. The model's enum says
// PROCESSING; the real service answered IN_PROGRESS (BEHAVIOR.md §3.4).
type ChangesetStatus string

const (
	ChangesetPending    ChangesetStatus = "PENDING"
	ChangesetInProgress ChangesetStatus = "IN_PROGRESS"
	ChangesetCompleted  ChangesetStatus = "COMPLETED"
	ChangesetFailed     ChangesetStatus = "FAILED"
)

// changesetMachine is the changesets' status machine.
var changesetMachine = Machine[ChangesetStatus]{
	ChangesetPending:    {ChangesetInProgress, ChangesetFailed},
	ChangesetInProgress: {ChangesetCompleted, ChangesetFailed},
	ChangesetCompleted:  {},
	ChangesetFailed:     {},
}

// Final reports whether s is COMPLETED or FAILED.
func (s ChangesetStatus) Final() bool { return s == ChangesetCompleted || s == ChangesetFailed }

// Change types.
const (
	Put    = "PUT"
	Delete = "DELETE"
)

// ChangeRequest is one change of a changeset, as the client sent it.
type ChangeRequest struct {
	Type   string `json:"changeType"`
	S3Path string `json:"s3Path,omitempty"`
	DbPath string `json:"dbPath"`
}

// Error types of a FAILED changeset (model enum ErrorDetails).
const (
	ErrorInvalid  = "The inputs to this request are invalid."
	ErrorDenied   = "Missing required permission to perform this request."
	ErrorNotFound = "One or more inputs to this request were not found."
	ErrorQuota    = "Service limits have been exceeded."
	ErrorInternal = "An internal error has occurred."
)

// Changeset is the stored document of one kx changeset.
type Changeset struct {
	ID          string          `json:"id"`
	Environment string          `json:"environment"`
	Region      string          `json:"region"`
	Database    string          `json:"database"`
	DatabaseUID string          `json:"databaseUid"`
	Seq         int             `json:"seq"`
	Requests    []ChangeRequest `json:"requests"`
	Status      ChangesetStatus `json:"status"`
	CreatedAt   time.Time       `json:"createdAt"`
	UpdatedAt   time.Time       `json:"updatedAt"`
	ActiveFrom  time.Time       `json:"activeFrom,omitzero"`
	ErrorType   string          `json:"errorType,omitempty"`
	ErrorMsg    string          `json:"errorMessage,omitempty"`
	// NumBytes and NumFiles describe the version a COMPLETED changeset
	// made.
	NumBytes int64 `json:"numBytes,omitempty"`
	NumFiles int   `json:"numFiles,omitempty"`
}

// Clone returns a deep copy of c.
func (c *Changeset) Clone() *Changeset {
	d := *c
	d.Requests = append([]ChangeRequest(nil), c.Requests...)
	return &d
}

func changesetParent(env, db string) string { return env + "/" + db }

func changesetID(env, db, id string) string { return changesetParent(env, db) + "/" + id }

// changesetJob is the id of c's job: changesets of one database created
// in the same millisecond (one due time) are claimed in sequence order.
func changesetJob(c *Changeset) string {
	return fmt.Sprintf("kxChangeset/%s/%s/%010d/%s", c.Environment, c.Database, c.Seq, c.ID)
}

// legacyChangesetJob is the id jobs had before (one database's next
// changeset was enqueued when the previous one ended).
func legacyChangesetJob(c *Changeset) string { return "kxChangeset/" + c.ID }

func newChangesetTable() *store.Table[Changeset, *Changeset] {
	return store.NewTable(store.TableDef[Changeset, *Changeset]{
		Kind:    ChangesetKind,
		ID:      func(c *Changeset) string { return changesetID(c.Environment, c.Database, c.ID) },
		Parent:  func(c *Changeset) string { return changesetParent(c.Environment, c.Database) },
		SortKey: func(c *Changeset) string { return fmt.Sprintf("%019d", math.MaxInt64-int64(c.Seq)) },
		Pending: func(c *Changeset) bool { return !c.Status.Final() },
		NotFound: func(id string) error {
			f := fault.NotFoundf("The changeset %s does not exist.", id)
			f.Err = store.ErrNotFound
			return f
		},
		Conflict: func(id string) error {
			return fault.Conflictf("The changeset %s was changed by another request; retry.", id)
		},
	})
}

// CheckDbPath refuses a dbPath a changeset may not name: it must be
// absolute, without empty, "." or ".." segments, NUL or wildcards (those
// are for dataviews' and caches' dbPaths). The model's pattern was checked
// already.
func CheckDbPath(p string) error {
	if !strings.HasPrefix(p, "/") {
		return fault.Invalidf("dbPath %q must start with /.", p)
	}
	if strings.ContainsAny(p, "*?\x00\\") {
		return fault.Invalidf("dbPath %q: wildcards, backslashes and NUL are not allowed in a changeset.", p)
	}
	if p == "/" {
		return nil
	}
	for _, seg := range strings.Split(strings.Trim(p, "/"), "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fault.Invalidf("dbPath %q must not contain empty, . or .. segments.", p)
		}
	}
	return nil
}

func checkRequests(reqs []ChangeRequest) error {
	if len(reqs) == 0 {
		return fault.Invalidf("changeRequests must hold at least one change request.")
	}
	for i, r := range reqs {
		if err := CheckDbPath(r.DbPath); err != nil {
			return fault.Invalidf("changeRequests[%d]: %s", i, err.Error())
		}
		switch r.Type {
		case Put:
			if r.S3Path == "" {
				return fault.Invalidf("changeRequests[%d]: s3Path is required for a PUT.", i)
			}
			if _, _, err := splitS3(r.S3Path); err != nil {
				return fault.Invalidf("changeRequests[%d]: %s", i, err.Error())
			}
		case Delete:
			if r.DbPath == "/" {
				return fault.Invalidf("changeRequests[%d]: a DELETE must name a file or directory below /.", i)
			}
		default:
			return fault.Invalidf("changeRequests[%d]: changeType %q is not PUT or DELETE.", i, r.Type)
		}
	}
	return nil
}

// splitS3 splits s3://bucket/key; key "" or ending in "/" is a prefix.
func splitS3(uri string) (bucket, key string, err error) {
	rest, ok := strings.CutPrefix(uri, "s3://")
	if !ok {
		return "", "", fault.Invalidf("s3Path %q is not an s3://bucket/key URI.", uri)
	}
	bucket, key, _ = strings.Cut(rest, "/")
	if strings.ContainsRune(key, 0) {
		return "", "", fault.Invalidf("s3Path %q contains NUL.", uri)
	}
	for _, seg := range strings.Split(strings.TrimSuffix(key, "/"), "/") {
		if key != "" && (seg == "" || seg == "." || seg == "..") {
			return "", "", fault.Invalidf("s3Path %q must not contain empty, . or .. segments.", uri)
		}
	}
	return bucket, key, nil
}

// CreateChangeset records a changeset of database db in PENDING; it runs
// once the database's earlier changesets finished.
func (s *Service) CreateChangeset(ctx context.Context, region, env, db string, reqs []ChangeRequest) (*Changeset, error) {
	if err := checkRequests(reqs); err != nil {
		return nil, err
	}
	var c *Changeset
	err := s.db.Update(ctx, func(tx store.Tx) error {
		if _, err := s.usableEnvTx(ctx, tx, region, env); err != nil {
			return err
		}
		d, version, err := s.databaseTx(ctx, tx, region, env, db)
		if err != nil {
			return err
		}
		now := s.now().UTC()
		d.Changesets++
		d.UpdatedAt = now
		c = &Changeset{ID: ids.Base62(22), Environment: env, Region: region, Database: db, DatabaseUID: d.UID,
			Seq: d.Changesets, Requests: reqs, Status: ChangesetPending, CreatedAt: now, UpdatedAt: now}
		if err := s.databases.Update(ctx, tx, d, version); err != nil {
			return err
		}
		if err := s.changesets.Insert(ctx, tx, c); err != nil {
			return err
		}
		if err := s.enqueueChangesetTx(ctx, tx, c, now); err != nil {
			return err
		}
		return s.tokens.CommitTx(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	s.jobs.Wake(ChangesetJobKind)
	return c, nil
}

type changesetArgs struct {
	Environment string `json:"environment"`
	Database    string `json:"database"`
	Changeset   string `json:"changeset"`
}

func (s *Service) enqueueChangesetTx(ctx context.Context, tx store.Tx, c *Changeset, now time.Time) error {
	// A job of the former scheme still drives it (a store written by an
	// earlier version): leave it.
	if j, err := jobs.GetTx(ctx, tx, legacyChangesetJob(c)); err == nil && !j.State.Terminal() {
		return nil
	} else if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	err := jobs.EnqueueTx(ctx, tx, now, jobs.Spec{ID: changesetJob(c), Kind: ChangesetJobKind, Key: c.Environment,
		Args:      changesetArgs{Environment: c.Environment, Database: c.Database, Changeset: c.ID},
		Exclusive: []string{databaseLock(c.Environment, c.Database)}, Shared: []string{contentLock(c.Region)},
		Due: c.CreatedAt})
	if errors.Is(err, store.ErrExists) {
		return nil
	}
	return err
}

// GetChangeset returns changeset id of database db.
func (s *Service) GetChangeset(ctx context.Context, region, env, db, id string) (*Changeset, error) {
	var c *Changeset
	err := s.db.View(ctx, func(tx store.Tx) error {
		if _, _, err := s.databaseTx(ctx, tx, region, env, db); err != nil {
			return err
		}
		var err error
		c, _, err = s.changesets.GetIn(ctx, tx, changesetParent(env, db), changesetID(env, db, id))
		if errors.Is(err, store.ErrNotFound) {
			f := fault.NotFoundf("The changeset %s does not exist in database %s.", id, db)
			f.Err = store.ErrNotFound
			return f
		}
		return err
	})
	return c, err
}

// ListChangesets returns one page of database db's changesets, newest
// first (clients read [0] with maxResults=1).
func (s *Service) ListChangesets(ctx context.Context, region, env, db string, after *store.Cursor, limit int) (paging.Page[*Changeset], error) {
	var page paging.Page[*Changeset]
	err := s.db.View(ctx, func(tx store.Tx) error {
		if _, _, err := s.databaseTx(ctx, tx, region, env, db); err != nil {
			return err
		}
		var err error
		page, err = s.changesets.Page(ctx, tx, store.Query{Parent: changesetParent(env, db), After: after}, limit)
		return err
	})
	return page, err
}

// resumeChangesets enqueues every PENDING or IN_PROGRESS changeset (a
// no-op where its job exists), due when it was created: whatever lost a
// job, the database's key keeps them in order.
func (s *Service) resumeChangesets(ctx context.Context) error {
	return s.db.Update(ctx, func(tx store.Tx) error {
		pending, err := s.changesets.List(ctx, tx, store.Query{AnyParent: true, PendingOnly: true})
		if err != nil {
			return err
		}
		now := s.now().UTC()
		for _, c := range pending {
			if err := s.enqueueChangesetTx(ctx, tx, c, now); err != nil {
				return err
			}
		}
		return nil
	})
}
