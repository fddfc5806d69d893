package server_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/dataset"
	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

// waitView polls GetDataView until view id of dataset is SUCCESS or FAILED.
func (f *datasetFixture) waitView(dataset, id string) *finspacedata.GetDataViewResponse {
	f.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := f.su.GetDataView(context.Background(), &finspacedata.GetDataViewRequest{DatasetId: &dataset, DataViewId: &id})
		if err != nil {
			f.t.Fatalf("GetDataView: %v", err)
		}
		switch *out.Status {
		case finspacedata.DataViewStatusSuccess, finspacedata.DataViewStatusFailed:
			return out
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("data view %s still %s after 60 s", id, *out.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *datasetFixture) createView(dataset string, dest finspacedata.DataViewDestinationTypeParams, partition ...string) (string, error) {
	out, err := f.su.CreateDataView(context.Background(), &finspacedata.CreateDataViewRequest{DatasetId: &dataset,
		DestinationTypeParams: &dest, PartitionColumns: partition})
	if err != nil {
		return "", err
	}
	return *out.DataViewId, nil
}

// TestDataViewQuotaAndDeletion: the per-dataset quota when set, and a
// deleted dataset taking its views, their Glue table and their files along.
func TestDataViewQuotaAndDeletion(t *testing.T) {
	t.Parallel()
	f := newDatasetFixture(t, func(c *server.Config) { c.Ingest.MaxViewsPerDataset = 2 })
	ctx := context.Background()
	g := f.group("viewers")
	ds := f.dataset(f.su, "Quota", g, []finspacedata.ColumnDefinition{col("sym", finspacedata.ColumnDataTypeString),
		col("px", finspacedata.ColumnDataTypeInteger)}, allPermissions())
	f.succeed(ds, f.changeset(ds, finspacedata.ChangeTypeAppend, f.upload("q.csv", "sym,px\nA,1\nB,2\n"), map[string]string{"formatType": "CSV"}))

	glueView, err := f.createView(ds, finspacedata.DataViewDestinationTypeParams{DestinationType: ptrTo("GLUE_TABLE")}, "sym")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.createView(ds, finspacedata.DataViewDestinationTypeParams{DestinationType: ptrTo("S3")}); err != nil {
		t.Fatal(err)
	}
	_, err = f.createView(ds, finspacedata.DataViewDestinationTypeParams{DestinationType: ptrTo("S3")})
	if code := code(err); code != "LimitExceededException" || !strings.Contains(err.Error(), "(2)") {
		t.Fatalf("a third view with a quota of 2: %v", err)
	}
	got := f.waitView(ds, glueView)
	if *got.Status != finspacedata.DataViewStatusSuccess {
		t.Fatalf("view: %+v", got)
	}
	opts := got.DestinationTypeParams.S3DestinationExportFileFormatOptions
	gdb, gtable := opts["glueDatabaseName"], opts["glueTableName"]
	if tb, err := f.srv.Glue().Table(ctx, servertest.Region, gdb, gtable); err != nil || len(tb.PartitionKeys) != 1 {
		t.Fatalf("Glue table %s.%s: %+v, %v", gdb, gtable, tb, err)
	}

	if _, err := f.su.DeleteDataset(ctx, &finspacedata.DeleteDatasetRequest{DatasetId: &ds}); err != nil {
		t.Fatal(err)
	}
	_, err = f.su.GetDataView(ctx, &finspacedata.GetDataViewRequest{DatasetId: &ds, DataViewId: &glueView})
	if code := code(err); code != "ResourceNotFoundException" {
		t.Errorf("GetDataView after DeleteDataset: %v", err)
	}
	if _, err := f.srv.Glue().Table(ctx, servertest.Region, gdb, gtable); err == nil {
		t.Error("the Glue table outlived its dataset")
	}
	page, err := f.srv.Blobs().List(ctx, f.srv.DatasetsManagedBucket(servertest.Region, f.env), blob.ListOptions{Prefix: "datasets/" + ds + "/"})
	if err != nil || len(page.Objects) != 0 {
		t.Errorf("the dataset's stored data after DeleteDataset: %+v, %v", page, err)
	}
}

// TestDataViewExternalAccessExpires: the credentials read the view for an
// hour, then no more.
func TestDataViewExternalAccessExpires(t *testing.T) {
	t.Parallel()
	f := newDatasetFixture(t)
	ctx := context.Background()
	clk := servertest.ClockAt(f.srv.URL())
	g := f.group("readers")
	ds := f.dataset(f.su, "Expiry", g, []finspacedata.ColumnDefinition{col("sym", finspacedata.ColumnDataTypeString),
		col("px", finspacedata.ColumnDataTypeInteger)}, allPermissions())
	f.succeed(ds, f.changeset(ds, finspacedata.ChangeTypeAppend, f.upload("e.csv", "sym,px\nA,1\nB,2\n"), map[string]string{"formatType": "CSV"}))
	glueView, err := f.createView(ds, finspacedata.DataViewDestinationTypeParams{DestinationType: ptrTo("GLUE_TABLE")}, "sym")
	if err != nil {
		t.Fatal(err)
	}
	f.waitView(ds, glueView)
	x, err := f.su.GetExternalDataViewAccessDetails(ctx, &finspacedata.GetExternalDataViewAccessDetailsRequest{DatasetId: &ds, DataViewId: &glueView})
	if err != nil {
		t.Fatal(err)
	}
	c := x.Credentials
	if want := clk.Now().Add(time.Hour).UnixMilli(); *c.Expiration < want-2000 || *c.Expiration > want+2000 {
		t.Errorf("expiration %d, want about %d", *c.Expiration, want)
	}
	sc := s3For(f.srv, credentials.NewStaticCredentialsProvider(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken))
	l, err := sc.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: x.S3Location.Bucket, Prefix: x.S3Location.Key})
	if err != nil || len(l.Contents) != 2 {
		t.Fatalf("listing the view with its credentials: %+v, %v", l, err)
	}
	// Later reads are signed at the server's (advanced) time.
	get := func() int {
		t.Helper()
		u := f.srv.URL() + "/" + *x.S3Location.Bucket + "/" + strings.ReplaceAll(*l.Contents[0].Key, "=", "%3D")
		req, _ := http.NewRequest("GET", u+"?X-Amz-Expires=900", nil)
		signed, _, err := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true }).PresignHTTP(ctx, aws.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey,
			SessionToken: *c.SessionToken}, req, "UNSIGNED-PAYLOAD", "s3", servertest.Region, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.Get(signed)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Logf("GET at %s: %d %s", clk.Now().Format(time.TimeOnly), resp.StatusCode, body)
		}
		return resp.StatusCode
	}
	if st := get(); st != 200 {
		t.Fatalf("a presigned GET of the view: %d", st)
	}
	clk.Advance(59 * time.Minute)
	if st := get(); st != 200 {
		t.Fatalf("after 59 minutes: %d", st)
	}
	clk.Advance(2 * time.Minute)
	if st := get(); st < 400 {
		t.Fatalf("after 61 minutes the credentials still read the view: %d", st)
	}

}

