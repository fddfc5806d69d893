package kx

import (
	"context"
	"slices"
	"sort"

	"github.com/openfinspace/openfinspace/internal/store"
	shapes "github.com/openfinspace/openfinspace/internal/wire/finspace"
)

// Placement admits clusters onto scaling groups. The scaling group family
// (kx/scaling) owns the groups' capacity and registers it (SetPlacement);
// without one, a cluster that names a scaling group is refused as naming
// one that does not exist.
type Placement interface {
	// AdmitTx checks, in the cluster's creating transaction, that group
	// of env exists, can take clusters, and has room for need beside what
	// the clusters on it reserve (ScalingGroupUseTx).
	AdmitTx(ctx context.Context, tx store.Tx, region, env, group string, need Reservation) error
}

// Reservation is what a cluster on a scaling group reserves of its host:
// memoryReservation (GiB) and cpu (vCPUs) times its node count.
type Reservation struct {
	MemoryGiB float64
	VCPUs     float64
}

// Placed is a cluster on a scaling group and what it reserves.
type Placed struct {
	Cluster string
	Reservation
}

// SetPlacement registers the scaling groups' admission. Call before serving.
func (s *Service) SetPlacement(p Placement) { s.placement = p }

// reservationOf is what cfg's scalingGroupConfiguration reserves, with its
// group's name ("" for a cluster on dedicated nodes).
func reservationOf(cfg *shapes.CreateKxClusterRequest) (string, Reservation) {
	sg := cfg.ScalingGroupConfiguration
	if sg == nil {
		return "", Reservation{}
	}
	n := float64(deref(sg.NodeCount))
	return deref(sg.ScalingGroupName), Reservation{MemoryGiB: float64(deref(sg.MemoryReservation)) * n, VCPUs: deref(sg.Cpu) * n}
}

// ScalingGroupUseTx lists the clusters of env on scaling group group, by
// name, and what each reserves. Clusters being deleted are not counted:
// the real service accepted a group's deletion right after its clusters'.
// This is the clusters' rule that a group in use cannot be deleted; the
// scaling group family asks it (scaling.Service.SetUse).
func (s *Service) ScalingGroupUseTx(ctx context.Context, tx store.Tx, env, group string) ([]Placed, error) {
	cs, err := s.clusters.List(ctx, tx, store.Query{Parent: env})
	if err != nil {
		return nil, err
	}
	var out []Placed
	for _, c := range cs {
		if c.Status == ClusterDeleting || c.Config == nil {
			continue
		}
		if name, r := reservationOf(c.Config); name == group {
			out = append(out, Placed{Cluster: c.Name, Reservation: r})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Cluster < out[j].Cluster })
	return out, nil
}

// Volumes admits the volumes a cluster names (savedown storage,
// tickerplant logs); the volumes family (kx/volumes) registers it with
// SetVolumes. Without one, a cluster that names a volume is refused as
// naming one that does not exist.
type Volumes interface {
	// UsableTx checks, in the cluster's creating transaction, that volume
	// name of env exists and can be attached.
	UsableTx(ctx context.Context, tx store.Tx, region, env, name string) error
}

// SetVolumes registers the volumes' admission. Call before serving.
func (s *Service) SetVolumes(v Volumes) { s.volumeAdmit = v }

// Attached is a cluster attached to a volume.
type Attached struct {
	Cluster, Type, Status string
}

// volumesOf are the volumes cfg names: savedown storage and tickerplant
// logs, each once, in order.
func volumesOf(cfg *shapes.CreateKxClusterRequest) []string {
	var out []string
	add := func(n string) {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if s := cfg.SavedownStorageConfiguration; s != nil {
		add(deref(s.VolumeName))
	}
	if t := cfg.TickerplantLogConfiguration; t != nil {
		for _, v := range t.TickerplantLogVolumes {
			add(v)
		}
	}
	return out
}

// VolumeUseTx lists the clusters of env attached to volume, by name
// (clusters being deleted included: their nodes may still write). This
// is the clusters' rule that an attached volume stays; the volumes family
// asks it (volumes.Service.SetUse).
func (s *Service) VolumeUseTx(ctx context.Context, tx store.Tx, env, volume string) ([]Attached, error) {
	cs, err := s.clusters.List(ctx, tx, store.Query{Parent: env})
	if err != nil {
		return nil, err
	}
	var out []Attached
	for _, c := range cs {
		if c.Config != nil && slices.Contains(volumesOf(c.Config), volume) {
			out = append(out, Attached{Cluster: c.Name, Type: string(deref(c.Config.ClusterType)), Status: string(c.Status)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Cluster < out[j].Cluster })
	return out, nil
}
