package ingest

// Sources an attacker with AddDatasetData can upload: small compressed
// files that expand to hundreds of millions of line breaks or to one line
// of gigabytes, and bz2 files that decompress into the staging area. Each
// must fail with the right category, naming what it can, in bounded memory
// and staging space, and without dropping a row silently.

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// part is a run of repeated bytes in a generated source.
type part struct {
	b []byte
	n int64 // times
}

func rep(s string, n int64) part { return part{[]byte(s), n} }

// writeParts streams parts into w through 1 MiB chunks, never holding the
// whole source.
func writeParts(w io.Writer, parts ...part) error {
	for _, p := range parts {
		chunk := bytes.Repeat(p.b, max(1, (1<<20)/len(p.b)))
		per := int64(len(chunk) / len(p.b))
		for left := p.n; left > 0; {
			k := min(left, per)
			if _, err := w.Write(chunk[:k*int64(len(p.b))]); err != nil {
				return err
			}
			left -= k
		}
	}
	return nil
}

// gzipSource writes the gzip of parts to dir/name.
func gzipSource(t testing.TB, dir, name string, parts ...part) Source {
	t.Helper()
	p := filepath.Join(dir, name)
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	if err := writeParts(zw, parts...); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return Source{Path: p, Name: "s3://bucket/" + name}
}

// bz2Source writes a bz2 file that decompresses to copies × the parts:
// one bzip2 stream of the parts, repeated (a concatenation of bzip2
// streams is one bzip2 file).
func bz2Source(t testing.TB, dir, name string, copies int, parts ...part) Source {
	t.Helper()
	if _, err := exec.LookPath("bzip2"); err != nil {
		t.Skip("bzip2 not installed")
	}
	var raw bytes.Buffer
	cmd := exec.Command("bzip2", "-c", "-1")
	pr, pw := io.Pipe()
	cmd.Stdin, cmd.Stdout = pr, &raw
	go func() { pw.CloseWithError(writeParts(pw, parts...)) }()
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, bytes.Repeat(raw.Bytes(), copies), 0o600); err != nil {
		t.Fatal(err)
	}
	return Source{Path: p, Name: "s3://bucket/" + name}
}

