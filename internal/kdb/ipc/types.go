package ipc

import (
	"math"
	"time"
)

// Type is a kdb+ type code: negative for atoms, positive for vectors and
// the other structures (0 general list, 98 table, 99 dict, 100+ functions).
type Type int8

// Type codes. A vector's atom is the negated code (Long atom = -TLong).
const (
	TList      Type = 0
	TBool      Type = 1
	TGUID      Type = 2
	TByte      Type = 4
	TShort     Type = 5
	TInt       Type = 6
	TLong      Type = 7
	TReal      Type = 8
	TFloat     Type = 9
	TChar      Type = 10
	TSymbol    Type = 11
	TTimestamp Type = 12
	TMonth     Type = 13
	TDate      Type = 14
	TDatetime  Type = 15
	TTimespan  Type = 16
	TMinute    Type = 17
	TSecond    Type = 18
	TTime      Type = 19
	TTable     Type = 98
	TDict      Type = 99
	TLambda    Type = 100
	TUnary     Type = 101 // unary primitive; 101 0 is the identity (::)
	TBinary    Type = 102 // binary primitive (operator)
	TTernary   Type = 103
	TProject   Type = 104 // projection
	TCompose   Type = 105 // composition
	TEach      Type = 106 // iterators 106..111: ' / \ ': /: \:
	TEachLeft  Type = 111
	TError     Type = -128
)

// sortedDict is the wire code of a dict whose keys carry `s# (q's -8! of
// `s#`a`b!1 2). It is decoded into Dict{Sorted: true}.
const sortedDict = 127

// Attr is a vector attribute: none, `s# sorted, `u# unique, `p# parted,
// `g# grouped.
type Attr byte

// Vector attributes.
const (
	AttrNone    Attr = 0
	AttrSorted  Attr = 1
	AttrUnique  Attr = 2
	AttrParted  Attr = 3
	AttrGrouped Attr = 4
)

// Value is any kdb+ value this package encodes and decodes: the atom types
// (Bool … Time), the vector types (BoolVector … TimeVector), *List, *Dict,
// *Table, Error, *Lambda, UnaryPrimitive and *Function.
type Value interface {
	Type() Type
}

// Atoms. Temporal atoms hold q's own integer or float representation:
// Timestamp nanoseconds and Timespan nanoseconds, Month months, Date days,
// Datetime fractional days, all since 2000.01.01; Minute minutes, Second
// seconds and Time milliseconds since midnight.
type (
	Bool      bool
	GUID      [16]byte
	Byte      byte
	Short     int16
	Int       int32
	Long      int64
	Real      float32
	Float     float64
	Char      byte
	Symbol    string
	Timestamp int64
	Month     int32
	Date      int32
	Datetime  float64
	Timespan  int64
	Minute    int32
	Second    int32
	Time      int32
)

func (Bool) Type() Type      { return -TBool }
func (GUID) Type() Type      { return -TGUID }
func (Byte) Type() Type      { return -TByte }
func (Short) Type() Type     { return -TShort }
func (Int) Type() Type       { return -TInt }
func (Long) Type() Type      { return -TLong }
func (Real) Type() Type      { return -TReal }
func (Float) Type() Type     { return -TFloat }
func (Char) Type() Type      { return -TChar }
func (Symbol) Type() Type    { return -TSymbol }
func (Timestamp) Type() Type { return -TTimestamp }
func (Month) Type() Type     { return -TMonth }
func (Date) Type() Type      { return -TDate }
func (Datetime) Type() Type  { return -TDatetime }
func (Timespan) Type() Type  { return -TTimespan }
func (Minute) Type() Type    { return -TMinute }
func (Second) Type() Type    { return -TSecond }
func (Time) Type() Type      { return -TTime }

// Vectors: one typed slice per type, so a million-row column is one
// allocation. Element representations are those of the atoms.
type (
	BoolVector struct {
		Attr Attr
		Data []bool
	}
	GUIDVector struct {
		Attr Attr
		Data [][16]byte
	}
	ByteVector struct {
		Attr Attr
		Data []byte
	}
	ShortVector struct {
		Attr Attr
		Data []int16
	}
	IntVector struct {
		Attr Attr
		Data []int32
	}
	LongVector struct {
		Attr Attr
		Data []int64
	}
	RealVector struct {
		Attr Attr
		Data []float32
	}
	FloatVector struct {
		Attr Attr
		Data []float64
	}
	// CharVector is a q string; Data holds its bytes as they are.
	CharVector struct {
		Attr Attr
		Data string
	}
	// SymbolVector: decoded symbols are interned per message (equal
	// symbols share one string) and their text lives in chunks of up to
	// 32 KB, so keeping one symbol keeps its chunk alive.
	SymbolVector struct {
		Attr Attr
		Data []string
	}
	TimestampVector struct {
		Attr Attr
		Data []int64
	}
	MonthVector struct {
		Attr Attr
		Data []int32
	}
	DateVector struct {
		Attr Attr
		Data []int32
	}
	DatetimeVector struct {
		Attr Attr
		Data []float64
	}
	TimespanVector struct {
		Attr Attr
		Data []int64
	}
	MinuteVector struct {
		Attr Attr
		Data []int32
	}
	SecondVector struct {
		Attr Attr
		Data []int32
	}
	TimeVector struct {
		Attr Attr
		Data []int32
	}
)

