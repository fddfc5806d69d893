package ingest

import (
	"context"
	"database/sql"
	"encoding/csv"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/duckdb/duckdb-go/v2"
)

// diagnose runs after the strict conversion failed with cause. It scans the
// sources again, one at a time and in order, to name the first bad value or
// row; failing that, the first file DuckDB cannot read. Only the failure path
// pays for this second read.
func diagnose(ctx context.Context, conn *sql.Conn, preps []prepared, f Format, s Schema, cause error, maxLine int64) error {
	if ctx.Err() != nil {
		return &cancelledError{ctx.Err()}
	}
	var de *duckdb.Error
	if errors.As(cause, &de) && de.Type == duckdb.ErrorTypeOutOfMemory {
		return &LimitError{Msg: "the conversion needs more memory or spill space than this server allows for one ingestion", Err: cause}
	}
	if f.Type == FormatCSV && strings.Contains(cause.Error(), "Maximum line size") {
		// A record DuckDB finds longer than its max_line_size though no
		// line is (a quoted field over several lines, with an escape
		// character other than the quote). Which file: the first.
		name := preps[0].src.name()
		if m := csvFile.FindStringSubmatch(cause.Error()); m != nil {
			for _, p := range preps {
				if p.path == m[1] {
					name = p.src.name()
				}
			}
		}
		return &SourceError{File: name, Problem: SourceLineTooLong, Err: cause,
			Msg: fmt.Sprintf("a record is longer than the %d bytes a record may hold on this server (check the quoting)", maxLine)}
	}
	for i, p := range preps {
		var err error
		if f.Type == FormatCSV {
			err = diagnoseCSV(ctx, conn, i, p, f, s, maxLine)
		} else {
			err = diagnoseScan(ctx, conn, p, f, s)
		}
		if err != nil {
			return err
		}
	}
	return &internalError{cause}
}

func diagnoseCSV(ctx context.Context, conn *sql.Conn, i int, p prepared, f Format, s Schema, maxLine int64) error {
	rej, scan := fmt.Sprintf("ingest_rejects_%d", i), fmt.Sprintf("ingest_scans_%d", i)
	q := "SELECT count(COLUMNS(*)) FROM " + csvScan([]prepared{p}, f, s, maxLine,
		fmt.Sprintf("store_rejects = true, rejects_table = %s, rejects_scan = %s, rejects_limit = 100", lit(rej), lit(scan)))
	_, scanErr := conn.ExecContext(ctx, q)
	if ctx.Err() != nil {
		return &cancelledError{ctx.Err()}
	}
	var (
		line, lineStart          int64
		colIdx                   int
		colName, kind, row, dmsg sql.NullString
	)
	err := conn.QueryRowContext(ctx, "SELECT line, line_byte_position, column_idx, column_name, error_type, csv_line, error_message FROM "+
		ident(rej)+" ORDER BY line, column_idx LIMIT 1").Scan(&line, &lineStart, &colIdx, &colName, &kind, &row, &dmsg)
	if err == nil {
		// DuckDB's line counts records (a quoted line break does not
		// count); users count lines. The row's byte offset gives the line.
		if l, lerr := lineOfOffset(p, lineStart); lerr == nil {
			line = l
		}
		return csvReject(p, f, s, line, colIdx, colName.String, kind.String, row.String, dmsg.String)
	}
	if scanErr != nil {
		return unreadable(p, f, scanErr)
	}
	return nil
}

func csvReject(p prepared, f Format, s Schema, line int64, colIdx int, colName, kind, row, msg string) error {
	name := p.src.name()
	switch kind {
	case "CAST":
		col := Column{Name: colName}
		if colIdx >= 1 && colIdx <= len(s.Columns) {
			col = s.Columns[colIdx-1]
		}
		return &ValidationError{File: name, Line: line, Unit: "line", Column: col.Name, Type: col.Type, Value: clip(csvField(row, f, colIdx-1, msg))}
	case "MISSING COLUMNS", "TOO MANY COLUMNS":
		return &ValidationError{File: name, Line: line, Unit: "line",
			Reason: fmt.Sprintf("the row does not have the schema's %d fields (check the separator %q and the quoting)", len(s.Columns), f.sep())}
	}
	return &SourceError{File: name, Line: line, Problem: SourceMalformed, Msg: "not valid CSV: " + strings.ToLower(kind) + ": " + msg}
}

