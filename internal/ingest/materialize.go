package ingest

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/duckdb/duckdb-go/v2"
)

// This file is the materialization of data views: the Parquet files of
// the changesets a view holds, read with their own schemas, cast to the
// view's, sorted and written as Hive-style partition folders of Parquet or
// delimited text. It shares the Engine's limits (memory, threads, spill)
// and sandbox with Convert, and nothing else.

// ViewInput is one changeset's stored Parquet file and the columns it was
// ingested with (a column the view has and the file lacks reads as NULL).
type ViewInput struct {
	Path    string
	Columns []Column
}

// ViewFormat is a view's output file format.
type ViewFormat string

const (
	ViewParquet   ViewFormat = "PARQUET"
	ViewDelimited ViewFormat = "DELIMITED_TEXT"
)

// ViewSpec describes one materialization.
type ViewSpec struct {
	Inputs []ViewInput
	// Schema is the view's columns, in order.
	Schema Schema
	// Partition names the partition columns, in folder order; Sort the
	// columns every file is sorted by (ascending, NULLs last).
	Partition, Sort []string
	Format          ViewFormat
	// Compression: for Parquet snappy, zstd, gzip or none; for delimited
	// text none, gzip or zstd.
	Compression string
	// Delimited text options.
	Header                 bool
	Delimiter, Quote, Null string
	Escape                 string
	// OutDir is where the files go (absolute; created, must not exist).
	OutDir string
	// Partial, for a partitioned view, writes only the partitions that
	// rows of Touched fall in (the changesets that changed since a
	// previous version: added and removed ones); the result's Touched
	// names their folders, including those left with no row.
	Partial bool
	Touched []ViewInput
}

// ViewResult is what Materialize wrote.
type ViewResult struct {
	Files []ViewFile
	// Touched are the folders (relative to OutDir, slash-separated) of
	// the partitions a Partial materialization rebuilt.
	Touched []string
}

// ViewFile is one written file, relative to OutDir (slash-separated).
type ViewFile struct {
	Path string
	Rows int64
	// Values are the partition values of its folder (nil when the view is
	// not partitioned; a NULL value is HiveDefaultPartition).
	Values []string
}

// HiveDefaultPartition is the folder value Hive writes for a NULL (or
// empty) partition value.
const HiveDefaultPartition = "__HIVE_DEFAULT_PARTITION__"

