package ingest

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	}{{"CSV", DefaultCSV(), c.String()}, {"XML", Format{Type: FormatXML}, x.String()}} {
		b.Run(v.name, func(b *testing.B) {
			dir := b.TempDir()
			eng, err := New(Limits{StagingDir: filepath.Join(dir, "staging"), MemoryLimit: "512MB", Threads: 2})
			if err != nil {
				b.Fatal(err)
			}
			src := Source{Path: filepath.Join(dir, "src"), Name: v.name}
			if err := os.WriteFile(src.Path, []byte(v.body), 0o600); err != nil {
				b.Fatal(err)
			}
			out := filepath.Join(dir, "out.parquet")
			for b.Loop() {
				os.Remove(out)
				if _, err := eng.Convert(b.Context(), []Source{src}, v.f, s, out); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(rows)*float64(b.N)/b.Elapsed().Seconds(), "rows/s")
		})
	}
}
