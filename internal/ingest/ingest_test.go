package ingest

import (
	"bytes"
	"compress/gzip"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
)

type fixture struct {
	t     *testing.T
	dir   string
	stage string
	eng   *Engine
	n     int
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	stage := filepath.Join(dir, "staging")
	eng, err := New(Limits{StagingDir: stage, MemoryLimit: "256MB", Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{t: t, dir: dir, stage: stage, eng: eng}
}

func (fx *fixture) file(name string, data []byte) Source {
	fx.t.Helper()
	p := filepath.Join(fx.dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		fx.t.Fatal(err)
	}
	return Source{Path: p, Name: "s3://bucket/" + name}
}

func (fx *fixture) convert(f Format, s Schema, srcs ...Source) (string, int64, error) {
	fx.t.Helper()
	fx.n++
	out := filepath.Join(fx.dir, fmt.Sprintf("out%d.parquet", fx.n))
	n, err := fx.eng.Convert(context.Background(), srcs, f, s, out)
	fx.checkClean(out, err)
	return out, n, err
}

// checkClean: staging is empty afterwards; no temporary output remains; the
// output exists exactly when the conversion succeeded.
func (fx *fixture) checkClean(out string, err error) {
	fx.t.Helper()
	ents, _ := os.ReadDir(fx.stage)
	if len(ents) != 0 {
		fx.t.Errorf("staging not empty: %v", ents)
	}
	all, _ := os.ReadDir(filepath.Dir(out))
	for _, e := range all {
		if strings.HasSuffix(e.Name(), ".ingest-tmp") {
			fx.t.Errorf("temporary output left behind: %s", e.Name())
		}
	}
	if _, serr := os.Stat(out); (serr == nil) != (err == nil) {
		fx.t.Errorf("output exists=%v but err=%v", serr == nil, err)
	}
}

// readBack returns the Parquet file's rows, each value rendered by DuckDB as
// text (NULL as "<nil>"), and its column types.
func readBack(t *testing.T, path string) ([]string, [][]string) {
	t.Helper()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var types []string
	tr, err := db.Query("SELECT column_type FROM (DESCRIBE SELECT * FROM read_parquet(" + lit(path) + "))")
	if err != nil {
		t.Fatal(err)
	}
	for tr.Next() {
		var s string
		tr.Scan(&s)
		types = append(types, s)
	}
	tr.Close()
	rows, err := db.Query("SELECT CAST(COLUMNS(*) AS VARCHAR) FROM read_parquet(" + lit(path) + ")")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	cols, _ := rows.Columns()
	var out [][]string
	for rows.Next() {
		v := make([]sql.NullString, len(cols))
		p := make([]any, len(cols))
		for i := range v {
			p[i] = &v[i]
		}
		if err := rows.Scan(p...); err != nil {
			t.Fatal(err)
		}
		r := make([]string, len(cols))
		for i, x := range v {
			r[i] = x.String
			if !x.Valid {
				r[i] = "<nil>"
			}
		}
		out = append(out, r)
	}
	return types, out
}

func schema(spec string) Schema {
	var s Schema
	for _, f := range strings.Fields(spec) {
		n, t, _ := strings.Cut(f, ":")
		s.Columns = append(s.Columns, Column{Name: n, Type: ColumnType(t)})
	}
	return s
}

func allTypes() Schema {
	return schema("s:STRING c:CHAR i:INTEGER ti:TINYINT si:SMALLINT bi:BIGINT f:FLOAT d:DOUBLE dt:DATE ts:DATETIME b:BOOLEAN bin:BINARY")
}

func wantRows(t *testing.T, got, want [][]string) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("rows differ\n got: %q\nwant: %q", got, want)
	}
}

