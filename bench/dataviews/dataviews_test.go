// Package dataviews holds the data view report (bench/README.md "data
// views"): a static view of a dataset built from 20 changesets (APPEND,
// REPLACE, corrections) as of a middle moment and as of the end,
// partitioned by one column and sorted by two, end to end against DuckDB
// alone running the equivalent query and COPY on the same Parquet files in
// the same run; the server's peak memory; and an auto-update view's
// refresh after a 1 000-row APPEND into one partition against its full
// build, with the bytes rewritten.
package dataviews

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/finspace/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/serverbin"
	fd "github.com/openfinspace/openfinspace/internal/testclient/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

const (
	region       = "us-east-1"
	akid, secret = "AKIAOPENFINSPACEVIEWS", "openfinspace-dataviews-bench-secret-01234"
)

func ptr[T any](v T) *T { return &v }

// memory reads a /proc/<pid>/status field in KiB.
func memory(pid int, field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			v, _ := strconv.ParseInt(strings.Fields(rest)[0], 10, 64)
			return v
		}
	}
	return -1
}

// TestReportDataViews: 20 changesets of OPENFINSPACE_BENCH_ROWS rows each
// (default 500 000: 10 M rows in all) — APPENDs, a REPLACE (8th),
// corrections (14th of the 9th, 19th of the 15th) — then static views as
// of the 14th's activation and as of the end, partitioned by day (28) and
// sorted by sym, id, timed from CreateDataView to SUCCESS (polled every
// 20 ms) against DuckDB alone (threads 2, memory_limit 512MB, as the
// server's) reading the same changesets' Parquet with ORDER BY sym, id and
// COPY ... PARTITION_BY (day); then an auto-update view's full build, and
// its refresh after a 1 000-row APPEND into one day.
//
//	OPENFINSPACE_BENCH=1 go test -run TestReportDataViews -v -timeout 30m ./bench/dataviews/
func TestReportDataViews(t *testing.T) {
	if os.Getenv("OPENFINSPACE_BENCH") != "1" {
		t.Skip("set OPENFINSPACE_BENCH=1 to run the data view report")
	}
	perChangeset := 500_000
	if v := os.Getenv("OPENFINSPACE_BENCH_ROWS"); v != "" {
		perChangeset, _ = strconv.Atoi(v)
	}
	ctx := context.Background()
	dir := t.TempDir()
	bin, took, err := serverbin.Build(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built the server in %s", took.Round(time.Millisecond))
	addr, err := serverbin.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + addr
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data-dir", filepath.Join(dir, "data"), "--log-level", "info")
	cmd.Env = append(os.Environ(), "OPENFINSPACE_ACCESS_KEY_ID="+akid, "OPENFINSPACE_SECRET_ACCESS_KEY="+secret)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	for deadline := time.Now().Add(20 * time.Second); ; {
		resp, err := http.Get(url + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server not healthy: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	prov := credentials.NewStaticCredentialsProvider(akid, secret, "")
	fs := finspace.New(finspace.Options{Region: region, BaseEndpoint: aws.String(url), Credentials: prov})
	data := fd.New(url, region, fd.StaticCredentials(akid, secret, ""))
	s3c := s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(url), UsePathStyle: true, Credentials: prov})
	env, err := fs.CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{Name: aws.String("views")})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		got, err := fs.GetEnvironment(ctx, &finspace.GetEnvironmentInput{EnvironmentId: env.EnvironmentId})
		if err != nil {
			t.Fatal(err)
		}
		if got.Environment.Status == types.EnvironmentStatusCreated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("environment not CREATED")
		}
		time.Sleep(50 * time.Millisecond)
	}
	loc, err := data.GetWorkingLocation(ctx, &finspacedata.GetWorkingLocationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	bucket := aws.ToString(loc.S3Bucket)
	prefix := aws.ToString(loc.S3Path)[len(bucket)+1:]
	g, err := data.CreatePermissionGroup(ctx, &finspacedata.CreatePermissionGroupRequest{Name: aws.String("bench"),
		ApplicationPermissions: []finspacedata.ApplicationPermission{finspacedata.ApplicationPermissionCreateDataset}})
	if err != nil {
		t.Fatal(err)
	}
	col := func(n string, ty finspacedata.ColumnDataType) finspacedata.ColumnDefinition {
		return finspacedata.ColumnDefinition{ColumnName: aws.String(n), DataType: &ty}
	}
	ds, err := data.CreateDataset(ctx, &finspacedata.CreateDatasetRequest{DatasetTitle: aws.String("bench"), Kind: ptr(finspacedata.DatasetKindTabular),
		PermissionGroupParams: &finspacedata.PermissionGroupParams{PermissionGroupId: g.PermissionGroupId},
		SchemaDefinition: &finspacedata.SchemaUnion{TabularSchemaConfig: &finspacedata.SchemaDefinition{Columns: []finspacedata.ColumnDefinition{
			col("id", finspacedata.ColumnDataTypeBigint), col("sym", finspacedata.ColumnDataTypeString), col("px", finspacedata.ColumnDataTypeDouble),
			col("qty", finspacedata.ColumnDataTypeInteger), col("day", finspacedata.ColumnDataTypeDate)}}}})
	if err != nil {
		t.Fatal(err)
	}
	// upload writes rows [from, from+n) as CSV (all in one day when day > 0)
	// and uploads it.
	upload := func(name string, from, n, day int) string {
		t.Helper()
		p := filepath.Join(dir, name)
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		fmt.Fprintln(w, "id,sym,px,qty,day")
		for i := from; i < from+n; i++ {
			d := 1 + i%28
			if day > 0 {
				d = day
			}
			fmt.Fprintf(w, "%d,S%04d,%d.%02d,%d,2024-03-%02d\n", i, i%5000, i%1000, i%100, i%777, d)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		f.Seek(0, 0)
		key := prefix + name
		if _, err := manager.NewUploader(s3c).Upload(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: f}); err != nil {
			t.Fatal(err)
		}
		f.Close()
		os.Remove(p)
		return "s3://" + bucket + "/" + key
	}
	wait := func(id string) *finspacedata.GetChangesetResponse {
		t.Helper()
		for {
			out, err := data.GetChangeset(ctx, &finspacedata.GetChangesetRequest{DatasetId: ds.DatasetId, ChangesetId: &id})
			if err != nil {
				t.Fatal(err)
			}
			switch *out.Status {
			case finspacedata.IngestionStatusSuccess:
				return out
			case finspacedata.IngestionStatusFailed:
				t.Fatalf("changeset failed: %s", aws.ToString(out.ErrorInfo.ErrorMessage))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	create := func(ct finspacedata.ChangeType, uri string) *finspacedata.GetChangesetResponse {
		t.Helper()
		cs, err := data.CreateChangeset(ctx, &finspacedata.CreateChangesetRequest{DatasetId: ds.DatasetId, ChangeType: &ct,
			SourceParams: map[string]string{"s3SourcePath": uri}, FormatParams: map[string]string{"formatType": "CSV"}})
		if err != nil {
			t.Fatal(err)
		}
		return wait(*cs.ChangesetId)
	}
	correct := func(of, uri string) *finspacedata.GetChangesetResponse {
		t.Helper()
		cs, err := data.UpdateChangeset(ctx, &finspacedata.UpdateChangesetRequest{DatasetId: ds.DatasetId, ChangesetId: &of,
			SourceParams: map[string]string{"s3SourcePath": uri}, FormatParams: map[string]string{"formatType": "CSV"}})
		if err != nil {
			t.Fatal(err)
		}
		return wait(*cs.ChangesetId)
	}
	start := time.Now()
	var cs []*finspacedata.GetChangesetResponse
	for i := 1; i <= 20; i++ {
		uri := upload(fmt.Sprintf("c%02d.csv", i), i*perChangeset, perChangeset, 0)
		switch i {
		case 8:
			cs = append(cs, create(finspacedata.ChangeTypeReplace, uri))
		case 14:
			cs = append(cs, correct(*cs[8].ChangesetId, uri))
		case 19:
			cs = append(cs, correct(*cs[14].ChangesetId, uri))
		default:
			cs = append(cs, create(finspacedata.ChangeTypeAppend, uri))
		}
	}
	t.Logf("20 changesets of %d rows ingested in %s", perChangeset, time.Since(start).Round(time.Millisecond))
	// Visible as of the 14th's activation: the REPLACE (8), 10-13 and 14
	// (which corrects 9); as of the end also 16-18 and 19 (correcting 15), 20.
	visibleMiddle := []int{8, 10, 11, 12, 13, 14}
	visibleEnd := []int{8, 10, 11, 12, 13, 14, 16, 17, 18, 19, 20}

	managed := blob.WorkingLocationBucket("000000000000", region, *env.EnvironmentId+"-managed")
	local := func(i int) string {
		p := filepath.Join(dir, fmt.Sprintf("cs%02d.parquet", i))
		if _, err := os.Stat(p); err == nil {
			return p
		}
		key := "datasets/" + *ds.DatasetId + "/changesets/" + *cs[i-1].ChangesetId + "/data.parquet"
		f, err := os.Create(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := manager.NewDownloader(s3c).Download(ctx, f, &s3.GetObjectInput{Bucket: &managed, Key: &key}); err != nil {
			t.Fatal(err)
		}
		f.Close()
		return p
	}
	duckAlone := func(visible []int) (time.Duration, int64) {
		t.Helper()
		var files []string
		for _, i := range visible {
			files = append(files, "'"+local(i)+"'")
		}
		out := filepath.Join(dir, "alone")
		os.RemoveAll(out)
		defer os.RemoveAll(out)
		db, err := sql.Open("duckdb", "?threads=2&memory_limit=512MB")
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		start := time.Now()
		res, err := db.Exec(fmt.Sprintf("COPY (SELECT * FROM read_parquet([%s]) ORDER BY sym, id) TO '%s' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (day))",
			strings.Join(files, ", "), out))
		if err != nil {
			t.Fatal(err)
		}
		n, _ := res.RowsAffected()
		return time.Since(start), n
	}
	waitView := func(id string, after int64) {
		t.Helper()
		for {
			out, err := data.GetDataView(ctx, &finspacedata.GetDataViewRequest{DatasetId: ds.DatasetId, DataViewId: &id})
			if err != nil {
				t.Fatal(err)
			}
			if *out.Status == finspacedata.DataViewStatusSuccess && *out.AsOfTimestamp >= after {
				return
			}
			if *out.Status == finspacedata.DataViewStatusFailed {
				t.Fatalf("view failed: %+v", out.ErrorInfo)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	view := func(asOf *int64, auto bool) (string, time.Duration) {
		t.Helper()
		start := time.Now()
		out, err := data.CreateDataView(ctx, &finspacedata.CreateDataViewRequest{DatasetId: ds.DatasetId, AsOfTimestamp: asOf, AutoUpdate: &auto,
			PartitionColumns: []string{"day"}, SortColumns: []string{"sym", "id"},
			DestinationTypeParams: &finspacedata.DataViewDestinationTypeParams{DestinationType: aws.String("S3")}})
		if err != nil {
			t.Fatal(err)
		}
		waitView(*out.DataViewId, 0)
		return *out.DataViewId, time.Since(start)
	}
	pid := cmd.Process.Pid
	report := []string{fmt.Sprintf("%-22s %10s %10s %12s %7s", "view", "rows", "view s", "DuckDB s", "ratio")}
	for _, c := range []struct {
		name    string
		asOf    *int64
		visible []int
	}{{"as of the 14th", cs[13].ActiveFromTimestamp, visibleMiddle}, {"as of the end", nil, visibleEnd}} {
		_, took := view(c.asOf, false)
		alone, n := duckAlone(c.visible)
		report = append(report, fmt.Sprintf("%-22s %10d %10.2f %12.2f %6.0f%%", c.name, n, took.Seconds(), alone.Seconds(),
			100*alone.Seconds()/took.Seconds()))
	}

	// Auto-update: the full build, then the refresh after 1 000 rows into one day.
	auto, full := view(nil, true)
	listing := func() (string, map[string]string, map[string]int64) {
		x, err := data.GetExternalDataViewAccessDetails(ctx, &finspacedata.GetExternalDataViewAccessDetailsRequest{DatasetId: ds.DatasetId, DataViewId: &auto})
		if err != nil {
			t.Fatal(err)
		}
		etags, sizes := map[string]string{}, map[string]int64{}
		p := s3.NewListObjectsV2Paginator(s3c, &s3.ListObjectsV2Input{Bucket: x.S3Location.Bucket, Prefix: x.S3Location.Key})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, o := range page.Contents {
				rel := strings.TrimPrefix(*o.Key, *x.S3Location.Key)
				etags[rel], sizes[rel] = aws.ToString(o.ETag), aws.ToInt64(o.Size)
			}
		}
		return *x.S3Location.Key, etags, sizes
	}
	_, before, sizes := listing()
	var total int64
	for _, n := range sizes {
		total += n
	}
	small := create(finspacedata.ChangeTypeAppend, upload("small.csv", 100*perChangeset, 1000, 5))
	start = time.Now()
	waitView(auto, *small.ActiveFromTimestamp)
	refresh := time.Since(start)
	_, after, sizes := listing()
	var rewritten int64
	changed := 0
	for k, e := range after {
		if before[k] != e {
			rewritten += sizes[k]
			changed++
		}
	}
	report = append(report, "",
		fmt.Sprintf("auto-update view, full build (%d changesets): %.2f s", len(visibleEnd), full.Seconds()),
		fmt.Sprintf("refresh after a 1 000-row APPEND into one of %d partitions: %.2f s from the changeset's SUCCESS (%.1f%% of the full build); "+
			"%d file(s) rewritten, %d bytes of %d (%.1f%%); the others copied", len(after), refresh.Seconds(),
			100*refresh.Seconds()/full.Seconds(), changed, rewritten, total, 100*float64(rewritten)/float64(total)),
		fmt.Sprintf("server peak RSS (VmHWM) over the run: %.0f MiB", float64(memory(pid, "VmHWM"))/1024))
	t.Log("\n" + strings.Join(report, "\n"))
}