// csvFile is the file of a DuckDB CSV error, in its "file = /path" line.
var csvFile = regexp.MustCompile(`(?m)^\s*file = (.*)$`)

var convertValue = regexp.MustCompile(`Could not convert string "(.*)" to '`)

// csvField extracts the offending field from the rejected row. The reject
// table has the row's text, not the field, so parse the row the way the
// format says; if that fails (an escape character other than the quote,
// which encoding/csv cannot express) take it from DuckDB's message.
func csvField(row string, f Format, idx int, msg string) string {
	if f.escape() == f.quote() && f.quote() == `"` {
		r := csv.NewReader(strings.NewReader(strings.TrimLeft(row, "\r\n")))
		r.Comma = []rune(f.sep())[0]
		r.LazyQuotes = true
		r.FieldsPerRecord = -1
		if rec, err := r.Read(); err == nil && idx >= 0 && idx < len(rec) {
			return rec[idx]
		}
	}
	if m := convertValue.FindStringSubmatch(msg); m != nil {
		return m[1]
	}
	return ""
}

// diagnoseScan finds the first JSON record or Parquet row whose value does
// not cast, reading the source in file order.
func diagnoseScan(ctx context.Context, conn *sql.Conn, p prepared, f Format, s Schema) error {
	var conds, vals []string
	for i, c := range s.Columns {
		bad := fmt.Sprintf("%s IS NOT NULL AND TRY_CAST(%s AS %s) IS NULL", ident(c.Name), ident(c.Name), c.Type.DuckType())
		conds = append(conds, fmt.Sprintf("WHEN %s THEN %d", bad, i+1))
		vals = append(vals, fmt.Sprintf("WHEN %s THEN CAST(%s AS VARCHAR)", bad, ident(c.Name)))
	}
	q := fmt.Sprintf("SELECT CASE %s ELSE 0 END, CASE %s END FROM (%s)",
		strings.Join(conds, " "), strings.Join(vals, " "), selectSQL([]prepared{p}, f, s, true, 0))
	rows, err := conn.QueryContext(ctx, q)
	if err != nil {
		return unreadable(p, f, err)
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		var bad int
		var val sql.NullString
		if err := rows.Scan(&bad, &val); err != nil {
			return &internalError{err}
		}
		if bad > 0 {
			c := s.Columns[bad-1]
			ve := &ValidationError{File: p.src.name(), Column: c.Name, Type: c.Type, Value: clip(val.String), Unit: "row", Line: n + 1}
			if f.Type == FormatJSON {
				ve.Unit, ve.Line = "line", jsonRecordLine(p, n)
			}
			return ve
		}
		n++
	}
	if err := rows.Err(); err != nil {
		return unreadable(p, f, err)
	}
	return nil
}

// unreadable classifies a source DuckDB could not read: a compressed stream
// that does not decompress in Go either is corrupt; otherwise the content is
// not the declared format.
func unreadable(p prepared, f Format, err error) error {
	name := p.src.name()
	if verr := verifyStream(p); verr != nil {
		return &SourceError{File: name, Problem: SourceCompression, Msg: fmt.Sprintf("the %s stream is truncated or corrupt", lower(p.compression)), Err: err}
	}
	var de *duckdb.Error
	if errors.As(err, &de) && de.Type == duckdb.ErrorTypeOutOfMemory {
		return &LimitError{Msg: "the conversion needs more memory or spill space than this server allows for one ingestion", Err: err}
	}
	msg := err.Error()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	msg = strings.ReplaceAll(msg, p.path, name)
	if i := strings.Index(msg, "Error: "); i >= 0 && i < 30 {
		msg = msg[i+len("Error: "):]
	}
	return &SourceError{File: name, Problem: SourceMalformed, Msg: "the file is not valid " + string(f.Type) + ": " + msg, Err: err}
}

func clip(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}
