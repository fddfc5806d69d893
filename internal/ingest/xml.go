package ingest

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"database/sql/driver"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/duckdb/duckdb-go/v2"
)

// XML sources are parsed in Go (encoding/xml, streaming: one record in
// memory at a time) and loaded through DuckDB's appender into a table of
// text columns; the same strict casts as the other formats then write the
// Parquet file, and a value that does not cast is found by a second query
// over that table, with the line its record starts on.
//
// Layout: the document's root element holds one child element per record;
// a record's child elements (and its attributes) are its columns, matched to
// the schema's names without case; an element's text is the value (entities
// and CDATA decoded, surrounding white space kept). A column the record
// lacks, or an element with xsi:nil="true", is NULL; an empty element is the
// empty string, which fits STRING and CHAR columns and fails any other type
// with VALIDATION (never a silent NULL). Elements and attributes that are no
// column of the schema are ignored, as Parquet and JSON ignore extra fields;
// a column given twice in one record, an element inside a column, or text
// outside the columns fails with the line.

// The load table holds packed records (xmlfast.go); the view over it has
// one text column per schema column, with each record's source and line,
// for the casts and the diagnosis.
const (
	xmlRawTable = "ingest_xml_raw"
	xmlTable    = "ingest_xml_rows"
)

// xmlViewSQL unpacks the load table: a row per batch of records (rec
// separated by xmlRecSep), each record its line in decimal, then each
// value after an xmlSep (xmlfast.go). One appended row per batch instead
// of one per record: the appender's per-row cost was a third of the load.
func xmlViewSQL(s Schema) string {
	cols := []string{"src", "CAST(p[1] AS BIGINT) AS line"}
	for i := range s.Columns {
		cols = append(cols, fmt.Sprintf("nullif(p[%d], chr(%d)) AS %s", i+2, xmlNull, xmlColumn(i)))
	}
	return fmt.Sprintf("SELECT %s FROM (SELECT src, string_split(r, chr(%d)) AS p FROM (SELECT src, unnest(string_split(batch, chr(%d))) AS r FROM %s))",
		strings.Join(cols, ", "), xmlSep, xmlRecSep, xmlRawTable)
}

// xmlColumn names the text column of schema column i in the load table.
func xmlColumn(i int) string { return fmt.Sprintf("c%d", i) }

// convertXML is Convert for XML sources, in work (Convert's directory).
func (e *Engine) convertXML(ctx context.Context, work string, sources []Source, f Format, s Schema, out string, st *staging) (int64, error) {
	preps := make([]prepared, len(sources))
	for i, src := range sources {
		var err error
		if preps[i], err = prepare(ctx, src, f, work, i, st); err != nil {
			return 0, err
		}
	}
	if ctx.Err() != nil {
		return 0, &cancelledError{ctx.Err()}
	}
	tmp, err := tempName(out)
	if err != nil {
		return 0, &internalError{err}
	}
	defer os.Remove(tmp)
	// DuckDB reads no source: Go does.
	db, conn, err := e.open(ctx, work, nil, tmp)
	if err != nil {
		if ctx.Err() != nil {
			return 0, &cancelledError{ctx.Err()}
		}
		return 0, err
	}
	defer db.Close()
	defer conn.Close()

	if _, err := conn.ExecContext(ctx, "CREATE TABLE "+xmlRawTable+" (src INTEGER, batch VARCHAR)"); err != nil {
		return 0, &internalError{err}
	}
	if _, err := conn.ExecContext(ctx, "CREATE VIEW "+xmlTable+" AS "+xmlViewSQL(s)); err != nil {
		return 0, &internalError{err}
	}
	err = conn.Raw(func(dc any) error {
		dconn, ok := dc.(driver.Conn)
		if !ok {
			return &internalError{errors.New("ingest: the DuckDB connection is not a driver.Conn")}
		}
		return e.loadXMLSources(ctx, dconn, preps, s)
	})
	if err != nil {
		if ctx.Err() != nil {
			return 0, &cancelledError{ctx.Err()}
		}
		return 0, err
	}
	var casts []string
	for i, c := range s.Columns {
		casts = append(casts, fmt.Sprintf("CAST(%s AS %s) AS %s", xmlColumn(i), c.Type.DuckType(), ident(c.Name)))
	}
	// No ORDER BY: DuckDB keeps a table scan in insertion order
	// (preserve_insertion_order, on by default), which is source then record
	// order; sorting cost a quarter of the time and memory for nothing.
	q := fmt.Sprintf("COPY (SELECT %s FROM %s) TO %s (FORMAT parquet, COMPRESSION zstd)",
		strings.Join(casts, ", "), xmlTable, lit(tmp))
	res, err := conn.ExecContext(ctx, q)
	if err != nil {
		os.Remove(tmp)
		if ctx.Err() != nil {
			return 0, &cancelledError{ctx.Err()}
		}
		return 0, diagnoseXML(ctx, conn, preps, s, err)
	}
	rows, err := res.RowsAffected()
	if err != nil {
		return 0, &internalError{err}
	}
	return finish(rows, db, conn, tmp, out)
}