// HiveEscape escapes a partition column name or value for a folder name the
// way Hive does (FileUtils.escapePathName): control characters and
// "#%'*/:=?\{[]^ as %XX.
func HiveEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || strings.IndexByte("\"#%'*/:=?\\{[]^", c) >= 0 {
			fmt.Fprintf(&b, "%%%02X", c)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ViewExt is the file name extension of spec's files.
func (s ViewSpec) ext() string {
	if s.Format == ViewParquet {
		return ".parquet"
	}
	switch strings.ToLower(s.Compression) {
	case "gzip":
		return ".csv.gz"
	case "zstd":
		return ".csv.zst"
	}
	return ".csv"
}

func (s ViewSpec) copyOptions() string {
	if s.Format == ViewParquet {
		c := strings.ToLower(s.Compression)
		if c == "" {
			c = "zstd"
		}
		if c == "none" {
			c = "uncompressed"
		}
		return "FORMAT parquet, COMPRESSION " + c + ", ROW_GROUP_SIZE 122880"
	}
	c := strings.ToLower(s.Compression)
	if c == "" {
		c = "none"
	}
	opts := []string{"FORMAT csv", "HEADER " + strconv.FormatBool(s.Header),
		"DELIMITER " + mvLit(orDefault(s.Delimiter, ",")), "QUOTE " + mvLit(orDefault(s.Quote, `"`)),
		"ESCAPE " + mvLit(orDefault(s.Escape, orDefault(s.Quote, `"`))), "NULLSTR " + mvLit(s.Null),
		"COMPRESSION " + c}
	return strings.Join(opts, ", ")
}

func mvLit(s string) string   { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
func mvIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// Materialize writes the view spec describes under spec.OutDir: one file
// per partition folder (part-00000.<ext>), or one file when the view is not
// partitioned (even with no rows, so readers see the columns). A
// partitioned view with no rows has no files. The error's category is
// CategoryOf(err); on error OutDir may hold some files (the caller owns
// and removes it).
func (e *Engine) Materialize(ctx context.Context, spec ViewSpec) (*ViewResult, error) {
	if err := spec.Schema.Validate(); err != nil {
		return nil, err
	}
	if spec.Partial && len(spec.Partition) == 0 {
		return nil, errors.New("ingest: a partial materialization needs partition columns")
	}
	if !filepath.IsAbs(spec.OutDir) {
		return nil, errors.New("ingest: view output dir must be absolute")
	}
	cols := map[string]Column{}
	for _, c := range spec.Schema.Columns {
		cols[strings.ToLower(c.Name)] = c
	}
	part := map[string]bool{}
	for _, p := range spec.Partition {
		if _, ok := cols[strings.ToLower(p)]; !ok {
			return nil, &RequestError{Member: "partitionColumns", Msg: fmt.Sprintf("%q is not a column of the view", p)}
		}
		part[strings.ToLower(p)] = true
	}
	for _, p := range spec.Sort {
		if _, ok := cols[strings.ToLower(p)]; !ok {
			return nil, &RequestError{Member: "sortColumns", Msg: fmt.Sprintf("%q is not a column of the view", p)}
		}
	}
	var data []string
	for _, c := range spec.Schema.Columns {
		if !part[strings.ToLower(c.Name)] {
			data = append(data, mvIdent(c.Name))
		}
	}
	if len(data) == 0 {
		return nil, &RequestError{Member: "partitionColumns", Msg: "every column is a partition column; a view's files need at least one other column"}
	}
	work, err := os.MkdirTemp(e.lim.StagingDir, "view-")
	if err != nil {
		return nil, &LimitError{Msg: "the staging area is not usable", Err: err}
	}
	defer os.RemoveAll(work)
	if err := os.MkdirAll(spec.OutDir, 0o700); err != nil {
		return nil, &internalError{err}
	}
	db, conn, err := e.openView(ctx, work, spec)
	if err != nil {
		return nil, err
	}
	res := &ViewResult{}
	defer db.Close()
	defer conn.Close()

	exec := func(q string) error {
		if _, err := conn.ExecContext(ctx, q); err != nil {
			if ctx.Err() != nil {
				return &cancelledError{ctx.Err()}
			}
			return &internalError{fmt.Errorf("%s: %w", clip(q), err)}
		}
		return nil
	}
	var pcols, pstr []string
	for i, p := range spec.Partition {
		c := mvIdent(cols[strings.ToLower(p)].Name)
		pcols = append(pcols, c)
		pstr = append(pstr, fmt.Sprintf("CAST(%s AS VARCHAR) AS __s%d", c, i))
	}
	pl := strings.Join(pcols, ", ")
	union := unionSQL(spec.Inputs, spec.Schema)
	if spec.Partial {
		// Only the partitions the changed changesets' rows fall in: their
		// values first (from those changesets alone), then only the rows
		// of every changeset in them.
		if err := exec(fmt.Sprintf("CREATE TEMP TABLE touched AS SELECT DISTINCT %s, %s FROM (%s)", pl, strings.Join(pstr, ", "),
			unionSQL(spec.Touched, spec.Schema))); err != nil {
			return nil, err
		}
		filter, err := e.touchedFilter(ctx, conn, spec, cols, pcols)
		if err != nil {
			return nil, err
		}
		union = "SELECT * FROM (" + union + ") u WHERE " + filter
		var sel []string
		for i := range spec.Partition {
			sel = append(sel, fmt.Sprintf("__s%d", i))
		}
		vals, err := e.partitionValues(ctx, conn, "SELECT "+strings.Join(sel, ", ")+" FROM touched", len(spec.Partition))
		if err != nil {
			return nil, err
		}
		for _, v := range vals {
			res.Touched = append(res.Touched, folderOf(spec, cols, v))
		}
	}
	if _, err := conn.ExecContext(ctx, "CREATE TEMP TABLE v0 AS "+union); err != nil {
		var de *duckdb.Error
		if ctx.Err() == nil && errors.As(err, &de) && de.Type == duckdb.ErrorTypeConversion {
			// Data ingested under an earlier schema that the view's
			// (the dataset's now) cannot hold: the user's to fix.
			return nil, &RequestError{Member: "schemaDefinition", Msg: "the data of a changeset ingested with an earlier schema " +
				"does not fit the view's column types (" + clip(conversionDetail(de.Msg)) + ")"}
		}
		return nil, engineError(ctx, err)
	}
	order := ""
	if len(spec.Sort) > 0 {
		var o []string
		for _, c := range spec.Sort {
			o = append(o, mvIdent(cols[strings.ToLower(c)].Name)+" ASC NULLS LAST")
		}
		order = " ORDER BY " + strings.Join(o, ", ")
	}
	dataList := strings.Join(data, ", ")
	if len(spec.Partition) == 0 {
		name := "part-00000" + spec.ext()
		out := filepath.Join(spec.OutDir, name)
		r, err := conn.ExecContext(ctx, fmt.Sprintf("COPY (SELECT %s FROM v0%s) TO %s (%s)", dataList, order, mvLit(out), spec.copyOptions()))
		if err != nil {
			return nil, engineError(ctx, err)
		}
		n, _ := r.RowsAffected()
		res.Files = []ViewFile{{Path: name, Rows: n}}
		return res, nil
	}

	// Partitions: numbered in the order of their values, each written by
	// its own COPY from a table ordered by partition number (its zone maps
	// let each COPY skip the other partitions' row groups).
	if err := exec(fmt.Sprintf("CREATE TEMP TABLE parts AS SELECT row_number() OVER (ORDER BY %s) - 1 AS __p, %s, %s FROM (SELECT DISTINCT %s FROM v0)",
		orderAll(pcols), pl, strings.Join(pstr, ", "), pl)); err != nil {
		return nil, err
	}
	var on []string
	for _, c := range pcols {
		on = append(on, "v0."+c+" IS NOT DISTINCT FROM parts."+c)
	}
	if err := exec(fmt.Sprintf("CREATE TEMP TABLE v AS SELECT v0.*, parts.__p FROM v0 JOIN parts ON %s ORDER BY parts.__p", strings.Join(on, " AND "))); err != nil {
		return nil, err
	}
	if err := exec("DROP TABLE v0"); err != nil {
		return nil, err
	}
	var sel []string
	for i := range spec.Partition {
		sel = append(sel, fmt.Sprintf("__s%d", i))
	}
	vals, err := e.partitionValues(ctx, conn, "SELECT "+strings.Join(sel, ", ")+" FROM parts ORDER BY __p", len(spec.Partition))
	if err != nil {
		return nil, err
	}
	res.Files = make([]ViewFile, 0, len(vals))
	for n, values := range vals {
		rel := folderOf(spec, cols, values) + "/part-00000" + spec.ext()
		out := filepath.Join(spec.OutDir, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
			return nil, &internalError{err}
		}
		r, err := conn.ExecContext(ctx, fmt.Sprintf("COPY (SELECT %s FROM v WHERE __p = %d%s) TO %s (%s)",
			dataList, n, order, mvLit(out), spec.copyOptions()))
		if err != nil {
			return nil, engineError(ctx, err)
		}
		rows, _ := r.RowsAffected()
		res.Files = append(res.Files, ViewFile{Path: rel, Rows: rows, Values: values})
	}
	return res, nil
}

// touchedFilter is the condition on u (a row of the union) that keeps the
// touched partitions' rows: constants when they are few (so the Parquet
// readers skip row groups by their statistics), a semi-join otherwise.
func (e *Engine) touchedFilter(ctx context.Context, conn *sql.Conn, spec ViewSpec, cols map[string]Column, pcols []string) (string, error) {
	var n int
	if err := conn.QueryRowContext(ctx, "SELECT count(*) FROM touched").Scan(&n); err != nil {
		return "", engineError(ctx, err)
	}
	if n == 0 {
		return "false", nil
	}
	if n > 256 {
		var on []string
		for _, c := range pcols {
			on = append(on, "u."+c+" IS NOT DISTINCT FROM t."+c)
		}
		return "EXISTS (SELECT 1 FROM touched t WHERE " + strings.Join(on, " AND ") + ")", nil
	}
	var sel []string
	for i := range spec.Partition {
		sel = append(sel, fmt.Sprintf("__s%d", i))
	}
	rows, err := conn.QueryContext(ctx, "SELECT "+strings.Join(sel, ", ")+" FROM touched")
	if err != nil {
		return "", engineError(ctx, err)
	}
	defer rows.Close()
	var ors []string
	for rows.Next() {
		vals := make([]sql.NullString, len(pcols))
		dest := make([]any, len(pcols))
		for i := range vals {
			dest[i] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return "", &internalError{err}
		}
		var ands []string
		for i, v := range vals {
			if !v.Valid {
				ands = append(ands, "u."+pcols[i]+" IS NULL")
				continue
			}
			typ := cols[strings.ToLower(spec.Partition[i])].Type.DuckType()
			ands = append(ands, fmt.Sprintf("u.%s = CAST(%s AS %s)", pcols[i], mvLit(v.String), typ))
		}
		ors = append(ors, "("+strings.Join(ands, " AND ")+")")
	}
	if err := rows.Err(); err != nil {
		return "", engineError(ctx, err)
	}
	return "(" + strings.Join(ors, " OR ") + ")", nil
}

// folderOf is the Hive folder path of one partition's values.
func folderOf(spec ViewSpec, cols map[string]Column, values []string) string {
	segs := make([]string, len(values))
	for i, v := range values {
		ev := v
		if v != HiveDefaultPartition {
			ev = HiveEscape(v)
		}
		segs[i] = HiveEscape(cols[strings.ToLower(spec.Partition[i])].Name) + "=" + ev
	}
	return strings.Join(segs, "/")
}

// partitionValues reads rows of n VARCHAR partition values (NULL or empty
// as HiveDefaultPartition).
func (e *Engine) partitionValues(ctx context.Context, conn *sql.Conn, q string, n int) ([][]string, error) {
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return nil, engineError(ctx, err)
	}
	defer rows.Close()
	var out [][]string
	for rows.Next() {
		vals := make([]sql.NullString, n)
		dest := make([]any, n)
		for i := range vals {
			dest[i] = &vals[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, &internalError{err}
		}
		values := make([]string, n)
		for i, v := range vals {
			if !v.Valid || v.String == "" {
				values[i] = HiveDefaultPartition
			} else {
				values[i] = v.String
			}
		}
		out = append(out, values)
	}
	if err := rows.Err(); err != nil {
		return nil, engineError(ctx, err)
	}
	return out, nil
}

// conversionDetail is DuckDB's conversion message without its prefix.
func conversionDetail(msg string) string {
	msg = strings.TrimPrefix(msg, "Conversion Error: ")
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	return msg
}

func orderAll(cols []string) string {
	var o []string
	for _, c := range cols {
		o = append(o, c+" ASC NULLS LAST")
	}
	return strings.Join(o, ", ")
}

// unionSQL reads every input with the view's columns: a column the input
// has is cast to the view's type, one it lacks is NULL.
func unionSQL(inputs []ViewInput, schema Schema) string {
	var parts []string
	for _, in := range inputs {
		have := map[string]string{}
		for _, c := range in.Columns {
			have[strings.ToLower(c.Name)] = c.Name
		}
		var sel []string
		for _, c := range schema.Columns {
			if name, ok := have[strings.ToLower(c.Name)]; ok {
				sel = append(sel, fmt.Sprintf("CAST(%s AS %s) AS %s", mvIdent(name), c.Type.DuckType(), mvIdent(c.Name)))
			} else {
				sel = append(sel, fmt.Sprintf("CAST(NULL AS %s) AS %s", c.Type.DuckType(), mvIdent(c.Name)))
			}
		}
		parts = append(parts, "SELECT "+strings.Join(sel, ", ")+" FROM read_parquet("+mvLit(in.Path)+")")
	}
	if len(parts) == 0 {
		var sel []string
		for _, c := range schema.Columns {
			sel = append(sel, fmt.Sprintf("CAST(NULL AS %s) AS %s", c.Type.DuckType(), mvIdent(c.Name)))
		}
		return "SELECT " + strings.Join(sel, ", ") + " WHERE false"
	}
	return strings.Join(parts, " UNION ALL ")
}

// openView starts a private, sandboxed DuckDB for one materialization: it
// may read the inputs and write under work (spill) and OutDir only.
func (e *Engine) openView(ctx context.Context, work string, spec ViewSpec) (*sql.DB, *sql.Conn, error) {
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
	var paths []string
	for _, in := range append(slices.Clone(spec.Inputs), spec.Touched...) {
		paths = append(paths, in.Path)
	}
	quoted := make([]string, len(paths))
	for i, p := range paths {
		quoted[i] = mvLit(p)
	}
	sep := string(filepath.Separator)
	for _, stmt := range []string{
		"SET allowed_paths = [" + strings.Join(quoted, ", ") + "]",
		"SET allowed_directories = [" + mvLit(work+sep) + ", " + mvLit(strings.TrimSuffix(spec.OutDir, sep)+sep) + "]",
		"SET enable_external_access = false",
		"SET preserve_insertion_order = true",
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
