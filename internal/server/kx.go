package server

import (
	"context"
	"fmt"
	"path/filepath"
	"time"

	"github.com/openfinspace/openfinspace/internal/idempotency"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/kx"
	"github.com/openfinspace/openfinspace/internal/kx/dataviews"
	"github.com/openfinspace/openfinspace/internal/kx/scaling"
	"github.com/openfinspace/openfinspace/internal/kx/users"
	"github.com/openfinspace/openfinspace/internal/kx/volumes"
	"github.com/openfinspace/openfinspace/internal/resource"
)

// buildKx makes the Managed kdb service: environments and users on the
// lifecycle job kind, changesets applied into the content store in the
// object store (so it comes after openObjects), and the collection of
// that store after deletions.
func (s *Server) buildKx(tokens *idempotency.Tokens, now func() time.Time) (*kx.Service, error) {
	kxs := kx.New(kx.Config{Store: s.db, Logger: s.log, Metrics: s.metrics, Jobs: s.jobs, Tokens: tokens, Account: s.cfg.AccountID,
		StepDelay: s.cfg.LifecycleStep, Now: now, Blobs: s.blobs, Lease: s.cfg.JobLease,
		LocalObject: s.localObject(), LinkObject: s.linkObject(),
		ClusterRoot: filepath.Join(s.cfg.DataDir, "kx"), KdbExecutable: s.cfg.KdbExecutable})
	for _, k := range []*jobs.Kind{s.withLease(kxs.JobKind()), kxs.ChangesetJobKindDef(), kxs.CollectJobKindDef(),
		kxs.ClusterJobKindDef()} {
		if err := s.jobs.Register(k); err != nil {
			return nil, err
		}
	}
	s.kx = kxs
	s.scaling = scaling.New(scaling.Config{Kx: kxs, StepDelay: s.cfg.LifecycleStep, Now: now,
		Mutate: resource.Mutator{DB: s.db, Tokens: tokens, Jobs: s.jobs}})
	s.kxUsers = users.New(kxs, resource.Mutator{DB: s.db, Tokens: tokens, Jobs: s.jobs}, now)
	s.kxVolumes = volumes.New(volumes.Config{Kx: kxs, Root: filepath.Join(s.cfg.DataDir, "kx", "volumes"),
		StepDelay: s.cfg.LifecycleStep, Now: now, Mutate: resource.Mutator{DB: s.db, Tokens: tokens, Jobs: s.jobs}})
	s.kxVolumes.SetUse(kxs.VolumeUseTx)
	kxs.SetVolumes(s.kxVolumes)
	s.kxDataviews = dataviews.New(dataviews.Config{Kx: kxs, Volumes: s.kxVolumes, Root: filepath.Join(s.cfg.DataDir, "kx", "dataviews"),
		StepDelay: s.cfg.LifecycleStep, Now: now, Mutate: resource.Mutator{DB: s.db, Tokens: tokens, Jobs: s.jobs}})
	// Clusters own the rule that a group in use stays; groups own admission.
	s.scaling.SetUse(kxs.ScalingGroupUseTx)
	kxs.SetPlacement(s.scaling)
	for _, k := range []*jobs.Kind{s.scaling.JobKind(), s.kxVolumes.JobKind(), s.kxDataviews.JobKind()} {
		if err := s.jobs.Register(s.withLease(k)); err != nil {
			return nil, err
		}
	}
	return kxs, nil
}

// resumeKxFamilies schedules the lifecycle steps of the kx families'
// resources in flight (after kx.Resume, before the engine starts).
func (s *Server) resumeKxFamilies(ctx context.Context) error {
	if err := s.scaling.Resume(ctx); err != nil {
		return fmt.Errorf("resuming kx scaling group lifecycles: %w", err)
	}
	if err := s.kxVolumes.Resume(ctx); err != nil {
		return fmt.Errorf("resuming kx volume lifecycles: %w", err)
	}
	if err := s.kxDataviews.Resume(ctx); err != nil {
		return fmt.Errorf("resuming kx dataview lifecycles: %w", err)
	}
	return nil
}

// KxContentBucket is the bucket of region's kx content store (tests read
// it).
func (s *Server) KxContentBucket(region string) string { return s.kx.ContentBucket(region) }

// Kx is the Managed kdb service (tests materialize versions with it).
func (s *Server) Kx() *kx.Service { return s.kx }
