package kx

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/ids"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/kx/node"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/tagging"
	shapes "github.com/openfinspace/openfinspace/internal/wire/finspace"
)

// ClusterKind is the store record kind of kx clusters (Parent =
// environment id, ID = "<environment id>/<cluster name>").
const ClusterKind = "kxCluster"

// ClusterStatus is a kx cluster status (model enum KxClusterStatus).
type ClusterStatus string

const (
	ClusterPending      ClusterStatus = "PENDING"
	ClusterCreating     ClusterStatus = "CREATING"
	ClusterCreateFailed ClusterStatus = "CREATE_FAILED"
	ClusterRunning      ClusterStatus = "RUNNING"
	ClusterDeleting     ClusterStatus = "DELETING"
)

// ClusterDatabase is a database a cluster mounts, at the version of
// Changeset ("" for a database with no completed changeset: an empty
// directory).
type ClusterDatabase struct {
	Name      string `json:"name"`
	Changeset string `json:"changeset,omitempty"`
	UID       string `json:"uid"`
}

// ClusterNode is one node of a cluster: a kdb+ process on Port of the
// host that runs the cluster.
type ClusterNode struct {
	ID         string    `json:"id"`
	Zone       string    `json:"zone"`
	Port       int       `json:"port,omitempty"`
	Up         bool      `json:"up"`
	LaunchedAt time.Time `json:"launchedAt,omitzero"`
}

// Cluster is the stored document of a kx cluster.
type Cluster struct {
	Environment  string        `json:"environment"`
	Region       string        `json:"region"`
	Name         string        `json:"name"`
	UID          string        `json:"uid"`
	ARN          string        `json:"arn"`
	Status       ClusterStatus `json:"status"`
	StatusReason string        `json:"statusReason,omitempty"`
	// Config is the CreateKxCluster request as validated (client token
	// and tags removed): stored and echoed whole; the fields the service
	// acts on are copied out below.
	Config    *shapes.CreateKxClusterRequest `json:"config"`
	Databases []ClusterDatabase              `json:"databases,omitempty"`
	Nodes     []ClusterNode                  `json:"nodes"`
	CreatedAt time.Time                      `json:"createdAt"`
	UpdatedAt time.Time                      `json:"updatedAt"`
}

// Clone returns a copy of c (Config shared: it is never changed in place).
func (c *Cluster) Clone() *Cluster {
	d := *c
	d.Databases = append([]ClusterDatabase(nil), c.Databases...)
	d.Nodes = append([]ClusterNode(nil), c.Nodes...)
	return &d
}

func clusterID(env, name string) string { return env + "/" + name }

func newClusterTable() *store.Table[Cluster, *Cluster] {
	return store.NewTable(store.TableDef[Cluster, *Cluster]{
		Kind:   ClusterKind,
		ID:     func(c *Cluster) string { return clusterID(c.Environment, c.Name) },
		Parent: func(c *Cluster) string { return c.Environment },
		NotFound: func(id string) error {
			f := fault.NotFoundf("The cluster %s does not exist.", id)
			f.Err = store.ErrNotFound
			return f
		},
		Conflict: func(id string) error {
			return fault.Conflictf("The cluster %s was changed by another request; retry.", id)
		},
	})
}

func clusterNotFound(env, name string) error {
	f := fault.NotFoundf("The cluster %s does not exist in environment %s.", name, env)
	f.Err = store.ErrNotFound
	return f
}

func clusterJob(c *Cluster) string { return "kxCluster/" + c.Environment + "/" + c.Name + "/" + c.UID }

// maxNodes is the most nodes of one cluster (Terraform's and the real
// service's bound).
const maxNodes = 5

