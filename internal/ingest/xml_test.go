package ingest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

const xmlAllTypes = `<?xml version="1.0" encoding="UTF-8"?>
<rows xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <row>
    <s>hello &amp; &lt;bye&gt;</s><c>x</c><i>-2147483648</i><ti>-128</ti><si>-32768</si><bi>-9223372036854775808</bi>
    <f>-3.4028235e38</f><d>-1.7976931348623157e308</d><dt>0001-01-01</dt><ts>1970-01-01 00:00:00</ts><b>false</b><bin>abc</bin>
  </row>
  <row s="from an attribute" c="y">
    <i>2147483647</i><ti>127</ti><si>32767</si><bi>9223372036854775807</bi><f>3.4028235e38</f><d>1.7976931348623157e308</d>
    <dt>9999-12-31</dt><ts>2024-02-29T23:59:59.999999</ts><b>true</b><bin>\x00\xFF</bin><unknown>ignored</unknown>
  </row>
  <row><s><![CDATA[line1
line2 <not a tag>]]></s><c>Ω</c><i xsi:nil="true"/></row>
  <row><s></s><c>日本語</c></row>
</rows>
`

func TestXMLAllTypes(t *testing.T) {
	fx := newFixture(t)
	out, n, err := fx.convert(Format{Type: FormatXML}, allTypes(), fx.file("all.xml", []byte(xmlAllTypes)))
	if err != nil {
		t.Fatalf("%v (%v)", err, errors.Unwrap(err))
	}
	if n != 4 {
		t.Errorf("rows = %d, want 4", n)
	}
	_, rows := readBack(t, out)
	nils := func(k int) []string {
		r := make([]string, k)
		for i := range r {
			r[i] = "<nil>"
		}
		return r
	}
	wantRows(t, rows, [][]string{
		{"hello & <bye>", "x", "-2147483648", "-128", "-32768", "-9223372036854775808", "-3.4028235e+38", "-1.7976931348623157e+308", "0001-01-01", "1970-01-01 00:00:00", "false", "abc"},
		{"from an attribute", "y", "2147483647", "127", "32767", "9223372036854775807", "3.4028235e+38", "1.7976931348623157e+308", "9999-12-31", "2024-02-29 23:59:59.999999", "true", `\x00\xFF`},
		append([]string{"line1\nline2 <not a tag>", "Ω"}, nils(10)...),
		append([]string{"", "日本語"}, nils(10)...),
	})
}

func TestXMLCompressionAndManyFiles(t *testing.T) {
	fx := newFixture(t)
	s := schema("id:INTEGER sym:STRING")
	doc := func(from, to int) []byte {
		var b strings.Builder
		b.WriteString("<trades>\n")
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, "  <trade><id>%d</id><sym>S%d</sym></trade>\n", i, i)
		}
		b.WriteString("</trades>\n")
		return []byte(b.String())
	}
	for _, c := range []struct {
		c    Compression
		wrap func([]byte) []byte
	}{{CompressionNone, func(b []byte) []byte { return b }}, {CompressionGzip, gz}, {CompressionZstd, zst},
		{CompressionBzip2, func(b []byte) []byte { return bz2(t, b) }}} {
		f := Format{Type: FormatXML, Compression: c.c}
		out, n, err := fx.convert(f, s, fx.file("a-"+string(c.c)+".xml", c.wrap(doc(0, 1000))), fx.file("b-"+string(c.c)+".xml", c.wrap(doc(1000, 1500))))
		if err != nil {
			t.Fatalf("%s: %v", c.c, err)
		}
		_, rows := readBack(t, out)
		if n != 1500 || len(rows) != 1500 || rows[0][0] != "0" || rows[1499][0] != "1499" || rows[1499][1] != "S1499" {
			t.Errorf("%s: %d rows, first %v, last %v", c.c, n, rows[0], rows[len(rows)-1])
		}
	}
	// A truncated gzip stream is not taken for the rows before the cut.
	full := gz(doc(0, 20000))
	_, _, err := fx.convert(Format{Type: FormatXML, Compression: CompressionGzip}, s, fx.file("cut.xml.gz", full[:len(full)/2]))
	var se *SourceError
	if !errors.As(err, &se) || se.Problem != SourceCompression {
		t.Errorf("truncated gzip: %v", err)
	}
}

