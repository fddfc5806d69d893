// Package kx holds the Managed kdb database report (bench/README.md,
// "kx databases"): a kdb+-like date-partitioned database copied by
// changesets from S3 into the content store (a first whole-database PUT,
// then one partition), against `cp -r` of the same tree on the same disk,
// and the materialization of a version as a hard-linked tree by kxfs.
//
//	OPENFINSPACE_BENCH=1 go test -run TestReportKxChangesets -v -timeout 60m ./bench/kx/
//
// The normal test run only runs TestHarnessSmoke: the same harness on a
// tiny database against an in-process server.
package kx

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/finspace/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/kx/kxfs"
	"github.com/openfinspace/openfinspace/internal/serverbin"
)

const (
	region  = "us-east-1"
	account = "000000000000"
)

// ---------------------------------------------------------------------
// The database: a root sym file and date partitions of two splayed
// tables, trade (6 columns) and quote (6 columns), each with its .d.

type column struct {
	name  string
	width int // bytes per row
}

var tables = []struct {
	name  string
	share float64 // of a partition's bytes
	cols  []column
}{
	{"trade", 0.6, []column{{"time", 8}, {"sym", 4}, {"price", 8}, {"size", 8}, {"ex", 1}, {"cond", 1}}},
	{"quote", 0.4, []column{{"time", 8}, {"sym", 4}, {"bid", 8}, {"ask", 8}, {"bsize", 8}, {"asize", 8}}},
}

// dates returns n kdb+ partition names from 2024.01.01 on.
func dates(n int) []string {
	d0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	out := make([]string, n)
	for i := range out {
		out[i] = d0.AddDate(0, 0, i).Format("2006.01.02")
	}
	return out
}

// tree is a generated database on local disk.
type tree struct {
	root  string
	files map[string]int64 // relative path → size
	bytes int64
}

// partitionFiles lists one partition's files with their sizes for
// partBytes bytes of column data: .d files (the same in every partition)
// and column files of a 16-byte header plus rows × width random bytes.
func partitionFiles(date string, partBytes int64) map[string]int64 {
	out := map[string]int64{}
	for _, tb := range tables {
		width := 0
		var names []string
		for _, c := range tb.cols {
			width += c.width
			names = append(names, "`"+c.name)
		}
		rows := int64(float64(partBytes)*tb.share) / int64(width)
		out[date+"/"+tb.name+"/.d"] = int64(len(dotD(names)))
		for _, c := range tb.cols {
			out[date+"/"+tb.name+"/"+c.name] = 16 + rows*int64(c.width)
		}
	}
	return out
}

func dotD(names []string) []byte { return []byte(strings.Join(names, "") + "\n") }

// symFile is the root sym file: the enumeration of nsym symbols.
func symFile(nsym int) []byte {
	var b []byte
	for i := range nsym {
		b = append(b, fmt.Sprintf("SYM%05d", i)...)
		b = append(b, 0)
	}
	return b
}

// genTree writes a database of the given partitions under root (the root
// sym file too when withSym), partBytes of column data each.
func genTree(t testing.TB, root string, parts []string, partBytes int64, withSym bool) *tree {
	t.Helper()
	tr := &tree{root: root, files: map[string]int64{}}
	type job struct {
		rel  string
		size int64
	}
	var jobs []job
	for _, d := range parts {
		for rel, size := range partitionFiles(d, partBytes) {
			jobs = append(jobs, job{rel, size})
		}
	}
	if withSym {
		jobs = append(jobs, job{"sym", int64(len(symFile(2000)))})
	}
	for _, j := range jobs {
		tr.files[j.rel] = j.size
		tr.bytes += j.size
	}
	next := make(chan job)
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	for range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				if err := writeFile(filepath.Join(root, filepath.FromSlash(j.rel)), j.rel, j.size); err != nil {
					errs <- err
					for range next {
					}
					return
				}
			}
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	return tr
}

// writeFile writes one file of the database: sym and .d files have their
// fixed contents, column files random bytes seeded by their path.
func writeFile(path, rel string, size int64) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	base := filepath.Base(rel)
	switch {
	case rel == "sym":
		_, err = f.Write(symFile(2000))
		return err
	case base == ".d":
		tb := strings.Split(rel, "/")[1]
		for _, t := range tables {
			if t.name == tb {
				var names []string
				for _, c := range t.cols {
					names = append(names, "`"+c.name)
				}
				_, err = f.Write(dotD(names))
			}
		}
		return err
	}
	var seed uint64
	for _, c := range []byte(rel) {
		seed = seed*131 + uint64(c)
	}
	rng := rand.New(rand.NewPCG(seed, 0x6b78))
	w := bufio.NewWriterSize(f, 1<<20)
	buf := make([]byte, 64<<10)
	for left := size; left > 0; {
		for i := 0; i+8 <= len(buf); i += 8 {
			binary.LittleEndian.PutUint64(buf[i:], rng.Uint64())
		}
		n := int64(len(buf))
		if left < n {
			n = left
		}
		if _, err := w.Write(buf[:n]); err != nil {
			return err
		}
		left -= n
	}
	if err := w.Flush(); err != nil {
		return err
	}
	return f.Close()
}

