package ipc

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseCredentials(t *testing.T) {
	cases := []struct {
		in   string
		want Credentials
	}{
		{"alice:pw\x03\x00", Credentials{"alice", "pw", 3}},
		{"alice:p:w\x06\x00", Credentials{"alice", "p:w", 6}},
		{"alice:pw\x00", Credentials{"alice", "pw", 0}},
		{"anonymous\x01\x00", Credentials{"anonymous", "", 1}},
		{"\x03\x00", Credentials{"", "", 3}},
		{"\x00", Credentials{}},
	}
	for _, c := range cases {
		// One byte at a time (no io.ByteReader) and buffered: both stop at the NUL.
		for _, r := range []io.Reader{io.MultiReader(strings.NewReader(c.in), strings.NewReader("NEXT")), bufio.NewReader(strings.NewReader(c.in + "NEXT"))} {
			got, err := ReadCredentials(r)
			if err != nil || got != c.want {
				t.Fatalf("%q: %+v, %v", c.in, got, err)
			}
			rest, _ := io.ReadAll(r)
			if string(rest) != "NEXT" {
				t.Fatalf("%q: read past the NUL, left %q", c.in, rest)
			}
		}
	}
	if _, err := ReadCredentials(strings.NewReader(strings.Repeat("a", MaxCredentialsLen) + "\x00")); !errors.Is(err, ErrMalformed) {
		t.Fatalf("long login: %v", err)
	}
	if _, err := ReadCredentials(strings.NewReader("alice:pw")); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("no NUL: %v", err)
	}
	if Negotiate(3, 6) != 3 || Negotiate(6, 3) != 3 || Negotiate(0, 3) != 0 {
		t.Fatal("Negotiate is not the minimum")
	}
}

func TestHandshakeOverTCP(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	got := make(chan Credentials, 2)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				cr, err := ReadCredentials(c)
				if err != nil {
					return
				}
				got <- cr
				if cr.Password != "good" {
					return
				}
				if _, err := AcceptCredentials(c, cr.Capability, DefaultCapability); err != nil {
					return
				}
				m, err := ReadMessage(c, Limits{})
				if err != nil {
					return
				}
				_ = WriteMessage(c, Response, m.Value, EncodeOptions{})
			}()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	agreed, err := ClientHandshake(ctx, c, "u", "good", CapLarge)
	if err != nil || agreed != DefaultCapability {
		t.Fatalf("agreed %d, %v", agreed, err)
	}
	if cr := <-got; cr != (Credentials{"u", "good", CapLarge}) {
		t.Fatalf("server read %+v", cr)
	}
	if err := WriteMessage(c, Sync, &CharVector{Data: "1+1"}, EncodeOptions{}); err != nil {
		t.Fatal(err)
	}
	m, err := ReadMessage(c, Limits{})
	if err != nil || m.Header.Type != Response || m.Value.(*CharVector).Data != "1+1" {
		t.Fatalf("%+v %v", m, err)
	}

	c2, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := ClientHandshake(ctx, c2, "u", "bad", 3); !errors.Is(err, ErrRefused) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := ClientHandshake(ctx, &bytes.Buffer{}, "a:b", "", 3); err == nil {
		t.Fatal("user with ':' accepted")
	}
}

func TestClientHandshakeHonoursContext(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	go func() { _, _ = io.Copy(io.Discard, b) }() // reads, never answers
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	if _, err := ClientHandshake(ctx, a, "u", "p", 3); !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, ctx.Err()) {
		t.Fatalf("err %v", err)
	}
}

func TestShouldCompress(t *testing.T) {
	lo := &net.TCPAddr{IP: net.ParseIP("127.0.0.1"), Port: 5000}
	remote := &net.TCPAddr{IP: net.ParseIP("10.0.0.2"), Port: 5000}
	if ShouldCompress(lo, 3) || !ShouldCompress(remote, 3) || ShouldCompress(remote, 0) || ShouldCompress(&net.UnixAddr{Name: "/x"}, 3) {
		t.Fatal("ShouldCompress")
	}
}

// lateCtx is a context past its deadline whose timer has not yet marked
// it done: what a connection deadline set from it can run into.
type lateCtx struct{ context.Context }

func (lateCtx) Deadline() (time.Time, bool) { return time.Now().Add(-time.Millisecond), true }

// A connection timeout at the context's deadline is the context's
// deadline, even before the context reports it (TestClientHandshakeHonoursContext
// failed with a bare "i/o timeout" on a loaded machine).
func TestHandshakeTimeoutIsTheContexts(t *testing.T) {
	err := ctxErr(lateCtx{context.Background()}, os.ErrDeadlineExceeded)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err %v", err)
	}
	if err := ctxErr(context.Background(), os.ErrDeadlineExceeded); errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("no deadline: %v", err)
	}
}
