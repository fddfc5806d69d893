// Package multiprocess_test runs two real `openfinspace serve` processes
// on one PostgreSQL schema and one MinIO, with the same server key and
// root credentials from their environment, as a deployment behind a load
// balancer would, and drives them with aws-sdk-go-v2 and boto3: what one
// creates the other reads at once; page tokens, idempotency tokens and
// temporary credentials issued by one are accepted by the other; objects
// written through one are read through the other; and when one is
// SIGKILLed in the middle of an environment's create job, the other
// finishes the job once the lease lapses, without running a step twice.
//
// PostgreSQL comes from OPENFINSPACE_TEST_POSTGRES (package pgtest; the
// test gets a fresh schema), MinIO from package blobtest, python3 with
// boto3 as tests/clients finds them. A missing one skips the test, or
// fails it when CI is set.
package multiprocess_test

import (
	"context"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/finspace/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/jackc/pgx/v5"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/blob/blobtest"
	"github.com/openfinspace/openfinspace/internal/environment"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/postgres"
	"github.com/openfinspace/openfinspace/internal/store/postgres/pgtest"
	fd "github.com/openfinspace/openfinspace/internal/testclient/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

const (
	region = "us-east-1"
	// step is the pause between lifecycle steps: long enough to act
	// between an environment's two steps.
	step = 1500 * time.Millisecond
	// lease is how long a job's claim lasts: how long the survivor waits
	// before taking over the job of the killed process.
	lease = 3 * time.Second
)

func TestMain(m *testing.M) {
	code := m.Run()
	blobtest.StopMinIO()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// cluster is two server processes sharing one store and one S3.
type cluster struct {
	dbURL      string
	a, b       *serverProcess
	akid, sec  string
	serverEnv  []string
	rootCreds  aws.CredentialsProvider
	minioCreds aws.CredentialsProvider
	minioURL   string
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	dbURL := pgtest.URL(t)
	m := blobtest.RequireMinIO(t)
	bin := buildBinary(t)
	c := &cluster{dbURL: dbURL, akid: "AKIA" + strings.ToUpper(randomHex(8)), sec: randomHex(20), minioURL: m.URL}
	c.serverEnv = []string{
		"OPENFINSPACE_DATABASE_URL=" + dbURL,
		"OPENFINSPACE_SERVER_KEY=" + randomKey(),
		"OPENFINSPACE_ACCESS_KEY_ID=" + c.akid,
		"OPENFINSPACE_SECRET_ACCESS_KEY=" + c.sec,
		"OPENFINSPACE_S3_ENDPOINT=" + m.URL,
		"OPENFINSPACE_S3_ACCESS_KEY_ID=" + m.User,
		"OPENFINSPACE_S3_SECRET_ACCESS_KEY=" + m.Password,
		"OPENFINSPACE_LIFECYCLE_STEP=" + step.String(),
		"OPENFINSPACE_JOB_LEASE=" + lease.String(),
	}
	c.a = startServer(t, "A", bin, c.serverEnv)
	c.b = startServer(t, "B", bin, c.serverEnv)
	c.rootCreds = credentials.NewStaticCredentialsProvider(c.akid, c.sec, "")
	c.minioCreds = credentials.NewStaticCredentialsProvider(m.User, m.Password, "")
	return c
}

func finspaceFor(p *serverProcess, creds aws.CredentialsProvider) *finspace.Client {
	return finspace.New(finspace.Options{Region: region, BaseEndpoint: aws.String(p.url), Credentials: creds, RetryMaxAttempts: 1})
}

func s3For(url string, creds aws.CredentialsProvider) *s3.Client {
	return s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(url), UsePathStyle: true, Credentials: creds, RetryMaxAttempts: 1})
}

func stsFor(p *serverProcess, creds aws.CredentialsProvider) *sts.Client {
	return sts.New(sts.Options{Region: region, BaseEndpoint: aws.String(p.url), Credentials: creds, RetryMaxAttempts: 1})
}