// viewVersion reads view id's record from the store: its current
// version's prefix and how many files it rebuilt and copied.
func (f *datasetFixture) viewVersion(id string) (prefix string, rebuilt, copied int) {
	f.t.Helper()
	ctx := context.Background()
	var rec struct {
		Current struct {
			Prefix  string `json:"prefix"`
			Rebuilt int    `json:"rebuilt"`
			Copied  int    `json:"copied"`
		} `json:"current"`
	}
	err := f.srv.Store().View(ctx, func(tx store.Tx) error {
		r, err := tx.Get(ctx, dataset.DataViewKind, id)
		if err != nil {
			return err
		}
		return json.Unmarshal(r.Data, &rec)
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return rec.Current.Prefix, rec.Current.Rebuilt, rec.Current.Copied
}

// viewFiles reads every file under prefix in the managed bucket, file by
// file in key order, each in its own order: "folder: row, row".
func (f *datasetFixture) viewFiles(prefix string) []string {
	f.t.Helper()
	ctx := context.Background()
	bucket := f.srv.DatasetsManagedBucket(servertest.Region, f.env)
	page, err := f.srv.Blobs().List(ctx, bucket, blob.ListOptions{Prefix: prefix})
	if err != nil {
		f.t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		f.t.Fatal(err)
	}
	defer db.Close()
	var out []string
	for _, o := range page.Objects {
		rc, _, err := f.srv.Blobs().Get(ctx, bucket, o.Key)
		if err != nil {
			f.t.Fatal(err)
		}
		path := filepath.Join(f.t.TempDir(), "f.parquet")
		file, _ := os.Create(path)
		io.Copy(file, rc)
		rc.Close()
		file.Close()
		var rows string
		if err := db.QueryRow(fmt.Sprintf("SELECT string_agg(sym || '|' || px, ', ') FROM read_parquet('%s')", path)).Scan(&rows); err != nil {
			f.t.Fatal(err)
		}
		rel := strings.TrimPrefix(o.Key, prefix)
		out = append(out, rel[:strings.LastIndexByte(rel, '/')]+": "+rows)
	}
	return out
}

// TestDataViewRebuildsOnlyTouchedPartitions: an auto-update view partitioned
// by day rebuilds only the days an APPEND or a correction touched (copying
// the others' files from the previous version) and everything after a
// REPLACE; every version reads back exactly the dataset.
func TestDataViewRebuildsOnlyTouchedPartitions(t *testing.T) {
	t.Parallel()
	f := newDatasetFixture(t)
	ctx := context.Background()
	g := f.group("partitions")
	ds := f.dataset(f.su, "Days", g, []finspacedata.ColumnDefinition{col("sym", finspacedata.ColumnDataTypeString),
		col("px", finspacedata.ColumnDataTypeInteger), col("day", finspacedata.ColumnDataTypeDate)}, allPermissions())
	csv := map[string]string{"formatType": "CSV"}
	first := f.succeed(ds, f.changeset(ds, finspacedata.ChangeTypeAppend,
		f.upload("d1.csv", "sym,px,day\nB,2,2024-01-01\nA,1,2024-01-01\nC,3,2024-01-02\nD,4,2024-01-03\n"), csv))
	out, err := f.su.CreateDataView(ctx, &finspacedata.CreateDataViewRequest{DatasetId: &ds, AutoUpdate: ptrTo(true),
		PartitionColumns: []string{"day"}, SortColumns: []string{"sym"},
		DestinationTypeParams: &finspacedata.DataViewDestinationTypeParams{DestinationType: ptrTo("S3")}})
	if err != nil {
		t.Fatal(err)
	}
	view := *out.DataViewId
	wait := func(after int64) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			got := f.waitView(ds, view)
			if *got.Status == finspacedata.DataViewStatusSuccess && *got.AsOfTimestamp >= after {
				return
			}
			if *got.Status == finspacedata.DataViewStatusFailed || time.Now().After(deadline) {
				t.Fatalf("view: %s %+v", *got.Status, got.ErrorInfo)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	step := func(name string, after int64, rebuilt, copied int, want ...string) {
		t.Helper()
		wait(after)
		prefix, r, c := f.viewVersion(view)
		if r != rebuilt || c != copied {
			t.Errorf("%s: %d files rebuilt, %d copied; want %d and %d", name, r, c, rebuilt, copied)
		}
		if got := f.viewFiles(prefix); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\n%s\nwant\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	step("first version", *first.ActiveFromTimestamp, 3, 0,
		"day=2024-01-01: A|1, B|2", "day=2024-01-02: C|3", "day=2024-01-03: D|4")

	app := f.succeed(ds, f.changeset(ds, finspacedata.ChangeTypeAppend, f.upload("d2.csv", "sym,px,day\nAA,5,2024-01-02\n"), csv))
	step("APPEND into one day", *app.ActiveFromTimestamp, 1, 2,
		"day=2024-01-01: A|1, B|2", "day=2024-01-02: AA|5, C|3", "day=2024-01-03: D|4")

	fix, err := f.su.UpdateChangeset(ctx, &finspacedata.UpdateChangesetRequest{DatasetId: &ds, ChangesetId: app.ChangesetId,
		SourceParams: map[string]string{"s3SourcePath": f.upload("d2fix.csv", "sym,px,day\nE,6,2024-01-04\n")}, FormatParams: csv})
	if err != nil {
		t.Fatal(err)
	}
	fixed := f.succeed(ds, *fix.ChangesetId)
	step("a correction moving the row to a new day", *fixed.ActiveFromTimestamp, 2, 2,
		"day=2024-01-01: A|1, B|2", "day=2024-01-02: C|3", "day=2024-01-03: D|4", "day=2024-01-04: E|6")

	rep := f.succeed(ds, f.changeset(ds, finspacedata.ChangeTypeReplace, f.upload("r.csv", "sym,px,day\nR,9,2024-01-02\n"), csv))
	step("REPLACE: a full rebuild", *rep.ActiveFromTimestamp, 1, 0, "day=2024-01-02: R|9")
}

// TestDataViewFailure: a view whose changesets' data no longer fits the
// dataset's schema (changed since they were ingested) ends FAILED with a
// VALIDATION errorInfo saying so, after one attempt.
func TestDataViewFailure(t *testing.T) {
	t.Parallel()
	f := newDatasetFixture(t)
	ctx := context.Background()
	g := f.group("schema")
	ds := f.dataset(f.su, "Schema", g, []finspacedata.ColumnDefinition{col("sym", finspacedata.ColumnDataTypeString),
		col("px", finspacedata.ColumnDataTypeString)}, allPermissions())
	f.succeed(ds, f.changeset(ds, finspacedata.ChangeTypeAppend, f.upload("s.csv", "sym,px\nA,lots\n"), map[string]string{"formatType": "CSV"}))
	if _, err := f.su.UpdateDataset(ctx, &finspacedata.UpdateDatasetRequest{DatasetId: &ds, DatasetTitle: ptrTo("Schema"),
		Kind: ptrTo(finspacedata.DatasetKindTabular), SchemaDefinition: &finspacedata.SchemaUnion{TabularSchemaConfig: &finspacedata.SchemaDefinition{
			Columns: []finspacedata.ColumnDefinition{col("sym", finspacedata.ColumnDataTypeString), col("px", finspacedata.ColumnDataTypeInteger)}}}}); err != nil {
		t.Fatal(err)
	}
	id, err := f.createView(ds, finspacedata.DataViewDestinationTypeParams{DestinationType: ptrTo("S3")})
	if err != nil {
		t.Fatal(err)
	}
	got := f.waitView(ds, id)
	if *got.Status != finspacedata.DataViewStatusFailed || got.ErrorInfo == nil || *got.ErrorInfo.ErrorCategory != finspacedata.ErrorCategoryValidation ||
		!strings.Contains(*got.ErrorInfo.ErrorMessage, "earlier schema") || !strings.Contains(*got.ErrorInfo.ErrorMessage, "lots") {
		t.Fatalf("view = %s %+v", *got.Status, got.ErrorInfo)
	}
	t.Logf("errorInfo: %s: %s", *got.ErrorInfo.ErrorCategory, *got.ErrorInfo.ErrorMessage)
	_, err = f.su.GetExternalDataViewAccessDetails(ctx, &finspacedata.GetExternalDataViewAccessDetailsRequest{DatasetId: &ds, DataViewId: &id})
	if c := code(err); c != "ValidationException" {
		t.Errorf("external access to a view without a version: %v", err)
	}
}

// TestDataViewEscapedPartitions: partition values with characters Hive
// escapes name folders as Hive does (a%2Fb), DuckDB's Hive reader gives
// the values back, and the Glue partitions hold the values themselves with
// the escaped folder as location; a NULL value is Hive's default partition.
func TestDataViewEscapedPartitions(t *testing.T) {
	t.Parallel()
	f := newDatasetFixture(t)
	ctx := context.Background()
	g := f.group("escapes")
	ds := f.dataset(f.su, "Escapes", g, []finspacedata.ColumnDefinition{col("sym", finspacedata.ColumnDataTypeString),
		col("px", finspacedata.ColumnDataTypeInteger)}, allPermissions())
	f.succeed(ds, f.changeset(ds, finspacedata.ChangeTypeAppend,
		f.upload("e.csv", "sym,px\na/b,1\nx=y:z,2\n100%,3\nü東京 #1,4\n,5\n"), map[string]string{"formatType": "CSV"}))
	id, err := f.createView(ds, finspacedata.DataViewDestinationTypeParams{DestinationType: ptrTo("GLUE_TABLE")}, "sym")
	if err != nil {
		t.Fatal(err)
	}
	got := f.waitView(ds, id)
	if *got.Status != finspacedata.DataViewStatusSuccess {
		t.Fatalf("view: %s %+v", *got.Status, got.ErrorInfo)
	}
	prefix, _, _ := f.viewVersion(id)
	bucket := f.srv.DatasetsManagedBucket(servertest.Region, f.env)
	page, err := f.srv.Blobs().List(ctx, bucket, blob.ListOptions{Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	var folders []string
	for _, o := range page.Objects {
		rel := strings.TrimPrefix(o.Key, prefix)
		folders = append(folders, rel[:strings.LastIndexByte(rel, '/')])
		rc, _, err := f.srv.Blobs().Get(ctx, bucket, o.Key)
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		file, _ := os.Create(p)
		io.Copy(file, rc)
		rc.Close()
		file.Close()
	}
	want := []string{"sym=100%25", "sym=__HIVE_DEFAULT_PARTITION__", "sym=a%2Fb", "sym=x%3Dy%3Az", "sym=ü東京 %231"}
	if strings.Join(folders, ",") != strings.Join(want, ",") {
		t.Errorf("folders %q, want %q", folders, want)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var read string
	if err := db.QueryRow(fmt.Sprintf("SELECT string_agg(coalesce(sym, 'NULL') || '=' || px, ',' ORDER BY px) FROM read_parquet('%s/*/*.parquet', hive_partitioning = true)", dir)).Scan(&read); err != nil {
		t.Fatal(err)
	}
	// DuckDB reads the default partition as the literal folder value.
	if read != "a/b=1,x=y:z=2,100%=3,ü東京 #1=4,__HIVE_DEFAULT_PARTITION__=5" && read != "a/b=1,x=y:z=2,100%=3,ü東京 #1=4,NULL=5" {
		t.Errorf("DuckDB's Hive read: %s", read)
	}
	opts := got.DestinationTypeParams.S3DestinationExportFileFormatOptions
	parts, _, err := f.srv.Glue().Partitions(ctx, servertest.Region, opts["glueDatabaseName"], opts["glueTableName"], nil, nil, 100)
	if err != nil {
		t.Fatal(err)
	}
	var values []string
	for _, p := range parts.Items {
		values = append(values, p.Values[0]+" @ "+strings.TrimPrefix(p.Location, "s3://"+bucket+"/"+prefix))
	}
	slices.Sort(values)
	wantValues := []string{"100% @ sym=100%25/", "__HIVE_DEFAULT_PARTITION__ @ sym=__HIVE_DEFAULT_PARTITION__/", "a/b @ sym=a%2Fb/",
		"x=y:z @ sym=x%3Dy%3Az/", "ü東京 #1 @ sym=ü東京 %231/"}
	if strings.Join(values, "\n") != strings.Join(wantValues, "\n") {
		t.Errorf("Glue partitions:\n%s\nwant\n%s", strings.Join(values, "\n"), strings.Join(wantValues, "\n"))
	}
}
