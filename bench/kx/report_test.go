package kx

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openfinspace/openfinspace/internal/kx/kxfs"
	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

// newPartition is the partition the second changeset adds (after the 200
// days from 2024.01.01, which end on 2024.07.18).
const newPartition = "2024.07.20"

type config struct {
	partitions int
	partBytes  int64
	rounds     int
	warmRuns   int
	// verify compares every materialized byte with the source tree.
	verify bool
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// TestHarnessSmoke runs the whole report on a database of 3 small
// partitions against an in-process server (no build, about a second),
// and checks what the report relies on: both changesets complete, the
// materialized versions hold exactly the source's bytes, a warm
// materialization fetches nothing and adds no file blocks, and the
// accounting sees what the changesets wrote.
func TestHarnessSmoke(t *testing.T) {
	dir := t.TempDir()
	dataDir := filepath.Join(dir, "data")
	srv := servertest.Start(t, func(c *server.Config) { c.DataDir = dataDir })
	root := srv.Root()
	tg := newTarget(srv.URL(), dataDir, os.Getpid(), root.AccessKeyID, root.SecretAccessKey)
	r := run(t, tg, dir, config{partitions: 3, partBytes: 256 << 10, rounds: 2, warmRuns: 2, verify: true})
	// With xattr metadata the contents are hard links of the sources (a
	// manifest and directories grow the data dir); without, copies.
	if d := r.first[0].disk(); d <= 0 || d > r.tree.bytes*12/10 {
		t.Errorf("the first PUT grew the data dir by %d bytes, want more than 0 and at most about %d", d, r.tree.bytes)
	}
	if r.fetchedWarm != 0 || r.warmFileBytes != 0 {
		t.Errorf("warm materialization fetched %d bytes and added %d bytes of files, want 0 and 0", r.fetchedWarm, r.warmFileBytes)
	}
	if r.fetchedV2 != r.extra.bytes-r.extraShared {
		t.Errorf("v2 from the warm cache fetched %d bytes, want %d (the new partition's new contents)", r.fetchedV2, r.extra.bytes-r.extraShared)
	}
	t.Log(r.report(tg))
}

// TestReportKxChangesets is the report: a database of
// OPENFINSPACE_BENCH_KX_PARTITIONS partitions (default 200) and
// OPENFINSPACE_BENCH_KX_MB MiB in all (default 2048) is generated on
// local disk, uploaded to a bucket of the server's S3 endpoint, and
// copied by a whole-database PUT changeset, interleaved with `cp -r` of
// the same tree (before and after it); then a changeset adds one
// partition; a version is materialized cold and warm with kxfs; and the
// same tree is PUT into a second database, whose contents are all stored
// already. OPENFINSPACE_BENCH_KX_ROUNDS (default 1) repeats the
// changesets, deleting the databases and waiting for the content store's
// collection between rounds (so later rounds allocate inodes among
// thousands that ext4 counts as recently deleted: compare rounds with
// care).
//
//	OPENFINSPACE_BENCH=1 go test -run TestReportKxChangesets -v -timeout 60m ./bench/kx/
func TestReportKxChangesets(t *testing.T) {
	if os.Getenv("OPENFINSPACE_BENCH") != "1" {
		t.Skip("set OPENFINSPACE_BENCH=1 to run the kx changeset report")
	}
	parts := envInt("OPENFINSPACE_BENCH_KX_PARTITIONS", 200)
	total := int64(envInt("OPENFINSPACE_BENCH_KX_MB", 2048)) << 20
	dir := t.TempDir()
	tg := startServe(t, dir)
	r := run(t, tg, dir, config{partitions: parts, partBytes: total / int64(parts), rounds: envInt("OPENFINSPACE_BENCH_KX_ROUNDS", 1),
		warmRuns: 5})
	t.Log("kx changeset report\n" + r.report(tg))
}

type result struct {
	cfg              config
	load0, load1     string
	tree, extra      *tree
	extraShared      int64 // bytes of the new partition already stored (its .d files)
	gen, up, upExtra time.Duration

	cpBefore, cpAfter         []time.Duration // cp -r, then sync
	cpSyncBefore, cpSyncAfter []time.Duration
	first, second             []measured
	firstSync, secondSync     []time.Duration
	dedup                     measured
	dedupSync                 time.Duration
	manifestFiles             int
	// page-cache residency (%) of the local tree before each cp -r and of
	// the source objects before each first PUT
	residentTree, residentObjects []float64

	cold, v2                 time.Duration
	warm                     []time.Duration
	fetchedCold, fetchedWarm int64
	fetchedV2                int64
	warmDirBytes             int64 // blocks a warm tree adds (directories)
	warmFileBytes            int64 // file blocks a warm tree adds (0: all links)
	cacheBytes               int64
}

func run(t *testing.T, tg *target, dir string, cfg config) *result {
	ctx := context.Background()
	r := &result{cfg: cfg, load0: loadavg()}
	start := time.Now()
	r.tree = genTree(t, filepath.Join(dir, "hdb"), dates(cfg.partitions), cfg.partBytes, true)
	r.extra = genTree(t, filepath.Join(dir, "extra"), []string{newPartition}, cfg.partBytes, false)
	for rel, size := range r.extra.files {
		if filepath.Base(rel) == ".d" {
			r.extraShared += size
		}
	}
	r.gen = time.Since(start)
	const bucket = "kxbench-source"
	env := tg.setup(t, ctx, bucket)
	r.up = tg.upload(t, ctx, r.tree, bucket, "hdb/")
	r.upExtra = tg.upload(t, ctx, r.extra, bucket, "extra/")
	t.Logf("generated %d files, %.1f MiB in %s; uploaded in %s (%.0f MiB/s)", len(r.tree.files), mib(r.tree.bytes),
		r.gen.Round(time.Millisecond), r.up.Round(time.Millisecond), rate(r.tree.bytes, r.up))

	whole := put("s3://"+bucket+"/hdb/", "/")
	onePart := put("s3://"+bucket+"/extra/"+newPartition+"/", "/"+newPartition+"/")
	var v1, v2 string
	for round := range cfg.rounds {
		db := fmt.Sprintf("hdb%d", round+1)
		r.residentTree = append(r.residentTree, resident(r.tree, r.tree.root))
		cp, sync := cpTree(t, r.tree, filepath.Join(dir, fmt.Sprintf("cp%d-before", round+1)))
		r.cpBefore, r.cpSyncBefore = append(r.cpBefore, cp), append(r.cpSyncBefore, sync)

		tg.createDatabase(t, ctx, env, db)
		r.residentObjects = append(r.residentObjects, resident(r.tree, filepath.Join(tg.dataDir, "objects", bucket, "hdb")))
		id, m := tg.changeset(t, ctx, env, db, whole)
		r.first, r.firstSync = append(r.first, m), append(r.firstSync, timedSync(t))
		t.Logf("round %d: cp -r %s + sync %s; first PUT %s (%.0f MiB/s)", round+1, cp.Round(time.Millisecond),
			sync.Round(time.Millisecond), m.wall.Round(time.Millisecond), rate(r.tree.bytes, m.wall))

		cp, sync = cpTree(t, r.tree, filepath.Join(dir, fmt.Sprintf("cp%d-after", round+1)))
		r.cpAfter, r.cpSyncAfter = append(r.cpAfter, cp), append(r.cpSyncAfter, sync)

		id2, m := tg.changeset(t, ctx, env, db, onePart)
		r.second, r.secondSync = append(r.second, m), append(r.secondSync, timedSync(t))
		if round == 0 {
			v1, v2 = id, id2
		}
		if round+1 < cfg.rounds {
			tg.deleteAndCollect(t, ctx, env, db)
		}
	}

	// Materializing, from the content store through the S3 endpoint into a
	// local cache on the same file system.
	var m1, m2 *kxfs.Manifest
	if cfg.rounds == 1 {
		m1, m2 = tg.manifest(t, ctx, v1), tg.manifest(t, ctx, v2)
	} else { // the round-1 versions were collected
		m1, m2 = tg.lastVersions(t, ctx, env, fmt.Sprintf("hdb%d", cfg.rounds))
	}
	r.manifestFiles = len(m1.Files)
	var fetched int64
	cache := &kxfs.Cache{Root: filepath.Join(dir, "cache"), Fetch: tg.fetch(&fetched)}
	mnt := filepath.Join(dir, "mnt")
	t.Cleanup(func() { _ = kxfs.Remove(mnt) }) // read-only directories
	syncDisk(t)
	r.cold = materialize(t, ctx, cache, m1, filepath.Join(mnt, "cold"))
	r.fetchedCold = fetched
	syncDisk(t)
	for i := range cfg.warmRuns {
		dest := filepath.Join(mnt, fmt.Sprintf("warm%d", i))
		fetched = 0
		r.warm = append(r.warm, materialize(t, ctx, cache, m1, dest))
		r.fetchedWarm += fetched
		if i == 0 {
			r.warmDirBytes, r.warmFileBytes = treeBlocks(dest, cache.Root, filepath.Join(mnt, "cold"))
		}
	}
	fetched = 0
	r.v2 = materialize(t, ctx, cache, m2, filepath.Join(mnt, "v2"))
	r.fetchedV2 = fetched
	r.cacheBytes = diskBytes(cache.Root)
	want := r.tree.files
	sameTree(t, filepath.Join(mnt, "cold"), want, ifVerify(cfg, r.tree))
	sameTree(t, filepath.Join(mnt, "warm0"), want, nil)
	want2 := map[string]int64{}
	for k, v := range r.tree.files {
		want2[k] = v
	}
	for k, v := range r.extra.files {
		want2[k] = v
	}
	sameTree(t, filepath.Join(mnt, "v2"), want2, ifVerify(cfg, r.extra))

	// The same tree into a second database: every content is stored.
	tg.createDatabase(t, ctx, env, "copy")
	_, r.dedup = tg.changeset(t, ctx, env, "copy", whole)
	r.dedupSync = timedSync(t)
	r.load1 = loadavg()
	return r
}

func ifVerify(cfg config, tr *tree) *tree {
	if cfg.verify {
		return tr
	}
	return nil
}

// treeBlocks splits the blocks dest adds to the inodes already counted
// under others into directories and files.
func treeBlocks(dest string, others ...string) (dirs, files int64) {
	all := diskBytes(append(others, dest)...)
	base := diskBytes(others...)
	dirs = diskBytesDirs(dest)
	return dirs, all - base - dirs
}

func diskBytesDirs(root string) int64 {
	var n int64
	_ = filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			if info, err := d.Info(); err == nil {
				if st, ok := info.Sys().(*syscall.Stat_t); ok {
					n += st.Blocks * 512
				}
			}
		}
		return nil
	})
	return n
}

