// Package clients_test drives openfinspace with the real Python clients
// installed on the machine (boto3 and the AWS CLI), so `go test ./...` runs
// them together with the Go tests.
//
// The clients are found as python3 (override with PYTHON3=/path/to/python3)
// and aws (override with AWS_CLI=/path/to/aws). When one is missing the test
// is skipped, except when CI is set: then a missing client fails the run.
package clients_test

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/server/servertest"
	"github.com/openfinspace/openfinspace/internal/serverbin"
)

const (
	scriptTimeout = 5 * time.Minute // a bound on a hung client, not a speed check: a loaded 2-core machine runs a CLI script in minutes
	region        = "us-east-1"
)

// TestBoto3Environments runs testdata/environments_boto3.py against an
// in-process server.
func TestBoto3Environments(t *testing.T) {
	t.Parallel()
	python := requirePythonBoto3(t)
	srv := servertest.Start(t)
	root := srv.Root()
	runClient(t, clientEnv(t, srv.URL(), root.AccessKeyID, root.SecretAccessKey),
		python, testdataPath(t, "environments_boto3.py"))
}

// TestAWSCLIEnvironments runs testdata/environments_cli.sh (the aws CLI)
// against an in-process server.
func TestAWSCLIEnvironments(t *testing.T) {
	t.Parallel()
	cli := requireAWSCLI(t)
	python := requirePython(t) // the script parses JSON with python3
	bash, err := exec.LookPath("bash")
	if err != nil {
		missingClient(t, "bash is not installed")
	}
	srv := servertest.Start(t)
	root := srv.Root()
	env := clientEnv(t, srv.URL(), root.AccessKeyID, root.SecretAccessKey)
	env = append(env, "AWS_CLI="+cli, "PYTHON3="+python)
	runClient(t, env, bash, testdataPath(t, "environments_cli.sh"))
}

// TestBoto3AgainstBinary builds cmd/openfinspace, starts `openfinspace
// serve` as a separate process (default lifecycle timing), takes the client
// setup from `openfinspace credentials`, runs the boto3 script against it and
// checks that SIGTERM stops the server cleanly.
func TestBoto3AgainstBinary(t *testing.T) {
	t.Parallel()
	python := requirePythonBoto3(t)
	bin := buildBinary(t)
	dataDir := t.TempDir()
	srv := startBinary(t, bin, dataDir)

	creds := credentialsFromBinary(t, bin, dataDir, srv.addr)
	endpoint := "http://" + srv.addr
	if got := creds["AWS_ENDPOINT_URL"]; got != endpoint {
		t.Errorf("credentials: AWS_ENDPOINT_URL=%q, want %q", got, endpoint)
	}
	if creds["AWS_REGION"] != region || creds["AWS_DEFAULT_REGION"] != region {
		t.Errorf("credentials: AWS_REGION=%q AWS_DEFAULT_REGION=%q, want %s", creds["AWS_REGION"], creds["AWS_DEFAULT_REGION"], region)
	}
	if creds["AWS_ACCESS_KEY_ID"] == "" || creds["AWS_SECRET_ACCESS_KEY"] == "" {
		t.Fatalf("credentials printed no keys: %v", creds)
	}

	runClient(t, clientEnv(t, endpoint, creds["AWS_ACCESS_KEY_ID"], creds["AWS_SECRET_ACCESS_KEY"]),
		python, testdataPath(t, "environments_boto3.py"))

	srv.stop(t)
	if out := srv.stdout.String(); out != "" {
		t.Errorf("serve wrote to stdout (it should log to stderr only): %q", out)
	}
	if log := srv.stderr.String(); strings.Contains(log, "level=ERROR") {
		t.Errorf("serve logged errors during a valid client run")
	}
	if t.Failed() {
		t.Logf("server log:\n%s", srv.stderr.String())
	}
}

// --- client discovery ---------------------------------------------------

// missingClient skips the test, or fails it when running in CI, where every
// client must be present.
func missingClient(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set, so client tests must run)", msg)
	}
	t.Skipf("%s; skipping (set CI=1 to make this a failure)", msg)
}