// ---------------------------------------------------------------------
// The server under test.

type target struct {
	url, dataDir string
	pid          int // the server's process (the gateway is its child)
	akid, secret string
	finspace     *finspace.Client
	s3           *s3.Client
}

func newTarget(url, dataDir string, pid int, akid, secret string) *target {
	prov := credentials.NewStaticCredentialsProvider(akid, secret, "")
	return &target{url: url, dataDir: dataDir, pid: pid, akid: akid, secret: secret,
		finspace: finspace.New(finspace.Options{Region: region, BaseEndpoint: aws.String(url), Credentials: prov}),
		s3:       s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(url), UsePathStyle: true, Credentials: prov})}
}

// startServe builds the server and runs `openfinspace serve` on embedded
// storage in dir until the test ends; its log goes to dir/serve.log.
func startServe(t *testing.T, dir string) *target {
	t.Helper()
	const akid, secret = "AKIAOPENFINSPACEKXBENCH", "openfinspace-kx-bench-secret-0123456789"
	bin := os.Getenv("OPENFINSPACE_BENCH_KX_BIN") // a server built beforehand (to compare builds)
	if bin == "" {
		out := dir
		if d := os.Getenv("OPENFINSPACE_BENCH_KX_PERF"); d != "" {
			out = d // kept for perf report
		}
		var took time.Duration
		var err error
		if bin, took, err = serverbin.Build(context.Background(), out); err != nil {
			t.Fatal(err)
		}
		t.Logf("built the server in %s", took.Round(time.Millisecond))
	}
	addr, err := serverbin.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	dataDir := filepath.Join(dir, "data")
	logf, err := os.Create(filepath.Join(dir, "serve.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--addr", addr, "--data-dir", dataDir, "--log-level", "info")
	cmd.Env = append(os.Environ(), "OPENFINSPACE_ACCESS_KEY_ID="+akid, "OPENFINSPACE_SECRET_ACCESS_KEY="+secret)
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(logf.Name()); err == nil {
				if len(b) > 8000 {
					b = b[len(b)-8000:]
				}
				t.Logf("server log (tail):\n%s", b)
			}
		}
	})
	url := "http://" + addr
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
	return newTarget(url, dataDir, cmd.Process.Pid, akid, secret)
}

// ---------------------------------------------------------------------
// Process and disk accounting.

// children returns the pids whose parent is pid (the gateway process).
func children(pid int) []int {
	ents, _ := os.ReadDir("/proc")
	var out []int
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if st := procStat(p); st != nil && st.ppid == pid {
			out = append(out, p)
		}
	}
	return out
}

type stat struct {
	ppid int
	cpu  time.Duration // utime + stime
}

func procStat(pid int) *stat {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	// The command name may hold spaces: fields start after the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return nil
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return nil
	}
	ppid, _ := strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return &stat{ppid: ppid, cpu: time.Duration(ut+st) * 10 * time.Millisecond} // USER_HZ 100
}

// writeBytes is /proc/<pid>/io's write_bytes − cancelled_write_bytes: the
// bytes the process caused to be written to storage (page-cache pages
// dirtied, counted when dirtied).
func writeBytes(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid))
	if err != nil {
		return -1
	}
	var w, c int64
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
			w, _ = strconv.ParseInt(v, 10, 64)
		}
		if v, ok := strings.CutPrefix(line, "cancelled_write_bytes: "); ok {
			c, _ = strconv.ParseInt(v, 10, 64)
		}
	}
	return w - c
}

// usage is a snapshot of the server's processes and data dir.
type usage struct {
	at         time.Time
	diskBytes  int64 // allocated blocks under the data dir, each inode once
	writeBytes int64 // server + gateway
	serverCPU  time.Duration
	gwCPU      time.Duration
	selfCPU    time.Duration // this test process
	busyCPU    time.Duration // the whole machine (/proc/stat, not idle or iowait)
}

