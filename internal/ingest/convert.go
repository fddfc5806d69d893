package ingest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/duckdb/duckdb-go/v2"
)

// Limits bound one conversion.
type Limits struct {
	// StagingDir holds, per conversion, DuckDB's spill files and the sources
	// that must be decompressed in Go. Required.
	StagingDir string
	// MemoryLimit is DuckDB's memory_limit (DuckDB syntax, e.g. "512MB").
	// Default "1GB".
	MemoryLimit string
	// Threads is DuckDB's threads setting. Default 2.
	Threads int
	// MaxTempDirSize is DuckDB's max_temp_directory_size. Default "20GB".
	MaxTempDirSize string
	// MaxStagedBytes caps the bytes decompressed into StagingDir (bz2
	// sources, compressed Parquet) by all conversions of the Engine
	// together, and what callers Reserve there: one budget, however many
	// conversions run at once. Default 20 GiB.
	MaxStagedBytes int64
	// MinFreeBytes is the free space the staging file system keeps for
	// everything else on it: staging that would leave less fails the
	// conversion with SERVICE_QUOTA_EXCEEDED. Default 2 GiB.
	MinFreeBytes int64
	// MaxLineBytes is the longest CSV record (a line, or several when a
	// quoted field holds line breaks) a conversion reads; a longer one
	// fails it with USER_RECOVERABLE naming the file and line. It is also
	// DuckDB's max_line_size. Default 2 MiB.
	MaxLineBytes int64
}

// Engine converts sources to Parquet within its Limits. It holds no DuckDB
// state between calls: each Convert opens and closes its own database, so
// conversions are independent and may run concurrently.
type Engine struct {
	lim    Limits
	budget *stagingBudget
	// xmlSlowReads counts XML conversions the fast reader handed to
	// encoding/xml whole (tests); xmlSlowOnly reads every XML source with
	// encoding/xml (the benchmark's "before").
	xmlSlowReads atomic.Int64
	xmlSlowOnly  bool
}

// New returns an Engine after checking the limits.
func New(l Limits) (*Engine, error) {
	if l.StagingDir == "" {
		return nil, errors.New("ingest: Limits.StagingDir is required")
	}
	if l.MemoryLimit == "" {
		l.MemoryLimit = "1GB"
	}
	if l.Threads <= 0 {
		l.Threads = 2
	}
	if l.MaxTempDirSize == "" {
		l.MaxTempDirSize = "20GB"
	}
	if l.MaxStagedBytes <= 0 {
		l.MaxStagedBytes = 20 << 30
	}
	if l.MinFreeBytes <= 0 {
		l.MinFreeBytes = 2 << 30
	}
	if l.MaxLineBytes <= 0 {
		l.MaxLineBytes = 2 << 20
	}
	if err := os.MkdirAll(l.StagingDir, 0o700); err != nil {
		return nil, fmt.Errorf("ingest: staging dir: %w", err)
	}
	return &Engine{lim: l, budget: &stagingBudget{limit: l.MaxStagedBytes, minFree: l.MinFreeBytes, dir: l.StagingDir, free: freeBytes}}, nil
}

// Convert reads every source as format f, casts each value to schema s and
// writes all rows to one Parquet file at out (absolute path; its directory
// must exist). It returns the number of rows written. On error nothing
// exists under out and the staging files are gone; the error's category is
// CategoryOf(err).
func (e *Engine) Convert(ctx context.Context, sources []Source, f Format, s Schema, out string) (int64, error) {
	if err := s.Validate(); err != nil {
		return 0, err
	}
	if err := f.Validate(); err != nil {
		return 0, err
	}
	if len(sources) == 0 {
		return 0, &RequestError{Member: "sourceParams", Msg: "no source files"}
	}
	if !filepath.IsAbs(out) {
		return 0, errors.New("ingest: output path must be absolute")
	}
	work, err := os.MkdirTemp(e.lim.StagingDir, "ingest-")
	if err != nil {
		return 0, &LimitError{Msg: "the staging area is not usable", Err: err}
	}
	st := &staging{budget: e.budget}
	defer st.release() // after the removal below
	defer os.RemoveAll(work)
	if f.Type == FormatXML {
		return e.convertXML(ctx, work, sources, f, s, out, st)
	}

	preps := make([]prepared, len(sources))
	for i, src := range sources {
		if preps[i], err = prepare(ctx, src, f, work, i, st); err != nil {
			return 0, err
		}
	}

	tmp, err := tempName(out)
	if err != nil {
		return 0, &internalError{err}
	}
	defer os.Remove(tmp) // a no-op after the rename

	db, conn, err := e.open(ctx, work, preps, tmp)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	defer conn.Close()

	if f.Type == FormatParquet {
		if err := checkParquetColumns(ctx, conn, preps, s); err != nil {
			return 0, err
		}
	}
	// Alongside the COPY, Go reads every source DuckDB reads compressed
	// (DuckDB's gzip reader does not check the stream's end: a truncated
	// .gz file yields the rows before the cut and no error) and every CSV
	// source (DuckDB drops a line longer than its buffer without an error:
	// a 100 MB line gave SUCCESS with 0 rows). A finding there fails the
	// conversion, naming the file and line, and interrupts the COPY.
	copyCtx, stopCopy := context.WithCancel(ctx)
	defer stopCopy()
	type checked struct {
		stats []streamStats
		err   error
	}
	check := make(chan checked, 1)
	go func() {
		st, err := checkStreams(ctx, preps, f, e.lim.MaxLineBytes)
		if err != nil {
			stopCopy()
		}
		check <- checked{st, err}
	}()
	q := fmt.Sprintf("COPY (%s) TO %s (FORMAT parquet, COMPRESSION zstd)", selectSQL(preps, f, s, false, e.lim.MaxLineBytes), lit(tmp))
	res, err := conn.ExecContext(copyCtx, q)
	c := <-check
	if c.err != nil {
		os.Remove(tmp)
		if ctx.Err() != nil {
			return 0, &cancelledError{ctx.Err()}
		}
		return 0, c.err
	}
	if err != nil {
		os.Remove(tmp)
		return 0, diagnose(ctx, conn, preps, f, s, err, e.lim.MaxLineBytes)
	}
	rows, err := res.RowsAffected()
	if err != nil {
		return 0, &internalError{err}
	}
	if rows == 0 {
		if err := noRows(preps, f, c.stats); err != nil {
			return 0, err
		}
	}
	return finish(rows, db, conn, tmp, out)
}

