package ipc

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/bits"
	"unsafe"
)

// hostLittle: on a little-endian host, little-endian vectors are copied
// with one memmove instead of element by element. Set once, never changed.
var hostLittle = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// DecodeValue decodes one value from body, the bytes after the header of
// an uncompressed message; all of body must be consumed. It never panics on
// malformed input and allocates no more than a small multiple of len(body):
// every count is checked against the bytes that remain before a slice is
// made for it.
func DecodeValue(body []byte, bigEndian bool, lim Limits) (Value, error) {
	d := decoder{b: body, big: bigEndian, maxDepth: lim.maxDepth()}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	if d.pos != len(d.b) {
		return nil, malformed("%d bytes after the value", len(d.b)-d.pos)
	}
	return v, nil
}

type decoder struct {
	b        []byte
	pos      int
	big      bool
	depth    int
	maxDepth int
	syms     *symCache // made for the first long symbol vector
	arena    []byte    // symbol text (see arenaString)
}

func (d *decoder) errShort(what string) error {
	return malformed("%s at offset %d: message truncated", what, d.pos)
}

func (d *decoder) byte1(what string) (byte, error) {
	if d.pos >= len(d.b) {
		return 0, d.errShort(what)
	}
	c := d.b[d.pos]
	d.pos++
	return c, nil
}

func (d *decoder) take(n int, what string) ([]byte, error) {
	if n < 0 || n > len(d.b)-d.pos {
		return nil, d.errShort(what)
	}
	p := d.b[d.pos : d.pos+n]
	d.pos += n
	return p, nil
}

func (d *decoder) u16(p []byte) uint16 {
	if d.big {
		return binary.BigEndian.Uint16(p)
	}
	return binary.LittleEndian.Uint16(p)
}

func (d *decoder) u32(p []byte) uint32 {
	if d.big {
		return binary.BigEndian.Uint32(p)
	}
	return binary.LittleEndian.Uint32(p)
}

func (d *decoder) u64(p []byte) uint64 {
	if d.big {
		return binary.BigEndian.Uint64(p)
	}
	return binary.LittleEndian.Uint64(p)
}

func (d *decoder) int32(what string) (int32, error) {
	p, err := d.take(4, what)
	if err != nil {
		return 0, err
	}
	return int32(d.u32(p)), nil
}

// count reads a vector length and checks that elemSize bytes per element
// remain (elemSize 1 for symbols and general-list items: each takes at
// least one byte).
func (d *decoder) count(elemSize int) (int, error) {
	n, err := d.int32("count")
	if err != nil {
		return 0, err
	}
	if n < 0 {
		return 0, malformed("negative count %d at offset %d", n, d.pos-4)
	}
	if int64(n)*int64(elemSize) > int64(len(d.b)-d.pos) {
		return 0, malformed("count %d at offset %d exceeds the %d bytes left", n, d.pos-4, len(d.b)-d.pos)
	}
	return int(n), nil
}

func (d *decoder) symbol() (string, error) {
	i := bytes.IndexByte(d.b[d.pos:], 0)
	if i < 0 {
		return "", d.errShort("symbol")
	}
	s := string(d.b[d.pos : d.pos+i])
	d.pos += i + 1
	return s, nil
}

func (d *decoder) enter() error {
	d.depth++
	if d.depth > d.maxDepth {
		return malformed("nesting deeper than %d", d.maxDepth)
	}
	return nil
}

