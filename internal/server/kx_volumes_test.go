package server_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/finspace/types"

	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

// waitVolume reads volume name until its status is want (gone: until it
// is not found), moving the manual clock a few lifecycle steps.
func waitVolume(t *testing.T, c *finspace.Client, clk *servertest.Clock, env, name string, want types.KxVolumeStatus, gone bool) *finspace.GetKxVolumeOutput {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for steps := 0; ; steps++ {
		out, err := c.GetKxVolume(context.Background(), &finspace.GetKxVolumeInput{EnvironmentId: &env, VolumeName: &name})
		var nf *types.ResourceNotFoundException
		switch {
		case gone && errors.As(err, &nf):
			return nil
		case err != nil:
			t.Fatalf("GetKxVolume(%s): %v", name, err)
		case !gone && out.Status == want:
			return out
		case time.Now().After(deadline):
			t.Fatalf("volume %s in %s, want %s (gone %v)", name, out.Status, want, gone)
		}
		if clk != nil && steps < 3 {
			clk.Advance(clk.Step)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func volumeInput(env, name, az, nasType string, size int32) *finspace.CreateKxVolumeInput {
	return &finspace.CreateKxVolumeInput{EnvironmentId: &env, VolumeName: aws.String(name), VolumeType: types.KxVolumeTypeNas1,
		AzMode: types.KxAzModeSingle, AvailabilityZoneIds: []string{az}, ClientToken: aws.String("v-" + name + "-" + nasType),
		Nas1Configuration: &types.KxNAS1Configuration{Type: types.KxNAS1Type(nasType), Size: aws.Int32(size)}}
}

func TestKxVolumes(t *testing.T) {
	dataDir := t.TempDir()
	srv, clk := servertest.StartClocked(t, func(c *server.Config) { c.DataDir = dataDir })
	c := servertest.Finspace(srv)
	ctx := context.Background()
	created, err := c.CreateKxEnvironment(ctx, &finspace.CreateKxEnvironmentInput{Name: aws.String("vol-env"),
		KmsKeyId: aws.String("arn:aws:kms:us-east-1:000000000000:key/1234")})
	if err != nil {
		t.Fatal(err)
	}
	env := aws.ToString(created.EnvironmentId)
	envOut := waitKxStatus(t, c, clk, env, types.EnvironmentStatusCreated)
	az := envOut.AvailabilityZoneIds[0]

	// The size rules and the zone.
	var ve *types.ValidationException
	for _, bad := range []*finspace.CreateKxVolumeInput{
		volumeInput(env, "v-bad", az, "SSD_250", 1000),
		volumeInput(env, "v-bad", az, "SSD_1000", 2400),
		volumeInput(env, "v-bad", az, "HDD_12", 7000),
		volumeInput(env, "v-bad", "use1-az9", "SSD_250", 1200),
		func() *finspace.CreateKxVolumeInput {
			in := volumeInput(env, "v-bad", az, "SSD_250", 1200)
			in.AzMode = types.KxAzModeMulti
			return in
		}(),
		func() *finspace.CreateKxVolumeInput {
			in := volumeInput(env, "v-bad", az, "SSD_250", 1200)
			in.Nas1Configuration, in.ClientToken = nil, aws.String("v-no-nas")
			return in
		}(),
	} {
		if _, err := c.CreateKxVolume(ctx, bad); !errors.As(err, &ve) {
			t.Errorf("CreateKxVolume %+v: %v, want ValidationException", bad.Nas1Configuration, err)
		}
	}

	in := volumeInput(env, "vol-1", az, "SSD_250", 3600)
	in.Description, in.Tags = aws.String("savedown"), map[string]string{"team": "tick"}
	cr, err := c.CreateKxVolume(ctx, in)
	if err != nil {
		t.Fatalf("CreateKxVolume: %v", err)
	}
	if cr.Status != types.KxVolumeStatusCreating || aws.ToString(cr.VolumeArn) != aws.ToString(envOut.EnvironmentArn)+"/kxVolume/vol-1" ||
		aws.ToInt32(cr.Nas1Configuration.Size) != 3600 || cr.Nas1Configuration.Type != types.KxNAS1TypeSsd250 || aws.ToString(cr.Description) != "savedown" ||
		cr.AzMode != types.KxAzModeSingle || len(cr.AvailabilityZoneIds) != 1 || cr.CreatedTimestamp == nil || aws.ToString(cr.EnvironmentId) != env {
		t.Errorf("create response: %+v", cr)
	}
	var ce *types.ConflictException
	if _, err := c.CreateKxVolume(ctx, volumeInput(env, "vol-1", az, "HDD_12", 6000)); !errors.As(err, &ce) {
		t.Errorf("a taken name: %v, want ConflictException", err)
	}
	got := waitVolume(t, c, clk, env, "vol-1", types.KxVolumeStatusActive, false)
	dirs, _ := filepath.Glob(filepath.Join(dataDir, "kx", "volumes", env, "vol-1-*"))
	if len(dirs) != 1 {
		t.Fatalf("volume directories %v, want one", dirs)
	}
	if !strings.Contains(aws.ToString(got.StatusReason), "GiB used of 3600 GiB") || got.LastModifiedTimestamp == nil || len(got.AttachedClusters) != 0 {
		t.Errorf("GetKxVolume: reason %q, %+v", aws.ToString(got.StatusReason), got)
	}
	// What is written there is accounted.
	if err := os.WriteFile(filepath.Join(dirs[0], "sym"), make([]byte, 64<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if got := waitVolume(t, c, nil, env, "vol-1", types.KxVolumeStatusActive, false); !strings.HasPrefix(aws.ToString(got.StatusReason), "0.062 GiB used") {
		t.Errorf("status reason after writing 64 MiB: %q", aws.ToString(got.StatusReason))
	}

	// Update: grow, describe; never shrink or change type.
	up, err := c.UpdateKxVolume(ctx, &finspace.UpdateKxVolumeInput{EnvironmentId: &env, VolumeName: aws.String("vol-1"), Description: aws.String("bigger"),
		Nas1Configuration: &types.KxNAS1Configuration{Size: aws.Int32(6000)}, ClientToken: aws.String("u-vol-1")})
	if err != nil || up.Status != types.KxVolumeStatusUpdating || aws.ToInt32(up.Nas1Configuration.Size) != 6000 || aws.ToString(up.Description) != "bigger" {
		t.Fatalf("UpdateKxVolume: %v %+v", err, up)
	}
	if _, err := c.UpdateKxVolume(ctx, &finspace.UpdateKxVolumeInput{EnvironmentId: &env, VolumeName: aws.String("vol-1"), Description: aws.String("again"),
		ClientToken: aws.String("u-vol-1b")}); !errors.As(err, &ce) {
		t.Errorf("an update during an update: %v, want ConflictException", err)
	}
	waitVolume(t, c, clk, env, "vol-1", types.KxVolumeStatusActive, false)
	for _, bad := range []*types.KxNAS1Configuration{{Size: aws.Int32(3600)}, {Type: types.KxNAS1TypeHdd12, Size: aws.Int32(6000)}, {Size: aws.Int32(7000)}} {
		if _, err := c.UpdateKxVolume(ctx, &finspace.UpdateKxVolumeInput{EnvironmentId: &env, VolumeName: aws.String("vol-1"), Nas1Configuration: bad,
			ClientToken: aws.String("u-bad-" + string(bad.Type) + "-" + time.Now().Format("150405.000000"))}); !errors.As(err, &ve) {
			t.Errorf("UpdateKxVolume %+v: %v, want ValidationException", bad, err)
		}
	}

	// Listing, with the type filter; tags on the ARN.
	list, err := c.ListKxVolumes(ctx, &finspace.ListKxVolumesInput{EnvironmentId: &env, VolumeType: types.KxVolumeTypeNas1})
	if err != nil || len(list.KxVolumeSummaries) != 1 || aws.ToString(list.KxVolumeSummaries[0].VolumeName) != "vol-1" ||
		list.KxVolumeSummaries[0].Status != types.KxVolumeStatusActive || list.KxVolumeSummaries[0].CreatedTimestamp == nil {
		t.Errorf("ListKxVolumes: %v %+v", err, list)
	}
	tags, err := c.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: cr.VolumeArn})
	if err != nil || tags.Tags["team"] != "tick" {
		t.Errorf("tags of the volume: %v %v", err, tags)
	}

	// Delete: DELETING, then DELETED without its directory and tags.
	if _, err := c.DeleteKxVolume(ctx, &finspace.DeleteKxVolumeInput{EnvironmentId: &env, VolumeName: aws.String("vol-1"), ClientToken: aws.String("d-vol-1")}); err != nil {
		t.Fatalf("DeleteKxVolume: %v", err)
	}
	waitVolume(t, c, clk, env, "vol-1", types.KxVolumeStatusDeleted, false)
	if _, err := os.Stat(dirs[0]); !os.IsNotExist(err) {
		t.Errorf("the volume's directory after deletion: %v", err)
	}
	var nf *types.ResourceNotFoundException
	if _, err := c.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: cr.VolumeArn}); !errors.As(err, &nf) {
		t.Errorf("tags of a deleted volume: %v", err)
	}
	// The name is free again: a new volume, a new directory.
	again := volumeInput(env, "vol-1", az, "HDD_12", 6000)
	again.ClientToken = aws.String("v-vol-1-again")
	if _, err := c.CreateKxVolume(ctx, again); err != nil {
		t.Fatalf("CreateKxVolume over a deleted one: %v", err)
	}
	if v := waitVolume(t, c, clk, env, "vol-1", types.KxVolumeStatusActive, false); v.Nas1Configuration.Type != types.KxNAS1TypeHdd12 || aws.ToString(v.Description) != "" {
		t.Errorf("the new vol-1: %+v", v)
	}
	if dirs2, _ := filepath.Glob(filepath.Join(dataDir, "kx", "volumes", env, "vol-1-*")); len(dirs2) != 1 || dirs2[0] == dirs[0] {
		t.Errorf("the new volume's directories %v (the old one was %s)", dirs2, dirs[0])
	}
}

// TestKxVolumesAttached: clusters on a scaling group name volumes for
// savedown storage and tickerplant logs; the volume lists them and cannot
// be deleted under them; a dedicated cluster cannot name one.
func TestKxVolumesAttached(t *testing.T) {
	q := servertest.KdbDouble(t)
	srv := servertest.Start(t, func(c *server.Config) { c.KdbExecutable = q })
	c := servertest.Finspace(srv)
	ctx := context.Background()
	env := readyKxEnv(t, c, "vol-clusters")
	e, err := c.GetKxEnvironment(ctx, &finspace.GetKxEnvironmentInput{EnvironmentId: &env})
	if err != nil {
		t.Fatal(err)
	}
	az := e.AvailabilityZoneIds[0]
	if _, err := c.CreateKxScalingGroup(ctx, &finspace.CreateKxScalingGroupInput{EnvironmentId: &env, ScalingGroupName: aws.String("sg-tick"),
		HostType: aws.String("kx.sg.4xlarge"), AvailabilityZoneId: &az, ClientToken: aws.String("sg-tick")}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"savedown", "tplogs"} {
		if _, err := c.CreateKxVolume(ctx, volumeInput(env, v, az, "SSD_1000", 1200)); err != nil {
			t.Fatal(err)
		}
		waitVolume(t, c, nil, env, v, types.KxVolumeStatusActive, false)
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		g, err := c.GetKxScalingGroup(ctx, &finspace.GetKxScalingGroupInput{EnvironmentId: &env, ScalingGroupName: aws.String("sg-tick")})
		if err == nil && g.Status == types.KxScalingGroupStatusActive {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("scaling group: %v %+v", err, g)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cluster := func(name string, typ types.KxClusterType) *finspace.CreateKxClusterInput {
		return &finspace.CreateKxClusterInput{EnvironmentId: &env, ClusterName: aws.String(name), ClusterType: typ,
			AzMode: types.KxAzModeSingle, AvailabilityZoneId: &az, ReleaseLabel: aws.String("1.0"),
			VpcConfiguration: &types.VpcConfiguration{VpcId: aws.String("vpc-0abc1234"), SecurityGroupIds: []string{"sg-0abc1234"},
				SubnetIds: []string{"subnet-0abc1234"}, IpAddressType: types.IPAddressTypeIpV4},
			ScalingGroupConfiguration: &types.KxScalingGroupConfiguration{ScalingGroupName: aws.String("sg-tick"),
				MemoryReservation: aws.Int32(6), NodeCount: aws.Int32(1)},
			ClientToken: aws.String("c-" + name)}
	}
	rdb := cluster("rdb", types.KxClusterTypeRdb)
	rdb.SavedownStorageConfiguration = &types.KxSavedownStorageConfiguration{VolumeName: aws.String("savedown")}
	tp := cluster("tick", types.KxClusterTypeTickerplant)
	tp.TickerplantLogConfiguration = &types.TickerplantLogConfiguration{TickerplantLogVolumes: []string{"tplogs"}}
	missing := cluster("rdb2", types.KxClusterTypeRdb)
	missing.SavedownStorageConfiguration = &types.KxSavedownStorageConfiguration{VolumeName: aws.String("nosuchvolume")}
	if _, err := c.CreateKxCluster(ctx, missing); apiCode(t, err) != "ResourceNotFoundException" {
		t.Errorf("a cluster naming a missing volume: %v", err)
	}
	dedicated := cluster("rdb3", types.KxClusterTypeRdb)
	dedicated.ScalingGroupConfiguration = nil
	dedicated.CapacityConfiguration = &types.CapacityConfiguration{NodeType: aws.String("kx.s.large"), NodeCount: aws.Int32(1)}
	dedicated.SavedownStorageConfiguration = &types.KxSavedownStorageConfiguration{VolumeName: aws.String("savedown")}
	if _, err := c.CreateKxCluster(ctx, dedicated); apiCode(t, err) != "ValidationException" {
		t.Errorf("a dedicated cluster naming a volume: %v", err)
	}
	for _, in := range []*finspace.CreateKxClusterInput{rdb, tp} {
		if _, err := c.CreateKxCluster(ctx, in); err != nil {
			t.Fatalf("CreateKxCluster %s: %v", aws.ToString(in.ClusterName), err)
		}
		if got := waitCluster(t, c, env, aws.ToString(in.ClusterName), types.KxClusterStatusRunning, types.KxClusterStatusCreateFailed); got.Status != types.KxClusterStatusRunning {
			t.Fatalf("cluster %s: %s", aws.ToString(in.ClusterName), aws.ToString(got.StatusReason))
		}
	}
	for vol, want := range map[string]string{"savedown": "rdb/RDB/RUNNING", "tplogs": "tick/TICKERPLANT/RUNNING"} {
		v := waitVolume(t, c, nil, env, vol, types.KxVolumeStatusActive, false)
		var att []string
		for _, a := range v.AttachedClusters {
			att = append(att, aws.ToString(a.ClusterName)+"/"+string(a.ClusterType)+"/"+string(a.ClusterStatus))
		}
		if strings.Join(att, ",") != want {
			t.Errorf("volume %s attachedClusters %v, want %s", vol, att, want)
		}
		if _, err := c.DeleteKxVolume(ctx, &finspace.DeleteKxVolumeInput{EnvironmentId: &env, VolumeName: aws.String(vol), ClientToken: aws.String("d1-" + vol)}); apiCode(t, err) != "ConflictException" {
			t.Errorf("deleting attached volume %s: %v", vol, err)
		}
	}
	for _, n := range []string{"rdb", "tick"} {
		if _, err := c.DeleteKxCluster(ctx, &finspace.DeleteKxClusterInput{EnvironmentId: &env, ClusterName: aws.String(n), ClientToken: aws.String("d-" + n)}); err != nil {
			t.Fatal(err)
		}
		waitClusterGone(t, c, env, n)
	}
	for _, vol := range []string{"savedown", "tplogs"} {
		if _, err := c.DeleteKxVolume(ctx, &finspace.DeleteKxVolumeInput{EnvironmentId: &env, VolumeName: aws.String(vol), ClientToken: aws.String("d2-" + vol)}); err != nil {
			t.Errorf("deleting volume %s once its clusters are gone: %v", vol, err)
		}
	}
}