// noRows fails a conversion that read no row from sources holding data:
// a CSV line beyond the header, a JSON record. Sources that say they hold
// none (a header alone, an empty JSON array) give an empty changeset.
func noRows(preps []prepared, f Format, stats []streamStats) error {
	for _, p := range preps {
		switch f.Type {
		case FormatCSV:
			data, err := csvDataLines(p, f)
			if err != nil {
				return &internalError{err}
			}
			if data > 0 {
				return &SourceError{File: p.src.name(), Problem: SourceNoRows,
					Msg: fmt.Sprintf("the file holds %d lines of data but no row could be read from them (check the line breaks, the separator and the quoting)", data)}
			}
		case FormatJSON:
			if line, found, err := jsonRecordStart(p, 0); err != nil {
				return &SourceError{File: p.src.name(), Problem: SourceMalformed, Msg: "the file is not valid JSON records", Err: err}
			} else if found {
				return &SourceError{File: p.src.name(), Line: line, Problem: SourceNoRows, Msg: "the file holds JSON records but no row could be read from them"}
			}
		}
	}
	return nil
}

// open starts a private, sandboxed DuckDB for one conversion.
func (e *Engine) open(ctx context.Context, work string, preps []prepared, tmpOut string) (*sql.DB, *sql.Conn, error) {
	spill := filepath.Join(work, "spill")
	if err := os.Mkdir(spill, 0o700); err != nil {
		return nil, nil, &internalError{err}
	}
	v := url.Values{}
	v.Set("threads", strconv.Itoa(e.lim.Threads))
	v.Set("memory_limit", e.lim.MemoryLimit)
	v.Set("temp_directory", spill)
	v.Set("max_temp_directory_size", e.lim.MaxTempDirSize)
	v.Set("autoinstall_known_extensions", "false")
	v.Set("autoload_known_extensions", "false")
	connector, err := duckdb.NewConnector("?"+v.Encode(), nil)
	if err != nil {
		return nil, nil, &internalError{err}
	}
	db := sql.OpenDB(connector)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, nil, &internalError{err}
	}
	paths := []string{tmpOut}
	for _, p := range preps {
		paths = append(paths, p.path)
	}
	for _, stmt := range []string{
		"SET allowed_paths = " + listLit(paths),
		"SET allowed_directories = " + listLit([]string{work + string(filepath.Separator)}),
		"SET enable_external_access = false",
		"SET lock_configuration = true",
	} {
		if _, err := conn.ExecContext(ctx, stmt); err != nil {
			conn.Close()
			db.Close()
			return nil, nil, &internalError{fmt.Errorf("%s: %w", stmt, err)}
		}
	}
	return db, conn, nil
}

// selectSQL is the query that reads every source with the schema's columns.
// With raw, JSON and Parquet columns are not cast (the diagnostic scan casts
// them with TRY_CAST itself).
func selectSQL(preps []prepared, f Format, s Schema, raw bool, maxLine int64) string {
	switch f.Type {
	case FormatCSV:
		return "SELECT * FROM " + csvScan(preps, f, s, maxLine, "")
	case FormatJSON:
		// One scan per layout; mixed layouts are rare, keep it simple.
		var parts []string
		for _, group := range groupByLayout(preps) {
			parts = append(parts, castList(s, raw)+" FROM "+jsonScan(group, f, s))
		}
		return strings.Join(parts, " UNION ALL ")
	default:
		return castList(s, raw) + " FROM read_parquet(" + pathList(preps) + ", union_by_name = true)"
	}
}

