package server_test

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/duckdb/duckdb-go/v2"

	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
	fd "github.com/openfinspace/openfinspace/internal/testclient/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

// datasetFixture is an environment, its superuser's finspace-data client,
// and an S3 client with the superuser's programmatic credentials for the
// working location.
type datasetFixture struct {
	t      *testing.T
	srv    *server.Server
	env    string
	su     *fd.Client
	s3     *s3.Client
	bucket string
	prefix string // working location prefix, ends with "/"
}

func newDatasetFixture(t *testing.T, opts ...func(*server.Config)) *datasetFixture {
	t.Helper()
	srv, _ := servertest.StartClocked(t, opts...)
	ctx := context.Background()
	env := createdEnvironment(t, servertest.Finspace(srv), "datasets")
	creds, err := rootData(srv).GetProgrammaticAccessCredentials(ctx, &finspacedata.GetProgrammaticAccessCredentialsRequest{EnvironmentId: &env})
	if err != nil {
		t.Fatal(err)
	}
	c := creds.Credentials
	su := fd.New(srv.URL(), servertest.Region, fd.StaticCredentials(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken))
	loc, err := su.GetWorkingLocation(ctx, &finspacedata.GetWorkingLocationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	bucket := aws.ToString(loc.S3Bucket)
	return &datasetFixture{t: t, srv: srv, env: env, su: su, bucket: bucket,
		prefix: strings.TrimPrefix(aws.ToString(loc.S3Path), bucket+"/"),
		s3:     s3For(srv, credentials.NewStaticCredentialsProvider(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken))}
}

// upload puts body at the working location under name and returns its
// s3:// URI.
func (f *datasetFixture) upload(name, body string) string {
	f.t.Helper()
	key := f.prefix + name
	if _, err := f.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &f.bucket, Key: &key, Body: strings.NewReader(body)}); err != nil {
		f.t.Fatalf("upload %s: %v", name, err)
	}
	return "s3://" + f.bucket + "/" + key
}

func (f *datasetFixture) group(name string) string {
	f.t.Helper()
	g, err := f.su.CreatePermissionGroup(context.Background(), &finspacedata.CreatePermissionGroupRequest{Name: &name,
		ApplicationPermissions: []finspacedata.ApplicationPermission{finspacedata.ApplicationPermissionGetTemporaryCredentials}})
	if err != nil {
		f.t.Fatal(err)
	}
	return *g.PermissionGroupId
}

func col(name string, t finspacedata.ColumnDataType) finspacedata.ColumnDefinition {
	return finspacedata.ColumnDefinition{ColumnName: &name, DataType: &t}
}

// allTypes is a schema with one column of each of the 12 types.
var allTypes = []finspacedata.ColumnDefinition{
	col("s", finspacedata.ColumnDataTypeString), col("c", finspacedata.ColumnDataTypeChar),
	col("i", finspacedata.ColumnDataTypeInteger), col("ti", finspacedata.ColumnDataTypeTinyint),
	col("si", finspacedata.ColumnDataTypeSmallint), col("bi", finspacedata.ColumnDataTypeBigint),
	col("f", finspacedata.ColumnDataTypeFloat), col("d", finspacedata.ColumnDataTypeDouble),
	col("dt", finspacedata.ColumnDataTypeDate), col("ts", finspacedata.ColumnDataTypeDatetime),
	col("b", finspacedata.ColumnDataTypeBoolean), col("bin", finspacedata.ColumnDataTypeBinary),
}

func allPermissions() []finspacedata.ResourcePermission {
	var out []finspacedata.ResourcePermission
	for _, p := range []string{"ViewDatasetDetails", "ReadDatasetData", "AddDatasetData", "CreateDataView", "EditDatasetMetadata", "DeleteDataset"} {
		out = append(out, finspacedata.ResourcePermission{Permission: sp(p)})
	}
	return out
}

func (f *datasetFixture) dataset(c *fd.Client, title, group string, cols []finspacedata.ColumnDefinition, perms []finspacedata.ResourcePermission) string {
	f.t.Helper()
	out, err := c.CreateDataset(context.Background(), &finspacedata.CreateDatasetRequest{DatasetTitle: &title,
		Kind:                  ptrTo(finspacedata.DatasetKindTabular),
		PermissionGroupParams: &finspacedata.PermissionGroupParams{PermissionGroupId: &group, DatasetPermissions: perms},
		SchemaDefinition:      &finspacedata.SchemaUnion{TabularSchemaConfig: &finspacedata.SchemaDefinition{Columns: cols}}})
	if err != nil {
		f.t.Fatalf("CreateDataset(%s): %v", title, err)
	}
	return *out.DatasetId
}

