package node

import (
	"archive/zip"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

type entry struct {
	name string
	mode fs.FileMode
	body string
}

func zipOf(t *testing.T, entries ...entry) *bytes.Reader {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.mode != 0 {
			h.SetMode(e.mode)
		}
		f, err := w.CreateHeader(h)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return bytes.NewReader(buf.Bytes())
}

func TestUnzip(t *testing.T) {
	r := zipOf(t,
		entry{name: "code/"},
		entry{name: "code/init.q", body: "show `hello"},
		entry{name: "code/lib/util.q", body: "f:{x+1}"},
		entry{name: "bin/run.sh", mode: 0o755, body: "#!/bin/sh\n"},
	)
	dest := filepath.Join(t.TempDir(), "code")
	if err := Unzip(r, r.Size(), dest, UnzipLimits{}); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dest, "code", "lib", "util.q"))
	if err != nil || string(got) != "f:{x+1}" {
		t.Fatalf("util.q: %q, %v", got, err)
	}
	for p, want := range map[string]fs.FileMode{"code/init.q": 0o644, "bin/run.sh": 0o755, "code": fs.ModeDir | 0o755} {
		info, err := os.Stat(filepath.Join(dest, p))
		if err != nil {
			t.Fatal(err)
		}
		if info.Mode() != want {
			t.Errorf("%s: mode %v, want %v", p, info.Mode(), want)
		}
	}
}

func TestUnzipRefusesUnsafeArchives(t *testing.T) {
	for name, entries := range map[string][]entry{
		"zip slip":          {{name: "ok.q", body: "x"}, {name: "../evil.q", body: "x"}},
		"deep zip slip":     {{name: "a/../../evil.q", body: "x"}},
		"absolute":          {{name: "/tmp/evil.q", body: "x"}},
		"drive letter":      {{name: "C:evil.q", body: "x"}},
		"backslash":         {{name: "..\\evil.q", body: "x"}},
		"dot segment":       {{name: "./a.q", body: "x"}},
		"empty segment":     {{name: "a//b.q", body: "x"}},
		"NUL":               {{name: "a\x00.q", body: "x"}},
		"symbolic link":     {{name: "link", mode: fs.ModeSymlink | 0o777, body: "/etc/passwd"}},
		"device":            {{name: "dev", mode: fs.ModeDevice | 0o644}},
		"twice":             {{name: "a.q", body: "x"}, {name: "a.q", body: "y"}},
		"over the byte cap": {{name: "big", body: strings.Repeat("0", 2000)}},
	} {
		t.Run(name, func(t *testing.T) {
			base := t.TempDir()
			dest := filepath.Join(base, "code")
			r := zipOf(t, entries...)
			err := Unzip(r, r.Size(), dest, UnzipLimits{MaxBytes: 1000})
			if !errors.Is(err, ErrUnsafeArchive) {
				t.Fatalf("err %v, want ErrUnsafeArchive", err)
			}
			if left, _ := os.ReadDir(base); len(left) != 0 {
				t.Errorf("left behind: %v", left)
			}
			if _, err := os.Lstat(filepath.Join(filepath.Dir(base), "evil.q")); err == nil {
				t.Error("wrote outside the destination")
			}
		})
	}
	r := zipOf(t, entry{name: "a"}, entry{name: "b"}, entry{name: "c"})
	if err := Unzip(r, r.Size(), filepath.Join(t.TempDir(), "code"), UnzipLimits{MaxFiles: 2}); !errors.Is(err, ErrUnsafeArchive) {
		t.Errorf("over the file cap: %v", err)
	}
	junk := bytes.NewReader([]byte("not a zip"))
	if err := Unzip(junk, junk.Size(), filepath.Join(t.TempDir(), "code"), UnzipLimits{}); err == nil || !strings.Contains(err.Error(), "not a zip") {
		t.Errorf("not a zip: %v", err)
	}
	// A file and a directory of the same name cannot both be written.
	r = zipOf(t, entry{name: "a", body: "x"}, entry{name: "a/b", body: "y"})
	dest := filepath.Join(t.TempDir(), "code")
	if err := Unzip(r, r.Size(), dest, UnzipLimits{}); err == nil {
		t.Error("a file and a directory named a: unpacked")
	}
	if _, err := os.Lstat(dest); err == nil {
		t.Error("a failed unpack left its destination")
	}
}