// diagnoseXML names the first value that does not cast, in source and
// line order.
func diagnoseXML(ctx context.Context, conn *sql.Conn, preps []prepared, s Schema, cause error) error {
	var de *duckdb.Error
	if errors.As(cause, &de) && de.Type == duckdb.ErrorTypeOutOfMemory {
		return &LimitError{Msg: "the conversion needs more memory or spill space than this server allows for one ingestion", Err: cause}
	}
	var conds, vals, anyBad []string
	for i, c := range s.Columns {
		bad := fmt.Sprintf("(%s IS NOT NULL AND TRY_CAST(%s AS %s) IS NULL)", xmlColumn(i), xmlColumn(i), c.Type.DuckType())
		conds = append(conds, fmt.Sprintf("WHEN %s THEN %d", bad, i+1))
		vals = append(vals, fmt.Sprintf("WHEN %s THEN %s", bad, xmlColumn(i)))
		anyBad = append(anyBad, bad)
	}
	q := fmt.Sprintf("SELECT src, line, CASE %s ELSE 0 END, CASE %s END FROM %s WHERE %s ORDER BY src, line LIMIT 1",
		strings.Join(conds, " "), strings.Join(vals, " "), xmlTable, strings.Join(anyBad, " OR "))
	var src, col int
	var line int64
	var val sql.NullString
	switch err := conn.QueryRowContext(ctx, q).Scan(&src, &line, &col, &val); {
	case errors.Is(err, sql.ErrNoRows):
		return &internalError{cause}
	case err != nil:
		return &internalError{errors.Join(cause, err)}
	}
	c := s.Columns[col-1]
	return &ValidationError{File: preps[src].src.name(), Line: line, Unit: "line", Column: c.Name, Type: c.Type, Value: clip(val.String)}
}

// xmlNS is the XML Schema instance namespace of xsi:nil.
const xmlNS = "http://www.w3.org/2001/XMLSchema-instance"