// machineBusy is the CPU time the machine spent busy since boot.
func machineBusy() time.Duration {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	var busy int64
	for i, v := range f[1:] {
		n, _ := strconv.ParseInt(v, 10, 64)
		if i != 3 && i != 4 && i < 8 { // idle, iowait; guest time is in user already
			busy += n
		}
	}
	return time.Duration(busy) * 10 * time.Millisecond
}

func (tg *target) usage() usage {
	u := usage{at: time.Now(), diskBytes: diskBytes(tg.dataDir), writeBytes: writeBytes(tg.pid), busyCPU: machineBusy()}
	if st := procStat(tg.pid); st != nil {
		u.serverCPU = st.cpu
	}
	if tg.pid != os.Getpid() {
		if st := procStat(os.Getpid()); st != nil {
			u.selfCPU = st.cpu
		}
	}
	for _, c := range children(tg.pid) {
		u.writeBytes += max(writeBytes(c), 0)
		if st := procStat(c); st != nil {
			u.gwCPU += st.cpu
		}
	}
	return u
}

// diskBytes is the space allocated to the files and directories under
// roots, each inode counted once (hard links share blocks).
func diskBytes(roots ...string) int64 {
	seen := map[[2]uint64]bool{}
	var n int64
	for _, root := range roots {
		_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			info, err := d.Info()
			if err != nil {
				return nil
			}
			st, ok := info.Sys().(*syscall.Stat_t)
			if !ok {
				return nil
			}
			k := [2]uint64{uint64(st.Dev), st.Ino}
			if !seen[k] {
				seen[k] = true
				n += st.Blocks * 512
			}
			return nil
		})
	}
	return n
}

// resident is the share of the bytes of the files of tr, under root,
// that are in the page cache (mincore), in percent.
func resident(tr *tree, root string) float64 {
	page := int64(os.Getpagesize())
	var in, total int64
	for rel, size := range tr.files {
		if size == 0 {
			continue
		}
		f, err := os.Open(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			continue
		}
		data, err := syscall.Mmap(int(f.Fd()), 0, int(size), syscall.PROT_READ, syscall.MAP_SHARED)
		f.Close()
		if err != nil {
			continue
		}
		vec := make([]byte, (size+page-1)/page)
		if _, _, e := syscall.Syscall(syscall.SYS_MINCORE, uintptr(unsafe.Pointer(&data[0])), uintptr(size), uintptr(unsafe.Pointer(&vec[0]))); e == 0 {
			for _, v := range vec {
				if v&1 != 0 {
					in += page
				}
			}
			total += int64(len(vec)) * page
		}
		_ = syscall.Munmap(data)
	}
	if total == 0 {
		return 0
	}
	return 100 * float64(in) / float64(total)
}

func syncDisk(t testing.TB) {
	t.Helper()
	if out, err := exec.Command("sync").CombinedOutput(); err != nil {
		t.Fatalf("sync: %v %s", err, out)
	}
}

// ---------------------------------------------------------------------
// Steps.

// setup creates a kx environment (waits for CREATED) and the source
// bucket.
func (tg *target) setup(t testing.TB, ctx context.Context, bucket string) string {
	t.Helper()
	env, err := tg.finspace.CreateKxEnvironment(ctx, &finspace.CreateKxEnvironmentInput{Name: aws.String("kxbench"),
		KmsKeyId: aws.String("arn:aws:kms:" + region + ":" + account + ":key/kxbench")})
	if err != nil {
		t.Fatalf("CreateKxEnvironment: %v", err)
	}
	id := aws.ToString(env.EnvironmentId)
	for deadline := time.Now().Add(60 * time.Second); ; {
		got, err := tg.finspace.GetKxEnvironment(ctx, &finspace.GetKxEnvironmentInput{EnvironmentId: &id})
		if err != nil {
			t.Fatal(err)
		}
		if got.Status == types.EnvironmentStatusCreated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("kx environment %s still %s", id, got.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, err := tg.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: &bucket}); err != nil {
		t.Fatalf("CreateBucket: %v", err)
	}
	return id
}

func (tg *target) createDatabase(t testing.TB, ctx context.Context, env, name string) {
	t.Helper()
	if _, err := tg.finspace.CreateKxDatabase(ctx, &finspace.CreateKxDatabaseInput{EnvironmentId: &env, DatabaseName: &name,
		ClientToken: aws.String("db-" + name)}); err != nil {
		t.Fatalf("CreateKxDatabase(%s): %v", name, err)
	}
}