func TestXMLBadValuesAndFiles(t *testing.T) {
	fx := newFixture(t)
	s := schema("id:INTEGER t:TINYINT d:DATE")
	good := fx.file("good.xml", []byte("<r><x><id>1</id><t>1</t><d>2024-01-01</d></x></r>"))
	bad := fx.file("bad.xml", []byte("<r>\n<x><id>1</id><t>1</t></x>\n<x>\n  <id>2</id>\n  <t>128</t>\n</x>\n<x><id>3</id><t>x</t></x>\n</r>\n"))
	_, _, err := fx.convert(Format{Type: FormatXML}, s, good, bad)
	wantValidation(t, err, "s3://bucket/bad.xml", 3, "t", "128")
	// An empty element is "" : a string, not a NULL, so it fails a DATE.
	_, _, err = fx.convert(Format{Type: FormatXML}, s, fx.file("empty.xml", []byte("<r>\n<x><id>1</id><d></d></x>\n</r>")))
	wantValidation(t, err, "s3://bucket/empty.xml", 2, "d", "")

	for name, c := range map[string]struct {
		body    string
		problem SourceProblem
		line    int64
	}{
		"unclosed.xml": {"<r>\n<x><id>1</id>\n</r>", SourceMalformed, 3},
		"entity.xml":   {"<r><x><id>&nbsp;</id></x></r>", SourceMalformed, 1},
		"text.xml":     {"<r>\n<x><id>1</id></x>\nstray\n</r>", SourceMalformed, 3},
		"roots.xml":    {"<r></r>\n<r></r>", SourceMalformed, 2},
		"noroot.xml":   {"<?xml version=\"1.0\"?>\n", SourceEmpty, 0},
	} {
		_, _, err := fx.convert(Format{Type: FormatXML}, s, fx.file(name, []byte(c.body)))
		var se *SourceError
		if !errors.As(err, &se) || se.Problem != c.problem || se.Line != c.line || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v (%+v), want %s at line %d", name, err, se, c.problem, c.line)
		}
	}
	var ve *ValidationError
	_, _, err = fx.convert(Format{Type: FormatXML}, s, fx.file("nested.xml", []byte("<r>\n<x><id><v>1</v></id></x></r>")))
	if !errors.As(err, &ve) || ve.Line != 2 || ve.Column != "id" {
		t.Errorf("nested element: %v", err)
	}
	_, _, err = fx.convert(Format{Type: FormatXML}, s, fx.file("twice.xml", []byte("<r><x id=\"1\"><id>2</id></x></r>")))
	if !errors.As(err, &ve) || ve.Column != "id" || !strings.Contains(err.Error(), "twice") {
		t.Errorf("column given twice: %v", err)
	}
	// An empty root: no rows, no error.
	_, n, err := fx.convert(Format{Type: FormatXML}, s, fx.file("none.xml", []byte("<r/>")))
	if err != nil || n != 0 {
		t.Errorf("empty root: %d %v", n, err)
	}
}