// deleteAndCollect deletes database db and the "copy" database (when
// there) and waits until the content store is empty again.
func (tg *target) deleteAndCollect(t testing.TB, ctx context.Context, env, db string) {
	t.Helper()
	for _, name := range []string{db, "copy"} {
		_, err := tg.finspace.DeleteKxDatabase(ctx, &finspace.DeleteKxDatabaseInput{EnvironmentId: &env, DatabaseName: aws.String(name),
			ClientToken: aws.String("del-" + name + strconv.FormatInt(time.Now().UnixNano(), 10))})
		if err != nil && name == db {
			t.Fatalf("DeleteKxDatabase(%s): %v", name, err)
		}
	}
	bucket := tg.contentBucket()
	for deadline := time.Now().Add(5 * time.Minute); ; {
		out, err := tg.s3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String("sha256/"), MaxKeys: aws.Int32(1)})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Contents) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("the content store was not collected after the databases were deleted")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// lastVersions returns the versions of db's two changesets, oldest first.
func (tg *target) lastVersions(t testing.TB, ctx context.Context, env, db string) (*kxfs.Manifest, *kxfs.Manifest) {
	t.Helper()
	out, err := tg.finspace.ListKxChangesets(ctx, &finspace.ListKxChangesetsInput{EnvironmentId: &env, DatabaseName: &db})
	if err != nil {
		t.Fatal(err)
	}
	cs := out.KxChangesets
	if len(cs) != 2 {
		t.Fatalf("%s has %d changesets, want 2", db, len(cs))
	}
	a, b := cs[0], cs[1]
	if a.CreatedTimestamp.After(*b.CreatedTimestamp) {
		a, b = b, a
	}
	return tg.manifest(t, ctx, aws.ToString(a.ChangesetId)), tg.manifest(t, ctx, aws.ToString(b.ChangesetId))
}