// loadXMLSlow parses one source with encoding/xml and hands its records
// to sink, packed. It is the reference the fast reader (xmlfast.go) is
// held to: used when the fast reader gives up, to name the error or to
// read what the fast reader does not.
//
// A token (a run of text, a tag, a DOCTYPE) longer than maxTok fails the
// source: encoding/xml holds a whole token in memory.
func loadXMLSlow(ctx context.Context, idx int, p prepared, s Schema, maxTok int, sink xmlSink) error {
	name := p.src.name()
	file, err := os.Open(p.path)
	if err != nil {
		return &SourceError{File: name, Problem: SourceUnreadable, Msg: "the source file cannot be opened", Err: err}
	}
	defer file.Close()
	body, err := decompressor(bufio.NewReaderSize(file, 64<<10), p.compression)
	if err != nil {
		return &SourceError{File: name, Problem: SourceCompression, Msg: fmt.Sprintf("the %s stream is corrupt", lower(p.compression)), Err: err}
	}
	defer body.Close()
	byName := make(map[string]int, len(s.Columns))
	for i, c := range s.Columns {
		byName[strings.ToLower(c.Name)] = i
	}
	in := bufio.NewReaderSize(&compressedErr{ctx: ctx, r: body, c: p.compression}, 64<<10)
	if bom, _ := in.Peek(3); string(bom) == "\xef\xbb\xbf" {
		in.Discard(3) // a UTF-8 byte order mark, which encoding/xml takes for text
	}
	lim := &tokenLimit{r: in, max: int64(maxTok) + 64<<10}
	dec := xml.NewDecoder(lim)
	dec.Strict = true
	dec.CharsetReader = func(cs string, r io.Reader) (io.Reader, error) {
		if strings.EqualFold(cs, "us-ascii") || strings.EqualFold(cs, "ascii") {
			return r, nil // a subset of UTF-8
		}
		return nil, &charsetError{cs}
	}
	line := func() int64 { l, _ := dec.InputPos(); return int64(l) }
	// before is the line the next token starts on: the decoder stops right
	// after each token, so the position before Token is the token's first
	// byte (a start tag spread over lines is named by its first line).
	var before int64
	malformed := func(at int64, msg string, cause error) error {
		return &SourceError{File: name, Line: at, Problem: SourceMalformed, Msg: "not valid XML records: " + msg, Err: cause}
	}

	vals := make([]any, len(s.Columns))
	var packed []byte
	var (
		depth      int    // elements open
		rootDone   bool   // the root element ended
		recordLine int64  // the line the current record starts on
		col        = -1   // the schema column being read (depth 3), -1 for an unknown element
		isNil      bool   // that column element has xsi:nil="true"
		text       []byte // the column's text so far (reused)
		seen       = make([]bool, len(s.Columns))
		records    int
	)
	for {
		before = line()
		lim.n = 0
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			if ctx.Err() != nil {
				return &cancelledError{ctx.Err()}
			}
			var cse *charsetError
			if errors.As(err, &cse) {
				return malformed(line(), fmt.Sprintf("the document declares encoding %q; only UTF-8 is supported (re-encode the file as UTF-8)", clip(cse.name)), err)
			}
			var ce *compressionError
			if errors.As(err, &ce) {
				return &SourceError{File: name, Problem: SourceCompression, Msg: fmt.Sprintf("the %s stream is truncated or corrupt", lower(p.compression)), Err: ce.err}
			}
			if errors.Is(err, errTokenTooLong) {
				return &SourceError{File: name, Line: before, Problem: SourceLineTooLong, Err: err,
					Msg: fmt.Sprintf("a tag, a run of text or a declaration is longer than the %d bytes this server reads at once", maxTok)}
			}
			var se *xml.SyntaxError
			if errors.As(err, &se) {
				return malformed(int64(se.Line), se.Msg, err)
			}
			return malformed(line(), err.Error(), err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			switch depth {
			case 1:
				if rootDone {
					return malformed(line(), "a second root element <"+t.Name.Local+">", nil)
				}
			case 2: // a record
				recordLine = before
				for i := range s.Columns {
					vals[i], seen[i] = nil, false
				}
				for _, a := range t.Attr {
					if i, ok := byName[strings.ToLower(a.Name.Local)]; ok && a.Name.Space == "" {
						if seen[i] {
							return dupColumn(name, recordLine, s.Columns[i])
						}
						vals[i], seen[i] = a.Value, true
					}
				}
			case 3: // a column
				col = -1
				i, ok := byName[t.Name.Local]
				if !ok {
					i, ok = byName[strings.ToLower(t.Name.Local)]
				}
				if ok {
					if seen[i] {
						return dupColumn(name, recordLine, s.Columns[i])
					}
					col, seen[i], isNil = i, true, false
					text = text[:0]
					for _, a := range t.Attr {
						if a.Name.Local == "nil" && (a.Name.Space == xmlNS || a.Name.Space == "xsi") {
							// An xs:boolean: "true" or "1", white space collapsed.
							v := strings.TrimSpace(a.Value)
							isNil = v == "true" || v == "1"
						}
					}
				}
			default:
				if depth == 4 && col >= 0 {
					return &ValidationError{File: name, Line: recordLine, Unit: "line", Column: s.Columns[col].Name,
						Reason: "the column holds an element <" + t.Name.Local + ">; a column's value must be text"}
				}
			}
		case xml.EndElement:
			switch depth {
			case 1:
				rootDone = true
			case 2:
				packed = packed[:0]
				for _, v := range vals {
					packed = append(packed, xmlSep)
					if v == nil {
						packed = append(packed, xmlNull)
					} else {
						packed = append(packed, v.(string)...)
					}
				}
				if err := sink(xmlPos(idx, recordLine), packed); err != nil {
					return err
				}
				records++
				if records%4096 == 0 && ctx.Err() != nil {
					return &cancelledError{ctx.Err()}
				}
			case 3:
				if col >= 0 && !isNil {
					vals[col] = string(text)
				}
				col = -1
			}
			depth--
		case xml.CharData:
			switch {
			case depth == 3 && col >= 0 && isNil:
				if len(bytes.TrimSpace(t)) != 0 {
					return malformed(textLine(before, t), "an element with xsi:nil=\"true\" holds text", nil)
				}
			case depth == 3 && col >= 0:
				text = append(text, t...)
			case depth <= 2 && len(bytes.TrimSpace(t)) != 0:
				where := "outside the root element"
				if depth == 1 {
					where = "between records"
				} else if depth == 2 {
					where = "in a record, outside its column elements"
				}
				return malformed(textLine(before, t), "text "+where+" ("+clip(string(bytes.TrimSpace(t)))+")", nil)
			}
		}
	}
	if !rootDone && depth == 0 {
		return &SourceError{File: name, Problem: SourceEmpty, Msg: "the source holds no XML element"}
	}
	return nil
}

