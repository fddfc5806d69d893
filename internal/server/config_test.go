package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/finspace"

	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
	"github.com/openfinspace/openfinspace/internal/store/postgres/pgtest"
)

// TestNoEnvironmentReads: server.New is built from its Config alone; the
// flags and environment variables are parsed in cmd/openfinspace.
func TestNoEnvironmentReads(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, call := range []string{"os.Getenv", "os.LookupEnv", "os.Environ", "os.ExpandEnv"} {
			if bytes.Contains(b, []byte(call)) {
				t.Errorf("%s calls %s: configuration belongs in server.Config (parsed by cmd/openfinspace)", f, call)
			}
		}
	}
}

// lockedBuffer collects a logger's output.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func TestServerKeyFromConfig(t *testing.T) {
	key := bytes.Repeat([]byte{7}, 32)
	dir := t.TempDir()
	srv := servertest.Start(t, func(c *server.Config) { c.ServerKey, c.DataDir = key, dir })
	ctx := context.Background()
	if _, err := servertest.Finspace(srv).CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{Name: aws.String("keyed")}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "keys", "server.key")); !os.IsNotExist(err) {
		t.Errorf("a key file was written with the key in the config: %v", err)
	}
	if _, err := server.New(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: t.TempDir(), ServerKey: key[:16]}); err == nil {
		t.Error("a 16-byte server key was accepted")
	}
}

func TestPostgresNeedsSharedConfig(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	_, err := server.New(ctx, server.Config{Addr: "127.0.0.1:0", DataDir: dir, DatabaseURL: "postgres://u:pw@127.0.0.1:1/none"})
	if err == nil {
		t.Fatal("a PostgreSQL server started without a configured key and root credentials")
	}
	for _, want := range []string{"OPENFINSPACE_SERVER_KEY", "--server-key-file", "OPENFINSPACE_ACCESS_KEY_ID", "OPENFINSPACE_SECRET_ACCESS_KEY"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
	if strings.Contains(err.Error(), "pw@") {
		t.Errorf("error %q shows the password", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 0 {
		t.Errorf("the data dir got %d entries; nothing shared may come from it", len(entries))
	}
}

// TestPostgresEmbeddedS3Warning: on PostgreSQL with the embedded S3 store
// the server warns, once, that objects stay in this process's data dir.
func TestPostgresEmbeddedS3Warning(t *testing.T) {
	url := pgtest.URL(t)
	var logs lockedBuffer
	servertest.Start(t, func(c *server.Config) {
		c.DatabaseURL = url
		c.ServerKey = bytes.Repeat([]byte{1}, 32)
		c.RootAccessKeyID, c.RootSecretAccessKey = "AKIAPGTEST", "pg-test-secret"
		c.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	})
	if n := strings.Count(logs.String(), "OPENFINSPACE_S3_ENDPOINT"); n != 1 {
		t.Errorf("%d warnings naming OPENFINSPACE_S3_ENDPOINT, want 1:\n%s", n, logs.String())
	}
}
