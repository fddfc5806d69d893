package s3gw

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// The parent and the gateway process talk over two private socket pairs
// (inherited file descriptors, never a path another process could open):
//
//   - control (parent → child): init, start a region, ping. When the
//     parent's end closes — Close, or the parent dying however it dies —
//     the child shuts down: it is the child's lifeline.
//   - keys (child → parent): derive the SigV4 signing key of an access key,
//     so that secrets stay in the parent.
//
// Each is a sequence of JSON request/response pairs, one call at a time.

// rpcClient makes calls over one connection, one at a time.
type rpcClient struct {
	mu      sync.Mutex
	conn    net.Conn
	enc     *json.Encoder
	dec     *json.Decoder
	timeout time.Duration
	broken  error
}

func newRPCClient(c net.Conn, timeout time.Duration) *rpcClient {
	return &rpcClient{conn: c, enc: json.NewEncoder(c), dec: json.NewDecoder(bufio.NewReader(c)), timeout: timeout}
}

// call sends req and decodes the response into resp. After a transport
// error the client stays broken (the stream may be out of step).
func (r *rpcClient) call(req, resp any) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.broken != nil {
		return r.broken
	}
	if r.timeout > 0 {
		_ = r.conn.SetDeadline(time.Now().Add(r.timeout))
	}
	err := r.enc.Encode(req)
	if err == nil {
		err = r.dec.Decode(resp)
	}
	if err != nil {
		r.broken = fmt.Errorf("s3gw: internal channel: %w", err)
		r.conn.Close()
		return r.broken
	}
	return nil
}

func (r *rpcClient) close() error { return r.conn.Close() }

// serveRPC answers requests on c with handle until c fails or closes; it
// returns nil at a clean end of stream.
func serveRPC[Req, Resp any](c net.Conn, handle func(*Req) *Resp) error {
	dec := json.NewDecoder(bufio.NewReader(c))
	enc := json.NewEncoder(c)
	for {
		req := new(Req)
		if err := dec.Decode(req); err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		if err := enc.Encode(handle(req)); err != nil {
			return err
		}
	}
}

// socketPair returns two connected stream sockets: local (a net.Conn for
// this process) and remote (an *os.File to hand to the child).
func socketPair(name string) (local net.Conn, remote *os.File, err error) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, nil, fmt.Errorf("s3gw: socketpair: %w", err)
	}
	lf := os.NewFile(uintptr(fds[0]), name+"-parent")
	remote = os.NewFile(uintptr(fds[1]), name+"-child")
	local, err = net.FileConn(lf)
	lf.Close()
	if err != nil {
		remote.Close()
		return nil, nil, fmt.Errorf("s3gw: socketpair: %w", err)
	}
	return local, remote, nil
}

// Messages.

type ctlRequest struct {
	Op     string     `json:"op"` // "init", "region", "ping"
	Init   *childInit `json:"init,omitempty"`
	Region string     `json:"region,omitempty"`
}

type ctlResponse struct {
	Error  string `json:"error,omitempty"`
	Socket string `json:"socket,omitempty"` // for "region"
	Meta   string `json:"meta,omitempty"`   // for "init": "xattr" or "sidecar"
}

// childInit configures the gateway process.
type childInit struct {
	Root       string `json:"root"`    // posix backend root: one directory per bucket
	SideCar    string `json:"sidecar"` // metadata directory when the filesystem has no user xattrs
	SockDir    string `json:"sockDir"` // private directory for the listening sockets
	RootAccess string `json:"rootAccess"`
	RootSecret string `json:"rootSecret"`
	Token      string `json:"token"`   // required in the X-Openfinspace-Gateway header
	Account    string `json:"account"` // owner of every bucket
	MaxConns   int    `json:"maxConns"`
	// DirectAddr, for benchmarks only: also serve the default region on
	// this loopback TCP address, without the token check.
	DirectAddr   string `json:"directAddr,omitempty"`
	DirectRegion string `json:"directRegion,omitempty"`
	// Upstream, when set, replaces the posix backend (Config.Upstream).
	Upstream *Upstream `json:"upstream,omitempty"`
}

type keyRequest struct {
	Access  string `json:"access"`
	Token   string `json:"token,omitempty"`
	Date    string `json:"date"`
	Region  string `json:"region"`
	Service string `json:"service"`
}

// Key errors.
const (
	keyErrNoSuchUser = "no-such-user"
	keyErrBadToken   = "invalid-token"
	keyErrExpired    = "expired"
)

type keyResponse struct {
	Key     []byte    `json:"key,omitempty"`
	Expires time.Time `json:"expires,omitzero"`
	Error   string    `json:"error,omitempty"`
}
