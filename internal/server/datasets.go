package server

import (
	"cmp"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/openfinspace/openfinspace/internal/dataset"
	"github.com/openfinspace/openfinspace/internal/idempotency"
	"github.com/openfinspace/openfinspace/internal/identity"
	"github.com/openfinspace/openfinspace/internal/ingest"
)

// buildDatasets makes the datasets service: its DuckDB engine works in
// <DataDir>/staging/ingest (spill files, decompressed sources), its jobs
// stage sources in <DataDir>/staging/changesets; both are this process's
// own and swept at start.
func (s *Server) buildDatasets(ident *identity.Service, tokens *idempotency.Tokens, now func() time.Time) error {
	ic := s.cfg.Ingest
	root := filepath.Join(s.cfg.DataDir, "staging")
	engineDir, jobDir := filepath.Join(root, "ingest"), filepath.Join(root, "changesets")
	for _, d := range []string{engineDir, jobDir} {
		if err := os.RemoveAll(d); err != nil {
			return fmt.Errorf("sweeping staging dir: %w", err)
		}
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("staging dir: %w", err)
		}
	}
	engine, err := ingest.New(ingest.Limits{StagingDir: engineDir, MemoryLimit: cmp.Or(ic.MemoryLimit, "512MB"),
		Threads: cmp.Or(ic.Threads, 2), MaxStagedBytes: ic.StagingBytes, MinFreeBytes: ic.MinFreeBytes, MaxLineBytes: ic.MaxLineBytes})
	if err != nil {
		return err
	}
	s.datasets = dataset.New(dataset.Config{Store: s.db, Logger: s.log, Metrics: s.metrics, Jobs: s.jobs, Tokens: tokens, Identity: ident, Blobs: s.blobs,
		Engine: engine, Account: s.cfg.AccountID, StagingDir: jobDir, PerEnvironment: ic.PerEnvironment,
		Workers: cmp.Or(ic.Workers, 4), MaxSourceBytes: ic.MaxSourceBytes, Now: now, Lease: s.cfg.JobLease,
		LocalObject: s.localObject(),
		Catalog:     lateCatalog{s}, ScopedReads: s.IssueScopedRead, MaxViewsPerDataset: ic.MaxViewsPerDataset})
	if err := s.jobs.Register(s.datasets.ViewJobKindDef()); err != nil { // dataviews.go
		return err
	}
	return s.jobs.Register(s.datasets.JobKindDef())
}

// DatasetsManagedBucket is the bucket holding environment env's ingested
// changeset data (tests read it back).
func (s *Server) DatasetsManagedBucket(region, env string) string {
	return s.datasets.ManagedBucket(region, env)
}
