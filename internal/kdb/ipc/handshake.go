package ipc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"
	"time"
)

// Capability bytes a client sends after its credentials and a server
// answers: the common one is the lower of the two.
const (
	CapV25         byte = 0 // no compression, timestamp, timespan or guid
	CapCompression byte = 1 // (1..2, kdb+ 2.6-2.8) compression, timestamp, timespan
	CapGUID        byte = 3 // kdb+ 3.0: compression, timestamp, timespan, guid
	CapLarge       byte = 6 // kdb+ 3.4+: also messages over 2 GB (not supported here)
)

// DefaultCapability is what this package speaks: 3 (it does not accept
// messages over 2 GB, so it never agrees to 6).
const DefaultCapability = CapGUID

// MaxCredentialsLen caps the login string a server reads (user, ':',
// password, capability byte and the terminating NUL).
const MaxCredentialsLen = 1024

// Negotiate is the agreed capability: the lower of client and server.
func Negotiate(client, server byte) byte { return min(client, server) }

// Credentials is what a client sent in its handshake.
type Credentials struct {
	User, Password string
	// Capability is the client's byte (0 if it sent none, as kdb+ 2.5).
	Capability byte
}

// ReadCredentials reads a client's login string, up to and including its
// NUL and not a byte more (the first message may follow at once). A
// string longer than MaxCredentialsLen is refused. The last byte before the
// NUL is the capability when it is a control character (below 0x20).
func ReadCredentials(r io.Reader) (Credentials, error) {
	var buf [MaxCredentialsLen]byte
	br, _ := r.(io.ByteReader)
	for n := 0; n < len(buf); n++ {
		var c byte
		if br != nil {
			var err error
			if c, err = br.ReadByte(); err != nil {
				return Credentials{}, unexpected(err)
			}
		} else if _, err := io.ReadFull(r, buf[n:n+1]); err != nil {
			return Credentials{}, unexpected(err)
		} else {
			c = buf[n]
		}
		if c == 0 {
			return parseCredentials(buf[:n]), nil
		}
		buf[n] = c
	}
	return Credentials{}, malformed("login string longer than %d bytes", MaxCredentialsLen)
}

func unexpected(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

func parseCredentials(b []byte) Credentials {
	var c Credentials
	if n := len(b); n > 0 && b[n-1] < 0x20 {
		c.Capability = b[n-1]
		b = b[:n-1]
	}
	s := string(b)
	c.User, c.Password, _ = strings.Cut(s, ":")
	return c
}

// AcceptCredentials answers an accepted login: it writes the agreed
// capability, Negotiate(client, server), and returns it. To refuse a
// login, close the connection without writing anything, as q does.
func AcceptCredentials(w io.Writer, client, server byte) (byte, error) {
	agreed := Negotiate(client, server)
	_, err := w.Write([]byte{agreed})
	return agreed, err
}

// deadliner is a connection with deadlines (net.Conn).
type deadliner interface {
	SetDeadline(time.Time) error
}

// ClientHandshake logs in over conn with user and password (sent as
// "user:password", or "user" alone when password is empty) and the given
// capability, and returns the server's agreed capability. A server that
// closes the connection instead of answering refused the login: the error
// wraps ErrRefused. If conn has deadlines (a net.Conn), ctx's deadline and
// cancellation apply to the exchange.
func ClientHandshake(ctx context.Context, conn io.ReadWriter, user, password string, capability byte) (byte, error) {
	if strings.IndexByte(user, ':') >= 0 || strings.ContainsAny(user+password, "\x00") {
		return 0, errors.New("kdb+ ipc: user must not contain ':' and credentials no NUL byte")
	}
	if capability >= 0x20 {
		return 0, fmt.Errorf("kdb+ ipc: capability %d", capability)
	}
	cred := user
	if password != "" {
		cred += ":" + password
	}
	if len(cred)+2 > MaxCredentialsLen {
		return 0, fmt.Errorf("kdb+ ipc: credentials longer than %d bytes", MaxCredentialsLen-2)
	}
	if dc, ok := conn.(deadliner); ok {
		if dl, ok := ctx.Deadline(); ok {
			_ = dc.SetDeadline(dl)
		}
		stop := context.AfterFunc(ctx, func() { _ = dc.SetDeadline(time.Unix(1, 0)) })
		defer func() {
			if stop() {
				_ = dc.SetDeadline(time.Time{})
			}
		}()
	}
	msg := append([]byte(cred), capability, 0)
	if _, err := conn.Write(msg); err != nil {
		return 0, ctxErr(ctx, err)
	}
	var reply [1]byte
	if _, err := io.ReadFull(conn, reply[:]); err != nil {
		if errors.Is(err, io.EOF) || errors.Is(err, syscall.ECONNRESET) {
			return 0, fmt.Errorf("%w: the server closed the connection", ErrRefused)
		}
		return 0, ctxErr(ctx, err)
	}
	return reply[0], nil
}

func ctxErr(ctx context.Context, err error) error {
	cerr := ctx.Err()
	// The connection's deadline is the context's: its timeout can come
	// before the context's own timer has marked it done.
	if dl, ok := ctx.Deadline(); cerr == nil && ok && errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(dl) {
		cerr = context.DeadlineExceeded
	}
	if cerr != nil {
		return fmt.Errorf("kdb+ ipc: handshake: %w (%v)", cerr, err)
	}
	return fmt.Errorf("kdb+ ipc: handshake: %w", err)
}