// upload puts every file of tr under prefix of bucket, 8 PutObjects at a
// time.
func (tg *target) upload(t testing.TB, ctx context.Context, tr *tree, bucket, prefix string) time.Duration {
	t.Helper()
	start := time.Now()
	rels := make(chan string)
	errs := make(chan error, 8)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rel := range rels {
				err := func() error {
					f, err := os.Open(filepath.Join(tr.root, filepath.FromSlash(rel)))
					if err != nil {
						return err
					}
					defer f.Close()
					_, err = tg.s3.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String(prefix + rel), Body: f,
						ContentLength: aws.Int64(tr.files[rel])})
					return err
				}()
				if err != nil {
					errs <- fmt.Errorf("PutObject %s%s: %w", prefix, rel, err)
					for range rels {
					}
					return
				}
			}
		}()
	}
	for rel := range tr.files {
		rels <- rel
	}
	close(rels)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		t.Fatal(err)
	}
	return time.Since(start)
}

// measured is one measured step.
type measured struct {
	wall          time.Duration
	before, after usage
}

func (m measured) disk() int64         { return m.after.diskBytes - m.before.diskBytes }
func (m measured) written() int64      { return m.after.writeBytes - m.before.writeBytes }
func (m measured) serverCPU() float64  { return (m.after.serverCPU - m.before.serverCPU).Seconds() }
func (m measured) gatewayCPU() float64 { return (m.after.gwCPU - m.before.gwCPU).Seconds() }

// otherLoad is the share of the machine's CPU (all cores over the step)
// that other processes used.
func (m measured) otherLoad() float64 {
	d := func(a, b time.Duration) float64 { return (b - a).Seconds() }
	other := d(m.before.busyCPU, m.after.busyCPU) - d(m.before.serverCPU, m.after.serverCPU) - d(m.before.gwCPU, m.after.gwCPU) -
		d(m.before.selfCPU, m.after.selfCPU)
	return max(0, 100*other/(m.wall.Seconds()*float64(runtime.NumCPU())))
}
func mib(n int64) float64                   { return float64(n) / (1 << 20) }
func rate(n int64, d time.Duration) float64 { return mib(n) / d.Seconds() }

