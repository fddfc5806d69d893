package kx

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/kx/kxfs"
	"github.com/openfinspace/openfinspace/internal/kx/node"
	"github.com/openfinspace/openfinspace/internal/runtime"
	"github.com/openfinspace/openfinspace/internal/store"
)

// ClusterJobKind is the job kind that hosts clusters: one job per
// cluster, running for the cluster's whole life in the process that holds
// its lease. It mounts the databases, unpacks the code, runs the nodes
// (restarting those that exit), and on deletion stops them, removes the
// cluster's files and its record. If its process dies, its nodes die
// with it (node package) and the process that takes the lease over starts
// them again.
const ClusterJobKind = "kxClusterHost"

type clusterArgs struct {
	Env  string `json:"env"`
	Name string `json:"name"`
	UID  string `json:"uid"`
}

// maxCodeBytes bounds a cluster's code archive.
const maxCodeBytes = 1 << 30

// ClusterJobKindDef is the host job kind: Workers clusters per process.
func (s *Service) ClusterJobKindDef() *jobs.Kind {
	return &jobs.Kind{Name: ClusterJobKind, Workers: s.clustersPerProcess, MaxAttempts: 1000, Lease: s.lease,
		Handler: jobs.HandlerFunc(s.runHost)}
}

// ClusterDir is where cluster c's files are on the host that runs it:
// db/<database> (the mounted versions), code/, bootstrap.q, logs/.
func (s *Service) ClusterDir(c *Cluster) string {
	return filepath.Join(s.clusterRoot, "clusters", c.UID)
}

func (s *Service) clusterCache(region string) *kxfs.Cache {
	return &kxfs.Cache{Root: filepath.Join(s.clusterRoot, "cache", region), Fetch: s.Fetch(region)}
}

// readCluster reads the cluster of args (nil when it is gone or another
// incarnation of the name).
func (s *Service) readCluster(ctx context.Context, args clusterArgs) (*Cluster, int64, error) {
	var c *Cluster
	var version int64
	err := s.db.View(ctx, func(tx store.Tx) error {
		var err error
		c, version, err = s.clusters.Get(ctx, tx, clusterID(args.Env, args.Name))
		if errors.Is(err, store.ErrNotFound) {
			c, err = nil, nil
		}
		return err
	})
	if c != nil && c.UID != args.UID {
		c = nil
	}
	return c, version, err
}

// updateCluster applies fn to the cluster of args in one transaction,
// unless it is being deleted (then it reports false).
func (s *Service) updateCluster(ctx context.Context, args clusterArgs, fn func(c *Cluster)) (bool, error) {
	live := false
	err := s.db.Update(ctx, func(tx store.Tx) error {
		c, version, err := s.clusters.Get(ctx, tx, clusterID(args.Env, args.Name))
		if errors.Is(err, store.ErrNotFound) {
			return nil
		}
		if err != nil || c.UID != args.UID || c.Status == ClusterDeleting {
			return err
		}
		live = true
		fn(c)
		c.UpdatedAt = s.now().UTC()
		return s.clusters.Update(ctx, tx, c, version)
	})
	return live, err
}

