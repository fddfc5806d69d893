package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	stdlog "log"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/finspace/types"

	"github.com/openfinspace/openfinspace/internal/server"
)

// TestMain lets the test binary act as the openfinspace binary in a child
// process, so the restart test runs the real main without a separate build.
func TestMain(m *testing.M) {
	if os.Getenv("OPENFINSPACE_TEST_RUN_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

type child struct {
	cmd    *exec.Cmd
	url    string
	exited chan error
}

var servingRE = regexp.MustCompile(`serving at (http://\S+)`)

// startChild runs `openfinspace serve` on dataDir in a child process (at
// --log-level info: the serving line it waits for is an info record), with
// env (NAME=value) added to its environment.
func startChild(t *testing.T, dataDir string, env ...string) *child {
	t.Helper()
	return startChildIn(t, "", dataDir, env...)
}

// startChildIn is startChild with the working directory wd ("" for this
// process's).
func startChildIn(t *testing.T, wd, dataDir string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "info")
	cmd.Dir = wd
	cmd.Env = append(append(os.Environ(), "OPENFINSPACE_TEST_RUN_MAIN=1", "OPENFINSPACE_LIFECYCLE_STEP=300ms"), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, exited: make(chan error, 1)}
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
				found <- m[1]
			}
		}
	}()
	go func() { c.exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	select {
	case c.url = <-found:
	case err := <-c.exited:
		t.Fatalf("server exited before serving: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
	}
	return c
}

// stop stops the server with SIGTERM and checks that it exits 0 within
// 15 s; it fails the test at once if it does not exit.
func (c *child) stop(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-c.exited:
		if err != nil {
			t.Errorf("server exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("server did not stop within 15 s of SIGTERM")
	}
}

func clientFor(t *testing.T, url, dataDir string) *finspace.Client {
	t.Helper()
	rc, err := server.LoadOrCreateRootCredentials(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	return finspace.New(finspace.Options{Region: "us-east-1", BaseEndpoint: aws.String(url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(rc.AccessKeyID, rc.SecretAccessKey, "")})
}

func status(t *testing.T, c *finspace.Client, id string) types.EnvironmentStatus {
	t.Helper()
	out, err := c.GetEnvironment(context.Background(), &finspace.GetEnvironmentInput{EnvironmentId: &id})
	if err != nil {
		t.Fatalf("GetEnvironment(%s): %v", id, err)
	}
	return out.Environment.Status
}

func waitFor(t *testing.T, c *finspace.Client, id string, want types.EnvironmentStatus) {
	t.Helper()
	waitStatus(t, "environment "+id, want, func() types.EnvironmentStatus { return status(t, c, id) })
}

// waitStatus polls get every 50 ms until it returns want, for 20 s at most.
func waitStatus[S comparable](t *testing.T, what string, want S, get func() S) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for got := get(); got != want; got = get() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not reach %v (now %v)", what, want, got)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestRestartAfterKill creates resources, SIGKILLs the server mid-lifecycle,
// restarts it on the same data dir and checks that every resource is there
// and every lifecycle finishes.
func TestRestartAfterKill(t *testing.T) {
	dataDir := t.TempDir()
	ctx := context.Background()
	first := startChild(t, dataDir)
	c := clientFor(t, first.url, dataDir)

	doomed, err := c.CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{Name: aws.String("doomed")})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, *doomed.EnvironmentId, types.EnvironmentStatusCreated)
	var created []string
	for _, name := range []string{"a", "b", "c", "d", "e"} {
		out, err := c.CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{Name: aws.String("env-" + name), Tags: map[string]string{"name": name}})
		if err != nil {
			t.Fatal(err)
		}
		created = append(created, *out.EnvironmentId)
	}
	if _, err := c.DeleteEnvironment(ctx, &finspace.DeleteEnvironmentInput{EnvironmentId: doomed.EnvironmentId}); err != nil {
		t.Fatal(err)
	}
	// Everything is mid-lifecycle now; kill without warning.
	for _, id := range created {
		if s := status(t, c, id); s == types.EnvironmentStatusCreated {
			t.Fatalf("environment %s already CREATED before the kill; the test needs a slower lifecycle", id)
		}
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.exited

	second := startChild(t, dataDir)
	c = clientFor(t, second.url, dataDir)
	for i, id := range created {
		waitFor(t, c, id, types.EnvironmentStatusCreated)
		tags, err := c.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{
			ResourceArn: aws.String("arn:aws:finspace:us-east-1:000000000000:environment/" + id)})
		if err != nil {
			t.Fatal(err)
		}
		if want := []string{"a", "b", "c", "d", "e"}[i]; tags.Tags["name"] != want {
			t.Errorf("tags of %s after restart = %v, want name=%s", id, tags.Tags, want)
		}
	}
	waitFor(t, c, *doomed.EnvironmentId, types.EnvironmentStatusDeleted)
	list, err := c.ListEnvironments(ctx, &finspace.ListEnvironmentsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Environments) != 6 {
		t.Errorf("listed %d environments after restart, want 6", len(list.Environments))
	}

	// A graceful stop exits 0.
	second.stop(t)
}

func TestCommands(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"version"}, &out, &errb); code != 0 || !strings.HasPrefix(out.String(), "openfinspace ") {
		t.Errorf("version: %d %q", code, out.String())
	}
	if code := run([]string{"frobnicate"}, io.Discard, &errb); code != 2 {
		t.Errorf("unknown command exit %d, want 2", code)
	}
	if code := run(nil, io.Discard, io.Discard); code != 2 {
		t.Errorf("no command exit %d, want 2", code)
	}
	dir := t.TempDir()
	out.Reset()
	if code := run([]string{"credentials", "--data-dir", dir, "--addr", "127.0.0.1:9999"}, &out, &errb); code != 0 {
		t.Fatalf("credentials: %d %s", code, errb.String())
	}
	rc, err := server.LoadOrCreateRootCredentials(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"export AWS_ACCESS_KEY_ID=" + rc.AccessKeyID, "export AWS_SECRET_ACCESS_KEY=" + rc.SecretAccessKey,
		"export AWS_ENDPOINT_URL=http://127.0.0.1:9999", "export AWS_DEFAULT_REGION=us-east-1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("credentials output lacks %q:\n%s", want, out.String())
		}
	}
	st, err := os.Stat(dir + "/root-credentials.json")
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("root credentials file: %v mode %v, want 0600", err, st.Mode().Perm())
	}
	t.Setenv("OPENFINSPACE_LIFECYCLE_STEP", "soon")
	if code := run([]string{"serve", "--data-dir", dir}, io.Discard, io.Discard); code != 2 {
		t.Errorf("bad OPENFINSPACE_LIFECYCLE_STEP: exit %d, want 2", code)
	}
}

