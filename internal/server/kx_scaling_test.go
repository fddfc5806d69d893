package server_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/finspace/types"

	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

// waitScalingGroup reads group name until want holds, moving the manual
// clock one lifecycle step at a time; gone waits for ResourceNotFound.
func waitScalingGroup(t *testing.T, c *finspace.Client, clk *servertest.Clock, env, name string, want types.KxScalingGroupStatus, gone bool) *finspace.GetKxScalingGroupOutput {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for steps := 0; ; steps++ {
		out, err := c.GetKxScalingGroup(context.Background(), &finspace.GetKxScalingGroupInput{EnvironmentId: &env, ScalingGroupName: &name})
		var nf *types.ResourceNotFoundException
		switch {
		case gone && errors.As(err, &nf):
			return nil
		case err != nil:
			t.Fatalf("GetKxScalingGroup(%s): %v", name, err)
		case !gone && out.Status == want:
			return out
		case steps > 200 || time.Now().After(deadline):
			t.Fatalf("scaling group %s in %s, want %s (gone %v)", name, out.Status, want, gone)
		}
		if steps < 3 { // a lifecycle is one step; the rest is the engine catching up
			clk.Advance(clk.Step)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestKxScalingGroups(t *testing.T) {
	srv, clk := servertest.StartClocked(t)
	c := servertest.Finspace(srv)
	ctx := context.Background()
	created, err := c.CreateKxEnvironment(ctx, &finspace.CreateKxEnvironmentInput{Name: aws.String("sg-env"),
		KmsKeyId: aws.String("arn:aws:kms:us-east-1:000000000000:key/1234")})
	if err != nil {
		t.Fatal(err)
	}
	env := aws.ToString(created.EnvironmentId)
	envOut := waitKxStatus(t, c, clk, env, types.EnvironmentStatusCreated)
	az := envOut.AvailabilityZoneIds[0]

	// Refusals at create: a host type or zone the service does not have.
	var ve *types.ValidationException
	if _, err := c.CreateKxScalingGroup(ctx, &finspace.CreateKxScalingGroupInput{EnvironmentId: &env, ScalingGroupName: aws.String("sg-bad"),
		HostType: aws.String("kx.sg.huge"), AvailabilityZoneId: &az, ClientToken: aws.String("t-bad-host")}); !errors.As(err, &ve) {
		t.Errorf("unknown host type: %v, want ValidationException", err)
	}
	if _, err := c.CreateKxScalingGroup(ctx, &finspace.CreateKxScalingGroupInput{EnvironmentId: &env, ScalingGroupName: aws.String("sg-bad"),
		HostType: aws.String("kx.sg.4xlarge"), AvailabilityZoneId: aws.String("use1-az9"), ClientToken: aws.String("t-bad-az")}); !errors.As(err, &ve) {
		t.Errorf("a zone not the environment's: %v, want ValidationException", err)
	}
	var nf *types.ResourceNotFoundException
	if _, err := c.CreateKxScalingGroup(ctx, &finspace.CreateKxScalingGroupInput{EnvironmentId: aws.String("nosuchenvironment"), ScalingGroupName: aws.String("sg-1"),
		HostType: aws.String("kx.sg.4xlarge"), AvailabilityZoneId: &az, ClientToken: aws.String("t-no-env")}); !errors.As(err, &nf) {
		t.Errorf("a missing environment: %v, want ResourceNotFoundException", err)
	}

	cr, err := c.CreateKxScalingGroup(ctx, &finspace.CreateKxScalingGroupInput{EnvironmentId: &env, ScalingGroupName: aws.String("sg-1"),
		HostType: aws.String("kx.sg.4xlarge"), AvailabilityZoneId: &az, ClientToken: aws.String("t-sg-1"), Tags: map[string]string{"team": "tick"}})
	if err != nil {
		t.Fatalf("CreateKxScalingGroup: %v", err)
	}
	if aws.ToString(cr.EnvironmentId) != env || aws.ToString(cr.ScalingGroupName) != "sg-1" || aws.ToString(cr.HostType) != "kx.sg.4xlarge" ||
		aws.ToString(cr.AvailabilityZoneId) != az || cr.Status != types.KxScalingGroupStatusCreating || cr.CreatedTimestamp == nil || cr.LastModifiedTimestamp == nil {
		t.Errorf("create response: %+v", cr)
	}
	// The same client token again is the same answer, not a conflict.
	if again, err := c.CreateKxScalingGroup(ctx, &finspace.CreateKxScalingGroupInput{EnvironmentId: &env, ScalingGroupName: aws.String("sg-1"),
		HostType: aws.String("kx.sg.4xlarge"), AvailabilityZoneId: &az, ClientToken: aws.String("t-sg-1"), Tags: map[string]string{"team": "tick"}}); err != nil || again.Status != types.KxScalingGroupStatusCreating {
		t.Errorf("retry with the same client token: %v %+v", err, again)
	}
	g := waitScalingGroup(t, c, clk, env, "sg-1", types.KxScalingGroupStatusActive, false)
	arn := envOut.EnvironmentArn
	if aws.ToString(g.ScalingGroupArn) != aws.ToString(arn)+"/kxScalingGroup/sg-1" || len(g.Clusters) != 0 || g.CreatedTimestamp == nil || g.LastModifiedTimestamp == nil {
		t.Errorf("GetKxScalingGroup: %+v", g)
	}
	var ce *types.ConflictException
	if _, err := c.CreateKxScalingGroup(ctx, &finspace.CreateKxScalingGroupInput{EnvironmentId: &env, ScalingGroupName: aws.String("sg-1"),
		HostType: aws.String("kx.sg.large"), AvailabilityZoneId: &az, ClientToken: aws.String("t-sg-1b")}); !errors.As(err, &ce) {
		t.Errorf("a name taken: %v, want ConflictException", err)
	}

	// Tags resolve on the group's ARN.
	sgARN := g.ScalingGroupArn
	if _, err := c.TagResource(ctx, &finspace.TagResourceInput{ResourceArn: sgARN, Tags: map[string]string{"tier": "hdb"}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	tags, err := c.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: sgARN})
	if err != nil || len(tags.Tags) != 2 || tags.Tags["team"] != "tick" || tags.Tags["tier"] != "hdb" {
		t.Errorf("ListTagsForResource: %v %v", err, tags)
	}

	// Listing pages by name.
	if _, err := c.CreateKxScalingGroup(ctx, &finspace.CreateKxScalingGroupInput{EnvironmentId: &env, ScalingGroupName: aws.String("sg-0"),
		HostType: aws.String("kx.sg.large"), AvailabilityZoneId: &az, ClientToken: aws.String("t-sg-0")}); err != nil {
		t.Fatal(err)
	}
	var names []string
	var token *string
	for range 3 {
		page, err := c.ListKxScalingGroups(ctx, &finspace.ListKxScalingGroupsInput{EnvironmentId: &env, MaxResults: 1, NextToken: token})
		if err != nil {
			t.Fatalf("ListKxScalingGroups: %v", err)
		}
		for _, s := range page.ScalingGroups {
			names = append(names, aws.ToString(s.ScalingGroupName))
			if s.CreatedTimestamp == nil || s.LastModifiedTimestamp == nil || aws.ToString(s.HostType) == "" {
				t.Errorf("summary %+v", s)
			}
		}
		if token = page.NextToken; token == nil {
			break
		}
	}
	if len(names) != 2 || names[0] != "sg-0" || names[1] != "sg-1" {
		t.Errorf("listed %v, want [sg-0 sg-1]", names)
	}

	if _, err := c.GetKxScalingGroup(ctx, &finspace.GetKxScalingGroupInput{EnvironmentId: &env, ScalingGroupName: aws.String("sg-none")}); !errors.As(err, &nf) {
		t.Errorf("GetKxScalingGroup of a missing group: %v, want ResourceNotFoundException", err)
	}

	// Delete: DELETING, then DELETED (what Terraform's waiter reads) without
	// its tags; the name can be used again.
	if _, err := c.DeleteKxScalingGroup(ctx, &finspace.DeleteKxScalingGroupInput{EnvironmentId: &env, ScalingGroupName: aws.String("sg-1"), ClientToken: aws.String("d-sg-1")}); err != nil {
		t.Fatalf("DeleteKxScalingGroup: %v", err)
	}
	if g, err := c.GetKxScalingGroup(ctx, &finspace.GetKxScalingGroupInput{EnvironmentId: &env, ScalingGroupName: aws.String("sg-1")}); err != nil || g.Status != types.KxScalingGroupStatusDeleting {
		t.Errorf("after DeleteKxScalingGroup: %v %+v, want DELETING", err, g)
	}
	if _, err := c.DeleteKxScalingGroup(ctx, &finspace.DeleteKxScalingGroupInput{EnvironmentId: &env, ScalingGroupName: aws.String("sg-1"), ClientToken: aws.String("d-sg-1b")}); !errors.As(err, &ce) {
		t.Errorf("deleting a group being deleted: %v, want ConflictException", err)
	}
	if g := waitScalingGroup(t, c, clk, env, "sg-1", types.KxScalingGroupStatusDeleted, false); g.LastModifiedTimestamp == nil {
		t.Errorf("the deleted group: %+v", g)
	}
	if _, err := c.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: sgARN}); !errors.As(err, &nf) {
		t.Errorf("tags of a deleted group: %v, want ResourceNotFoundException", err)
	}
	if _, err := c.CreateKxScalingGroup(ctx, &finspace.CreateKxScalingGroupInput{EnvironmentId: &env, ScalingGroupName: aws.String("sg-1"),
		HostType: aws.String("kx.sg.xlarge"), AvailabilityZoneId: &az, ClientToken: aws.String("t-sg-1c")}); err != nil {
		t.Fatalf("recreating sg-1: %v", err)
	}
	if g := waitScalingGroup(t, c, clk, env, "sg-1", types.KxScalingGroupStatusActive, false); aws.ToString(g.HostType) != "kx.sg.xlarge" {
		t.Errorf("recreated group: %+v", g)
	}

	// The environment's deletion takes its groups (and their tags) with it.
	if _, err := c.DeleteKxEnvironment(ctx, &finspace.DeleteKxEnvironmentInput{EnvironmentId: &env, ClientToken: aws.String("d-env")}); err != nil {
		t.Fatalf("DeleteKxEnvironment: %v", err)
	}
	waitKxStatus(t, c, clk, env, types.EnvironmentStatusDeleted)
	if _, err := c.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: sgARN}); !errors.As(err, &nf) {
		t.Errorf("tags of a group of a deleted environment: %v, want ResourceNotFoundException", err)
	}
}