// BenchmarkXMLvsCSV converts the same 200 000 rows (4 columns) from CSV
// (DuckDB's reader), from XML with the fast reader, and from XML read by
// encoding/xml (the reader before it, kept for what the fast one leaves
// to it): rows per second of wall time, and per CPU-second of this
// process (DuckDB's threads included), which a shared machine disturbs
// less.
func BenchmarkXMLvsCSV(b *testing.B) {
	const rows = 200000
	var x, c strings.Builder
	x.WriteString("<trades>\n")
	c.WriteString("id,sym,px,day\n")
	for i := range rows {
		fmt.Fprintf(&x, "<trade><id>%d</id><sym>S%d</sym><px>%d.25</px><day>2024-01-%02d</day></trade>\n", i, i%500, i%1000, 1+i%28)
		fmt.Fprintf(&c, "%d,S%d,%d.25,2024-01-%02d\n", i, i%500, i%1000, 1+i%28)
	}
	x.WriteString("</trades>\n")
	s := schema("id:BIGINT sym:STRING px:DOUBLE day:DATE")
	for _, v := range []struct {
		name string
		f    Format
		body string
		slow bool
	}{{"CSV", DefaultCSV(), c.String(), false}, {"XML", Format{Type: FormatXML}, x.String(), false},
		{"XML-encoding-xml", Format{Type: FormatXML}, x.String(), true}} {
		b.Run(v.name, func(b *testing.B) {
			dir := b.TempDir()
			eng, err := New(Limits{StagingDir: filepath.Join(dir, "staging"), MemoryLimit: "512MB", Threads: 2})
			if err != nil {
				b.Fatal(err)
			}
			eng.xmlSlowOnly = v.slow
			src := Source{Path: filepath.Join(dir, "src"), Name: v.name}
			if err := os.WriteFile(src.Path, []byte(v.body), 0o600); err != nil {
				b.Fatal(err)
			}
			out := filepath.Join(dir, "out.parquet")
			cpu0 := processCPU()
			for b.Loop() {
				os.Remove(out)
				if _, err := eng.Convert(b.Context(), []Source{src}, v.f, s, out); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
			if cpu := processCPU() - cpu0; cpu > 0 {
				b.ReportMetric(float64(rows)*float64(b.N)/cpu.Seconds(), "rows/cpu-s")
			}
		})
	}
}

// processCPU is the CPU time this process has used (user and system).
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Layout rules beyond the basic case: names without case, namespaces,
// xsi:nil forms, ignored elements, comments, a BOM, white space, an empty
// record, and values of every type NULL at once.
func TestXMLLayoutRules(t *testing.T) {
	fx := newFixture(t)
	doc := "\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"US-ASCII\"?>\n" +
		"<!-- a comment before the root -->\n" +
		"<d:rows xmlns:d=\"urn:data\" xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\">\n" +
		"  <d:Row><d:S>  padded\t</d:S><d:I>7</d:I><meta><s>not a column</s></meta></d:Row>\n" +
		"  <Row><S>a<!-- c -->b<?pi x?>c</S><I i:nil=\"1\"/><B i:nil=\" true \"></B></Row>\n" +
		"  <Row/>\n" +
		"  <Row><S xsi:nil=\"true\"/><I>&#x2D;5</I><B>1</B></Row>\n" +
		"</d:rows>\n"
	out, n, err := fx.convert(Format{Type: FormatXML}, schema("s:STRING i:INTEGER b:BOOLEAN"), fx.file("rules.xml", []byte(doc)))
	if err != nil {
		t.Fatalf("%v (%v)", err, errors.Unwrap(err))
	}
	if n != 4 {
		t.Errorf("rows = %d", n)
	}
	_, rows := readBack(t, out)
	wantRows(t, rows, [][]string{
		{"  padded\t", "7", "<nil>"},
		{"abc", "<nil>", "<nil>"},
		{"<nil>", "<nil>", "<nil>"},
		{"<nil>", "-5", "true"},
	})

	// Every type NULL in one record, and empty strings for STRING and CHAR.
	out, _, err = fx.convert(Format{Type: FormatXML}, allTypes(), fx.file("nulls.xml", []byte("<r><x/><x><s/><c></c></x></r>")))
	if err != nil {
		t.Fatal(err)
	}
	_, rows = readBack(t, out)
	allNil := []string{"<nil>", "<nil>", "<nil>", "<nil>", "<nil>", "<nil>", "<nil>", "<nil>", "<nil>", "<nil>", "<nil>", "<nil>"}
	wantRows(t, rows, [][]string{allNil, append([]string{"", ""}, allNil[2:]...)})
}

func TestXMLLinesAndEncodings(t *testing.T) {
	fx := newFixture(t)
	s := schema("id:INTEGER v:SMALLINT")
	// The record whose start tag begins on line 5 (and ends on line 7) has
	// v = 40000; its value sits on line 8.
	doc := "<r>\n<x><id>1</id><v>1</v></x>\n<x><id>2</id><v>\n2</v></x>\n<x\n  id=\"3\"\n>\n<v>40000</v></x>\n</r>\n"
	_, _, err := fx.convert(Format{Type: FormatXML}, s, fx.file("lines.xml", []byte(doc)))
	wantValidation(t, err, "s3://bucket/lines.xml", 5, "v", "40000")
	// The same through bz2, which is parsed as it is decompressed: a
	// staging budget far smaller than the document does not matter.
	eng, err := New(Limits{StagingDir: fx.stage, MemoryLimit: "256MB", MaxStagedBytes: 16})
	if err != nil {
		t.Fatal(err)
	}
	fx.eng = eng
	_, _, err = fx.convert(Format{Type: FormatXML, Compression: CompressionBzip2}, s, fx.file("lines.xml.bz2", bz2(t, []byte(doc))))
	wantValidation(t, err, "s3://bucket/lines.xml.bz2", 5, "v", "40000")
	full := bz2(t, []byte("<r>"+strings.Repeat("<x><id>1</id></x>", 50000)+"</r>"))
	_, _, err = fx.convert(Format{Type: FormatXML, Compression: CompressionBzip2}, s, fx.file("cut.xml.bz2", full[:len(full)/2]))
	var se *SourceError
	if !errors.As(err, &se) || se.Problem != SourceCompression || CategoryOf(err) != CategoryUserRecoverable {
		t.Errorf("truncated bz2: %v", err)
	}

	for name, body := range map[string]string{
		"latin1.xml": "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>\n<r><x><id>1</id></x></r>",
		"badutf.xml": "<r><x><id>\xff</id></x></r>",
		"ctrl.xml":   "<r><x><id>\x01</id></x></r>",
		"dtd.xml":    "<!DOCTYPE r [<!ENTITY e \"1\">]>\n<r><x><id>&e;</id></x></r>",
		"text0.xml":  "junk<r></r>",
		"attr.xml":   "<r><x id=1></x></r>",
	} {
		_, _, err := fx.convert(Format{Type: FormatXML}, s, fx.file(name, []byte(body)))
		var se *SourceError
		if !errors.As(err, &se) || se.Problem != SourceMalformed || se.Line < 1 || !strings.Contains(err.Error(), "s3://bucket/"+name) || strings.Contains(err.Error(), fx.dir) {
			t.Errorf("%s: %v (%T)", name, err, err)
		}
		if name == "latin1.xml" && !strings.Contains(err.Error(), `"ISO-8859-1"`) {
			t.Errorf("latin1: %v", err)
		}
	}
}

// Several sources keep their order, record by record, across more rows
// than one Parquet row group and DuckDB vector.
func TestXMLOrderAcrossSources(t *testing.T) {
	fx := newFixture(t)
	doc := func(from, to int) []byte {
		var b strings.Builder
		b.WriteString("<r>")
		for i := from; i < to; i++ {
			fmt.Fprintf(&b, "<x><id>%d</id></x>\n", i)
		}
		b.WriteString("</r>")
		return []byte(b.String())
	}
	out, n, err := fx.convert(Format{Type: FormatXML}, schema("id:INTEGER"),
		fx.file("o1.xml", doc(0, 130000)), fx.file("o2.xml", doc(130000, 131000)), fx.file("o3.xml", doc(131000, 200000)))
	if err != nil || n != 200000 {
		t.Fatalf("%d %v", n, err)
	}
	_, rows := readBack(t, out)
	for i, r := range rows {
		if r[0] != fmt.Sprint(i) {
			t.Fatalf("row %d is %v", i, r)
		}
	}
}

func TestXMLCancel(t *testing.T) {
	fx := newFixture(t)
	var b strings.Builder
	b.WriteString("<r>\n")
	for i := range 400000 {
		fmt.Fprintf(&b, "<x><id>%d</id><s>name-%d</s></x>\n", i, i)
	}
	b.WriteString("</r>\n")
	src := fx.file("big.xml", []byte(b.String()))
	s := schema("id:BIGINT s:STRING")
	out := filepath.Join(fx.dir, "big.parquet")

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := fx.eng.Convert(ctx, []Source{src}, Format{Type: FormatXML}, s, out)
	if !errors.Is(err, context.Canceled) || CategoryOf(err) != CategoryCancelled {
		t.Errorf("cancelled before: %v", err)
	}
	fx.checkClean(out, err)

	// Cancelled while parsing (the parse of 400 000 records takes well over
	// the delay; only the outcome is checked, not the time).
	ctx, cancel = context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	_, err = fx.eng.Convert(ctx, []Source{src}, Format{Type: FormatXML}, s, out)
	if !errors.Is(err, context.Canceled) || CategoryOf(err) != CategoryCancelled {
		t.Errorf("cancelled while parsing: %v", err)
	}
	fx.checkClean(out, err)
}
