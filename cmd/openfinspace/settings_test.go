package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const (
	readmeBegin = "<!-- settings: made from cmd/openfinspace/settings.go; OPENFINSPACE_UPDATE_README=1 go test ./cmd/openfinspace -run TestSettingsDocumented rewrites it -->\n"
	readmeEnd   = "<!-- end of settings -->\n"
)

// TestSettingsDocumented: the README's configuration table is the one the
// settings table makes; serve -h names every flag and variable; and every
// OPENFINSPACE_ variable the product reads is in the table.
func TestSettingsDocumented(t *testing.T) {
	readmePath := filepath.Join("..", "..", "README.md")
	readme, err := os.ReadFile(readmePath)
	if err != nil {
		t.Fatal(err)
	}
	i, j := bytes.Index(readme, []byte(readmeBegin)), bytes.Index(readme, []byte(readmeEnd))
	if i < 0 || j < i {
		t.Fatalf("README.md has no settings block (%q … %q)", readmeBegin, readmeEnd)
	}
	want := settingsMarkdown()
	if got := string(readme[i+len(readmeBegin) : j]); got != want {
		if os.Getenv("OPENFINSPACE_UPDATE_README") == "1" {
			out := append(append(append([]byte(nil), readme[:i+len(readmeBegin)]...), want...), readme[j:]...)
			if err := os.WriteFile(readmePath, out, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Log("README.md's settings table rewritten")
		} else {
			t.Errorf("README.md's settings table differs from settings.go; rerun with OPENFINSPACE_UPDATE_README=1.\ngot:\n%s\nwant:\n%s", got, want)
		}
	}

	var errb bytes.Buffer
	if code := runEnv([]string{"serve", "-h"}, envOf(nil), &bytes.Buffer{}, &errb); code != 0 {
		t.Fatalf("serve -h: exit %d", code)
	}
	help := errb.String()
	for _, st := range append(append([]setting(nil), commonSettings...), serveSettings...) {
		if st.flag != "" && !strings.Contains(help, "-"+st.flag+" ") {
			t.Errorf("serve -h does not list -%s", st.flag)
		}
		if st.env != "" && !strings.Contains(help, st.env) {
			t.Errorf("serve -h does not name %s", st.env)
		}
	}
	if strings.Contains(help, "`") {
		t.Errorf("serve -h has a back quote (the flag package takes the quoted word as the value's name):\n%s", help)
	}
	top := usage()
	for _, st := range append(append([]setting(nil), commonSettings...), serveSettings...) {
		if st.env != "" && !strings.Contains(top, st.env) {
			t.Errorf("the top-level help does not name %s", st.env)
		}
	}

	// Every variable the product reads is a setting.
	known := map[string]bool{}
	for _, st := range append(append(append([]setting(nil), commonSettings...), serveSettings...), credentialsSettings...) {
		known[st.env] = true
	}
	re := regexp.MustCompile(`"(OPENFINSPACE_[A-Z0-9_]+)"`)
	for _, root := range []string{"../../cmd", "../../internal"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() && path != root && (strings.HasSuffix(d.Name(), "test") || d.Name() == "serverbin") {
				return filepath.SkipDir // test-support packages (servertest, pgtest, serverbin, …)
			}
			if d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return nil
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, m := range re.FindAllStringSubmatch(string(b), -1) {
				if name := m[1]; !known[name] && !strings.HasPrefix(name, "OPENFINSPACE_INTERNAL_") {
					t.Errorf("%s reads %s, which is not in the settings table (settings.go)", path, name)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
