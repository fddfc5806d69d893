package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/finspace/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/kx/kxfs"
	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

// kxLayout is a small date-partitioned kdb+ database: a root sym and
// partitions of a splayed trade table. Contents differ per partition
// except .d, which every partition shares (as in real databases).
func kxLayout(dates ...string) map[string]string {
	files := map[string]string{"sym": "`AAPL`MSFT`IBM"}
	for _, d := range dates {
		files[d+"/trade/.d"] = "`sym`price`size"
		files[d+"/trade/sym"] = "sym-" + d
		files[d+"/trade/price"] = strings.Repeat("p"+d, 50)
		files[d+"/trade/size"] = strings.Repeat("s"+d, 30)
	}
	return files
}

func uploadLayout(t *testing.T, c *s3.Client, bucket, prefix string, files map[string]string) {
	t.Helper()
	for p, body := range files {
		mustPut(t, c, bucket, prefix+p, body)
	}
}

func layoutTotals(files map[string]string) (int32, int64) {
	var n int64
	for _, b := range files {
		n += int64(len(b))
	}
	return int32(len(files)), n
}

// waitChangeset reads a changeset until it is COMPLETED or FAILED. Its job
// is due at once; on a StartClocked server, a changeset that stays PENDING
// (rescheduled, e.g. behind a collection of the content store) is made due
// by moving the clock a second every 50 ms.
func waitChangeset(t *testing.T, c *finspace.Client, env, db, id string) *finspace.GetKxChangesetOutput {
	t.Helper()
	clk := servertest.ClockAt(aws.ToString(c.Options().BaseEndpoint))
	deadline := time.Now().Add(30 * time.Second)
	moved := time.Now()
	for {
		out, err := c.GetKxChangeset(context.Background(), &finspace.GetKxChangesetInput{EnvironmentId: &env, DatabaseName: &db, ChangesetId: &id})
		if err != nil {
			t.Fatalf("GetKxChangeset(%s): %v", id, err)
		}
		if out.Status == types.ChangesetStatusCompleted || out.Status == types.ChangesetStatusFailed {
			return out
		}
		if st := string(out.Status); st != "PENDING" && st != "IN_PROGRESS" {
			t.Fatalf("changeset %s status %s", id, st)
		}
		if time.Now().After(deadline) {
			t.Fatalf("changeset %s still %s", id, out.Status)
		}
		if clk != nil && out.Status == "PENDING" && time.Since(moved) > 50*time.Millisecond {
			clk.Advance(time.Second)
			moved = time.Now()
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func put(s3Path, dbPath string) types.ChangeRequest {
	return types.ChangeRequest{ChangeType: types.ChangeTypePut, S3Path: aws.String(s3Path), DbPath: aws.String(dbPath)}
}

func del(dbPath string) types.ChangeRequest {
	return types.ChangeRequest{ChangeType: types.ChangeTypeDelete, DbPath: aws.String(dbPath)}
}

// changeset creates a changeset and waits for its end.
func changeset(t *testing.T, c *finspace.Client, env, db string, reqs ...types.ChangeRequest) *finspace.GetKxChangesetOutput {
	t.Helper()
	out, err := c.CreateKxChangeset(context.Background(), &finspace.CreateKxChangesetInput{EnvironmentId: &env, DatabaseName: &db,
		ChangeRequests: reqs, ClientToken: aws.String(fmt.Sprintf("cs-%d", time.Now().UnixNano()))})
	if err != nil {
		t.Fatalf("CreateKxChangeset: %v", err)
	}
	if out.Status != types.ChangesetStatusPending || len(out.ChangeRequests) != len(reqs) || out.CreatedTimestamp == nil {
		t.Errorf("CreateKxChangeset response: %+v", out)
	}
	return waitChangeset(t, c, env, db, aws.ToString(out.ChangesetId))
}

func wantDatabase(t *testing.T, c *finspace.Client, env, db string, files int32, bytes int64, changesets int32, last string) {
	t.Helper()
	d, err := c.GetKxDatabase(context.Background(), &finspace.GetKxDatabaseInput{EnvironmentId: &env, DatabaseName: &db})
	if err != nil {
		t.Fatalf("GetKxDatabase: %v", err)
	}
	if d.NumFiles != files || d.NumBytes != bytes || d.NumChangesets != changesets || aws.ToString(d.LastCompletedChangesetId) != last {
		t.Errorf("database %s: files %d bytes %d changesets %d last %q; want %d %d %d %q", db, d.NumFiles, d.NumBytes,
			d.NumChangesets, aws.ToString(d.LastCompletedChangesetId), files, bytes, changesets, last)
	}
}

// contentObjects counts the objects of the content store under prefix.
func contentObjects(t *testing.T, srv *server.Server, prefix string) int {
	t.Helper()
	n, cursor := 0, ""
	for {
		page, err := srv.Blobs().List(context.Background(), srv.KxContentBucket(servertest.Region), blob.ListOptions{Prefix: prefix, Cursor: cursor})
		if err != nil {
			t.Fatalf("listing the content store: %v", err)
		}
		n += len(page.Objects)
		if cursor = page.NextCursor; cursor == "" {
			return n
		}
	}
}

func distinct(layouts ...map[string]string) int {
	seen := map[string]bool{}
	for _, l := range layouts {
		for _, b := range l {
			seen[b] = true
		}
	}
	return len(seen)
}

// hashTree hashes every file under root: relative path → sha256.
func hashTree(t *testing.T, root string) map[string]string {
	t.Helper()
	out, err := kxfs.HashTree(root)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func hashLayout(files map[string]string) map[string]string {
	out := map[string]string{}
	for p, b := range files {
		sum := sha256.Sum256([]byte(b))
		out[p] = hex.EncodeToString(sum[:])
	}
	return out
}

func sameHashes(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if diffs := kxfs.DiffTrees(got, want); len(diffs) > 0 {
		t.Errorf("%s: differs from the uploaded tree at %v", what, diffs)
	}
}

func TestKxDatabasesAndChangesets(t *testing.T) {
	srv, clk := servertest.StartClocked(t)
	c := servertest.Finspace(srv)
	ctx := context.Background()
	s3c := rootS3(srv)

	created, err := c.CreateKxEnvironment(ctx, &finspace.CreateKxEnvironmentInput{Name: aws.String("kxdb-env"),
		KmsKeyId: aws.String("arn:aws:kms:us-east-1:000000000000:key/k")})
	if err != nil {
		t.Fatal(err)
	}
	env := aws.ToString(created.EnvironmentId)
	// Before the environment is CREATED, databases are refused.
	_, err = c.CreateKxDatabase(ctx, &finspace.CreateKxDatabaseInput{EnvironmentId: &env, DatabaseName: aws.String("early"), ClientToken: aws.String("early")})
	if code := apiCode(t, err); code != "ValidationException" {
		t.Errorf("CreateKxDatabase in CREATE_REQUESTED: %s, want ValidationException", code)
	}
	waitKxStatus(t, c, clk, env, types.EnvironmentStatusCreated)

	const db = "hdb_main"
	cd, err := c.CreateKxDatabase(ctx, &finspace.CreateKxDatabaseInput{EnvironmentId: &env, DatabaseName: aws.String(db),
		Description: aws.String("tick history"), Tags: map[string]string{"team": "quant"}, ClientToken: aws.String("db-1")})
	if err != nil {
		t.Fatalf("CreateKxDatabase: %v", err)
	}
	dbARN := "arn:aws:finspace:us-east-1:000000000000:kxEnvironment/" + env + "/kxDatabase/" + db
	if aws.ToString(cd.DatabaseArn) != dbARN || aws.ToString(cd.Description) != "tick history" || cd.CreatedTimestamp == nil || cd.LastModifiedTimestamp == nil {
		t.Errorf("CreateKxDatabase response: %+v", cd)
	}
	_, err = c.CreateKxDatabase(ctx, &finspace.CreateKxDatabaseInput{EnvironmentId: &env, DatabaseName: aws.String(db), ClientToken: aws.String("db-dup")})
	if code := apiCode(t, err); code != "ConflictException" {
		t.Errorf("duplicate database: %s, want ConflictException", code)
	}
	if tags, err := c.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: &dbARN}); err != nil || tags.Tags["team"] != "quant" {
		t.Errorf("database tags: %v %v", err, tags)
	}
	wantDatabase(t, c, env, db, 0, 0, 0, "")
	if up, err := c.UpdateKxDatabase(ctx, &finspace.UpdateKxDatabaseInput{EnvironmentId: &env, DatabaseName: aws.String(db),
		Description: aws.String("tick history v2"), ClientToken: aws.String("db-up")}); err != nil || aws.ToString(up.Description) != "tick history v2" {
		t.Fatalf("UpdateKxDatabase: %v %+v", err, up)
	}

	// The data, as `aws s3 sync` would upload it.
	mustCreateBucket(t, s3c, "kxdata")
	v1 := kxLayout("2024.01.01", "2024.01.02")
	uploadLayout(t, s3c, "kxdata", "hdb/", v1)
	extra := kxLayout("2024.01.03")
	extra["sym"] = "`AAPL`MSFT`IBM`GOOG"
	uploadLayout(t, s3c, "kxdata", "new/", extra)

	// 1. The whole database at /.
	cs1 := changeset(t, c, env, db, put("s3://kxdata/hdb/", "/"))
	if cs1.Status != types.ChangesetStatusCompleted || cs1.ActiveFromTimestamp == nil || cs1.ErrorInfo != nil {
		t.Fatalf("whole-db changeset: %+v %+v", cs1, cs1.ErrorInfo)
	}
	n, b := layoutTotals(v1)
	wantDatabase(t, c, env, db, n, b, 1, *cs1.ChangesetId)
	if got, want := contentObjects(t, srv, "sha256/"), distinct(v1); got != want {
		t.Errorf("content store after v1: %d objects, want %d (one per distinct content)", got, want)
	}

	// 2. One partition and the root sym (the welcome notebook's form).
	cs2 := changeset(t, c, env, db, put("s3://kxdata/new/2024.01.03/", "/2024.01.03/"), put("s3://kxdata/new/sym", "/"))
	if cs2.Status != types.ChangesetStatusCompleted {
		t.Fatalf("partition changeset: %s %+v", cs2.Status, cs2.ErrorInfo)
	}
	v2 := kxLayout("2024.01.01", "2024.01.02", "2024.01.03")
	v2["sym"] = extra["sym"]
	n, b = layoutTotals(v2)
	wantDatabase(t, c, env, db, n, b, 2, *cs2.ChangesetId)
	if got, want := contentObjects(t, srv, "sha256/"), distinct(v1, v2); got != want {
		t.Errorf("content store after v2: %d objects, want %d: a partition costs its new contents only", got, want)
	}

	// 3. DELETE a partition.
	cs3 := changeset(t, c, env, db, del("/2024.01.01/"))
	v3 := kxLayout("2024.01.02", "2024.01.03")
	v3["sym"] = extra["sym"]
	n, b = layoutTotals(v3)
	wantDatabase(t, c, env, db, n, b, 3, *cs3.ChangesetId)

	// Failures leave the last version current.
	bad := []struct {
		name string
		reqs []types.ChangeRequest
		typ  types.ErrorDetails
	}{
		{"missing object", []types.ChangeRequest{put("s3://kxdata/hdb/nosuch", "/")}, types.ErrorDetailsResourceNotFound},
		{"missing bucket", []types.ChangeRequest{put("s3://nosuchbucket/x/", "/")}, types.ErrorDetailsResourceNotFound},
		{"service bucket", []types.ChangeRequest{put("s3://"+srv.KxContentBucket(servertest.Region)+"/sha256/", "/")}, types.ErrorDetailsAccessDenied},
		{"file under a file", []types.ChangeRequest{del("/2024.01.02/"), put("s3://kxdata/hdb/sym", "/sym/")}, types.ErrorDetailsValidation},
	}
	seq := int32(3)
	for _, tc := range bad {
		out := changeset(t, c, env, db, tc.reqs...)
		seq++
		if out.Status != types.ChangesetStatusFailed || out.ErrorInfo == nil || out.ErrorInfo.ErrorType != tc.typ || aws.ToString(out.ErrorInfo.ErrorMessage) == "" || out.ActiveFromTimestamp != nil {
			t.Errorf("%s: %s %+v, want FAILED with %q", tc.name, out.Status, out.ErrorInfo, tc.typ)
		}
		wantDatabase(t, c, env, db, n, b, seq, *cs3.ChangesetId)
	}
	// A changeset that stored new contents before it failed leaves them to
	// a collection: the content store returns to what versions reference.
	uploadLayout(t, s3c, "kxdata", "fresh/", kxLayout("2024.02.01"))
	if out := changeset(t, c, env, db, put("s3://kxdata/fresh/", "/"), put("s3://kxdata/hdb/nosuch", "/")); out.Status != types.ChangesetStatusFailed {
		t.Errorf("new contents, then a missing object: %s", out.Status)
	}
	seq++
	wantDatabase(t, c, env, db, n, b, seq, *cs3.ChangesetId)
	for deadline := time.Now().Add(30 * time.Second); contentObjects(t, srv, "sha256/") != distinct(v1, v2); {
		if time.Now().After(deadline) {
			t.Fatalf("after a failed changeset: %d contents, want %d", contentObjects(t, srv, "sha256/"), distinct(v1, v2))
		}
		time.Sleep(5 * time.Millisecond)
	}
	// An empty prefix is accepted and changes nothing.
	empty := changeset(t, c, env, db, put("s3://kxdata/empty/", "/2024.01.09/"))
	seq++
	if empty.Status != types.ChangesetStatusCompleted {
		t.Errorf("empty prefix: %s %+v", empty.Status, empty.ErrorInfo)
	}
	wantDatabase(t, c, env, db, n, b, seq, *empty.ChangesetId)

	// Paths escaping the root are refused at create.
	for _, p := range []string{"/../etc/", "/a/../../", "/*", "relative/"} {
		_, err := c.CreateKxChangeset(ctx, &finspace.CreateKxChangesetInput{EnvironmentId: &env, DatabaseName: aws.String(db),
			ChangeRequests: []types.ChangeRequest{put("s3://kxdata/hdb/", p)}, ClientToken: aws.String("bad-path")})
		if code := apiCode(t, err); code != "ValidationException" {
			t.Errorf("dbPath %q: %s, want ValidationException", p, code)
		}
	}

	// Newest first; maxResults=1 is the latest.
	var ids []string
	var next *string
	for {
		page, err := c.ListKxChangesets(ctx, &finspace.ListKxChangesetsInput{EnvironmentId: &env, DatabaseName: aws.String(db), MaxResults: 3, NextToken: next})
		if err != nil {
			t.Fatalf("ListKxChangesets: %v", err)
		}
		for _, e := range page.KxChangesets {
			ids = append(ids, aws.ToString(e.ChangesetId))
		}
		if next = page.NextToken; next == nil {
			break
		}
	}
	if len(ids) != int(seq) || ids[0] != *empty.ChangesetId || ids[len(ids)-1] != *cs1.ChangesetId || ids[len(ids)-3] != *cs3.ChangesetId {
		t.Errorf("ListKxChangesets: %v, want %d newest first", ids, seq)
	}

	// Versions materialize byte-exact, sharing the local cache.
	cache := &kxfs.Cache{Root: filepath.Join(t.TempDir(), "cache"), Fetch: srv.Kx().Fetch(servertest.Region)}
	root := filepath.Dir(cache.Root)
	for i, v := range []struct {
		id    string
		files map[string]string
	}{{*cs1.ChangesetId, v1}, {*cs2.ChangesetId, v2}, {*cs3.ChangesetId, v3}} {
		m, err := srv.Kx().Manifest(ctx, servertest.Region, env, db, v.id)
		if err != nil {
			t.Fatalf("Manifest(%s): %v", v.id, err)
		}
		dest := filepath.Join(root, fmt.Sprintf("v%d", i+1))
		if err := cache.Materialize(ctx, m, dest); err != nil {
			t.Fatalf("Materialize v%d: %v", i+1, err)
		}
		sameHashes(t, fmt.Sprintf("materialized v%d", i+1), hashTree(t, dest), hashLayout(v.files))
	}

	// A second database with the same data shares its contents; deleting
	// the first removes only what it alone referenced.
	if _, err := c.CreateKxDatabase(ctx, &finspace.CreateKxDatabaseInput{EnvironmentId: &env, DatabaseName: aws.String("hdb_copy"), ClientToken: aws.String("db-2")}); err != nil {
		t.Fatal(err)
	}
	if cs := changeset(t, c, env, "hdb_copy", put("s3://kxdata/hdb/", "/")); cs.Status != types.ChangesetStatusCompleted {
		t.Fatalf("copy: %s", cs.Status)
	}
	if got, want := contentObjects(t, srv, "sha256/"), distinct(v1, v2); got != want {
		t.Errorf("content store with the copy: %d objects, want %d (shared across databases)", got, want)
	}
	list, err := c.ListKxDatabases(ctx, &finspace.ListKxDatabasesInput{EnvironmentId: &env})
	if err != nil || len(list.KxDatabases) != 2 || aws.ToString(list.KxDatabases[0].DatabaseName) != "hdb_copy" || aws.ToString(list.KxDatabases[1].DatabaseName) != db {
		t.Fatalf("ListKxDatabases: %v %+v", err, list)
	}
	if _, err := c.DeleteKxDatabase(ctx, &finspace.DeleteKxDatabaseInput{EnvironmentId: &env, DatabaseName: aws.String(db), ClientToken: aws.String("db-del")}); err != nil {
		t.Fatalf("DeleteKxDatabase: %v", err)
	}
	_, err = c.GetKxDatabase(ctx, &finspace.GetKxDatabaseInput{EnvironmentId: &env, DatabaseName: aws.String(db)})
	if code := apiCode(t, err); code != "ResourceNotFoundException" {
		t.Errorf("GetKxDatabase after delete: %s", code)
	}
	if _, err := c.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: &dbARN}); apiCode(t, err) != "ResourceNotFoundException" {
		t.Errorf("tags of a deleted database: %v", err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for contentObjects(t, srv, "sha256/") != distinct(v1) || contentObjects(t, srv, "manifests/") != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("after deleting %s: %d contents and %d manifests, want %d and 1", db,
				contentObjects(t, srv, "sha256/"), contentObjects(t, srv, "manifests/"), distinct(v1))
		}
		time.Sleep(5 * time.Millisecond)
	}
	// The copy's version still materializes.
	list2, _ := c.ListKxChangesets(ctx, &finspace.ListKxChangesetsInput{EnvironmentId: &env, DatabaseName: aws.String("hdb_copy"), MaxResults: 1})
	m, err := srv.Kx().Manifest(ctx, servertest.Region, env, "hdb_copy", aws.ToString(list2.KxChangesets[0].ChangesetId))
	if err != nil {
		t.Fatal(err)
	}
	cold := &kxfs.Cache{Root: filepath.Join(root, "cold"), Fetch: srv.Kx().Fetch(servertest.Region)}
	if err := cold.Materialize(ctx, m, filepath.Join(root, "copy")); err != nil {
		t.Fatalf("Materialize the copy after the collection: %v", err)
	}
	sameHashes(t, "the copy", hashTree(t, filepath.Join(root, "copy")), hashLayout(v1))

	// A deleted environment answers as the real service did.
	if _, err := c.DeleteKxEnvironment(ctx, &finspace.DeleteKxEnvironmentInput{EnvironmentId: &env}); err != nil {
		t.Fatal(err)
	}
	waitKxStatus(t, c, clk, env, types.EnvironmentStatusDeleted)
	_, err = c.CreateKxDatabase(ctx, &finspace.CreateKxDatabaseInput{EnvironmentId: &env, DatabaseName: aws.String("late"), ClientToken: aws.String("late")})
	if code := apiCode(t, err); code != "ValidationException" || !strings.Contains(err.Error(), "The Environment is in DELETED state") {
		t.Errorf("CreateKxDatabase in a DELETED environment: %v", err)
	}
	_, err = c.GetKxDatabase(ctx, &finspace.GetKxDatabaseInput{EnvironmentId: &env, DatabaseName: aws.String("hdb_copy")})
	if code := apiCode(t, err); code != "ResourceNotFoundException" {
		t.Errorf("a database of a DELETED environment: %s", code)
	}
}