// changeset runs one changeset: CreateKxChangeset, then GetKxChangeset
// every 20 ms until COMPLETED. The data dir and the processes are
// sampled around it (after a sync, outside the timing).
func (tg *target) changeset(t testing.TB, ctx context.Context, env, db string, reqs ...types.ChangeRequest) (string, measured) {
	t.Helper()
	syncDisk(t)
	stop := tg.perfRecord(t, db+"-"+strconv.Itoa(len(reqs))+"-"+strings.Trim(strings.ReplaceAll(aws.ToString(reqs[0].DbPath), "/", "_"), "_"))
	defer stop()
	m := measured{before: tg.usage()}
	start := time.Now()
	out, err := tg.finspace.CreateKxChangeset(ctx, &finspace.CreateKxChangesetInput{EnvironmentId: &env, DatabaseName: &db,
		ChangeRequests: reqs, ClientToken: aws.String(fmt.Sprintf("cs-%d", time.Now().UnixNano()))})
	if err != nil {
		t.Fatalf("CreateKxChangeset: %v", err)
	}
	id := aws.ToString(out.ChangesetId)
	for deadline := time.Now().Add(30 * time.Minute); ; {
		got, err := tg.finspace.GetKxChangeset(ctx, &finspace.GetKxChangesetInput{EnvironmentId: &env, DatabaseName: &db, ChangesetId: &id})
		if err != nil {
			t.Fatalf("GetKxChangeset: %v", err)
		}
		if got.Status == types.ChangesetStatusCompleted {
			break
		}
		if got.Status == types.ChangesetStatusFailed {
			msg := ""
			if got.ErrorInfo != nil {
				msg = aws.ToString(got.ErrorInfo.ErrorMessage)
			}
			t.Fatalf("changeset %s failed: %s", id, msg)
		}
		if time.Now().After(deadline) {
			t.Fatalf("changeset %s still %s", id, got.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	m.wall = time.Since(start)
	m.after = tg.usage()
	return id, m
}

// perfRecord starts `perf record` on the server and its gateway when
// OPENFINSPACE_BENCH_KX_PERF names a directory (where name.data goes) and
// returns the function that stops it; a no-op otherwise.
func (tg *target) perfRecord(t testing.TB, name string) func() {
	dir := os.Getenv("OPENFINSPACE_BENCH_KX_PERF")
	if dir == "" {
		return func() {}
	}
	pids := []string{strconv.Itoa(tg.pid)}
	for _, c := range children(tg.pid) {
		pids = append(pids, strconv.Itoa(c))
	}
	out := filepath.Join(dir, name+".data")
	cmd := exec.Command("perf", "record", "-e", "cpu-clock", "-F", "499", "-g", "-p", strings.Join(pids, ","), "-o", out)
	if err := cmd.Start(); err != nil {
		t.Logf("perf record: %v", err)
		return func() {}
	}
	time.Sleep(200 * time.Millisecond)
	return func() {
		_ = cmd.Process.Signal(os.Interrupt)
		_ = cmd.Wait()
		t.Logf("perf profile of %s (pids %s): %s", name, strings.Join(pids, ","), out)
	}
}

func put(s3Path, dbPath string) types.ChangeRequest {
	return types.ChangeRequest{ChangeType: types.ChangeTypePut, S3Path: aws.String(s3Path), DbPath: aws.String(dbPath)}
}

// timedSync is the time a sync takes right after a step (what the step
// left dirty).
func timedSync(t testing.TB) time.Duration {
	start := time.Now()
	syncDisk(t)
	return time.Since(start)
}

// cpTree is the baseline: `cp -r` of the local tree to dst (a sibling
// directory, so on the same file system), then sync, each timed. The
// copy stays until the test ends: removing thousands of files would make
// ext4 skip their inodes, "recently deleted", when the next step
// allocates inodes (find_inode_bit → recently_deleted), slowing down
// whatever runs next.
func cpTree(t testing.TB, tr *tree, dst string) (cp, sync time.Duration) {
	t.Helper()
	syncDisk(t)
	start := time.Now()
	if out, err := exec.Command("cp", "-r", tr.root, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -r: %v %s", err, out)
	}
	cp = time.Since(start)
	sync = timedSync(t)
	return cp, sync
}

// ---------------------------------------------------------------------
// Materializing.

func (tg *target) contentBucket() string {
	return blob.WorkingLocationBucket(account, region, "kxcontent")
}

// manifest reads the version changeset made from the content store
// (manifests/<database uid>/<changeset>.json), through the S3 endpoint.
func (tg *target) manifest(t testing.TB, ctx context.Context, changeset string) *kxfs.Manifest {
	t.Helper()
	bucket := tg.contentBucket()
	p := s3.NewListObjectsV2Paginator(tg.s3, &s3.ListObjectsV2Input{Bucket: &bucket, Prefix: aws.String("manifests/")})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatalf("listing manifests: %v", err)
		}
		for _, o := range page.Contents {
			if strings.HasSuffix(aws.ToString(o.Key), "/"+changeset+".json") {
				out, err := tg.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: o.Key})
				if err != nil {
					t.Fatal(err)
				}
				defer out.Body.Close()
				var m kxfs.Manifest
				if err := json.NewDecoder(out.Body).Decode(&m); err != nil {
					t.Fatal(err)
				}
				return &m
			}
		}
	}
	t.Fatalf("no manifest for changeset %s", changeset)
	return nil
}

// fetch reads content by hash from the content store through the S3
// endpoint (what a node without the data dir would do).
func (tg *target) fetch(fetched *int64) kxfs.Fetch {
	bucket := tg.contentBucket()
	var mu sync.Mutex
	return func(ctx context.Context, hash string) (io.ReadCloser, error) {
		out, err := tg.s3.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("sha256/" + hash[:2] + "/" + hash)})
		if err != nil {
			return nil, err
		}
		mu.Lock()
		*fetched += aws.ToInt64(out.ContentLength)
		mu.Unlock()
		return out.Body, nil
	}
}

// materialize times one Materialize of m at dest.
func materialize(t testing.TB, ctx context.Context, c *kxfs.Cache, m *kxfs.Manifest, dest string) time.Duration {
	t.Helper()
	start := time.Now()
	if err := c.Materialize(ctx, m, dest); err != nil {
		t.Fatalf("Materialize %s: %v", dest, err)
	}
	return time.Since(start)
}

// sameTree checks that dir holds exactly want's files with want's sizes,
// and, when contents, the generated bytes.
func sameTree(t testing.TB, dir string, want map[string]int64, contents *tree) {
	t.Helper()
	got := map[string]int64{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		got[filepath.ToSlash(rel)] = info.Size()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%s: %d files, want %d", dir, len(got), len(want))
	}
	for rel, size := range want {
		if got[rel] != size {
			t.Fatalf("%s/%s: %d bytes, want %d", dir, rel, got[rel], size)
		}
	}
	if contents == nil {
		return
	}
	for rel := range contents.files {
		a, err := os.ReadFile(filepath.Join(dir, rel))
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(filepath.Join(contents.root, rel))
		if err != nil {
			t.Fatal(err)
		}
		if string(a) != string(b) {
			t.Fatalf("%s/%s differs from the source", dir, rel)
		}
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
