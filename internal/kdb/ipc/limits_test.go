package ipc

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"
)

// allocated runs f and returns the bytes it allocated (all goroutines).
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// A ~100 MB message (a long vector, and a table of the benchmark's
// columns) encodes into one allocation of its size and decodes allocating
// no more than twice the message.
func TestHundredMBAllocation(t *testing.T) {
	if testing.Short() {
		t.Skip("100 MB")
	}
	n := 100 << 20 / 8
	longs := make([]int64, n)
	for i := range longs {
		longs[i] = int64(i) * 31
	}
	for name, v := range map[string]Value{
		"long vector": &LongVector{Data: longs},
		"table":       benchTable(3_700_000), // 29 bytes a row
	} {
		t.Run(name, func(t *testing.T) {
			var msg []byte
			enc := allocated(func() {
				var err error
				if msg, err = Encode(Response, v, EncodeOptions{}); err != nil {
					t.Fatal(err)
				}
			})
			if len(msg) < 100<<20 {
				t.Fatalf("%d bytes", len(msg))
			}
			if enc > uint64(len(msg))+1<<20 {
				t.Fatalf("encoding %d bytes allocated %d", len(msg), enc)
			}
			var m Message
			dec := allocated(func() {
				var err error
				if m, err = Decode(msg, Limits{}); err != nil {
					t.Fatal(err)
				}
			})
			if dec > 2*uint64(len(msg)) {
				t.Fatalf("decoding %d bytes allocated %d (over twice the message)", len(msg), dec)
			}
			t.Logf("%d bytes: encode allocated %.2fx, decode %.2fx", len(msg), float64(enc)/float64(len(msg)), float64(dec)/float64(len(msg)))
			if Len(m.Value) != Len(v) {
				t.Fatalf("%d rows, want %d", Len(m.Value), Len(v))
			}
			if lv, ok := m.Value.(*LongVector); ok && lv.Data[n-1] != int64(n-1)*31 {
				t.Fatal("last long differs")
			}
			// From a reader: the same bound plus the read buffer, which
			// grows by doubling from 4 MB as bytes arrive (so a peer that
			// lies about the length costs little): 2.25x for 100 MB.
			read := allocated(func() {
				if _, err := ReadMessage(bytes.NewReader(msg), Limits{}); err != nil {
					t.Fatal(err)
				}
			})
			t.Logf("ReadMessage allocated %.2fx", float64(read)/float64(len(msg)))
			if read > 4*uint64(len(msg))+uint64(len(msg))/2 {
				t.Fatalf("reading %d bytes allocated %d", len(msg), read)
			}
		})
	}
}

// Headers and counts that lie cost what was sent, not what they claim.
func TestLyingHeadersAllocateLittle(t *testing.T) {
	// A header claiming 2 GB followed by 16 bytes of body.
	msg := append(mustHex(t, "01000000ffffff7f"), mustHex(t, "0700ffffff7f01000000000000000000")...)
	for name, f := range map[string]func() error{
		"Decode": func() error { _, err := Decode(msg, Limits{MaxMessageSize: math.MaxInt32}); return err },
		"ReadMessage": func() error {
			_, err := ReadMessage(bytes.NewReader(msg), Limits{MaxMessageSize: math.MaxInt32})
			return err
		},
		"ReadRaw": func() error { _, _, err := ReadRaw(bytes.NewReader(msg), nil, math.MaxInt32); return err },
		"default limit": func() error {
			_, err := ReadMessage(bytes.NewReader(msg), Limits{})
			if !errors.Is(err, ErrTooLarge) {
				return fmt.Errorf("want ErrTooLarge, got %v", err)
			}
			return err
		},
		"compressed, claiming 2 GB uncompressed": func() error {
			c := append(mustHex(t, "0100010018000000ffffff7f"), mustHex(t, "00fa0100000000000000000000")[:12]...)
			_, err := Decode(c, Limits{MaxMessageSize: math.MaxInt32})
			return err
		},
		"compressed, claiming 200 MB of a 2 GB message": func() error {
			c := append(mustHex(t, "01000100ffffff7f0000800c"), make([]byte, 16)...)
			_, err := ReadMessage(bytes.NewReader(c), Limits{MaxMessageSize: math.MaxInt32})
			return err
		},
	} {
		t.Run(name, func(t *testing.T) {
			var err error
			n := allocated(func() { err = f() })
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) && !errors.Is(err, ErrUnsupported) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("error %v", err)
			}
			if n > 2*growStep {
				t.Fatalf("%d bytes allocated for a %d-byte message", n, len(msg))
			}
		})
	}
	// Inside a message: every kind of count claims 2^31-1 items.
	for _, body := range []string{
		"0700ffffff7f",              // longs
		"0200ffffff7f",              // guids
		"0b00ffffff7f610062",        // symbols
		"0000ffffff7f",              // general list
		"6200630b00ffffff7f",        // table names
		"68ffffff7f",                // projection parts
		"64000a00ffffff7f7b7d",      // lambda body
		"63" + "0b0001000000610000", // dict: values missing
	} {
		b := append(mustHex(t, body), make([]byte, 16)...)
		var err error
		n := allocated(func() { _, err = DecodeValue(b, false, Limits{}) })
		if err == nil {
			t.Fatalf("%s: decoded", body)
		}
		if n > 1<<16 {
			t.Fatalf("%s: %d bytes allocated", body, n)
		}
	}
}

// Deep nesting through every nesting form is refused at the cap, without
// exhausting the stack, and accepted under it.
func TestDeepNesting(t *testing.T) {
	const atom = "fa01000000"
	forms := map[string]struct{ open string }{
		"list":       {"0000" + "01000000"},
		"dict":       {"63" + "0b000100000061" + "00" + "0000" + "01000000"}, // `a!enlist …
		"each":       {"6a"},
		"projection": {"68" + "01000000"},
	}
	for name, f := range forms {
		for _, depth := range []int{10, 100_000} {
			var b []byte
			for range depth {
				b = append(b, mustHex(t, f.open)...)
			}
			b = append(b, mustHex(t, atom)...)
			_, err := DecodeValue(b, false, Limits{MaxDepth: 64})
			if depth <= 10 && err != nil {
				t.Fatalf("%s at depth %d: %v", name, depth, err)
			}
			if depth > 64 && (!errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "nesting")) {
				t.Fatalf("%s at depth %d: %v", name, depth, err)
			}
		}
	}
	// Encoding refuses what decoding would.
	var v Value = Long(1)
	for range DefaultMaxDepth + 2 {
		v = &List{Items: []Value{v}}
	}
	if _, err := Encode(Sync, v, EncodeOptions{}); !errors.Is(err, ErrUnsupported) {
		t.Fatalf("encode too deep: %v", err)
	}
}