func csvScan(preps []prepared, f Format, s Schema, maxLine int64, extra string) string {
	var cols []string
	for _, c := range s.Columns {
		cols = append(cols, lit(c.Name)+": "+lit(c.Type.DuckType()))
	}
	opts := []string{
		"columns = {" + strings.Join(cols, ", ") + "}",
		"auto_detect = false",
		"header = " + strconv.FormatBool(f.WithHeader),
		"delim = " + lit(f.sep()),
		"quote = " + lit(f.quote()),
		"escape = " + lit(f.escape()),
		"nullstr = " + lit(f.NullValue),
		"allow_quoted_nulls = false",
		"strict_mode = true",
		"null_padding = false",
		"compression = " + lit(duckCompression(preps[0].compression, false)),
		// Above the limit Go checks (checkStreams), so that DuckDB never
		// refuses a record Go accepted; its buffer (16 times this) holds
		// every such record.
		"max_line_size = " + strconv.FormatInt(maxLine+maxLine/8+1024, 10),
	}
	if extra != "" {
		opts = append(opts, extra)
	}
	return "read_csv(" + pathList(preps) + ", " + strings.Join(opts, ", ") + ")"
}

func jsonScan(preps []prepared, f Format, s Schema) string {
	var cols []string
	for _, c := range s.Columns {
		cols = append(cols, lit(c.Name)+": 'VARCHAR'")
	}
	layout := "newline_delimited"
	if preps[0].jsonArray {
		layout = "array"
	}
	return "read_json(" + pathList(preps) + ", columns = {" + strings.Join(cols, ", ") + "}, auto_detect = false, records = true, format = " +
		lit(layout) + ", compression = " + lit(duckCompression(preps[0].compression, true)) + ")"
}

func castList(s Schema, raw bool) string {
	var out []string
	for _, c := range s.Columns {
		if raw {
			out = append(out, ident(c.Name))
		} else {
			out = append(out, fmt.Sprintf("CAST(%s AS %s) AS %s", ident(c.Name), c.Type.DuckType(), ident(c.Name)))
		}
	}
	return "SELECT " + strings.Join(out, ", ")
}

func groupByLayout(preps []prepared) [][]prepared {
	var arr, nd []prepared
	for _, p := range preps {
		if p.jsonArray {
			arr = append(arr, p)
		} else {
			nd = append(nd, p)
		}
	}
	var g [][]prepared
	for _, x := range [][]prepared{nd, arr} {
		if len(x) > 0 {
			g = append(g, x)
		}
	}
	return g
}

// duckCompression names c as read_csv or read_json (whose enum differs)
// spell it.
func duckCompression(c Compression, json bool) string {
	switch {
	case c == CompressionGzip:
		return "gzip"
	case c == CompressionZstd:
		return "zstd"
	case json:
		return "uncompressed"
	}
	return "none"
}

func checkParquetColumns(ctx context.Context, conn *sql.Conn, preps []prepared, s Schema) error {
	for _, p := range preps {
		rows, err := conn.QueryContext(ctx, "SELECT name FROM parquet_schema("+lit(p.path)+")")
		if err != nil {
			if ctx.Err() != nil {
				return &cancelledError{ctx.Err()}
			}
			return &SourceError{File: p.src.name(), Problem: SourceMalformed, Msg: "the file is not a readable Parquet file", Err: err}
		}
		have := map[string]bool{}
		for rows.Next() {
			var n string
			if err := rows.Scan(&n); err == nil {
				have[strings.ToLower(n)] = true
			}
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return &SourceError{File: p.src.name(), Problem: SourceMalformed, Msg: "the file is not a readable Parquet file", Err: err}
		}
		for _, c := range s.Columns {
			if !have[strings.ToLower(c.Name)] {
				return &ValidationError{File: p.src.name(), Column: c.Name, Type: c.Type, Reason: "the file has no column of this name"}
			}
		}
	}
	return nil
}

// tempName is a hidden sibling of out, so the final rename stays within
// one file system.
func tempName(out string) (string, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return filepath.Join(filepath.Dir(out), "."+filepath.Base(out)+"."+hex.EncodeToString(b[:])+".ingest-tmp"), nil
}

// finish closes a conversion's DuckDB, which completes the file its COPY
// wrote to tmp, and commits tmp as out; it returns the rows written.
func finish(rows int64, db *sql.DB, conn *sql.Conn, tmp, out string) (int64, error) {
	conn.Close()
	db.Close()
	if err := commitFile(tmp, out); err != nil {
		return 0, &internalError{err}
	}
	return rows, nil
}

// commitFile makes tmp durable and gives it its final name.
func commitFile(tmp, out string) error {
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, out); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(out))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// lit quotes a SQL string literal; ident a SQL identifier.
func lit(s string) string   { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
func ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func listLit(xs []string) string {
	q := make([]string, len(xs))
	for i, x := range xs {
		q[i] = lit(x)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func pathList(preps []prepared) string {
	ps := make([]string, len(preps))
	for i, p := range preps {
		ps[i] = p.path
	}
	return listLit(ps)
}

func lower(c Compression) string { return strings.ToLower(string(c)) }