// TestKxClustersOnScalingGroup: clusters are admitted onto an ACTIVE group
// while their reservations fit its host type and reach RUNNING with real
// node processes (the test double); the group lists them and cannot be
// deleted under them; one that does not fit is refused saying so.
func TestKxClustersOnScalingGroup(t *testing.T) {
	q := servertest.KdbDouble(t)
	srv := servertest.Start(t, func(c *server.Config) { c.KdbExecutable = q })
	c := servertest.Finspace(srv)
	ctx := context.Background()
	env := readyKxEnv(t, c, "sg-clusters")
	e, err := c.GetKxEnvironment(ctx, &finspace.GetKxEnvironmentInput{EnvironmentId: &env})
	if err != nil {
		t.Fatal(err)
	}
	az := e.AvailabilityZoneIds[0]
	cluster := func(name, group string, mem, nodes int32, cpu float64) *finspace.CreateKxClusterInput {
		return &finspace.CreateKxClusterInput{EnvironmentId: &env, ClusterName: aws.String(name), ClusterType: types.KxClusterTypeGp,
			AzMode: types.KxAzModeSingle, AvailabilityZoneId: &az, ReleaseLabel: aws.String("1.0"),
			VpcConfiguration: &types.VpcConfiguration{VpcId: aws.String("vpc-0abc1234"), SecurityGroupIds: []string{"sg-0abc1234"},
				SubnetIds: []string{"subnet-0abc1234"}, IpAddressType: types.IPAddressTypeIpV4},
			ScalingGroupConfiguration: &types.KxScalingGroupConfiguration{ScalingGroupName: aws.String(group),
				MemoryReservation: aws.Int32(mem), MemoryLimit: aws.Int32(mem * 2), NodeCount: aws.Int32(nodes), Cpu: aws.Float64(cpu)},
			ClientToken: aws.String("c-" + name)}
	}
	// No such group yet.
	if _, err := c.CreateKxCluster(ctx, cluster("gp0", "sg-small", 6, 1, 0.5)); apiCode(t, err) != "ResourceNotFoundException" {
		t.Errorf("a cluster on a missing group: %v", err)
	}
	if _, err := c.CreateKxScalingGroup(ctx, &finspace.CreateKxScalingGroupInput{EnvironmentId: &env, ScalingGroupName: aws.String("sg-small"),
		HostType: aws.String("kx.sg.large"), AvailabilityZoneId: &az, ClientToken: aws.String("sg-small")}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		g, err := c.GetKxScalingGroup(ctx, &finspace.GetKxScalingGroupInput{EnvironmentId: &env, ScalingGroupName: aws.String("sg-small")})
		if err != nil {
			t.Fatal(err)
		}
		if g.Status == types.KxScalingGroupStatusActive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scaling group stuck in %s", g.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// kx.sg.large is 16 GiB and 2 vCPUs: 10 GiB + 6 GiB fit, then nothing.
	if _, err := c.CreateKxCluster(ctx, cluster("gp1", "sg-small", 10, 1, 1)); err != nil {
		t.Fatalf("CreateKxCluster gp1: %v", err)
	}
	if _, err := c.CreateKxCluster(ctx, cluster("gp2", "sg-small", 6, 1, 0.5)); err != nil {
		t.Fatalf("CreateKxCluster gp2: %v", err)
	}
	_, err = c.CreateKxCluster(ctx, cluster("gp3", "sg-small", 6, 1, 0.25))
	if apiCode(t, err) != "ValidationException" || !strings.Contains(err.Error(), "cannot take the cluster") {
		t.Errorf("a cluster that does not fit: %v, want ValidationException saying so", err)
	}
	for _, name := range []string{"gp1", "gp2"} {
		if got := waitCluster(t, c, env, name, types.KxClusterStatusRunning, types.KxClusterStatusCreateFailed); got.Status != types.KxClusterStatusRunning {
			t.Fatalf("cluster %s: %s %s", name, got.Status, aws.ToString(got.StatusReason))
		} else if sg := got.ScalingGroupConfiguration; sg == nil || aws.ToString(sg.ScalingGroupName) != "sg-small" || got.CapacityConfiguration != nil {
			t.Errorf("GetKxCluster %s echo: %+v", name, got.ScalingGroupConfiguration)
		}
	}
	g, err := c.GetKxScalingGroup(ctx, &finspace.GetKxScalingGroupInput{EnvironmentId: &env, ScalingGroupName: aws.String("sg-small")})
	if err != nil || strings.Join(g.Clusters, ",") != "gp1,gp2" {
		t.Errorf("GetKxScalingGroup clusters: %v %v, want [gp1 gp2]", err, g.Clusters)
	}
	_, err = c.DeleteKxScalingGroup(ctx, &finspace.DeleteKxScalingGroupInput{EnvironmentId: &env, ScalingGroupName: aws.String("sg-small"), ClientToken: aws.String("d-1")})
	if apiCode(t, err) != "ConflictException" || !strings.Contains(err.Error(), "gp1, gp2") {
		t.Errorf("deleting a group in use: %v, want ConflictException naming the clusters", err)
	}
	// Once gp1 is deleted its reservation is free again.
	if _, err := c.DeleteKxCluster(ctx, &finspace.DeleteKxClusterInput{EnvironmentId: &env, ClusterName: aws.String("gp1"), ClientToken: aws.String("d-gp1")}); err != nil {
		t.Fatal(err)
	}
	waitClusterGone(t, c, env, "gp1")
	if _, err := c.CreateKxCluster(ctx, cluster("gp3", "sg-small", 6, 1, 0.25)); err != nil {
		t.Errorf("a cluster that fits after a deletion: %v", err)
	}
	for _, name := range []string{"gp2", "gp3"} {
		if _, err := c.DeleteKxCluster(ctx, &finspace.DeleteKxClusterInput{EnvironmentId: &env, ClusterName: aws.String(name), ClientToken: aws.String("d-" + name)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.DeleteKxScalingGroup(ctx, &finspace.DeleteKxScalingGroupInput{EnvironmentId: &env, ScalingGroupName: aws.String("sg-small"), ClientToken: aws.String("d-2")}); err != nil {
		t.Errorf("deleting the group once its clusters are being deleted: %v", err)
	}
}
