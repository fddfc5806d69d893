package ingest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// What is checked in Go while DuckDB converts, and what the failure path
// reads again: all of it streams through a fixed buffer, whatever the
// source holds (a 200 KB gzip file can hold hundreds of millions of line
// breaks, or one line of gigabytes).

// streamStats is what the check of one source found (nothing yet: the
// check's findings are errors).
type streamStats struct{}

// checkStreams reads every source in Go while DuckDB converts them: a
// compressed stream must end cleanly (DuckDB's gzip reader takes a
// truncated stream's rows without an error), and no CSV record may be
// longer than maxLine (DuckDB drops a line longer than its buffer without
// an error). It stops at the first finding.
func checkStreams(ctx context.Context, preps []prepared, f Format, maxLine int64) ([]streamStats, error) {
	stats := make([]streamStats, len(preps))
	for i, p := range preps {
		if ctx.Err() != nil {
			return nil, &cancelledError{ctx.Err()}
		}
		if f.Type != FormatCSV && p.compression == CompressionNone {
			continue
		}
		var err error
		if stats[i], err = checkStream(ctx, p, f, maxLine); err != nil {
			return nil, err
		}
	}
	return stats, nil
}

// readErr marks an error of the (decompressed) stream itself.
type readErr struct{ err error }

func (e *readErr) Error() string { return e.err.Error() }
func (e *readErr) Unwrap() error { return e.err }

func checkStream(ctx context.Context, p prepared, f Format, maxLine int64) (streamStats, error) {
	var st streamStats
	name := p.src.name()
	corrupt := func(err error) error {
		return &SourceError{File: name, Problem: SourceCompression, Msg: fmt.Sprintf("the %s stream is truncated or corrupt", lower(p.compression)), Err: err}
	}
	file, err := os.Open(p.path)
	if err != nil {
		return st, &internalError{err}
	}
	defer file.Close()
	d, err := decompressor(bufio.NewReaderSize(file, 64<<10), p.compression)
	if err != nil {
		return st, corrupt(err)
	}
	defer d.Close()
	r := &ctxReader{ctx: ctx, r: d}
	if f.Type != FormatCSV {
		if _, err := io.Copy(io.Discard, r); err != nil {
			if ctx.Err() != nil {
				return st, &cancelledError{ctx.Err()}
			}
			return st, corrupt(err)
		}
		return st, nil
	}
	err = scanCSVRecords(r, f, maxLine, name)
	var re *readErr
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return st, &cancelledError{ctx.Err()}
	case errors.As(err, &re) && p.compression != CompressionNone:
		return st, corrupt(re.err)
	case errors.As(err, &re):
		return st, &SourceError{File: name, Problem: SourceUnreadable, Msg: "the source file cannot be read", Err: re.err}
	}
	return st, err
}

// ctxReader ends a read loop when ctx ends.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// scanCSVRecords fails with a *SourceError (USER_RECOVERABLE) naming the
// line on which a record longer than maxLine bytes starts. A record is a
// line, or several when a quoted field holds line breaks: with the quote
// as its own escape (RFC 4180, the default) a line break inside quotes is
// told by the parity of the quotes before it; with another escape
// character each line is taken as a record (DuckDB refuses a longer
// multi-line record itself). It runs alongside every CSV conversion, so
// a piece of the stream without quotes (and outside quotes) is checked
// whole: a line inside it is shorter than the piece, itself no longer
// than maxLine; only the lines it cuts are measured.
func scanCSVRecords(r io.Reader, f Format, maxLine int64, name string) error {
	quote := []byte(f.quote())
	parity := f.escape() == f.quote()
	buf := make([]byte, min(1<<20, maxLine))
	var (
		line, recStart int64 = 1, 1
		recLen         int64
		inQuote        bool
	)
	tooLong := func() error {
		return &SourceError{File: name, Line: recStart, Problem: SourceLineTooLong,
			Msg: fmt.Sprintf("the record is longer than the %d bytes a record may hold on this server (check the line breaks and the quoting)", maxLine)}
	}
	for {
		// Fill the buffer (io.ReadFull would take a truncated gzip
		// stream's io.ErrUnexpectedEOF for the end).
		n := 0
		var rerr error
		for n < len(buf) && rerr == nil {
			var k int
			k, rerr = r.Read(buf[n:])
			n += k
		}
		chunk := buf[:n]
		if !inQuote && (!parity || bytes.Index(chunk, quote) < 0) {
			first := bytes.IndexByte(chunk, '\n')
			if first < 0 {
				recLen += int64(n)
			} else {
				if recLen+int64(first) > maxLine {
					return tooLong()
				}
				last := bytes.LastIndexByte(chunk, '\n')
				line += int64(bytes.Count(chunk, []byte{'\n'}))
				recStart, recLen = line, int64(n-last-1)
			}
			if recLen > maxLine {
				return tooLong()
			}
		} else {
			for rest := chunk; len(rest) > 0; {
				i := bytes.IndexByte(rest, '\n')
				seg := rest
				if i >= 0 {
					seg = rest[:i]
				}
				recLen += int64(len(seg))
				if recLen > maxLine {
					return tooLong()
				}
				if parity && bytes.Count(seg, quote)%2 == 1 {
					inQuote = !inQuote
				}
				if i < 0 {
					break
				}
				line++
				if inQuote {
					recLen++ // the line break is part of the record
				} else {
					recLen, recStart = 0, line
				}
				rest = rest[i+1:]
			}
		}
		if rerr == io.EOF {
			return nil
		}
		if rerr != nil {
			return &readErr{rerr}
		}
	}
}

