package ipc

import (
	"bytes"
	"encoding/hex"
	"errors"
	"math"
	"runtime"
	"strings"
	"testing"
)

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(strings.TrimPrefix(s, "0x"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func encodeT(t testing.TB, v Value, opts EncodeOptions) []byte {
	t.Helper()
	b, err := Encode(Async, v, opts)
	if err != nil {
		t.Fatalf("encode %T: %v", v, err)
	}
	return b
}

// Byte examples from code.kx.com, "Serialization examples" (-8! output).
func TestDocumentedExamples(t *testing.T) {
	tbl := &Table{Columns: []string{"a", "b"}, Data: []Value{&IntVector{Data: []int32{2}}, &IntVector{Data: []int32{3}}}}
	sortedTbl := &Table{Attr: AttrSorted, Columns: []string{"a", "b"}, Data: []Value{&IntVector{Attr: AttrParted, Data: []int32{2}}, &IntVector{Data: []int32{3}}}}
	keyT := func(a Attr) *Table {
		return &Table{Attr: a, Columns: []string{"a"}, Data: []Value{&IntVector{Data: []int32{2}}}}
	}
	valT := &Table{Columns: []string{"b"}, Data: []Value{&IntVector{Data: []int32{3}}}}
	ab := &SymbolVector{Data: []string{"a", "b"}}
	cases := []struct {
		name, hex string
		v         Value
	}{
		{"int 1i", "0x010000000d000000fa01000000", Int(1)},
		{"enlist 1i", "0x010000001200000006000100000001000000", &IntVector{Data: []int32{1}}},
		{"byte til 5", "0x01000000130000000400050000000001020304", &ByteVector{Data: []byte{0, 1, 2, 3, 4}}},
		{"general list", "0x01000000190000000000010000000400050000000001020304", &List{Items: []Value{&ByteVector{Data: []byte{0, 1, 2, 3, 4}}}}},
		{"dict", "0x0100000021000000630b0002000000610062000600020000000200000003000000", &Dict{Keys: ab, Values: &IntVector{Data: []int32{2, 3}}}},
		{"sorted dict", "0x01000000210000007f0b0102000000610062000600020000000200000003000000", &Dict{Sorted: true, Keys: &SymbolVector{Attr: AttrSorted, Data: []string{"a", "b"}}, Values: &IntVector{Data: []int32{2, 3}}}},
		{"dict of vectors", "0x010000002d000000630b0002000000610062000000020000000600010000000200000006000100000003000000", &Dict{Keys: ab, Values: &List{Items: []Value{&IntVector{Data: []int32{2}}, &IntVector{Data: []int32{3}}}}}},
		{"table", "0x010000002f0000006200630b0002000000610062000000020000000600010000000200000006000100000003000000", tbl},
		{"sorted table", "0x010000002f0000006201630b0002000000610062000000020000000603010000000200000006000100000003000000", sortedTbl},
		{"keyed table", "0x010000003f000000636200630b00010000006100000001000000060001000000020000006200630b0001000000620000000100000006000100000003000000", &Dict{Keys: keyT(0), Values: valT}},
		{"sorted keyed table", "0x010000003f0000007f6201630b00010000006100000001000000060001000000020000006200630b0001000000620000000100000006000100000003000000", &Dict{Sorted: true, Keys: keyT(AttrSorted), Values: valT}},
		{"lambda", "0x010000001500000064000a00050000007b782b797d", &Lambda{Body: "{x+y}"}},
		{"lambda in .d", "0x01000000160000006464000a00050000007b782b797d", &Lambda{Context: "d", Body: "{x+y}"}},
		{"long 1 (q 3+)", "0x0100000011000000f90100000000000000", Long(1)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want := mustHex(t, c.hex)
			if got := encodeT(t, c.v, EncodeOptions{}); !bytes.Equal(got, want) {
				t.Fatalf("encode:\n got %x\nwant %x", got, want)
			}
			m, err := Decode(want, Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got := encodeT(t, m.Value, EncodeOptions{}); !bytes.Equal(got, want) {
				t.Fatalf("decode+encode:\n got %x\nwant %x", got, want)
			}
		})
	}
	// Spot-check decoded structure, not only bytes.
	m, _ := Decode(mustHex(t, cases[9].hex), Limits{})
	d := m.Value.(*Dict)
	if k := d.Keys.(*Table); k.Columns[0] != "a" || k.Data[0].(*IntVector).Data[0] != 2 || Len(d) != 1 {
		t.Fatalf("keyed table decoded as %+v", d)
	}
}

func everyValue() []Value {
	nan := math.NaN()
	inf := math.Inf(1)
	g := GUID{0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, 0, 1, 2, 3, 4, 5, 6, 7}
	atoms := []Value{
		Bool(true), Bool(false), g, GUID{}, Byte(0xff), Short(-5), NullShort, InfShort, -InfShort,
		Int(7), NullInt, InfInt, -InfInt, Long(-1 << 40), NullLong, InfLong, -InfLong,
		Real(1.5), NullReal(), Real(float32(inf)), Real(float32(-inf)), Float(3.25), NullFloat(), Float(inf), Float(-inf),
		Char('x'), Char(' '), Symbol("sym"), Symbol(""), Timestamp(123456789), NullTimestamp, Timestamp(math.MaxInt64),
		Month(300), NullMonth, Date(9000), NullDate, Datetime(9000.5), Datetime(nan), Timespan(3_600_000_000_000), NullTimespan,
		Minute(61), NullMinute, Second(3601), NullSecond, Time(45_296_789), NullTime,
		Error("type"), Identity, UnaryPrimitive(5),
	}
	vectors := []Value{
		&BoolVector{Data: []bool{true, false, true}},
		&GUIDVector{Data: [][16]byte{g, {}}},
		&ByteVector{Attr: AttrUnique, Data: []byte{1, 2, 3}},
		&ShortVector{Data: []int16{1, math.MinInt16, math.MaxInt16}},
		&IntVector{Attr: AttrSorted, Data: []int32{math.MinInt32, 0, math.MaxInt32}},
		&LongVector{Attr: AttrGrouped, Data: []int64{math.MinInt64, -1, math.MaxInt64}},
		&RealVector{Data: []float32{1.5, float32(nan), float32(inf)}},
		&FloatVector{Data: []float64{-2.5, nan, -inf, inf}},
		&CharVector{Data: "hello, world"},
		&CharVector{Data: ""},
		&SymbolVector{Data: []string{"a", "", "longer symbol", "ünïcode"}},
		&TimestampVector{Data: []int64{0, math.MinInt64, 1}},
		&MonthVector{Data: []int32{0, math.MinInt32}},
		&DateVector{Data: []int32{-1, math.MinInt32, 9000}},
		&DatetimeVector{Data: []float64{0.5, nan}},
		&TimespanVector{Data: []int64{1, math.MinInt64}},
		&MinuteVector{Data: []int32{1, math.MinInt32}},
		&SecondVector{Data: []int32{59, math.MinInt32}},
		&TimeVector{Data: []int32{999, math.MinInt32}},
		&LongVector{Data: []int64{}},
	}
	out := append(atoms, vectors...)
	out = append(out,
		&List{Items: append(append([]Value{}, atoms...), vectors...)},
		&List{},
		&Dict{Keys: &SymbolVector{Data: []string{"a", "b"}}, Values: &List{Items: []Value{Long(1), &CharVector{Data: "x"}}}},
		&Table{Columns: []string{"l", "f", "s", "t", "c"}, Data: []Value{
			&LongVector{Data: []int64{1, 2}}, &FloatVector{Data: []float64{1, nan}}, &SymbolVector{Data: []string{"x", "y"}},
			&TimestampVector{Data: []int64{1, 2}}, &List{Items: []Value{&CharVector{Data: "ab"}, &CharVector{Data: "c"}}},
		}},
		&Table{Columns: []string{}, Data: []Value{}},
		&Lambda{Context: "d", Body: "{x+y}"},
		&Function{T: TBinary, Op: 1},
		&Function{T: TProject, Args: []Value{&Lambda{Body: "{x+y}"}, Long(1), Identity}},
		&Function{T: TEach, Args: []Value{&Function{T: TBinary, Op: 1}}},
	)
	return out
}

func TestRoundTripEveryType(t *testing.T) {
	for _, opts := range []EncodeOptions{{}, {BigEndian: true}} {
		for _, v := range everyValue() {
			b := encodeT(t, v, opts)
			m, err := Decode(b, Limits{})
			if err != nil {
				t.Fatalf("%T (big %v): %v", v, opts.BigEndian, err)
			}
			if m.Value.Type() != v.Type() {
				t.Fatalf("%T: type %d, want %d", v, m.Value.Type(), v.Type())
			}
			// Compare as little-endian bytes: NaN != NaN rules out ==.
			want := encodeT(t, v, EncodeOptions{})
			if got := encodeT(t, m.Value, EncodeOptions{}); !bytes.Equal(got, want) {
				t.Fatalf("%T (big %v): round trip\n got %x\nwant %x", v, opts.BigEndian, got, want)
			}
		}
	}
	// Values, not only bytes, for a few.
	m, _ := Decode(encodeT(t, &SymbolVector{Data: []string{"a", "", "bc"}}, EncodeOptions{BigEndian: true}), Limits{})
	if s := m.Value.(*SymbolVector).Data; len(s) != 3 || s[0] != "a" || s[1] != "" || s[2] != "bc" {
		t.Fatalf("symbols %q", s)
	}
	m, _ = Decode(encodeT(t, &FloatVector{Data: []float64{math.Inf(-1), math.NaN()}}, EncodeOptions{BigEndian: true}), Limits{})
	if f := m.Value.(*FloatVector).Data; !math.IsInf(f[0], -1) || !math.IsNaN(f[1]) {
		t.Fatalf("floats %v", f)
	}
	m, _ = Decode(encodeT(t, NullLong, EncodeOptions{BigEndian: true}), Limits{})
	if m.Value != NullLong {
		t.Fatalf("null long %v", m.Value)
	}
}

func TestBigEndianBytes(t *testing.T) {
	got := encodeT(t, Int(1), EncodeOptions{BigEndian: true})
	if want := mustHex(t, "000000000000000dfa00000001"); !bytes.Equal(got, want) {
		t.Fatalf("got %x want %x", got, want)
	}
}

func TestEncodeRefuses(t *testing.T) {
	for _, v := range []Value{
		Symbol("a\x00b"),
		&SymbolVector{Data: []string{"ok", "no\x00"}},
		&Table{Columns: []string{"a"}, Data: []Value{Long(1)}},
		&Table{Columns: []string{"a", "b"}, Data: []Value{&LongVector{Data: []int64{1}}, &LongVector{}}},
		&Dict{Keys: &SymbolVector{Data: []string{"a"}}, Values: &LongVector{}},
		&List{Items: []Value{nil}},
		&Function{T: TEach},
	} {
		if _, err := Encode(Sync, v, EncodeOptions{}); err == nil {
			t.Errorf("%#v: encoded, want an error", v)
		}
	}
}

func TestCompressionRoundTrip(t *testing.T) {
	syms := make([]string, 5000)
	longs := make([]int64, 5000)
	for i := range syms {
		syms[i] = []string{"AAPL", "MSFT", "GOOG"}[i%3]
		longs[i] = int64(i / 7)
	}
	tbl := &Table{Columns: []string{"sym", "n"}, Data: []Value{&SymbolVector{Data: syms}, &LongVector{Data: longs}}}
	for _, big := range []bool{false, true} {
		plain := encodeT(t, tbl, EncodeOptions{BigEndian: big})
		comp := encodeT(t, tbl, EncodeOptions{BigEndian: big, Compress: true})
		if comp[2] != 1 || len(comp) >= len(plain)/2 {
			t.Fatalf("not compressed: %d -> %d bytes", len(plain), len(comp))
		}
		u, err := Decompress(comp, 0)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(u, plain) {
			t.Fatal("decompressed bytes differ")
		}
		m, err := Decode(comp, Limits{})
		if err != nil || !m.Header.Compressed {
			t.Fatal(err, m.Header)
		}
	}
	// Incompressible and small messages stay as they are.
	rnd := make([]byte, 10000)
	x := uint64(1)
	for i := range rnd {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		rnd[i] = byte(x)
	}
	if b := encodeT(t, &ByteVector{Data: rnd}, EncodeOptions{Compress: true}); b[2] != 0 {
		t.Fatal("random bytes compressed")
	}
	if b := encodeT(t, &ByteVector{Data: make([]byte, 1000)}, EncodeOptions{Compress: true}); b[2] != 0 {
		t.Fatal("message under 2000 bytes compressed")
	}
	// Runs (overlapping back references) and every byte value.
	for _, p := range [][]byte{bytes.Repeat([]byte{7}, 100000), bytes.Repeat([]byte("abcdefgh"), 30000), append(bytes.Repeat([]byte{0, 1}, 5000), rnd...)} {
		plain := encodeT(t, &ByteVector{Data: p}, EncodeOptions{})
		if c, ok := Compress(plain); ok {
			u, err := Decompress(c, 0)
			if err != nil || !bytes.Equal(u, plain) {
				t.Fatalf("round trip of %d bytes: %v", len(p), err)
			}
		} else if len(p) != len(rnd)+10000 {
			t.Fatalf("%d bytes of a run not compressed", len(p))
		}
	}
}

func TestMalformed(t *testing.T) {
	cases := map[string]string{
		"empty":                "",
		"short header":         "01000000",
		"bad endianness":       "020000000d000000fa01000000",
		"bad message type":     "010300000d000000fa01000000",
		"bad compressed flag":  "010002000d000000fa01000000",
		"length too small":     "0100000008000000",
		"length lies (long)":   "010000000e000000fa01000000",
		"length lies (short)":  "010000000c000000fa01000000",
		"truncated atom":       "010000000b000000fa0100",
		"trailing bytes":       "010000000e000000fa0100000000",
		"unknown type":         "010000000a000000140000",
		"type 3":               "010000000e000000030001000000",
		"enum":                 "010000000e000000140001000000",
		"dynamic load":         "010000000a0000007000",
		"negative count":       "010000000e0000000700ffffffff",
		"lying count":          "01000000140000000700ffffff7f0100000000000000",
		"symbol without nul":   "010000000b000000f56162",
		"symbols without nul":  "01000000110000000b00020000006100",
		"list lying count":     "010000000e0000000000ffffff7f",
		"table not dict":       "010000000c0000006200fa000000",
		"table ragged":         "0100000036000000" + "6200630b000200000061006200000002000000" + "07000200000001000000000000000200000000000000" + "0600000000000000",
		"dict lengths differ":  "010000001e000000630b0001000000610006000200000002000000030000",
		"dict atom keys":       "0100000013000000" + "63fa01000000fa02000000",
		"lambda not string":    "010000000c00000064000000000000",
		"compressed too small": "010001000c0000000d000000",
		"compressed lying":     "0100010010000000ffffff7f00000000",
		"compressed truncated": "01000100100000006400000001fa0102",
	}
	for name, h := range cases {
		t.Run(name, func(t *testing.T) {
			b := mustHex(t, h)
			_, err := Decode(b, Limits{})
			if err == nil {
				t.Fatalf("decoded %x", b)
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error %v wraps none of the package errors", err)
			}
			if _, err := ReadMessage(bytes.NewReader(b), Limits{}); err == nil {
				t.Fatal("ReadMessage accepted it")
			}
		})
	}
}

func TestDepthCap(t *testing.T) {
	// 200 nested one-item lists around an atom.
	var body []byte
	for range 200 {
		body = append(body, 0, 0, 1, 0, 0, 0)
	}
	body = append(body, 0xfa, 1, 0, 0, 0)
	if _, err := DecodeValue(body, false, Limits{}); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "nesting") {
		t.Fatalf("200 levels: %v", err)
	}
	if _, err := DecodeValue(body, false, Limits{MaxDepth: 300}); err != nil {
		t.Fatalf("200 levels with MaxDepth 300: %v", err)
	}
}

// A 20-byte message claiming a 2^31-1 element vector must fail without
// allocating for the claim.
func TestLyingCountsAllocateLittle(t *testing.T) {
	msgs := [][]byte{
		mustHex(t, "01000000140000000700ffffff7f0100000000000000"),
		mustHex(t, "01000000140000000000ffffff7f0100000000000000"),
		mustHex(t, "01000000140000000b00ffffff7f6100000000000000"),
		mustHex(t, "0100010014000000ffffff7f000000000000000000000000"), // compressed, claims 2 GB
	}
	for _, m := range msgs {
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		for range 10 {
			if _, err := Decode(m, Limits{MaxMessageSize: math.MaxInt32}); err == nil {
				t.Fatalf("%x decoded", m)
			}
		}
		runtime.ReadMemStats(&after)
		if d := after.TotalAlloc - before.TotalAlloc; d > 1<<20 {
			t.Fatalf("%x: %d bytes allocated", m, d)
		}
	}
	// A header claiming 2 GB on a connection that sends 8 bytes: ReadRaw
	// allocates one step, not the claim.
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, _, err := ReadRaw(bytes.NewReader(mustHex(t, "01000000ffffff7f")), nil, math.MaxInt32)
	runtime.ReadMemStats(&after)
	if err == nil {
		t.Fatal("read a truncated message")
	}
	if d := after.TotalAlloc - before.TotalAlloc; d > 2*growStep {
		t.Fatalf("%d bytes allocated", d)
	}
	if _, _, err := ReadRaw(bytes.NewReader(mustHex(t, "01000000ffffff7f")), nil, 0); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over the limit: %v", err)
	}
}