func (s *Service) runHost(ctx context.Context, r *jobs.Run) (jobs.Result, error) {
	var args clusterArgs
	if err := r.Args(&args); err != nil {
		return jobs.Result{}, jobs.Permanent(err)
	}
	c, _, err := s.readCluster(ctx, args)
	if err != nil {
		return jobs.Result{}, err
	}
	if c == nil {
		return jobs.Result{}, nil
	}
	dir := s.ClusterDir(c)
	removeRecord := func(ctx context.Context, tx store.Tx) error {
		cur, _, err := s.clusters.Get(ctx, tx, clusterID(args.Env, args.Name))
		if errors.Is(err, store.ErrNotFound) || err == nil && cur.UID != args.UID {
			return nil
		}
		if err != nil {
			return err
		}
		return s.removeClusterTx(ctx, tx, cur)
	}
	deleted := func() {
		s.log.Info("kx cluster deleted", "cluster", args.Name, "environment", args.Env, "outcome", "DELETED")
	}
	if c.Status == ClusterDeleting {
		s.removeClusterFiles(c.Region, dir)
		return jobs.Result{Commit: removeRecord, Done: deleted}, nil
	}
	if c.Status == ClusterPending {
		if _, err := s.updateCluster(ctx, args, func(c *Cluster) { c.Status = ClusterCreating }); err != nil {
			return jobs.Result{}, err
		}
	}
	failed := func(reason string) (jobs.Result, error) {
		s.removeClusterFiles(c.Region, dir)
		return jobs.Result{Commit: func(ctx context.Context, tx store.Tx) error {
			cur, version, err := s.clusters.Get(ctx, tx, clusterID(args.Env, args.Name))
			if errors.Is(err, store.ErrNotFound) || err == nil && cur.UID != args.UID {
				return nil
			}
			if err != nil {
				return err
			}
			if cur.Status == ClusterDeleting {
				return s.removeClusterTx(ctx, tx, cur)
			}
			cur.Status, cur.StatusReason, cur.UpdatedAt = ClusterCreateFailed, reason, s.now().UTC()
			for i := range cur.Nodes {
				cur.Nodes[i].Up, cur.Nodes[i].Port = false, 0
			}
			return s.clusters.Update(ctx, tx, cur, version)
		}, Done: func() {
			s.log.Info("kx cluster did not start", "cluster", args.Name, "environment", args.Env,
				"outcome", ClusterCreateFailed, "reason", reason)
		}}, nil
	}
	spec, err := s.prepareCluster(ctx, c, dir)
	if err != nil {
		if ctx.Err() != nil {
			return jobs.Result{}, ctx.Err()
		}
		var ae *applyError
		if errors.As(err, &ae) {
			return failed(ae.msg)
		}
		s.log.Error("kx: preparing a cluster", "cluster", c.Name, "environment", c.Environment, "err", err)
		return failed(internalReason)
	}

	type nodeEvent struct {
		i int
		e node.Event
	}
	events := make(chan nodeEvent, 4*len(c.Nodes)+4)
	sups := make([]*node.Supervisor, len(c.Nodes))
	var wg sync.WaitGroup
	runCtx, stopNodes := context.WithCancel(context.WithoutCancel(ctx))
	stopAll := func() {
		stopNodes()
		wg.Wait()
	}
	// One driver for the cluster's nodes: it holds a locked thread while
	// they run (see runtime.Local).
	drv := &runtime.Local{}
	for i := range c.Nodes {
		sp := spec
		// Bounded logs: logs/<node id>.log and its rotated predecessors.
		sp.Name, sp.Logs = c.Nodes[i].ID, runtime.Logs{Dir: filepath.Join(dir, "logs")}
		i := i
		sups[i] = &node.Supervisor{Spec: sp, Driver: drv, Grace: 5 * time.Second,
			OnEvent: func(e node.Event) {
				select {
				case events <- nodeEvent{i, e}:
				case <-runCtx.Done():
				}
			}}
		wg.Add(1)
		go func() { defer wg.Done(); sups[i].Run(runCtx) }()
	}
	// deleting reports whether the cluster is being deleted (or gone): a
	// signal from DeleteCluster asks.
	deleting := func() bool {
		cur, _, err := s.readCluster(ctx, args)
		return err == nil && (cur == nil || cur.Status == ClusterDeleting)
	}
	gone := func() (jobs.Result, error) {
		stopAll()
		s.removeClusterFiles(c.Region, dir)
		return jobs.Result{Commit: removeRecord, Done: deleted}, nil
	}
	// Wait for every node's first start.
	started := make([]bool, len(c.Nodes))
	for waiting := len(c.Nodes); waiting > 0; {
		select {
		case <-ctx.Done():
			stopAll()
			return jobs.Result{}, ctx.Err()
		case <-r.Signals():
			if deleting() {
				return gone()
			}
		case ev := <-events:
			if !ev.e.Up {
				stopAll()
				s.log.Warn("kx: a cluster node did not start", "cluster", c.Name, "environment", c.Environment,
					"node", c.Nodes[ev.i].ID, "err", ev.e.Err)
				return failed(nodeReason(c.Nodes[ev.i].ID, ev.e.Err))
			}
			if !started[ev.i] {
				started[ev.i] = true
				waiting--
			}
			s.nodeUp(ctx, args, ev.i, ev.e)
		}
	}
	if _, err := s.updateCluster(ctx, args, func(c *Cluster) { c.Status, c.StatusReason = ClusterRunning, "" }); err != nil {
		stopAll()
		return jobs.Result{}, err
	}
	s.log.Info("kx cluster running", "cluster", args.Name, "environment", args.Env, "outcome", ClusterRunning, "nodes", len(c.Nodes))
	// The reconciler: act on a node's event, or on a signal (DeleteCluster,
	// at once from this process, at the next lease renewal from another).
	// Nothing polls the store meanwhile.
	for {
		select {
		case <-ctx.Done():
			stopAll()
			return jobs.Result{}, ctx.Err()
		case ev := <-events:
			if ev.e.Up {
				s.nodeUp(ctx, args, ev.i, ev.e)
			} else {
				s.log.Warn("kx: a cluster node exited; restarting it", "cluster", c.Name, "node", c.Nodes[ev.i].ID, "err", ev.e.Err)
				s.metrics.NodeRestarted()
				_, _ = s.updateCluster(ctx, args, func(c *Cluster) { c.Nodes[ev.i].Up = false })
			}
		case <-r.Signals():
			if deleting() {
				return gone()
			}
		}
	}
}