func lookPathEnv(t *testing.T, envVar, def string) string {
	t.Helper()
	name := os.Getenv(envVar)
	if name == "" {
		name = def
	}
	path, err := exec.LookPath(name)
	if err != nil {
		missingClient(t, "%s not found (%v); install it or set %s", name, err, envVar)
	}
	return path
}

// probe runs a short command and returns its output or an error.
func probe(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = hermeticEnv()
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

// requirePython returns the interpreter behind python3 (sys.executable, so
// a pyenv shim is resolved once instead of on every call).
func requirePython(t *testing.T) string {
	t.Helper()
	python := lookPathEnv(t, "PYTHON3", "python3")
	out, err := probe(python, "-c", "import json, sys; print(sys.executable)")
	if err != nil {
		missingClient(t, "%s does not run: %v: %s", python, err, lastLine(out))
	}
	if exe := lastLine(out); filepath.IsAbs(exe) {
		return exe
	}
	return python
}

func requirePythonBoto3(t *testing.T) string {
	t.Helper()
	python := requirePython(t)
	out, err := probe(python, "-c", "import boto3, botocore; print('boto3', boto3.__version__, 'botocore', botocore.__version__)")
	if err != nil {
		missingClient(t, "boto3 is not importable by %s: %v: %s", python, err, lastLine(out))
	}
	t.Logf("using %s (%s)", python, out)
	return python
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.TrimSpace(lines[len(lines)-1])
}

func requireAWSCLI(t *testing.T) string {
	t.Helper()
	cli := lookPathEnv(t, "AWS_CLI", "aws")
	out, err := probe(cli, "--version")
	if err != nil {
		missingClient(t, "%s --version fails: %v: %s", cli, err, out)
	}
	t.Logf("using %s (%s)", cli, out)
	return cli
}

func testdataPath(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// --- running clients ----------------------------------------------------

// hermeticEnv is os.Environ() without AWS_* and OPENFINSPACE_* variables,
// so a developer's profile, region, endpoint or session token cannot change
// what the clients do.
func hermeticEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "OPENFINSPACE_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

// clientEnv is the environment for a client script talking to endpoint.
func clientEnv(t *testing.T, endpoint, accessKeyID, secret string) []string {
	t.Helper()
	// Empty config and credentials files: ~/.aws must not interfere.
	emptyConfig := filepath.Join(t.TempDir(), "aws-config")
	if err := os.WriteFile(emptyConfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	return append(hermeticEnv(),
		"OPENFINSPACE_ENDPOINT="+endpoint,
		"AWS_ENDPOINT_URL="+endpoint,
		"AWS_ACCESS_KEY_ID="+accessKeyID,
		"AWS_SECRET_ACCESS_KEY="+secret,
		"AWS_REGION="+region,
		"AWS_DEFAULT_REGION="+region,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+emptyConfig,
		"AWS_SHARED_CREDENTIALS_FILE="+emptyConfig,
		"PYTHONUNBUFFERED=1",
		"PYTHONDONTWRITEBYTECODE=1",
	)
}

// runClient runs name args with env, streaming its output into the test log
// line by line (visible with -v and on failure), and fails the test on a
// non-zero exit or after scriptTimeout.
func runClient(t *testing.T, env []string, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	cmd.WaitDelay = 5 * time.Second
	out := &testLogWriter{t: t, prefix: filepath.Base(args[len(args)-1]) + ": "}
	cmd.Stdout = out
	cmd.Stderr = out
	start := time.Now()
	err := cmd.Run()
	out.flush()
	elapsed := time.Since(start).Round(time.Millisecond)
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s did not finish within %s (full output above)", filepath.Base(args[len(args)-1]), scriptTimeout)
	case err != nil:
		t.Fatalf("%s failed after %s: %v (full output above)", filepath.Base(args[len(args)-1]), elapsed, err)
	default:
		t.Logf("%s passed in %s", filepath.Base(args[len(args)-1]), elapsed)
	}
}

// testLogWriter sends complete lines to t.Log.
type testLogWriter struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		w.t.Log(w.prefix + string(w.buf[:i]))
		w.buf = w.buf[i+1:]
	}
	return len(p), nil
}

