package ingest

import (
	"bufio"
	"context"
	"database/sql/driver"
	"errors"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/duckdb/duckdb-go/v2"
)

// Loading XML sources into the load table: the fast reader (xmlfast.go)
// for each, encoding/xml (loadXMLSlow, xml.go) where it gives up.

// sinkError is an error of the sink (the appender), passed through.
type sinkError struct{ err error }

func (e *sinkError) Error() string { return e.err.Error() }
func (e *sinkError) Unwrap() error { return e.err }

// loadXMLSources reads every source into the load table through one
// appender: the fast reader for each, and where it gives up the slow one
// names the error; if the slow one finds none, every source is read again
// with it (the fast reader is stricter there: a DOCTYPE, a non-ASCII
// name), into an emptied table.
func (e *Engine) loadXMLSources(ctx context.Context, dconn driver.Conn, preps []prepared, s Schema) error {
	app, err := duckdb.NewAppenderFromConn(dconn, "", xmlRawTable)
	if err != nil {
		return &internalError{err}
	}
	vals := make([]driver.Value, 2)
	var batch []byte
	batchSrc := -1
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		vals[0], vals[1] = int32(batchSrc), batch
		if err := app.AppendRow(vals...); err != nil {
			return &sinkError{engineError(ctx, err)}
		}
		batch = batch[:0]
		return nil
	}
	sink := func(pos int64, rec []byte) error {
		if src := int(pos >> 40); src != batchSrc {
			if err := flush(); err != nil {
				return err
			}
			batchSrc = src
		}
		if len(batch) > 0 {
			batch = append(batch, xmlRecSep)
		}
		batch = strconv.AppendInt(batch, pos&(1<<40-1), 10)
		batch = append(batch, rec...)
		if len(batch) >= xmlBatchBytes {
			return flush()
		}
		return nil
	}
	slow := e.xmlSlowOnly
	for i, p := range preps {
		if slow {
			break
		}
		err := loadXMLFast(ctx, i, p, s, int(e.lim.MaxLineBytes), sink)
		if err == nil {
			err = flush()
		}
		if err == nil {
			continue
		}
		var se *sinkError
		var src *SourceError
		switch {
		case ctx.Err() != nil:
			app.Close()
			return &cancelledError{ctx.Err()}
		case errors.As(err, &se):
			app.Close()
			return se.err
		case errors.As(err, &src):
			app.Close()
			return err
		}
		// Gave up: what does encoding/xml say?
		if err := loadXMLSlow(ctx, i, p, s, int(e.lim.MaxLineBytes), func(int64, []byte) error { return nil }); err != nil {
			app.Close()
			return err
		}
		slow = true
		e.xmlSlowReads.Add(1)
		break
	}
	if slow {
		if err := app.Close(); err != nil {
			return engineError(ctx, err)
		}
		ex, ok := dconn.(driver.ExecerContext)
		if !ok {
			return &internalError{errors.New("ingest: the DuckDB connection cannot execute")}
		}
		if _, err := ex.ExecContext(ctx, "DELETE FROM "+xmlRawTable, nil); err != nil {
			return engineError(ctx, err)
		}
		if app, err = duckdb.NewAppenderFromConn(dconn, "", xmlRawTable); err != nil {
			return &internalError{err}
		}
		batch, batchSrc = batch[:0], -1
		for i, p := range preps {
			err := loadXMLSlow(ctx, i, p, s, int(e.lim.MaxLineBytes), sink)
			if err == nil {
				err = flush()
			}
			if err != nil {
				app.Close()
				var se *sinkError
				if errors.As(err, &se) {
					return se.err
				}
				return err
			}
		}
	}
	if err := app.CloseWithCancel(ctx); err != nil {
		return engineError(ctx, err)
	}
	return nil
}

// loadXMLFast reads one source with the fast reader.
func loadXMLFast(ctx context.Context, idx int, p prepared, s Schema, maxRec int, sink xmlSink) error {
	name := p.src.name()
	file, err := os.Open(p.path)
	if err != nil {
		return &SourceError{File: name, Problem: SourceUnreadable, Msg: "the source file cannot be opened", Err: err}
	}
	defer file.Close()
	body, err := decompressor(bufio.NewReaderSize(file, 64<<10), p.compression)
	if err != nil {
		return errXMLFallback // the slow reader names it
	}
	defer body.Close()
	x := newXMLFast(ctx, body, idx, s, maxRec, sink)
	err = x.run()
	var se *SourceError
	if errors.As(err, &se) && se.File == "" {
		se.File = name
	}
	return err
}

func newXMLFast(ctx context.Context, r io.Reader, idx int, s Schema, maxRec int, sink xmlSink) *xmlFast {
	x := &xmlFast{ctx: ctx, r: r, buf: make([]byte, 256<<10), line: 1, maxRec: maxRec,
		src: idx, byName: make(map[string]int, len(s.Columns)), rec: newXMLRecord(len(s.Columns)), sink: sink, col: -1}
	for i, c := range s.Columns {
		l := strings.ToLower(c.Name)
		x.byName[l] = i
		x.lower = append(x.lower, l)
	}
	return x
}
