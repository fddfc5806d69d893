package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/finspace/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/kx/kxfs"
	"github.com/openfinspace/openfinspace/internal/server"
)

func kxStatus(t *testing.T, c *finspace.Client, id string) types.EnvironmentStatus {
	t.Helper()
	out, err := c.GetKxEnvironment(context.Background(), &finspace.GetKxEnvironmentInput{EnvironmentId: &id})
	if err != nil {
		t.Fatalf("GetKxEnvironment(%s): %v", id, err)
	}
	return out.Status
}

func waitKx(t *testing.T, c *finspace.Client, id string, want types.EnvironmentStatus) {
	t.Helper()
	waitStatus(t, "kx environment "+id, want, func() types.EnvironmentStatus { return kxStatus(t, c, id) })
}

// TestKxRestartAfterKill: kx environments being created, deleted and
// network-updated when the server is SIGKILLed finish their lifecycles
// after a restart on the same data dir, each with its records intact.
func TestKxRestartAfterKill(t *testing.T) {
	dataDir := t.TempDir()
	ctx := context.Background()
	first := startChild(t, dataDir)
	c := clientFor(t, first.url, dataDir)
	kms := aws.String("arn:aws:kms:us-east-1:000000000000:key/restart")

	create := func(name string) string {
		t.Helper()
		out, err := c.CreateKxEnvironment(ctx, &finspace.CreateKxEnvironmentInput{Name: aws.String(name), KmsKeyId: kms,
			Tags: map[string]string{"name": name}})
		if err != nil {
			t.Fatal(err)
		}
		return *out.EnvironmentId
	}
	doomed, network := create("doomed"), create("network")
	waitKx(t, c, doomed, types.EnvironmentStatusCreated)
	waitKx(t, c, network, types.EnvironmentStatusCreated)
	if _, err := c.CreateKxUser(ctx, &finspace.CreateKxUserInput{EnvironmentId: &network, UserName: aws.String("alice"),
		IamRole: aws.String("arn:aws:iam::000000000000:role/alice")}); err != nil {
		t.Fatal(err)
	}
	fresh := []string{create("env-a"), create("env-b"), create("env-c")}
	if _, err := c.DeleteKxEnvironment(ctx, &finspace.DeleteKxEnvironmentInput{EnvironmentId: &doomed}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateKxEnvironmentNetwork(ctx, &finspace.UpdateKxEnvironmentNetworkInput{EnvironmentId: &network,
		CustomDNSConfiguration: []types.CustomDNSServer{{CustomDNSServerName: aws.String("dns.example.com"), CustomDNSServerIP: aws.String("10.0.0.2")}}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range fresh {
		if s := kxStatus(t, c, id); s == types.EnvironmentStatusCreated {
			t.Fatalf("kx environment %s already CREATED before the kill; the test needs a slower lifecycle", id)
		}
	}
	if s := kxStatus(t, c, network); s == types.EnvironmentStatusCreated {
		t.Fatalf("the network update finished before the kill; the test needs a slower lifecycle")
	}
	if s := kxStatus(t, c, doomed); s == types.EnvironmentStatusDeleted {
		t.Fatalf("the deletion finished before the kill; the test needs a slower lifecycle")
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.exited

	second := startChild(t, dataDir)
	c = clientFor(t, second.url, dataDir)
	for _, id := range fresh {
		waitKx(t, c, id, types.EnvironmentStatusCreated)
	}
	waitKx(t, c, doomed, types.EnvironmentStatusDeleted)
	waitKx(t, c, network, types.EnvironmentStatusCreated)
	got, err := c.GetKxEnvironment(ctx, &finspace.GetKxEnvironmentInput{EnvironmentId: &network})
	if err != nil {
		t.Fatal(err)
	}
	if got.DnsStatus != types.DnsStatusSuccessfullyUpdated || len(got.CustomDNSConfiguration) != 1 {
		t.Errorf("network update after the restart: dnsStatus %s, %d DNS servers", got.DnsStatus, len(got.CustomDNSConfiguration))
	}
	if _, err := c.GetKxUser(ctx, &finspace.GetKxUserInput{EnvironmentId: &network, UserName: aws.String("alice")}); err != nil {
		t.Errorf("kx user after the restart: %v", err)
	}
	list, err := c.ListKxEnvironments(ctx, &finspace.ListKxEnvironmentsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Environments) != 5 {
		t.Errorf("listed %d kx environments after the restart, want 5", len(list.Environments))
	}
	second.stop(t)
}

// kxInProgress is a changeset's status while it is applied (the model's
// enum says PROCESSING; the real service answered IN_PROGRESS).
const kxInProgress types.ChangesetStatus = "IN_PROGRESS"

// kxTree is a kdb+-like database tree: path → contents.
type kxTree map[string][]byte

// kxBody is n deterministic bytes unique to seed.
func kxBody(seed string, n int) []byte {
	out := make([]byte, 0, n+sha256.Size)
	for i := 0; len(out) < n; i++ {
		sum := sha256.Sum256([]byte(seed + "\x00" + strconv.Itoa(i)))
		out = append(out, sum[:]...)
	}
	return out[:n]
}

// kxColumns are the columns of a database's splayed table.
var kxColumns = map[string][]string{"trades": {"sym", "time", "price", "size"}, "quotes": {"sym", "time", "bid", "ask"}}

// kxDates returns n kdb+ partition names (yyyy.mm.dd) from first on.
func kxDates(first time.Time, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = first.AddDate(0, 0, i).Format("2006.01.02")
	}
	return out
}

// kxPartitions is db's date partitions of its splayed table: the .d file
// (the same in every partition, as kdb+ writes it) and one file per
// column, of size(date, column) bytes, unique to db, tag, date and column.
func kxPartitions(db, tag string, dates []string, size func(date, col string) int) kxTree {
	tree := kxTree{}
	cols := kxColumns[db]
	for _, d := range dates {
		tree[d+"/t/.d"] = []byte("`" + strings.Join(cols, "`"))
		for _, col := range cols {
			tree[d+"/t/"+col] = kxBody(db+"/"+tag+"/"+d+"/"+col, size(d, col))
		}
	}
	return tree
}

func (t kxTree) clone() kxTree {
	out := kxTree{}
	for p, b := range t {
		out[p] = b
	}
	return out
}

// with returns t with other's files placed under dir ("" for the root).
func (t kxTree) with(dir string, other kxTree) kxTree {
	out := t.clone()
	for p, b := range other {
		if dir != "" {
			p = dir + "/" + p
		}
		out[p] = b
	}
	return out
}

// without returns t without directory dir.
func (t kxTree) without(dir string) kxTree {
	out := kxTree{}
	for p, b := range t {
		if !strings.HasPrefix(p, dir+"/") {
			out[p] = b
		}
	}
	return out
}

func (t kxTree) totals() (int32, int64) {
	var n int64
	for _, b := range t {
		n += int64(len(b))
	}
	return int32(len(t)), n
}

func (t kxTree) hashes() map[string]string {
	out := map[string]string{}
	for p, b := range t {
		sum := sha256.Sum256(b)
		out[p] = hex.EncodeToString(sum[:])
	}
	return out
}

// uploadTree puts tree under prefix of bucket, 8 objects at a time.
func uploadTree(t *testing.T, c *s3.Client, bucket, prefix string, tree kxTree) {
	t.Helper()
	keys := make(chan string)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range keys {
				if _, err := c.PutObject(context.Background(), &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(prefix + p),
					Body: bytes.NewReader(tree[p])}); err != nil {
					errs <- fmt.Errorf("PutObject(%s/%s%s): %w", bucket, prefix, p, err)
					for range keys {
					}
					return
				}
			}
		}()
	}
	for p := range tree {
		keys <- p
	}
	close(keys)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
}