func (d *decoder) value() (Value, error) {
	tb, err := d.byte1("type")
	if err != nil {
		return nil, err
	}
	t := Type(int8(tb))
	switch {
	case t < 0 && t >= -TTime:
		return d.atom(t)
	case t == TError:
		s, err := d.symbol()
		if err != nil {
			return nil, err
		}
		return Error(s), nil
	case t > 0 && t <= TTime && t != 3:
		a, err := d.byte1("attribute")
		if err != nil {
			return nil, err
		}
		return d.vector(t, Attr(a))
	}
	switch tb {
	case byte(TList):
		a, err := d.byte1("attribute")
		if err != nil {
			return nil, err
		}
		items, err := d.values()
		if err != nil {
			return nil, err
		}
		return &List{Attr: Attr(a), Items: items}, nil
	case byte(TDict), sortedDict:
		return d.dict(tb == sortedDict)
	case byte(TTable):
		return d.table()
	case byte(TLambda):
		return d.lambda()
	case byte(TUnary):
		c, err := d.byte1("primitive")
		return UnaryPrimitive(c), err
	case byte(TBinary), byte(TTernary):
		c, err := d.byte1("primitive")
		return &Function{T: t, Op: c}, err
	case byte(TProject), byte(TCompose):
		if err := d.enter(); err != nil {
			return nil, err
		}
		args, err := d.values()
		d.depth--
		if err != nil {
			return nil, err
		}
		return &Function{T: t, Args: args}, nil
	}
	if t >= TEach && t <= TEachLeft {
		if err := d.enter(); err != nil {
			return nil, err
		}
		v, err := d.value()
		d.depth--
		if err != nil {
			return nil, err
		}
		return &Function{T: t, Args: []Value{v}}, nil
	}
	return nil, fmt.Errorf("%w: type %d at offset %d", ErrUnsupported, int8(tb), d.pos-1)
}

// values reads a count and that many values (a general list's items or a
// projection's parts).
func (d *decoder) values() ([]Value, error) {
	n, err := d.count(1)
	if err != nil {
		return nil, err
	}
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer func() { d.depth-- }()
	items := make([]Value, n)
	for i := range items {
		if items[i], err = d.value(); err != nil {
			return nil, err
		}
	}
	return items, nil
}

func (d *decoder) atom(t Type) (Value, error) {
	switch -t {
	case TBool:
		c, err := d.byte1("boolean")
		return Bool(c != 0), err
	case TByte:
		c, err := d.byte1("byte")
		return Byte(c), err
	case TChar:
		c, err := d.byte1("char")
		return Char(c), err
	case TSymbol:
		s, err := d.symbol()
		return Symbol(s), err
	case TGUID:
		p, err := d.take(16, "guid")
		if err != nil {
			return nil, err
		}
		return GUID(p), nil
	case TShort:
		p, err := d.take(2, "short")
		if err != nil {
			return nil, err
		}
		return Short(d.u16(p)), nil
	}
	switch -t {
	case TInt, TMonth, TDate, TMinute, TSecond, TTime, TReal:
		p, err := d.take(4, "atom")
		if err != nil {
			return nil, err
		}
		u := d.u32(p)
		switch -t {
		case TInt:
			return Int(u), nil
		case TMonth:
			return Month(u), nil
		case TDate:
			return Date(u), nil
		case TMinute:
			return Minute(u), nil
		case TSecond:
			return Second(u), nil
		case TTime:
			return Time(u), nil
		}
		return Real(math.Float32frombits(u)), nil
	}
	p, err := d.take(8, "atom")
	if err != nil {
		return nil, err
	}
	u := d.u64(p)
	switch -t {
	case TLong:
		return Long(u), nil
	case TTimestamp:
		return Timestamp(u), nil
	case TTimespan:
		return Timespan(u), nil
	case TFloat:
		return Float(math.Float64frombits(u)), nil
	}
	return Datetime(math.Float64frombits(u)), nil // TDatetime
}