func (r *result) report(tg *target) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format+"\n", args...) }
	partMiB := mib(r.extra.bytes)
	p("database: %d partitions + root sym, %d files, %.1f MiB (one partition %.2f MiB, %d files); GOMAXPROCS=%d %s/%s %s",
		r.cfg.partitions, len(r.tree.files), mib(r.tree.bytes), partMiB, len(r.extra.files), runtime.GOMAXPROCS(0), runtime.GOOS, runtime.GOARCH, runtime.Version())
	p("load average (1 5 15 min): %s at the start, %s at the end", r.load0, r.load1)
	p("generated in %s; uploaded with 8 parallel PutObject in %s (%.0f MiB/s, not part of any figure below)",
		r.gen.Round(time.Millisecond), r.up.Round(time.Millisecond), rate(r.tree.bytes, r.up))
	p("")
	p("%-44s %9s %9s %9s %12s %12s %9s %9s %7s %8s %11s", "step", "s", "MiB", "MiB/s", "data dir MiB", "written MiB", "srv CPU s", "gw CPU s", "other %", "sync s", "+sync MiB/s")
	row := func(name string, bytes int64, wall time.Duration, disk, written string, srv, gw, other string, sync time.Duration) {
		p("%-44s %9.3f %9.1f %9.0f %12s %12s %9s %9s %7s %8.3f %11.0f", name, wall.Seconds(), mib(bytes), rate(bytes, wall),
			disk, written, srv, gw, other, sync.Seconds(), rate(bytes, wall+sync))
	}
	f0 := func(v float64) string { return fmt.Sprintf("%.0f", v) }
	f1 := func(v float64) string { return fmt.Sprintf("%.1f", v) }
	f2 := func(v float64) string { return fmt.Sprintf("%.2f", v) }
	for i := range r.first {
		row(fmt.Sprintf("r%d cp -r of the tree (before)", i+1), r.tree.bytes, r.cpBefore[i], "", "", "", "", "", r.cpSyncBefore[i])
		m := r.first[i]
		row(fmt.Sprintf("r%d first PUT, whole db at /", i+1), r.tree.bytes, m.wall, f1(mib(m.disk())), f1(mib(m.written())),
			f2(m.serverCPU()), f2(m.gatewayCPU()), f0(m.otherLoad()), r.firstSync[i])
		row(fmt.Sprintf("r%d cp -r of the tree (after)", i+1), r.tree.bytes, r.cpAfter[i], "", "", "", "", "", r.cpSyncAfter[i])
		m = r.second[i]
		row(fmt.Sprintf("r%d second: one partition at /%s/", i+1, newPartition), r.extra.bytes, m.wall, f2(mib(m.disk())), f2(mib(m.written())),
			f2(m.serverCPU()), f2(m.gatewayCPU()), f0(m.otherLoad()), r.secondSync[i])
	}
	m := r.dedup
	row("same tree into a 2nd db (all contents stored)", r.tree.bytes, m.wall, f1(mib(m.disk())), f1(mib(m.written())),
		f2(m.serverCPU()), f2(m.gatewayCPU()), f0(m.otherLoad()), r.dedupSync)
	p("")
	for i := range r.first {
		p("r%d page cache before the step (mincore): local tree %.0f%% resident before cp -r, source objects %.0f%% before the first PUT",
			i+1, r.residentTree[i], r.residentObjects[i])
	}
	p("\"data dir MiB\": growth of the blocks allocated under the data dir (each inode once), sampled after a sync before and")
	p("right after COMPLETED; \"written MiB\": /proc/<pid>/io write_bytes − cancelled_write_bytes of the server and gateway")
	p("processes over the changeset; CPU: utime+stime of each; \"other %%\": CPU the rest of the machine used (/proc/stat busy")
	p("minus server, gateway and this test), share of all cores over the step; \"sync s\": a sync right after (what the step left dirty)")
	p("")
	for i := range r.first {
		cpS := (r.cpBefore[i] + r.cpSyncBefore[i] + r.cpAfter[i] + r.cpSyncAfter[i]) / 2
		m := r.first[i]
		p("r%d first PUT vs cp -r: %.0f%% without sync (%.0f vs %.0f MiB/s, cp the mean of before/after), %.0f%% both with their sync (target ≥ 70%%)",
			i+1, 100*((r.cpBefore[i]+r.cpAfter[i]).Seconds()/2)/m.wall.Seconds(), rate(r.tree.bytes, m.wall),
			rate(r.tree.bytes, (r.cpBefore[i]+r.cpAfter[i])/2), 100*cpS.Seconds()/(m.wall+r.firstSync[i]).Seconds())
		s := r.second[i]
		p("r%d second changeset: %.3f s, wrote %.2f MiB (data dir +%.2f MiB) for a %.2f MiB partition: %.2f× the partition, %.4f× the database (target: proportional to the partition)",
			i+1, s.wall.Seconds(), mib(s.written()), mib(s.disk()), partMiB, float64(s.written())/float64(r.extra.bytes),
			float64(s.written())/float64(r.tree.bytes))
	}
	p("")
	p("materializing the %d-file version with kxfs (cache and trees on the data dir's file system, contents fetched by GetObject through the S3 endpoint):", r.manifestFiles)
	p("  cold cache: %.3f s (fetched %.1f MiB, %.0f MiB/s)", r.cold.Seconds(), mib(r.fetchedCold), rate(r.fetchedCold, r.cold))
	p("  warm cache: median %.1f ms, max %.1f ms of %d runs, fetched %d bytes (target < 1 s)", ms(median(r.warm)), ms(slices.Max(r.warm)), len(r.warm), r.fetchedWarm)
	p("  a second tree on disk: %.2f MiB of directories, %.2f MiB of file blocks (hard links: 0 expected); cache %.1f MiB",
		mib(r.warmDirBytes), mib(r.warmFileBytes), mib(r.cacheBytes))
	p("  next version (one partition more) from that cache: %.1f ms, fetched %.2f MiB", ms(r.v2), mib(r.fetchedV2))
	return b.String()
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
