package ingest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestHiveEscape(t *testing.T) {
	for in, want := range map[string]string{
		"plain":      "plain",
		"a b":        "a b",
		"a/b=c:d":    "a%2Fb%3Dc%3Ad",
		"100%#?*'\"": "100%25%23%3F%2A%27%22",
		"x\ny\x7f":   "x%0Ay%7F",
		"{[^]}\\":    "%7B%5B%5E%5D}%5C",
		"ü東京":        "ü東京",
	} {
		if got := HiveEscape(in); got != want {
			t.Errorf("HiveEscape(%q) = %q, want %q", in, got, want)
		}
	}
}

// viewInputs writes two changeset files: one with columns sym, px, day;
// an older one without day (read as NULL).
func viewInputs(t *testing.T, dir string) []ViewInput {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	a, b := filepath.Join(dir, "a.parquet"), filepath.Join(dir, "b.parquet")
	for _, q := range []string{
		fmt.Sprintf(`COPY (SELECT * FROM (VALUES ('B', 2.5, DATE '2024-01-02'), ('a/b', 1.0, DATE '2024-01-01'), ('A', 3.0, DATE '2024-01-02')) t(sym, px, day)) TO '%s' (FORMAT parquet)`, a),
		fmt.Sprintf(`COPY (SELECT * FROM (VALUES ('C', 9.0), ('A', 0.5)) t(sym, px)) TO '%s' (FORMAT parquet)`, b),
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	return []ViewInput{
		{Path: a, Columns: []Column{{"sym", TypeString}, {"px", TypeDouble}, {"day", TypeDate}}},
		{Path: b, Columns: []Column{{"sym", TypeString}, {"px", TypeDouble}}},
	}
}

func readRows(t *testing.T, q string) []string {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(q)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func TestMaterializePartitionedSorted(t *testing.T) {
	dir := t.TempDir()
	e, err := New(Limits{StagingDir: filepath.Join(dir, "staging")})
	if err != nil {
		t.Fatal(err)
	}
	schema := Schema{Columns: []Column{{"sym", TypeString}, {"px", TypeDouble}, {"day", TypeDate}}}
	out := filepath.Join(dir, "out")
	res, err := e.Materialize(context.Background(), ViewSpec{Inputs: viewInputs(t, dir), Schema: schema,
		Partition: []string{"day"}, Sort: []string{"sym"}, Format: ViewParquet, OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	files := res.Files
	var got []string
	for _, f := range files {
		got = append(got, fmt.Sprintf("%s %d %v", f.Path, f.Rows, f.Values))
	}
	want := []string{
		"day=2024-01-01/part-00000.parquet 1 [2024-01-01]",
		"day=2024-01-02/part-00000.parquet 2 [2024-01-02]",
		"day=__HIVE_DEFAULT_PARTITION__/part-00000.parquet 2 [__HIVE_DEFAULT_PARTITION__]",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("files\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Within each file, rows in sort order; no partition column in the file.
	rows := readRows(t, fmt.Sprintf("SELECT sym || '|' || px FROM read_parquet('%s')", filepath.Join(out, "day=2024-01-02", "part-00000.parquet")))
	if strings.Join(rows, ",") != "A|3.0,B|2.5" {
		t.Errorf("sorted partition = %v", rows)
	}
	rows = readRows(t, fmt.Sprintf("SELECT sym || '|' || px FROM read_parquet('%s')", filepath.Join(out, "day=__HIVE_DEFAULT_PARTITION__", "part-00000.parquet")))
	if strings.Join(rows, ",") != "A|0.5,C|9.0" {
		t.Errorf("NULL partition = %v", rows)
	}
	cols := readRows(t, fmt.Sprintf("SELECT name FROM parquet_schema('%s') WHERE name <> 'duckdb_schema'", filepath.Join(out, "day=2024-01-01", "part-00000.parquet")))
	if strings.Join(cols, ",") != "sym,px" {
		t.Errorf("file columns = %v", cols)
	}
}

func TestMaterializeEscapedPartitionAndDelimited(t *testing.T) {
	dir := t.TempDir()
	e, err := New(Limits{StagingDir: filepath.Join(dir, "staging")})
	if err != nil {
		t.Fatal(err)
	}
	schema := Schema{Columns: []Column{{"sym", TypeString}, {"px", TypeDouble}, {"day", TypeDate}}}
	out := filepath.Join(dir, "out")
	res, err := e.Materialize(context.Background(), ViewSpec{Inputs: viewInputs(t, dir), Schema: schema,
		Partition: []string{"sym"}, Sort: []string{"px"}, Format: ViewDelimited, Header: true, Delimiter: "|",
		Compression: "gzip", OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	files := res.Files
	var paths []string
	for _, f := range files {
		paths = append(paths, f.Path)
	}
	if !slices.Contains(paths, "sym=a%2Fb/part-00000.csv.gz") || len(files) != 4 {
		t.Fatalf("files = %v", paths)
	}
	rows := readRows(t, fmt.Sprintf("SELECT px || ',' || coalesce(day::VARCHAR, 'NULL') FROM read_csv('%s', header=true, delim='|')", filepath.Join(out, "sym=A", "part-00000.csv.gz")))
	if strings.Join(rows, ";") != "0.5,NULL;3.0,2024-01-02" {
		t.Errorf("rows = %v", rows)
	}
}

func TestMaterializeEmpty(t *testing.T) {
	dir := t.TempDir()
	e, err := New(Limits{StagingDir: filepath.Join(dir, "staging")})
	if err != nil {
		t.Fatal(err)
	}
	schema := Schema{Columns: []Column{{"sym", TypeString}, {"px", TypeDouble}}}
	res, err := e.Materialize(context.Background(), ViewSpec{Schema: schema, Format: ViewParquet, OutDir: filepath.Join(dir, "out")})
	if err != nil || len(res.Files) != 1 || res.Files[0].Rows != 0 {
		t.Fatalf("empty view = %v, %v", res, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "out", res.Files[0].Path)); err != nil {
		t.Fatal(err)
	}
	res, err = e.Materialize(context.Background(), ViewSpec{Schema: schema, Partition: []string{"sym"}, Format: ViewParquet, OutDir: filepath.Join(dir, "out2")})
	if err != nil || len(res.Files) != 0 {
		t.Fatalf("empty partitioned view = %v, %v", res, err)
	}
}

// A partial materialization rewrites only the partitions the changed
// inputs' rows fall in, and names them (one left empty included).
func TestMaterializePartial(t *testing.T) {
	dir := t.TempDir()
	e, err := New(Limits{StagingDir: filepath.Join(dir, "staging")})
	if err != nil {
		t.Fatal(err)
	}
	in := viewInputs(t, dir)
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	gone := filepath.Join(dir, "gone.parquet")
	if _, err := db.Exec(fmt.Sprintf(`COPY (SELECT * FROM (VALUES ('Z', 1.0, DATE '2024-05-05')) t(sym, px, day)) TO '%s' (FORMAT parquet)`, gone)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	schema := Schema{Columns: []Column{{"sym", TypeString}, {"px", TypeDouble}, {"day", TypeDate}}}
	// in[1] (no day: the NULL partition) was added, gone (2024-05-05) removed.
	res, err := e.Materialize(context.Background(), ViewSpec{Inputs: in, Schema: schema, Partition: []string{"day"}, Sort: []string{"sym"},
		Format: ViewParquet, OutDir: filepath.Join(dir, "out"), Partial: true,
		Touched: []ViewInput{in[1], {Path: gone, Columns: schema.Columns}}})
	if err != nil {
		t.Fatal(err)
	}
	var files []string
	for _, f := range res.Files {
		files = append(files, fmt.Sprintf("%s %d", f.Path, f.Rows))
	}
	slices.Sort(res.Touched)
	if strings.Join(files, ",") != "day=__HIVE_DEFAULT_PARTITION__/part-00000.parquet 2" ||
		strings.Join(res.Touched, ",") != "day=2024-05-05,day=__HIVE_DEFAULT_PARTITION__" {
		t.Fatalf("partial: files %v, touched %v", files, res.Touched)
	}
}
