package hostile_test

// Changesets an attacker with CreateDataset and AddDatasetData can create:
// sources of a few hundred kilobytes that expand to hundreds of millions
// of line breaks, to one line of gigabytes, or (bz2) into the staging
// area. Each changeset must end FAILED with the right category, naming the
// file and line where it can, while the server's memory stays bounded and
// GetEnvironment keeps answering.

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/finspace/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
	fd "github.com/openfinspace/openfinspace/internal/testclient/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

// ingestFixture is a server with one environment, its superuser's
// finspace-data and S3 clients, and a TABULAR dataset (a STRING, b BIGINT).
type ingestFixture struct {
	t       *testing.T
	srv     *server.Server
	dataDir string
	env     string
	su      *fd.Client
	s3      *s3.Client
	bucket  string
	prefix  string
	dataset string
}

func newIngestFixture(t *testing.T, opts ...func(*server.Config)) *ingestFixture {
	t.Helper()
	needProc(t)
	dataDir := t.TempDir()
	srv := servertest.Start(t, append([]func(*server.Config){func(c *server.Config) {
		c.DataDir = dataDir
		c.Ingest.MemoryLimit = "256MB"
	}}, opts...)...)
	ctx := context.Background()
	fs := servertest.Finspace(srv)
	out, err := fs.CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{Name: aws.String("hostile-ingest"),
		SuperuserParameters: &types.SuperuserParameters{EmailAddress: aws.String("root@hostile.example.com"), FirstName: aws.String("R"), LastName: aws.String("U")}})
	if err != nil {
		t.Fatal(err)
	}
	env := aws.ToString(out.EnvironmentId)
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		got, err := fs.GetEnvironment(ctx, &finspace.GetEnvironmentInput{EnvironmentId: &env})
		if err != nil {
			t.Fatal(err)
		}
		if got.Environment.Status == types.EnvironmentStatusCreated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("environment still %s", got.Environment.Status)
		}
	}
	root := srv.Root()
	rootData := fd.New(srv.URL(), servertest.Region, fd.StaticCredentials(root.AccessKeyID, root.SecretAccessKey, ""))
	creds, err := rootData.GetProgrammaticAccessCredentials(ctx, &finspacedata.GetProgrammaticAccessCredentialsRequest{EnvironmentId: &env})
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
	f := &ingestFixture{t: t, srv: srv, dataDir: dataDir, env: env, su: su, bucket: bucket,
		prefix: strings.TrimPrefix(aws.ToString(loc.S3Path), bucket+"/"),
		s3: s3.New(s3.Options{Region: servertest.Region, BaseEndpoint: aws.String(srv.URL()), UsePathStyle: true, RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken)})}
	g, err := su.CreatePermissionGroup(ctx, &finspacedata.CreatePermissionGroupRequest{Name: aws.String("owners"),
		ApplicationPermissions: []finspacedata.ApplicationPermission{finspacedata.ApplicationPermissionCreateDataset}})
	if err != nil {
		t.Fatal(err)
	}
	col := func(name string, ty finspacedata.ColumnDataType) finspacedata.ColumnDefinition {
		return finspacedata.ColumnDefinition{ColumnName: &name, DataType: &ty}
	}
	kind := finspacedata.DatasetKindTabular
	ds, err := su.CreateDataset(ctx, &finspacedata.CreateDatasetRequest{DatasetTitle: aws.String("hostile"), Kind: &kind,
		PermissionGroupParams: &finspacedata.PermissionGroupParams{PermissionGroupId: g.PermissionGroupId,
			DatasetPermissions: []finspacedata.ResourcePermission{{Permission: aws.String("ViewDatasetDetails")}, {Permission: aws.String("AddDatasetData")}}},
		SchemaDefinition: &finspacedata.SchemaUnion{TabularSchemaConfig: &finspacedata.SchemaDefinition{Columns: []finspacedata.ColumnDefinition{
			col("a", finspacedata.ColumnDataTypeString), col("b", finspacedata.ColumnDataTypeBigint)}}}})
	if err != nil {
		t.Fatal(err)
	}
	f.dataset = aws.ToString(ds.DatasetId)
	return f
}

// part is a run of repeated bytes of a generated source.
type part struct {
	b string
	n int64
}

// writeParts streams parts into w in 1 MiB chunks.
func writeParts(w io.Writer, parts ...part) error {
	for _, p := range parts {
		chunk := []byte(strings.Repeat(p.b, max(1, (1<<20)/len(p.b))))
		per := int64(len(chunk) / len(p.b))
		for left := p.n; left > 0; {
			k := min(left, per)
			if _, err := w.Write(chunk[:k*int64(len(p.b))]); err != nil {
				return err
			}
			left -= k
		}
	}
	return nil
}

