package server_test

import (
	"archive/zip"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/finspace/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openfinspace/openfinspace/internal/kx/node"
	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

func codeZip(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for name, body := range files {
		f, err := w.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		f.Write([]byte(body))
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func waitCluster(t *testing.T, c *finspace.Client, env, name string, want ...types.KxClusterStatus) *finspace.GetKxClusterOutput {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := c.GetKxCluster(context.Background(), &finspace.GetKxClusterInput{EnvironmentId: &env, ClusterName: &name})
		if err != nil {
			t.Fatalf("GetKxCluster(%s): %v", name, err)
		}
		for _, w := range want {
			if out.Status == w {
				return out
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster %s stuck in %s (%s), want %v", name, out.Status, aws.ToString(out.StatusReason), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitClusterGone(t *testing.T, c *finspace.Client, env, name string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.GetKxCluster(context.Background(), &finspace.GetKxClusterInput{EnvironmentId: &env, ClusterName: &name})
		if err != nil {
			if code := apiCode(t, err); code != "ResourceNotFoundException" {
				t.Fatalf("GetKxCluster of a deleted cluster: %s", code)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("cluster %s not gone", name)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func readyKxEnv(t *testing.T, c *finspace.Client, name string) string {
	t.Helper()
	ctx := context.Background()
	created, err := c.CreateKxEnvironment(ctx, &finspace.CreateKxEnvironmentInput{Name: aws.String(name),
		KmsKeyId: aws.String("arn:aws:kms:us-east-1:000000000000:key/k")})
	if err != nil {
		t.Fatal(err)
	}
	env := aws.ToString(created.EnvironmentId)
	deadline := time.Now().Add(20 * time.Second)
	for {
		e, err := c.GetKxEnvironment(ctx, &finspace.GetKxEnvironmentInput{EnvironmentId: &env})
		if err != nil {
			t.Fatal(err)
		}
		if e.Status == types.EnvironmentStatusCreated {
			return env
		}
		if time.Now().After(deadline) {
			t.Fatalf("environment stuck in %s", e.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestKxClusters: an HDB cluster of two nodes mounting a database version
// and running code from S3 reaches RUNNING with two real kdb+ processes
// (the test double) on the mounted, byte-identical tree; the database and
// the environment cannot be deleted under it; deletion stops the nodes and
// removes the files.
func TestKxClusters(t *testing.T) {
	q := servertest.KdbDouble(t)
	srv := servertest.Start(t, func(c *server.Config) { c.KdbExecutable = q })
	c := servertest.Finspace(srv)
	ctx := context.Background()
	s3c := rootS3(srv)
	env := readyKxEnv(t, c, "clusters")
	const db = "hdb"
	if _, err := c.CreateKxDatabase(ctx, &finspace.CreateKxDatabaseInput{EnvironmentId: &env, DatabaseName: aws.String(db), ClientToken: aws.String("db")}); err != nil {
		t.Fatal(err)
	}
	mustCreateBucket(t, s3c, "kxdata")
	files := kxLayout("2024.01.01", "2024.01.02")
	uploadLayout(t, s3c, "kxdata", "hdb/", files)
	cs := changeset(t, c, env, db, put("s3://kxdata/hdb/", "/"))
	if cs.Status != types.ChangesetStatusCompleted {
		t.Fatalf("changeset: %s", cs.Status)
	}
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String("kxdata"), Key: aws.String("code/code.zip"),
		Body: bytes.NewReader(codeZip(t, map[string]string{"app/init.q": "show `hello", "app/lib.q": "f:{x}"}))}); err != nil {
		t.Fatal(err)
	}

	in := &finspace.CreateKxClusterInput{EnvironmentId: &env, ClusterName: aws.String("hdb1"), ClusterType: types.KxClusterTypeHdb,
		AzMode: types.KxAzModeMulti, ReleaseLabel: aws.String("1.0"),
		VpcConfiguration:      &types.VpcConfiguration{VpcId: aws.String("vpc-0abc1234"), SecurityGroupIds: []string{"sg-0abc1234"}, SubnetIds: []string{"subnet-0abc1234"}, IpAddressType: types.IPAddressTypeIpV4},
		CapacityConfiguration: &types.CapacityConfiguration{NodeType: aws.String("kx.s.xlarge"), NodeCount: aws.Int32(2)},
		Databases:             []types.KxDatabaseConfiguration{{DatabaseName: aws.String(db)}},
		Code:                  &types.CodeConfiguration{S3Bucket: aws.String("kxdata"), S3Key: aws.String("code/code.zip")},
		InitializationScript:  aws.String("app/init.q"),
		CommandLineArguments:  []types.KxCommandLineArgument{{Key: aws.String("procname"), Value: aws.String("hdb1")}},
		Tags:                  map[string]string{"team": "quant"}, ClientToken: aws.String("cl-1")}
	created, err := c.CreateKxCluster(ctx, in)
	if err != nil {
		t.Fatalf("CreateKxCluster: %v", err)
	}
	if created.Status != types.KxClusterStatusPending || aws.ToString(created.ClusterName) != "hdb1" {
		t.Errorf("CreateKxCluster: %s %s", created.Status, aws.ToString(created.ClusterName))
	}
	if _, err := c.CreateKxCluster(ctx, func() *finspace.CreateKxClusterInput { d := *in; d.ClientToken = aws.String("cl-dup"); return &d }()); apiCode(t, err) != "ConflictException" {
		t.Errorf("duplicate cluster: %v", err)
	}
	got := waitCluster(t, c, env, "hdb1", types.KxClusterStatusRunning, types.KxClusterStatusCreateFailed)
	if got.Status != types.KxClusterStatusRunning {
		t.Fatalf("cluster %s: %s", got.Status, aws.ToString(got.StatusReason))
	}
	if len(got.Databases) != 1 || aws.ToString(got.Databases[0].ChangesetId) != aws.ToString(cs.ChangesetId) ||
		aws.ToInt32(got.CapacityConfiguration.NodeCount) != 2 || aws.ToString(got.InitializationScript) != "app/init.q" ||
		got.CreatedTimestamp == nil || got.LastModifiedTimestamp == nil {
		t.Errorf("GetKxCluster echo: %+v", got)
	}
	nodes, err := c.ListKxClusterNodes(ctx, &finspace.ListKxClusterNodesInput{EnvironmentId: &env, ClusterName: aws.String("hdb1")})
	if err != nil || len(nodes.Nodes) != 2 {
		t.Fatalf("ListKxClusterNodes: %v %+v", err, nodes)
	}
	for _, n := range nodes.Nodes {
		if n.Status != types.KxNodeStatusRunning || n.LaunchTime == nil || aws.ToString(n.AvailabilityZoneId) == "" {
			t.Errorf("node %+v", n)
		}
	}
	list, err := c.ListKxClusters(ctx, &finspace.ListKxClustersInput{EnvironmentId: &env})
	if err != nil || len(list.KxClusterSummaries) != 1 || list.KxClusterSummaries[0].Status != types.KxClusterStatusRunning {
		t.Errorf("ListKxClusters: %v %+v", err, list)
	}
	if l, err := c.ListKxClusters(ctx, &finspace.ListKxClustersInput{EnvironmentId: &env, ClusterType: types.KxClusterTypeRdb}); err != nil || len(l.KxClusterSummaries) != 0 {
		t.Errorf("ListKxClusters of type RDB: %v %+v", err, l)
	}
	arn := "arn:aws:finspace:us-east-1:000000000000:kxEnvironment/" + env + "/kxCluster/hdb1"
	if tags, err := c.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: &arn}); err != nil || tags.Tags["team"] != "quant" {
		t.Errorf("cluster tags: %v %v", err, tags)
	}

	// The nodes are real processes answering kdb+ handshakes, on the
	// mounted version, byte-identical to the upload.
	rec, err := srv.Kx().GetCluster(ctx, servertest.Region, env, "hdb1")
	if err != nil {
		t.Fatal(err)
	}
	dir := srv.Kx().ClusterDir(rec)
	for _, n := range rec.Nodes {
		if err := node.Probe("127.0.0.1:"+strconv.Itoa(n.Port), time.Second); err != nil {
			t.Errorf("node %s on port %d: %v", n.ID, n.Port, err)
		}
	}
	sameHashes(t, "mounted version", hashTree(t, filepath.Join(dir, "db", db)), hashLayout(files))
	if b, err := os.ReadFile(filepath.Join(dir, "code", "app", "init.q")); err != nil || string(b) != "show `hello" {
		t.Errorf("unpacked code: %q %v", b, err)
	}
	boot, _ := os.ReadFile(filepath.Join(dir, "bootstrap.q"))
	for _, want := range []string{`.aws.akdb:"hdb";`, `app/init.q";`, "procname"} {
		if !strings.Contains(string(boot), want) {
			t.Errorf("bootstrap.q lacks %s:\n%s", want, boot)
		}
	}

	// Refusals while the cluster exists.
	_, err = c.DeleteKxDatabase(ctx, &finspace.DeleteKxDatabaseInput{EnvironmentId: &env, DatabaseName: aws.String(db), ClientToken: aws.String("del-db")})
	if code := apiCode(t, err); code != "ConflictException" || !strings.Contains(err.Error(), "hdb1") {
		t.Errorf("DeleteKxDatabase of a mounted database: %v", err)
	}
	_, err = c.DeleteKxEnvironment(ctx, &finspace.DeleteKxEnvironmentInput{EnvironmentId: &env, ClientToken: aws.String("del-env")})
	if code := apiCode(t, err); code != "ValidationException" || !strings.Contains(err.Error(), "hdb1") {
		t.Errorf("DeleteKxEnvironment with a cluster: %v", err)
	}
	// Bad requests.
	for what, bad := range map[string]func(*finspace.CreateKxClusterInput){
		"missing database": func(i *finspace.CreateKxClusterInput) { i.Databases[0].DatabaseName = aws.String("nope") },
		"script escapes":   func(i *finspace.CreateKxClusterInput) { i.InitializationScript = aws.String("../x.q") },
		"too many nodes":   func(i *finspace.CreateKxClusterInput) { i.CapacityConfiguration.NodeCount = aws.Int32(6) },
		"service bucket": func(i *finspace.CreateKxClusterInput) {
			i.Code.S3Bucket = aws.String(srv.KxContentBucket(servertest.Region))
		},
		"GP with two nodes": func(i *finspace.CreateKxClusterInput) { i.ClusterType = types.KxClusterTypeGp },
		"RDB, no savedown":  func(i *finspace.CreateKxClusterInput) { i.ClusterType = types.KxClusterTypeRdb },
	} {
		d := *in
		d.ClusterName, d.ClientToken = aws.String("bad1"), aws.String("bad-"+strings.ReplaceAll(what, " ", "-"))
		cc := *in.CapacityConfiguration
		d.CapacityConfiguration = &cc
		cd := *in.Code
		d.Code = &cd
		d.Databases = []types.KxDatabaseConfiguration{{DatabaseName: aws.String(db)}}
		bad(&d)
		if _, err := c.CreateKxCluster(ctx, &d); err == nil {
			t.Errorf("%s: created", what)
		}
	}
	// A cluster whose code archive is missing fails with a reason.
	d := *in
	d.ClusterName, d.ClientToken, d.Databases = aws.String("nocode"), aws.String("nocode"), nil
	d.Code = &types.CodeConfiguration{S3Bucket: aws.String("kxdata"), S3Key: aws.String("code/missing.zip")}
	if _, err := c.CreateKxCluster(ctx, &d); err != nil {
		t.Fatal(err)
	}
	failed := waitCluster(t, c, env, "nocode", types.KxClusterStatusCreateFailed, types.KxClusterStatusRunning)
	if failed.Status != types.KxClusterStatusCreateFailed || !strings.Contains(aws.ToString(failed.StatusReason), "code/missing.zip") {
		t.Errorf("missing code: %s %q", failed.Status, aws.ToString(failed.StatusReason))
	}
	if _, err := c.DeleteKxCluster(ctx, &finspace.DeleteKxClusterInput{EnvironmentId: &env, ClusterName: aws.String("nocode")}); err != nil {
		t.Fatal(err)
	}
	waitClusterGone(t, c, env, "nocode")

	// Deletion stops the nodes and removes the files.
	if _, err := c.DeleteKxCluster(ctx, &finspace.DeleteKxClusterInput{EnvironmentId: &env, ClusterName: aws.String("hdb1"), ClientToken: aws.String("del-cl")}); err != nil {
		t.Fatal(err)
	}
	waitClusterGone(t, c, env, "hdb1")
	for _, n := range rec.Nodes {
		if err := node.Probe("127.0.0.1:"+strconv.Itoa(n.Port), 200*time.Millisecond); err == nil {
			t.Errorf("node %s still answers after deletion", n.ID)
		}
	}
	if _, err := os.Lstat(dir); err == nil {
		t.Errorf("cluster files left at %s", dir)
	}
	if tags, err := c.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: &arn}); err == nil && len(tags.Tags) != 0 {
		t.Errorf("tags of a deleted cluster: %v", tags.Tags)
	}
	if _, err := c.DeleteKxDatabase(ctx, &finspace.DeleteKxDatabaseInput{EnvironmentId: &env, DatabaseName: aws.String(db), ClientToken: aws.String("del-db2")}); err != nil {
		t.Errorf("DeleteKxDatabase after the cluster: %v", err)
	}
	if _, err := c.DeleteKxEnvironment(ctx, &finspace.DeleteKxEnvironmentInput{EnvironmentId: &env, ClientToken: aws.String("del-env2")}); err != nil {
		t.Errorf("DeleteKxEnvironment after the cluster: %v", err)
	}
}