// internalReason is the statusReason of a cluster that failed for a reason
// of the server's, not the user's: the details (local paths, ports) are in
// the log only.
const internalReason = "The cluster's files could not be prepared (an internal error; the server's log has its details)."

// nodeReason is the statusReason of a node that did not start: what the
// user can act on, never a local path or port (the log has the error).
func nodeReason(node string, err error) string {
	var ee *runtime.ExitError
	switch {
	case errors.Is(err, runtime.ErrExitedBeforeReady) && errors.As(err, &ee):
		return fmt.Sprintf("Node %s did not start: the kdb+ process exited before it was ready (%s); check the initialization script and the command line arguments.", node, ee.Exit)
	case errors.Is(err, runtime.ErrExitedBeforeReady):
		return fmt.Sprintf("Node %s did not start: the kdb+ process exited before it was ready; check the initialization script and the command line arguments.", node)
	case errors.Is(err, runtime.ErrReadyTimeout):
		return fmt.Sprintf("Node %s did not start: the kdb+ process did not answer in time.", node)
	}
	return fmt.Sprintf("Node %s could not be started (an internal error; the server's log has its details).", node)
}

func (s *Service) nodeUp(ctx context.Context, args clusterArgs, i int, e node.Event) {
	_, err := s.updateCluster(ctx, args, func(c *Cluster) {
		if i < len(c.Nodes) {
			c.Nodes[i].Up, c.Nodes[i].Port, c.Nodes[i].LaunchedAt = true, e.Process.Port, e.Process.Started.UTC()
		}
	})
	if err != nil && ctx.Err() == nil {
		s.log.Warn("kx: recording a node's start", "cluster", args.Name, "err", err)
	}
}