func (d *decoder) vector(t Type, a Attr) (Value, error) {
	switch t {
	case TBool:
		p, err := d.fixed(1)
		if err != nil {
			return nil, err
		}
		v := make([]bool, len(p))
		for i, c := range p {
			v[i] = c != 0
		}
		return &BoolVector{a, v}, nil
	case TByte:
		p, err := d.fixed(1)
		if err != nil {
			return nil, err
		}
		return &ByteVector{a, bytes.Clone(p)}, nil
	case TChar:
		p, err := d.fixed(1)
		if err != nil {
			return nil, err
		}
		return &CharVector{a, string(p)}, nil
	case TGUID:
		p, err := d.fixed(16)
		if err != nil {
			return nil, err
		}
		v := make([][16]byte, len(p)/16)
		for i := range v {
			v[i] = [16]byte(p[16*i:])
		}
		return &GUIDVector{a, v}, nil
	case TSymbol:
		v, err := d.symbols()
		if err != nil {
			return nil, err
		}
		return &SymbolVector{a, v}, nil
	case TShort:
		p, err := d.fixed(2)
		if err != nil {
			return nil, err
		}
		return &ShortVector{a, decodeFixed[int16](p, d.big)}, nil
	case TInt, TMonth, TDate, TMinute, TSecond, TTime:
		p, err := d.fixed(4)
		if err != nil {
			return nil, err
		}
		v := decodeFixed[int32](p, d.big)
		switch t {
		case TInt:
			return &IntVector{a, v}, nil
		case TMonth:
			return &MonthVector{a, v}, nil
		case TDate:
			return &DateVector{a, v}, nil
		case TMinute:
			return &MinuteVector{a, v}, nil
		case TSecond:
			return &SecondVector{a, v}, nil
		}
		return &TimeVector{a, v}, nil
	case TReal:
		p, err := d.fixed(4)
		if err != nil {
			return nil, err
		}
		return &RealVector{a, decodeFixed[float32](p, d.big)}, nil
	case TLong, TTimestamp, TTimespan:
		p, err := d.fixed(8)
		if err != nil {
			return nil, err
		}
		v := decodeFixed[int64](p, d.big)
		switch t {
		case TLong:
			return &LongVector{a, v}, nil
		case TTimestamp:
			return &TimestampVector{a, v}, nil
		}
		return &TimespanVector{a, v}, nil
	}
	// TFloat, TDatetime
	p, err := d.fixed(8)
	if err != nil {
		return nil, err
	}
	v := decodeFixed[float64](p, d.big)
	if t == TFloat {
		return &FloatVector{a, v}, nil
	}
	return &DatetimeVector{a, v}, nil
}

// fixed reads a count and the count*size bytes of the elements.
func (d *decoder) fixed(size int) ([]byte, error) {
	n, err := d.count(size)
	if err != nil {
		return nil, err
	}
	return d.take(n*size, "vector")
}

type fixedElem interface {
	~int16 | ~int32 | ~int64 | ~float32 | ~float64
}

// asBytes views s's memory as bytes (host order).
func asBytes[E fixedElem](s []E) []byte {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(s))), len(s)*int(unsafe.Sizeof(s[0])))
}

// decodeFixed converts the wire bytes p of fixed-size elements to a slice:
// one copy, then a byte swap in place when the orders differ. The copy is
// made by append, which does not first zero the memory as make does (the
// zeroing was an eighth of decoding a table), and used as the typed slice
// when the allocation is aligned for E, as Go's allocator makes any
// allocation of a multiple of 8 bytes; otherwise it falls back to make.
func decodeFixed[E fixedElem](p []byte, big bool) []E {
	var zero E
	size := int(unsafe.Sizeof(zero))
	n := len(p) / size
	if n == 0 {
		return make([]E, 0)
	}
	var v []E
	if raw := append([]byte(nil), p...); uintptr(unsafe.Pointer(unsafe.SliceData(raw)))%unsafe.Alignof(zero) == 0 {
		v = unsafe.Slice((*E)(unsafe.Pointer(unsafe.SliceData(raw))), n)
	} else {
		v = make([]E, n)
		copy(asBytes(v), p)
	}
	if big == hostLittle {
		swapBytes(asBytes(v), size)
	}
	return v
}

