// Package servertest starts real openfinspace servers for tests (SQLite on
// disk in t.TempDir(), a real listener on 127.0.0.1:0) and builds real AWS
// SDK clients pointed at them. Test code only.
package servertest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"

	"github.com/openfinspace/openfinspace/internal/server"
)

// Region is the region test clients sign for.
const Region = "us-east-1"

// Start runs a server until the test ends. opts may adjust the config.
func Start(t testing.TB, opts ...func(*server.Config)) *server.Server {
	t.Helper()
	cfg := server.Config{
		Addr:          "127.0.0.1:0",
		DataDir:       t.TempDir(),
		LifecycleStep: 50 * time.Millisecond,
		Logger:        slog.New(slog.NewTextHandler(logWriter(), &slog.HandlerOptions{Level: slog.LevelWarn})),
	}
	for _, o := range opts {
		o(&cfg)
	}
	ctx := context.Background()
	srv, err := server.New(ctx, cfg)
	if err != nil {
		t.Fatalf("server.New: %v", err)
	}
	if err := srv.Start(ctx); err != nil {
		t.Fatalf("server.Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("shutdown: %v", err)
		}
	})
	return srv
}

func logWriter() io.Writer {
	if os.Getenv("OPENFINSPACE_TEST_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}

// Finspace returns an aws-sdk-go-v2 finspace client for srv's root
// credentials. opts may override the options (credentials, region).
func Finspace(srv *server.Server, opts ...func(*finspace.Options)) *finspace.Client {
	root := srv.Root()
	o := finspace.Options{
		Region:           Region,
		BaseEndpoint:     aws.String(srv.URL()),
		Credentials:      credentials.NewStaticCredentialsProvider(root.AccessKeyID, root.SecretAccessKey, ""),
		RetryMaxAttempts: 1,
	}
	for _, f := range opts {
		f(&o)
	}
	return finspace.New(o)
}

// WantS3Error reports a test error unless err is an S3 error with HTTP
// status and (unless code is "") error code code.
func WantS3Error(t testing.TB, what string, err error, code string, status int) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: no error, want %s (%d)", what, code, status)
		return
	}
	var ae smithy.APIError
	var re interface{ HTTPStatusCode() int }
	gotCode, gotStatus := "", 0
	if errors.As(err, &ae) {
		gotCode = ae.ErrorCode()
	}
	if errors.As(err, &re) {
		gotStatus = re.HTTPStatusCode()
	}
	if (code != "" && gotCode != code) || gotStatus != status {
		t.Errorf("%s: error %s (%d) %v, want %s (%d)", what, gotCode, gotStatus, err, code, status)
	}
}

// S3Body reads a whole object with c, failing the test on an error.
func S3Body(t testing.TB, c *s3.Client, in *s3.GetObjectInput) string {
	t.Helper()
	out, err := c.GetObject(context.Background(), in)
	if err != nil {
		t.Fatalf("GetObject %s/%s: %v", aws.ToString(in.Bucket), aws.ToString(in.Key), err)
	}
	defer out.Body.Close()
	b, err := io.ReadAll(out.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