func TestServeRefusesBusyPort(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	var errb bytes.Buffer
	if code := run([]string{"serve", "--addr", ln.Addr().String(), "--data-dir", t.TempDir()}, io.Discard, &errb); code != 1 {
		t.Errorf("serve on a busy port: exit %d, want 1; stderr %s", code, errb.String())
	}
}

// TestCredentialsDescribeRunningServer: `credentials` on a data dir whose
// server runs on another address than the default prints that server's
// address and says so; once it has stopped it says none is running; an
// address given explicitly wins.
func TestCredentialsDescribeRunningServer(t *testing.T) {
	dataDir := t.TempDir()
	srv := startChild(t, dataDir)
	if srv.url == "http://127.0.0.1:8765" {
		t.Skip("the child took the default port; the test needs another")
	}
	credentials := func(args ...string) string {
		t.Helper()
		var out, errb bytes.Buffer
		if code := runEnv(append([]string{"credentials", "--data-dir", dataDir}, args...), func(string) string { return "" }, &out, &errb); code != 0 {
			t.Fatalf("credentials: exit %d: %s", code, errb.String())
		}
		return out.String()
	}
	out := credentials()
	if !strings.Contains(out, "export AWS_ENDPOINT_URL="+srv.url+"\n") || !strings.Contains(out, "the server running at "+srv.url) {
		t.Errorf("credentials while the server runs at %s:\n%s", srv.url, out)
	}
	// The printed credentials work against that server.
	c := clientFor(t, srv.url, dataDir)
	if _, err := c.ListEnvironments(context.Background(), &finspace.ListEnvironmentsInput{}); err != nil {
		t.Fatalf("ListEnvironments with the printed credentials: %v", err)
	}
	if out := credentials("--addr", "127.0.0.1:9999"); !strings.Contains(out, "export AWS_ENDPOINT_URL=http://127.0.0.1:9999\n") {
		t.Errorf("credentials --addr 127.0.0.1:9999:\n%s", out)
	}
	srv.stop(t)
	if out := credentials(); !strings.Contains(out, "export AWS_ENDPOINT_URL=http://127.0.0.1:8765\n") || !strings.Contains(out, "none is running") {
		t.Errorf("credentials after the server stopped:\n%s", out)
	}
	if _, err := os.Stat(dataDir + "/serving.json"); !os.IsNotExist(err) {
		t.Errorf("serving.json after a stop: %v, want it removed", err)
	}
}

// TestLogFormatJSON: with --log-format json every line the server writes
// is one JSON record, from the start to the "stopped" line, including the
// start-up conditions (here: no kdb+ executable) and what other code logs
// through the standard library's logger.
func TestLogFormatJSON(t *testing.T) {
	dataDir := t.TempDir()
	cmd := exec.Command(os.Args[0], "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--log-format", "json")
	cmd.Env = append(os.Environ(), "OPENFINSPACE_TEST_RUN_MAIN=1")
	var errb lockedBuffer
	cmd.Stderr = &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(errb.String(), "serving at") {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("no serving line: %s", errb.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("exit: %v\n%s", err, errb.String())
	}
	var msgs []string
	for _, line := range strings.Split(strings.TrimSpace(errb.String()), "\n") {
		var rec struct {
			Time, Level, Msg string
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil || rec.Time == "" || rec.Level == "" || rec.Msg == "" {
			t.Errorf("not a JSON log record: %q (%v)", line, err)
			continue
		}
		msgs = append(msgs, rec.Level+" "+rec.Msg)
	}
	all := strings.Join(msgs, "\n")
	for _, want := range []string{"INFO openfinspace listening", "WARN no kdb+ executable configured", "serving at http://",
		"INFO shutting down", "INFO openfinspace stopped"} {
		if !strings.Contains(all, want) {
			t.Errorf("the log lacks %q:\n%s", want, all)
		}
	}
}

// lockedBuffer is a bytes.Buffer a child's output is copied into while the
// test reads it.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestStandardLoggerRedirected: after useLogger, the standard library's
// logger writes records of the configured handler.
func TestStandardLoggerRedirected(t *testing.T) {
	prev := slog.Default()
	defer slog.SetDefault(prev)
	var buf bytes.Buffer
	useLogger(slog.New(slog.NewJSONHandler(&buf, nil)))
	stdlog.Print("through the standard logger")
	var rec struct{ Level, Msg string }
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil || rec.Msg != "through the standard logger" || rec.Level != "INFO" {
		t.Errorf("the standard logger wrote %q (%v), want one JSON record", buf.String(), err)
	}
}