func TestCSVAllTypesAndLimits(t *testing.T) {
	fx := newFixture(t)
	csv := "s,c,i,ti,si,bi,f,d,dt,ts,b,bin\n" +
		"hello,x,-2147483648,-128,-32768,-9223372036854775808,-3.4028235e38,-1.7976931348623157e308,0001-01-01,1970-01-01 00:00:00,false,abc\n" +
		"\"a,b\",\"y\",2147483647,127,32767,9223372036854775807,3.4028235e38,1.7976931348623157e308,9999-12-31,2024-02-29T23:59:59.999999,true,\\x00\\xFF\n" +
		"\"line1\nline2 \"\"q\"\"\",Ω,0,0,0,0,1.5,2.5e-300,2024-02-29,2024-06-30 12:34:56,TRUE,\n" +
		",,,,,,,,,,,\n" +
		"\"\",日本語,1,1,1,1,0,0,2000-01-01,2000-01-01 00:00:00.5,0,\"\"\n"
	out, n, err := fx.convert(DefaultCSV(), allTypes(), fx.file("all.csv", []byte(csv)))
	if err != nil {
		t.Fatalf("%v (%v)", err, errors.Unwrap(err))
	}
	if n != 5 {
		t.Errorf("rows = %d, want 5", n)
	}
	types, rows := readBack(t, out)
	wantTypes := []string{"VARCHAR", "VARCHAR", "INTEGER", "TINYINT", "SMALLINT", "BIGINT", "FLOAT", "DOUBLE", "DATE", "TIMESTAMP", "BOOLEAN", "BLOB"}
	if !reflect.DeepEqual(types, wantTypes) {
		t.Errorf("types = %v", types)
	}
	wantRows(t, rows, [][]string{
		{"hello", "x", "-2147483648", "-128", "-32768", "-9223372036854775808", "-3.4028235e+38", "-1.7976931348623157e+308", "0001-01-01", "1970-01-01 00:00:00", "false", "abc"},
		{"a,b", "y", "2147483647", "127", "32767", "9223372036854775807", "3.4028235e+38", "1.7976931348623157e+308", "9999-12-31", "2024-02-29 23:59:59.999999", "true", `\x00\xFF`},
		{"line1\nline2 \"q\"", "Ω", "0", "0", "0", "0", "1.5", "2.5e-300", "2024-02-29", "2024-06-30 12:34:56", "true", "<nil>"},
		{"<nil>", "<nil>", "<nil>", "<nil>", "<nil>", "<nil>", "<nil>", "<nil>", "<nil>", "<nil>", "<nil>", "<nil>"},
		{"", "日本語", "1", "1", "1", "1", "0.0", "0.0", "2000-01-01", "2000-01-01 00:00:00.5", "false", ""},
	})
}

func TestCSVOptions(t *testing.T) {
	fx := newFixture(t)
	s := schema("a:INTEGER b:STRING")
	f := Format{Type: FormatCSV, WithHeader: false, Separator: "|", Quote: "'", NullValue: "NA"}
	out, _, err := fx.convert(f, s, fx.file("p.csv", []byte("1|'x|y'\n2|NA\n3|''\n")))
	if err != nil {
		t.Fatal(err)
	}
	_, rows := readBack(t, out)
	wantRows(t, rows, [][]string{{"1", "x|y"}, {"2", "<nil>"}, {"3", ""}})

	f2, err := ParseFormatParams(map[string]string{"formatType": "csv", "withHeader": "false", "separator": "\t", "compression": "None"})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err = fx.convert(f2, s, fx.file("t.tsv", []byte("7\tseven\n")))
	if err != nil {
		t.Fatal(err)
	}
	_, rows = readBack(t, out)
	wantRows(t, rows, [][]string{{"7", "seven"}})
}