// gzipFile writes the gzip of parts to a temporary file (never holding
// what it expands to) and returns its path.
func gzipFile(t *testing.T, parts ...part) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "src.gz")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	if err := writeParts(zw, parts...); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return p
}

// bz2File writes a bz2 file that expands to copies × parts (bzip2 streams
// concatenated are one bzip2 file).
func bz2File(t *testing.T, copies int, parts ...part) string {
	t.Helper()
	if _, err := exec.LookPath("bzip2"); err != nil {
		t.Skip("bzip2 not installed")
	}
	var raw bytes.Buffer
	pr, pw := io.Pipe()
	cmd := exec.Command("bzip2", "-c", "-1")
	cmd.Stdin, cmd.Stdout = pr, &raw
	go func() { pw.CloseWithError(writeParts(pw, parts...)) }()
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "src.bz2")
	if err := os.WriteFile(p, bytes.Repeat(raw.Bytes(), copies), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func (f *ingestFixture) upload(name, path string) string {
	f.t.Helper()
	body, err := os.Open(path)
	if err != nil {
		f.t.Fatal(err)
	}
	defer body.Close()
	key := f.prefix + name
	if _, err := f.s3.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &f.bucket, Key: &key, Body: body}); err != nil {
		f.t.Fatalf("upload %s: %v", name, err)
	}
	return "s3://" + f.bucket + "/" + key
}

// watch is what was seen while a changeset ingested: the peak RSS of the
// server (this process) and its gateway, GetEnvironment's latencies, and
// the staging area's largest size.
type watch struct {
	baseRSS, peakRSS int64
	peakStaged       int64
	tally            *clientTally
}

// ingest creates an APPEND changeset of uri with format, polls it to its
// end while a well-behaved client calls GetEnvironment, and returns it.
func (f *ingestFixture) ingest(uri string, format map[string]string) (*finspacedata.GetChangesetResponse, *watch) {
	f.t.Helper()
	ctx := context.Background()
	pid := os.Getpid()
	runtime.GC()
	w := &watch{baseRSS: memoryWithChildren(pid), tally: newClientTally()}
	ct := finspacedata.ChangeTypeAppend
	cs, err := f.su.CreateChangeset(ctx, &finspacedata.CreateChangesetRequest{DatasetId: &f.dataset, ChangeType: &ct,
		SourceParams: map[string]string{"s3SourcePath": uri}, FormatParams: format})
	if err != nil {
		f.t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		hc := &http.Client{Timeout: 30 * time.Second}
		for {
			select {
			case <-stop:
				return
			default:
			}
			w.tally.roundTrip(hc, "GetEnvironment", 200, func() *http.Request {
				r, _ := http.NewRequest(http.MethodGet, f.srv.URL()+"/environment/"+f.env, nil)
				return signRequest(f.t, f.srv, r, "finspace", emptyPayloadSHA256)
			})
			time.Sleep(20 * time.Millisecond)
		}
	}()
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
				w.peakRSS = max(w.peakRSS, memoryWithChildren(pid))
				w.peakStaged = max(w.peakStaged, treeSize(filepath.Join(f.dataDir, "staging")))
			}
		}
	}()
	defer func() { close(stop); wg.Wait() }()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		got, err := f.su.GetChangeset(ctx, &finspacedata.GetChangesetRequest{DatasetId: &f.dataset, ChangesetId: cs.ChangesetId})
		if err != nil {
			f.t.Fatal(err)
		}
		if st := got.Status; st != nil && (*st == finspacedata.IngestionStatusSuccess || *st == finspacedata.IngestionStatusFailed) {
			return got, w
		}
		if time.Now().After(deadline) {
			f.t.Fatalf("changeset still %s after 3 minutes", aws.ToString((*string)(got.Status)))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func treeSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}

