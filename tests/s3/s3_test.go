// Package s3_test drives openfinspace's S3 endpoint with the real clients
// installed on the machine: the AWS CLI (testdata/s3_cli.sh) and boto3
// (testdata/s3_boto3.py), each against a server started in this process,
// through the main port with --endpoint-url.
//
// Clients: aws and python3 on PATH (override with AWS_CLI and PYTHON3), and
// Debian's /usr/bin/aws (AWS CLI 2) and /usr/bin/python3 (boto3 1.26) when
// they are installed. A missing client skips its test, except when CI is
// set: then it fails.
package s3_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

const (
	scriptTimeout = 5 * time.Minute
	region        = "us-east-1"
)

func missingClient(t *testing.T, format string, args ...any) {
	t.Helper()
	msg := fmt.Sprintf(format, args...)
	if os.Getenv("CI") != "" {
		t.Fatalf("%s (CI is set, so client tests must run)", msg)
	}
	t.Skipf("%s; skipping (set CI=1 to make this a failure)", msg)
}

// hermeticEnv is os.Environ() without AWS_* and OPENFINSPACE_* variables.
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

func probe(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = hermeticEnv()
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

type client struct{ name, path, version string }

// clients finds the executables: the one named by envVar or def on PATH,
// and extra when it exists and is another program.
func clients(t *testing.T, envVar, def, extra string, versionArgs ...string) []client {
	t.Helper()
	var out []client
	name := os.Getenv(envVar)
	if name == "" {
		name = def
	}
	seen := map[string]bool{}
	for i, n := range []string{name, extra} {
		if n == "" {
			continue
		}
		p, err := exec.LookPath(n)
		if err != nil {
			if i == 0 {
				missingClient(t, "%s not found (%v); install it or set %s", n, err, envVar)
			}
			continue
		}
		v, err := probe(p, versionArgs...)
		if err != nil {
			if i == 0 {
				missingClient(t, "%s does not run: %v: %s", p, err, v)
			}
			t.Logf("ignoring %s: %v: %s", p, err, v)
			continue
		}
		lines := strings.Split(v, "\n")
		v = strings.TrimSpace(lines[len(lines)-1])
		if v == "" {
			v = p
		}
		if seen[v] {
			continue
		}
		seen[v] = true
		out = append(out, client{name: filepath.Base(p) + "@" + strings.Fields(v)[0], path: p, version: v})
	}
	return out
}

// fixture starts a server with a bucket for scoped reads and returns the
// environment for a client script.
func fixture(t *testing.T) []string {
	t.Helper()
	srv := servertest.Start(t)
	root := srv.Root()
	ctx := context.Background()
	c := s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(srv.URL()), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(root.AccessKeyID, root.SecretAccessKey, "")})
	const bucket = "scoped-data"
	if _, err := c.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"allowed/x.txt": "allowed data", "secret/y.txt": "secret data"} {
		if _, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(k), Body: strings.NewReader(v)}); err != nil {
			t.Fatal(err)
		}
	}
	cred, err := srv.IssueScopedRead(ctx, bucket, "allowed/", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return clientEnv(t, srv, root, []string{
		"SCOPED_BUCKET=" + bucket,
		"SCOPED_ACCESS_KEY_ID=" + cred.AccessKeyID,
		"SCOPED_SECRET_ACCESS_KEY=" + cred.SecretAccessKey,
		"SCOPED_SESSION_TOKEN=" + cred.SessionToken,
	})
}

func clientEnv(t *testing.T, srv *server.Server, root server.RootCredentials, extra []string) []string {
	t.Helper()
	empty := filepath.Join(t.TempDir(), "aws-empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	env := append(hermeticEnv(),
		"OPENFINSPACE_ENDPOINT="+srv.URL(),
		"AWS_ACCESS_KEY_ID="+root.AccessKeyID,
		"AWS_SECRET_ACCESS_KEY="+root.SecretAccessKey,
		"AWS_REGION="+region,
		"AWS_DEFAULT_REGION="+region,
		"AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE="+empty,
		"AWS_SHARED_CREDENTIALS_FILE="+empty,
		"AWS_PAGER=",
		"PYTHONUNBUFFERED=1",
		"PYTHONDONTWRITEBYTECODE=1",
	)
	return append(env, extra...)
}

func TestAWSCLIS3(t *testing.T) {
	t.Parallel()
	python := clients(t, "PYTHON3", "python3", "", "-c", "import json, sys; print('python', sys.version)")[0].path // the script parses JSON
	bash, err := exec.LookPath("bash")
	if err != nil {
		missingClient(t, "bash is not installed")
	}
	for _, cli := range clients(t, "AWS_CLI", "aws", "/usr/bin/aws", "--version") {
		t.Run(cli.name, func(t *testing.T) {
			t.Parallel()
			t.Logf("using %s (%s)", cli.path, cli.version)
			env := append(fixture(t), "AWS_CLI="+cli.path, "PYTHON3="+python)
			runClient(t, env, bash, testdata(t, "s3_cli.sh"))
		})
	}
}

func TestBoto3S3(t *testing.T) {
	t.Parallel()
	for _, py := range clients(t, "PYTHON3", "python3", "/usr/bin/python3", "-c", "import boto3; print('boto3', boto3.__version__)") {
		t.Run(py.name, func(t *testing.T) {
			t.Parallel()
			t.Logf("using %s (%s)", py.path, py.version)
			runClient(t, fixture(t), py.path, testdata(t, "s3_boto3.py"))
		})
	}
}

func testdata(t *testing.T, name string) string {
	t.Helper()
	p, err := filepath.Abs(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// runClient runs name args with env in an empty directory, streaming its
// output into the test log, and fails the test on a non-zero exit.
func runClient(t *testing.T, env []string, name string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), scriptTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	cmd.WaitDelay = 5 * time.Second
	script := filepath.Base(args[len(args)-1])
	out := &logWriter{t: t, prefix: script + ": "}
	cmd.Stdout, cmd.Stderr = out, out
	start := time.Now()
	err := cmd.Run()
	out.flush()
	switch {
	case ctx.Err() != nil:
		t.Fatalf("%s did not finish within %s", script, scriptTimeout)
	case err != nil:
		t.Fatalf("%s failed after %s: %v (output above)", script, time.Since(start).Round(time.Millisecond), err)
	default:
		t.Logf("%s passed in %s", script, time.Since(start).Round(time.Millisecond))
	}
}

type logWriter struct {
	t      *testing.T
	prefix string
	mu     sync.Mutex
	buf    []byte
}

func (w *logWriter) Write(p []byte) (int, error) {
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

func (w *logWriter) flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.t.Log(w.prefix + string(w.buf))
		w.buf = nil
	}
}