// clusterNodeCount checks the request's capacity rules (BEHAVIOR.md §3.5)
// and returns how many nodes the cluster starts with.
func clusterNodeCount(in *shapes.CreateKxClusterRequest) (int, error) {
	typ := string(deref(in.ClusterType))
	n := 1
	switch sg := in.ScalingGroupConfiguration; {
	case sg != nil:
		if in.CapacityConfiguration != nil {
			return 0, fault.Invalidf("A cluster on a scaling group takes scalingGroupConfiguration, not capacityConfiguration.")
		}
		if sg.MemoryReservation == nil || sg.NodeCount == nil {
			return 0, fault.Invalidf("scalingGroupConfiguration needs memoryReservation and nodeCount.")
		}
		if sg.MemoryLimit != nil && *sg.MemoryLimit < *sg.MemoryReservation {
			return 0, fault.Invalidf("scalingGroupConfiguration: memoryLimit %d is below memoryReservation %d.", *sg.MemoryLimit, *sg.MemoryReservation)
		}
		n = int(*sg.NodeCount)
	case in.CapacityConfiguration == nil:
		return 0, fault.Invalidf("capacityConfiguration is required for a cluster on dedicated nodes.")
	case in.CapacityConfiguration.NodeCount != nil:
		n = int(*in.CapacityConfiguration.NodeCount)
	}
	if a := in.AutoScalingConfiguration; a != nil {
		lo, hi := int(deref(a.MinNodeCount)), int(deref(a.MaxNodeCount))
		if lo < 1 || lo >= hi || hi > maxNodes {
			return 0, fault.Invalidf("autoScalingConfiguration needs 1 <= minNodeCount < maxNodeCount <= %d.", maxNodes)
		}
		if string(deref(in.AzMode)) == "MULTI" && lo < 3 {
			return 0, fault.Invalidf("A MULTI AZ cluster with auto scaling needs minNodeCount of at least 3.")
		}
		n = lo
	}
	if n < 1 || n > maxNodes {
		return 0, fault.Invalidf("nodeCount must be between 1 and %d.", maxNodes)
	}
	switch typ {
	case "GP":
		if n != 1 || string(deref(in.AzMode)) != "SINGLE" {
			return 0, fault.Invalidf("A GP cluster has one node, in a SINGLE AZ.")
		}
	case "RDB":
		if in.SavedownStorageConfiguration == nil {
			return 0, fault.Invalidf("An RDB cluster requires savedownStorageConfiguration.")
		}
	}
	if len(volumesOf(in)) > 0 && in.ScalingGroupConfiguration == nil {
		return 0, fault.Invalidf("Volumes (savedownStorageConfiguration.volumeName, tickerplantLogConfiguration) are for clusters on a scaling group.")
	}
	return n, nil
}

