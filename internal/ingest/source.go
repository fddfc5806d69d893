package ingest

import (
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/klauspost/compress/zstd"
)

// Source is one local file to ingest.
type Source struct {
	Path string // local file DuckDB reads (in place, never copied unless it must be decompressed)
	Name string // what errors call it, e.g. its s3:// URI; default the base name of Path
}

func (s Source) name() string {
	if s.Name != "" {
		return s.Name
	}
	return filepath.Base(s.Path)
}

// prepared is a source checked and, where DuckDB cannot read it as is,
// decompressed into the staging directory.
type prepared struct {
	src         Source
	path        string      // what DuckDB reads
	compression Compression // what DuckDB must decompress: none, gzip or zstd
	jsonArray   bool        // JSON: an array of records (else newline-delimited)
}

var magics = map[Compression][]byte{
	CompressionGzip:  {0x1f, 0x8b},
	CompressionZstd:  {0x28, 0xb5, 0x2f, 0xfd},
	CompressionBzip2: []byte("BZh"),
}

func decompressor(r io.Reader, c Compression) (io.ReadCloser, error) {
	switch c {
	case CompressionGzip:
		return gzip.NewReader(r)
	case CompressionZstd:
		d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1))
		if err != nil {
			return nil, err
		}
		return d.IOReadCloser(), nil
	case CompressionBzip2:
		return io.NopCloser(bzip2.NewReader(r)), nil
	}
	return io.NopCloser(r), nil
}

// prepare checks what can be checked cheaply before DuckDB runs (exists,
// non-empty, compressed as declared, looks like the declared format) and
// stages what DuckDB cannot read in place: bz2, and compressed Parquet.
func prepare(ctx context.Context, src Source, f Format, stageDir string, idx int, stg *staging) (prepared, error) {
	p := prepared{src: src, path: src.Path, compression: f.compression()}
	name := src.name()
	file, err := os.Open(src.Path)
	if errors.Is(err, fs.ErrNotExist) {
		return p, &SourceError{File: name, Problem: SourceMissing, Msg: "the source file does not exist", Err: err}
	} else if err != nil {
		return p, &SourceError{File: name, Problem: SourceUnreadable, Msg: "the source file cannot be opened", Err: err}
	}
	defer file.Close()
	st, err := file.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return p, &SourceError{File: name, Problem: SourceUnreadable, Msg: "the source is not a regular file", Err: err}
	}
	if st.Size() == 0 {
		return p, &SourceError{File: name, Problem: SourceEmpty, Msg: "the source file is empty"}
	}
	raw := bufio.NewReader(file)
	magic, _ := raw.Peek(4)
	c := f.compression()
	if want, ok := magics[c]; ok && !bytes.HasPrefix(magic, want) {
		return p, &SourceError{File: name, Problem: SourceCompression, Msg: fmt.Sprintf("the file is not %s-compressed, as formatParams.compression says", lower(c))}
	}
	if c == CompressionNone {
		for other, m := range magics {
			if bytes.HasPrefix(magic, m) && (other != CompressionBzip2 || f.Type != FormatCSV) {
				return p, &SourceError{File: name, Problem: SourceCompression, Msg: fmt.Sprintf("the file looks %s-compressed but formatParams.compression is none", lower(other))}
			}
		}
	}
	dec, err := decompressor(raw, c)
	if err != nil {
		return p, &SourceError{File: name, Problem: SourceCompression, Msg: fmt.Sprintf("the %s stream is corrupt", lower(c)), Err: err}
	}
	defer dec.Close()
	body := bufio.NewReaderSize(dec, 4096)
	head, err := body.Peek(4096)
	if len(head) == 0 {
		if err == nil || errors.Is(err, io.EOF) {
			return p, &SourceError{File: name, Problem: SourceEmpty, Msg: "the source holds no data after decompression"}
		}
		return p, &SourceError{File: name, Problem: SourceCompression, Msg: fmt.Sprintf("the %s stream is truncated or corrupt", lower(c)), Err: err}
	}
	switch f.Type {
	case FormatJSON:
		t := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
		switch {
		case len(t) == 0:
			return p, &SourceError{File: name, Problem: SourceEmpty, Msg: "the source holds only white space"}
		case t[0] == '[':
			p.jsonArray = true
		case t[0] == '{':
		default:
			return p, &SourceError{File: name, Problem: SourceMalformed, Msg: "the file is not JSON records: it must start with [ (an array of records) or { (one record per line)"}
		}
	case FormatParquet:
		if !bytes.HasPrefix(head, []byte("PAR1")) {
			return p, &SourceError{File: name, Problem: SourceMalformed, Msg: "the file is not a Parquet file"}
		}
	}
	// XML is decompressed by the Go parser as it reads, bz2 included: no
	// staging copy.
	if f.Type == FormatXML || c != CompressionBzip2 && !(f.Type == FormatParquet && c != CompressionNone) {
		return p, nil
	}
	// Stage: DuckDB reads neither bz2 nor a compressed Parquet file.
	staged := filepath.Join(stageDir, fmt.Sprintf("src-%04d", idx))
	out, err := os.OpenFile(staged, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return p, &internalError{err}
	}
	br := &budgetReader{ctx: ctx, r: body, b: stg.budget}
	_, err = io.Copy(out, br)
	stg.taken += br.taken
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	var le *LimitError
	switch {
	case err == nil:
	case ctx.Err() != nil:
		return p, &cancelledError{ctx.Err()}
	case errors.As(err, &le):
		return p, le
	case errors.Is(err, errWrite):
		return p, &LimitError{Msg: "the staging area has no room for the decompressed source " + name, Err: err}
	default:
		return p, &SourceError{File: name, Problem: SourceCompression, Msg: fmt.Sprintf("the %s stream is truncated or corrupt", lower(c)), Err: err}
	}
	p.path, p.compression = staged, CompressionNone
	return p, nil
}

var errWrite = errors.New("staging write failed")

// staging is one conversion's share of the Engine's staging budget: what
// it took, given back when its staging directory is removed.
type staging struct {
	budget *stagingBudget
	taken  int64
}

func (s *staging) release() {
	s.budget.give(s.taken)
	s.taken = 0
}

// verifyStream decompresses a whole source in Go and reports whether the
// stream is intact. Used only on the failure path, to tell a corrupt or
// truncated compressed file from a malformed one.
func verifyStream(p prepared) error {
	if p.compression == CompressionNone {
		return nil
	}
	f, err := os.Open(p.path)
	if err != nil {
		return err
	}
	defer f.Close()
	d, err := decompressor(bufio.NewReader(f), p.compression)
	if err != nil {
		return err
	}
	defer d.Close()
	_, err = io.Copy(io.Discard, d)
	return err
}

// lineOfOffset returns the 1-based line on which byte off of the
// (decompressed) source lies.
func lineOfOffset(p prepared, off int64) (int64, error) {
	f, err := os.Open(p.path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	d, err := decompressor(bufio.NewReader(f), p.compression)
	if err != nil {
		return 0, err
	}
	defer d.Close()
	line := int64(1)
	buf := make([]byte, 64<<10)
	for off > 0 {
		n, err := d.Read(buf[:min(int64(len(buf)), off)])
		line += int64(bytes.Count(buf[:n], []byte{'\n'}))
		off -= int64(n)
		if err != nil {
			if off > 0 {
				return 0, err
			}
			break
		}
	}
	return line, nil
}
