// Package s3 benchmarks large transfers through openfinspace's S3 endpoint
// (the main port: SigV4 dispatch and the reverse proxy to the gateway
// process) against the same transfers straight to the gateway process's
// own listener (versitygw over the same posix backend, no proxy), with the
// AWS CLI and with aws-sdk-go-v2's upload and download managers, plus a
// plain file copy as the disk's ceiling.
//
// It runs only with OPENFINSPACE_BENCH=1 (see README.md):
//
//	OPENFINSPACE_BENCH=1 go test -run TestS3Throughput -v -timeout 30m ./bench/s3/
//
// OPENFINSPACE_BENCH_S3_MIB sets the object size (default 1024 MiB) and
// OPENFINSPACE_BENCH_RUNS the repetitions (default 3). The direct and
// main-port runs are interleaved and the report gives medians: of each
// path's runs, and of the per-run ratios main port / direct.
// Everything stays on 127.0.0.1 and in temporary directories.
package s3

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/feature/s3/manager"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/authz"
	"github.com/openfinspace/openfinspace/internal/auth/sigv4"
	"github.com/openfinspace/openfinspace/internal/s3gw"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
	"github.com/openfinspace/openfinspace/internal/serverbin"
)

type target struct {
	name, endpoint, akid, secret string
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

func TestS3Throughput(t *testing.T) {
	if os.Getenv("OPENFINSPACE_BENCH") != "1" {
		t.Skip("set OPENFINSPACE_BENCH=1 to run the S3 throughput benchmark")
	}
	mib := envInt("OPENFINSPACE_BENCH_S3_MIB", 1024)
	runs := envInt("OPENFINSPACE_BENCH_RUNS", 3)
	size := int64(mib) << 20
	ctx := context.Background()
	dir := t.TempDir()

	src := filepath.Join(dir, "src.bin")
	writeRandom(t, src, size)

	// Main port: a full server.
	srv := servertest.Start(t)
	root := srv.Root()
	main := target{"main port", srv.URL(), root.AccessKeyID, root.SecretAccessKey}

	// Direct: a gateway process of its own with a loopback TCP listener.
	rc := &auth.Credential{AccessKeyID: "AKIABENCHBENCHBENCH0", SecretAccessKey: "bench-secret",
		Principal: auth.Principal{Kind: auth.Root, Account: "000000000000"}}
	creds := auth.Chain{auth.Static{rc.AccessKeyID: rc}}
	addr := freeAddr(t)
	gw, err := s3gw.New(s3gw.Config{ObjectsDir: filepath.Join(dir, "direct", "objects"), AccountID: "000000000000",
		Credentials: creds, Verifier: &sigv4.Verifier{Credentials: creds}, Authz: &authz.Authorizer{}, DirectAddr: addr, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close(context.Background()) })
	if err := gw.Start(ctx); err != nil {
		t.Fatal(err)
	}
	direct := target{"direct gateway", "http://" + addr, rc.AccessKeyID, rc.SecretAccessKey}

	// Every sample, in the order measured.
	samples := map[string][]sample{}
	add := func(key string, put, get float64) { samples[key] = append(samples[key], sample{put, get}) }

	// The disk's ceiling: cp of the file.
	for range runs {
		dst := filepath.Join(dir, "cp.bin")
		start := time.Now()
		if out, err := exec.Command("cp", src, dst).CombinedOutput(); err != nil {
			t.Fatalf("cp: %v %s", err, out)
		}
		if out, err := exec.Command("sync").CombinedOutput(); err != nil {
			t.Fatalf("sync: %v %s", err, out)
		}
		add("cp (disk copy)", float64(mib)/time.Since(start).Seconds(), 0)
		os.Remove(dst)
	}

	cli, _ := exec.LookPath("aws")
	clients := map[string]*s3.Client{}
	buckets := map[string]string{}
	for _, tg := range []target{direct, main} {
		c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(tg.endpoint), UsePathStyle: true,
			Credentials: credentials.NewStaticCredentialsProvider(tg.akid, tg.secret, "")})
		bucket := "bench-" + strings.ReplaceAll(strings.ToLower(tg.name), " ", "-")
		if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
			t.Fatal(err)
		}
		clients[tg.name], buckets[tg.name] = c, bucket
	}
	// Interleaved: direct, main, direct, main, ... so that both paths see
	// the same (drifting) machine; each main-port run is compared with the
	// direct run just before it.
	for i := range runs {
		for _, tg := range []target{direct, main} {
			put, get := sdkTransfer(t, clients[tg.name], buckets[tg.name], src, filepath.Join(dir, "sdk.out"), size)
			add("Go SDK manager, "+tg.name, put, get)
			t.Logf("run %d %s Go SDK: PUT %.0f MiB/s, GET %.0f MiB/s", i+1, tg.name, put, get)
		}
		if cli == "" {
			continue
		}
		for _, tg := range []target{direct, main} {
			put, get := cliTransfer(t, cli, tg, buckets[tg.name], src, filepath.Join(dir, "cli.out"), mib)
			add("AWS CLI, "+tg.name, put, get)
			t.Logf("run %d %s AWS CLI: PUT %.0f MiB/s, GET %.0f MiB/s", i+1, tg.name, put, get)
		}
	}
	t.Log(report(mib, runs, samples))
}