func (w *testLogWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.t.Log(w.prefix + string(w.buf))
		w.buf = nil
	}
}

// --- the shipped binary -------------------------------------------------

func buildBinary(t *testing.T) string {
	t.Helper()
	bin, took, err := serverbin.Build(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built %s in %s", bin, took.Round(time.Millisecond))
	return bin
}

// syncBuffer is a bytes.Buffer safe for the process's writer goroutine and
// the test to use at once.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type binaryServer struct {
	addr           string
	cmd            *exec.Cmd
	done           chan struct{} // closed when the process has exited
	waitErr        error         // valid after done is closed
	stdout, stderr *syncBuffer
}

// startBinary starts `bin serve` on a free loopback port and waits for
// /healthz. It retries with another port if the chosen one was taken
// between picking it and the server binding it.
func startBinary(t *testing.T, bin, dataDir string) *binaryServer {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addr := freeAddr(t)
		s := &binaryServer{addr: addr, done: make(chan struct{}), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
		s.cmd = exec.Command(bin, "serve", "--addr", addr, "--data-dir", dataDir)
		s.cmd.Env = hermeticEnv()
		s.cmd.Stdout = s.stdout
		s.cmd.Stderr = s.stderr
		if err := s.cmd.Start(); err != nil {
			t.Fatalf("starting %s serve: %v", bin, err)
		}
		go func() {
			s.waitErr = s.cmd.Wait()
			close(s.done)
		}()
		t.Cleanup(func() {
			select {
			case <-s.done:
			default:
				_ = s.cmd.Process.Kill()
				<-s.done
			}
		})
		if lastErr = s.waitHealthy(10 * time.Second); lastErr == nil {
			t.Logf("openfinspace serve running at %s (pid %d)", addr, s.cmd.Process.Pid)
			return s
		}
		select {
		case <-s.done: // exited early, e.g. the port was taken: try again
			t.Logf("serve on %s exited early: %v\n%s", addr, s.waitErr, s.stderr.String())
		default:
			t.Fatalf("serve on %s: %v\nserver log:\n%s", addr, lastErr, s.stderr.String())
		}
	}
	t.Fatalf("could not start openfinspace serve: %v", lastErr)
	return nil
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := serverbin.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func (s *binaryServer) waitHealthy(limit time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-s.done:
			return fmt.Errorf("process exited: %v", s.waitErr)
		default:
		}
		resp, err := client.Get("http://" + s.addr + "/healthz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("/healthz answered %s", resp.Status)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not healthy after %s: %v", limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stop sends SIGTERM and requires a clean exit (status 0) within 10 s.
func (s *binaryServer) stop(t *testing.T) {
	t.Helper()
	start := time.Now()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("serve did not exit within 10s of SIGTERM\nserver log:\n%s", s.stderr.String())
	}
	if s.waitErr != nil {
		var ee *exec.ExitError
		if errors.As(s.waitErr, &ee) {
			t.Errorf("serve exited with status %d after SIGTERM, want 0\nserver log:\n%s", ee.ExitCode(), s.stderr.String())
		} else {
			t.Errorf("serve after SIGTERM: %v", s.waitErr)
		}
		return
	}
	t.Logf("serve exited 0 %s after SIGTERM", time.Since(start).Round(time.Millisecond))
}

// credentialsFromBinary runs `bin credentials` for the data dir and returns
// the variables of its export lines.
func credentialsFromBinary(t *testing.T, bin, dataDir, addr string) map[string]string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "credentials", "--data-dir", dataDir, "--addr", addr)
	cmd.Env = hermeticEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("openfinspace credentials: %v\n%s", err, stderr.String())
	}
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		rest, ok := strings.CutPrefix(line, "export ")
		if !ok {
			continue
		}
		k, v, ok := strings.Cut(rest, "=")
		if !ok {
			t.Fatalf("credentials: malformed line %q", line)
		}
		vars[k] = v
	}
	return vars
}