// csvDataLines counts the lines of a CSV source that are not blank, past
// its header: the rows it should yield, give or take quoted line breaks.
// Read only when a conversion yielded no row.
func csvDataLines(p prepared, f Format) (int64, error) {
	file, err := os.Open(p.path)
	if err != nil {
		return 0, err
	}
	defer file.Close()
	d, err := decompressor(bufio.NewReaderSize(file, 64<<10), p.compression)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	sc := bufio.NewReaderSize(d, 64<<10)
	var n int64
	blank := true
	for {
		b, err := sc.ReadSlice('\n')
		if len(bytes.TrimLeft(b, " \t\r\n")) > 0 {
			blank = false
		}
		if err == bufio.ErrBufferFull {
			continue // a long line: the rest of it follows
		}
		if !blank {
			n++
		}
		blank = true
		if err == io.EOF {
			break
		}
		if err != nil {
			return n, err
		}
	}
	if f.WithHeader && n > 0 {
		n--
	}
	return n, nil
}

// jsonRecordLine returns the line on which the record with 0-based index
// idx starts in the (decompressed) JSON source, 0 if unknown. It streams:
// memory stays a buffer's, however many lines the source has.
func jsonRecordLine(p prepared, idx int64) int64 {
	line, _, _ := jsonRecordStart(p, idx)
	return line
}

// jsonRecordStart finds where record idx (0-based) of a JSON source
// starts: the elements of the top-level array, or the top-level values
// of newline-delimited JSON. found is false when the source has fewer
// records. It reads no further than that record's first byte.
func jsonRecordStart(p prepared, idx int64) (line int64, found bool, err error) {
	file, err := os.Open(p.path)
	if err != nil {
		return 0, false, err
	}
	defer file.Close()
	d, err := decompressor(bufio.NewReaderSize(file, 64<<10), p.compression)
	if err != nil {
		return 0, false, err
	}
	defer d.Close()
	return scanJSONRecords(d, p.jsonArray, idx)
}

func scanJSONRecords(r io.Reader, array bool, idx int64) (int64, bool, error) {
	base := 0 // the depth records are at
	if array {
		base = 1
	}
	var (
		line            int64 = 1
		depth           int
		inStr, esc      bool
		inRecord, first       = false, true
		seen            int64 = -1
	)
	buf := make([]byte, 64<<10)
	for {
		n, rerr := r.Read(buf)
		b := buf[:n]
		if first && n > 0 {
			b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf")) // a BOM (a short first read may split it: rare, and only the line is at stake)
			first = false
		}
		for _, c := range b {
			if inStr {
				switch {
				case esc:
					esc = false
				case c == '\\':
					esc = true
				case c == '"':
					inStr = false
				case c == '\n':
					line++
				}
				continue
			}
			start := false
			switch c {
			case '\n':
				line++
				fallthrough
			case ' ', '\t', '\r':
				if depth == base {
					inRecord = false // a scalar record ends
				}
			case ',':
				if depth == base {
					inRecord = false
				}
			case '{', '[':
				start = depth == base && !inRecord
				depth++
			case '}', ']':
				depth--
				if depth <= base {
					inRecord = false
				}
			case '"':
				start = depth == base && !inRecord
				inStr = true
			default:
				start = depth == base && !inRecord
			}
			if start {
				seen++
				if seen == idx {
					return line, true, nil
				}
				inRecord = true
			}
		}
		if rerr == io.EOF {
			return 0, false, nil
		}
		if rerr != nil {
			return 0, false, rerr
		}
	}
}
