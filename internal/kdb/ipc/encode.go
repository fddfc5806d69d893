package ipc

import (
	"encoding/binary"
	"fmt"
	"math"
	"strings"
	"unsafe"
)

// EncodeOptions control Encode.
type EncodeOptions struct {
	// BigEndian writes a big-endian message (q writes its host's order;
	// little endian, the default, is what every current platform sends).
	BigEndian bool
	// Compress compresses the message as q does when it is longer than
	// CompressThreshold bytes and compression at least halves it. q only
	// compresses towards a remote peer (not localhost) whose capability
	// byte is at least 1; the caller decides (see ShouldCompress).
	Compress bool
}

// CompressThreshold is the size above which q compresses a message.
const CompressThreshold = 2000

// Encode serializes v as one message of type t.
func Encode(t MsgType, v Value, opts EncodeOptions) ([]byte, error) {
	n, err := EncodedSize(v)
	if err != nil {
		return nil, err
	}
	total := HeaderSize + n
	if total > maxWireSize {
		return nil, fmt.Errorf("%w: %d bytes (over 2 GB is not supported)", ErrTooLarge, total)
	}
	b := make([]byte, HeaderSize, total)
	b = AppendHeader(b[:0], Header{BigEndian: opts.BigEndian, Type: t, Length: total})
	e := encoder{big: opts.BigEndian}
	b = e.value(b, v)
	if len(b) != total {
		// EncodedSize and value disagree: a bug here, not bad input.
		return nil, fmt.Errorf("kdb+ ipc: encoded %d bytes, sized %d", len(b), total)
	}
	if opts.Compress && total > CompressThreshold {
		if c, ok := Compress(b); ok {
			return c, nil
		}
	}
	return b, nil
}

// AppendValue appends v's serialization (no header) in little-endian order.
func AppendValue(b []byte, v Value) ([]byte, error) {
	if _, err := EncodedSize(v); err != nil {
		return nil, err
	}
	return encoder{}.value(b, v), nil
}

// EncodedSize is the length of v's serialization without the header. It
// also checks that v can be encoded: symbols without NUL bytes, tables
// with as many names as columns of one length, counts within int32.
func EncodedSize(v Value) (int, error) {
	return sizeOf(v, 0)
}

func sizeOf(v Value, depth int) (int, error) {
	if depth > DefaultMaxDepth {
		return 0, fmt.Errorf("%w: nesting deeper than %d", ErrUnsupported, DefaultMaxDepth)
	}
	switch x := v.(type) {
	case nil:
		return 0, fmt.Errorf("%w: nil value", ErrUnsupported)
	case Bool, Byte, Char:
		return 2, nil
	case Short:
		return 3, nil
	case Int, Month, Date, Minute, Second, Time, Real:
		return 5, nil
	case Long, Timestamp, Timespan, Float, Datetime:
		return 9, nil
	case GUID:
		return 17, nil
	case Symbol:
		if err := checkSymbol(string(x)); err != nil {
			return 0, err
		}
		return len(x) + 2, nil
	case Error:
		if err := checkSymbol(string(x)); err != nil {
			return 0, err
		}
		return len(x) + 2, nil
	case UnaryPrimitive:
		return 2, nil
	case *SymbolVector:
		n := 6 + len(x.Data)
		for _, s := range x.Data {
			if err := checkSymbol(s); err != nil {
				return 0, err
			}
			n += len(s)
		}
		return n, checkCount(len(x.Data))
	case *List:
		return listSize(x.Items, depth)
	case *Dict:
		k, err := sizeOf(x.Keys, depth+1)
		if err != nil {
			return 0, err
		}
		w, err := sizeOf(x.Values, depth+1)
		if err != nil {
			return 0, err
		}
		if nk, nv := Len(x.Keys), Len(x.Values); nk < 0 || nk != nv {
			return 0, fmt.Errorf("%w: dict with %d keys and %d values", ErrUnsupported, nk, nv)
		}
		return 1 + k + w, nil
	case *Table:
		if len(x.Columns) != len(x.Data) {
			return 0, fmt.Errorf("%w: table with %d names and %d columns", ErrUnsupported, len(x.Columns), len(x.Data))
		}
		n := 3 + 6 + len(x.Columns) // 98 attr 99, the names
		for i, s := range x.Columns {
			if err := checkSymbol(s); err != nil {
				return 0, err
			}
			n += len(s)
			if l := Len(x.Data[i]); l < 0 || l != Len(x.Data[0]) || x.Data[i].Type() == TDict || x.Data[i].Type() == TTable {
				return 0, fmt.Errorf("%w: table column %q is not a list of %d rows", ErrUnsupported, s, Len(x.Data[0]))
			}
		}
		c, err := listSize(x.Data, depth+1)
		if err != nil {
			return 0, err
		}
		return n + c, nil
	case *Lambda:
		if err := checkSymbol(x.Context); err != nil {
			return 0, err
		}
		return 1 + len(x.Context) + 1 + 6 + len(x.Body), checkCount(len(x.Body))
	case *Function:
		switch {
		case x.T == TBinary || x.T == TTernary:
			return 2, nil
		case x.T == TProject || x.T == TCompose:
			n, err := listSize(x.Args, depth) // type, count, parts: no attribute
			return n - 1, err
		case x.T >= TEach && x.T <= TEachLeft && len(x.Args) == 1:
			n, err := sizeOf(x.Args[0], depth+1)
			return 1 + n, err
		}
		return 0, fmt.Errorf("%w: function of type %d with %d parts", ErrUnsupported, x.T, len(x.Args))
	}
	n, size := vectorLen(v)
	if size == 0 {
		return 0, fmt.Errorf("%w: Go type %T", ErrUnsupported, v)
	}
	return 6 + n*size, checkCount(n)
}

