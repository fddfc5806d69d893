// Package volumes is the kx volumes family (CreateKxVolume, GetKxVolume,
// ListKxVolumes, UpdateKxVolume, DeleteKxVolume): NAS_1 volumes, each a
// directory of the server's data dir (<data dir>/kx/volumes/<environment>/
// <name>-<uid>) that clusters on scaling groups name for savedown storage
// and tickerplant logs. The directory's use is measured and reported in
// the status reason; its size is not enforced on this machine (no loop
// device or project quota is set up), which the reason says too.
//
// Written on package resource; registered with kx.Service as a
// kx.Family. The clusters own the rule that an attached volume stays
// (they register it with SetUse) and admit their volumes through
// kx.Volumes.
package volumes

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/ids"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/kx"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/resource"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/tagging"
)

// Kind is the store record kind, the lifecycle job kind and the resource
// type in the volumes' ARNs.
const Kind = "kxVolume"

// Status is a volume status (model enum KxVolumeStatus).
type Status string

const (
	Creating     Status = "CREATING"
	CreateFailed Status = "CREATE_FAILED"
	Active       Status = "ACTIVE"
	Updating     Status = "UPDATING"
	UpdateFailed Status = "UPDATE_FAILED"
	Deleting     Status = "DELETING"
	Deleted      Status = "DELETED"
	DeleteFailed Status = "DELETE_FAILED"
)

func (s Status) inFlight() bool { return s == Creating || s == Updating || s == Deleting }

// settled are the statuses a volume may be updated or deleted from.
func (s Status) settled() bool {
	return s == Active || s == CreateFailed || s == UpdateFailed || s == DeleteFailed
}

