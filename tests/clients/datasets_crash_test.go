package clients_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openfinspace/openfinspace/internal/blob"
	fd "github.com/openfinspace/openfinspace/internal/testclient/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

// TestChangesetSurvivesSIGKILL kills `openfinspace serve` with SIGKILL
// while a changeset of a 3-million-row CSV is RUNNING, restarts it on the
// same data dir, and requires the changeset to end SUCCESS with every row
// (or FAILED, never SUCCESS with rows missing), and the staging area to be
// empty once it ended.
func TestChangesetSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and ingests 3 million rows")
	}
	t.Parallel()
	ctx := context.Background()
	bin := buildBinary(t)
	dataDir := t.TempDir()
	srv := startBinary(t, bin, dataDir)
	creds := credentialsFromBinary(t, bin, dataDir, srv.addr)
	akid, secret := creds["AWS_ACCESS_KEY_ID"], creds["AWS_SECRET_ACCESS_KEY"]
	endpoint := "http://" + srv.addr
	fs := finspace.New(finspace.Options{Region: region, BaseEndpoint: aws.String(endpoint),
		Credentials: credentials.NewStaticCredentialsProvider(akid, secret, "")})
	env, err := fs.CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{Name: aws.String("crash")})
	if err != nil {
		t.Fatal(err)
	}
	waitCreated(t, fs, *env.EnvironmentId)
	root := func(endpoint string) *fd.Client {
		return fd.New(endpoint, region, fd.StaticCredentials(akid, secret, ""))
	}
	s3c := func(endpoint string) *s3.Client {
		return s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(akid, secret, "")})
	}

	// A 3-million-row CSV in the working location.
	const rows = 3_000_000
	src := filepath.Join(t.TempDir(), "big.csv")
	f, err := os.Create(src)
	if err != nil {
		t.Fatal(err)
	}
	w := bufio.NewWriterSize(f, 1<<20)
	fmt.Fprintln(w, "id,sym,px,qty,day")
	for i := range rows {
		fmt.Fprintf(w, "%d,S%04d,%d.%02d,%d,2024-03-%02d\n", i, i%5000, i%1000, i%100, i%777, 1+i%28)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	loc, err := root(endpoint).GetWorkingLocation(ctx, &finspacedata.GetWorkingLocationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	bucket := aws.ToString(loc.S3Bucket)
	key := aws.ToString(loc.S3Path)[len(bucket)+1:] + "big.csv"
	body, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s3c(endpoint).PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: body}); err != nil {
		t.Fatal(err)
	}
	body.Close()

	g, err := root(endpoint).CreatePermissionGroup(ctx, &finspacedata.CreatePermissionGroupRequest{Name: aws.String("g"),
		ApplicationPermissions: []finspacedata.ApplicationPermission{finspacedata.ApplicationPermissionCreateDataset}})
	if err != nil {
		t.Fatal(err)
	}
	col := func(n string, ty finspacedata.ColumnDataType) finspacedata.ColumnDefinition {
		return finspacedata.ColumnDefinition{ColumnName: aws.String(n), DataType: &ty}
	}
	ds, err := root(endpoint).CreateDataset(ctx, &finspacedata.CreateDatasetRequest{DatasetTitle: aws.String("big"),
		Kind: ptr(finspacedata.DatasetKindTabular), PermissionGroupParams: &finspacedata.PermissionGroupParams{PermissionGroupId: g.PermissionGroupId},
		SchemaDefinition: &finspacedata.SchemaUnion{TabularSchemaConfig: &finspacedata.SchemaDefinition{Columns: []finspacedata.ColumnDefinition{
			col("id", finspacedata.ColumnDataTypeBigint), col("sym", finspacedata.ColumnDataTypeString), col("px", finspacedata.ColumnDataTypeDouble),
			col("qty", finspacedata.ColumnDataTypeInteger), col("day", finspacedata.ColumnDataTypeDate)}}}})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := root(endpoint).CreateChangeset(ctx, &finspacedata.CreateChangesetRequest{DatasetId: ds.DatasetId,
		ChangeType: ptr(finspacedata.ChangeTypeAppend), SourceParams: map[string]string{"s3SourcePath": "s3://" + bucket + "/" + key},
		FormatParams: map[string]string{"formatType": "CSV"}})
	if err != nil {
		t.Fatal(err)
	}
	get := func(endpoint string) *finspacedata.GetChangesetResponse {
		t.Helper()
		out, err := root(endpoint).GetChangeset(ctx, &finspacedata.GetChangesetRequest{DatasetId: ds.DatasetId, ChangesetId: cs.ChangesetId})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	deadline := time.Now().Add(30 * time.Second)
	for *get(endpoint).Status != finspacedata.IngestionStatusRunning {
		if time.Now().After(deadline) {
			t.Fatalf("changeset not RUNNING after 30 s: %s", *get(endpoint).Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // into the conversion
	if st := *get(endpoint).Status; st != finspacedata.IngestionStatusRunning {
		t.Fatalf("the changeset finished (%s) before the kill: make the source larger", st)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-srv.done
	t.Logf("killed the server while the changeset was RUNNING")

	srv2 := startBinary(t, bin, dataDir)
	endpoint2 := "http://" + srv2.addr
	deadline = time.Now().Add(120 * time.Second)
	var out *finspacedata.GetChangesetResponse
	for {
		out = get(endpoint2)
		if *out.Status == finspacedata.IngestionStatusSuccess || *out.Status == finspacedata.IngestionStatusFailed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("changeset still %s 120 s after the restart", *out.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if *out.Status == finspacedata.IngestionStatusFailed {
		t.Logf("after the restart the changeset FAILED: %s %s", *out.ErrorInfo.ErrorCategory, aws.ToString(out.ErrorInfo.ErrorMessage))
	} else {
		// Every row is stored.
		managed := blob.WorkingLocationBucket("000000000000", region, *env.EnvironmentId+"-managed")
		obj, err := s3c(endpoint2).GetObject(ctx, &s3.GetObjectInput{Bucket: &managed,
			Key: aws.String("datasets/" + *ds.DatasetId + "/changesets/" + *cs.ChangesetId + "/data.parquet")})
		if err != nil {
			t.Fatal(err)
		}
		local := filepath.Join(t.TempDir(), "out.parquet")
		lf, _ := os.Create(local)
		if _, err := io.Copy(lf, obj.Body); err != nil {
			t.Fatal(err)
		}
		obj.Body.Close()
		lf.Close()
		db, err := sql.Open("duckdb", "")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		var n, sum int64
		if err := db.QueryRow(fmt.Sprintf("SELECT count(*), sum(id) FROM read_parquet('%s')", local)).Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}
		if n != rows || sum != int64(rows)*(rows-1)/2 {
			t.Fatalf("SUCCESS with %d rows (id sum %d), want every one of %d", n, sum, rows)
		}
		t.Logf("after the restart the changeset succeeded with all %d rows", n)
	}
	for _, d := range []string{"staging/changesets", "staging/ingest"} {
		entries, err := os.ReadDir(filepath.Join(dataDir, d))
		if err != nil || len(entries) != 0 {
			t.Errorf("%s after the changeset ended: %v %v, want empty", d, entries, err)
		}
	}
	srv2.stop(t)
}

func ptr[T any](v T) *T { return &v }