func listSize(items []Value, depth int) (int, error) {
	n := 6
	for _, it := range items {
		s, err := sizeOf(it, depth+1)
		if err != nil {
			return 0, err
		}
		n += s
	}
	return n, checkCount(len(items))
}

// vectorLen is a fixed-size vector's count and element size (0 if v is
// not one).
func vectorLen(v Value) (int, int) {
	switch x := v.(type) {
	case *BoolVector:
		return len(x.Data), 1
	case *ByteVector:
		return len(x.Data), 1
	case *CharVector:
		return len(x.Data), 1
	case *GUIDVector:
		return len(x.Data), 16
	case *ShortVector:
		return len(x.Data), 2
	case *IntVector:
		return len(x.Data), 4
	case *MonthVector:
		return len(x.Data), 4
	case *DateVector:
		return len(x.Data), 4
	case *MinuteVector:
		return len(x.Data), 4
	case *SecondVector:
		return len(x.Data), 4
	case *TimeVector:
		return len(x.Data), 4
	case *RealVector:
		return len(x.Data), 4
	case *LongVector:
		return len(x.Data), 8
	case *TimestampVector:
		return len(x.Data), 8
	case *TimespanVector:
		return len(x.Data), 8
	case *FloatVector:
		return len(x.Data), 8
	case *DatetimeVector:
		return len(x.Data), 8
	}
	return 0, 0
}

func checkSymbol(s string) error {
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("%w: symbol %q contains a NUL byte", ErrUnsupported, s)
	}
	return nil
}

func checkCount(n int) error {
	if n > math.MaxInt32 {
		return fmt.Errorf("%w: %d items", ErrTooLarge, n)
	}
	return nil
}

type encoder struct{ big bool }

func (e encoder) u16(b []byte, u uint16) []byte {
	if e.big {
		return binary.BigEndian.AppendUint16(b, u)
	}
	return binary.LittleEndian.AppendUint16(b, u)
}

func (e encoder) u32(b []byte, u uint32) []byte {
	if e.big {
		return binary.BigEndian.AppendUint32(b, u)
	}
	return binary.LittleEndian.AppendUint32(b, u)
}

func (e encoder) u64(b []byte, u uint64) []byte {
	if e.big {
		return binary.BigEndian.AppendUint64(b, u)
	}
	return binary.LittleEndian.AppendUint64(b, u)
}

func (e encoder) head(b []byte, t Type, a Attr, n int) []byte {
	return e.u32(append(b, byte(t), byte(a)), uint32(n))
}

