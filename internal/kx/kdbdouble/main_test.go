package main

import (
	"encoding/binary"
	"errors"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"syscall"
	"testing"
	"time"
)

func TestParseArgs(t *testing.T) {
	c, err := parseArgs([]string{"s.q", "-p", "5000", "-dir", "/x", "-n", "-1"})
	if err != nil {
		t.Fatal(err)
	}
	want := config{
		script: "s.q", port: 5000,
		zx:   []string{"-p", "5000", "-dir", "/x", "-n", "-1"},
		opts: [][2]string{{"p", "5000"}, {"dir", "/x"}, {"n", "-1"}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("got %+v, want %+v", c, want)
	}
	if _, err := parseArgs([]string{"-p", "abc"}); err == nil {
		t.Fatal("want error for bad port")
	}
	// q's [host:]port form.
	if c, err := parseArgs([]string{"-p", "127.0.0.1:5001"}); err != nil || c.port != 5001 {
		t.Fatalf("host:port: %+v, %v", c, err)
	}
}

func TestKdbDouble(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "kdbdouble")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = "."
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "init.q")
	if err := os.WriteFile(script, []byte("/ test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	data := filepath.Join(dir, "data")
	for _, n := range []string{"b", "a", "c"} {
		if err := os.MkdirAll(filepath.Join(data, n), 0o755); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("queries", func(t *testing.T) {
		cmd, port := start(t, bin, dir, nil, script, "-dbdir", data)
		c := dial(t, port, "bob:secret\x06")
		wd, _ := filepath.Abs(dir)
		for q, want := range map[string]any{
			".z.f":                 script,
			".z.x":                 []any{"-p", strconv.Itoa(port), "-dbdir", data},
			`system "cd"`:          wd,
			".z.K":                 4.0,
			"getenv`KDBDOUBLE_ENV": "from-env",
			"key`:" + data:         []string{"a", "b", "c"},
			"key`:" + script:       errors.New("key: not a directory: :" + script),
			"1+1":                  errors.New("nyi"),
		} {
			if got := c.sync(t, q); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: got %#v, want %#v", q, got, want)
			}
		}
		// A general list whose first element is the query, and an async message.
		list := append(vec(0, 2), append(qChars(".z.K"), 0xf9, 1, 0, 0, 0, 0, 0, 0, 0)...)
		c.send(t, 0, qChars("ignored"))
		c.send(t, 1, list)
		if got := c.recv(t); got != 4.0 {
			t.Errorf("list query: got %#v", got)
		}
		// A compressed message gets an error, then the connection is closed.
		z := dial(t, port, "bob:secret\x03")
		z.Write([]byte{1, 1, 1, 0, 9, 0, 0, 0, 0})
		if _, ok := z.recv(t).(error); !ok {
			t.Error("compressed message: want an error response")
		}
		if _, err := z.Read(make([]byte, 1)); err != io.EOF {
			t.Errorf("compressed message: got %v, want EOF", err)
		}
		stop(t, cmd)
	})

	t.Run("password", func(t *testing.T) {
		_, port := start(t, bin, dir, []string{"KDBDOUBLE_PASSWORD=secret"}, script)
		dial(t, port, "bob:secret\x01") // accepted; dial checks the reply
		conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write([]byte("bob:wrong\x03\x00"))
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		if n, err := conn.Read(make([]byte, 1)); err != io.EOF {
			t.Fatalf("wrong password: read %d bytes, err %v; want EOF", n, err)
		}
	})

	t.Run("no capability", func(t *testing.T) {
		_, port := start(t, bin, dir, nil, script)
		conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		conn.Write([]byte("bob:x\x00"))
		b := make([]byte, 1)
		if _, err := io.ReadFull(conn, b); err != nil || b[0] != 0 {
			t.Fatalf("got %v, %v; want capability 0", b, err)
		}
	})

	t.Run("missing script", func(t *testing.T) {
		cmd := exec.Command(bin, filepath.Join(dir, "nope.q"), "-p", "0")
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != 1 || len(out) == 0 {
			t.Fatalf("got %v, output %q; want exit 1 with a message", err, out)
		}
	})

	t.Run("no port", func(t *testing.T) {
		if out, err := exec.Command(bin, script).CombinedOutput(); err != nil || len(out) != 0 {
			t.Fatalf("got %v, output %q; want silent exit 0", err, out)
		}
	})
}

// start runs the double on a free port in dir and waits until it accepts.
func start(t *testing.T, bin, dir string, env []string, args ...string) (*exec.Cmd, int) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	args = append(args[:1:1], append([]string{"-p", strconv.Itoa(port)}, args[1:]...)...)
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), append(env, "KDBDOUBLE_ENV=from-env")...)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			conn.Close()
			return cmd, port
		}
		if time.Now().After(deadline) {
			t.Fatalf("double did not listen: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop sends SIGTERM and expects exit status 0.
func stop(t *testing.T, cmd *exec.Cmd) {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("after SIGTERM: %v, want exit 0", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("double did not exit after SIGTERM")
	}
}

// client is a minimal kdb+ IPC client.
type client struct{ net.Conn }

func dial(t *testing.T, port int, cred string) client {
	t.Helper()
	conn, err := net.Dial("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := conn.Write(append([]byte(cred), 0)); err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 1)
	if _, err := io.ReadFull(conn, b); err != nil {
		t.Fatalf("handshake: %v", err)
	}
	if want := min(cred[len(cred)-1], 3); b[0] != want {
		t.Fatalf("capability %d, want %d", b[0], want)
	}
	return client{conn}
}

func (c client) send(t *testing.T, typ byte, payload []byte) {
	t.Helper()
	msg := binary.LittleEndian.AppendUint32([]byte{1, typ, 0, 0}, uint32(8+len(payload)))
	if _, err := c.Write(append(msg, payload...)); err != nil {
		t.Fatal(err)
	}
}

func (c client) sync(t *testing.T, q string) any {
	t.Helper()
	c.send(t, 1, qChars(q))
	return c.recv(t)
}

func (c client) recv(t *testing.T) any {
	t.Helper()
	h := make([]byte, 8)
	if _, err := io.ReadFull(c, h); err != nil {
		t.Fatal(err)
	}
	if h[0] != 1 || h[1] != 2 {
		t.Fatalf("bad response header %v", h)
	}
	body := make([]byte, binary.LittleEndian.Uint32(h[4:])-8)
	if _, err := io.ReadFull(c, body); err != nil {
		t.Fatal(err)
	}
	v, rest := decode(t, body)
	if len(rest) != 0 {
		t.Fatalf("%d trailing bytes", len(rest))
	}
	return v
}

// decode handles the types the double answers with.
func decode(t *testing.T, b []byte) (any, []byte) {
	t.Helper()
	switch int8(b[0]) {
	case -128:
		i := 1
		for b[i] != 0 {
			i++
		}
		return errors.New(string(b[1:i])), b[i+1:]
	case -9:
		return math.Float64frombits(binary.LittleEndian.Uint64(b[1:9])), b[9:]
	}
	n := int(binary.LittleEndian.Uint32(b[2:6]))
	typ, b := b[0], b[6:]
	switch typ {
	case 10:
		return string(b[:n]), b[n:]
	case 11:
		syms := []string{}
		for range n {
			i := 0
			for b[i] != 0 {
				i++
			}
			syms, b = append(syms, string(b[:i])), b[i+1:]
		}
		return syms, b
	case 0:
		list := []any{}
		for range n {
			var v any
			v, b = decode(t, b)
			list = append(list, v)
		}
		return list, b
	}
	t.Fatalf("unexpected type %d", typ)
	return nil, nil
}

func vec(typ byte, n int) []byte {
	return binary.LittleEndian.AppendUint32([]byte{typ, 0}, uint32(n))
}

func qChars(s string) []byte { return append(vec(10, len(s)), s...) }