// kxCounters are what GetKxDatabase says of a database's current version.
type kxCounters struct {
	files      int32
	bytes      int64
	changesets int32
	last       string
}

func kxDatabaseCounters(t *testing.T, c *finspace.Client, env, db string) kxCounters {
	t.Helper()
	d, err := c.GetKxDatabase(context.Background(), &finspace.GetKxDatabaseInput{EnvironmentId: &env, DatabaseName: &db})
	if err != nil {
		t.Fatalf("GetKxDatabase(%s): %v", db, err)
	}
	return kxCounters{d.NumFiles, d.NumBytes, d.NumChangesets, aws.ToString(d.LastCompletedChangesetId)}
}

func versionCounters(tree kxTree, changesets int32, last string) kxCounters {
	n, b := tree.totals()
	return kxCounters{n, b, changesets, last}
}

func createKxChangeset(t *testing.T, c *finspace.Client, env, db string, reqs ...types.ChangeRequest) string {
	t.Helper()
	out, err := c.CreateKxChangeset(context.Background(), &finspace.CreateKxChangesetInput{EnvironmentId: &env, DatabaseName: &db,
		ChangeRequests: reqs, ClientToken: aws.String(fmt.Sprintf("%s-%d", db, time.Now().UnixNano()))})
	if err != nil {
		t.Fatalf("CreateKxChangeset(%s): %v", db, err)
	}
	return aws.ToString(out.ChangesetId)
}

