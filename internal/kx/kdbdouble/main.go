// kdbdouble is a test double of the kdb+ executable q, for tests only: it
// speaks the kdb+ IPC handshake and answers a few queries; the product never
// runs it; OPENFINSPACE_KDB_EXECUTABLE names a real q in production.
//
// Usage, like q: kdbdouble [script.q] -p PORT [-key value ...]
//
// The script, if given, must be readable (else exit 1); it is not executed.
// Without -p (or with -p 0) the double exits 0 after reading the script.
// Otherwise it listens on 127.0.0.1:PORT until SIGTERM or SIGINT (exit 0).
//
// Sync queries answered (little endian, uncompressed; anything else is the
// kdb+ error "nyi"; async messages get no answer):
//
//	.z.f              the script path as a char vector ("" if none)
//	.z.x              general list of char vectors: the raw arguments after the script
//	system "cd"       the working directory as a char vector (q answers a list of one)
//	.z.K              the float 4.0
//	getenv`NAME       the variable's value as a char vector
//	key`:/some/dir    symbol list of the directory's entry names, sorted
//
// If KDBDOUBLE_PASSWORD is set, a login with another password is refused by
// closing the connection without a reply, as q does.
package main

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
)

// config is the parsed command line.
type config struct {
	script string      // script path as given, "" if none
	port   int         // 0: do not listen
	zx     []string    // raw arguments after the script (.z.x)
	opts   [][2]string // -key value pairs in order, -p included
}

func parseArgs(args []string) (config, error) {
	var c config
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		c.script, args = args[0], args[1:]
	}
	c.zx = append([]string{}, args...)
	for i := 0; i < len(args); i++ {
		if !strings.HasPrefix(args[i], "-") {
			continue // stray value; kept in .z.x only
		}
		kv := [2]string{args[i][1:], ""}
		if i+1 < len(args) {
			kv[1] = args[i+1]
			i++
		}
		c.opts = append(c.opts, kv)
		if kv[0] == "p" && kv[1] != "" {
			// q's form is [host:]port; the double listens on loopback
			// whatever the host.
			num := kv[1][strings.LastIndexByte(kv[1], ':')+1:]
			p, err := strconv.Atoi(num)
			if err != nil || p < 0 || p > 65535 {
				return c, fmt.Errorf("invalid port %q", kv[1])
			}
			c.port = p
		}
	}
	return c, nil
}

func main() {
	c, err := parseArgs(os.Args[1:])
	if err != nil {
		fatal(err)
	}
	if c.script != "" {
		if _, err := os.ReadFile(c.script); err != nil {
			fatal(err)
		}
	}
	if c.port == 0 {
		return
	}
	ln, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(c.port)))
	if err != nil {
		fatal(err)
	}
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		<-sigs
		ln.Close()
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			fatal(err)
		}
		go serve(conn, &c)
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "kdbdouble:", err)
	os.Exit(1)
}

// serve runs the handshake, then answers messages until the client goes away.
func serve(conn net.Conn, c *config) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	cred, err := r.ReadBytes(0)
	if err != nil {
		return
	}
	cred = cred[:len(cred)-1]
	capability := byte(0)
	if n := len(cred); n > 0 && cred[n-1] < ' ' {
		capability, cred = cred[n-1], cred[:n-1]
	}
	if want, ok := os.LookupEnv("KDBDOUBLE_PASSWORD"); ok {
		_, pass, _ := strings.Cut(string(cred), ":")
		if pass != want {
			return
		}
	}
	if _, err := conn.Write([]byte{min(capability, 3)}); err != nil {
		return
	}
	for {
		var h [8]byte
		if _, err := io.ReadFull(r, h[:]); err != nil {
			return
		}
		n := binary.LittleEndian.Uint32(h[4:])
		if h[0] != 1 || h[2] != 0 || n < 8 || n > 64<<20 {
			conn.Write(encode(kerror("nyi: only little endian, uncompressed messages")))
			return
		}
		body := make([]byte, n-8)
		if _, err := io.ReadFull(r, body); err != nil {
			return
		}
		if h[1] != 1 {
			continue // async (or stray response): no answer
		}
		var resp []byte
		if q, ok := query(body); ok {
			resp = answer(q, c)
		} else {
			resp = kerror("type")
		}
		if _, err := conn.Write(encode(resp)); err != nil {
			return
		}
	}
}

// query extracts the query text from a char vector or a general list whose
// first element is a char vector.
func query(b []byte) (string, bool) {
	if len(b) >= 6 && b[0] == 0 {
		b = b[6:]
	}
	if len(b) < 6 || b[0] != 10 {
		return "", false
	}
	n := binary.LittleEndian.Uint32(b[2:6])
	if uint64(len(b)-6) < uint64(n) {
		return "", false
	}
	return string(b[6 : 6+n]), true
}

// answer returns the serialized q object answering query q.
func answer(q string, c *config) []byte {
	q = strings.TrimSpace(q)
	switch q {
	case ".z.f":
		return charVec(c.script)
	case ".z.x":
		b := vecHeader(0, len(c.zx))
		for _, s := range c.zx {
			b = append(b, charVec(s)...)
		}
		return b
	case `system "cd"`:
		wd, err := os.Getwd()
		if err != nil {
			return kerror(err.Error())
		}
		return charVec(wd)
	case ".z.K":
		return binary.LittleEndian.AppendUint64([]byte{0xf7}, math.Float64bits(4.0))
	}
	if name, ok := symArg(q, "getenv"); ok {
		return charVec(os.Getenv(name))
	}
	if path, ok := symArg(q, "key"); ok {
		entries, err := os.ReadDir(strings.TrimPrefix(path, ":"))
		if err != nil {
			return kerror("key: not a directory: " + path)
		}
		b := vecHeader(11, len(entries))
		for _, e := range entries { // os.ReadDir sorts by name
			b = append(append(b, e.Name()...), 0)
		}
		return b
	}
	return kerror("nyi")
}

// symArg matches "fn`sym" (optionally with spaces before the backtick).
func symArg(q, fn string) (string, bool) {
	rest, ok := strings.CutPrefix(q, fn)
	if !ok {
		return "", false
	}
	return strings.CutPrefix(strings.TrimLeft(rest, " "), "`")
}

func vecHeader(t byte, n int) []byte {
	return binary.LittleEndian.AppendUint32([]byte{t, 0}, uint32(n))
}

func charVec(s string) []byte { return append(vecHeader(10, len(s)), s...) }

func kerror(msg string) []byte { return append(append([]byte{0x80}, msg...), 0) }

// encode wraps a payload in a little endian response header.
func encode(payload []byte) []byte {
	h := binary.LittleEndian.AppendUint32([]byte{1, 2, 0, 0}, uint32(8+len(payload)))
	return append(h, payload...)
}