// prepareCluster builds dir afresh: each database's version materialized
// under db/, the code archive unpacked under code/, the bootstrap script,
// logs/. It returns the nodes' spec (without port and log).
func (s *Service) prepareCluster(ctx context.Context, c *Cluster, dir string) (node.Spec, error) {
	s.removeClusterFiles(c.Region, dir)
	for _, sub := range []string{"db", "logs"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return node.Spec{}, err
		}
	}
	if s.kdbExecutable == "" {
		return node.Spec{}, failf(ErrorInternal, "No kdb+ executable is configured on this server (OPENFINSPACE_KDB_EXECUTABLE), so clusters cannot run.")
	}
	cache := s.clusterCache(c.Region)
	bucket := s.ContentBucket(c.Region)
	for _, d := range c.Databases {
		dest := filepath.Join(dir, "db", d.Name)
		if d.Changeset == "" {
			if err := os.Mkdir(dest, 0o555); err != nil {
				return node.Spec{}, err
			}
			continue
		}
		m, err := s.readManifest(ctx, bucket, d.UID, d.Changeset)
		if err != nil {
			return node.Spec{}, err
		}
		s.cacheMu.Lock()
		err = cache.Materialize(ctx, m, dest)
		s.cacheMu.Unlock()
		if err != nil {
			return node.Spec{}, err
		}
	}
	cfg := c.Config
	codeDir := filepath.Join(dir, "code")
	if cfg.Code != nil {
		if err := s.unpackCode(ctx, c.Region, cfg.Code.S3Bucket, cfg.Code.S3Key, dir, codeDir); err != nil {
			return node.Spec{}, err
		}
	} else if err := os.Mkdir(codeDir, 0o755); err != nil {
		return node.Spec{}, err
	}
	b := node.Bootstrap{DatabaseRoot: filepath.Join(dir, "db"), CodePath: codeDir,
		InitScript: deref(cfg.InitializationScript), LoadDatabase: true}
	if len(c.Databases) > 0 {
		b.Database = c.Databases[0].Name
	}
	var args []string
	for _, a := range cfg.CommandLineArguments {
		b.Args = append(b.Args, [2]string{deref(a.Key), deref(a.Value)})
		args = append(args, "-"+deref(a.Key), deref(a.Value))
	}
	if b.InitScript != "" {
		if _, err := os.Stat(filepath.Join(codeDir, filepath.FromSlash(b.InitScript))); err != nil {
			return node.Spec{}, failf(ErrorInvalid, "The initialization script %s is not in the code archive.", b.InitScript)
		}
	}
	script := filepath.Join(dir, "bootstrap.q")
	if err := os.WriteFile(script, b.Script(), 0o644); err != nil {
		return node.Spec{}, err
	}
	return node.Spec{Executable: s.kdbExecutable, Script: script, Args: args, Dir: codeDir}, nil
}

// unpackCode copies the code archive s3://bucket/key to dir/code.zip and
// unpacks it into codeDir.
func (s *Service) unpackCode(ctx context.Context, region string, bucket, key *string, dir, codeDir string) error {
	b, k := deref(bucket), deref(key)
	if err := s.mayRead(region, b); err != nil {
		return err
	}
	rc, info, err := s.blobs.Get(ctx, b, k)
	if err != nil {
		return sourceErr("s3://"+b+"/"+k, err)
	}
	defer rc.Close()
	if info != nil && info.Size > maxCodeBytes {
		return failf(ErrorInvalid, "The code archive s3://%s/%s is larger than %d bytes.", b, k, maxCodeBytes)
	}
	zipPath := filepath.Join(dir, "code.zip")
	f, err := os.OpenFile(zipPath, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(zipPath)
	defer f.Close()
	n, err := io.Copy(f, io.LimitReader(rc, maxCodeBytes+1))
	if err != nil {
		return err
	}
	if n > maxCodeBytes {
		return failf(ErrorInvalid, "The code archive s3://%s/%s is larger than %d bytes.", b, k, maxCodeBytes)
	}
	if err := node.Unzip(f, n, codeDir, node.UnzipLimits{}); err != nil {
		if errors.Is(err, node.ErrUnsafeArchive) || errors.Is(err, zip.ErrFormat) {
			// What is wrong with the archive itself (its entries' names
			// are the user's, not local paths).
			return failf(ErrorInvalid, "The code archive s3://%s/%s cannot be used: %v.", b, k, err)
		}
		return fmt.Errorf("unpacking the code archive s3://%s/%s: %w", b, k, err)
	}
	return nil
}

// removeClusterFiles removes a cluster's files and the cache objects no
// other tree links.
func (s *Service) removeClusterFiles(region, dir string) {
	if _, err := os.Lstat(dir); err != nil {
		return
	}
	if err := kxfs.Remove(dir); err != nil {
		s.log.Warn("kx: removing a cluster's files", "dir", dir, "err", err)
	}
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if _, err := s.clusterCache(region).Collect(); err != nil {
		s.log.Warn("kx: collecting the cluster cache", "err", err)
	}
}
