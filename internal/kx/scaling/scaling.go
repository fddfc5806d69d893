// Package scaling is the kx scaling groups family: named pools of host
// capacity in a kx environment that clusters are placed on
// (CreateKxScalingGroup, GetKxScalingGroup, ListKxScalingGroups,
// DeleteKxScalingGroup). A group is one host of its host type's memory and
// vCPUs; the cluster family admits a cluster onto a group only while the
// reservations of the clusters on it fit (it registers that rule, and the
// refusal to delete a group that clusters still use, with Service.Use).
//
// It is written on package resource, as the example a new family follows:
// one Scoped table, Mutate for every change, one lifecycle job kind with
// an OnFailed, and a kx.Family registration for tags and the environment's
// delete.
package scaling

import (
	"context"
	"slices"
	"sort"
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

// Kind is the store record kind, the job kind of the groups' lifecycles
// and the resource type in their ARNs.
const Kind = "kxScalingGroup"

// Status is a scaling group status (model enum KxScalingGroupStatus).
type Status string

const (
	Creating     Status = "CREATING"
	CreateFailed Status = "CREATE_FAILED"
	Active       Status = "ACTIVE"
	Deleting     Status = "DELETING"
	Deleted      Status = "DELETED"
	DeleteFailed Status = "DELETE_FAILED"
)

var transitions = kx.Machine[Status]{
	Creating:     {Active, CreateFailed, Deleting},
	Active:       {Deleting},
	CreateFailed: {Deleting},
	DeleteFailed: {Deleting},
	Deleting:     {Deleted, DeleteFailed},
}

func (s Status) inFlight() bool { return s == Creating || s == Deleting }

// HostType is the capacity of one host of a type (BEHAVIOR.md §3.5).
type HostType struct{ MemoryGiB, VCPUs int }

// HostTypes are the scaling-group host types the real service offered.
var HostTypes = map[string]HostType{
	"kx.sg.large": {16, 2}, "kx.sg.xlarge": {32, 4}, "kx.sg.2xlarge": {64, 8},
	"kx.sg.4xlarge": {108, 16}, "kx.sg.8xlarge": {216, 32}, "kx.sg.16xlarge": {432, 64},
	"kx.sg.32xlarge": {864, 128}, "kx.sg1.16xlarge": {1949, 64}, "kx.sg1.24xlarge": {2948, 96},
}

// Group is the stored document of one scaling group.
type Group struct {
	Environment  string    `json:"environment"`
	Region       string    `json:"region"`
	Name         string    `json:"name"`
	UID          string    `json:"uid"` // tells a recreated group's jobs from the old one's
	ARN          string    `json:"arn"`
	HostType     string    `json:"hostType"`
	Zone         string    `json:"availabilityZoneId"`
	Status       Status    `json:"status"`
	StatusReason string    `json:"statusReason,omitempty"`
	CreatedAt    time.Time `json:"createdAt"`
	UpdatedAt    time.Time `json:"updatedAt"`
}

// Clone returns a copy of g.
func (g *Group) Clone() *Group { c := *g; return &c }

// Capacity is the group's host capacity.
func (g *Group) Capacity() HostType { return HostTypes[g.HostType] }

// Use is what the cluster family tells about its clusters on a group: who
// is on it and what each reserves (GetKxScalingGroup lists them, a group
// in use cannot be deleted, admission sums them). The cluster family's
// rule, registered with SetUse (kx.Service.ScalingGroupUseTx).
type Use func(ctx context.Context, tx store.Tx, env, group string) ([]kx.Placed, error)

// Config builds a Service.
type Config struct {
	Kx     *kx.Service
	Mutate resource.Mutator
	// StepDelay is the pause between lifecycle steps (the server's
	// lifecycle step); Now the clock.
	StepDelay time.Duration
	Now       func() time.Time
}

// Service implements the scaling group operations.
type Service struct {
	kx     *kx.Service
	m      resource.Mutator
	step   time.Duration
	now    func() time.Time
	groups *resource.Scoped[Group, *Group]
	lc     *resource.Lifecycle[Group, *Group]
	use    Use
}

// New returns the service and registers the family with cfg.Kx.
func New(cfg Config) *Service {
	s := &Service{kx: cfg.Kx, m: cfg.Mutate, step: cfg.StepDelay, now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	if s.step <= 0 {
		s.step = 400 * time.Millisecond
	}
	s.groups = resource.NewScoped(resource.Def[Group, *Group]{Kind: Kind, Noun: "scaling group", ParentNoun: "environment",
		Parent: func(g *Group) string { return g.Environment }, Name: func(g *Group) string { return g.Name },
		Pending: func(g *Group) bool { return g.Status.inFlight() }, Gone: func(g *Group) bool { return g.Status == Deleted }})
	s.lc = s.lifecycle()
	cfg.Kx.Register(kx.Family{ARNType: Kind, Exists: s.exists, DeleteAll: s.deleteAllTx})
	return s
}

// SetUse registers the cluster family's view of the groups' clusters.
func (s *Service) SetUse(u Use) { s.use = u }

// CreateInput is what CreateKxScalingGroup asks for.
type CreateInput struct {
	Name, HostType, Zone string
	Tags                 map[string]string
}

// Create records a new group in CREATING; it becomes ACTIVE a lifecycle
// step later.
func (s *Service) Create(ctx context.Context, region, env string, in CreateInput) (*Group, error) {
	if _, ok := HostTypes[in.HostType]; !ok {
		return nil, fault.Invalidf("The host type %s is not one of %s.", in.HostType, strings.Join(hostTypeNames(), ", "))
	}
	var g *Group
	err := s.m.Mutate(ctx, func(tx *resource.Tx) error {
		e, err := s.kx.LiveEnvironmentTx(ctx, tx, region, env)
		if err != nil {
			return err
		}
		if !slices.Contains(e.AvailabilityZoneIDs, in.Zone) {
			return fault.Invalidf("The availability zone %s is not one of the environment's (%s).", in.Zone, strings.Join(e.AvailabilityZoneIDs, ", "))
		}
		now := s.now().UTC()
		g = &Group{Environment: env, Region: region, Name: in.Name, UID: ids.LowerAlnum(16),
			ARN: e.ARN + "/" + Kind + "/" + in.Name, HostType: in.HostType, Zone: in.Zone,
			Status: Creating, CreatedAt: now, UpdatedAt: now}
		if err := s.groups.InsertTagged(ctx, tx, g, g.ARN, in.Tags); err != nil {
			return err
		}
		return s.lc.EnqueueTx(ctx, tx, g)
	})
	return g, err
}

func hostTypeNames() []string {
	names := make([]string, 0, len(HostTypes))
	for n := range HostTypes {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Get returns group name of env with the names of the clusters on it.
func (s *Service) Get(ctx context.Context, region, env, name string) (*Group, []string, error) {
	var g *Group
	var clusters []string
	err := s.m.View(ctx, func(tx store.Tx) error {
		var err error
		if g, _, err = s.groupTx(ctx, tx, region, env, name); err != nil {
			return err
		}
		clusters, err = s.clustersTx(ctx, tx, g)
		return err
	})
	return g, clusters, err
}

// GroupTx reads group name of env in region (the cluster family's
// admission reads it).
func (s *Service) GroupTx(ctx context.Context, tx store.Tx, region, env, name string) (*Group, error) {
	g, _, err := s.groupTx(ctx, tx, region, env, name)
	return g, err
}

func (s *Service) groupTx(ctx context.Context, tx store.Tx, region, env, name string) (*Group, int64, error) {
	if _, err := s.kx.EnvironmentTx(ctx, tx, region, env); err != nil {
		return nil, 0, err
	}
	return s.groups.Get(ctx, tx, env, name)
}

func (s *Service) clustersTx(ctx context.Context, tx store.Tx, g *Group) ([]string, error) {
	placed, err := s.placedTx(ctx, tx, g)
	names := make([]string, 0, len(placed))
	for _, p := range placed {
		names = append(names, p.Cluster)
	}
	return names, err
}

func (s *Service) placedTx(ctx context.Context, tx store.Tx, g *Group) ([]kx.Placed, error) {
	if s.use == nil {
		return nil, nil
	}
	return s.use(ctx, tx, g.Environment, g.Name)
}

// AdmitTx admits a cluster reserving need onto group of env: the group
// must be ACTIVE, and what its clusters reserve with need must fit its
// host type's memory and vCPUs (kx.Placement).
func (s *Service) AdmitTx(ctx context.Context, tx store.Tx, region, env, group string, need kx.Reservation) error {
	g, _, err := s.groupTx(ctx, tx, region, env, group)
	if err != nil {
		return err
	}
	if g.Status != Active {
		return fault.Invalidf("The scaling group %s is in %s state: clusters are placed on ACTIVE groups only.", group, g.Status)
	}
	placed, err := s.placedTx(ctx, tx, g)
	if err != nil {
		return err
	}
	var used kx.Reservation
	for _, p := range placed {
		used.MemoryGiB += p.MemoryGiB
		used.VCPUs += p.VCPUs
	}
	capacity := g.Capacity()
	if used.MemoryGiB+need.MemoryGiB > float64(capacity.MemoryGiB) || used.VCPUs+need.VCPUs > float64(capacity.VCPUs) {
		return fault.Invalidf("The scaling group %s (%s: %d GiB, %d vCPUs) cannot take the cluster: its clusters reserve %g GiB and %g vCPUs, and the cluster asks for %g GiB and %g vCPUs (memoryReservation and cpu times nodeCount).",
			group, g.HostType, capacity.MemoryGiB, capacity.VCPUs, used.MemoryGiB, used.VCPUs, need.MemoryGiB, need.VCPUs)
	}
	return nil
}

// List returns one page of env's groups, by name.
func (s *Service) List(ctx context.Context, region, env string, after *store.Cursor, limit int) (paging.Page[*Group], error) {
	var page paging.Page[*Group]
	err := s.m.View(ctx, func(tx store.Tx) error {
		if _, err := s.kx.EnvironmentTx(ctx, tx, region, env); err != nil {
			return err
		}
		var err error
		page, err = s.groups.List(ctx, tx, env, after, limit)
		return err
	})
	return page, err
}

// Delete moves group name to DELETING; a lifecycle step later it is
// DELETED, a tombstone whose name a new group may take.
// A group that clusters are on is refused, naming them.
func (s *Service) Delete(ctx context.Context, region, env, name string) error {
	return s.m.Mutate(ctx, func(tx *resource.Tx) error {
		if _, err := s.kx.LiveEnvironmentTx(ctx, tx, region, env); err != nil {
			return err
		}
		g, version, err := s.groups.Get(ctx, tx, env, name)
		if err != nil {
			return err
		}
		if g.Status == Deleting {
			return fault.Conflictf("The scaling group %s is already being deleted.", name)
		}
		clusters, err := s.clustersTx(ctx, tx, g)
		if err != nil {
			return err
		}
		if len(clusters) > 0 {
			return fault.Conflictf("The scaling group %s has clusters on it (%s): delete them first.", name, strings.Join(clusters, ", "))
		}
		if err := transitions.Move("The scaling group", &g.Status, Deleting); err != nil {
			return err
		}
		now := s.now().UTC()
		g.StatusReason, g.UpdatedAt = "", now
		if err := s.groups.Update(ctx, tx, g, version); err != nil {
			return err
		}
		return s.lc.EnqueueTx(ctx, tx, g)
	})
}

// --- lifecycle ----------------------------------------------------------

func (s *Service) lifecycle() *resource.Lifecycle[Group, *Group] {
	return &resource.Lifecycle[Group, *Group]{Kind: Kind, Table: s.groups, Delay: s.step, Now: s.now,
		UID: func(g *Group) string { return g.UID },
		Phase: func(g *Group) string {
			if g.Status.inFlight() {
				return string(g.Status)
			}
			return ""
		},
		Next: func(ctx context.Context, tx store.Tx, g *Group, version int64) (bool, error) {
			if g.Status == Deleting { // a tombstone stays, DELETED (Terraform waits for it)
				g.Status, g.UpdatedAt = Deleted, s.now().UTC()
				if err := tagging.DeleteTx(ctx, tx, g.ARN); err != nil {
					return false, err
				}
			} else {
				g.Status, g.UpdatedAt = Active, s.now().UTC()
			}
			return false, s.groups.Update(ctx, tx, g, version)
		},
		Failed: func(ctx context.Context, tx store.Tx, g *Group, version int64, reason string) error {
			to, what := CreateFailed, "created"
			if g.Status == Deleting {
				to, what = DeleteFailed, "deleted"
			}
			g.Status, g.StatusReason, g.UpdatedAt = to, "The scaling group could not be "+what+": "+reason, s.now().UTC()
			return s.groups.Update(ctx, tx, g, version)
		}}
}

// JobKind drives the groups' lifecycles; the server registers it.
func (s *Service) JobKind() *jobs.Kind { return s.lc.JobKind() }

// Resume schedules the step of every group in flight after a restart.
func (s *Service) Resume(ctx context.Context) error { return s.lc.Resume(ctx, s.m) }

// --- the kx.Family registration ----------------------------------------

func (s *Service) exists(ctx context.Context, tx store.Tx, region, env, name string) (bool, error) {
	return s.groups.Exists(ctx, tx, env, name, func(g *Group) bool { return g.Region == region && g.Status != Deleted })
}

func (s *Service) deleteAllTx(ctx context.Context, tx store.Tx, env *kx.Environment) error {
	return s.groups.Each(ctx, tx, env.ID, func(g *Group) error { return s.groups.DeleteTagged(ctx, tx, g, g.ARN) })
}
