// Package dataviews is the kx dataviews family (CreateKxDataview,
// GetKxDataview, ListKxDataviews, UpdateKxDataview, DeleteKxDataview): a
// dataview is a versioned view of a kx database at a changeset (the one
// asked for, or with autoUpdate the database's latest), laid out in
// segments. Each version is materialized on local disk: the files whose
// path matches a segment's dbPaths on that segment's volume
// (<volume dir>/dataviews/<database>/<dataview>/<version>/), the rest in
// the default segment under the data dir (<root>/<environment>/<database>/
// <dataview>/<version>/); every file a hard link into a content cache, so
// a version costs its directory entries, not its bytes.
//
// Written on package resource and registered with kx.Service as a
// kx.Family (ARN …/kxDatabase/<db>/kxDataview/<name>, removed with the
// environment). Volumes are the volumes family's: a segment names an
// ACTIVE volume, and a volume a dataview uses cannot be deleted (this
// family's rule, registered with volumes.Service.Guard).
package dataviews

import (
	"context"
	"errors"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/ids"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/kx"
	"github.com/openfinspace/openfinspace/internal/kx/kxfs"
	"github.com/openfinspace/openfinspace/internal/kx/volumes"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/resource"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/tagging"
)

// Kind is the store record kind and the lifecycle job kind.
const Kind = "kxDataview"

// Status is a dataview status (model enum KxDataviewStatus).
type Status string

const (
	Creating Status = "CREATING"
	Active   Status = "ACTIVE"
	Updating Status = "UPDATING"
	Failed   Status = "FAILED"
	Deleting Status = "DELETING"
)

func (s Status) inFlight() bool { return s == Creating || s == Updating || s == Deleting }

// Segment is one segment configuration: the database paths it holds, on
// which volume.
type Segment struct {
	DBPaths  []string `json:"dbPaths"`
	Volume   string   `json:"volume"`
	OnDemand bool     `json:"onDemand,omitempty"`
}

// Version is one materialized version of a dataview.
type Version struct {
	ID        string    `json:"id"`
	Changeset string    `json:"changeset,omitempty"`
	Segments  []Segment `json:"segments,omitempty"`
	CreatedAt time.Time `json:"createdAt"`
}

