package blobtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// MinIO is the external S3 service that the conformance suite and the
// tests of several servers on one S3 run against. It is started once per
// test process, on 127.0.0.1 with a random port and a temporary data
// directory, and stopped by TestMain (StopMinIO).
//
// When OPENFINSPACE_TEST_MINIO_URL is set (with OPENFINSPACE_TEST_MINIO_USER
// and OPENFINSPACE_TEST_MINIO_PASSWORD), that server is used instead and
// left running: scripts/test.sh starts one MinIO for every package. Tests
// sharing it use bucket names of their own.
//
// The binary is found as $OPENFINSPACE_MINIO, minio on PATH or
// $(go env GOPATH)/bin/minio; otherwise it is built there once with
// `go install github.com/minio/minio@<minioVersion>` (a few minutes on a
// cold module cache). When it cannot be found or built the MinIO tests are
// skipped, or fail when OPENFINSPACE_REQUIRE_MINIO or CI is set.
const minioVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"

// MinIO is a running MinIO server (RequireMinIO).
type MinIO struct {
	// URL is the S3 endpoint; User and Password the root credentials
	// (access key id and secret).
	URL, User, Password string

	cmd  *exec.Cmd
	dir  string
	done chan struct{}
}

var (
	minioOnce sync.Once
	minio     *MinIO
	minioErr  error
)

// RequireMinIO returns the test process's MinIO, starting it on first use.
// When it cannot be found or started the test is skipped, or fails when
// OPENFINSPACE_REQUIRE_MINIO or CI is set (CI must run the MinIO tests).
// A package using it calls StopMinIO from TestMain.
func RequireMinIO(t testing.TB) *MinIO {
	t.Helper()
	minioOnce.Do(func() {
		if url := os.Getenv("OPENFINSPACE_TEST_MINIO_URL"); url != "" {
			minio = &MinIO{URL: url, User: os.Getenv("OPENFINSPACE_TEST_MINIO_USER"), Password: os.Getenv("OPENFINSPACE_TEST_MINIO_PASSWORD")}
			minioErr = minio.ping()
			return
		}
		minio, minioErr = startMinIO()
	})
	if minioErr != nil {
		if os.Getenv("OPENFINSPACE_REQUIRE_MINIO") != "" || os.Getenv("CI") != "" {
			t.Fatalf("MinIO (required: OPENFINSPACE_REQUIRE_MINIO or CI is set): %v", minioErr)
		}
		t.Skipf("MinIO is not available, skipping the external S3 tests: %v", minioErr)
	}
	return minio
}

func findMinIO() (string, error) {
	if p := os.Getenv("OPENFINSPACE_MINIO"); p != "" {
		return p, nil
	}
	if p, err := exec.LookPath("minio"); err == nil {
		return p, nil
	}
	out, err := exec.Command("go", "env", "GOPATH").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOPATH: %v", err)
	}
	gopath := strings.TrimSpace(strings.Split(string(out), string(os.PathListSeparator))[0])
	bin := filepath.Join(gopath, "bin", "minio")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if os.Getenv("OPENFINSPACE_NO_MINIO_BUILD") != "" {
		return "", fmt.Errorf("no minio binary and OPENFINSPACE_NO_MINIO_BUILD is set")
	}
	// Build it once, under a lock shared with other test processes.
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(bin+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", err
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", "github.com/minio/minio@"+minioVersion)
	cmd.Env = append(os.Environ(), "GOBIN="+filepath.Dir(bin), "CGO_ENABLED=0", "GOFLAGS=-buildvcs=false")
	cmd.Dir = os.TempDir()
	if out, err := cmd.CombinedOutput(); err != nil {
		tail := string(out)
		if len(tail) > 2000 {
			tail = tail[len(tail)-2000:]
		}
		return "", fmt.Errorf("go install github.com/minio/minio@%s: %v\n%s", minioVersion, err, tail)
	}
	return bin, nil
}

func startMinIO() (*MinIO, error) {
	bin, err := findMinIO()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "openfinspace-minio-")
	if err != nil {
		return nil, err
	}
	var pw [12]byte
	_, _ = rand.Read(pw[:])
	m := &MinIO{User: "openfinspace", Password: hex.EncodeToString(pw[:]), dir: dir}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addr, consoleAddr := freeAddr(), freeAddr()
		m.URL = "http://" + addr
		m.cmd = exec.Command(bin, "server", filepath.Join(dir, "data"), "--address", addr, "--console-address", consoleAddr, "--quiet")
		m.cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+m.User, "MINIO_ROOT_PASSWORD="+m.Password,
			"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=1")
		log, _ := os.Create(filepath.Join(dir, "minio.log"))
		m.cmd.Stdout, m.cmd.Stderr = log, log
		// Gone with the test process, even when it is killed.
		m.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := m.cmd.Start(); err != nil {
			return nil, fmt.Errorf("starting minio: %v", err)
		}
		m.done = make(chan struct{})
		go func() { _ = m.cmd.Wait(); close(m.done); log.Close() }()
		if lastErr = m.waitReady(60 * time.Second); lastErr == nil {
			return m, nil
		}
		_ = m.cmd.Process.Kill()
		<-m.done
	}
	logData, _ := os.ReadFile(filepath.Join(dir, "minio.log"))
	os.RemoveAll(dir)
	return nil, fmt.Errorf("minio did not become ready: %v\n%s", lastErr, logData)
}

// ping checks that a MinIO started by someone else answers.
func (m *MinIO) ping() error {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(m.URL + "/minio/health/ready")
	if err != nil {
		return fmt.Errorf("OPENFINSPACE_TEST_MINIO_URL=%s: %v", m.URL, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("OPENFINSPACE_TEST_MINIO_URL=%s: readiness answered %s", m.URL, resp.Status)
	}
	return nil
}

func (m *MinIO) waitReady(limit time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-m.done:
			return fmt.Errorf("minio exited")
		default:
		}
		resp, err := client.Get(m.URL + "/minio/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("not ready within %s", limit)
}

// StopMinIO stops the test process's MinIO, if one was started (call it
// from TestMain after m.Run).
func StopMinIO() {
	if minio == nil || minio.cmd == nil { // none, or not ours to stop
		return
	}
	_ = minio.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-minio.done:
	case <-time.After(10 * time.Second):
		_ = minio.cmd.Process.Kill()
		<-minio.done
	}
	os.RemoveAll(minio.dir)
}

func freeAddr() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}