func getKxChangeset(t *testing.T, c *finspace.Client, env, db, id string) *finspace.GetKxChangesetOutput {
	t.Helper()
	out, err := c.GetKxChangeset(context.Background(), &finspace.GetKxChangesetInput{EnvironmentId: &env, DatabaseName: &db, ChangesetId: &id})
	if err != nil {
		t.Fatalf("GetKxChangeset(%s, %s): %v", db, id, err)
	}
	return out
}

// waitKxChangeset reads changeset id until it is COMPLETED or FAILED.
// Until then the database must stay at before: no version is visible
// before its changeset completes.
func waitKxChangeset(t *testing.T, c *finspace.Client, env, db, id string, before kxCounters) *finspace.GetKxChangesetOutput {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		// The counters first: when the changeset is still not final after
		// them, they were read before it ended.
		got := kxDatabaseCounters(t, c, env, db)
		out := getKxChangeset(t, c, env, db, id)
		if out.Status == types.ChangesetStatusCompleted || out.Status == types.ChangesetStatusFailed {
			return out
		}
		if got != before {
			t.Fatalf("database %s while changeset %s is %s: %+v, want the previous version's %+v", db, id, out.Status, got, before)
		}
		if time.Now().After(deadline) {
			t.Fatalf("changeset %s of %s still %s after 90 s", id, db, out.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func kxPut(s3Path, dbPath string) types.ChangeRequest {
	return types.ChangeRequest{ChangeType: types.ChangeTypePut, S3Path: aws.String(s3Path), DbPath: aws.String(dbPath)}
}

func kxDelete(dbPath string) types.ChangeRequest {
	return types.ChangeRequest{ChangeType: types.ChangeTypeDelete, DbPath: aws.String(dbPath)}
}

// contentHashes lists the hashes the kx content store holds.
func contentHashes(t *testing.T, c *s3.Client, bucket string) map[string]bool {
	t.Helper()
	out := map[string]bool{}
	p := s3.NewListObjectsV2Paginator(c, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String("sha256/")})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatalf("listing the kx content store: %v", err)
		}
		for _, o := range page.Contents {
			out[path.Base(aws.ToString(o.Key))] = true
		}
	}
	return out
}

