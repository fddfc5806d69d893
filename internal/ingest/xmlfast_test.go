package ingest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// readBoth reads doc with the fast and the slow reader and returns what
// each handed over (records as "pos|packed") and its error.
func readBoth(t testing.TB, dir, doc string, s Schema) (fast, slow []string, ferr, serr error) {
	t.Helper()
	p := filepath.Join(dir, "doc.xml")
	if err := os.WriteFile(p, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	prep := prepared{src: Source{Path: p, Name: "doc.xml"}, path: p, compression: CompressionNone}
	collect := func(out *[]string) xmlSink {
		return func(pos int64, rec []byte) error {
			*out = append(*out, fmt.Sprintf("%d|%q", pos, rec))
			return nil
		}
	}
	ferr = loadXMLFast(context.Background(), 3, prep, s, 1<<20, collect(&fast))
	serr = loadXMLSlow(context.Background(), 3, prep, s, 1<<20, collect(&slow))
	return fast, slow, ferr, serr
}

var xmlSampleDocs = []string{
	xmlAllTypes,
	"<r><x><id>1</id><s>a</s></x></r>",
	"\xef\xbb\xbf<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<r>\n  <x id=\"7\" s='q&amp;&#x41;&#65;'/>\n</r>\n",
	"<r><x><s>a\r\nb\rc</s></x></r>",
	"<r><x s=\"a\r\nb\tc\n\"/></r>",
	"<r><x><s><![CDATA[<&>\r\n]]]]><![CDATA[>]]></s></x></r>",
	"<r><x><s>x<!-- c -- c -->y</s></x></r>",
	"<r><x><s>x<!-- c - c --->y</s></x></r>",
	"<r><x><s>x<!-- ok - ok -->y<?pi data?>z</s></x></r>",
	"<r xmlns:i=\"http://www.w3.org/2001/XMLSchema-instance\"><x><s i:nil=\"true\"/><id xsi:nil=\"1\"/><b nil=\"true\">1</b></x></r>",
	"<r><x><s xmlns:q=\"http://www.w3.org/2001/XMLSchema-instance\" q:nil=\" true \"></s></x></r>",
	"<r><x><s q:nil=\"true\" xmlns:q=\"http://www.w3.org/2001/XMLSchema-instance\"></s></x></r>",
	"<r><x><s xmlns:xsi=\"urn:other\" xsi:nil=\"true\">v</s></x></r>",
	"<r><x><s xsi:nil=\"true\">v</s></x></r>",
	"<r><x><ID>1</ID><S>upper</S></x><x><a:s xmlns:a='urn:a'>ns</a:s></x></r>",
	"<r><x><s>]]></s></x></r>",
	"<r><x><s>a]b]]c</s></x></r>",
	"<r><x><s>&#0;</s></x></r>",
	"<r><x><s>&#xD800;</s></x></r>",
	"<r><x><s>&#x10FFFF;&#x110000;</s></x></r>",
	"<r><x><s>&#1;</s></x></r>",
	"<r><x><s>&nbsp;</s></x></r>",
	"<r><x><s>&amp</s></x></r>",
	"<r><x><s>a & b</s></x></r>",
	"<r><x><s>\x01</s></x></r>",
	"<r><x><s>\xff</s></x></r>",
	"<r><x><s>日本語 Ω \U0001F600</s></x></r>",
	"<r><x><s>\uFFFE</s></x></r>",
	"<r><x><s>a</s></y></r>",
	"<r><x><s>a</s></x>",
	"<r><x><s>a</s></x></r></r>",
	"<r></r><r></r>",
	"junk<r></r>",
	"<r>stray<x/></r>",
	"<r><x>stray</x></r>",
	"<r><x><s>1</s><s>2</s></x></r>",
	"<r><x s=\"1\"><s>2</s></x></r>",
	"<r><x><s><b>1</b></s></x></r>",
	"<r><x><u><s>ignored</s></u></x></r>",
	"<r><x id=1></x></r>",
	"<r><x id></x></r>",
	"<r><x id=\"1\"id=\"2\"></x></r>",
	"<r><x a:b:c=\"1\"></x></r>",
	"<r><a:b:c/></r>",
	"<r><x :s=\"1\" s:=\"2\"></x></r>",
	"<r><x><s a=\"<\"/></x></r>",
	"<r><x><s a=\"]]>\"/></x></r>",
	"<r><x><s a=\"&lt;&#x3E;\">v</s></x></r>",
	"<r><x><s>v</s ></x ></r  >",
	"<r><x><s>v</ s></x></r>",
	"<r><1x/></r>",
	"< r></r>",
	"<r><x/><!DOCTYPE x></r>",
	"<!DOCTYPE r>\n<r><x><s>d</s></x></r>",
	"<?xml version=\"1.1\"?><r/>",
	"<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?><r/>",
	"<?xml version=\"1.0\" encoding=\"US-ASCII\"?><r><x><s>é</s></x></r>",
	"<?xml-stylesheet href=\"a\"?><r/>",
	"<?pi?><r/>",
	"<?pi%x?><r/>",
	"<r/>",
	"",
	"   \n",
	"<?xml version=\"1.0\"?>\n",
	"<!-- only a comment -->",
	"<r><x><s>é</s></x></r><!-- after -->\n",
	"<r><x>\n<s>multi\nline</s>\n</x>\n<x\n id=\"3\"\n/>\n</r>",
	"<r><x><s>x</s></x></r>\x00",
	"<r><x><s>tab\tand\u00a0nbsp</s></x></r>",
	"<r><é/></r>",
	"<r><x><sé>1</sé></x></r>",
}

// The fast reader against encoding/xml: on every document it either
// hands over exactly the slow reader's records, or gives up (and then the
// slow reader decides); it never accepts what the slow reader refuses.
func TestXMLFastMatchesSlow(t *testing.T) {
	dir := t.TempDir()
	s := schema("id:INTEGER s:STRING b:BOOLEAN")
	var same, gaveUp []string
	defer func() {
		t.Logf("%d documents read alike; the fast reader gave up on %d: %q", len(same), len(gaveUp), gaveUp)
	}()
	for _, doc := range xmlSampleDocs {
		fast, slow, ferr, serr := readBoth(t, dir, doc, s)
		if ferr == nil {
			same = append(same, doc)
		}
		switch {
		case errors.Is(ferr, errXMLFallback):
			// The slow reader decides; fine either way.
			gaveUp = append(gaveUp, doc)
		case ferr != nil:
			t.Errorf("%q: fast reader: %v", doc, ferr)
		case serr != nil:
			t.Errorf("%q: the fast reader accepted what the slow one refuses (%v): %v", doc, serr, fast)
		case strings.Join(fast, "\n") != strings.Join(slow, "\n"):
			t.Errorf("%q:\nfast %v\nslow %v", doc, fast, slow)
		}
	}
	// The common layouts must not fall back.
	for _, doc := range xmlSampleDocs[:16] {
		if _, _, ferr, serr := readBoth(t, dir, doc, s); serr == nil && ferr != nil {
			t.Errorf("%q: the fast reader gave up on a document the slow one reads: %v", doc, ferr)
		}
	}
}

// Pieces cut at every window boundary: the same records whatever the
// reads return.
func TestXMLFastWindowBoundaries(t *testing.T) {
	s := schema("id:INTEGER s:STRING b:BOOLEAN")
	var b strings.Builder
	b.WriteString("<?xml version=\"1.0\"?>\n<r>\n")
	for i := range 3000 {
		fmt.Fprintf(&b, "<x id=\"%d\"><s>v&amp;%d\r\n日本<![CDATA[c]]]]><![CDATA[>%d]]><!-- note - %d --></s><?pi %d?><b>1</b></x>\n", i, i, i, i, i)
	}
	b.WriteString("</r>\n")
	doc := b.String()
	dir := t.TempDir()
	_, slow, _, serr := readBoth(t, dir, doc, s)
	if serr != nil {
		t.Fatal(serr)
	}
	for _, size := range []int{1, 2, 3, 5, 7, 13, 64, 1000} {
		var got []string
		x := newXMLFast(context.Background(), &trickle{b: []byte(doc), n: size}, 3, s, 1<<20,
			func(pos int64, rec []byte) error { got = append(got, fmt.Sprintf("%d|%q", pos, rec)); return nil })
		x.buf = make([]byte, 16)
		if err := x.run(); err != nil {
			t.Fatalf("reads of %d bytes: %v", size, err)
		}
		if strings.Join(got, "\n") != strings.Join(slow, "\n") {
			t.Fatalf("reads of %d bytes: %d records, differ from the slow reader's %d", size, len(got), len(slow))
		}
	}
}

// trickle returns at most n bytes per read.
type trickle struct {
	b []byte
	n int
}

func (t *trickle) Read(p []byte) (int, error) {
	if len(t.b) == 0 {
		return 0, errEOF
	}
	k := copy(p[:min(len(p), t.n)], t.b)
	t.b = t.b[k:]
	return k, nil
}

var errEOF = io.EOF

// A record longer than the limit fails the source, naming its line, in
// bounded memory; so does nesting beyond xmlMaxDepth.
func TestXMLFastBounds(t *testing.T) {
	dir := t.TempDir()
	s := schema("id:INTEGER s:STRING")
	p := filepath.Join(dir, "big.xml")
	doc := "<r>\n<x><s>ok</s></x>\n<x><s>" + strings.Repeat("v", 3<<20) + "</s></x></r>"
	os.WriteFile(p, []byte(doc), 0o600)
	prep := prepared{src: Source{Path: p, Name: "s3://b/big.xml"}, path: p}
	err := loadXMLFast(context.Background(), 0, prep, s, 2<<20, func(int64, []byte) error { return nil })
	wantSourceError(t, err, CategoryUserRecoverable, "s3://b/big.xml", 3, "longer than")

	os.WriteFile(p, []byte("<r><x>"+strings.Repeat("<d>", 2000)+"</x></r>"), 0o600)
	err = loadXMLFast(context.Background(), 0, prep, s, 2<<20, func(int64, []byte) error { return nil })
	wantSourceError(t, err, CategoryUserRecoverable, "s3://b/big.xml", 1, "nested deeper")

	// What the fast reader leaves to encoding/xml is bounded too: a
	// DOCTYPE, then a run of 64 MB of text.
	f, _ := os.Create(p)
	f.WriteString("<!DOCTYPE r>\n<r>")
	f.Write([]byte(strings.Repeat(" ", 64<<20)))
	f.WriteString("</r>")
	f.Close()
	var err2 error
	growth := peakGrowth(t, func() {
		err2 = loadXMLSlow(context.Background(), 0, prep, s, 2<<20, func(int64, []byte) error { return nil })
	})
	wantSourceError(t, err2, CategoryUserRecoverable, "s3://b/big.xml", 2, "longer than")
	if bound := memBound(40 << 20); growth > bound {
		t.Errorf("the slow reader grew by %d MiB (bound %d MiB)", growth>>20, bound>>20)
	}

	// Through Convert: the same error.
	fx := newFixture(t)
	_, _, err = fx.convert(Format{Type: FormatXML}, s, fx.file("long.xml", []byte(doc)))
	wantSourceError(t, err, CategoryUserRecoverable, "long.xml", 3, "longer than")
}

// The conversions of the XML tests take the fast reader, and one with a
// DOCTYPE (which it leaves to encoding/xml) is read whole by the slow one.
func TestXMLFastTaken(t *testing.T) {
	fx := newFixture(t)
	if _, n, err := fx.convert(Format{Type: FormatXML}, allTypes(), fx.file("all.xml", []byte(xmlAllTypes))); err != nil || n != 4 {
		t.Fatalf("%d %v", n, err)
	}
	if k := fx.eng.xmlSlowReads.Load(); k != 0 {
		t.Errorf("%d slow reads of the all-types document", k)
	}
	out, n, err := fx.convert(Format{Type: FormatXML}, schema("id:INTEGER"), fx.file("a.xml", []byte("<r><x><id>1</id></x></r>")),
		fx.file("dtd.xml", []byte("<!DOCTYPE r>\n<r><x><id>2</id></x><x><id>3</id></x></r>")))
	if err != nil || n != 3 {
		t.Fatalf("with a DOCTYPE: %d %v", n, err)
	}
	if k := fx.eng.xmlSlowReads.Load(); k != 1 {
		t.Errorf("%d slow reads, want 1", k)
	}
	_, rows := readBack(t, out)
	wantRows(t, rows, [][]string{{"1"}, {"2"}, {"3"}})
}

// BenchmarkXMLReader is the readers alone, without DuckDB: records per
// second of the fast reader and of encoding/xml over the same document.
func BenchmarkXMLReader(b *testing.B) {
	const rows = 200000
	var x strings.Builder
	x.WriteString("<trades>\n")
	for i := range rows {
		fmt.Fprintf(&x, "<trade><id>%d</id><sym>S%d</sym><px>%d.25</px><day>2024-01-%02d</day></trade>\n", i, i%500, i%1000, 1+i%28)
	}
	x.WriteString("</trades>\n")
	p := filepath.Join(b.TempDir(), "doc.xml")
	os.WriteFile(p, []byte(x.String()), 0o600)
	prep := prepared{src: Source{Path: p}, path: p}
	s := schema("id:BIGINT sym:STRING px:DOUBLE day:DATE")
	n := 0
	sink := func(int64, []byte) error { n++; return nil }
	for _, r := range []struct {
		name string
		read func() error
	}{
		{"fast", func() error { return loadXMLFast(context.Background(), 0, prep, s, 2<<20, sink) }},
		{"encoding-xml", func() error { return loadXMLSlow(context.Background(), 0, prep, s, 2<<20, sink) }},
	} {
		b.Run(r.name, func(b *testing.B) {
			cpu0 := processCPU()
			for b.Loop() {
				if err := r.read(); err != nil {
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

// FuzzXMLFastMatchesSlow: whatever the document, the fast reader gives up
// or hands over exactly what encoding/xml does, and never accepts what it
// refuses.
func FuzzXMLFastMatchesSlow(f *testing.F) {
	for _, d := range xmlSampleDocs {
		f.Add(d)
	}
	dir := f.TempDir()
	s := schema("id:INTEGER s:STRING b:BOOLEAN")
	f.Fuzz(func(t *testing.T, doc string) {
		fast, slow, ferr, serr := readBoth(t, dir, doc, s)
		switch {
		case errors.Is(ferr, errXMLFallback):
		case ferr != nil:
			var se *SourceError
			if !errors.As(ferr, &se) {
				t.Fatalf("%q: fast reader: %v", doc, ferr)
			}
		case serr != nil:
			t.Fatalf("%q: the fast reader accepted what the slow one refuses (%v): %v", doc, serr, fast)
		case strings.Join(fast, "\n") != strings.Join(slow, "\n"):
			t.Fatalf("%q:\nfast %v\nslow %v", doc, fast, slow)
		}
	})
}
