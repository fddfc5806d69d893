package blob_test

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

// MinIO is the external S3 service the conformance suite runs against. It
// is started once per test process, on 127.0.0.1 with a random port and a
// temporary data directory, and stopped by TestMain.
//
// The binary is found as $OPENFINSPACE_MINIO, minio on PATH or
// $(go env GOPATH)/bin/minio; otherwise it is built there once with
// `go install github.com/minio/minio@<minioVersion>` (a few minutes on a
// cold module cache). When it cannot be found or built the MinIO tests are
// skipped, or fail when OPENFINSPACE_REQUIRE_MINIO is set.
const minioVersion = "v0.0.0-20260212201848-7aac2a2c5b7c"

type minioServer struct {
	url, user, password string
	cmd                 *exec.Cmd
	dir                 string
	done                chan struct{}
}

var (
	minioOnce sync.Once
	minio     *minioServer
	minioErr  error
)

func requireMinIO(t *testing.T) *minioServer {
	t.Helper()
	minioOnce.Do(func() { minio, minioErr = startMinIO() })
	if minioErr != nil {
		if os.Getenv("OPENFINSPACE_REQUIRE_MINIO") != "" {
			t.Fatalf("MinIO: %v", minioErr)
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

func startMinIO() (*minioServer, error) {
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
	m := &minioServer{user: "openfinspace", password: hex.EncodeToString(pw[:]), dir: dir}
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		addr, consoleAddr := freeAddr(), freeAddr()
		m.url = "http://" + addr
		m.cmd = exec.Command(bin, "server", filepath.Join(dir, "data"), "--address", addr, "--console-address", consoleAddr, "--quiet")
		m.cmd.Env = append(os.Environ(), "MINIO_ROOT_USER="+m.user, "MINIO_ROOT_PASSWORD="+m.password,
			"MINIO_BROWSER=off", "MINIO_UPDATE=off", "MINIO_CI_CD=1")
		log, _ := os.Create(filepath.Join(dir, "minio.log"))
		m.cmd.Stdout, m.cmd.Stderr = log, log
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

func (m *minioServer) waitReady(limit time.Duration) error {
	client := &http.Client{Timeout: 2 * time.Second}
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case <-m.done:
			return fmt.Errorf("minio exited")
		default:
		}
		resp, err := client.Get(m.url + "/minio/health/ready")
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

func stopMinIO() {
	if minio == nil {
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
