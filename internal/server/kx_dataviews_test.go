package server_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/finspace/types"

	"github.com/openfinspace/openfinspace/internal/kx/kxfs"
	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

func waitDataview(t *testing.T, c *finspace.Client, env, db, name string, want types.KxDataviewStatus, changeset string) *finspace.GetKxDataviewOutput {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		out, err := c.GetKxDataview(context.Background(), &finspace.GetKxDataviewInput{EnvironmentId: &env, DatabaseName: &db, DataviewName: &name})
		if err != nil {
			t.Fatalf("GetKxDataview(%s): %v", name, err)
		}
		if out.Status == want && (changeset == "" || len(out.ActiveVersions) > 0 && aws.ToString(out.ActiveVersions[0].ChangesetId) == changeset) {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("dataview %s in %s (%s) with %+v, want %s at %s", name, out.Status, aws.ToString(out.StatusReason), out.ActiveVersions, want, changeset)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// subtree keeps the files of want under (or, with out, outside) prefix.
func subtree(want map[string]string, prefix string, in bool) map[string]string {
	out := map[string]string{}
	for p, h := range want {
		if strings.HasPrefix(p, prefix) == in {
			out[p] = h
		}
	}
	return out
}

// TestKxDataviews: a dataview of a database changeset, segmented onto a
// volume, is materialized byte-identical (the segment's paths on the
// volume, the rest in the default segment); an autoUpdate dataview
// follows a new changeset; an update moves a dataview to another
// changeset and removes the old version; the refusals (autoUpdate with a
// changeset, a missing volume, deleting a volume or a database in use);
// tags; deletion removes the files.
func TestKxDataviews(t *testing.T) {
	dataDir := t.TempDir()
	srv := servertest.Start(t, func(c *server.Config) { c.DataDir = dataDir })
	c := servertest.Finspace(srv)
	ctx := context.Background()
	s3c := rootS3(srv)
	env := readyKxEnv(t, c, "dataviews")
	e, err := c.GetKxEnvironment(ctx, &finspace.GetKxEnvironmentInput{EnvironmentId: &env})
	if err != nil {
		t.Fatal(err)
	}
	az := e.AvailabilityZoneIds[0]
	const db = "hdb"
	if _, err := c.CreateKxDatabase(ctx, &finspace.CreateKxDatabaseInput{EnvironmentId: &env, DatabaseName: aws.String(db), ClientToken: aws.String("db")}); err != nil {
		t.Fatal(err)
	}
	mustCreateBucket(t, s3c, "dvdata")
	v1 := kxLayout("2024.01.01", "2024.01.02")
	uploadLayout(t, s3c, "dvdata", "v1/", v1)
	cs1 := aws.ToString(changeset(t, c, env, db, put("s3://dvdata/v1/", "/")).ChangesetId)
	if _, err := c.CreateKxVolume(ctx, volumeInput(env, "dv-vol", az, "SSD_250", 1200)); err != nil {
		t.Fatal(err)
	}
	waitVolume(t, c, nil, env, "dv-vol", types.KxVolumeStatusActive, false)

	seg := []types.KxDataviewSegmentConfiguration{{DbPaths: []string{"/2024.01.01"}, VolumeName: aws.String("dv-vol")}}
	dv := func(name string, auto bool, cs string, segs []types.KxDataviewSegmentConfiguration) *finspace.CreateKxDataviewInput {
		in := &finspace.CreateKxDataviewInput{EnvironmentId: &env, DatabaseName: aws.String(db), DataviewName: aws.String(name),
			AzMode: types.KxAzModeSingle, AvailabilityZoneId: &az, AutoUpdate: auto, SegmentConfigurations: segs,
			ClientToken: aws.String("dv-" + name + cs), Tags: map[string]string{"view": name}}
		if cs != "" {
			in.ChangesetId = &cs
		}
		return in
	}
	// Refusals.
	if _, err := c.CreateKxDataview(ctx, dv("bad-auto", true, cs1, nil)); apiCode(t, err) != "ValidationException" {
		t.Errorf("autoUpdate with a changesetId: %v", err)
	}
	if _, err := c.CreateKxDataview(ctx, dv("bad-vol", false, cs1, []types.KxDataviewSegmentConfiguration{{DbPaths: []string{"/*"}, VolumeName: aws.String("nosuchvolume")}})); apiCode(t, err) != "ResourceNotFoundException" {
		t.Errorf("a segment on a missing volume: %v", err)
	}

	cr, err := c.CreateKxDataview(ctx, dv("dv-static", false, cs1, seg))
	if err != nil {
		t.Fatalf("CreateKxDataview: %v", err)
	}
	if cr.Status != types.KxDataviewStatusCreating || aws.ToString(cr.ChangesetId) != cs1 || cr.AutoUpdate || cr.CreatedTimestamp == nil {
		t.Errorf("create response: %+v", cr)
	}
	if _, err := c.CreateKxDataview(ctx, dv("dv-auto", true, "", nil)); err != nil {
		t.Fatalf("CreateKxDataview auto: %v", err)
	}
	static := waitDataview(t, c, env, db, "dv-static", types.KxDataviewStatusActive, cs1)
	if len(static.ActiveVersions) != 1 || len(aws.ToString(static.ActiveVersions[0].VersionId)) != 22 || static.LastModifiedTimestamp == nil {
		t.Errorf("GetKxDataview: %+v", static.ActiveVersions)
	}
	waitDataview(t, c, env, db, "dv-auto", types.KxDataviewStatusActive, cs1)

	// On disk: the segment's partition on the volume, the rest in the default segment.
	volDirs, _ := filepath.Glob(filepath.Join(dataDir, "kx", "volumes", env, "dv-vol-*"))
	if len(volDirs) != 1 {
		t.Fatalf("volume dirs %v", volDirs)
	}
	segDirs, _ := filepath.Glob(filepath.Join(volDirs[0], "dataviews", db, "dv-static-*", "*"))
	defDirs, _ := filepath.Glob(filepath.Join(dataDir, "kx", "dataviews", env, db, "dv-static-*", "*"))
	if len(segDirs) != 1 || len(defDirs) != 1 {
		t.Fatalf("segment dirs %v, default dirs %v: want one each", segDirs, defDirs)
	}
	want := hashLayout(v1)
	for dir, files := range map[string]map[string]string{segDirs[0]: subtree(want, "2024.01.01/", true), defDirs[0]: subtree(want, "2024.01.01/", false)} {
		got, err := kxfs.HashTree(dir)
		if err != nil {
			t.Fatal(err)
		}
		if diff := kxfs.DiffTrees(got, files); len(diff) > 0 {
			t.Errorf("%s differs from the changeset at %v", dir, diff)
		}
	}

	// A new changeset: the autoUpdate dataview follows, the static one stays.
	uploadLayout(t, s3c, "dvdata", "v2/", kxLayout("2024.01.03"))
	cs2 := aws.ToString(changeset(t, c, env, db, put("s3://dvdata/v2/", "/")).ChangesetId)
	waitDataview(t, c, env, db, "dv-auto", types.KxDataviewStatusActive, cs2)
	if got := waitDataview(t, c, env, db, "dv-static", types.KxDataviewStatusActive, ""); aws.ToString(got.ActiveVersions[0].ChangesetId) != cs1 {
		t.Errorf("the static dataview moved to %s", aws.ToString(got.ActiveVersions[0].ChangesetId))
	}
	if _, err := c.UpdateKxDataview(ctx, &finspace.UpdateKxDataviewInput{EnvironmentId: &env, DatabaseName: aws.String(db), DataviewName: aws.String("dv-auto"),
		ChangesetId: &cs1, ClientToken: aws.String("u-auto")}); apiCode(t, err) != "ValidationException" {
		t.Errorf("a changesetId for an autoUpdate dataview: %v", err)
	}
	up, err := c.UpdateKxDataview(ctx, &finspace.UpdateKxDataviewInput{EnvironmentId: &env, DatabaseName: aws.String(db), DataviewName: aws.String("dv-static"),
		ChangesetId: &cs2, Description: aws.String("moved"), ClientToken: aws.String("u-static")})
	if err != nil || up.Status != types.KxDataviewStatusUpdating || aws.ToString(up.ChangesetId) != cs2 {
		t.Fatalf("UpdateKxDataview: %v %+v", err, up)
	}
	moved := waitDataview(t, c, env, db, "dv-static", types.KxDataviewStatusActive, cs2)
	if len(moved.ActiveVersions) != 1 || aws.ToString(moved.ActiveVersions[0].VersionId) == aws.ToString(static.ActiveVersions[0].VersionId) {
		t.Errorf("versions after the update: %+v", moved.ActiveVersions)
	}
	if _, err := os.Stat(segDirs[0]); !os.IsNotExist(err) {
		t.Errorf("the old version's segment after the update: %v", err)
	}

	// Tags, listing, refusals while in use.
	arn := aws.ToString(e.EnvironmentArn) + "/kxDatabase/" + db + "/kxDataview/dv-static"
	if tags, err := c.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: &arn}); err != nil || tags.Tags["view"] != "dv-static" {
		t.Errorf("tags of the dataview: %v %v", err, tags)
	}
	list, err := c.ListKxDataviews(ctx, &finspace.ListKxDataviewsInput{EnvironmentId: &env, DatabaseName: aws.String(db)})
	if err != nil || len(list.KxDataviews) != 2 {
		t.Errorf("ListKxDataviews: %v %+v", err, list)
	}
	if _, err := c.DeleteKxVolume(ctx, &finspace.DeleteKxVolumeInput{EnvironmentId: &env, VolumeName: aws.String("dv-vol"), ClientToken: aws.String("dvol1")}); apiCode(t, err) != "ConflictException" {
		t.Errorf("deleting a volume holding a segment: %v", err)
	}
	if _, err := c.DeleteKxDatabase(ctx, &finspace.DeleteKxDatabaseInput{EnvironmentId: &env, DatabaseName: aws.String(db), ClientToken: aws.String("ddb1")}); apiCode(t, err) != "ConflictException" {
		t.Errorf("deleting a database with dataviews: %v", err)
	}

	// Deletion: gone, files and tags too; then the volume and the database may go.
	for _, n := range []string{"dv-static", "dv-auto"} {
		if _, err := c.DeleteKxDataview(ctx, &finspace.DeleteKxDataviewInput{EnvironmentId: &env, DatabaseName: aws.String(db), DataviewName: aws.String(n), ClientToken: aws.String("d-" + n)}); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(20 * time.Second); ; {
		l, err := c.ListKxDataviews(ctx, &finspace.ListKxDataviewsInput{EnvironmentId: &env, DatabaseName: aws.String(db)})
		if err == nil && len(l.KxDataviews) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("dataviews not gone: %v %+v", err, l)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if left, _ := filepath.Glob(filepath.Join(dataDir, "kx", "dataviews", env, db, "*", "*")); len(left) != 0 {
		t.Errorf("version directories left: %v", left)
	}
	if _, err := c.GetKxDataview(ctx, &finspace.GetKxDataviewInput{EnvironmentId: &env, DatabaseName: aws.String(db), DataviewName: aws.String("dv-static")}); apiCode(t, err) != "ResourceNotFoundException" {
		t.Errorf("GetKxDataview of a deleted dataview: %v", err)
	}
	if _, err := c.DeleteKxVolume(ctx, &finspace.DeleteKxVolumeInput{EnvironmentId: &env, VolumeName: aws.String("dv-vol"), ClientToken: aws.String("dvol2")}); err != nil {
		t.Errorf("deleting the volume once its dataviews are gone: %v", err)
	}
	if _, err := c.DeleteKxDatabase(ctx, &finspace.DeleteKxDatabaseInput{EnvironmentId: &env, DatabaseName: aws.String(db), ClientToken: aws.String("ddb2")}); err != nil {
		t.Errorf("deleting the database once its dataviews are gone: %v", err)
	}
}