// procStatus reads one kB field of /proc/self/status, in bytes.
func procStatus(field string) int64 {
	b, _ := os.ReadFile("/proc/self/status")
	for line := range strings.SplitSeq(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// peakGrowth runs f and returns how far this process's resident memory
// rose above where it was before (the peak, VmHWM, reset first).
func peakGrowth(t testing.TB, f func()) int64 {
	t.Helper()
	if runtime.GOOS != "linux" {
		f()
		return 0
	}
	runtime.GC()
	if err := os.WriteFile("/proc/self/clear_refs", []byte("5"), 0); err != nil {
		t.Skipf("cannot reset the peak RSS: %v", err)
	}
	base := procStatus("VmRSS")
	f()
	return procStatus("VmHWM") - base
}

// memBound scales a memory bound for the race detector, which multiplies
// what every allocation costs.
func memBound(b int64) int64 {
	if raceEnabled {
		return b * 3
	}
	return b
}

func wantSourceError(t *testing.T, err error, cat Category, file string, line int64, mention string) {
	t.Helper()
	if CategoryOf(err) != cat {
		t.Fatalf("error %v: category %s, want %s", err, CategoryOf(err), cat)
	}
	msg := fmt.Sprint(err)
	if !strings.Contains(msg, file) || (line > 0 && !strings.Contains(msg, fmt.Sprintf("line %d:", line))) || !strings.Contains(msg, mention) {
		t.Errorf("error %q: want it to name %s, line %d, and say %q", msg, file, line, mention)
	}
}

// A gzip JSON array of a few hundred kilobytes holding ~210 M line breaks
// before its bad record: the diagnosis names the record's line in bounded
// memory (it kept one int64 per line break: +6.6 GiB measured before, and
// with the bad record first after the breaks it named line 496).
func TestHostileJSONManyNewlines(t *testing.T) {
	if testing.Short() {
		t.Skip("reads 210 MB")
	}
	fx := newFixture(t)
	const newlines = 210_000_000
	src := gzipSource(t, fx.dir, "breaks.json.gz", rep(`[{"a":"x","b":1},`, 1), rep("\n", newlines), rep(`{"a":"x","b":2},{"a":"y","b":"bad"}]`, 1))
	st, _ := os.Stat(src.Path)
	var err error
	start := time.Now()
	growth := peakGrowth(t, func() {
		_, _, err = fx.convert(Format{Type: FormatJSON, Compression: CompressionGzip}, schema("a:STRING b:BIGINT"), src)
	})
	t.Logf("%d-byte gzip, %d line breaks: %v in %v, peak RSS +%d MiB", st.Size(), newlines, err, time.Since(start).Round(time.Millisecond), growth>>20)
	wantValidation(t, err, src.Name, newlines+1, "b", "bad")
	if bound := memBound(400 << 20); growth > bound {
		t.Errorf("peak RSS grew by %d MiB (bound %d MiB)", growth>>20, bound>>20)
	}
}

// The record scanner behind the diagnosis: lines of records in arrays and
// newline-delimited JSON, strings with brackets and escapes, scalars.
func TestScanJSONRecords(t *testing.T) {
	for _, c := range []struct {
		doc   string
		array bool
		idx   int64
		line  int64 // 0: not found
	}{
		{"[\n{\"a\":1},\n{\"a\":2}\n]", true, 1, 3},
		{"[{\"a\":\"}]\\\"{\"},\n\n{\"a\":[1,\n2]},{\"a\":3}]", true, 2, 4},
		{"\xef\xbb\xbf[1,\n\"x\",\nnull]", true, 2, 3},
		{"[\n]", true, 0, 0},
		{"{\"a\":1}\n\n{\"a\":\"\\n\"}\n{\"a\":3}\n", false, 2, 4},
		{"{\"a\":1}\n", false, 1, 0},
		{"  \n  ", false, 0, 0},
	} {
		line, found, err := scanJSONRecords(strings.NewReader(c.doc), c.array, c.idx)
		if err != nil || found != (c.line > 0) || line != c.line {
			t.Errorf("%q record %d: line %d found %v %v, want line %d", c.doc, c.idx, line, found, err, c.line)
		}
	}
}

// CSV lines longer than the reader's limit: DuckDB dropped a line longer
// than its buffer without an error (SUCCESS with 0 rows for a 100 MB, 1 GB
// or 2 GB line) and failed lines of 3–20 MB as an internal error. Each is
// the user's error, named, at once.
func TestHostileCSVLongLines(t *testing.T) {
	fx := newFixture(t)
	s := schema("a:STRING b:BIGINT")
	gzf := Format{Type: FormatCSV, WithHeader: true, Separator: ",", Compression: CompressionGzip}
	cases := []struct {
		name  string
		parts []part
		f     Format
		line  int64
	}{
		{"single-100MB.csv.gz", []part{rep("x", 100<<20)}, gzf, 1},
		{"header-then-100MB.csv.gz", []part{rep("a,b\nq,1\n", 1), rep("x", 100<<20), rep(",2\nr,3\n", 1)}, gzf, 3},
		{"3MB.csv.gz", []part{rep("a,b\n", 1), rep("y", 3<<20), rep(",1\n", 1)}, gzf, 2},
		{"20MB.csv.gz", []part{rep("a,b\n", 1), rep("z,1\n", 10), rep("y", 20<<20), rep(",1\n", 1)}, gzf, 12},
		{"no-header-3MB.csv.gz", []part{rep("y", 3<<20), rep(",1\n", 1)}, Format{Type: FormatCSV, Separator: ",", Compression: CompressionGzip}, 1},
		// A quoted field over many short lines is one record.
		{"quoted-multiline.csv.gz", []part{rep("a,b\nq,1\n\"", 1), rep("short line\n", 300_000), rep("\",2\n", 1)}, gzf, 3},
	}
	if !testing.Short() && !raceEnabled { // generating it takes minutes under -race
		cases = append(cases, struct {
			name  string
			parts []part
			f     Format
			line  int64
		}{"single-1GB.csv.gz", []part{rep("a,b\n", 1), rep("x", 1<<30)}, gzf, 2})
	}
	for _, c := range cases {
		src := gzipSource(t, fx.dir, c.name, c.parts...)
		var err error
		var n int64
		start := time.Now()
		growth := peakGrowth(t, func() { _, n, err = fx.convert(c.f, s, src) })
		t.Logf("%s: %d rows, %v in %v, peak RSS +%d MiB", c.name, n, err, time.Since(start).Round(time.Millisecond), growth>>20)
		wantSourceError(t, err, CategoryUserRecoverable, src.Name, c.line, "longer than")
		if bound := memBound(600 << 20); growth > bound {
			t.Errorf("%s: peak RSS grew by %d MiB (bound %d MiB)", c.name, growth>>20, bound>>20)
		}
	}
	// Uncompressed, the same.
	p := filepath.Join(fx.dir, "plain-5MB.csv")
	f, _ := os.Create(p)
	writeParts(f, rep("a,b\nok,1\n", 1), rep("w", 5<<20), rep(",1\n", 1))
	f.Close()
	_, _, err := fx.convert(DefaultCSV(), s, Source{Path: p, Name: "s3://bucket/plain-5MB.csv"})
	wantSourceError(t, err, CategoryUserRecoverable, "plain-5MB.csv", 3, "longer than")

	// Up to the limit a line is read.
	eng, err := New(Limits{StagingDir: filepath.Join(fx.dir, "st2"), MemoryLimit: "256MB", MaxLineBytes: 4 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ok := gzipSource(t, fx.dir, "3MB-under-4MB-limit.csv.gz", rep("a,b\n", 1), rep("y", 3<<20), rep(",1\n", 1))
	if n, err := eng.Convert(context.Background(), []Source{ok}, gzf, s, filepath.Join(fx.dir, "ok.parquet")); err != nil || n != 1 {
		t.Errorf("a 3 MB line under a 4 MB limit: %d rows, %v", n, err)
	}
}

// A source with data that yields no row is never a silent success; one
// that holds no data (a header alone, an empty array) is an empty
// changeset.
func TestNoRowsFromData(t *testing.T) {
	fx := newFixture(t)
	s := schema("a:STRING b:BIGINT")
	for _, c := range []struct {
		name, body string
		f          Format
	}{
		{"header-only.csv", "a,b\n", DefaultCSV()},
		{"blank-line.csv", "a,b\n\n", DefaultCSV()},
		{"empty-array.json", "[ ]", Format{Type: FormatJSON}},
	} {
		if _, n, err := fx.convert(c.f, s, fx.file(c.name, []byte(c.body))); err != nil || n != 0 {
			t.Errorf("%s: %d rows, %v; want an empty changeset", c.name, n, err)
		}
	}
	// The rule itself, for sources whose rows DuckDB did not return.
	lost := fx.file("lost.csv", []byte("a,b\n\nx,1\n  \ny,2"))
	csv := prepared{src: lost, path: lost.Path}
	err := noRows([]prepared{csv}, DefaultCSV(), []streamStats{{}})
	wantSourceError(t, err, CategoryUserRecoverable, "lost.csv", 0, "2 lines of data but no row")
	header := fx.file("header.csv", []byte("a,b\r\n\n"))
	if err := noRows([]prepared{{src: header, path: header.Path}}, DefaultCSV(), []streamStats{{}}); err != nil {
		t.Errorf("a header alone: %v", err)
	}
	js := fx.file("records.json", []byte("\n\n[{\"a\":\"x\"}]"))
	err = noRows([]prepared{{src: js, path: js.Path, jsonArray: true}}, Format{Type: FormatJSON}, []streamStats{{}})
	wantSourceError(t, err, CategoryUserRecoverable, "records.json", 3, "no row")
}

// bz2 sources decompress into the staging area: the decompressed bytes
// count against one budget shared by every conversion of the engine
// (and Reserve), a conversion that crosses it stops there with
// SERVICE_QUOTA_EXCEEDED, and the disk keeps its reserve.
func TestStagingBudgetShared(t *testing.T) {
	dir := t.TempDir()
	stage := filepath.Join(dir, "staging")
	eng, err := New(Limits{StagingDir: stage, MemoryLimit: "256MB", MaxStagedBytes: 64 << 20})
	if err != nil {
		t.Fatal(err)
	}
	s := schema("a:STRING b:BIGINT")
	f := Format{Type: FormatCSV, Separator: ",", Compression: CompressionBzip2}
	// 40 MiB decompressed (4 streams of 10 MiB).
	src := bz2Source(t, dir, "40MB.csv.bz2", 4, rep("abcdefgh,12345678\n", 10<<20/18))
	convert := func(name string) (int64, error) {
		return eng.Convert(context.Background(), []Source{src}, f, s, filepath.Join(dir, name+".parquet"))
	}
	if n, err := convert("alone"); err != nil || n != 4*(10<<20/18) {
		t.Fatalf("alone within the budget: %d rows, %v", n, err)
	}
	if eng.StagedBytes() != 0 {
		t.Errorf("%d bytes still counted after the conversion", eng.StagedBytes())
	}

	// Another ingestion holds 40 MiB of the 64: this one crosses the
	// budget and stops there.
	release, err := eng.Reserve(40 << 20)
	if err != nil {
		t.Fatal(err)
	}
	_, err = convert("crossing")
	if CategoryOf(err) != CategoryServiceQuotaExceeded || !strings.Contains(err.Error(), "shared by every ingestion") {
		t.Errorf("crossing the shared budget: %v (%s)", err, CategoryOf(err))
	}
	if eng.StagedBytes() != 40<<20 {
		t.Errorf("%d bytes counted, want the 40 MiB reserved", eng.StagedBytes())
	}
	if _, err := eng.Reserve(30 << 20); CategoryOf(err) != CategoryServiceQuotaExceeded {
		t.Errorf("Reserve beyond the budget: %v", err)
	}
	release()
	release() // once only
	if eng.StagedBytes() != 0 {
		t.Errorf("%d bytes counted after the release", eng.StagedBytes())
	}

	// Concurrent conversions share it: of three 40 MiB stagings under a
	// 64 MiB budget, at least one fails and every one that runs together
	// stays within it.
	var wg sync.WaitGroup
	errs := make([]error, 3)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = convert(fmt.Sprintf("concurrent%d", i))
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && CategoryOf(err) != CategoryServiceQuotaExceeded {
			t.Errorf("concurrent %d: %v", i, err)
		}
	}
	if eng.StagedBytes() != 0 {
		t.Errorf("%d bytes counted after the concurrent conversions", eng.StagedBytes())
	}

	// The disk's reserve: staging stops before the free space falls
	// below MinFreeBytes.
	eng.budget.free = func(string) (int64, bool) { return 10 << 20, true }
	_, err = convert("reserve")
	if CategoryOf(err) != CategoryServiceQuotaExceeded || !strings.Contains(err.Error(), "reserve") {
		t.Errorf("below the disk's reserve: %v", err)
	}
	if _, err := eng.Reserve(1 << 20); !errors.As(err, new(*LimitError)) {
		t.Errorf("Reserve below the disk's reserve: %v", err)
	}
	ents, _ := os.ReadDir(stage)
	if len(ents) != 0 {
		t.Errorf("staging not empty: %v", ents)
	}
}

// A bz2 file of a few hundred kilobytes that decompresses to 2 GiB stops
// at the budget (64 MiB here: the time goes with it), having staged no
// more than it.
func TestHostileBz2Bomb(t *testing.T) {
	const budget = 64 << 20
	dir := t.TempDir()
	stage := filepath.Join(dir, "staging")
	eng, err := New(Limits{StagingDir: stage, MemoryLimit: "256MB", MaxStagedBytes: budget})
	if err != nil {
		t.Fatal(err)
	}
	src := bz2Source(t, dir, "bomb.csv.bz2", 32, rep("0000000000,1\n", 64<<20/13))
	st, _ := os.Stat(src.Path)
	var peakStaged int64
	done, watched := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-done:
				return
			case <-time.After(5 * time.Millisecond):
				peakStaged = max(peakStaged, dirSize(stage))
			}
		}
	}()
	start := time.Now()
	_, err = eng.Convert(context.Background(), []Source{src}, Format{Type: FormatCSV, Separator: ",", Compression: CompressionBzip2},
		schema("a:BIGINT b:BIGINT"), filepath.Join(dir, "out.parquet"))
	close(done)
	<-watched
	t.Logf("%d-byte bz2 of 2 GiB: %v after %v; at most %d MiB staged", st.Size(), err, time.Since(start).Round(time.Millisecond), peakStaged>>20)
	if CategoryOf(err) != CategoryServiceQuotaExceeded {
		t.Errorf("category %s, want SERVICE_QUOTA_EXCEEDED", CategoryOf(err))
	}
	if peakStaged > budget+1<<20 {
		t.Errorf("%d bytes staged, over the %d MiB budget", peakStaged, budget>>20)
	}
}

func dirSize(dir string) int64 {
	var n int64
	filepath.Walk(dir, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
		return nil
	})
	return n
}