func (*BoolVector) Type() Type      { return TBool }
func (*GUIDVector) Type() Type      { return TGUID }
func (*ByteVector) Type() Type      { return TByte }
func (*ShortVector) Type() Type     { return TShort }
func (*IntVector) Type() Type       { return TInt }
func (*LongVector) Type() Type      { return TLong }
func (*RealVector) Type() Type      { return TReal }
func (*FloatVector) Type() Type     { return TFloat }
func (*CharVector) Type() Type      { return TChar }
func (*SymbolVector) Type() Type    { return TSymbol }
func (*TimestampVector) Type() Type { return TTimestamp }
func (*MonthVector) Type() Type     { return TMonth }
func (*DateVector) Type() Type      { return TDate }
func (*DatetimeVector) Type() Type  { return TDatetime }
func (*TimespanVector) Type() Type  { return TTimespan }
func (*MinuteVector) Type() Type    { return TMinute }
func (*SecondVector) Type() Type    { return TSecond }
func (*TimeVector) Type() Type      { return TTime }

// List is a general list (type 0).
type List struct {
	Attr  Attr
	Items []Value
}

func (*List) Type() Type { return TList }

// Dict is a dictionary (99), or a sorted one (127) when Sorted. A keyed
// table is a Dict whose Keys and Values are both *Table of equal length.
type Dict struct {
	Sorted bool
	Keys   Value
	Values Value
}

func (*Dict) Type() Type { return TDict }

// Table is a table (98): the flip of a dict from column names to columns.
// Every column is a vector or a general list, all of one length.
type Table struct {
	Attr    Attr
	Columns []string
	Data    []Value
}

func (*Table) Type() Type { return TTable }

// Error is a kdb+ error (-128), e.g. the answer 'type. Its Error method
// returns the text alone.
type Error string

func (Error) Type() Type      { return TError }
func (e Error) Error() string { return string(e) }

// Lambda is a q function (100): its context ("" for the root) and its
// source text.
type Lambda struct {
	Context string
	Body    string
}

func (*Lambda) Type() Type { return TLambda }

// UnaryPrimitive is type 101; UnaryPrimitive(0) is the identity (::), the
// generic null a q function answers when it returns nothing.
type UnaryPrimitive byte

// Identity is (::).
const Identity UnaryPrimitive = 0

func (UnaryPrimitive) Type() Type { return TUnary }

// Function is any other function value (102..111), kept only so it can be
// passed on: Op is the primitive's code for 102 and 103; Args are the
// parts of a projection (104) or composition (105), or the one operand of
// an iterator (106..111).
type Function struct {
	T    Type
	Op   byte
	Args []Value
}

func (f *Function) Type() Type { return f.T }

// Nulls and infinities of the integral atoms (the float nulls are NaN,
// their infinities ±Inf).
const (
	NullShort Short = math.MinInt16
	InfShort  Short = math.MaxInt16
	NullInt   Int   = math.MinInt32
	InfInt    Int   = math.MaxInt32
	NullLong  Long  = math.MinInt64
	InfLong   Long  = math.MaxInt64

	NullTimestamp Timestamp = math.MinInt64
	NullTimespan  Timespan  = math.MinInt64
	NullMonth     Month     = math.MinInt32
	NullDate      Date      = math.MinInt32
	NullMinute    Minute    = math.MinInt32
	NullSecond    Second    = math.MinInt32
	NullTime      Time      = math.MinInt32
)

// NullFloat returns q's float null 0n (a NaN); NullReal 0Ne.
func NullFloat() Float { return Float(math.NaN()) }
func NullReal() Real   { return Real(float32(math.NaN())) }

// epoch2000 is q's epoch, 2000.01.01D00:00 UTC, in Unix seconds.
const epoch2000 = 946684800

// TimestampOf converts t to a q timestamp (nanoseconds since 2000).
func TimestampOf(t time.Time) Timestamp {
	return Timestamp((t.Unix()-epoch2000)*1e9 + int64(t.Nanosecond()))
}

// Time returns the instant in UTC (the zero time.Time for the null).
func (t Timestamp) Time() time.Time {
	if t == NullTimestamp {
		return time.Time{}
	}
	return time.Unix(epoch2000, int64(t)).UTC()
}

// DateOf converts t's UTC calendar day to a q date.
func DateOf(t time.Time) Date {
	y, m, d := t.UTC().Date()
	days := time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() - epoch2000
	return Date(days / 86400)
}

// Time returns midnight UTC of the date (the zero time.Time for the null).
func (d Date) Time() time.Time {
	if d == NullDate {
		return time.Time{}
	}
	return time.Unix(epoch2000+int64(d)*86400, 0).UTC()
}

// Duration returns the timespan as a time.Duration.
func (t Timespan) Duration() time.Duration { return time.Duration(t) }

// Len is the count of a vector, list, table (rows) or dict (keys), and
// -1 for an atom or function.
func Len(v Value) int {
	switch x := v.(type) {
	case *BoolVector:
		return len(x.Data)
	case *GUIDVector:
		return len(x.Data)
	case *ByteVector:
		return len(x.Data)
	case *ShortVector:
		return len(x.Data)
	case *IntVector:
		return len(x.Data)
	case *LongVector:
		return len(x.Data)
	case *RealVector:
		return len(x.Data)
	case *FloatVector:
		return len(x.Data)
	case *CharVector:
		return len(x.Data)
	case *SymbolVector:
		return len(x.Data)
	case *TimestampVector:
		return len(x.Data)
	case *MonthVector:
		return len(x.Data)
	case *DateVector:
		return len(x.Data)
	case *DatetimeVector:
		return len(x.Data)
	case *TimespanVector:
		return len(x.Data)
	case *MinuteVector:
		return len(x.Data)
	case *SecondVector:
		return len(x.Data)
	case *TimeVector:
		return len(x.Data)
	case *List:
		return len(x.Items)
	case *Table:
		if len(x.Data) == 0 {
			return 0
		}
		return Len(x.Data[0])
	case *Dict:
		return Len(x.Keys)
	}
	return -1
}
