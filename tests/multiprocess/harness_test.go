package multiprocess_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/serverbin"
)

// --- the shipped binary -------------------------------------------------

// buildBinary builds cmd/openfinspace once per test process.
var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildDir  string
)

func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		if buildDir, buildErr = os.MkdirTemp("", "openfinspace-multiprocess-"); buildErr != nil {
			return
		}
		var took time.Duration
		if binPath, took, buildErr = serverbin.Build(context.Background(), buildDir); buildErr == nil {
			fmt.Fprintf(os.Stderr, "built %s in %s\n", binPath, took.Round(time.Millisecond))
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// syncBuffer is a bytes.Buffer safe for a process's writer and the test.
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

// serverProcess is one `openfinspace serve` process.
type serverProcess struct {
	name    string
	url     string
	dataDir string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done
	log     *syncBuffer
}

// hermeticEnv is os.Environ() without AWS_* and OPENFINSPACE_* variables,
// so nothing of the developer's (or the test's own) configuration leaks
// into the processes.
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

// startServer starts `bin serve` on a free loopback port with the
// environment env (NAME=value) and waits until /healthz answers. It retries
// on another port if the chosen one was taken meanwhile.
func startServer(t *testing.T, name, bin string, env []string) *serverProcess {
	t.Helper()
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addr := freeAddr(t)
		p := &serverProcess{name: name, url: "http://" + addr, dataDir: t.TempDir(), done: make(chan struct{}), log: &syncBuffer{}}
		p.cmd = exec.Command(bin, "serve", "--addr", addr, "--data-dir", p.dataDir, "--log-level", "info")
		p.cmd.Env = append(hermeticEnv(), env...)
		p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
		// Gone with the test process, even when it is killed.
		p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := p.cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", name, err)
		}
		go func() {
			p.waitErr = p.cmd.Wait()
			close(p.done)
		}()
		t.Cleanup(func() {
			p.kill()
			if t.Failed() {
				t.Logf("--- log of %s (pid %d):\n%s", p.name, p.cmd.Process.Pid, p.log.String())
			}
		})
		if lastErr = p.waitHealthy(30 * time.Second); lastErr == nil {
			t.Logf("%s: openfinspace serve at %s (pid %d)", name, p.url, p.cmd.Process.Pid)
			return p
		}
		select {
		case <-p.done:
			t.Logf("%s on %s exited early: %v\n%s", name, addr, p.waitErr, p.log.String())
		default:
			t.Fatalf("%s on %s: %v\nlog:\n%s", name, addr, lastErr, p.log.String())
		}
	}
	t.Fatalf("could not start %s: %v", name, lastErr)
	return nil
}

func (p *serverProcess) pid() int { return p.cmd.Process.Pid }

// kill sends SIGKILL and waits for the process to exit.
func (p *serverProcess) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func (p *serverProcess) waitHealthy(limit time.Duration) error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(limit)
	for {
		select {
		case <-p.done:
			return fmt.Errorf("process exited: %v", p.waitErr)
		default:
		}
		resp, err := client.Get(p.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("/healthz did not answer within %s (last error: %v)", limit, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	addr, err := serverbin.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func randomKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// --- python and boto3 (as tests/clients finds them) ---------------------

// missingClient skips the test, or fails it when CI is set.
func missingClient(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set, so client tests must run)", msg)
	}
	t.Skipf("%s; skipping (set CI=1 to make this a failure)", msg)
}

// requirePythonBoto3 returns python3 (or $PYTHON3) when it imports boto3.
func requirePythonBoto3(t *testing.T) string {
	t.Helper()
	name := os.Getenv("PYTHON3")
	if name == "" {
		name = "python3"
	}
	python, err := exec.LookPath(name)
	if err != nil {
		missingClient(t, "%s not found (%v); install it or set PYTHON3", name, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, "-c", "import boto3, botocore, sys; print(sys.executable, 'boto3', boto3.__version__)")
	cmd.Env = hermeticEnv()
	out, err := cmd.CombinedOutput()
	if err != nil {
		missingClient(t, "boto3 is not importable by %s: %v: %s", python, err, strings.TrimSpace(string(out)))
	}
	fields := strings.Fields(string(out))
	t.Logf("using %s", strings.TrimSpace(string(out)))
	if len(fields) > 0 && filepath.IsAbs(fields[0]) {
		return fields[0] // a pyenv shim resolved once
	}
	return python
}

// runPython runs a script under testdata with env, logging its output.
func runPython(t *testing.T, python, script string, env []string) {
	t.Helper()
	path, err := filepath.Abs(filepath.Join("testdata", script))
	if err != nil {
		t.Fatal(err)
	}
	emptyConfig := filepath.Join(t.TempDir(), "aws-config")
	if err := os.WriteFile(emptyConfig, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, python, path)
	cmd.Env = append(hermeticEnv(), "AWS_CONFIG_FILE="+emptyConfig, "AWS_SHARED_CREDENTIALS_FILE="+emptyConfig,
		"AWS_EC2_METADATA_DISABLED=true", "PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1")
	cmd.Env = append(cmd.Env, env...)
	cmd.Dir = t.TempDir()
	start := time.Now()
	out, err := cmd.CombinedOutput()
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		t.Logf("%s: %s", script, line)
	}
	if err != nil {
		t.Fatalf("%s failed after %s: %v", script, time.Since(start).Round(time.Millisecond), err)
	}
	t.Logf("%s passed in %s", script, time.Since(start).Round(time.Millisecond))
}