func TestParseFormatParams(t *testing.T) {
	f, err := ParseFormatParams(map[string]string{"formatType": "CSV"})
	if err != nil || !f.WithHeader || f.sep() != "," {
		t.Errorf("defaults: %+v %v", f, err)
	}
	for _, tc := range []struct {
		p      map[string]string
		member string
	}{
		{map[string]string{}, "formatParams.formatType"},
		{map[string]string{"formatType": "AVRO"}, "formatParams.formatType"},
		{map[string]string{"formatType": "CSV", "compression": "lz4"}, "formatParams.compression"},
		{map[string]string{"formatType": "CSV", "withHeader": "yes"}, "formatParams.withHeader"},
		{map[string]string{"formatType": "CSV", "separator": ";;"}, "formatParams.separator"},
		{map[string]string{"formatType": "JSON", "separator": ";"}, "formatParams.separator"},
		{map[string]string{"formatType": "XML", "withHeader": "true"}, "formatParams.withHeader"},
	} {
		_, err := ParseFormatParams(tc.p)
		var re *RequestError
		if !errors.As(err, &re) || re.Member != tc.member || CategoryOf(err) != CategoryValidation {
			t.Errorf("%v: err = %v, want member %s", tc.p, err, tc.member)
		}
	}
	if err := schema("a:INTEGER A:STRING").Validate(); err == nil {
		t.Error("duplicate column names accepted")
	}
	if err := schema("a:DECIMAL").Validate(); err == nil {
		t.Error("unknown type accepted")
	}
}

func TestJSON(t *testing.T) {
	fx := newFixture(t)
	s := schema("id:BIGINT name:STRING px:DOUBLE d:DATE ok:BOOLEAN")
	arr := `[ {"id": 1, "name": "a\"b", "px": 1.25, "d": "2024-01-02", "ok": true},
  {"id": 9223372036854775807, "name": "ü", "px": null, "ok": false, "extra": [1,2]} ]`
	nd := "{\"id\": 3, \"name\": \"x\\ny\", \"px\": -1e10, \"d\": \"1999-12-31\", \"ok\": null}\n\n{\"id\": \"4\", \"name\": null}\n"
	out, n, err := fx.convert(Format{Type: FormatJSON}, s, fx.file("a.json", []byte(arr)), fx.file("b.ndjson", []byte(nd)))
	if err != nil {
		t.Fatalf("%v (%v)", err, errors.Unwrap(err))
	}
	if n != 4 {
		t.Errorf("rows = %d", n)
	}
	_, rows := readBack(t, out)
	// NDJSON sources come first (one scan per layout); order across files is not promised.
	wantRows(t, sortRows(rows), sortRows([][]string{
		{"1", `a"b`, "1.25", "2024-01-02", "true"},
		{"9223372036854775807", "ü", "<nil>", "<nil>", "false"},
		{"3", "x\ny", "-10000000000.0", "1999-12-31", "<nil>"},
		{"4", "<nil>", "<nil>", "<nil>", "<nil>"},
	}))
}

func sortRows(r [][]string) [][]string {
	out := append([][]string(nil), r...)
	for i := range out {
		for j := i + 1; j < len(out); j++ {
			if strings.Join(out[j], "\x00") < strings.Join(out[i], "\x00") {
				out[i], out[j] = out[j], out[i]
			}
		}
	}
	return out
}