// textLine is the line of the first non-space character of text t, which
// starts on line start.
func textLine(start int64, t []byte) int64 {
	lead := len(t) - len(bytes.TrimLeft(t, " \t\r\n"))
	return start + int64(bytes.Count(t[:lead], []byte{'\n'}))
}

// engineError classifies an appender error: DuckDB out of memory (or of
// spill space) is the server's limit, anything else is internal.
func engineError(ctx context.Context, err error) error {
	var de *duckdb.Error
	switch {
	case ctx.Err() != nil:
		return &cancelledError{ctx.Err()}
	case errors.As(err, &de) && de.Type == duckdb.ErrorTypeOutOfMemory:
		return &LimitError{Msg: "the conversion needs more memory or spill space than this server allows for one ingestion", Err: err}
	}
	return &internalError{err}
}

func dupColumn(file string, line int64, c Column) error {
	return &ValidationError{File: file, Line: line, Unit: "line", Column: c.Name, Reason: "the record gives this column twice"}
}

// tokenLimit fails a read once more than max bytes were read since n was
// last reset (before each token).
type tokenLimit struct {
	r      io.Reader
	n, max int64
}

var errTokenTooLong = errors.New("ingest: XML token too long")

func (t *tokenLimit) Read(p []byte) (int, error) {
	if t.n > t.max {
		return 0, errTokenTooLong
	}
	n, err := t.r.Read(p)
	t.n += int64(n)
	return n, err
}

type charsetError struct{ name string }

func (e *charsetError) Error() string { return "unsupported encoding " + e.name }

// compressedErr marks read errors of the decompressed stream, so that a
// truncated or corrupt compressed file is told from malformed XML.
// It also ends the parse when ctx is cancelled, even inside one huge record.
type compressedErr struct {
	ctx context.Context
	r   io.Reader
	c   Compression
}

type compressionError struct{ err error }

func (e *compressionError) Error() string { return e.err.Error() }

func (c *compressedErr) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := c.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) && c.c != CompressionNone {
		return n, &compressionError{err}
	}
	if errors.Is(err, io.ErrUnexpectedEOF) && c.c != CompressionNone {
		return n, &compressionError{err}
	}
	return n, err
}