func notFoundf(format string, args ...any) error {
	f := fault.NotFoundf(format, args...)
	f.Err = store.ErrNotFound
	return f
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// CreateCluster records cluster in.ClusterName of environment env in
// PENDING and schedules its host job, which mounts its databases, unpacks
// its code and starts its nodes.
func (s *Service) CreateCluster(ctx context.Context, region, env string, in *shapes.CreateKxClusterRequest) (*Cluster, error) {
	n, err := clusterNodeCount(in)
	if err != nil {
		return nil, err
	}
	if in.InitializationScript != nil {
		if in.Code == nil {
			return nil, fault.Invalidf("initializationScript needs code: the script is a path inside the code archive.")
		}
		if err := node.CheckInitScript(*in.InitializationScript); err != nil {
			return nil, fault.Invalidf("%s", err.Error())
		}
	}
	if in.Code != nil {
		if err := s.mayRead(region, deref(in.Code.S3Bucket)); err != nil {
			return nil, fault.Deniedf("%s", err.Error())
		}
	}
	for _, d := range in.Databases {
		if d.DataviewName != nil || d.DataviewConfiguration != nil {
			return nil, notFoundf("The dataview %s does not exist.", deref(d.DataviewName))
		}
	}
	cfg := *in
	cfg.ClientToken, cfg.Tags = nil, nil
	var c *Cluster
	err = s.db.Update(ctx, func(tx store.Tx) error {
		e, err := s.usableEnvTx(ctx, tx, region, env)
		if err != nil {
			return err
		}
		if group, need := reservationOf(in); group != "" {
			if s.placement == nil {
				return notFoundf("The scaling group %s does not exist.", group)
			}
			if err := s.placement.AdmitTx(ctx, tx, region, env, group, need); err != nil {
				return err
			}
		}
		for _, v := range volumesOf(in) {
			if s.volumeAdmit == nil {
				return notFoundf("The volume %s does not exist.", v)
			}
			if err := s.volumeAdmit.UsableTx(ctx, tx, region, env, v); err != nil {
				return err
			}
		}
		now := s.now().UTC()
		name := deref(in.ClusterName)
		c = &Cluster{Environment: env, Region: region, Name: name, UID: ids.LowerAlnum(22),
			ARN: e.ARN + "/kxCluster/" + name, Status: ClusterPending, Config: &cfg, CreatedAt: now, UpdatedAt: now}
		seen := map[string]bool{}
		for _, want := range in.Databases {
			dbName := deref(want.DatabaseName)
			if seen[dbName] {
				return fault.Invalidf("The database %s is named twice.", dbName)
			}
			seen[dbName] = true
			d, _, err := s.databaseTx(ctx, tx, region, env, dbName)
			if err != nil {
				return err
			}
			cs := d.LastCompleted
			if want.ChangesetId != nil && *want.ChangesetId != "" {
				ch, _, err := s.changesets.GetIn(ctx, tx, changesetParent(env, dbName), changesetID(env, dbName, *want.ChangesetId))
				if errors.Is(err, store.ErrNotFound) || err == nil && ch.Status != ChangesetCompleted {
					return fault.Invalidf("The changeset %s is not a completed changeset of database %s.", *want.ChangesetId, dbName)
				}
				if err != nil {
					return err
				}
				cs = ch.ID
			}
			c.Databases = append(c.Databases, ClusterDatabase{Name: dbName, Changeset: cs, UID: d.UID})
		}
		zones := e.AvailabilityZoneIDs
		if string(deref(in.AzMode)) == "SINGLE" {
			zone := deref(in.AvailabilityZoneId)
			if zone == "" {
				return fault.Invalidf("availabilityZoneId is required when azMode is SINGLE.")
			}
			if !slices.Contains(e.AvailabilityZoneIDs, zone) {
				return fault.Invalidf("The availability zone %s is not one of the environment's: %s.", zone, strings.Join(e.AvailabilityZoneIDs, ", "))
			}
			zones = []string{zone}
		}
		for i := 0; i < n; i++ {
			c.Nodes = append(c.Nodes, ClusterNode{ID: fmt.Sprintf("%s-%s-%d", name, c.UID[:8], i+1), Zone: zones[i%len(zones)]})
		}
		if err := s.clusters.Insert(ctx, tx, c); err != nil {
			if errors.Is(err, store.ErrExists) {
				return fault.Conflictf("A cluster named %s already exists in environment %s.", name, env)
			}
			return err
		}
		if err := tagging.PutTx(ctx, tx, c.ARN, in.Tags); err != nil {
			return err
		}
		if err := jobs.EnqueueTx(ctx, tx, now, jobs.Spec{ID: clusterJob(c), Kind: ClusterJobKind, Args: clusterArgs{Env: env, Name: name, UID: c.UID}}); err != nil {
			return err
		}
		return s.tokens.CommitTx(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	s.jobs.Wake(ClusterJobKind)
	return c, nil
}

func (s *Service) clusterTx(ctx context.Context, tx store.Tx, region, env, name string) (*Cluster, int64, error) {
	if _, _, err := s.envs.GetIn(ctx, tx, region, env); err != nil {
		return nil, 0, err
	}
	c, version, err := s.clusters.GetIn(ctx, tx, env, clusterID(env, name))
	if errors.Is(err, store.ErrNotFound) {
		return nil, 0, clusterNotFound(env, name)
	}
	return c, version, err
}

// GetCluster returns cluster name of environment env.
func (s *Service) GetCluster(ctx context.Context, region, env, name string) (*Cluster, error) {
	var c *Cluster
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		c, _, err = s.clusterTx(ctx, tx, region, env, name)
		return err
	})
	return c, err
}

// ListClusters returns one page of environment env's clusters, by name,
// of clusterType typ when it is set (a page may then hold fewer).
func (s *Service) ListClusters(ctx context.Context, region, env, typ string, after *store.Cursor, limit int) (paging.Page[*Cluster], error) {
	var page paging.Page[*Cluster]
	err := s.db.View(ctx, func(tx store.Tx) error {
		if _, _, err := s.envs.GetIn(ctx, tx, region, env); err != nil {
			return err
		}
		var err error
		page, err = s.clusters.Page(ctx, tx, store.Query{Parent: env, After: after}, limit)
		return err
	})
	if err == nil && typ != "" {
		kept := page.Items[:0]
		for _, c := range page.Items {
			if string(deref(c.Config.ClusterType)) == typ {
				kept = append(kept, c)
			}
		}
		page.Items = kept
	}
	return page, err
}

// DeleteCluster moves cluster name to DELETING: its host job stops its
// nodes, removes its files and then the record (Get answers
// ResourceNotFoundException, which Terraform's waiter accepts). A cluster
// whose host job already ended (CREATE_FAILED) is removed at once.
func (s *Service) DeleteCluster(ctx context.Context, region, env, name string) error {
	var host string
	err := s.db.Update(ctx, func(tx store.Tx) error {
		host = ""
		c, version, err := s.clusterTx(ctx, tx, region, env, name)
		if err != nil {
			return err
		}
		if c.Status == ClusterDeleting {
			return s.tokens.CommitTx(ctx, tx)
		}
		j, err := jobs.GetTx(ctx, tx, clusterJob(c))
		if errors.Is(err, store.ErrNotFound) || err == nil && j.State.Terminal() {
			if err := s.removeClusterTx(ctx, tx, c); err != nil {
				return err
			}
			return s.tokens.CommitTx(ctx, tx)
		}
		if err != nil {
			return err
		}
		c.Status, c.StatusReason, c.UpdatedAt = ClusterDeleting, "", s.now().UTC()
		if err := s.clusters.Update(ctx, tx, c, version); err != nil {
			return err
		}
		// Its host looks again: at once in this process, at its next
		// lease renewal in another.
		host = clusterJob(c)
		if err := jobs.SignalTx(ctx, tx, host); err != nil {
			return err
		}
		return s.tokens.CommitTx(ctx, tx)
	})
	if err == nil && host != "" {
		s.jobs.Signalled(host)
	}
	return err
}

func (s *Service) removeClusterTx(ctx context.Context, tx store.Tx, c *Cluster) error {
	if err := s.clusters.Delete(ctx, tx, clusterID(c.Environment, c.Name)); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return tagging.DeleteTx(ctx, tx, c.ARN)
}

// mountedTx refuses the deletion of database name while a cluster of env
// mounts it.
func (s *Service) mountedTx(ctx context.Context, tx store.Tx, env, name string) error {
	cs, err := s.clusters.List(ctx, tx, store.Query{Parent: env})
	if err != nil {
		return err
	}
	var users []string
	for _, c := range cs {
		for _, d := range c.Databases {
			if d.Name == name {
				users = append(users, c.Name)
			}
		}
	}
	if len(users) > 0 {
		sort.Strings(users)
		return fault.Conflictf("The database %s is mounted by cluster(s) %s: delete them, or remove the database from them, first.", name, strings.Join(users, ", "))
	}
	return nil
}

// clustersLeftTx refuses the deletion of environment env while it has
// clusters (of any status: a deleting one is still there).
func (s *Service) clustersLeftTx(ctx context.Context, tx store.Tx, env string) error {
	cs, err := s.clusters.List(ctx, tx, store.Query{Parent: env})
	if err != nil || len(cs) == 0 {
		return err
	}
	names := make([]string, 0, len(cs))
	for _, c := range cs {
		names = append(names, c.Name)
	}
	sort.Strings(names)
	return fault.Invalidf("The Environment has clusters that are not deleted: %s. Delete them before the environment.", strings.Join(names, ", "))
}

// clusterExistsTx resolves the tag ARNs of clusters (kx.Family).
func (s *Service) clusterExistsTx(ctx context.Context, tx store.Tx, region, env, name string) (bool, error) {
	c, _, err := s.clusters.GetIn(ctx, tx, env, clusterID(env, name))
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil && c.Region == region, err
}