// Volume is the stored document of one volume.
type Volume struct {
	Environment  string    `json:"environment"`
	Region       string    `json:"region"`
	Name         string    `json:"name"`
	UID          string    `json:"uid"`
	ARN          string    `json:"arn"`
	Type         string    `json:"type"`    // NAS_1
	NASType      string    `json:"nasType"` // SSD_1000, SSD_250, HDD_12
	SizeGiB      int       `json:"sizeGiB"` // nas1Configuration.size
	Description  string    `json:"description,omitempty"`
	AZMode       string    `json:"azMode"`
	Zones        []string  `json:"zones"`
	Status       Status    `json:"status"`
	StatusReason string    `json:"statusReason,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// Clone returns a copy of v.
func (v *Volume) Clone() *Volume {
	c := *v
	c.Zones = slices.Clone(v.Zones)
	return &c
}

// CheckSize applies the NAS_1 size rules (BEHAVIOR.md §3.5): SSD_1000 and
// SSD_250 take 1200 GiB or 1200 plus multiples of 2400; HDD_12 multiples
// of 6000.
func CheckSize(nasType string, size int) error {
	switch nasType {
	case "SSD_1000", "SSD_250":
		if size < 1200 || (size-1200)%2400 != 0 {
			return fault.Invalidf("A %s volume's size is 1200 GiB or 1200 plus a multiple of 2400 GiB, not %d.", nasType, size)
		}
	case "HDD_12":
		if size < 6000 || size%6000 != 0 {
			return fault.Invalidf("An HDD_12 volume's size is a multiple of 6000 GiB, not %d.", size)
		}
	default:
		return fault.Invalidf("nas1Configuration.type %q is not SSD_1000, SSD_250 or HDD_12.", nasType)
	}
	return nil
}

// Use is the clusters' view of a volume: those attached to it (Get
// reports them; an attached volume cannot be deleted).
type Use func(ctx context.Context, tx store.Tx, env, volume string) ([]kx.Attached, error)

// Config builds a Service.
type Config struct {
	Kx     *kx.Service
	Mutate resource.Mutator
	// Root is the directory of the volumes (<data dir>/kx/volumes).
	Root      string
	StepDelay time.Duration
	Now       func() time.Time
}

// Service implements the volume operations.
type Service struct {
	kx      *kx.Service
	m       resource.Mutator
	root    string
	now     func() time.Time
	volumes *resource.Scoped[Volume, *Volume]
	lc      *resource.Lifecycle[Volume, *Volume]
	use     Use
	guards  []Guard
}

// Guard is another family's rule that a volume it uses stays: a
// client-safe error refuses the volume's deletion.
type Guard func(ctx context.Context, tx store.Tx, env, volume string) error

// New returns the service and registers the family with cfg.Kx.
func New(cfg Config) *Service {
	s := &Service{kx: cfg.Kx, m: cfg.Mutate, root: cfg.Root, now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	s.volumes = resource.NewScoped(resource.Def[Volume, *Volume]{Kind: Kind, Noun: "volume", ParentNoun: "environment",
		Parent: func(v *Volume) string { return v.Environment }, Name: func(v *Volume) string { return v.Name },
		Pending: func(v *Volume) bool { return v.Status.inFlight() }, Gone: func(v *Volume) bool { return v.Status == Deleted }})
	s.lc = &resource.Lifecycle[Volume, *Volume]{Kind: Kind, Table: s.volumes, Delay: cfg.StepDelay, Now: s.now,
		UID: func(v *Volume) string { return v.UID },
		Phase: func(v *Volume) string {
			if v.Status.inFlight() {
				return string(v.Status) + fmt.Sprint(v.UpdatedAt.UnixNano()) // each update its own job
			}
			return ""
		},
		DB: cfg.Mutate.DB, Prepare: s.prepare, Next: s.step, Failed: s.failed}
	cfg.Kx.Register(kx.Family{ARNType: Kind, Exists: s.exists, DeleteAll: s.deleteAllTx})
	return s
}

// SetUse registers the clusters' view of the volumes.
func (s *Service) SetUse(u Use) { s.use = u }

// Guard registers another family's rule that a volume it uses stays
// (the dataviews' segments). Call before serving.
func (s *Service) Guard(g Guard) { s.guards = append(s.guards, g) }

// Dir is the directory of v on this machine.
func (s *Service) Dir(v *Volume) string {
	return filepath.Join(s.root, v.Environment, v.Name+"-"+v.UID)
}

// CreateInput is what CreateKxVolume asks for.
type CreateInput struct {
	Name, Type, NASType, Description, AZMode string
	SizeGiB                                  int
	Zones                                    []string
	Tags                                     map[string]string
}

// Create records a new volume in CREATING; its directory is made a
// lifecycle step later, and it is ACTIVE.
func (s *Service) Create(ctx context.Context, region, env string, in CreateInput) (*Volume, error) {
	if in.Type != "NAS_1" {
		return nil, fault.Invalidf("volumeType must be NAS_1.")
	}
	if in.NASType == "" {
		return nil, fault.Invalidf("A NAS_1 volume needs nas1Configuration (type and size).")
	}
	if err := CheckSize(in.NASType, in.SizeGiB); err != nil {
		return nil, err
	}
	if in.AZMode != "SINGLE" || len(in.Zones) != 1 {
		return nil, fault.Invalidf("A volume is in one availability zone: azMode SINGLE with one availabilityZoneIds entry.")
	}
	var v *Volume
	err := s.m.Mutate(ctx, func(tx *resource.Tx) error {
		e, err := s.kx.LiveEnvironmentTx(ctx, tx, region, env)
		if err != nil {
			return err
		}
		if !slices.Contains(e.AvailabilityZoneIDs, in.Zones[0]) {
			return fault.Invalidf("The availability zone %s is not one of the environment's (%s).", in.Zones[0], strings.Join(e.AvailabilityZoneIDs, ", "))
		}
		now := s.now().UTC()
		v = &Volume{Environment: env, Region: region, Name: in.Name, UID: ids.LowerAlnum(16), ARN: e.ARN + "/" + Kind + "/" + in.Name,
			Type: in.Type, NASType: in.NASType, SizeGiB: in.SizeGiB, Description: in.Description, AZMode: in.AZMode,
			Zones: slices.Clone(in.Zones), Status: Creating, CreatedAt: now, UpdatedAt: now}
		if err := s.volumes.InsertTagged(ctx, tx, v, v.ARN, in.Tags); err != nil {
			return err
		}
		return s.lc.EnqueueTx(ctx, tx, v)
	})
	return v, err
}

// Get returns volume name of env, the clusters attached to it, and, for
// an ACTIVE volume, a status reason that reports its use.
func (s *Service) Get(ctx context.Context, region, env, name string) (*Volume, []kx.Attached, error) {
	var v *Volume
	var attached []kx.Attached
	err := s.m.View(ctx, func(tx store.Tx) error {
		var err error
		if v, err = s.volumeTx(ctx, tx, region, env, name); err != nil {
			return err
		}
		attached, err = s.attachedTx(ctx, tx, v)
		return err
	})
	if err == nil && v.Status == Active && v.StatusReason == "" {
		v.StatusReason = s.usage(v)
	}
	return v, attached, err
}

// VolumeTx reads volume name of env in region (the clusters' admission).
func (s *Service) VolumeTx(ctx context.Context, tx store.Tx, region, env, name string) (*Volume, error) {
	return s.volumeTx(ctx, tx, region, env, name)
}

// UsableTx admits volume name of env for a cluster being created: it
// exists and is ACTIVE (or UPDATING: its directory is there).
func (s *Service) UsableTx(ctx context.Context, tx store.Tx, region, env, name string) error {
	v, err := s.volumeTx(ctx, tx, region, env, name)
	if err != nil {
		return err
	}
	if v.Status != Active && v.Status != Updating {
		return fault.Invalidf("The volume %s is in %s state: clusters attach ACTIVE volumes.", name, v.Status)
	}
	return nil
}

func (s *Service) volumeTx(ctx context.Context, tx store.Tx, region, env, name string) (*Volume, error) {
	if _, err := s.kx.EnvironmentTx(ctx, tx, region, env); err != nil {
		return nil, err
	}
	v, _, err := s.volumes.Get(ctx, tx, env, name)
	return v, err
}

func (s *Service) attachedTx(ctx context.Context, tx store.Tx, v *Volume) ([]kx.Attached, error) {
	if s.use == nil {
		return nil, nil
	}
	return s.use(ctx, tx, v.Environment, v.Name)
}

// maxUsageEntries bounds the walk that measures a volume's use, so a Get
// costs bounded time whatever a cluster wrote.
const maxUsageEntries = 100_000

// usage measures the volume's directory: what the status reason of an
// ACTIVE volume reports.
func (s *Service) usage(v *Volume) string {
	var bytes int64
	entries := 0
	err := filepath.WalkDir(s.Dir(v), func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if entries++; entries > maxUsageEntries {
			return fs.SkipAll
		}
		if d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				bytes += info.Size()
			}
		}
		return nil
	})
	if err != nil {
		return "The volume's use could not be measured; its size is not enforced on this server."
	}
	at := ""
	if entries > maxUsageEntries {
		at = "at least "
	}
	return fmt.Sprintf("%s%.3f GiB used of %d GiB; the size is accounted, not enforced, on this server.", at, float64(bytes)/(1<<30), v.SizeGiB)
}

// List returns one page of env's volumes, by name; typ, when set, keeps
// only volumes of that type.
func (s *Service) List(ctx context.Context, region, env, typ string, after *store.Cursor, limit int) (paging.Page[*Volume], error) {
	var page paging.Page[*Volume]
	err := s.m.View(ctx, func(tx store.Tx) error {
		if _, err := s.kx.EnvironmentTx(ctx, tx, region, env); err != nil {
			return err
		}
		var err error
		page, err = s.volumes.List(ctx, tx, env, after, limit)
		return err
	})
	if err == nil && typ != "" {
		page.Items = slices.DeleteFunc(page.Items, func(v *Volume) bool { return v.Type != typ })
	}
	return page, err
}

// UpdateInput is what UpdateKxVolume may change; nil leaves a field.
type UpdateInput struct {
	Description *string
	NASType     *string
	SizeGiB     *int
}

// Update changes the description or the NAS configuration: UPDATING, then
// ACTIVE a step later (a volume still CREATING takes the change with its
// creation). A volume's type stays; its size only grows.
func (s *Service) Update(ctx context.Context, region, env, name string, in UpdateInput) (*Volume, []kx.Attached, error) {
	var v *Volume
	var attached []kx.Attached
	err := s.m.Mutate(ctx, func(tx *resource.Tx) error {
		if _, err := s.kx.LiveEnvironmentTx(ctx, tx, region, env); err != nil {
			return err
		}
		var version int64
		var err error
		if v, version, err = s.volumes.Get(ctx, tx, env, name); err != nil {
			return err
		}
		creating := v.Status == Creating // the change rides on the create step
		if !v.Status.settled() && !creating {
			return fault.Conflictf("The volume %s is in %s state.", name, v.Status)
		}
		if in.NASType != nil && *in.NASType != v.NASType {
			return fault.Invalidf("A volume's nas1Configuration.type cannot change (it is %s).", v.NASType)
		}
		if in.SizeGiB != nil {
			if *in.SizeGiB < v.SizeGiB {
				return fault.Invalidf("A volume's size can only grow (it is %d GiB).", v.SizeGiB)
			}
			if err := CheckSize(v.NASType, *in.SizeGiB); err != nil {
				return err
			}
			v.SizeGiB = *in.SizeGiB
		}
		if in.Description != nil {
			v.Description = *in.Description
		}
		if attached, err = s.attachedTx(ctx, tx, v); err != nil {
			return err
		}
		if creating {
			return s.volumes.Update(ctx, tx, v, version)
		}
		v.Status, v.StatusReason, v.UpdatedAt = Updating, "", s.now().UTC()
		if err := s.volumes.Update(ctx, tx, v, version); err != nil {
			return err
		}
		return s.lc.EnqueueTx(ctx, tx, v)
	})
	return v, attached, err
}

// Delete moves volume name to DELETING; a step later its directory is
// gone and it is DELETED, a tombstone whose name a new volume may take. An attached volume is refused, naming its clusters.
func (s *Service) Delete(ctx context.Context, region, env, name string) error {
	return s.m.Mutate(ctx, func(tx *resource.Tx) error {
		if _, err := s.kx.LiveEnvironmentTx(ctx, tx, region, env); err != nil {
			return err
		}
		v, version, err := s.volumes.Get(ctx, tx, env, name)
		if err != nil {
			return err
		}
		if !v.Status.settled() && v.Status != Creating {
			return fault.Conflictf("The volume %s is in %s state.", name, v.Status)
		}
		attached, err := s.attachedTx(ctx, tx, v)
		if err != nil {
			return err
		}
		if len(attached) > 0 {
			names := make([]string, len(attached))
			for i, a := range attached {
				names[i] = a.Cluster
			}
			return fault.Conflictf("The volume %s is attached to clusters %s: delete them first.", name, strings.Join(names, ", "))
		}
		for _, g := range s.guards {
			if err := g(ctx, tx, env, name); err != nil {
				return err
			}
		}
		v.Status, v.StatusReason, v.UpdatedAt = Deleting, "", s.now().UTC()
		if err := s.volumes.Update(ctx, tx, v, version); err != nil {
			return err
		}
		return s.lc.EnqueueTx(ctx, tx, v)
	})
}

// prepare does a step's directory work outside any transaction: the
// directory made (CREATING, UPDATING) or removed (DELETING); both are
// idempotent, so a step retried after a crash redoes them safely.
func (s *Service) prepare(ctx context.Context, v *Volume) error {
	if v.Status == Deleting {
		return os.RemoveAll(s.Dir(v))
	}
	return os.MkdirAll(s.Dir(v), 0o700)
}

// step commits what prepare did: ACTIVE, or DELETED without its tags.
func (s *Service) step(ctx context.Context, tx store.Tx, v *Volume, version int64) (bool, error) {
	if v.Status == Deleting { // a tombstone stays, DELETED (Terraform waits for it)
		if err := tagging.DeleteTx(ctx, tx, v.ARN); err != nil {
			return false, err
		}
		v.Status, v.UpdatedAt = Deleted, s.now().UTC()
		return false, s.volumes.Update(ctx, tx, v, version)
	}
	v.Status, v.UpdatedAt = Active, s.now().UTC()
	return false, s.volumes.Update(ctx, tx, v, version)
}

func (s *Service) failed(ctx context.Context, tx store.Tx, v *Volume, version int64, reason string) error {
	to, what := CreateFailed, "created"
	switch v.Status {
	case Updating:
		to, what = UpdateFailed, "updated"
	case Deleting:
		to, what = DeleteFailed, "deleted"
	}
	v.Status, v.StatusReason, v.UpdatedAt = to, "The volume could not be "+what+": "+reason, s.now().UTC()
	return s.volumes.Update(ctx, tx, v, version)
}

// JobKind drives the volumes' lifecycles; the server registers it.
func (s *Service) JobKind() *jobs.Kind { return s.lc.JobKind() }

// Resume schedules the step of every volume in flight after a restart.
func (s *Service) Resume(ctx context.Context) error { return s.lc.Resume(ctx, s.m) }

func (s *Service) exists(ctx context.Context, tx store.Tx, region, env, name string) (bool, error) {
	return s.volumes.Exists(ctx, tx, env, name, func(v *Volume) bool { return v.Region == region && v.Status != Deleted })
}

// deleteAllTx removes env's volumes when it becomes DELETED; their
// directories go with them (clusters, which use them, are gone first).
func (s *Service) deleteAllTx(ctx context.Context, tx store.Tx, env *kx.Environment) error {
	return s.volumes.Each(ctx, tx, env.ID, func(v *Volume) error {
		if err := os.RemoveAll(s.Dir(v)); err != nil {
			return err
		}
		return s.volumes.DeleteTagged(ctx, tx, v, v.ARN)
	})
}