// swapBytes reverses the bytes of each size-byte element of p in place.
func swapBytes(p []byte, size int) {
	le := binary.LittleEndian // a concrete order: a load, bswap, store
	switch size {
	case 2:
		for i := 0; i+2 <= len(p); i += 2 {
			le.PutUint16(p[i:], bits.ReverseBytes16(le.Uint16(p[i:])))
		}
	case 4:
		for i := 0; i+4 <= len(p); i += 4 {
			le.PutUint32(p[i:], bits.ReverseBytes32(le.Uint32(p[i:])))
		}
	case 8:
		for i := 0; i+8 <= len(p); i += 8 {
			le.PutUint64(p[i:], bits.ReverseBytes64(le.Uint64(p[i:])))
		}
	}
}

// symbols reads a symbol vector. Symbol columns repeat a few values (a
// million trades of a hundred tickers), so each symbol is interned through
// a small direct-mapped cache kept for the whole message, and new text is
// copied into arena chunks: the cost is the []string and one copy per
// distinct symbol, in one pass (the NUL search reads 8 bytes at a time).
// It was two passes with bytes.IndexByte per symbol and one copy of the
// vector's text: 73% of decoding a table of long, float, symbol and
// timestamp columns (see BenchmarkDecodeTable).
func (d *decoder) symbols() ([]string, error) {
	n, err := d.count(1)
	if err != nil {
		return nil, err
	}
	v := make([]string, n)
	if n >= internMin && d.syms == nil {
		d.syms = new(symCache)
	}
	for i := range v {
		pos := d.pos
		// Most symbols end within the first word: find the NUL there,
		// and keep the word as the short symbol's key.
		var w uint64
		j := -1
		if pos+8 <= len(d.b) {
			w = binary.LittleEndian.Uint64(d.b[pos:])
			if z := zeroBytes(w); z != 0 {
				j = pos + bits.TrailingZeros64(z)/8
			}
		}
		if j < 0 {
			if j = nulIndex(d.b, pos); j < 0 {
				d.pos = len(d.b)
				return nil, d.errShort("symbol")
			}
		}
		p := d.b[pos:j]
		d.pos = j + 1
		switch {
		case len(p) == 0:
		case d.syms == nil:
			v[i] = d.arenaString(p)
		case len(p) < 8 && w != 0:
			// The word masked to the symbol's bytes (all non-zero) is
			// the symbol and its length: compare it, not the bytes.
			key := w & (1<<(8*len(p)) - 1)
			e := &d.syms.short[mix(key)]
			if e.key != key {
				e.key, e.s = key, d.arenaString(p)
			}
			v[i] = e.s
		default:
			slot := &d.syms.long[symHash(p)]
			if *slot != string(p) {
				*slot = d.arenaString(p)
			}
			v[i] = *slot
		}
	}
	return v, nil
}

// zeroBytes flags the zero bytes of w (as read little endian): the lowest
// flagged byte is the first zero byte (borrows only flag bytes above it).
func zeroBytes(w uint64) uint64 {
	return (w - 0x0101010101010101) &^ w & 0x8080808080808080
}

// internMin: shorter symbol vectors (column names, a dict's keys) are not
// worth the cache's 40 KB.
const internMin = 64

// symCache maps a symbol's hash to the last string made for it: symbols
// under 8 bytes by the word that holds them, longer ones by their text.
type symCache struct {
	short [1 << symHashBits]struct {
		key uint64
		s   string
	}
	long [1 << symHashBits]string
}

const symHashBits = 10

// symHash hashes a symbol's bytes for symCache: the first and last 8 bytes
// and the length, which tell apart the tickers and identifiers symbols
// usually are (a collision only costs a copy).
func symHash(p []byte) uint {
	var h uint64
	if len(p) >= 8 {
		h = binary.LittleEndian.Uint64(p) ^ bits.RotateLeft64(binary.LittleEndian.Uint64(p[len(p)-8:]), 29)
	} else {
		for _, c := range p {
			h = h<<8 | uint64(c)
		}
	}
	return mix(h ^ uint64(len(p))<<56)
}

// mix hashes a key to a symCache index. Multiplying and folding the high
// half down spreads keys that differ only in a digit or two (T001, T002,
// …), which a plain multiplicative hash's top bits crowd together (a third
// of 100 such tickers collided, each collision a copy per row).
func mix(k uint64) uint {
	k *= 0x9e3779b97f4a7c15
	return uint(k^k>>32) & (1<<symHashBits - 1)
}