// sample is one run's throughput in MiB/s.
type sample struct{ put, get float64 }

// report prints the median of each path's runs, every run, and the median
// of the per-run ratios main port / direct (run i of the main port against
// run i of the direct path, measured just before it).
func report(mib, runs int, samples map[string][]sample) string {
	var b strings.Builder
	fmt.Fprintf(&b, "\n%d MiB object, %d interleaved runs, median (all runs) in MiB/s:\n", mib, runs)
	fmt.Fprintf(&b, "%-32s %6s %-22s %6s %s\n", "path", "PUT", "", "GET", "")
	for _, k := range []string{"cp (disk copy)", "Go SDK manager, direct gateway", "Go SDK manager, main port",
		"AWS CLI, direct gateway", "AWS CLI, main port"} {
		ss, ok := samples[k]
		if !ok {
			continue
		}
		puts, gets := make([]float64, len(ss)), make([]float64, len(ss))
		for i, s := range ss {
			puts[i], gets[i] = s.put, s.get
		}
		if median(gets) == 0 { // cp: no GET
			fmt.Fprintf(&b, "%-32s %6.0f %s\n", k, median(puts), list(puts))
			continue
		}
		fmt.Fprintf(&b, "%-32s %6.0f %-22s %6.0f %s\n", k, median(puts), list(puts), median(gets), list(gets))
	}
	for _, tool := range []string{"Go SDK manager", "AWS CLI"} {
		d, m := samples[tool+", direct gateway"], samples[tool+", main port"]
		n := min(len(d), len(m))
		if n == 0 {
			continue
		}
		pr, gr := make([]float64, n), make([]float64, n)
		for i := range n {
			pr[i], gr[i] = 100*m[i].put/d[i].put, 100*m[i].get/d[i].get
		}
		fmt.Fprintf(&b, "%s main port / direct, median of %d run pairs: PUT %.0f%% %s, GET %.0f%% %s\n",
			tool, n, median(pr), list(pr), median(gr), list(gr))
	}
	return b.String()
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func list(v []float64) string {
	parts := make([]string, len(v))
	for i, x := range v {
		parts[i] = strconv.FormatFloat(x, 'f', 0, 64)
	}
	return "(" + strings.Join(parts, ", ") + ")"
}

func writeRandom(t *testing.T, path string, size int64) {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	buf := make([]byte, 4<<20)
	for left := size; left > 0; {
		n := min(int64(len(buf)), left)
		_, _ = rand.Read(buf[:n])
		if _, err := f.Write(buf[:n]); err != nil {
			t.Fatal(err)
		}
		left -= n
	}
}

func sdkTransfer(t *testing.T, c *s3.Client, bucket, src, dst string, size int64) (put, get float64) {
	t.Helper()
	ctx := context.Background()
	f, err := os.Open(src)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	up := manager.NewUploader(c, func(u *manager.Uploader) { u.PartSize = 16 << 20; u.Concurrency = 4 })
	start := time.Now()
	if _, err := up.Upload(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String("sdk.bin"), Body: f}); err != nil {
		t.Fatalf("upload: %v", err)
	}
	put = float64(size>>20) / time.Since(start).Seconds()
	out, err := os.Create(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer os.Remove(dst)
	defer out.Close()
	down := manager.NewDownloader(c, func(d *manager.Downloader) { d.PartSize = 16 << 20; d.Concurrency = 4 })
	start = time.Now()
	n, err := down.Download(ctx, out, &s3.GetObjectInput{Bucket: aws.String(bucket), Key: aws.String("sdk.bin")})
	if err != nil || n != size {
		t.Fatalf("download: %d bytes, %v", n, err)
	}
	get = float64(size>>20) / time.Since(start).Seconds()
	return put, get
}

func cliTransfer(t *testing.T, cli string, tg target, bucket, src, dst string, mib int) (put, get float64) {
	t.Helper()
	empty := filepath.Join(t.TempDir(), "empty")
	_ = os.WriteFile(empty, nil, 0o600)
	run := func(args ...string) time.Duration {
		cmd := exec.Command(cli, append([]string{"--endpoint-url", tg.endpoint}, args...)...)
		var env []string
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "AWS_") {
				env = append(env, kv)
			}
		}
		cmd.Env = append(env, "AWS_ACCESS_KEY_ID="+tg.akid, "AWS_SECRET_ACCESS_KEY="+tg.secret,
			"AWS_REGION=us-east-1", "AWS_DEFAULT_REGION=us-east-1", "AWS_EC2_METADATA_DISABLED=true",
			"AWS_CONFIG_FILE="+empty, "AWS_SHARED_CREDENTIALS_FILE="+empty)
		start := time.Now()
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("aws %v: %v\n%s", args, err, out)
		}
		return time.Since(start)
	}
	put = float64(mib) / run("s3", "cp", "--no-progress", src, "s3://"+bucket+"/cli.bin").Seconds()
	get = float64(mib) / run("s3", "cp", "--no-progress", "s3://"+bucket+"/cli.bin", dst).Seconds()
	os.Remove(dst)
	return put, get
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := serverbin.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}
