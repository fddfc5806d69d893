package main

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPrepareDataDir(t *testing.T) {
	cases := []struct {
		name    string
		setup   func(dir string) // nil: the dir does not exist
		want    os.FileMode
		logged  string
		wantErr bool
	}{
		{"created", nil, 0o700, "", false},
		{"0755 tightened", func(d string) { mkdir(t, d, 0o755) }, 0o700, "tightened", false},
		{"0777 tightened", func(d string) { mkdir(t, d, 0o777) }, 0o700, "tightened", false},
		{"0750 tightened", func(d string) { mkdir(t, d, 0o750) }, 0o700, "tightened", false},
		{"0711 tightened", func(d string) { mkdir(t, d, 0o711) }, 0o700, "tightened", false},
		{"0700 kept", func(d string) { mkdir(t, d, 0o700) }, 0o700, "", false},
		{"0500 kept (owner bits untouched)", func(d string) { mkdir(t, d, 0o500) }, 0o500, "", false},
		{"a file", func(d string) { _ = os.WriteFile(d, nil, 0o600) }, 0, "", true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "parent", "data")
			if tc.setup != nil {
				mkdir(t, filepath.Dir(dir), 0o755)
				tc.setup(dir)
			}
			t.Cleanup(func() { _ = os.Chmod(dir, 0o700) }) // let TempDir's cleanup in
			var logs bytes.Buffer
			err := prepareDataDir(dir, slog.New(slog.NewTextHandler(&logs, nil)))
			if (err != nil) != tc.wantErr {
				t.Fatalf("err = %v, want error %v", err, tc.wantErr)
			}
			if tc.wantErr {
				return
			}
			fi, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if got := fi.Mode().Perm(); got != tc.want {
				t.Errorf("mode %#o, want %#o", got, tc.want)
			}
			if tc.logged == "" && logs.Len() > 0 || !strings.Contains(logs.String(), tc.logged) {
				t.Errorf("log %q, want %q", logs.String(), tc.logged)
			}
			if tc.logged != "" && !strings.Contains(logs.String(), "level=INFO") {
				t.Errorf("tightening logged at %q, want Info", logs.String())
			}
		})
	}
}

func mkdir(t *testing.T, dir string, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, mode); err != nil { // past the umask
		t.Fatal(err)
	}
}

// TestServeTightensDataDir runs serve on a busy port: it tightens the
// data dir, logs it, then fails to listen.
func TestServeTightensDataDir(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	dir := filepath.Join(t.TempDir(), "data")
	mkdir(t, dir, 0o755)
	var errb bytes.Buffer
	if code := run([]string{"serve", "--addr", ln.Addr().String(), "--data-dir", dir}, io.Discard, &errb); code != 1 {
		t.Fatalf("serve on a busy port: exit %d, want 1; stderr %s", code, errb.String())
	}
	fi, err := os.Stat(dir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("data dir mode %v %v, want 0700", fi.Mode().Perm(), err)
	}
	if !strings.Contains(errb.String(), "tightened the data dir") {
		t.Errorf("no Info line about the mode in %s", errb.String())
	}
}

func TestServeMaxConnectionsFlag(t *testing.T) {
	for _, args := range [][]string{{"--max-connections", "many"}, {"--max-connections", "-2"}} {
		if code := run(append([]string{"serve", "--data-dir", t.TempDir()}, args...), io.Discard, io.Discard); code != 2 {
			t.Errorf("serve %v: exit %d, want 2", args, code)
		}
	}
	t.Setenv("OPENFINSPACE_MAX_CONNECTIONS", "lots")
	var errb bytes.Buffer
	if code := run([]string{"serve", "--data-dir", t.TempDir()}, io.Discard, &errb); code != 2 || !strings.Contains(errb.String(), "OPENFINSPACE_MAX_CONNECTIONS") {
		t.Errorf("bad OPENFINSPACE_MAX_CONNECTIONS: exit %d, %s", code, errb.String())
	}
}
