package clients_test

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// duckdbNodeVersion is the @duckdb/node-api the tests read data-view
// output with: a DuckDB build of its own, independent of the one linked
// into the server.
const duckdbNodeVersion = "1.5.6-r.1"

var duckdbNodeOnce sync.Mutex

// duckdbNode returns the directory holding node_modules/@duckdb/node-api,
// installing it once into the user cache dir (reused across runs).
// Without node and npm the test is skipped, or fails under CI=true.
func duckdbNode(t *testing.T) string {
	t.Helper()
	_, errNode := exec.LookPath("node")
	_, errNpm := exec.LookPath("npm")
	if errNode != nil || errNpm != nil {
		missingClient(t, "node and npm are needed to read data-view output with @duckdb/node-api")
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		t.Fatal(err)
	}
	root := filepath.Join(cache, "openfinspace", "duckdb-node", duckdbNodeVersion)
	duckdbNodeOnce.Lock()
	defer duckdbNodeOnce.Unlock()
	if _, err := os.Stat(filepath.Join(root, "node_modules", "@duckdb", "node-api", "package.json")); err == nil {
		return root
	}
	if err := os.MkdirAll(filepath.Dir(root), 0o755); err != nil {
		t.Fatal(err)
	}
	// A fresh directory, then rename: concurrent runs never see half an install.
	tmp, err := os.MkdirTemp(filepath.Dir(root), "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	if out, err := exec.Command("npm", "install", "--no-audit", "--no-fund", "--prefix", tmp, "@duckdb/node-api@"+duckdbNodeVersion).CombinedOutput(); err != nil {
		missingClient(t, "npm install @duckdb/node-api@%s: %v\n%s", duckdbNodeVersion, err, out)
	}
	if err := os.Rename(tmp, root); err != nil && !errors.Is(err, os.ErrExist) {
		t.Fatal(err)
	}
	return root
}

// nodeDuckDBRows runs query with @duckdb/node-api and returns each row's
// first column as a string.
func nodeDuckDBRows(t *testing.T, query string) []string {
	t.Helper()
	root := duckdbNode(t)
	script := filepath.Join(t.TempDir(), "query.cjs")
	if err := os.WriteFile(script, []byte(`const { DuckDBInstance } = require('@duckdb/node-api');
(async () => {
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  const reader = await conn.runAndReadAll(process.argv[2]);
  for (const row of reader.getRowsJS()) console.log(String(row[0]));
})().catch((e) => { console.error(e); process.exit(1); });
`), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", script, query)
	cmd.Env = append(os.Environ(), "NODE_PATH="+filepath.Join(root, "node_modules"))
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("@duckdb/node-api %q: %v\n%s", query, err, out)
	}
	text := strings.TrimRight(string(out), "\n")
	if text == "" {
		return nil
	}
	return strings.Split(text, "\n")
}