func waitStatus(t *testing.T, c *finspace.Client, id string, want types.EnvironmentStatus, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		out, err := c.GetEnvironment(context.Background(), &finspace.GetEnvironmentInput{EnvironmentId: aws.String(id)})
		if err != nil {
			t.Fatalf("GetEnvironment(%s): %v", id, err)
		}
		if out.Environment.Status == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("environment %s is %s after %s, want %s", id, out.Environment.Status, limit, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func put(t *testing.T, c *s3.Client, bucket, key, body string) {
	t.Helper()
	if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(key),
		Body: strings.NewReader(body)}); err != nil {
		t.Fatalf("PutObject(%s/%s): %v", bucket, key, err)
	}
}

func get(t *testing.T, c *s3.Client, bucket, key string) string {
	t.Helper()
	out, err := c.GetObject(context.Background(), &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)})
	if err != nil {
		t.Fatalf("GetObject(%s/%s): %v", bucket, key, err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// superuser returns finspace-data credentials acting as env's superuser,
// issued by p.
func (c *cluster) superuser(t *testing.T, p *serverProcess, env string) aws.CredentialsProvider {
	t.Helper()
	out, err := fd.New(p.url, region, c.rootCreds).GetProgrammaticAccessCredentials(context.Background(),
		&finspacedata.GetProgrammaticAccessCredentialsRequest{EnvironmentId: aws.String(env), DurationInMinutes: aws.Int64(60)})
	if err != nil {
		t.Fatalf("GetProgrammaticAccessCredentials through %s: %v", p.name, err)
	}
	cr := out.Credentials
	return credentials.NewStaticCredentialsProvider(*cr.AccessKeyId, *cr.SecretAccessKey, *cr.SessionToken)
}

func TestTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes, PostgreSQL and MinIO")
	}
	start := time.Now()
	c := startCluster(t)
	t.Logf("cluster up in %s", time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	fsA, fsB := finspaceFor(c.a, c.rootCreds), finspaceFor(c.b, c.rootCreds)

	// What A creates, B reads at once.
	var ids []string
	for i := range 3 {
		out, err := fsA.CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{Name: aws.String("cross-" + strconv.Itoa(i)),
			Tags: map[string]string{"n": strconv.Itoa(i)}})
		if err != nil {
			t.Fatal(err)
		}
		got, err := fsB.GetEnvironment(ctx, &finspace.GetEnvironmentInput{EnvironmentId: out.EnvironmentId})
		if err != nil {
			t.Fatalf("B reading the environment A just created: %v", err)
		}
		if aws.ToString(got.Environment.Name) != "cross-"+strconv.Itoa(i) {
			t.Errorf("B reads name %q", aws.ToString(got.Environment.Name))
		}
		tags, err := fsB.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: out.EnvironmentArn})
		if err != nil || tags.Tags["n"] != strconv.Itoa(i) {
			t.Errorf("B reads tags %v, %v", tags, err)
		}
		ids = append(ids, aws.ToString(out.EnvironmentId))
	}

	// A page token from A is accepted by B (and B's by A).
	var listed []string
	var token *string
	for page, fs := 0, fsA; ; page++ {
		out, err := fs.ListEnvironments(ctx, &finspace.ListEnvironmentsInput{MaxResults: 1, NextToken: token})
		if err != nil {
			t.Fatalf("ListEnvironments page %d: %v", page, err)
		}
		for _, e := range out.Environments {
			listed = append(listed, aws.ToString(e.EnvironmentId))
		}
		if token = out.NextToken; token == nil {
			break
		}
		if fs == fsA { // the next page through the other process
			fs = fsB
		} else {
			fs = fsA
		}
	}
	if slices.Sort(listed); !slices.Equal(listed, sorted(ids)) {
		t.Errorf("paged across processes: %v, want %v", listed, ids)
	}

	// Idempotency across processes: a CreateUser retried with the same
	// clientToken through B after A answered returns the same user.
	// (finspace CreateEnvironment has no clientToken in the model; the
	// finspace-data operations do.)
	env := ids[0]
	waitStatus(t, fsB, env, types.EnvironmentStatusCreated, 10*step)
	superA := c.superuser(t, c.a, env)
	create := &finspacedata.CreateUserRequest{EmailAddress: aws.String("retry@example.com"), Type: ptr(finspacedata.UserType("APP_USER")),
		FirstName: aws.String("Re"), LastName: aws.String("Try"), ClientToken: aws.String("token-" + randomHex(6))}
	first, err := fd.New(c.a.url, region, superA).CreateUser(ctx, create)
	if err != nil {
		t.Fatal(err)
	}
	// The programmatic credentials A issued work on B, too.
	again, err := fd.New(c.b.url, region, superA).CreateUser(ctx, create)
	if err != nil {
		t.Fatalf("the retry through B: %v", err)
	}
	if aws.ToString(again.UserId) != aws.ToString(first.UserId) {
		t.Errorf("retry through B created user %s, A created %s", aws.ToString(again.UserId), aws.ToString(first.UserId))
	}
	users, err := fd.New(c.b.url, region, superA).ListUsers(ctx, &finspacedata.ListUsersRequest{MaxResults: aws.Int32(100)})
	if err != nil || len(users.Users) != 2 { // the superuser and the one created
		t.Errorf("users after the retry: %v, %v", users, err)
	}

	// S3: an object PUT through A is read through B, and it is in MinIO.
	bucket := "shared-" + randomHex(4)
	if _, err := s3For(c.a.url, c.rootCreds).CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	put(t, s3For(c.a.url, c.rootCreds), bucket, "k/a.txt", "written through A")
	if got := get(t, s3For(c.b.url, c.rootCreds), bucket, "k/a.txt"); got != "written through A" {
		t.Errorf("GET through B = %q", got)
	}
	if got := get(t, s3For(c.minioURL, c.minioCreds), bucket, "k/a.txt"); got != "written through A" {
		t.Errorf("GET from MinIO = %q", got)
	}

	// A's FinSpace user credentials reach the working bucket through B.
	loc, err := fd.New(c.b.url, region, superA).GetWorkingLocation(ctx, &finspacedata.GetWorkingLocationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	key := strings.TrimPrefix(aws.ToString(loc.S3Path), aws.ToString(loc.S3Bucket)+"/") + "prices.csv"
	put(t, s3For(c.b.url, superA), aws.ToString(loc.S3Bucket), key, "sym,px\nA,1\n")
	if got := get(t, s3For(c.a.url, superA), aws.ToString(loc.S3Bucket), key); got != "sym,px\nA,1\n" {
		t.Errorf("working location read through A = %q", got)
	}

	// A dataset created through A takes a changeset created through B;
	// whichever process claims the ingestion streams the source from MinIO
	// (no local file to read in place) and stores Parquet there.
	ds := datasetAcrossProcesses(t, c, superA, env, "s3://"+aws.ToString(loc.S3Bucket)+"/"+key)
	dataViewAcrossProcesses(t, c, superA, ds) // dataviews_test.go

	// An STS session from B works on A: finspace and S3.
	role, err := stsFor(c.b, c.rootCreds).AssumeRole(ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String("arn:aws:iam::000000000000:role/CrossProcess"), RoleSessionName: aws.String("multiprocess")})
	if err != nil {
		t.Fatal(err)
	}
	session := credentials.NewStaticCredentialsProvider(*role.Credentials.AccessKeyId, *role.Credentials.SecretAccessKey, *role.Credentials.SessionToken)
	if _, err := finspaceFor(c.a, session).ListEnvironments(ctx, &finspace.ListEnvironmentsInput{}); err != nil {
		t.Errorf("B's STS session on A: %v", err)
	}
	who, err := stsFor(c.a, session).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil || !strings.Contains(aws.ToString(who.Arn), "assumed-role/CrossProcess/multiprocess") {
		t.Errorf("GetCallerIdentity of B's session through A: %v, %v", who, err)
	}
	put(t, s3For(c.a.url, session), bucket, "k/session.txt", "session from B, through A")
	if got := get(t, s3For(c.b.url, c.rootCreds), bucket, "k/session.txt"); got != "session from B, through A" {
		t.Errorf("GET through B = %q", got)
	}

	// The same with boto3.
	t.Run("boto3", func(t *testing.T) {
		python := requirePythonBoto3(t)
		runPython(t, python, "crossprocess_boto3.py", []string{
			"ENDPOINT_A=" + c.a.url, "ENDPOINT_B=" + c.b.url, "AWS_REGION=" + region, "AWS_DEFAULT_REGION=" + region,
			"AWS_ACCESS_KEY_ID=" + c.akid, "AWS_SECRET_ACCESS_KEY=" + c.sec, "ENVIRONMENT_ID=" + env, "BUCKET=" + bucket,
		})
	})

	// Every job so far ran once per step.
	all, err := fsA.ListEnvironments(ctx, &finspace.ListEnvironmentsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range all.Environments {
		waitStatus(t, fsB, aws.ToString(e.EnvironmentId), types.EnvironmentStatusCreated, 10*step)
	}
	checkJobs(t, c, nil)

	t.Run("kill mid-job", func(t *testing.T) { killMidJob(t, c) })
	for _, p := range []*serverProcess{c.a, c.b} {
		// Nothing shared, nothing at all, was kept in a data dir: only the
		// process's own scratch directory for ingestion, empty, and its
		// serving.json.
		checkDataDirEmpty(t, p)
		for _, line := range strings.Split(p.log.String(), "\n") {
			if strings.Contains(line, "level=ERROR") {
				t.Errorf("%s logged an error: %s", p.name, line)
			}
		}
	}
	t.Logf("total %s", time.Since(start).Round(time.Millisecond))
}

