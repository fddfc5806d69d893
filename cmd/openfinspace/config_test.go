package main

import (
	"bytes"
	"encoding/base64"
	"errors"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func envOf(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func testKey(b byte) string {
	return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32))
}

func TestParseConfigDefaults(t *testing.T) {
	o, err := parseConfig("serve", nil, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := o.Config
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	// The default data dir is made absolute against the working directory.
	if c.Addr != "127.0.0.1:8765" || c.DataDir != filepath.Join(wd, "openfinspace-data") || c.AccountID != "000000000000" ||
		c.PublicURL != "" || c.DatabaseURL != "" || c.MaxConnections != 0 || c.LifecycleStep != 0 || c.JobLease != 0 ||
		c.ServerKey != nil || c.RootAccessKeyID != "" || c.S3.External || c.S3.NoEndpoint || c.Logger == nil {
		t.Errorf("defaults: %+v", c)
	}
}

func TestParseConfigFlagBeatsEnv(t *testing.T) {
	keyFile := filepath.Join(t.TempDir(), "server.key")
	if err := os.WriteFile(keyFile, []byte(testKey(1)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"OPENFINSPACE_ADDR":                 "0.0.0.0:1",
		"OPENFINSPACE_DATA_DIR":             "/env/data",
		"OPENFINSPACE_ACCOUNT_ID":           "111111111111",
		"OPENFINSPACE_PUBLIC_URL":           "http://env",
		"OPENFINSPACE_LOG_LEVEL":            "bogus", // overridden by the flag: never parsed
		"OPENFINSPACE_MAX_CONNECTIONS":      "7",
		"OPENFINSPACE_DATABASE_URL":         "postgres://env@db/x",
		"OPENFINSPACE_SERVER_KEY":           testKey(2),
		"OPENFINSPACE_ACCESS_KEY_ID":        "AKIAENV",
		"OPENFINSPACE_SECRET_ACCESS_KEY":    "envsecret",
		"OPENFINSPACE_LIFECYCLE_STEP":       "3s",
		"OPENFINSPACE_JOB_LEASE":            "2s",
		"OPENFINSPACE_S3_ENDPOINT":          "http://127.0.0.1:9000",
		"OPENFINSPACE_S3_ACCESS_KEY_ID":     "minio",
		"OPENFINSPACE_S3_SECRET_ACCESS_KEY": "miniosecret",
		"OPENFINSPACE_S3_IDLE_TIMEOUT":      "5s",
	}
	// Environment only.
	o, err := parseConfig("serve", nil, envOf(env), io.Discard)
	if err == nil {
		t.Fatal("OPENFINSPACE_LOG_LEVEL=bogus accepted")
	}
	env["OPENFINSPACE_LOG_LEVEL"] = "debug"
	o, err = parseConfig("serve", nil, envOf(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c := o.Config
	if c.Addr != "0.0.0.0:1" || c.DataDir != "/env/data" || c.AccountID != "111111111111" || c.PublicURL != "http://env" ||
		c.MaxConnections != 7 || c.DatabaseURL != "postgres://env@db/x" || !bytes.Equal(c.ServerKey, bytes.Repeat([]byte{2}, 32)) ||
		c.RootAccessKeyID != "AKIAENV" || c.RootSecretAccessKey != "envsecret" || c.LifecycleStep != 3*time.Second ||
		c.JobLease != 2*time.Second || !c.S3.External || c.S3.S3.Endpoint != "http://127.0.0.1:9000" ||
		c.S3Limits.IdleTimeout != 5*time.Second {
		t.Errorf("from the environment: %+v", c)
	}
	// Flags beat it.
	env["OPENFINSPACE_LOG_LEVEL"] = "bogus"
	o, err = parseConfig("serve", []string{"--addr", "127.0.0.1:0", "--data-dir", "/flag/data", "--account-id", "222222222222",
		"--public-url", "http://flag", "--log-level", "warn", "--max-connections", "-1", "--database-url", "postgres://flag@db/y",
		"--server-key-file", keyFile}, envOf(env), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	c = o.Config
	if c.Addr != "127.0.0.1:0" || c.DataDir != "/flag/data" || c.AccountID != "222222222222" || c.PublicURL != "http://flag" ||
		c.MaxConnections != -1 || c.DatabaseURL != "postgres://flag@db/y" || !bytes.Equal(c.ServerKey, bytes.Repeat([]byte{1}, 32)) {
		t.Errorf("flags over the environment: %+v", c)
	}
	// An empty variable is unset.
	o, err = parseConfig("credentials", nil, envOf(map[string]string{"OPENFINSPACE_ADDR": "", "AWS_REGION": "eu-west-1"}), io.Discard)
	if err != nil || o.Addr != "127.0.0.1:8765" || o.Region != "eu-west-1" {
		t.Errorf("credentials: %+v, %v", o, err)
	}
}

func TestParseConfigErrors(t *testing.T) {
	badKeyFile := filepath.Join(t.TempDir(), "short.key")
	if err := os.WriteFile(badKeyFile, []byte(base64.StdEncoding.EncodeToString([]byte("sixteen bytes!!!"))), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		args   []string
		env    map[string]string
		want   string // in the error
		secret string // never in the error
	}{
		{name: "max connections flag", args: []string{"--max-connections", "many"}, want: `--max-connections "many"`},
		{name: "max connections below -1", args: []string{"--max-connections", "-2"}, want: "--max-connections"},
		{name: "max connections env", env: map[string]string{"OPENFINSPACE_MAX_CONNECTIONS": "lots"}, want: `OPENFINSPACE_MAX_CONNECTIONS="lots"`},
		{name: "log level", args: []string{"--log-level", "loud"}, want: `--log-level "loud"`},
		{name: "lifecycle step", env: map[string]string{"OPENFINSPACE_LIFECYCLE_STEP": "soon"}, want: `OPENFINSPACE_LIFECYCLE_STEP="soon"`},
		{name: "negative lease", env: map[string]string{"OPENFINSPACE_JOB_LEASE": "-1s"}, want: "OPENFINSPACE_JOB_LEASE"},
		{name: "key not base64", env: map[string]string{"OPENFINSPACE_SERVER_KEY": "not base64 at all!"},
			want: "OPENFINSPACE_SERVER_KEY", secret: "not base64 at all!"},
		{name: "key too short", env: map[string]string{"OPENFINSPACE_SERVER_KEY": "c2l4dGVlbiBieXRlcyEhIQ=="},
			want: "32 random bytes", secret: "c2l4dGVlbiBieXRlcyEhIQ=="},
		{name: "key file short", args: []string{"--server-key-file", badKeyFile}, want: "--server-key-file " + badKeyFile},
		{name: "key file missing", args: []string{"--server-key-file", "/nonexistent/key"}, want: "no such file"},
		{name: "half the root credentials", env: map[string]string{"OPENFINSPACE_SECRET_ACCESS_KEY": "hunter2"},
			want: "OPENFINSPACE_ACCESS_KEY_ID", secret: "hunter2"},
		{name: "s3 path style", env: map[string]string{"OPENFINSPACE_S3_PATH_STYLE": "maybe"}, want: "OPENFINSPACE_S3_PATH_STYLE"},
		{name: "s3 limits", env: map[string]string{"OPENFINSPACE_S3_MAX_REQUESTS": "0"}, want: "OPENFINSPACE_S3_MAX_REQUESTS"},
		{name: "stray argument", args: []string{"extra"}, want: `unexpected argument "extra"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := parseConfig("serve", tc.args, envOf(tc.env), io.Discard)
			if err == nil {
				t.Fatal("no error")
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not say %q", err, tc.want)
			}
			if tc.secret != "" && strings.Contains(err.Error(), tc.secret) {
				t.Errorf("error %q shows the secret", err)
			}
			// serve exits 2 and prints the error once.
			var errb bytes.Buffer
			if code := runEnv(append([]string{"serve"}, tc.args...), envOf(tc.env), io.Discard, &errb); code != 2 {
				t.Errorf("serve: exit %d, want 2", code)
			}
			if !strings.Contains(errb.String(), tc.want) {
				t.Errorf("serve's stderr %q does not say %q", errb.String(), tc.want)
			}
		})
	}
	var errb bytes.Buffer
	if _, err := parseConfig("serve", []string{"--no-such-flag"}, envOf(nil), &errb); err == nil || !strings.Contains(errb.String(), "no-such-flag") {
		t.Errorf("unknown flag: %v, %s", err, errb.String())
	}
}

// TestHelpShowsNoSecret: -h lists the flags with their built-in defaults,
// never values from the environment.
func TestHelpShowsNoSecret(t *testing.T) {
	secrets := map[string]string{
		"OPENFINSPACE_DATABASE_URL":         "postgres://u:pg-password-xyz@db/x",
		"OPENFINSPACE_SERVER_KEY":           testKey(9),
		"OPENFINSPACE_SECRET_ACCESS_KEY":    "root-secret-xyz",
		"OPENFINSPACE_ACCESS_KEY_ID":        "AKIAROOTXYZ",
		"OPENFINSPACE_S3_SECRET_ACCESS_KEY": "s3-secret-xyz",
		"OPENFINSPACE_ADDR":                 "10.9.8.7:1234",
	}
	for _, cmd := range []string{"serve", "credentials"} {
		for _, h := range []string{"-h", "--help"} {
			var out, errb bytes.Buffer
			if code := runEnv([]string{cmd, h}, envOf(secrets), &out, &errb); code != 0 {
				t.Errorf("%s %s: exit %d, want 0", cmd, h, code)
			}
			help := out.String() + errb.String()
			if !strings.Contains(help, "-data-dir") {
				t.Errorf("%s %s printed no usage: %q", cmd, h, help)
			}
			for name, v := range secrets {
				if strings.Contains(help, v) {
					t.Errorf("%s %s shows %s's value:\n%s", cmd, h, name, help)
				}
			}
		}
	}
	if _, err := parseConfig("serve", []string{"-h"}, envOf(secrets), io.Discard); !errors.Is(err, flag.ErrHelp) {
		t.Errorf("-h: %v, want flag.ErrHelp", err)
	}
}

func TestKeygen(t *testing.T) {
	seen := map[string]bool{}
	for range 2 {
		var out bytes.Buffer
		if code := runEnv([]string{"keygen"}, envOf(nil), &out, io.Discard); code != 0 {
			t.Fatalf("keygen: exit %d", code)
		}
		key := strings.TrimSuffix(out.String(), "\n")
		b, err := base64.StdEncoding.DecodeString(key)
		if err != nil || len(b) != 32 {
			t.Fatalf("keygen printed %q: %d bytes, %v", out.String(), len(b), err)
		}
		if seen[key] {
			t.Fatal("keygen printed the same key twice")
		}
		seen[key] = true
		// What it prints is what OPENFINSPACE_SERVER_KEY takes.
		o, err := parseConfig("serve", nil, envOf(map[string]string{"OPENFINSPACE_SERVER_KEY": key}), io.Discard)
		if err != nil || !bytes.Equal(o.ServerKey, b) {
			t.Errorf("OPENFINSPACE_SERVER_KEY from keygen: %v", err)
		}
	}
}

// TestServePostgresNeedsSharedKeys: with a PostgreSQL store the server
// refuses to start unless the key and the root credentials come from the
// configuration (checked before connecting: no database needed here).
func TestServePostgresNeedsSharedKeys(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want []string
	}{
		{map[string]string{}, []string{"OPENFINSPACE_SERVER_KEY", "--server-key-file", "OPENFINSPACE_ACCESS_KEY_ID", "OPENFINSPACE_SECRET_ACCESS_KEY"}},
		{map[string]string{"OPENFINSPACE_SERVER_KEY": testKey(3)}, []string{"OPENFINSPACE_ACCESS_KEY_ID"}},
		{map[string]string{"OPENFINSPACE_ACCESS_KEY_ID": "AKIAX", "OPENFINSPACE_SECRET_ACCESS_KEY": "s"}, []string{"OPENFINSPACE_SERVER_KEY"}},
	} {
		dir := t.TempDir()
		var errb bytes.Buffer
		code := runEnv([]string{"serve", "--addr", "127.0.0.1:0", "--data-dir", dir, "--database-url", "postgres://u:pw-xyz@127.0.0.1:1/db"},
			envOf(tc.env), io.Discard, &errb)
		if code != 1 {
			t.Errorf("%v: exit %d, want 1; %s", tc.env, code, errb.String())
		}
		for _, w := range tc.want {
			if !strings.Contains(errb.String(), w) {
				t.Errorf("%v: the error does not name %s: %s", tc.env, w, errb.String())
			}
		}
		if strings.Contains(errb.String(), "pw-xyz") {
			t.Errorf("the error shows the database password: %s", errb.String())
		}
		// Nothing shared was written into the data dir.
		for _, f := range []string{"keys/server.key", "root-credentials.json"} {
			if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
				t.Errorf("%v: %s was created", tc.env, f)
			}
		}
	}
}

// TestParseConfigAbsolutePaths: paths from flags and variables are made
// absolute once; a bare executable name stays a name looked up on PATH.
func TestParseConfigAbsolutePaths(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	o, err := parseConfig("serve", []string{"--data-dir", "rel/data", "--kdb-executable", "./bin/q"}, envOf(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.DataDir != filepath.Join(wd, "rel/data") || o.KdbExecutable != filepath.Join(wd, "bin/q") {
		t.Errorf("data dir %q, kdb executable %q: want both absolute under %s", o.DataDir, o.KdbExecutable, wd)
	}
	o, err = parseConfig("serve", nil, envOf(map[string]string{"OPENFINSPACE_KDB_EXECUTABLE": "q", "OPENFINSPACE_DATA_DIR": "d"}), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.KdbExecutable != "q" || o.DataDir != filepath.Join(wd, "d") {
		t.Errorf("kdb executable %q (want q), data dir %q", o.KdbExecutable, o.DataDir)
	}
}
