package ipc

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Errors, compared with errors.Is. Every decoding failure wraps
// ErrMalformed, ErrTooLarge or ErrUnsupported.
var (
	ErrMalformed   = errors.New("kdb+ ipc: malformed message")
	ErrTooLarge    = errors.New("kdb+ ipc: message too large")
	ErrUnsupported = errors.New("kdb+ ipc: unsupported value")
	ErrRefused     = errors.New("kdb+ ipc: login refused")
)

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, a...)...)
}

// MsgType is the second header byte.
type MsgType byte

// Message types.
const (
	Async    MsgType = 0
	Sync     MsgType = 1
	Response MsgType = 2
)

func (t MsgType) String() string {
	switch t {
	case Async:
		return "async"
	case Sync:
		return "sync"
	case Response:
		return "response"
	}
	return fmt.Sprintf("MsgType(%d)", byte(t))
}

// HeaderSize is the length of a message header.
const HeaderSize = 8

// Limits on what a reader accepts; the zero value means the defaults.
type Limits struct {
	// MaxMessageSize caps a message's total length as sent and, for a
	// compressed one, as uncompressed. Default DefaultMaxMessageSize.
	MaxMessageSize int
	// MaxDepth caps the nesting of lists, dicts, tables and functions.
	// Default DefaultMaxDepth.
	MaxDepth int
}

// Defaults for Limits.
const (
	DefaultMaxMessageSize = 256 << 20
	DefaultMaxDepth       = 128
	// maxWireSize: the length field is a signed int32 (messages over 2 GB,
	// capability 6, are not supported).
	maxWireSize = 1<<31 - 1
)

func (l Limits) maxSize() int {
	if l.MaxMessageSize <= 0 {
		return DefaultMaxMessageSize
	}
	return min(l.MaxMessageSize, maxWireSize)
}

func (l Limits) maxDepth() int {
	if l.MaxDepth <= 0 {
		return DefaultMaxDepth
	}
	return l.MaxDepth
}

// Header is a message's first 8 bytes.
type Header struct {
	BigEndian  bool // byte 0: 1 little endian, 0 big endian
	Type       MsgType
	Compressed bool
	Reserved   byte
	Length     int // total length including the header, as sent
}

func (h Header) order() binary.ByteOrder {
	if h.BigEndian {
		return binary.BigEndian
	}
	return binary.LittleEndian
}

// ParseHeader checks and parses the first 8 bytes of b.
func ParseHeader(b []byte) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, malformed("header: %d bytes", len(b))
	}
	var h Header
	switch b[0] {
	case 0:
		h.BigEndian = true
	case 1:
	default:
		return Header{}, malformed("header: endianness byte %d", b[0])
	}
	h.Type = MsgType(b[1])
	if h.Type > Response {
		return Header{}, malformed("header: message type %d", b[1])
	}
	switch b[2] {
	case 0:
	case 1:
		h.Compressed = true
	default:
		return Header{}, malformed("header: compression byte %d", b[2])
	}
	h.Reserved = b[3]
	n := h.order().Uint32(b[4:8])
	if n > maxWireSize {
		return Header{}, fmt.Errorf("%w: length %d (over 2 GB is not supported)", ErrTooLarge, n)
	}
	h.Length = int(n)
	min := HeaderSize + 1
	if h.Compressed {
		min = HeaderSize + 4 + 1
	}
	if h.Length < min {
		return Header{}, malformed("header: length %d", h.Length)
	}
	return h, nil
}

// AppendHeader appends h's 8 bytes to b.
func AppendHeader(b []byte, h Header) []byte {
	var e, c byte = 1, 0
	if h.BigEndian {
		e = 0
	}
	if h.Compressed {
		c = 1
	}
	b = append(b, e, byte(h.Type), c, h.Reserved, 0, 0, 0, 0)
	h.order().PutUint32(b[len(b)-4:], uint32(h.Length))
	return b
}

// ReadHeader reads and parses one header.
func ReadHeader(r io.Reader) (Header, error) {
	var b [HeaderSize]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return Header{}, err
	}
	return ParseHeader(b[:])
}

// ReadRaw reads one whole message, header included, exactly as sent
// (a compressed message stays compressed): what a relay forwards. The
// message is refused with ErrTooLarge, before anything is allocated for
// it, when its length exceeds maxSize (<= 0: DefaultMaxMessageSize). buf is
// reused when its capacity suffices. A connection closed before the first
// byte returns io.EOF; inside a message io.ErrUnexpectedEOF.
func ReadRaw(r io.Reader, buf []byte, maxSize int) ([]byte, Header, error) {
	var hb [HeaderSize]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return nil, Header{}, err
	}
	h, err := ParseHeader(hb[:])
	if err != nil {
		return nil, h, err
	}
	limit := Limits{MaxMessageSize: maxSize}.maxSize()
	if h.Length > limit {
		return nil, h, fmt.Errorf("%w: length %d over the limit %d", ErrTooLarge, h.Length, limit)
	}
	b, err := readBody(r, buf, hb[:], h.Length)
	if err != nil {
		return nil, h, err
	}
	return b, h, nil
}

// growStep bounds what is allocated ahead of the bytes actually received,
// so a peer that claims a large message but sends little costs little.
const growStep = 4 << 20

func readBody(r io.Reader, buf, hdr []byte, total int) ([]byte, error) {
	var b []byte
	if cap(buf) >= total {
		b = buf[:total]
	} else {
		b = make([]byte, min(total, growStep))
	}
	copy(b, hdr)
	have := len(hdr)
	for {
		n, err := io.ReadFull(r, b[have:])
		have += n
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		if have == total {
			return b, nil
		}
		nb := make([]byte, min(total, 2*len(b)))
		copy(nb, b)
		b = nb
	}
}

// Message is a decoded message.
type Message struct {
	Header Header // as received (Compressed and Length describe the wire)
	Value  Value
}

// ReadMessage reads, decompresses and decodes one message.
func ReadMessage(r io.Reader, lim Limits) (Message, error) {
	b, _, err := ReadRaw(r, nil, lim.maxSize())
	if err != nil {
		return Message{}, err
	}
	return Decode(b, lim)
}

// Decode decodes one whole message (header included, as ReadRaw returns
// it), decompressing it if needed. The message must be exactly the length
// its header says.
func Decode(msg []byte, lim Limits) (Message, error) {
	h, err := ParseHeader(msg)
	if err != nil {
		return Message{}, err
	}
	if h.Length != len(msg) {
		return Message{}, malformed("length %d in header, %d bytes given", h.Length, len(msg))
	}
	body := msg
	if h.Compressed {
		body, err = Decompress(msg, lim.maxSize())
		if err != nil {
			return Message{}, err
		}
	}
	v, err := DecodeValue(body[HeaderSize:], h.BigEndian, lim)
	if err != nil {
		return Message{}, err
	}
	return Message{Header: h, Value: v}, nil
}

// WriteMessage encodes v and writes it as one message.
func WriteMessage(w io.Writer, t MsgType, v Value, opts EncodeOptions) error {
	b, err := Encode(t, v, opts)
	if err != nil {
		return err
	}
	_, err = w.Write(b)
	return err
}