func TestParquetIn(t *testing.T) {
	fx := newFixture(t)
	// Make a Parquet source with DuckDB, columns in another order plus an extra one.
	src := filepath.Join(fx.dir, "in.parquet")
	db, _ := sql.Open("duckdb", "")
	if _, err := db.Exec("COPY (SELECT 'x' AS extra, 300::INTEGER AS big, 7::BIGINT AS small, DATE '2024-05-06' AS d UNION ALL SELECT 'y', 1, 8, NULL) TO " + lit(src) + " (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, _, err := fx.convert(Format{Type: FormatParquet}, schema("small:TINYINT d:DATETIME big:SMALLINT"), Source{Path: src, Name: "in.parquet"})
	if err != nil {
		t.Fatal(err)
	}
	_, rows := readBack(t, out)
	wantRows(t, rows, [][]string{{"7", "2024-05-06 00:00:00", "300"}, {"8", "<nil>", "1"}})

	// 300 does not fit a TINYINT: row 1, column big.
	_, _, err = fx.convert(Format{Type: FormatParquet}, schema("big:TINYINT"), Source{Path: src, Name: "in.parquet"})
	wantValidation(t, err, "in.parquet", 1, "big", "300")
	// A missing column is an error, not NULLs.
	_, _, err = fx.convert(Format{Type: FormatParquet}, schema("nope:STRING"), Source{Path: src, Name: "in.parquet"})
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Column != "nope" {
		t.Errorf("missing column: %v", err)
	}
	// gzip-wrapped Parquet is staged and read.
	raw, _ := os.ReadFile(src)
	out, _, err = fx.convert(Format{Type: FormatParquet, Compression: CompressionGzip}, schema("small:BIGINT"), fx.file("in.parquet.gz", gz(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if _, rows := readBack(t, out); len(rows) != 2 {
		t.Errorf("rows %v", rows)
	}
}

func gz(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func zst(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := zstd.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func bz2(t *testing.T, b []byte) []byte {
	t.Helper()
	if _, err := exec.LookPath("bzip2"); err != nil {
		t.Skip("bzip2 not installed")
	}
	cmd := exec.Command("bzip2", "-c")
	cmd.Stdin = bytes.NewReader(b)
	out, err := cmd.Output()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestCompressionAndManyFiles(t *testing.T) {
	s := schema("k:INTEGER v:STRING")
	data := func(k int) []byte { return []byte(fmt.Sprintf("k,v\n%d,\"v,%d\"\n%d,w\n", k, k, k+1)) }
	for _, tc := range []struct {
		c    Compression
		wrap func([]byte) []byte
	}{
		{CompressionNone, func(b []byte) []byte { return b }},
		{CompressionGzip, gz},
		{CompressionZstd, zst},
		{CompressionBzip2, func(b []byte) []byte { return bz2(t, b) }},
	} {
		t.Run(string(tc.c), func(t *testing.T) {
			fx := newFixture(t)
			f := DefaultCSV()
			f.Compression = tc.c
			var srcs []Source
			for i := 0; i < 3; i++ {
				srcs = append(srcs, fx.file(fmt.Sprintf("part%d.csv", i), tc.wrap(data(10*i))))
			}
			out, n, err := fx.convert(f, s, srcs...)
			if err != nil {
				t.Fatalf("%v (%v)", err, errors.Unwrap(err))
			}
			if n != 6 {
				t.Errorf("rows = %d", n)
			}
			_, rows := readBack(t, out)
			wantRows(t, sortRows(rows), sortRows([][]string{{"0", "v,0"}, {"1", "w"}, {"10", "v,10"}, {"11", "w"}, {"20", "v,20"}, {"21", "w"}}))
			// JSON through the same compression.
			jf := Format{Type: FormatJSON, Compression: tc.c}
			out, n, err = fx.convert(jf, s, fx.file("j.json", tc.wrap([]byte(`[{"k":1,"v":"a"},{"k":2,"v":"b"}]`))))
			if err != nil || n != 2 {
				t.Fatalf("json: %d %v (%v)", n, err, errors.Unwrap(err))
			}
		})
	}
}

func wantValidation(t *testing.T, err error, file string, line int64, col, val string) {
	t.Helper()
	var ve *ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("err = %v (%T), want *ValidationError", err, err)
	}
	if ve.File != file || ve.Line != line || ve.Column != col || ve.Value != val || CategoryOf(err) != CategoryValidation {
		t.Errorf("got %+v, want file %s line %d column %s value %q", ve, file, line, col, val)
	}
	if !strings.Contains(err.Error(), file) || !strings.Contains(err.Error(), col) || !strings.Contains(err.Error(), val) {
		t.Errorf("message %q does not name file, column and value", err)
	}
	if strings.Contains(err.Error(), "/tmp") {
		t.Errorf("message leaks a local path: %q", err)
	}
}

func TestBadValues(t *testing.T) {
	fx := newFixture(t)
	s := schema("id:INTEGER t:TINYINT d:DATE")
	good := fx.file("good.csv", []byte("id,t,d\n1,1,2024-01-01\n"))
	// The first bad value is on line 5 of the second file: header, a record
	// spanning two lines, a good record, then t = 128.
	s3 := schema("id:INTEGER n:STRING t:TINYINT")
	bad := fx.file("bad.csv", []byte("id,n,t\n1,\"a\nb\",1\n2,x,2\n3,y,128\n4,z,x\n"))
	_, _, err := fx.convert(DefaultCSV(), s3, fx.file("good3.csv", []byte("id,n,t\n1,a,1\n")), bad)
	wantValidation(t, err, "s3://bucket/bad.csv", 5, "t", "128")

	bad2 := fx.file("bad2.csv", []byte("id,t,d\n1,1,2024-01-01\n2,2,2024-01-02\n3,128,2024-01-03\n"))
	_, _, err = fx.convert(DefaultCSV(), s, good, bad2)
	wantValidation(t, err, "s3://bucket/bad2.csv", 4, "t", "128")

	noHeader := Format{Type: FormatCSV, Separator: ";"}
	_, _, err = fx.convert(noHeader, s, fx.file("nh.csv", []byte("1;1;2024-01-01\n2;2;2024-02-30\n")))
	wantValidation(t, err, "s3://bucket/nh.csv", 2, "d", "2024-02-30")

	gzBad := fx.file("gz.csv.gz", gz([]byte("id,t,d\n1,1,2024-01-01\n2,-129,2024-01-01\n")))
	gzf := DefaultCSV()
	gzf.Compression = CompressionGzip
	_, _, err = fx.convert(gzf, s, gzBad)
	wantValidation(t, err, "s3://bucket/gz.csv.gz", 3, "t", "-129")

	// Wrong number of fields: VALIDATION with the line.
	_, _, err = fx.convert(DefaultCSV(), s, fx.file("short.csv", []byte("id,t,d\n1,1,2024-01-01\n2,2\n")))
	var ve *ValidationError
	if !errors.As(err, &ve) || ve.Line != 3 {
		t.Errorf("short row: %v", err)
	}

	// JSON: the record starting on line 4 (after a blank line) has a bad date.
	nd := fx.file("x.ndjson", []byte("{\"id\":1,\"t\":1,\"d\":\"2024-01-01\"}\n{\"id\":2,\"t\":2,\"d\":null}\n\n{\"id\":3,\"t\":3,\"d\":\"yesterday\"}\n"))
	_, _, err = fx.convert(Format{Type: FormatJSON}, s, nd)
	wantValidation(t, err, "s3://bucket/x.ndjson", 4, "d", "yesterday")
	arr := fx.file("x.json", []byte("[\n {\"id\": 1},\n {\"id\": 2,\n  \"t\": 1000}\n]"))
	_, _, err = fx.convert(Format{Type: FormatJSON}, s, arr)
	wantValidation(t, err, "s3://bucket/x.json", 3, "t", "1000")
}

func TestBadFiles(t *testing.T) {
	fx := newFixture(t)
	s := schema("a:INTEGER b:STRING")
	csv := []byte("a,b\n" + strings.Repeat("1,hello world\n", 20000))
	truncated := gz(csv)
	truncated = truncated[:len(truncated)/2]
	gzf := DefaultCSV()
	gzf.Compression = CompressionGzip
	bzf := DefaultCSV()
	bzf.Compression = CompressionBzip2
	for _, tc := range []struct {
		name    string
		f       Format
		src     Source
		problem SourceProblem
		cat     Category
	}{
		{"missing", DefaultCSV(), Source{Path: filepath.Join(fx.dir, "nope.csv"), Name: "nope.csv"}, SourceMissing, CategoryResourceNotFound},
		{"empty", DefaultCSV(), fx.file("empty.csv", nil), SourceEmpty, CategoryUserRecoverable},
		{"empty gzip", gzf, fx.file("empty.csv.gz", gz(nil)), SourceEmpty, CategoryUserRecoverable},
		{"truncated gzip", gzf, fx.file("trunc.csv.gz", truncated), SourceCompression, CategoryUserRecoverable},
		{"not gzip", gzf, fx.file("plain.csv", csv[:100]), SourceCompression, CategoryUserRecoverable},
		{"gzip declared none", DefaultCSV(), fx.file("sneaky.csv", gz(csv[:100])), SourceCompression, CategoryUserRecoverable},
		{"not bz2", bzf, fx.file("plain2.csv", csv[:100]), SourceCompression, CategoryUserRecoverable},
		{"not json", Format{Type: FormatJSON}, fx.file("x.json", []byte("a,b\n1,2\n")), SourceMalformed, CategoryUserRecoverable},
		{"broken json", Format{Type: FormatJSON}, fx.file("y.json", []byte("[{\"a\": 1}, {\"a\": ")), SourceMalformed, CategoryUserRecoverable},
		{"not parquet", Format{Type: FormatParquet}, fx.file("z.parquet", csv[:100]), SourceMalformed, CategoryUserRecoverable},
		{"bad quoting", DefaultCSV(), fx.file("q.csv", []byte("a,b\n1,\"unterminated\n")), SourceMalformed, CategoryUserRecoverable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := fx.convert(tc.f, s, tc.src)
			var se *SourceError
			if !errors.As(err, &se) || se.Problem != tc.problem || CategoryOf(err) != tc.cat {
				t.Fatalf("err = %v (%T, cause %v), want %s", err, err, errors.Unwrap(err), tc.problem)
			}
			if !strings.Contains(err.Error(), tc.src.name()) || strings.Contains(err.Error(), fx.dir) {
				t.Errorf("message %q should name %s and no local path", err, tc.src.name())
			}
		})
	}
	// A header-only CSV is valid and has no rows.
	_, n, err := fx.convert(DefaultCSV(), s, fx.file("hdr.csv", []byte("a,b\n")))
	if err != nil || n != 0 {
		t.Errorf("header only: %d %v", n, err)
	}
}

func TestSandbox(t *testing.T) {
	fx := newFixture(t)
	// A column name cannot smuggle SQL, and DuckDB cannot read outside its sources.
	s := Schema{Columns: []Column{{Name: `x'); SELECT * FROM read_csv('/etc/passwd`, Type: TypeString}}}
	out, _, err := fx.convert(DefaultCSV(), s, fx.file("a.csv", []byte("h\nv\n")))
	if err != nil {
		t.Fatal(err)
	}
	_, rows := readBack(t, out)
	wantRows(t, rows, [][]string{{"v"}})
}

func TestCancel(t *testing.T) {
	fx := newFixture(t)
	// ~60 MB of CSV: long enough that the COPY is still running when we cancel.
	var b bytes.Buffer
	b.WriteString("a,b,c,d\n")
	for i := 0; i < 1_500_000; i++ {
		fmt.Fprintf(&b, "%d,name-%d,%d.5,2024-01-%02d 10:00:00\n", i, i, i, i%28+1)
	}
	src := fx.file("big.csv", b.Bytes())
	out := filepath.Join(fx.dir, "big.parquet")
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(150*time.Millisecond, cancel)
	start := time.Now()
	_, err := fx.eng.Convert(ctx, []Source{src}, DefaultCSV(), schema("a:BIGINT b:STRING c:DOUBLE d:DATETIME"), out)
	took := time.Since(start)
	if !errors.Is(err, context.Canceled) || CategoryOf(err) != CategoryCancelled {
		t.Fatalf("err = %v after %v, want cancelled", err, took)
	}
	if took > 3*time.Second {
		t.Errorf("cancel took %v", took)
	}
	fx.checkClean(out, err)
	t.Logf("cancelled after %v", took)
}