// check asserts the changeset failed with category, its message holding
// every mention, the server's RSS grew by at most bound, and
// GetEnvironment answered throughout (slowest under 2 s).
func (f *ingestFixture) check(name string, got *finspacedata.GetChangesetResponse, w *watch, category string, bound int64, mentions ...string) {
	f.t.Helper()
	var cat, msg string
	if got.ErrorInfo != nil {
		cat, msg = string(aws.ToString((*string)(got.ErrorInfo.ErrorCategory))), aws.ToString(got.ErrorInfo.ErrorMessage)
	}
	growth := w.peakRSS - w.baseRSS
	f.t.Logf("%s: %v %s %q; RSS %d MiB → peak %d MiB (+%d); staging peak %d MiB; %s", name, aws.ToString((*string)(got.Status)), cat, msg,
		w.baseRSS>>20, w.peakRSS>>20, growth>>20, w.peakStaged>>20, w.tally)
	if aws.ToString((*string)(got.Status)) != "FAILED" || cat != category {
		f.t.Errorf("%s: %v %s, want FAILED %s", name, aws.ToString((*string)(got.Status)), cat, category)
	}
	for _, m := range mentions {
		if !strings.Contains(msg, m) {
			f.t.Errorf("%s: message %q does not say %q", name, msg, m)
		}
	}
	if raceEnabled {
		bound *= 3
	}
	if growth > bound {
		f.t.Errorf("%s: RSS grew by %d MiB (bound %d MiB)", name, growth>>20, bound>>20)
	}
	slowest := 2 * time.Second
	if raceEnabled {
		slowest *= 3
	}
	var worst time.Duration
	for _, d := range w.tally.ok["GetEnvironment"] {
		worst = max(worst, d)
	}
	if w.tally.failed() > 0 || len(w.tally.ok["GetEnvironment"]) == 0 || worst > slowest {
		f.t.Errorf("%s: GetEnvironment while it ran: %s (slowest allowed %v)", name, w.tally, slowest)
	}
}

// A 258 KB gzip JSON array holding 210 M line breaks and one bad value:
// VALIDATION naming the record's line (the diagnosis kept one int64 per
// line break and took the server from 175 MiB to 6.4 GiB).
func TestHostileIngestJSONLineBreaks(t *testing.T) {
	f := newIngestFixture(t)
	const breaks = 210_000_000
	uri := f.upload("breaks.json.gz", gzipFile(t, part{`[{"a":"x","b":1},`, 1}, part{"\n", breaks}, part{`{"a":"x","b":2},{"a":"y","b":"bad"}]`, 1}))
	got, w := f.ingest(uri, map[string]string{"formatType": "JSON", "compression": "gzip"})
	f.check("210 M line breaks", got, w, "VALIDATION", 600<<20, "breaks.json.gz, line 210000001", `"bad"`)
}

// CSV lines beyond the reader's limit: a 2 GB line (DuckDB dropped it:
// SUCCESS with 0 rows) and a 20 MB one (INTERNAL_SERVICE_EXCEPTION after
// three attempts) fail USER_RECOVERABLE naming the file and line.
func TestHostileIngestLongLines(t *testing.T) {
	f := newIngestFixture(t)
	csvGz := map[string]string{"formatType": "CSV", "compression": "gzip"}
	// Under -race generating 2 GB takes minutes: 256 MB is as far beyond
	// DuckDB's buffer (32 MB).
	long, name := int64(2<<30), "line-2GB.csv.gz"
	if raceEnabled {
		long, name = 256<<20, "line-256MB.csv.gz"
	}
	uri := f.upload(name, gzipFile(t, part{"a,b\n", 1}, part{"x", long}, part{",1\n", 1}))
	got, w := f.ingest(uri, csvGz)
	f.check("one "+strings.TrimSuffix(strings.TrimPrefix(name, "line-"), ".csv.gz")+" line", got, w, "USER_RECOVERABLE", 400<<20, name+", line 2", "longer than")

	uri = f.upload("line-20MB.csv.gz", gzipFile(t, part{"a,b\n", 1}, part{"ok,1\n", 5}, part{"y", 20 << 20}, part{",1\n", 1}))
	got, w = f.ingest(uri, csvGz)
	f.check("a 20 MB line", got, w, "USER_RECOVERABLE", 400<<20, "line-20MB.csv.gz, line 7", "longer than")
}

// A bz2 file of a few hundred kilobytes expanding to 2 GiB stops at the
// staging budget (here 64 MiB, shared by every conversion; the time goes
// with it) with SERVICE_QUOTA_EXCEEDED, having staged no more than it.
func TestHostileIngestBz2Bomb(t *testing.T) {
	const budget = 64 << 20
	f := newIngestFixture(t, func(c *server.Config) { c.Ingest.StagingBytes = budget })
	path := bz2File(t, 32, part{"0000000000,1\n", 64 << 20 / 13})
	st, _ := os.Stat(path)
	uri := f.upload("bomb.csv.bz2", path)
	got, w := f.ingest(uri, map[string]string{"formatType": "CSV", "compression": "bz2"})
	t.Logf("bz2 of %d bytes expanding to 2 GiB", st.Size())
	f.check("bz2 bomb", got, w, "SERVICE_QUOTA_EXCEEDED", 400<<20, "budget")
	if w.peakStaged > budget+8<<20 {
		t.Errorf("%d MiB staged, over the %d MiB budget", w.peakStaged>>20, budget>>20)
	}
}