// killMidJob SIGKILLs the process that is in the middle of an
// environment's create job, holding its lease, and checks that the other
// process finishes the job after the lease lapses, with every step (and
// the superuser it creates) taken exactly once.
//
// The environment job holds its lease only while a step commits, which is
// instants. To kill a process at that very point, the test holds a row
// lock on the environment's record in PostgreSQL from before its last step
// (CREATING → CREATED, which creates the superuser) is due: the process
// that claims the step blocks in its commit transaction, lease held. That
// process is killed there; its transaction never commits.
func killMidJob(t *testing.T, c *cluster) {
	ctx := context.Background()
	fsA := finspaceFor(c.a, c.rootCreds)
	out, err := fsA.CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{Name: aws.String("doomed-job")})
	if err != nil {
		t.Fatal(err)
	}
	env := aws.ToString(out.EnvironmentId)
	jobID := "environment/" + env + "/create"
	waitStatus(t, fsA, env, types.EnvironmentStatusCreating, 5*step)

	conn, err := pgx.Connect(ctx, c.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	lock, err := conn.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback(ctx)
	if _, err := lock.Exec(ctx, `SELECT version FROM records WHERE kind = $1 AND id = $2 FOR UPDATE`, environment.Kind, env); err != nil {
		t.Fatal(err)
	}
	db, err := postgres.Open(ctx, c.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if j := readJob(t, db, jobID); j.State != jobs.Queued {
		t.Fatalf("the last step was claimed before the test held the lock (job %+v): the test needs a longer step", j)
	}

	// Wait for a process to claim the step: it is now blocked in its
	// commit, holding the lease.
	var claimed *jobs.Job
	for deadline := time.Now().Add(5 * step); ; {
		if j := readJob(t, db, jobID); j.State == jobs.Running {
			claimed = j
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no process claimed the environment's last step")
		}
		time.Sleep(20 * time.Millisecond)
	}
	victim, survivor := c.a, c.b
	if ownerPID(claimed.LeaseOwner) == c.b.pid() {
		victim, survivor = c.b, c.a
	} else if ownerPID(claimed.LeaseOwner) != c.a.pid() {
		t.Fatalf("lease owner %q is neither process (pids %d, %d)", claimed.LeaseOwner, c.a.pid(), c.b.pid())
	}
	t.Logf("%s (pid %d) claimed the last step, attempt %d, lease until %s; SIGKILL it",
		victim.name, victim.pid(), claimed.Attempt, claimed.LeaseUntil.Format(time.RFC3339Nano))
	killed := time.Now()
	victim.kill()
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}

	// The survivor waits for the lease to lapse, then takes the step.
	fsS := finspaceFor(survivor, c.rootCreds)
	waitStatus(t, fsS, env, types.EnvironmentStatusCreated, lease+5*step)
	took := time.Since(killed)
	done := readJob(t, db, jobID)
	if done.State != jobs.Done || done.Attempt != 2 {
		t.Errorf("job after the takeover: state %s attempt %d, want done after 2 attempts (one killed)", done.State, done.Attempt)
	}
	if done.Finished.Before(claimed.LeaseUntil) {
		t.Errorf("the job finished at %s, before the killed process's lease lapsed at %s", done.Finished, claimed.LeaseUntil)
	}
	t.Logf("%s finished the job %s after the kill (lease %s)", survivor.name, took.Round(time.Millisecond), lease)

	// Exactly one superuser: the killed attempt's never committed.
	users, err := fd.New(survivor.url, region, c.superuser(t, survivor, env)).ListUsers(ctx, &finspacedata.ListUsersRequest{MaxResults: aws.Int32(100)})
	if err != nil {
		t.Fatal(err)
	}
	if len(users.Users) != 1 || string(*users.Users[0].Type) != "SUPER_USER" {
		t.Errorf("users of the environment: %d, want the one superuser", len(users.Users))
	}
	checkJobs(t, c, map[string]int{jobID: 2})
}

