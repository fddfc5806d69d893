package clients_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	fd "github.com/openfinspace/openfinspace/internal/testclient/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

// TestDataViewSurvivesSIGKILL kills `openfinspace serve` with SIGKILL while
// an auto-update view of a 2-million-row dataset is RUNNING its new version
// (after an APPEND), restarts it on the same data dir, and requires: the
// previous version readable through the whole time with credentials issued
// for it, the job to end after the restart with a complete new version
// (every row of both changesets, under a new prefix), and the staging area
// empty afterwards.
func TestDataViewSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and materializes 2 million rows")
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
	s3With := func(endpoint, akid, secret, token string) *s3.Client {
		return s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(endpoint), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(akid, secret, token)})
	}

	const rows, appended = 2_000_000, 100
	writeCSV := func(name string, from, n int) string {
		p := filepath.Join(t.TempDir(), name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		fmt.Fprintln(w, "id,sym,px,day")
		for i := from; i < from+n; i++ {
			fmt.Fprintf(w, "%d,S%04d,%d.%02d,2024-03-%02d\n", i, i%5000, i%1000, i%100, 1+i%28)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return p
	}
	loc, err := root(endpoint).GetWorkingLocation(ctx, &finspacedata.GetWorkingLocationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	bucket := aws.ToString(loc.S3Bucket)
	upload := func(path string) string {
		key := aws.ToString(loc.S3Path)[len(bucket)+1:] + filepath.Base(path)
		body, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer body.Close()
		if _, err := manager.NewUploader(s3With(endpoint, akid, secret, "")).Upload(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: body}); err != nil {
			t.Fatal(err)
		}
		return "s3://" + bucket + "/" + key
	}
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
			col("day", finspacedata.ColumnDataTypeDate)}}}})
	if err != nil {
		t.Fatal(err)
	}
	changeset := func(endpoint, uri string) *finspacedata.GetChangesetResponse {
		t.Helper()
		cs, err := root(endpoint).CreateChangeset(ctx, &finspacedata.CreateChangesetRequest{DatasetId: ds.DatasetId,
			ChangeType: ptr(finspacedata.ChangeTypeAppend), SourceParams: map[string]string{"s3SourcePath": uri},
			FormatParams: map[string]string{"formatType": "CSV"}})
		if err != nil {
			t.Fatal(err)
		}
		deadline := time.Now().Add(120 * time.Second)
		for {
			out, err := root(endpoint).GetChangeset(ctx, &finspacedata.GetChangesetRequest{DatasetId: ds.DatasetId, ChangesetId: cs.ChangesetId})
			if err != nil {
				t.Fatal(err)
			}
			if *out.Status == finspacedata.IngestionStatusSuccess {
				return out
			}
			if *out.Status == finspacedata.IngestionStatusFailed || time.Now().After(deadline) {
				t.Fatalf("changeset %s", *out.Status)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	first := changeset(endpoint, upload(writeCSV("big.csv", 0, rows)))

	v, err := root(endpoint).CreateDataView(ctx, &finspacedata.CreateDataViewRequest{DatasetId: ds.DatasetId, AutoUpdate: ptr(true),
		PartitionColumns: []string{"day"}, SortColumns: []string{"sym", "id"},
		DestinationTypeParams: &finspacedata.DataViewDestinationTypeParams{DestinationType: aws.String("S3")}})
	if err != nil {
		t.Fatal(err)
	}
	getView := func(endpoint string) *finspacedata.GetDataViewResponse {
		t.Helper()
		out, err := root(endpoint).GetDataView(ctx, &finspacedata.GetDataViewRequest{DatasetId: ds.DatasetId, DataViewId: v.DataViewId})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	waitVersion := func(endpoint string, after int64) {
		t.Helper()
		deadline := time.Now().Add(180 * time.Second)
		for {
			out := getView(endpoint)
			if *out.Status == finspacedata.DataViewStatusSuccess && *out.AsOfTimestamp >= after {
				return
			}
			if *out.Status == finspacedata.DataViewStatusFailed || time.Now().After(deadline) {
				t.Fatalf("data view %s %v", *out.Status, out.ErrorInfo)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitVersion(endpoint, *first.ActiveFromTimestamp)
	access := func(endpoint string) (*s3.Client, string, string) {
		t.Helper()
		x, err := root(endpoint).GetExternalDataViewAccessDetails(ctx, &finspacedata.GetExternalDataViewAccessDetailsRequest{DatasetId: ds.DatasetId, DataViewId: v.DataViewId})
		if err != nil {
			t.Fatal(err)
		}
		c := x.Credentials
		return s3With(endpoint, *c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken), *x.S3Location.Bucket, *x.S3Location.Key
	}
	oldClient, vbucket, oldPrefix := access(endpoint)
	list := func(c *s3.Client, endpoint, prefix string) []string {
		t.Helper()
		c = s3.New(c.Options(), func(o *s3.Options) { o.BaseEndpoint = aws.String(endpoint) })
		var keys []string
		p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &vbucket, Prefix: &prefix})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatalf("listing %s: %v", prefix, err)
			}
			for _, o := range page.Contents {
				keys = append(keys, strings.TrimPrefix(*o.Key, prefix))
			}
		}
		return keys
	}
	oldFiles := list(oldClient, endpoint, oldPrefix)
	if len(oldFiles) != 28 {
		t.Fatalf("first version: %d files, want 28 partitions", len(oldFiles))
	}

	// An APPEND asks for a new version: kill the server while it is RUNNING.
	second := changeset(endpoint, upload(writeCSV("more.csv", rows, appended)))
	deadline := time.Now().Add(60 * time.Second)
	for *getView(endpoint).Status != finspacedata.DataViewStatusRunning {
		if time.Now().After(deadline) {
			t.Fatalf("the new version is not RUNNING after 60 s: %s", *getView(endpoint).Status)
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // into DuckDB's work
	if st := *getView(endpoint).Status; st != finspacedata.DataViewStatusRunning {
		t.Fatalf("the new version finished (%s) before the kill: make the dataset larger", st)
	}
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-srv.done
	t.Logf("killed the server while the view's new version was RUNNING")

	srv2 := startBinary(t, bin, dataDir)
	endpoint2 := "http://" + srv2.addr
	// The previous version is whole and readable right after the restart.
	if got := list(oldClient, endpoint2, oldPrefix); !slices.Equal(got, oldFiles) {
		t.Fatalf("the previous version after the restart: %v, want %v", got, oldFiles)
	}
	waitVersion(endpoint2, *second.ActiveFromTimestamp)
	newClient, _, newPrefix := access(endpoint2)
	if newPrefix == oldPrefix {
		t.Fatal("the new version has the old prefix")
	}
	// Still readable after the switch (kept until the next one).
	if got := list(oldClient, endpoint2, oldPrefix); !slices.Equal(got, oldFiles) {
		t.Errorf("the previous version after the switch: %v", got)
	}
	// The new version holds every row of both changesets, once.
	dir := t.TempDir()
	dl := manager.NewDownloader(s3.New(newClient.Options(), func(o *s3.Options) { o.BaseEndpoint = aws.String(endpoint2) }))
	for _, k := range list(newClient, endpoint2, newPrefix) {
		p := filepath.Join(dir, filepath.FromSlash(k))
		os.MkdirAll(filepath.Dir(p), 0o755)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := dl.Download(ctx, f, &s3.GetObjectInput{Bucket: &vbucket, Key: aws.String(newPrefix + k)}); err != nil {
			t.Fatal(err)
		}
		f.Close()
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, sum, days int64
	if err := db.QueryRow(fmt.Sprintf("SELECT count(*), sum(id), count(DISTINCT day) FROM read_parquet('%s/*/*.parquet', hive_partitioning = true)", dir)).
		Scan(&n, &sum, &days); err != nil {
		t.Fatal(err)
	}
	total := int64(rows + appended)
	if n != total || sum != total*(total-1)/2 || days != 28 {
		t.Fatalf("new version: %d rows (id sum %d, %d days), want %d", n, sum, days, total)
	}
	t.Logf("after the restart the view's new version has all %d rows", n)
	for _, d := range []string{"staging/changesets", "staging/ingest"} {
		entries, err := os.ReadDir(filepath.Join(dataDir, d))
		if err != nil || len(entries) != 0 {
			t.Errorf("%s after the view's job ended: %v %v, want empty", d, entries, err)
		}
	}
	srv2.stop(t)
}