// ListDatasets for a user in no permission group lists what it may view:
// nothing (README "Datasets and changesets"), through its IAM role and
// through programmatic credentials it got while in a group.
func TestListDatasetsWithoutGroups(t *testing.T) {
	f := newIngestFixture(t)
	ctx := context.Background()
	const role = "arn:aws:iam::000000000000:role/loner"
	at, en := finspacedata.UserTypeAppUser, finspacedata.ApiAccessEnabled
	u, err := f.su.CreateUser(ctx, &finspacedata.CreateUserRequest{EmailAddress: aws.String("loner@example.com"), Type: &at,
		ApiAccess: &en, ApiAccessPrincipalArn: aws.String(role)})
	if err != nil {
		t.Fatal(err)
	}
	g, err := f.su.CreatePermissionGroup(ctx, &finspacedata.CreatePermissionGroupRequest{Name: aws.String("creds"),
		ApplicationPermissions: []finspacedata.ApplicationPermission{finspacedata.ApplicationPermissionGetTemporaryCredentials}})
	if err != nil {
		t.Fatal(err)
	}
	root := f.srv.Root()
	stsOut, err := assumeRoleForTest(ctx, f.srv, root.AccessKeyID, root.SecretAccessKey, role)
	if err != nil {
		t.Fatal(err)
	}
	viaRole := fd.New(f.srv.URL(), servertest.Region, fd.StaticCredentials(stsOut[0], stsOut[1], stsOut[2]))
	list := func(who string, c *fd.Client) {
		t.Helper()
		out, err := c.ListDatasets(ctx, &finspacedata.ListDatasetsRequest{})
		if err != nil || out == nil || len(out.Datasets) != 0 {
			t.Errorf("ListDatasets %s: %+v %v, want an empty list", who, out, err)
		}
	}
	list("through the role, in no group", viaRole)

	if _, err := f.su.AssociateUserToPermissionGroup(ctx, &finspacedata.AssociateUserToPermissionGroupRequest{PermissionGroupId: g.PermissionGroupId, UserId: u.UserId}); err != nil {
		t.Fatal(err)
	}
	pc, err := viaRole.GetProgrammaticAccessCredentials(ctx, &finspacedata.GetProgrammaticAccessCredentialsRequest{EnvironmentId: &f.env})
	if err != nil {
		t.Fatal(err)
	}
	c := pc.Credentials
	programmatic := fd.New(f.srv.URL(), servertest.Region, fd.StaticCredentials(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken))
	list("with programmatic credentials, in a group without dataset permissions", programmatic)
	if _, err := f.su.DisassociateUserFromPermissionGroup(ctx, &finspacedata.DisassociateUserFromPermissionGroupRequest{PermissionGroupId: g.PermissionGroupId, UserId: u.UserId}); err != nil {
		t.Fatal(err)
	}
	list("with programmatic credentials, in no group", programmatic)
	list("through the role, in no group again", viaRole)
	// The dataset it cannot view stays refused one by one.
	if _, err := viaRole.GetDataset(ctx, &finspacedata.GetDatasetRequest{DatasetId: &f.dataset}); err == nil {
		t.Errorf("GetDataset of a dataset it may not view: no error")
	} else {
		var ae *fd.APIError
		if !errors.As(err, &ae) || ae.Code != "AccessDeniedException" {
			t.Errorf("GetDataset of a dataset it may not view: %v, want AccessDeniedException", err)
		}
	}
}

// assumeRoleForTest assumes roleARN with the given credentials through
// the server's STS endpoint: access key id, secret and session token.
func assumeRoleForTest(ctx context.Context, srv *server.Server, akid, secret, roleARN string) ([3]string, error) {
	c := sts.New(sts.Options{Region: servertest.Region, BaseEndpoint: aws.String(srv.URL()), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(akid, secret, "")})
	out, err := c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("hostile")})
	if err != nil {
		return [3]string{}, err
	}
	cr := out.Credentials
	return [3]string{aws.ToString(cr.AccessKeyId), aws.ToString(cr.SecretAccessKey), aws.ToString(cr.SessionToken)}, nil
}