// Dataview is the stored document of one dataview.
type Dataview struct {
	Environment string `json:"environment"`
	Region      string `json:"region"`
	Database    string `json:"database"`
	Name        string `json:"name"`
	UID         string `json:"uid"`
	ARN         string `json:"arn"`
	AZMode      string `json:"azMode"`
	Zone        string `json:"zone,omitempty"`
	Description string `json:"description,omitempty"`
	AutoUpdate  bool   `json:"autoUpdate,omitempty"`
	ReadWrite   bool   `json:"readWrite,omitempty"`
	// Changeset and Segments are what the dataview is asked to hold; the
	// version building them is Next until it is made, then the first of
	// Versions (the active ones, newest first).
	Changeset    string    `json:"changeset,omitempty"`
	Segments     []Segment `json:"segments,omitempty"`
	Next         *Version  `json:"next,omitempty"`
	Versions     []Version `json:"versions,omitempty"`
	Status       Status    `json:"status"`
	StatusReason string    `json:"statusReason,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// Clone returns a deep copy of d.
func (d *Dataview) Clone() *Dataview {
	c := *d
	c.Segments = cloneSegments(d.Segments)
	if d.Next != nil {
		n := *d.Next
		n.Segments = cloneSegments(n.Segments)
		c.Next = &n
	}
	c.Versions = make([]Version, len(d.Versions))
	for i, v := range d.Versions {
		v.Segments = cloneSegments(v.Segments)
		c.Versions[i] = v
	}
	return &c
}

func cloneSegments(ss []Segment) []Segment {
	out := slices.Clone(ss)
	for i := range out {
		out[i].DBPaths = slices.Clone(out[i].DBPaths)
	}
	return out
}

// name is the dataview's name within its environment (the table is
// scoped by environment, so the environment's deletion finds them all).
func (d *Dataview) scopedName() string { return d.Database + "/" + d.Name }

// Config builds a Service.
type Config struct {
	Kx      *kx.Service
	Volumes *volumes.Service
	Mutate  resource.Mutator
	// Root holds the default segments and the content cache
	// (<data dir>/kx/dataviews).
	Root      string
	StepDelay time.Duration
	Now       func() time.Time
}

// Service implements the dataview operations.
type Service struct {
	kx    *kx.Service
	vols  *volumes.Service
	m     resource.Mutator
	root  string
	now   func() time.Time
	views *resource.Scoped[Dataview, *Dataview]
	lc    *resource.Lifecycle[Dataview, *Dataview]
}

// New returns the service and registers the family with cfg.Kx and its
// rule with cfg.Volumes.
func New(cfg Config) *Service {
	s := &Service{kx: cfg.Kx, vols: cfg.Volumes, m: cfg.Mutate, root: cfg.Root, now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	s.views = resource.NewScoped(resource.Def[Dataview, *Dataview]{Kind: Kind, Noun: "dataview", ParentNoun: "environment",
		Parent: func(d *Dataview) string { return d.Environment }, Name: (*Dataview).scopedName,
		Pending: func(d *Dataview) bool { return d.Status.inFlight() }})
	s.lc = &resource.Lifecycle[Dataview, *Dataview]{Kind: Kind, Table: s.views, Delay: cfg.StepDelay, Now: s.now,
		UID: func(d *Dataview) string { return d.UID },
		Phase: func(d *Dataview) string {
			switch {
			case d.Status == Deleting:
				return "delete"
			case d.Next != nil:
				return "version-" + d.Next.ID
			}
			return ""
		},
		DB: cfg.Mutate.DB, Prepare: s.prepare, Next: s.step, Failed: s.failed}
	cfg.Kx.Register(kx.Family{ARNType: "kxDataview", Exists: s.exists, DeleteAll: s.deleteAllTx,
		BlocksDatabaseDelete: s.blocksDatabaseDeleteTx, ChangesetCompleted: s.followTx})
	cfg.Volumes.Guard(s.volumeInUseTx)
	return s
}

// CreateInput is what CreateKxDataview asks for.
type CreateInput struct {
	Database, Name, AZMode, Zone, Changeset, Description string
	AutoUpdate, ReadWrite                                bool
	Segments                                             []Segment
	Tags                                                 map[string]string
}

// checkSegments validates the segment configurations against the
// environment's volumes.
func (s *Service) checkSegmentsTx(ctx context.Context, tx store.Tx, region, env string, segs []Segment) error {
	for _, sg := range segs {
		if sg.Volume == "" || len(sg.DBPaths) == 0 {
			return fault.Invalidf("Each segment configuration needs a volumeName and dbPaths.")
		}
		for _, p := range sg.DBPaths {
			if !strings.HasPrefix(p, "/") {
				return fault.Invalidf("The dbPath %s does not start with /.", p)
			}
			if _, err := path.Match(p, "/"); err != nil {
				return fault.Invalidf("The dbPath %s is not a valid path pattern.", p)
			}
		}
		if err := s.vols.UsableTx(ctx, tx, region, env, sg.Volume); err != nil {
			return err
		}
	}
	return nil
}

// Create records a new dataview in CREATING; its first version is built a
// step later, and it is ACTIVE.
func (s *Service) Create(ctx context.Context, region, env string, in CreateInput) (*Dataview, error) {
	if in.AZMode != "SINGLE" {
		return nil, fault.Invalidf("A dataview is in one availability zone: azMode SINGLE with availabilityZoneId.")
	}
	if in.AutoUpdate && in.Changeset != "" {
		return nil, fault.Invalidf("changesetId cannot be given with autoUpdate: the dataview follows the database's latest changeset.")
	}
	if in.ReadWrite && in.AutoUpdate {
		return nil, fault.Invalidf("A read-write dataview cannot be autoUpdate.")
	}
	var d *Dataview
	err := s.m.Mutate(ctx, func(tx *resource.Tx) error {
		e, err := s.kx.LiveEnvironmentTx(ctx, tx, region, env)
		if err != nil {
			return err
		}
		if in.Zone == "" || !slices.Contains(e.AvailabilityZoneIDs, in.Zone) {
			return fault.Invalidf("availabilityZoneId must be one of the environment's zones (%s).", strings.Join(e.AvailabilityZoneIDs, ", "))
		}
		db, err := s.kx.DatabaseTx(ctx, tx, region, env, in.Database)
		if err != nil {
			return err
		}
		cs := in.Changeset
		if cs == "" {
			cs = db.LastCompleted
		} else if err := s.kx.CompletedChangesetTx(ctx, tx, env, in.Database, cs); err != nil {
			return err
		}
		if err := s.checkSegmentsTx(ctx, tx, region, env, in.Segments); err != nil {
			return err
		}
		now := s.now().UTC()
		d = &Dataview{Environment: env, Region: region, Database: in.Database, Name: in.Name, UID: ids.LowerAlnum(16),
			ARN: db.ARN + "/kxDataview/" + in.Name, AZMode: in.AZMode, Zone: in.Zone, Description: in.Description,
			AutoUpdate: in.AutoUpdate, ReadWrite: in.ReadWrite, Changeset: cs, Segments: cloneSegments(in.Segments),
			Status: Creating, CreatedAt: now, UpdatedAt: now}
		d.Next = &Version{ID: ids.Base62(22), Changeset: cs, Segments: cloneSegments(in.Segments)}
		if err := s.views.InsertTagged(ctx, tx, d, d.ARN, in.Tags); err != nil {
			return err
		}
		return s.lc.EnqueueTx(ctx, tx, d)
	})
	return d, err
}

// Get returns dataview name of database db.
func (s *Service) Get(ctx context.Context, region, env, db, name string) (*Dataview, error) {
	var d *Dataview
	err := s.m.View(ctx, func(tx store.Tx) error {
		var err error
		d, err = s.dataviewTx(ctx, tx, region, env, db, name)
		return err
	})
	return d, err
}

func (s *Service) dataviewTx(ctx context.Context, tx store.Tx, region, env, db, name string) (*Dataview, error) {
	if _, err := s.kx.DatabaseTx(ctx, tx, region, env, db); err != nil {
		return nil, err
	}
	d, _, err := s.views.Get(ctx, tx, env, db+"/"+name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, notFound(db, name)
	}
	return d, err
}

func notFound(db, name string) error {
	f := fault.NoSuchIn("dataview", name, "database", db)
	f.Err = store.ErrNotFound
	return f
}

// List returns one page of database db's dataviews, by name.
func (s *Service) List(ctx context.Context, region, env, db string, after *store.Cursor, limit int) (paging.Page[*Dataview], error) {
	var page paging.Page[*Dataview]
	err := s.m.View(ctx, func(tx store.Tx) error {
		if _, err := s.kx.DatabaseTx(ctx, tx, region, env, db); err != nil {
			return err
		}
		var err error
		page, err = s.views.List(ctx, tx, env, after, limit)
		return err
	})
	if err == nil {
		page.Items = slices.DeleteFunc(page.Items, func(d *Dataview) bool { return d.Database != db })
	}
	return page, err
}

// UpdateInput is what UpdateKxDataview may change; nil leaves a field.
type UpdateInput struct {
	Description *string
	Changeset   *string
	Segments    []Segment // nil: unchanged
}

// Update changes the description, or asks for a new version at another
// changeset or with other segments: UPDATING, then ACTIVE with the new
// version as the active one (a dataview still CREATING builds the new
// configuration instead of the first).
func (s *Service) Update(ctx context.Context, region, env, db, name string, in UpdateInput) (*Dataview, error) {
	var d *Dataview
	err := s.m.Mutate(ctx, func(tx *resource.Tx) error {
		if _, err := s.kx.LiveEnvironmentTx(ctx, tx, region, env); err != nil {
			return err
		}
		var err error
		if d, err = s.dataviewTx(ctx, tx, region, env, db, name); err != nil {
			return err
		}
		_, version, err := s.views.Get(ctx, tx, env, d.scopedName())
		if err != nil {
			return err
		}
		if d.Status != Active && d.Status != Failed && d.Status != Creating {
			return fault.Conflictf("The dataview %s is in %s state.", name, d.Status)
		}
		if in.Description != nil {
			d.Description = *in.Description
		}
		cs, segs := d.Changeset, d.Segments
		if in.Changeset != nil && *in.Changeset != d.Changeset {
			if d.AutoUpdate {
				return fault.Invalidf("The dataview %s follows its database (autoUpdate): changesetId cannot be set.", name)
			}
			if err := s.kx.CompletedChangesetTx(ctx, tx, env, db, *in.Changeset); err != nil {
				return err
			}
			cs = *in.Changeset
		}
		if in.Segments != nil {
			if err := s.checkSegmentsTx(ctx, tx, region, env, in.Segments); err != nil {
				return err
			}
			segs = cloneSegments(in.Segments)
		}
		d.UpdatedAt = s.now().UTC()
		if cs != d.Changeset || !segmentsEqual(segs, d.Segments) || d.Status == Failed {
			if d.Status != Creating { // a dataview still creating builds the new configuration instead
				d.Status = Updating
			}
			d.Changeset, d.Segments, d.StatusReason = cs, segs, ""
			d.Next = &Version{ID: ids.Base62(22), Changeset: cs, Segments: cloneSegments(segs)}
		}
		if err := s.views.Update(ctx, tx, d, version); err != nil {
			return err
		}
		return s.lc.EnqueueTx(ctx, tx, d)
	})
	return d, err
}

func segmentsEqual(a, b []Segment) bool {
	return slices.EqualFunc(a, b, func(x, y Segment) bool {
		return x.Volume == y.Volume && x.OnDemand == y.OnDemand && slices.Equal(x.DBPaths, y.DBPaths)
	})
}

// Delete moves dataview name to DELETING; its versions' files and the
// record go a step later.
func (s *Service) Delete(ctx context.Context, region, env, db, name string) error {
	return s.m.Mutate(ctx, func(tx *resource.Tx) error {
		if _, err := s.kx.LiveEnvironmentTx(ctx, tx, region, env); err != nil {
			return err
		}
		d, err := s.dataviewTx(ctx, tx, region, env, db, name)
		if err != nil {
			return err
		}
		_, version, err := s.views.Get(ctx, tx, env, d.scopedName())
		if err != nil {
			return err
		}
		if d.Status == Deleting {
			return fault.Conflictf("The dataview %s is already being deleted.", name)
		}
		d.Status, d.StatusReason, d.UpdatedAt = Deleting, "", s.now().UTC()
		if err := s.views.Update(ctx, tx, d, version); err != nil {
			return err
		}
		return s.lc.EnqueueTx(ctx, tx, d)
	})
}

// --- versions on disk -----------------------------------------------------

// Dirs are the directories of version v of d: the segments' in order, then
// the default segment (what no segment's dbPaths match).
func (s *Service) Dirs(ctx context.Context, d *Dataview, v *Version) ([]string, error) {
	var dirs []string
	for _, sg := range v.Segments {
		vol, err := s.volumeDir(ctx, d, sg.Volume)
		if err != nil {
			return nil, err
		}
		dirs = append(dirs, filepath.Join(vol, "dataviews", d.Database, d.Name+"-"+d.UID, v.ID))
	}
	return append(dirs, filepath.Join(s.root, d.Environment, d.Database, d.Name+"-"+d.UID, v.ID)), nil
}

func (s *Service) volumeDir(ctx context.Context, d *Dataview, name string) (string, error) {
	var dir string
	err := s.m.View(ctx, func(tx store.Tx) error {
		v, err := s.vols.VolumeTx(ctx, tx, d.Region, d.Environment, name)
		if err == nil {
			dir = s.vols.Dir(v)
		}
		return err
	})
	return dir, err
}

// matches reports whether manifest path p (relative, "2024.01.01/trade/x")
// is held by a segment of dbPaths: a pattern matches the path, one of its
// leading directories, or is a directory above it.
func matches(dbPaths []string, p string) bool {
	full := "/" + p
	for _, pat := range dbPaths {
		if strings.HasSuffix(pat, "/") && strings.HasPrefix(full, pat) {
			return true
		}
		for dir := full; dir != "/" && dir != "."; dir = path.Dir(dir) {
			if ok, _ := path.Match(pat, dir); ok {
				return true
			}
		}
	}
	return false
}

// split divides manifest m among the segments (the first whose dbPaths
// match a file holds it) and the default segment.
func split(m *kxfs.Manifest, segs []Segment) []*kxfs.Manifest {
	parts := make([]*kxfs.Manifest, len(segs)+1)
	for i := range parts {
		parts[i] = &kxfs.Manifest{}
	}
	for _, f := range m.Files {
		i := len(segs)
		for j, sg := range segs {
			if matches(sg.DBPaths, f.Path) {
				i = j
				break
			}
		}
		parts[i].Files = append(parts[i].Files, f)
	}
	return parts
}

// build materializes version v of d (idempotent: a partial build left by
// a crash is removed and made again).
func (s *Service) build(ctx context.Context, d *Dataview, v *Version) error {
	dirs, err := s.Dirs(ctx, d, v)
	if err != nil {
		return err
	}
	m := &kxfs.Manifest{}
	if v.Changeset != "" {
		if m, err = s.kx.Manifest(ctx, d.Region, d.Environment, d.Database, v.Changeset); err != nil {
			return err
		}
	}
	cache := &kxfs.Cache{Root: filepath.Join(s.root, "cache", d.Region), Fetch: s.kx.Fetch(d.Region)}
	for i, part := range split(m, v.Segments) {
		if err := kxfs.Remove(dirs[i]); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(dirs[i]), 0o700); err != nil {
			return err
		}
		if err := cache.Materialize(ctx, part, dirs[i]); err != nil {
			return err
		}
	}
	return nil
}

// removeVersion deletes version v's files.
func (s *Service) removeVersion(ctx context.Context, d *Dataview, v *Version) error {
	dirs, err := s.Dirs(ctx, d, v)
	if err != nil {
		return err
	}
	for _, dir := range dirs {
		if err := kxfs.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

// --- lifecycle ------------------------------------------------------------

// prepare does a step's file work outside any transaction: the version
// asked for is built (the older ones removed: no cluster mounts a
// dataview yet), or every version's files go before the record does.
func (s *Service) prepare(ctx context.Context, d *Dataview) error {
	if d.Status == Deleting {
		for _, v := range append(slices.Clone(d.Versions), derefVersion(d.Next)...) {
			if err := s.removeVersion(ctx, d, &v); err != nil {
				return err
			}
		}
		return nil
	}
	if err := s.build(ctx, d, d.Next); err != nil {
		return err
	}
	for _, old := range d.Versions {
		if err := s.removeVersion(ctx, d, &old); err != nil {
			return err
		}
	}
	return nil
}

// step commits what prepare made: the new version active, or the
// dataview gone.
func (s *Service) step(ctx context.Context, tx store.Tx, d *Dataview, version int64) (bool, error) {
	if d.Status == Deleting {
		if err := s.views.Delete(ctx, tx, resource.ID(d.Environment, d.scopedName())); err != nil {
			return false, err
		}
		return false, tagging.DeleteTx(ctx, tx, d.ARN)
	}
	next := *d.Next
	next.CreatedAt = s.now().UTC()
	d.Versions, d.Next = []Version{next}, nil
	d.Status, d.StatusReason, d.UpdatedAt = Active, "", next.CreatedAt
	return false, s.views.Update(ctx, tx, d, version)
}

func derefVersion(v *Version) []Version {
	if v == nil {
		return nil
	}
	return []Version{*v}
}

func (s *Service) failed(ctx context.Context, tx store.Tx, d *Dataview, version int64, reason string) error {
	what := "built"
	if d.Status == Deleting {
		what = "deleted"
	}
	d.Status, d.StatusReason, d.UpdatedAt, d.Next = Failed, "The dataview could not be "+what+": "+reason, s.now().UTC(), nil
	return s.views.Update(ctx, tx, d, version)
}

// JobKind drives the dataviews' lifecycles; the server registers it.
func (s *Service) JobKind() *jobs.Kind { return s.lc.JobKind() }

// Resume schedules the step of every dataview in flight after a restart.
func (s *Service) Resume(ctx context.Context) error { return s.lc.Resume(ctx, s.m) }

// followTx is told, in the transaction that completes it, that changeset
// is database db's latest: every autoUpdate dataview of db asks for a new
// version at it (kx.Family.ChangesetCompleted). Its job is not woken: the
// engine finds it at its next poll.
func (s *Service) followTx(ctx context.Context, tx store.Tx, env, db, changeset string) error {
	rtx := &resource.Tx{Tx: tx}
	err := s.views.Each(ctx, tx, env, func(d *Dataview) error {
		if d.Database != db || !d.AutoUpdate || d.Status == Deleting || d.Changeset == changeset {
			return nil
		}
		_, version, err := s.views.Get(ctx, tx, env, d.scopedName())
		if err != nil {
			return err
		}
		d.Changeset, d.UpdatedAt = changeset, s.now().UTC()
		d.Next = &Version{ID: ids.Base62(22), Changeset: changeset, Segments: cloneSegments(d.Segments)}
		if d.Status != Creating {
			d.Status = Updating
		}
		if err := s.views.Update(ctx, tx, d, version); err != nil {
			return err
		}
		return s.lc.EnqueueTx(ctx, rtx, d)
	})
	return err
}

// --- registrations --------------------------------------------------------

// exists resolves …/kxDatabase/<db>/kxDataview/<name> tag ARNs (rest is
// "<db>/<name>").
func (s *Service) exists(ctx context.Context, tx store.Tx, region, env, rest string) (bool, error) {
	return s.views.Exists(ctx, tx, env, rest, func(d *Dataview) bool { return d.Region == region })
}

func (s *Service) deleteAllTx(ctx context.Context, tx store.Tx, env *kx.Environment) error {
	return s.views.Each(ctx, tx, env.ID, func(d *Dataview) error {
		for _, v := range append(slices.Clone(d.Versions), derefVersion(d.Next)...) {
			if err := s.removeVersion(ctx, d, &v); err != nil {
				return err
			}
		}
		return s.views.DeleteTagged(ctx, tx, d, d.ARN)
	})
}

// volumeInUseTx is the dataviews' rule for volumes: one a dataview's
// segments use stays.
func (s *Service) volumeInUseTx(ctx context.Context, tx store.Tx, env, volume string) error {
	var users []string
	err := s.views.Each(ctx, tx, env, func(d *Dataview) error {
		for _, sg := range d.Segments {
			if sg.Volume == volume {
				users = append(users, d.Database+"/"+d.Name)
				return nil
			}
		}
		return nil
	})
	if err != nil || len(users) == 0 {
		return err
	}
	return fault.Conflictf("The volume %s holds segments of dataviews %s: delete them first.", volume, strings.Join(users, ", "))
}

// blocksDatabaseDeleteTx is the dataviews' rule for databases: one with
// dataviews stays (kx.Family.BlocksDatabaseDelete).
func (s *Service) blocksDatabaseDeleteTx(ctx context.Context, tx store.Tx, env, db string) error {
	var names []string
	err := s.views.Each(ctx, tx, env, func(d *Dataview) error {
		if d.Database == db {
			names = append(names, d.Name)
		}
		return nil
	})
	if err != nil || len(names) == 0 {
		return err
	}
	return fault.Conflictf("The database %s has dataviews (%s): delete them first.", db, strings.Join(names, ", "))
}
