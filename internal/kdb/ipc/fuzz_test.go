package ipc

import (
	"bytes"
	"testing"
)

// FuzzDecode: any input either fails with an error or decodes to a value
// that re-encodes and decodes to the same bytes; nothing panics.
func FuzzDecode(f *testing.F) {
	for _, v := range everyValue() {
		b, err := Encode(Sync, v, EncodeOptions{})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{1, 0, 0, 0, 13, 0, 0, 0, 0xfa, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, msg []byte) {
		lim := Limits{MaxMessageSize: 1 << 20, MaxDepth: 32}
		m, err := Decode(msg, lim)
		if err != nil {
			return
		}
		once, err := Encode(m.Header.Type, m.Value, EncodeOptions{})
		if err != nil {
			// Decoded values are always encodable.
			t.Fatalf("re-encode %T: %v", m.Value, err)
		}
		m2, err := Decode(once, Limits{MaxMessageSize: 1 << 21, MaxDepth: 32})
		if err != nil {
			t.Fatalf("decode of re-encoded %x: %v", once, err)
		}
		twice, err := Encode(m2.Header.Type, m2.Value, EncodeOptions{})
		if err != nil || !bytes.Equal(once, twice) {
			t.Fatalf("unstable round trip: %x vs %x (%v)", once, twice, err)
		}
		if c, ok := Compress(once); ok {
			u, err := Decompress(c, 1<<21)
			if err != nil || !bytes.Equal(u, once) {
				t.Fatalf("compression round trip: %v", err)
			}
		}
	})
}