// arenaChunk is the size of the chunks symbol text is copied into. A
// chunk is never larger than what is left of the message (the text cannot
// be longer), so a short message allocates little.
const arenaChunk = 32 << 10

// arenaString returns a string holding a copy of p, made in the decoder's
// current arena chunk. The chunk's bytes are never written again once a
// string covers them.
func (d *decoder) arenaString(p []byte) string {
	if len(p) > cap(d.arena)-len(d.arena) {
		size := max(len(p), min(arenaChunk, len(d.b)-d.pos+len(p)))
		d.arena = make([]byte, 0, size)
	}
	start := len(d.arena)
	d.arena = append(d.arena, p...)
	return unsafe.String(&d.arena[start], len(p))
}

// nulIndex is the index of the first 0 byte in b at or after from, or -1.
// Symbols are short, so a word-at-a-time search beats bytes.IndexByte's
// per-call setup; long ones fall back to it.
func nulIndex(b []byte, from int) int {
	i := from
	for end := min(len(b), from+32); i+8 <= end; i += 8 {
		if z := zeroBytes(binary.LittleEndian.Uint64(b[i:])); z != 0 {
			return i + bits.TrailingZeros64(z)/8
		}
	}
	if j := bytes.IndexByte(b[i:], 0); j >= 0 {
		return i + j
	}
	return -1
}

func (d *decoder) dict(sorted bool) (Value, error) {
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer func() { d.depth-- }()
	k, err := d.value()
	if err != nil {
		return nil, err
	}
	v, err := d.value()
	if err != nil {
		return nil, err
	}
	nk, nv := Len(k), Len(v)
	if nk < 0 || nv < 0 {
		return nil, malformed("dict of type %d to type %d: keys and values must be lists", k.Type(), v.Type())
	}
	if nk != nv {
		return nil, malformed("dict with %d keys and %d values", nk, nv)
	}
	return &Dict{Sorted: sorted, Keys: k, Values: v}, nil
}

func (d *decoder) table() (Value, error) {
	a, err := d.byte1("attribute")
	if err != nil {
		return nil, err
	}
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer func() { d.depth-- }()
	c, err := d.byte1("table dict")
	if err != nil {
		return nil, err
	}
	if c != byte(TDict) {
		return nil, malformed("table of type %d, want a dict", int8(c))
	}
	d.pos--
	dv, err := d.value()
	if err != nil {
		return nil, err
	}
	dict := dv.(*Dict)
	names, ok := dict.Keys.(*SymbolVector)
	if !ok {
		return nil, malformed("table column names of type %d, want symbols", dict.Keys.Type())
	}
	cols, ok := dict.Values.(*List)
	if !ok {
		return nil, malformed("table columns of type %d, want a general list", dict.Values.Type())
	}
	rows := -1
	for i, col := range cols.Items {
		n := Len(col)
		if n < 0 || col.Type() == TDict || col.Type() == TTable {
			return nil, malformed("table column %q of type %d is not a list", names.Data[i], col.Type())
		}
		if rows >= 0 && n != rows {
			return nil, malformed("table column %q has %d rows, want %d", names.Data[i], n, rows)
		}
		rows = n
	}
	return &Table{Attr: Attr(a), Columns: names.Data, Data: cols.Items}, nil
}

func (d *decoder) lambda() (Value, error) {
	ctx, err := d.symbol()
	if err != nil {
		return nil, err
	}
	if err := d.enter(); err != nil {
		return nil, err
	}
	defer func() { d.depth-- }()
	body, err := d.value()
	if err != nil {
		return nil, err
	}
	s, ok := body.(*CharVector)
	if !ok {
		return nil, malformed("lambda body of type %d, want a string", body.Type())
	}
	return &Lambda{Context: ctx, Body: s.Data}, nil
}
