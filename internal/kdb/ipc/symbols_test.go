package ipc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"unsafe"
)

// Long symbol vectors go through the interning cache: every length around
// the 8-byte word, empty symbols, many distinct ones (cache collisions and
// several arena chunks), and a vector that ends the message, so the last
// symbols are searched without a whole word left.
func TestSymbolVectorInterning(t *testing.T) {
	var syms []string
	for i := range 5000 {
		switch i % 7 {
		case 0:
			syms = append(syms, "")
		case 1:
			syms = append(syms, strings.Repeat("x", i%20)) // 0..19 bytes
		case 2:
			syms = append(syms, fmt.Sprintf("T%03d", i%100))
		case 3:
			syms = append(syms, fmt.Sprintf("unique-%d", i)) // many distinct: misses
		case 4:
			syms = append(syms, fmt.Sprintf("%07d", i%50)) // 7 bytes: the longest short key
		case 5:
			syms = append(syms, fmt.Sprintf("%08d", i%50)) // 8 bytes: by text
		default:
			syms = append(syms, strings.Repeat("ü", 1+i%40)) // long, non-ASCII
		}
	}
	for _, tail := range []int{0, 1, 7, 8} {
		v := &SymbolVector{Data: append(append([]string{}, syms...), strings.Repeat("e", tail))}
		for _, opts := range []EncodeOptions{{}, {BigEndian: true}} {
			m, err := Decode(encodeT(t, v, opts), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Value.(*SymbolVector).Data; !slices.Equal(got, v.Data) {
				for i := range got {
					if got[i] != v.Data[i] {
						t.Fatalf("tail %d: symbol %d is %q, want %q", tail, i, got[i], v.Data[i])
					}
				}
				t.Fatalf("tail %d: %d symbols, want %d", tail, len(got), len(v.Data))
			}
		}
	}
	// Equal symbols of one message share their text, across columns too.
	tbl := benchTable(1000)
	m, err := Decode(encodeT(t, &List{Items: []Value{tbl.Data[2], tbl.Data[2]}}, EncodeOptions{}), Limits{})
	if err != nil {
		t.Fatal(err)
	}
	a := m.Value.(*List).Items[0].(*SymbolVector).Data
	b := m.Value.(*List).Items[1].(*SymbolVector).Data
	if a[0] != b[0] || !sameText(a[0], b[0]) || !sameText(a[0], a[100]) {
		t.Fatal("equal symbols were not interned")
	}
}

func sameText(a, b string) bool {
	return len(a) > 0 && a == b && unsafe.StringData(a) == unsafe.StringData(b)
}

// A symbol vector whose last symbol has no NUL is refused, however it ends.
func TestSymbolVectorTruncated(t *testing.T) {
	for _, tail := range []string{"", "a", "abcdefg", "abcdefgh", strings.Repeat("z", 100)} {
		var body []byte
		body = append(body, byte(TSymbol), 0)
		body = binary.LittleEndian.AppendUint32(body, 100)
		for range 99 {
			body = append(body, 'a', 'b', 0)
		}
		body = append(body, tail...)
		if _, err := DecodeValue(body, false, Limits{}); !errors.Is(err, ErrMalformed) {
			t.Fatalf("tail %q: %v", tail, err)
		}
	}
}

// Fixed-size vectors of every element size decode to the same values from
// either byte order, at lengths that are not a multiple of anything.
func TestFixedVectorsBothOrders(t *testing.T) {
	for _, n := range []int{1, 3, 17, 1001} {
		s := make([]int16, n)
		i := make([]int32, n)
		l := make([]int64, n)
		r := make([]float32, n)
		f := make([]float64, n)
		for k := range n {
			s[k] = int16(k*7919 - 5000)
			i[k] = int32(k*104729) - 1<<30
			l[k] = int64(k)*1_000_000_007 - 1<<62
			r[k] = float32(k) / 3
			f[k] = -float64(k) / 7
		}
		v := &List{Items: []Value{&ShortVector{Data: s}, &IntVector{Data: i}, &LongVector{Data: l}, &RealVector{Data: r}, &FloatVector{Data: f}}}
		for _, opts := range []EncodeOptions{{}, {BigEndian: true}} {
			m, err := Decode(encodeT(t, v, opts), Limits{})
			if err != nil {
				t.Fatal(err)
			}
			it := m.Value.(*List).Items
			if !slices.Equal(it[0].(*ShortVector).Data, s) || !slices.Equal(it[1].(*IntVector).Data, i) ||
				!slices.Equal(it[2].(*LongVector).Data, l) || !slices.Equal(it[3].(*RealVector).Data, r) ||
				!slices.Equal(it[4].(*FloatVector).Data, f) {
				t.Fatalf("n %d big %v: values differ", n, opts.BigEndian)
			}
		}
	}
}
