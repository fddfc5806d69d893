package kx

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/sqlite"
	shapes "github.com/openfinspace/openfinspace/internal/wire/finspace"
)

// TestStatusReasonHasNoLocalDetails: a cluster whose node does not start
// ends CREATE_FAILED with a reason the user can act on, without the
// server's paths or the node's port (those are in the log only).
func TestStatusReasonHasNoLocalDetails(t *testing.T) {
	const region, envID = "us-east-1", "kxreason"
	ctx := context.Background()
	root := t.TempDir()
	db, err := sqlite.Open(ctx, filepath.Join(root, "metadata.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := filepath.Join(root, "bin", "q")
	if err := os.MkdirAll(filepath.Dir(q), 0o755); err != nil {
		t.Fatal(err)
	}
	// A "kdb+" that fails at once, saying where it lives.
	if err := os.WriteFile(q, []byte("#!/bin/sh\necho \"cannot read $PWD\" >&2\nexit 3\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	engine, err := jobs.New(jobs.Config{Store: db, Exclusive: true, Poll: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	s := New(Config{Store: db, Jobs: engine, Account: "000000000000", Blobs: newMemBlobs(),
		ClusterRoot: filepath.Join(root, "kx"), KdbExecutable: q})
	if err := engine.Register(s.ClusterJobKindDef()); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := db.Update(ctx, func(tx store.Tx) error {
		return s.envs.Insert(ctx, tx, &Environment{ID: envID, Region: region, Account: s.account, ARN: s.ARN(region, envID),
			Status: Created, CreatedAt: now, UpdatedAt: now, AvailabilityZoneIDs: zoneIDs(region)})
	}); err != nil {
		t.Fatal(err)
	}
	engine.Start(ctx)
	defer engine.Stop()
	typ, az := shapes.KxClusterTypeHdb, shapes.KxAzModeMulti
	name, nodeType, count, label := "c1", "kx.s.xlarge", int32(1), "1.0"
	if _, err := s.CreateCluster(ctx, region, envID, &shapes.CreateKxClusterRequest{ClusterName: &name, ClusterType: &typ,
		AzMode: &az, ReleaseLabel: &label,
		CapacityConfiguration: &shapes.CapacityConfiguration{NodeType: &nodeType, NodeCount: &count}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	var c *Cluster
	for {
		c, err = s.GetCluster(ctx, region, envID, name)
		if err != nil {
			t.Fatal(err)
		}
		if c.Status == ClusterCreateFailed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster %s (%s), want CREATE_FAILED", c.Status, c.StatusReason)
		}
		time.Sleep(10 * time.Millisecond)
	}
	reason := c.StatusReason
	t.Logf("statusReason: %s", reason)
	if reason == "" || !strings.Contains(reason, "exit status 3") {
		t.Errorf("reason %q does not say what happened", reason)
	}
	for _, leak := range []string{root, "/tmp", "127.0.0.1", "localhost", "port"} {
		if strings.Contains(reason, leak) {
			t.Errorf("reason %q carries %q", reason, leak)
		}
	}
	if regexp.MustCompile(`\b\d{4,5}\b`).MatchString(reason) {
		t.Errorf("reason %q carries what looks like a port", reason)
	}
}

// TestNodeReason: every kind of start error maps to a reason without the
// error's local details.
func TestNodeReason(t *testing.T) {
	for _, err := range []error{
		&os.PathError{Op: "fork/exec", Path: "/srv/secret/q", Err: os.ErrPermission},
		context.DeadlineExceeded,
	} {
		r := nodeReason("n1", err)
		if strings.Contains(r, "/srv") || strings.Contains(r, "deadline") {
			t.Errorf("nodeReason(%v) = %q", err, r)
		}
	}
}
