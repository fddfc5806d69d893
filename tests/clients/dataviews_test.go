package clients_test

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestBoto3DataViews runs testdata/dataviews_boto3.py with the image's
// boto3: it creates views, downloads their files through the S3 endpoint
// with each view's external access credentials (Glue views by the
// locations boto3's glue client reports), and checks the delimited text
// itself; here DuckDB reads the Parquet back, row by row and in file
// order.
func TestBoto3DataViews(t *testing.T) {
	t.Parallel()
	runDataViewsBoto3(t, requirePythonBoto3(t))
}

// TestDebianBoto3DataViews runs the same flow with Debian's boto3 1.26.
func TestDebianBoto3DataViews(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath(debianPython); err != nil {
		missingClient(t, "%s not found; scripts/test.sh installs python3-boto3", debianPython)
	}
	if out, err := probe(debianPython, "-c", "import boto3; print(boto3.__version__)"); err != nil {
		missingClient(t, "Debian's boto3 is not installed (%v: %s)", err, out)
	}
	runDataViewsBoto3(t, debianPython)
}

func runDataViewsBoto3(t *testing.T, python string) {
	srv, env := createdEnvironment(t)
	out := t.TempDir()
	result := filepath.Join(t.TempDir(), "result.json")
	root := srv.Root()
	runClient(t, append(clientEnv(t, srv.URL(), root.AccessKeyID, root.SecretAccessKey),
		"OPENFINSPACE_ENVIRONMENT_ID="+env, "OPENFINSPACE_OUT="+out, "OPENFINSPACE_RESULT="+result),
		python, testdataPath(t, "dataviews_boto3.py"))
	raw, err := os.ReadFile(result)
	if err != nil {
		t.Fatal(err)
	}
	var got struct {
		Glue  map[string][]string `json:"glue"`
		Empty []string            `json:"empty"`
	}
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// fileRows reads one file in its own order.
	fileRows := func(path, cols string) []string {
		t.Helper()
		rows, err := db.Query(fmt.Sprintf("SELECT concat_ws('|', %s) FROM read_parquet('%s')", cols, path))
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var out []string
		for rows.Next() {
			var r string
			if err := rows.Scan(&r); err != nil {
				t.Fatal(err)
			}
			out = append(out, r)
		}
		return out
	}
	// folderRows reads every file under dir with DuckDB's Hive
	// partitioning, file by file in name order, each in its own order.
	folderRows := func(dir string) []string {
		t.Helper()
		var files []string
		err := filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			if err == nil && !info.IsDir() {
				files = append(files, p)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		slices.Sort(files)
		var out []string
		for _, f := range files {
			rel, _ := filepath.Rel(dir, f)
			out = append(out, rel+": "+strings.Join(fileRows(f, "sym, px, qty"), ", "))
		}
		return out
	}
	check := func(name string, got, want []string) {
		t.Helper()
		if strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Errorf("%s:\n%s\nwant\n%s", name, strings.Join(got, "\n"), strings.Join(want, "\n"))
		}
	}
	// Partitioned by day, sorted by sym then px in each file; the day is
	// the folder's, not a column of the files.
	check("static view as of the first APPEND", folderRows(filepath.Join(out, "before")), []string{
		"day=2024-01-01/part-00000.parquet: A|1.5|10, B|3.25|30",
		"day=2024-01-02/part-00000.parquet: A|2.5|20, C|0.5|5",
	})
	check("static view after the REPLACE", folderRows(filepath.Join(out, "after")), []string{
		"day=2024-02-01/part-00000.parquet: Q|8.0|80, R|9.0|90",
	})
	check("a view created after the REPLACE as of before it", fileRows(filepath.Join(out, "old_again", "part-00000.parquet"), "sym, day, px, qty"),
		[]string{"A|2024-01-01|1.5|10", "A|2024-01-02|2.5|20", "B|2024-01-01|3.25|30", "C|2024-01-02|0.5|5"})
	// DuckDB's own Hive reader sees the partition column from the folders.
	var n int
	var days string
	if err := db.QueryRow(fmt.Sprintf("SELECT count(*), string_agg(DISTINCT day::VARCHAR, ',' ORDER BY day::VARCHAR) FROM read_parquet('%s/before/*/*.parquet', hive_partitioning = true)", out)).Scan(&n, &days); err != nil {
		t.Fatal(err)
	}
	if n != 4 || days != "2024-01-01,2024-01-02" {
		t.Errorf("hive read: %d rows, days %s", n, days)
	}

	// An independent reader, @duckdb/node-api (its own DuckDB build, not
	// the server's), sees the same rows: Hive partitions from the folders,
	// each file in its sorted order.
	check("@duckdb/node-api, the static view as of the first APPEND", nodeDuckDBRows(t, fmt.Sprintf(
		"SELECT concat_ws('|', day::VARCHAR, sym, px::VARCHAR, qty::VARCHAR) FROM read_parquet('%s/before/*/*.parquet', hive_partitioning = true, filename = true) ORDER BY filename, file_row_number", out)),
		[]string{"2024-01-01|A|1.5|10", "2024-01-01|B|3.25|30", "2024-01-02|A|2.5|20", "2024-01-02|C|0.5|5"})

	// The Glue view: each partition's files (found through get_partitions)
	// with the partition's value give exactly the view's rows, sorted by day.
	var glueRows []string
	for name, values := range got.Glue {
		for _, r := range fileRows(filepath.Join(out, name, "part-00000.parquet"), "day, px, qty") {
			glueRows = append(glueRows, values[0]+"|"+r)
		}
	}
	slices.Sort(glueRows)
	check("Glue view", glueRows, []string{"A|2024-01-01|1.5|10", "A|2024-01-02|2.5|20", "B|2024-01-01|3.25|30", "C|2024-01-02|0.5|5"})
	if rows := fileRows(filepath.Join(out, "glue_A", "part-00000.parquet"), "day"); strings.Join(rows, ",") != "2024-01-01,2024-01-02" {
		t.Errorf("Glue partition A not sorted by day: %v", rows)
	}

	// A dataset without a successful changeset: one file, no rows, the columns.
	if len(got.Empty) != 1 {
		t.Fatalf("empty view files = %v", got.Empty)
	}
	empty := filepath.Join(out, "empty", got.Empty[0])
	if rows := fileRows(empty, "sym"); len(rows) != 0 {
		t.Errorf("empty view rows = %v", rows)
	}
	var cols string
	if err := db.QueryRow(fmt.Sprintf("SELECT string_agg(name, ',') FROM parquet_schema('%s') WHERE num_children IS NULL", empty)).Scan(&cols); err != nil {
		t.Fatal(err)
	}
	if cols != "sym,day,px,qty" {
		t.Errorf("empty view columns = %s", cols)
	}
}