func TestReadRawRelaysVerbatim(t *testing.T) {
	a := encodeT(t, &LongVector{Data: make([]int64, 3000)}, EncodeOptions{Compress: true})
	b := encodeT(t, Symbol("next"), EncodeOptions{})
	r := bytes.NewReader(append(append([]byte{}, a...), b...))
	got, h, err := ReadRaw(r, nil, 0)
	if err != nil || !h.Compressed || !bytes.Equal(got, a) {
		t.Fatalf("first: %v %+v", err, h)
	}
	buf := make([]byte, 0, 64)
	got, h, err = ReadRaw(r, buf, 0)
	if err != nil || h.Compressed || !bytes.Equal(got, b) || &got[0] != &buf[:1][0] {
		t.Fatalf("second: %v %+v", err, h)
	}
	if _, _, err := ReadRaw(r, nil, 0); err.Error() != "EOF" {
		t.Fatalf("at the end: %v", err)
	}
}

func TestBigMessageRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MB")
	}
	n := 100 << 20 / 8
	v := make([]int64, n)
	for i := range v {
		v[i] = int64(i) * 31
	}
	var buf bytes.Buffer
	if err := WriteMessage(&buf, Response, &LongVector{Data: v}, EncodeOptions{}); err != nil {
		t.Fatal(err)
	}
	if buf.Len() < 100<<20 {
		t.Fatalf("%d bytes", buf.Len())
	}
	if _, err := ReadMessage(bytes.NewReader(buf.Bytes()), Limits{}); !errors.Is(err, ErrTooLarge) {
		// 100 MB is under the default 256 MiB: it must decode.
		if err != nil {
			t.Fatal(err)
		}
	}
	m, err := ReadMessage(&buf, Limits{MaxMessageSize: 200 << 20})
	if err != nil {
		t.Fatal(err)
	}
	got := m.Value.(*LongVector).Data
	if len(got) != n || got[n-1] != int64(n-1)*31 || m.Header.Type != Response {
		t.Fatalf("got %d longs", len(got))
	}
	if _, err := ReadMessage(bytes.NewReader(encodeT(t, &LongVector{Data: v}, EncodeOptions{})), Limits{MaxMessageSize: 50 << 20}); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("over MaxMessageSize: %v", err)
	}
}
