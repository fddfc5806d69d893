package finspace

import (
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/api/apiutil"
	"github.com/openfinspace/openfinspace/internal/kx"
	"github.com/openfinspace/openfinspace/internal/wire/finspace"
)

// TestKxClusterOutEchoesConfig: the Get, Create and summary forms of a
// cluster echo its stored configuration through the generated echoes, each
// database carries its resolved changeset, and the stored configuration
// (shared with the cache) is left as it was.
func TestKxClusterOutEchoesConfig(t *testing.T) {
	typ, az := finspace.KxClusterType("HDB"), finspace.KxAzMode("SINGLE")
	cfg := &finspace.CreateKxClusterRequest{ClusterName: apiutil.Ptr("c1"), ClusterType: &typ, AzMode: &az,
		ReleaseLabel: apiutil.Ptr("1.0"), ClusterDescription: apiutil.Ptr("d"), ExecutionRole: apiutil.Ptr("arn:role"),
		CapacityConfiguration: &finspace.CapacityConfiguration{NodeType: apiutil.Ptr("kx.s.large")},
		Databases:             []finspace.KxDatabaseConfiguration{{DatabaseName: apiutil.Ptr("db1")}, {DatabaseName: apiutil.Ptr("db2")}}}
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	c := &kx.Cluster{Environment: "env1", Name: "c1", Status: kx.ClusterRunning, Config: cfg,
		Databases: []kx.ClusterDatabase{{Name: "db1", Changeset: "cs1"}, {Name: "db2"}}, CreatedAt: now, UpdatedAt: now}

	get := kxClusterOut(c)
	if apiutil.Str(get.ClusterName) != "c1" || get.ClusterType != cfg.ClusterType || get.AzMode != cfg.AzMode ||
		get.ReleaseLabel != cfg.ReleaseLabel || get.CapacityConfiguration != cfg.CapacityConfiguration ||
		get.ExecutionRole != cfg.ExecutionRole || get.ClusterDescription != cfg.ClusterDescription {
		t.Errorf("Get does not echo the configuration: %+v", get)
	}
	if string(*get.Status) != "RUNNING" || get.CreatedTimestamp == nil || get.LastModifiedTimestamp == nil {
		t.Errorf("Get lacks the record's status or times: %+v", get)
	}
	if len(get.Databases) != 2 || apiutil.Str(get.Databases[0].ChangesetId) != "cs1" || get.Databases[1].ChangesetId != nil {
		t.Errorf("databases %+v, want db1 at cs1 and db2 without a changeset", get.Databases)
	}
	if cfg.Databases[0].ChangesetId != nil {
		t.Error("the stored configuration was changed")
	}

	create := get.ToCreateKxClusterResponse()
	create.EnvironmentId = &c.Environment
	if apiutil.Str(create.ClusterName) != "c1" || create.Status != get.Status || len(create.Databases) != 2 ||
		create.CapacityConfiguration != cfg.CapacityConfiguration || apiutil.Str(create.EnvironmentId) != "env1" {
		t.Errorf("Create response %+v does not echo the record", create)
	}
	sum := get.ToKxCluster()
	if apiutil.Str(sum.ClusterName) != "c1" || sum.ClusterType != cfg.ClusterType || sum.CreatedTimestamp != get.CreatedTimestamp {
		t.Errorf("summary %+v does not echo the record", sum)
	}
}
