// Package readme runs the README's worked flows: every code block marked
// <!-- readme-test --> is run, in order, against a fresh server started
// as the README says, with the clients the README names (the AWS CLI and
// boto3 on PATH), so the README cannot rot.
package readme

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/serverbin"
)

const marker = "<!-- readme-test -->"

type block struct {
	lang, code string
	line       int
}

// blocks returns the marked code blocks of the README in order.
func blocks(t *testing.T, readme string) []block {
	t.Helper()
	var out []block
	lines := strings.Split(readme, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != marker {
			continue
		}
		if i+1 >= len(lines) || !strings.HasPrefix(lines[i+1], "```") {
			t.Fatalf("README.md:%d: %s is not followed by a code block", i+1, marker)
		}
		b := block{lang: strings.TrimPrefix(lines[i+1], "```"), line: i + 2}
		j := i + 2
		for ; j < len(lines) && !strings.HasPrefix(lines[j], "```"); j++ {
			b.code += lines[j] + "\n"
		}
		if j == len(lines) {
			t.Fatalf("README.md:%d: unterminated code block", b.line)
		}
		if b.lang != "sh" && b.lang != "python" {
			t.Fatalf("README.md:%d: marked block of language %q (sh or python)", b.line, b.lang)
		}
		out = append(out, b)
		i = j
	}
	return out
}

// script is the blocks as one bash script, as a user would type them in one
// terminal: `go run ./cmd/openfinspace` runs the built binary, python
// blocks run in python3.
func script(bin string, bs []block) string {
	var s strings.Builder
	fmt.Fprintf(&s, "set -euo pipefail\n")
	fmt.Fprintf(&s, "go() { if [ \"${1:-}\" = run ] && [ \"${2:-}\" = ./cmd/openfinspace ]; then shift 2; %q \"$@\"; else command go \"$@\"; fi; }\n", bin)
	for _, b := range bs {
		fmt.Fprintf(&s, "echo '>>> README.md:%d'\n", b.line)
		if b.lang == "python" {
			fmt.Fprintf(&s, "python3 - <<'README_PYTHON'\n%sREADME_PYTHON\n", b.code)
		} else {
			s.WriteString(b.code)
		}
	}
	s.WriteString("echo '>>> done'\n")
	return s.String()
}

func TestReadmeFlows(t *testing.T) {
	for _, tool := range []string{"aws", "python3", "bash"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("%s is not on PATH (scripts/test.sh installs the clients)", tool)
			}
			t.Skipf("%s is not on PATH", tool)
		}
	}
	if err := exec.Command("python3", "-c", "import boto3").Run(); err != nil {
		t.Skipf("python3 has no boto3: %v", err)
	}
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	bs := blocks(t, string(readme))
	if len(bs) < 6 {
		t.Fatalf("%d marked blocks in the README, want the worked flows (at least 6)", len(bs))
	}
	bin, _, err := serverbin.Build(context.Background(), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}

	// A fresh user: an empty directory, no AWS configuration, no AWS_*
	// variable; the server on its default data dir (only the port differs:
	// the README's clients find it through `credentials`).
	wd, home := t.TempDir(), t.TempDir()
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "OPENFINSPACE_") && !strings.HasPrefix(kv, "HOME=") {
			env = append(env, kv)
		}
	}
	env = append(env, "HOME="+home, "AWS_CONFIG_FILE="+filepath.Join(home, "none"), "AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "none"))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv := exec.CommandContext(ctx, bin, "serve", "--addr", "127.0.0.1:0")
	srv.Dir, srv.Env = wd, env
	stderr, err := srv.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	serving := make(chan string, 1)
	var serverLog strings.Builder
	logDone := make(chan struct{})
	go func() {
		defer close(logDone)
		sc := bufio.NewScanner(stderr)
		re := regexp.MustCompile(`serving at (http://\S+)`)
		for sc.Scan() {
			serverLog.WriteString(sc.Text() + "\n")
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				serving <- m[1]
			}
		}
	}()
	select {
	case <-serving:
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not start")
	}

	sh := exec.CommandContext(ctx, "bash", "-c", script(bin, bs))
	sh.Dir, sh.Env = wd, env
	out, err := sh.CombinedOutput()
	if err != nil {
		_ = srv.Process.Kill()
		<-logDone
		t.Fatalf("the README's flows failed: %v\n%s\n--- server log ---\n%s", err, out, serverLog.String())
	}
	// What the blocks print, as the README says they do.
	for _, want := range []string{"export AWS_ENDPOINT_URL=http://127.0.0.1:", "research\tCREATED", "research CREATED",
		"\nSUCCESS\n", "assumed-role/analyst/ana", "alias/prices", "['alias/prices']", "1 object(s) in the working location", "sym,px\nAAPL,189.5\nMSFT,402.25\n",
		">>> done"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("the flows' output lacks %q:\n%s", want, out)
		}
	}
	if !regexp.MustCompile(`(?m)^\S+\t2$`).Match(out) {
		t.Errorf("the kx database does not report its version of 2 files:\n%s", out)
	}
}

// TestRepositoryTable: every path the README's repository table names
// exists, and every package directory of cmd/, internal/ and tests/ is
// covered by a row (its own, or a parent's).
func TestRepositoryTable(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	s := string(readme)
	i := strings.Index(s, "## Repository")
	if i < 0 {
		t.Fatal("README.md has no Repository section")
	}
	section := s[i:]
	if j := strings.Index(section[3:], "\n## "); j >= 0 {
		section = section[:j+3]
	}
	var named []string
	for _, line := range strings.Split(section, "\n") {
		cells := strings.Split(line, "|")
		if len(cells) < 3 {
			continue
		}
		for _, m := range regexp.MustCompile("`([a-z0-9_/.-]+)`").FindAllStringSubmatch(cells[1], -1) {
			p := strings.TrimSuffix(m[1], "/")
			if _, err := os.Stat(filepath.Join("../..", p)); err != nil {
				t.Errorf("the repository table names %s, which does not exist", m[1])
			}
			named = append(named, p)
		}
	}
	covered := func(dir string) bool {
		for _, p := range named {
			if dir == p || strings.HasPrefix(dir, p+"/") {
				return true
			}
		}
		return false
	}
	for _, root := range []string{"cmd", "internal", "tests"} {
		err := filepath.WalkDir(filepath.Join("../..", root), func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() {
				return nil
			}
			if d.Name() == "testdata" {
				return filepath.SkipDir
			}
			rel, _ := filepath.Rel("../..", path)
			gofiles, _ := filepath.Glob(filepath.Join(path, "*.go"))
			if len(gofiles) > 0 && !covered(filepath.ToSlash(rel)) {
				t.Errorf("package %s is not in the README's repository table", rel)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