// value appends v; v has been checked by sizeOf.
func (e encoder) value(b []byte, v Value) []byte {
	switch x := v.(type) {
	case Bool:
		c := byte(0)
		if x {
			c = 1
		}
		return append(b, code(-TBool), c)
	case Byte:
		return append(b, code(-TByte), byte(x))
	case Char:
		return append(b, code(-TChar), byte(x))
	case GUID:
		return append(append(b, code(-TGUID)), x[:]...)
	case Short:
		return e.u16(append(b, code(-TShort)), uint16(x))
	case Int:
		return e.u32(append(b, code(-TInt)), uint32(x))
	case Month:
		return e.u32(append(b, code(-TMonth)), uint32(x))
	case Date:
		return e.u32(append(b, code(-TDate)), uint32(x))
	case Minute:
		return e.u32(append(b, code(-TMinute)), uint32(x))
	case Second:
		return e.u32(append(b, code(-TSecond)), uint32(x))
	case Time:
		return e.u32(append(b, code(-TTime)), uint32(x))
	case Real:
		return e.u32(append(b, code(-TReal)), math.Float32bits(float32(x)))
	case Long:
		return e.u64(append(b, code(-TLong)), uint64(x))
	case Timestamp:
		return e.u64(append(b, code(-TTimestamp)), uint64(x))
	case Timespan:
		return e.u64(append(b, code(-TTimespan)), uint64(x))
	case Float:
		return e.u64(append(b, code(-TFloat)), math.Float64bits(float64(x)))
	case Datetime:
		return e.u64(append(b, code(-TDatetime)), math.Float64bits(float64(x)))
	case Symbol:
		return append(append(append(b, code(-TSymbol)), x...), 0)
	case Error:
		return append(append(append(b, 0x80), x...), 0)
	case UnaryPrimitive:
		return append(b, byte(TUnary), byte(x))
	case *BoolVector:
		b = e.head(b, TBool, x.Attr, len(x.Data))
		for _, t := range x.Data {
			c := byte(0)
			if t {
				c = 1
			}
			b = append(b, c)
		}
		return b
	case *ByteVector:
		return append(e.head(b, TByte, x.Attr, len(x.Data)), x.Data...)
	case *CharVector:
		return append(e.head(b, TChar, x.Attr, len(x.Data)), x.Data...)
	case *GUIDVector:
		b = e.head(b, TGUID, x.Attr, len(x.Data))
		for i := range x.Data {
			b = append(b, x.Data[i][:]...)
		}
		return b
	case *SymbolVector:
		b = e.head(b, TSymbol, x.Attr, len(x.Data))
		for _, s := range x.Data {
			b = append(append(b, s...), 0)
		}
		return b
	case *ShortVector:
		return appendFixed(e.head(b, TShort, x.Attr, len(x.Data)), x.Data, e.big)
	case *IntVector:
		return appendFixed(e.head(b, TInt, x.Attr, len(x.Data)), x.Data, e.big)
	case *MonthVector:
		return appendFixed(e.head(b, TMonth, x.Attr, len(x.Data)), x.Data, e.big)
	case *DateVector:
		return appendFixed(e.head(b, TDate, x.Attr, len(x.Data)), x.Data, e.big)
	case *MinuteVector:
		return appendFixed(e.head(b, TMinute, x.Attr, len(x.Data)), x.Data, e.big)
	case *SecondVector:
		return appendFixed(e.head(b, TSecond, x.Attr, len(x.Data)), x.Data, e.big)
	case *TimeVector:
		return appendFixed(e.head(b, TTime, x.Attr, len(x.Data)), x.Data, e.big)
	case *RealVector:
		return appendFixed(e.head(b, TReal, x.Attr, len(x.Data)), x.Data, e.big)
	case *LongVector:
		return appendFixed(e.head(b, TLong, x.Attr, len(x.Data)), x.Data, e.big)
	case *TimestampVector:
		return appendFixed(e.head(b, TTimestamp, x.Attr, len(x.Data)), x.Data, e.big)
	case *TimespanVector:
		return appendFixed(e.head(b, TTimespan, x.Attr, len(x.Data)), x.Data, e.big)
	case *FloatVector:
		return appendFixed(e.head(b, TFloat, x.Attr, len(x.Data)), x.Data, e.big)
	case *DatetimeVector:
		return appendFixed(e.head(b, TDatetime, x.Attr, len(x.Data)), x.Data, e.big)
	case *List:
		b = e.head(b, TList, x.Attr, len(x.Items))
		for _, it := range x.Items {
			b = e.value(b, it)
		}
		return b
	case *Dict:
		t := byte(TDict)
		if x.Sorted {
			t = sortedDict
		}
		return e.value(e.value(append(b, t), x.Keys), x.Values)
	case *Table:
		b = append(b, byte(TTable), byte(x.Attr), byte(TDict))
		b = e.head(b, TSymbol, AttrNone, len(x.Columns))
		for _, s := range x.Columns {
			b = append(append(b, s...), 0)
		}
		b = e.head(b, TList, AttrNone, len(x.Data))
		for _, c := range x.Data {
			b = e.value(b, c)
		}
		return b
	case *Lambda:
		b = append(append(append(b, byte(TLambda)), x.Context...), 0)
		return append(e.head(b, TChar, AttrNone, len(x.Body)), x.Body...)
	case *Function:
		switch x.T {
		case TBinary, TTernary:
			return append(b, byte(x.T), x.Op)
		case TProject, TCompose:
			b = e.u32(append(b, byte(x.T)), uint32(len(x.Args)))
			for _, a := range x.Args {
				b = e.value(b, a)
			}
			return b
		}
		return e.value(append(b, byte(x.T)), x.Args[0])
	}
	panic(fmt.Sprintf("kdb+ ipc: unchecked value %T", v)) // sizeOf refuses these first
}

// appendFixed appends the elements of s in the wire order.
func appendFixed[E fixedElem](b []byte, s []E, big bool) []byte {
	start := len(b)
	b = append(b, asBytes(s)...)
	if big == hostLittle && len(s) > 0 {
		swapBytes(b[start:], int(unsafe.Sizeof(s[0])))
	}
	return b
}

// code is t's wire byte (a function, so negative constants convert).
func code(t Type) byte { return byte(t) }