// checkJobs checks, in the store, that every environment job is done after
// one attempt per step (attempts[id] for the exceptions), and that every
// CREATED environment's record was written exactly three times (created,
// CREATING, CREATED): no step ran twice.
func checkJobs(t *testing.T, c *cluster, attempts map[string]int) {
	t.Helper()
	ctx := context.Background()
	db, err := postgres.Open(ctx, c.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.View(ctx, func(tx store.Tx) error {
		recs, err := tx.List(ctx, store.Query{Kind: jobs.RecordKind, Parent: environment.JobKind})
		if err != nil {
			return err
		}
		for _, rec := range recs {
			j, err := jobs.GetTx(ctx, tx, rec.ID)
			if err != nil {
				return err
			}
			want := 1
			if n, ok := attempts[j.ID]; ok {
				want = n
			}
			if j.State.Terminal() && (j.State != jobs.Done || j.Attempt != want) {
				t.Errorf("job %s: %s after %d attempts, want done after %d", j.ID, j.State, j.Attempt, want)
			}
			envID := strings.TrimSuffix(strings.TrimPrefix(j.ID, "environment/"), "/create")
			if j.State == jobs.Done && strings.HasSuffix(j.ID, "/create") {
				env, err := tx.Get(ctx, environment.Kind, envID)
				if err != nil {
					return err
				}
				if env.Version != 3 {
					t.Errorf("environment %s was written %d times, want 3 (created and two steps)", envID, env.Version)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func readJob(t *testing.T, db store.Store, id string) *jobs.Job {
	t.Helper()
	var j *jobs.Job
	if err := db.View(context.Background(), func(tx store.Tx) error {
		var err error
		j, err = jobs.GetTx(context.Background(), tx, id)
		return err
	}); err != nil {
		t.Fatalf("reading job %s: %v", id, err)
	}
	return j
}

// ownerPID is the process id in a lease owner ("host/pid/suffix").
func ownerPID(owner string) int {
	parts := strings.Split(owner, "/")
	if len(parts) != 3 {
		return -1
	}
	pid, err := strconv.Atoi(parts[1])
	if err != nil {
		return -1
	}
	return pid
}

func sorted(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return s
}

func ptr[T any](v T) *T { return &v }

// checkDataDirEmpty fails unless p's data dir holds nothing but empty
// directories under staging/ (the ingestion scratch area, swept at start).
func checkDataDirEmpty(t *testing.T, p *serverProcess) {
	t.Helper()
	ents, err := os.ReadDir(p.dataDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if e.Name() == "serving.json" && e.Type().IsRegular() {
			// This running process's own address and pid, for
			// `openfinspace credentials`; removed when it stops.
			continue
		}
		if e.Name() != "staging" || !e.IsDir() {
			t.Errorf("%s's data dir holds %s, want nothing but the staging scratch directory and serving.json", p.name, e.Name())
			continue
		}
		_ = filepath.WalkDir(filepath.Join(p.dataDir, "staging"), func(path string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				t.Errorf("%s left %s in its staging directory", p.name, path)
			}
			return nil
		})
	}
}

// datasetAcrossProcesses: CreateDataset through A, CreateChangeset of uri
// through B, GetChangeset through A until SUCCESS; the Parquet is in
// MinIO.
func datasetAcrossProcesses(t *testing.T, c *cluster, creds aws.CredentialsProvider, env, uri string) string {
	t.Helper()
	ctx := context.Background()
	a, b := fd.New(c.a.url, region, creds), fd.New(c.b.url, region, creds)
	g, err := a.CreatePermissionGroup(ctx, &finspacedata.CreatePermissionGroupRequest{Name: aws.String("datasets"),
		ApplicationPermissions: []finspacedata.ApplicationPermission{finspacedata.ApplicationPermissionCreateDataset}})
	if err != nil {
		t.Fatal(err)
	}
	str, num := finspacedata.ColumnDataTypeString, finspacedata.ColumnDataTypeInteger
	ds, err := a.CreateDataset(ctx, &finspacedata.CreateDatasetRequest{DatasetTitle: aws.String("prices"), Kind: ptr(finspacedata.DatasetKindTabular),
		PermissionGroupParams: &finspacedata.PermissionGroupParams{PermissionGroupId: g.PermissionGroupId},
		SchemaDefinition: &finspacedata.SchemaUnion{TabularSchemaConfig: &finspacedata.SchemaDefinition{Columns: []finspacedata.ColumnDefinition{
			{ColumnName: aws.String("sym"), DataType: &str}, {ColumnName: aws.String("px"), DataType: &num}}}}})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := b.CreateChangeset(ctx, &finspacedata.CreateChangesetRequest{DatasetId: ds.DatasetId, ChangeType: ptr(finspacedata.ChangeTypeAppend),
		SourceParams: map[string]string{"s3SourcePath": uri}, FormatParams: map[string]string{"formatType": "CSV"}})
	if err != nil {
		t.Fatalf("CreateChangeset through B of A's dataset: %v", err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := a.GetChangeset(ctx, &finspacedata.GetChangesetRequest{DatasetId: ds.DatasetId, ChangesetId: cs.ChangesetId})
		if err != nil {
			t.Fatal(err)
		}
		if *out.Status == finspacedata.IngestionStatusSuccess {
			break
		}
		if *out.Status == finspacedata.IngestionStatusFailed || time.Now().After(deadline) {
			t.Fatalf("changeset %s: %+v", *out.Status, out.ErrorInfo)
		}
		time.Sleep(20 * time.Millisecond)
	}
	managed := blob.WorkingLocationBucket("000000000000", region, env+"-managed")
	got := get(t, s3For(c.minioURL, c.minioCreds), managed, "datasets/"+*ds.DatasetId+"/changesets/"+*cs.ChangesetId+"/data.parquet")
	if !strings.HasPrefix(got, "PAR1") {
		t.Errorf("the stored data in MinIO is not Parquet (%d bytes)", len(got))
	}
	return *ds.DatasetId
}