// hashDir hashes every file under root: relative path → sha256.
func hashDir(t *testing.T, root string) map[string]string {
	t.Helper()
	out, err := kxfs.HashTree(root)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestKxChangesetKilled: the server is SIGKILLed while two changesets copy
// their sources into the content store; after a restart on the same data
// dir each ends — one COMPLETED (its retry picks up from the last
// completed version), one FAILED (its last request names a missing
// object, reached only after the copy) — and each database's counters are
// exactly those of its last completed version, which materializes byte for
// byte; a further changeset on each then completes normally.
func TestKxChangesetKilled(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	const region = "us-east-1"
	dataDir := t.TempDir()
	ctx := context.Background()
	// A short lease: the restarted server (SQLite: exclusive) takes the
	// killed attempt's lease over at once anyway; renewals run meanwhile.
	lease := "OPENFINSPACE_JOB_LEASE=3s"
	first := startChild(t, dataDir, lease)
	c := clientFor(t, first.url, dataDir)
	rc, err := server.LoadOrCreateRootCredentials(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	s3For := func(url string) *s3.Client {
		return s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(url), UsePathStyle: true, RetryMaxAttempts: 1,
			Credentials: credentials.NewStaticCredentialsProvider(rc.AccessKeyID, rc.SecretAccessKey, "")})
	}
	objects := s3For(first.url)
	contentBucket := blob.WorkingLocationBucket("000000000000", region, "kxcontent")

	out, err := c.CreateKxEnvironment(ctx, &finspace.CreateKxEnvironmentInput{Name: aws.String("kx-crash"),
		KmsKeyId: aws.String("arn:aws:kms:us-east-1:000000000000:key/crash")})
	if err != nil {
		t.Fatal(err)
	}
	env := aws.ToString(out.EnvironmentId)
	waitKx(t, c, env, types.EnvironmentStatusCreated)
	const bucket = "kx-crash-data"
	if _, err := objects.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	dbs := []string{"trades", "quotes"}
	small := func(d, col string) int { return 256 + int(sha256.Sum256([]byte(d + col))[0])*8 }
	v1 := map[string]kxTree{}
	cs1 := map[string]string{}
	for _, db := range dbs {
		if _, err := c.CreateKxDatabase(ctx, &finspace.CreateKxDatabaseInput{EnvironmentId: &env, DatabaseName: aws.String(db),
			ClientToken: aws.String("db-" + db)}); err != nil {
			t.Fatal(err)
		}
		v1[db] = kxPartitions(db, "v1", kxDates(time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), 3), small)
		v1[db]["sym"] = []byte("`AAPL`MSFT`IBM")
		uploadTree(t, objects, bucket, db+"/v1/", v1[db])
		cs1[db] = createKxChangeset(t, c, env, db, kxPut("s3://"+bucket+"/"+db+"/v1/", "/"))
	}
	for _, db := range dbs {
		if out := waitKxChangeset(t, c, env, db, cs1[db], kxCounters{changesets: 1}); out.Status != types.ChangesetStatusCompleted {
			t.Fatalf("first changeset of %s: %s %+v", db, out.Status, out.ErrorInfo)
		}
		if got, want := kxDatabaseCounters(t, c, env, db), versionCounters(v1[db], 1, cs1[db]); got != want {
			t.Fatalf("database %s after version 1: %+v, want %+v", db, got, want)
		}
	}

	// The second changesets: a few hundred new partitions each (and, in
	// trades, a column above the 16 MiB read-once bound), the first
	// partition deleted, and a new root sym — which for quotes names a
	// missing object, so its changeset can only fail, after the copy.
	const partitions = 300
	src2 := map[string]kxTree{}
	newHashes := map[string]map[string]bool{}
	for _, db := range dbs {
		src2[db] = kxPartitions(db, "v2", kxDates(time.Date(2023, 1, 2, 0, 0, 0, 0, time.UTC), partitions), small)
		if db == "trades" {
			src2[db]["2023.01.02/t/price"] = kxBody("trades/v2/big", 17<<20)
		}
		uploadTree(t, objects, bucket, db+"/v2/", src2[db])
		old := map[string]bool{}
		for _, h := range v1[db].hashes() {
			old[h] = true
		}
		newHashes[db] = map[string]bool{}
		for _, h := range src2[db].hashes() {
			if !old[h] {
				newHashes[db][h] = true
			}
		}
	}
	sym2 := []byte("`AAPL`MSFT`IBM`GOOG")
	uploadTree(t, objects, bucket, "trades/sym2/", kxTree{"sym": sym2})
	cs2 := map[string]string{}
	for _, db := range dbs {
		cs2[db] = createKxChangeset(t, c, env, db, kxPut("s3://"+bucket+"/"+db+"/v2/", "/"), kxDelete("/2024.01.01"),
			kxPut("s3://"+bucket+"/"+db+"/sym2/sym", "/"))
	}
	v2 := v1["trades"].without("2024.01.01").with("", src2["trades"])
	v2["sym"] = sym2

	// Kill once both are IN_PROGRESS with part, not all, of their new
	// contents stored.
	deadline := time.Now().Add(60 * time.Second)
	for {
		stored := contentHashes(t, objects, contentBucket)
		ready, progress := true, ""
		for _, db := range dbs {
			st := getKxChangeset(t, c, env, db, cs2[db]).Status
			n := 0
			for h := range newHashes[db] {
				if stored[h] {
					n++
				}
			}
			if st == types.ChangesetStatusCompleted || st == types.ChangesetStatusFailed || n == len(newHashes[db]) {
				t.Fatalf("changeset %s of %s is %s with %d/%d new contents stored before the kill; the test needs a slower changeset",
					cs2[db], db, st, n, len(newHashes[db]))
			}
			if st != kxInProgress || n == 0 {
				ready = false
			}
			progress += fmt.Sprintf(" %s %d/%d;", db, n, len(newHashes[db]))
		}
		if ready {
			t.Logf("killing the server with the second changesets IN_PROGRESS, new contents stored:%s", progress)
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the second changesets did not start copying within 60 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	killAt := time.Now()
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.exited

	restartAt := time.Now()
	second := startChild(t, dataDir, lease)
	c = clientFor(t, second.url, dataDir)
	objects = s3For(second.url)
	final := map[string]*finspace.GetKxChangesetOutput{}
	for _, db := range dbs {
		final[db] = waitKxChangeset(t, c, env, db, cs2[db], versionCounters(v1[db], 2, cs1[db]))
	}
	t.Logf("second changesets ended %v after the restart", time.Since(restartAt).Round(time.Millisecond))
	// trades: COMPLETED by the restarted server, version 2 exactly.
	if tr := final["trades"]; tr.Status != types.ChangesetStatusCompleted {
		t.Errorf("changeset of trades after the restart: %s %+v, want COMPLETED", tr.Status, tr.ErrorInfo)
	} else if tr.ActiveFromTimestamp == nil || tr.ActiveFromTimestamp.Before(killAt.Truncate(time.Millisecond)) || tr.ErrorInfo != nil {
		t.Errorf("changeset of trades: activeFrom %v (killed at %v), errorInfo %+v", tr.ActiveFromTimestamp, killAt, tr.ErrorInfo)
	}
	if got, want := kxDatabaseCounters(t, c, env, "trades"), versionCounters(v2, 2, cs2["trades"]); got != want {
		t.Errorf("trades after its second changeset: %+v, want version 2's %+v", got, want)
	}
	// quotes: FAILED on the missing object, not on the crash; version 1
	// exactly (its DELETE never applied).
	if q := final["quotes"]; q.Status != types.ChangesetStatusFailed || q.ErrorInfo == nil ||
		q.ErrorInfo.ErrorType != types.ErrorDetailsResourceNotFound || !strings.Contains(aws.ToString(q.ErrorInfo.ErrorMessage), "quotes/sym2/sym") ||
		q.ActiveFromTimestamp != nil {
		t.Errorf("changeset of quotes after the restart: %s %+v, want FAILED on the missing s3://%s/quotes/sym2/sym", q.Status, q.ErrorInfo, bucket)
	}
	if got, want := kxDatabaseCounters(t, c, env, "quotes"), versionCounters(v1["quotes"], 2, cs1["quotes"]); got != want {
		t.Errorf("quotes after its failed changeset: %+v, want version 1's %+v", got, want)
	}

	// Not wedged: a third changeset on each completes.
	last := map[string]kxTree{"trades": v2, "quotes": v1["quotes"]}
	lastID := map[string]string{"trades": cs2["trades"], "quotes": cs1["quotes"]}
	v3, cs3 := map[string]kxTree{}, map[string]string{}
	for _, db := range dbs {
		part := kxPartitions(db, "v3", []string{"2024.03.01"}, small)
		uploadTree(t, objects, bucket, db+"/v3/", part)
		cs3[db] = createKxChangeset(t, c, env, db, kxPut("s3://"+bucket+"/"+db+"/v3/2024.03.01/", "/2024.03.01/"), kxDelete("/2024.01.02/"))
		v3[db] = last[db].without("2024.01.02").with("", part)
	}
	for _, db := range dbs {
		out := waitKxChangeset(t, c, env, db, cs3[db], versionCounters(last[db], 3, lastID[db]))
		if out.Status != types.ChangesetStatusCompleted {
			t.Errorf("third changeset of %s: %s %+v", db, out.Status, out.ErrorInfo)
		}
		if got, want := kxDatabaseCounters(t, c, env, db), versionCounters(v3[db], 3, cs3[db]); got != want {
			t.Errorf("%s after its third changeset: %+v, want %+v", db, got, want)
		}
	}

	second.stop(t)

	// Every completed version materializes from the content store byte for
	// byte, read on the data dir by a server of this process.
	srv, err := server.New(ctx, server.Config{DataDir: dataDir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Shutdown(ctx)
	root := t.TempDir()
	cache := &kxfs.Cache{Root: filepath.Join(root, "cache"), Fetch: srv.Kx().Fetch(region)}
	for _, v := range []struct {
		name, db, id string
		tree         kxTree
	}{
		{"trades-v1", "trades", cs1["trades"], v1["trades"]},
		{"trades-v2", "trades", cs2["trades"], v2},
		{"trades-v3", "trades", cs3["trades"], v3["trades"]},
		{"quotes-v1", "quotes", cs1["quotes"], v1["quotes"]},
		{"quotes-v3", "quotes", cs3["quotes"], v3["quotes"]},
	} {
		m, err := srv.Kx().Manifest(ctx, region, env, v.db, v.id)
		if err != nil {
			t.Errorf("Manifest(%s): %v", v.name, err)
			continue
		}
		dest := filepath.Join(root, v.name)
		if err := cache.Materialize(ctx, m, dest); err != nil {
			t.Errorf("Materialize(%s): %v", v.name, err)
			continue
		}
		want := v.tree.hashes()
		if diffs := kxfs.DiffTrees(hashDir(t, dest), want); len(diffs) > 0 {
			t.Errorf("%s materialized: %d of %d files differ from what was uploaded: %.10v", v.name, len(diffs), len(want), diffs)
		}
		if err := kxfs.Remove(dest); err != nil {
			t.Error(err)
		}
	}
	if _, err := srv.Kx().Manifest(ctx, region, env, "quotes", cs2["quotes"]); err == nil {
		t.Error("the failed changeset of quotes has a version")
	}
}