func (f *datasetFixture) changeset(dataset string, ct finspacedata.ChangeType, uri string, format map[string]string) string {
	f.t.Helper()
	out, err := f.su.CreateChangeset(context.Background(), &finspacedata.CreateChangesetRequest{DatasetId: &dataset, ChangeType: &ct,
		SourceParams: map[string]string{"s3SourcePath": uri, "sourceType": "S3"}, FormatParams: format})
	if err != nil {
		f.t.Fatalf("CreateChangeset(%s): %v", uri, err)
	}
	return *out.ChangesetId
}

// wait polls GetChangeset until the changeset is SUCCESS or FAILED.
func (f *datasetFixture) wait(dataset, id string) *finspacedata.GetChangesetResponse {
	f.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := f.su.GetChangeset(context.Background(), &finspacedata.GetChangesetRequest{DatasetId: &dataset, ChangesetId: &id})
		if err != nil {
			f.t.Fatalf("GetChangeset: %v", err)
		}
		switch *out.Status {
		case finspacedata.IngestionStatusSuccess, finspacedata.IngestionStatusFailed:
			return out
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("changeset %s still %s after 60 s", id, *out.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (f *datasetFixture) succeed(dataset, id string) *finspacedata.GetChangesetResponse {
	f.t.Helper()
	out := f.wait(dataset, id)
	if *out.Status != finspacedata.IngestionStatusSuccess {
		f.t.Fatalf("changeset %s: %s %s %s", id, *out.Status, deref(out.ErrorInfo).cat(), deref(out.ErrorInfo).msg())
	}
	return out
}

type errInfo finspacedata.ChangesetErrorInfo

func deref(e *finspacedata.ChangesetErrorInfo) *errInfo { return (*errInfo)(e) }
func (e *errInfo) cat() string {
	if e == nil || e.ErrorCategory == nil {
		return ""
	}
	return string(*e.ErrorCategory)
}
func (e *errInfo) msg() string {
	if e == nil {
		return ""
	}
	return aws.ToString(e.ErrorMessage)
}

// rows reads a SUCCESS changeset's stored Parquet (through the blob store)
// with DuckDB, as text rows ordered as query orders them.
func (f *datasetFixture) rows(dataset, changeset, query string) []string {
	f.t.Helper()
	ctx := context.Background()
	bucket := f.srv.DatasetsManagedBucket(servertest.Region, f.env)
	key := "datasets/" + dataset + "/changesets/" + changeset + "/data.parquet"
	rc, _, err := f.srv.Blobs().Get(ctx, bucket, key)
	if err != nil {
		f.t.Fatalf("stored data of %s: %v", changeset, err)
	}
	defer rc.Close()
	path := filepath.Join(f.t.TempDir(), "data.parquet")
	file, err := os.Create(path)
	if err != nil {
		f.t.Fatal(err)
	}
	if _, err := io.Copy(file, rc); err != nil {
		f.t.Fatal(err)
	}
	file.Close()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		f.t.Fatal(err)
	}
	defer db.Close()
	r, err := db.Query(strings.ReplaceAll(query, "$file", "'"+path+"'"))
	if err != nil {
		f.t.Fatalf("reading back %s: %v", changeset, err)
	}
	defer r.Close()
	cols, _ := r.Columns()
	var out []string
	for r.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := r.Scan(ptrs...); err != nil {
			f.t.Fatal(err)
		}
		parts := make([]string, len(vals))
		for i, v := range vals {
			if v == nil {
				parts[i] = "NULL"
			} else {
				parts[i] = fmt.Sprint(v)
			}
		}
		out = append(out, strings.Join(parts, "|"))
	}
	if err := r.Err(); err != nil {
		f.t.Fatal(err)
	}
	return out
}

func TestDatasetIngestAllTypes(t *testing.T) {
	f := newDatasetFixture(t)
	ctx := context.Background()
	g := f.group("analysts")
	ds := f.dataset(f.su, "All types", g, allTypes, allPermissions())

	got, err := f.su.GetDataset(ctx, &finspacedata.GetDatasetRequest{DatasetId: &ds})
	if err != nil {
		t.Fatal(err)
	}
	if *got.Status != finspacedata.DatasetStatusSuccess || len(got.SchemaDefinition.TabularSchemaConfig.Columns) != 12 ||
		!strings.HasSuffix(aws.ToString(got.DatasetArn), ":dataset/"+ds) || aws.ToInt64(got.CreateTime) < 1e12 {
		t.Fatalf("GetDataset = %+v", got)
	}

	csv := "s,c,i,ti,si,bi,f,d,dt,ts,b,bin\n" +
		"\"quoted, with comma\",x,-2147483648,-128,-32768,-9223372036854775808,1.5,-1.25e300,2024-02-29,2024-02-29 13:45:01.123456,true,abc\n" +
		"\"line\nbreak\",ü,2147483647,127,32767,9223372036854775807,-3.25,2.5,1970-01-01,1999-12-31 23:59:59,false,\\x00\\xff\n" +
		"東京,,,,,,,,,,,\n"
	id := f.changeset(ds, finspacedata.ChangeTypeAppend, f.upload("all.csv", csv), map[string]string{"formatType": "CSV"})
	out := f.succeed(ds, id)
	if aws.ToInt64(out.ActiveFromTimestamp) < aws.ToInt64(out.CreateTime) || out.ActiveUntilTimestamp != nil ||
		*out.ChangeType != finspacedata.ChangeTypeAppend || out.SourceParams["s3SourcePath"] == "" || out.FormatParams["formatType"] != "CSV" {
		t.Fatalf("GetChangeset = %+v", out)
	}
	rows := f.rows(ds, id, "SELECT s, c, i, ti, si, bi, f, d, dt::VARCHAR, ts::VARCHAR, b, hex(bin) FROM read_parquet($file) ORDER BY i NULLS LAST")
	want := []string{
		"quoted, with comma|x|-2147483648|-128|-32768|-9223372036854775808|1.5|-1.25e+300|2024-02-29|2024-02-29 13:45:01.123456|true|616263",
		"line\nbreak|ü|2147483647|127|32767|9223372036854775807|-3.25|2.5|1970-01-01|1999-12-31 23:59:59|false|00FF",
		"東京|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL",
	}
	if strings.Join(rows, "\n") != strings.Join(want, "\n") {
		t.Fatalf("stored rows:\n%s\nwant:\n%s", strings.Join(rows, "\n"), strings.Join(want, "\n"))
	}

	// JSON (newline-delimited and an array), gzip, and a prefix of several files.
	sch := []finspacedata.ColumnDefinition{col("sym", finspacedata.ColumnDataTypeString), col("px", finspacedata.ColumnDataTypeDouble)}
	ds2 := f.dataset(f.su, "Prices", g, sch, allPermissions())
	f.upload("multi/a.json", `{"sym":"A","px":1.5}`+"\n"+`{"sym":"B","px":2}`+"\n")
	f.upload("multi/b.json", `{"sym":"C","px":3}`+"\n")
	id2 := f.changeset(ds2, finspacedata.ChangeTypeAppend, "s3://"+f.bucket+"/"+f.prefix+"multi/", map[string]string{"formatType": "JSON"})
	f.succeed(ds2, id2)
	if rows := f.rows(ds2, id2, "SELECT sym, px FROM read_parquet($file) ORDER BY sym"); strings.Join(rows, ",") != "A|1.5,B|2,C|3" {
		t.Fatalf("prefix of two JSON files: %v", rows)
	}
}

func TestChangesetReplaceAndCorrections(t *testing.T) {
	f := newDatasetFixture(t)
	ctx := context.Background()
	g := f.group("analysts")
	sch := []finspacedata.ColumnDefinition{col("sym", finspacedata.ColumnDataTypeString), col("px", finspacedata.ColumnDataTypeInteger)}
	ds := f.dataset(f.su, "Prices", g, sch, allPermissions())
	csv := map[string]string{"formatType": "CSV", "withHeader": "true", "separator": ","}

	a := f.changeset(ds, finspacedata.ChangeTypeAppend, f.upload("a.csv", "sym,px\nA,1\n"), csv)
	aOut := f.succeed(ds, a)
	b := f.changeset(ds, finspacedata.ChangeTypeAppend, f.upload("b.csv", "sym,px\nB,2\n"), csv)
	f.succeed(ds, b)

	// A correction of A: UpdateChangeset returns the new MODIFY changeset.
	up, err := f.su.UpdateChangeset(ctx, &finspacedata.UpdateChangesetRequest{DatasetId: &ds, ChangesetId: &a,
		SourceParams: map[string]string{"s3SourcePath": f.upload("a2.csv", "sym,px\nA,10\n")}, FormatParams: csv})
	if err != nil {
		t.Fatalf("UpdateChangeset: %v", err)
	}
	m := *up.ChangesetId
	if m == a || *up.DatasetId != ds {
		t.Fatalf("UpdateChangeset = %+v", up)
	}
	mOut := f.succeed(ds, m)
	if *mOut.ChangeType != finspacedata.ChangeTypeModify || aws.ToString(mOut.UpdatesChangesetId) != a {
		t.Fatalf("the correction: %+v", mOut)
	}
	aNow, err := f.su.GetChangeset(ctx, &finspacedata.GetChangesetRequest{DatasetId: &ds, ChangesetId: &a})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(aNow.UpdatedByChangesetId) != m || aws.ToInt64(aNow.ActiveUntilTimestamp) != aws.ToInt64(mOut.ActiveFromTimestamp) ||
		aws.ToInt64(aNow.ActiveFromTimestamp) != aws.ToInt64(aOut.ActiveFromTimestamp) {
		t.Fatalf("corrected changeset: %+v (correction active from %d)", aNow, aws.ToInt64(mOut.ActiveFromTimestamp))
	}
	// A is kept (history), and M's data is what it was given.
	if rows := f.rows(ds, a, "SELECT * FROM read_parquet($file)"); strings.Join(rows, ",") != "A|1" {
		t.Fatalf("A's data after the correction: %v", rows)
	}
	if rows := f.rows(ds, m, "SELECT * FROM read_parquet($file)"); strings.Join(rows, ",") != "A|10" {
		t.Fatalf("M's data: %v", rows)
	}
	// A corrected changeset cannot be corrected again: correct M instead.
	if _, err := f.su.UpdateChangeset(ctx, &finspacedata.UpdateChangesetRequest{DatasetId: &ds, ChangesetId: &a,
		SourceParams: map[string]string{"s3SourcePath": f.upload("a3.csv", "sym,px\nA,11\n")}, FormatParams: csv}); code(err) != "ConflictException" {
		t.Errorf("correcting a corrected changeset: %v, want ConflictException", err)
	}
	// CreateChangeset with MODIFY names no target: refused.
	mt := finspacedata.ChangeTypeModify
	if _, err := f.su.CreateChangeset(ctx, &finspacedata.CreateChangesetRequest{DatasetId: &ds, ChangeType: &mt,
		SourceParams: map[string]string{"s3SourcePath": f.upload("m.csv", "sym,px\nZ,0\n")}, FormatParams: csv}); code(err) != "ValidationException" ||
		!strings.Contains(err.Error(), "UpdateChangeset") {
		t.Errorf("CreateChangeset MODIFY: %v, want ValidationException pointing at UpdateChangeset", err)
	}

	// REPLACE ends every active changeset from its activation.
	r := f.changeset(ds, finspacedata.ChangeTypeReplace, f.upload("r.csv", "sym,px\nR,5\n"), csv)
	rOut := f.succeed(ds, r)
	list, err := f.su.ListChangesets(ctx, &finspacedata.ListChangesetsRequest{DatasetId: &ds, MaxResults: aws.Int32(2)})
	if err != nil {
		t.Fatal(err)
	}
	var all []finspacedata.ChangesetSummary
	all = append(all, list.Changesets...)
	for list.NextToken != nil {
		if list, err = f.su.ListChangesets(ctx, &finspacedata.ListChangesetsRequest{DatasetId: &ds, MaxResults: aws.Int32(2), NextToken: list.NextToken}); err != nil {
			t.Fatal(err)
		}
		all = append(all, list.Changesets...)
	}
	var order []string
	for _, c := range all {
		order = append(order, *c.ChangesetId)
		until := aws.ToInt64(c.ActiveUntilTimestamp)
		switch *c.ChangesetId {
		case a:
			if until != aws.ToInt64(mOut.ActiveFromTimestamp) {
				t.Errorf("A's activeUntil %d changed by the REPLACE", until)
			}
		case b, m:
			if until != aws.ToInt64(rOut.ActiveFromTimestamp) {
				t.Errorf("changeset %s activeUntil = %d, want the REPLACE's activeFrom %d", *c.ChangesetId, until, aws.ToInt64(rOut.ActiveFromTimestamp))
			}
		case r:
			if c.ActiveUntilTimestamp != nil {
				t.Errorf("the REPLACE itself has activeUntil %d", until)
			}
		}
	}
	if strings.Join(order, ",") != strings.Join([]string{a, b, m, r}, ",") {
		t.Errorf("ListChangesets order %v, want creation order %v", order, []string{a, b, m, r})
	}
}

func TestChangesetFailures(t *testing.T) {
	f := newDatasetFixture(t)
	ctx := context.Background()
	g := f.group("analysts")
	sch := []finspacedata.ColumnDefinition{col("sym", finspacedata.ColumnDataTypeString), col("qty", finspacedata.ColumnDataTypeInteger)}
	ds := f.dataset(f.su, "Trades", g, sch, allPermissions())
	csv := map[string]string{"formatType": "CSV"}

	failed := func(uri string, format map[string]string, wantCat string, wantMsg ...string) {
		t.Helper()
		id := f.changeset(ds, finspacedata.ChangeTypeAppend, uri, format)
		out := f.wait(ds, id)
		e := deref(out.ErrorInfo)
		if *out.Status != finspacedata.IngestionStatusFailed || e.cat() != wantCat {
			t.Errorf("%s: %s %s %q, want FAILED %s", uri, *out.Status, e.cat(), e.msg(), wantCat)
			return
		}
		for _, w := range wantMsg {
			if !strings.Contains(e.msg(), w) {
				t.Errorf("%s: message %q does not mention %q", uri, e.msg(), w)
			}
		}
		if out.ActiveFromTimestamp != nil {
			t.Errorf("%s: a failed changeset has activeFrom", uri)
		}
	}
	bad := f.upload("bad.csv", "sym,qty\nA,1\nB,2\nC,lots\n")
	failed(bad, csv, "VALIDATION", bad, "line 4", "qty", "lots")
	over := f.upload("overflow.csv", "sym,qty\nA,2147483647\nB,2147483648\n")
	failed(over, csv, "VALIDATION", "line 3", "qty", "2147483648")
	failed("s3://"+f.bucket+"/"+f.prefix+"missing.csv", csv, "RESOURCE_NOT_FOUND", "missing.csv")
	// Another bucket on this server is not the environment's to read.
	mustCreateBucket(t, rootS3(f.srv), "operator-bucket")
	failed("s3://operator-bucket/x.csv", csv, "ACCESS_DENIED", "working bucket")
	gz := f.upload("notgzip.csv.gz", "sym,qty\nA,1\n")
	failed(gz, map[string]string{"formatType": "CSV", "compression": "gzip"}, "USER_RECOVERABLE", "notgzip.csv.gz")

	// The dataset's status follows its latest changeset.
	got, err := f.su.GetDataset(ctx, &finspacedata.GetDatasetRequest{DatasetId: &ds})
	if err != nil || *got.Status != finspacedata.DatasetStatusFailed {
		t.Errorf("dataset status after a failed changeset: %v %v", got, err)
	}

	// Bad requests are refused at create time, naming the member.
	for _, c := range []struct {
		src, format map[string]string
		member      string
	}{
		{map[string]string{"sourceType": "S3"}, csv, "s3SourcePath"},
		{map[string]string{"s3SourcePath": "/local/file.csv"}, csv, "s3SourcePath"},
		{map[string]string{"s3SourcePath": bad, "sourceType": "HTTP"}, csv, "sourceType"},
		{map[string]string{"s3SourcePath": bad}, map[string]string{"formatType": "AVRO"}, "formatType"},
		{map[string]string{"s3SourcePath": bad}, map[string]string{"formatType": "CSV", "compression": "lzma"}, "compression"},
		{map[string]string{"s3SourcePath": bad}, map[string]string{"formatType": "CSV", "separator": ";;"}, "separator"},
	} {
		at := finspacedata.ChangeTypeAppend
		_, err := f.su.CreateChangeset(ctx, &finspacedata.CreateChangesetRequest{DatasetId: &ds, ChangeType: &at, SourceParams: c.src, FormatParams: c.format})
		if code(err) != "ValidationException" || !strings.Contains(err.Error(), c.member) {
			t.Errorf("CreateChangeset(%v, %v): %v, want ValidationException naming %s", c.src, c.format, err, c.member)
		}
	}
	// Schemas: duplicate (case-insensitive) and empty names, unknown primary keys.
	for _, cols := range [][]finspacedata.ColumnDefinition{
		{col("a", finspacedata.ColumnDataTypeString), col("A", finspacedata.ColumnDataTypeString)},
		{col("", finspacedata.ColumnDataTypeString)},
		{},
	} {
		_, err := f.su.CreateDataset(ctx, &finspacedata.CreateDatasetRequest{DatasetTitle: sp("bad"), Kind: ptrTo(finspacedata.DatasetKindTabular),
			PermissionGroupParams: &finspacedata.PermissionGroupParams{PermissionGroupId: &g},
			SchemaDefinition:      &finspacedata.SchemaUnion{TabularSchemaConfig: &finspacedata.SchemaDefinition{Columns: cols}}})
		if code(err) != "ValidationException" || !strings.Contains(err.Error(), "schemaDefinition") {
			t.Errorf("CreateDataset with columns %v: %v", cols, err)
		}
	}
	_, err = f.su.CreateDataset(ctx, &finspacedata.CreateDatasetRequest{DatasetTitle: sp("bad"), Kind: ptrTo(finspacedata.DatasetKindTabular),
		PermissionGroupParams: &finspacedata.PermissionGroupParams{PermissionGroupId: &g},
		SchemaDefinition: &finspacedata.SchemaUnion{TabularSchemaConfig: &finspacedata.SchemaDefinition{Columns: sch,
			PrimaryKeyColumns: []string{"nope"}}}})
	if code(err) != "ValidationException" || !strings.Contains(err.Error(), "primaryKeyColumns") {
		t.Errorf("CreateDataset with an unknown primary key: %v", err)
	}
}

func TestDatasetPermissionsAndDeletion(t *testing.T) {
	f := newDatasetFixture(t)
	ctx := context.Background()
	const role = "arn:aws:iam::000000000000:role/analyst"
	u, err := f.su.CreateUser(ctx, &finspacedata.CreateUserRequest{EmailAddress: sp("analyst@example.com"), Type: ptrTo(finspacedata.UserTypeAppUser),
		ApiAccess: ptrTo(finspacedata.ApiAccessEnabled), ApiAccessPrincipalArn: sp(role)})
	if err != nil {
		t.Fatal(err)
	}
	sess := assumeRole(t, stsClient(f.srv, nil), role, "analyst", 0)
	c := sess.Credentials
	analyst := fd.New(f.srv.URL(), servertest.Region, fd.StaticCredentials(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken))
	sch := []finspacedata.ColumnDefinition{col("sym", finspacedata.ColumnDataTypeString)}

	// Without CreateDataset an APP_USER cannot create one.
	noPerm := f.group("nobody")
	if _, err := analyst.CreateDataset(ctx, &finspacedata.CreateDatasetRequest{DatasetTitle: sp("x"), Kind: ptrTo(finspacedata.DatasetKindTabular),
		PermissionGroupParams: &finspacedata.PermissionGroupParams{PermissionGroupId: &noPerm},
		SchemaDefinition:      &finspacedata.SchemaUnion{TabularSchemaConfig: &finspacedata.SchemaDefinition{Columns: sch}}}); code(err) != "AccessDeniedException" {
		t.Errorf("CreateDataset without the CreateDataset permission: %v", err)
	}
	// The analyst's group gets only ViewDatasetDetails on dataset A and
	// nothing on dataset B.
	g, err := f.su.CreatePermissionGroup(ctx, &finspacedata.CreatePermissionGroupRequest{Name: sp("analysts"),
		ApplicationPermissions: []finspacedata.ApplicationPermission{finspacedata.ApplicationPermissionCreateDataset}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.su.AssociateUserToPermissionGroup(ctx, &finspacedata.AssociateUserToPermissionGroupRequest{PermissionGroupId: g.PermissionGroupId, UserId: u.UserId}); err != nil {
		t.Fatal(err)
	}
	dsA := f.dataset(f.su, "A", *g.PermissionGroupId, sch, []finspacedata.ResourcePermission{{Permission: sp("ViewDatasetDetails")}})
	dsB := f.dataset(f.su, "B", noPerm, sch, allPermissions())
	uri := f.upload("p.csv", "sym\nX\n")
	csvFmt := map[string]string{"formatType": "CSV"}
	at := finspacedata.ChangeTypeAppend
	if _, err := analyst.GetDataset(ctx, &finspacedata.GetDatasetRequest{DatasetId: &dsA}); err != nil {
		t.Errorf("GetDataset with ViewDatasetDetails: %v", err)
	}
	if _, err := analyst.GetDataset(ctx, &finspacedata.GetDatasetRequest{DatasetId: &dsB}); code(err) != "AccessDeniedException" {
		t.Errorf("GetDataset without ViewDatasetDetails: %v", err)
	}
	list, err := analyst.ListDatasets(ctx, &finspacedata.ListDatasetsRequest{})
	if err != nil || len(list.Datasets) != 1 || *list.Datasets[0].DatasetId != dsA {
		t.Errorf("ListDatasets for the analyst: %+v %v, want only %s", list, err, dsA)
	}
	for name, call := range map[string]func() error{
		"CreateChangeset (AddDatasetData)": func() error {
			_, err := analyst.CreateChangeset(ctx, &finspacedata.CreateChangesetRequest{DatasetId: &dsA, ChangeType: &at,
				SourceParams: map[string]string{"s3SourcePath": uri}, FormatParams: csvFmt})
			return err
		},
		"UpdateDataset (EditDatasetMetadata)": func() error {
			_, err := analyst.UpdateDataset(ctx, &finspacedata.UpdateDatasetRequest{DatasetId: &dsA, DatasetTitle: sp("A2"), Kind: ptrTo(finspacedata.DatasetKindTabular),
				SchemaDefinition: &finspacedata.SchemaUnion{TabularSchemaConfig: &finspacedata.SchemaDefinition{Columns: sch}}})
			return err
		},
		"DeleteDataset (DeleteDataset)": func() error {
			_, err := analyst.DeleteDataset(ctx, &finspacedata.DeleteDatasetRequest{DatasetId: &dsA})
			return err
		},
		"ListChangesets of B (ViewDatasetDetails)": func() error {
			_, err := analyst.ListChangesets(ctx, &finspacedata.ListChangesetsRequest{DatasetId: &dsB})
			return err
		},
	} {
		if err := call(); code(err) != "AccessDeniedException" {
			t.Errorf("%s without the permission: %v", name, err)
		}
	}
	// Another environment never sees these datasets.
	other := createdEnvironment(t, servertest.Finspace(f.srv), "other")
	otherSU := userClient(t, f.srv, rootData(f.srv), other)
	if _, err := otherSU.GetDataset(ctx, &finspacedata.GetDatasetRequest{DatasetId: &dsA}); code(err) != "ResourceNotFoundException" {
		t.Errorf("another environment's superuser reading the dataset: %v", err)
	}

	// Alias is unique per environment; UpdateDataset changes metadata.
	if _, err := f.su.UpdateDataset(ctx, &finspacedata.UpdateDatasetRequest{DatasetId: &dsA, DatasetTitle: sp("A renamed"),
		Kind: ptrTo(finspacedata.DatasetKindTabular), Alias: sp("alias/prices"),
		SchemaDefinition: &finspacedata.SchemaUnion{TabularSchemaConfig: &finspacedata.SchemaDefinition{Columns: sch}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.su.UpdateDataset(ctx, &finspacedata.UpdateDatasetRequest{DatasetId: &dsB, DatasetTitle: sp("B"),
		Kind: ptrTo(finspacedata.DatasetKindTabular), Alias: sp("alias/prices"),
		SchemaDefinition: &finspacedata.SchemaUnion{TabularSchemaConfig: &finspacedata.SchemaDefinition{Columns: sch}}}); code(err) != "ConflictException" {
		t.Errorf("a second dataset with the same alias: %v", err)
	}
	if got, err := f.su.GetDataset(ctx, &finspacedata.GetDatasetRequest{DatasetId: &dsA}); err != nil || *got.DatasetTitle != "A renamed" || aws.ToString(got.Alias) != "alias/prices" {
		t.Errorf("after UpdateDataset: %+v %v", got, err)
	}

	// DeleteDataset removes the dataset, its changesets and stored data.
	id := f.changeset(dsB, at, uri, csvFmt)
	f.succeed(dsB, id)
	bucket := f.srv.DatasetsManagedBucket(servertest.Region, f.env)
	if _, err := f.srv.Blobs().Head(ctx, bucket, "datasets/"+dsB+"/changesets/"+id+"/data.parquet"); err != nil {
		t.Fatalf("stored data before the deletion: %v", err)
	}
	if _, err := f.su.DeleteDataset(ctx, &finspacedata.DeleteDatasetRequest{DatasetId: &dsB}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.su.GetDataset(ctx, &finspacedata.GetDatasetRequest{DatasetId: &dsB}); code(err) != "ResourceNotFoundException" {
		t.Errorf("GetDataset after DeleteDataset: %v", err)
	}
	if _, err := f.su.GetChangeset(ctx, &finspacedata.GetChangesetRequest{DatasetId: &dsB, ChangesetId: &id}); code(err) != "ResourceNotFoundException" {
		t.Errorf("GetChangeset after DeleteDataset: %v", err)
	}
	if _, err := f.srv.Blobs().Head(ctx, bucket, "datasets/"+dsB+"/changesets/"+id+"/data.parquet"); err == nil {
		t.Errorf("the deleted dataset's data is still stored")
	}
}

// TestNonTabularKeepsFiles: a NON_TABULAR dataset's changeset keeps its
// files byte for byte, named by their path below the source prefix.
func TestNonTabularKeepsFiles(t *testing.T) {
	f := newDatasetFixture(t)
	ctx := context.Background()
	g := f.group("docs")
	out, err := f.su.CreateDataset(ctx, &finspacedata.CreateDatasetRequest{DatasetTitle: sp("Reports"), Kind: ptrTo(finspacedata.DatasetKindNonTabular),
		PermissionGroupParams: &finspacedata.PermissionGroupParams{PermissionGroupId: &g, DatasetPermissions: allPermissions()}})
	if err != nil {
		t.Fatal(err)
	}
	ds := *out.DatasetId
	files := map[string]string{"reports/2024/q1.pdf": "%PDF-1.7 q1\x00\xff", "reports/2024/notes/readme.txt": "plain text"}
	for name, body := range files {
		f.upload(name, body)
	}
	id := f.changeset(ds, finspacedata.ChangeTypeAppend, "s3://"+f.bucket+"/"+f.prefix+"reports/", map[string]string{"formatType": "PDF"})
	f.succeed(ds, id)
	bucket := f.srv.DatasetsManagedBucket(servertest.Region, f.env)
	for name, body := range files {
		rc, _, err := f.srv.Blobs().Get(ctx, bucket, "datasets/"+ds+"/changesets/"+id+"/files/"+strings.TrimPrefix(name, "reports/"))
		if err != nil {
			t.Errorf("stored %s: %v", name, err)
			continue
		}
		got, _ := io.ReadAll(rc)
		rc.Close()
		if string(got) != body {
			t.Errorf("stored %s = %q, want %q", name, got, body)
		}
	}
	// A NON_TABULAR dataset takes no schema.
	_, err = f.su.CreateDataset(ctx, &finspacedata.CreateDatasetRequest{DatasetTitle: sp("x"), Kind: ptrTo(finspacedata.DatasetKindNonTabular),
		PermissionGroupParams: &finspacedata.PermissionGroupParams{PermissionGroupId: &g},
		SchemaDefinition: &finspacedata.SchemaUnion{TabularSchemaConfig: &finspacedata.SchemaDefinition{Columns: []finspacedata.ColumnDefinition{
			col("a", finspacedata.ColumnDataTypeString)}}}})
	if code(err) != "ValidationException" {
		t.Errorf("NON_TABULAR with a schema: %v", err)
	}
}

// TestCSVByteOrderMark: a UTF-8 byte order mark (as spreadsheet exports
// write it) is not part of the first value, with or without a header.
func TestCSVByteOrderMark(t *testing.T) {
	f := newDatasetFixture(t)
	g := f.group("bom")
	ds := f.dataset(f.su, "BOM", g, []finspacedata.ColumnDefinition{col("sym", finspacedata.ColumnDataTypeString),
		col("qty", finspacedata.ColumnDataTypeInteger)}, allPermissions())
	for _, c := range []struct {
		name, body, header string
	}{{"noheader.csv", "\ufeffA,1\nB,2\n", "false"}, {"header.csv", "\ufeffsym,qty\nA,1\nB,2\n", "true"}} {
		id := f.changeset(ds, finspacedata.ChangeTypeAppend, f.upload(c.name, c.body), map[string]string{"formatType": "CSV", "withHeader": c.header})
		f.succeed(ds, id)
		if rows := f.rows(ds, id, "SELECT sym, qty FROM read_parquet($file) ORDER BY sym"); strings.Join(rows, ",") != "A|1,B|2" {
			t.Errorf("%s: %q", c.name, rows)
		}
	}
}
