// Package node runs kdb+ processes: the nodes of kx clusters. A node is a
// real OS process of the configured kdb+ executable (q), started with a
// bootstrap script that sets the FinSpace `.aws` variables and loads the
// cluster's initialization script, listening on a loopback port; it is
// ready once that port completes a kdb+ IPC handshake.
//
// What is kdb+'s is here (the bootstrap script, q's arguments, readiness
// by handshake, the code archive's unpacking); the process itself — its
// process group, parent-death signal, environment, bounded log, stop,
// restart with backoff — is internal/runtime's.
//
// A node dies with the server process that started it (Linux
// parent-death signal), so a server killed with SIGKILL leaves no
// orphaned q process holding a port; whoever takes the cluster over starts
// its nodes again.
package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/openfinspace/openfinspace/internal/runtime"
)

// Spec is how to start one node.
type Spec struct {
	// Executable is the kdb+ executable (a path, or a name on PATH).
	Executable string
	// Script is the script q loads first (see WriteBootstrap).
	Script string
	// Args follow the script and the port: "-key value" pairs of the
	// cluster's command line arguments, as q's .z.x and .Q.opt read them.
	Args []string
	// Dir is the working directory; Env the environment (nil: DefaultEnv).
	Dir string
	Env []string
	// Port is the loopback port the node listens on.
	Port int
	// Name names the node's log, <Logs.Dir>/<Name>.log (default "node").
	Name string
	// Logs bounds the log of the process's standard output and error
	// (no Logs.Dir: they are discarded).
	Logs runtime.Logs
	// ReadyTimeout bounds the wait for the first handshake (default 30 s).
	ReadyTimeout time.Duration
}

// runtimeSpec is s as internal/runtime starts it.
func (s Spec) runtimeSpec() (runtime.Spec, error) {
	if s.Executable == "" {
		return runtime.Spec{}, errors.New("node: no kdb+ executable is configured")
	}
	if s.Port <= 0 || s.Port > 65535 {
		return runtime.Spec{}, fmt.Errorf("node: bad port %d", s.Port)
	}
	env := s.Env
	if env == nil {
		env = DefaultEnv()
	}
	name := s.Name
	if name == "" {
		name = "node"
	}
	return runtime.Spec{
		Name: name, Path: s.Executable,
		Args: append([]string{s.Script, "-p", "127.0.0.1:" + strconv.Itoa(s.Port)}, s.Args...),
		Dir:  s.Dir, Env: env, Log: s.Logs,
		// SIGKILL when the server goes (runtime.Local starts it from a
		// locked thread of its own: see there why that matters).
		DieWithParent: true,
		Meta:          map[string]string{"port": strconv.Itoa(s.Port)},
	}, nil
}

// ready is the readiness hook: the first kdb+ handshake on the port.
func ready(ctx context.Context, h runtime.Handle) error {
	addr := net.JoinHostPort("127.0.0.1", h.Meta["port"])
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if Probe(addr, time.Second) == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// startErr says why a node did not start, for the log (it names the
// port; a cluster's statusReason is built from its cause, which it wraps:
// runtime.ErrExitedBeforeReady with the *runtime.ExitError, or
// runtime.ErrReadyTimeout).
func startErr(err error, port int, timeout time.Duration) error {
	var ee *runtime.ExitError
	switch {
	case errors.Is(err, runtime.ErrExitedBeforeReady) && errors.As(err, &ee):
		return &causeErr{fmt.Sprintf("node: the kdb+ process exited before it listened on port %d: %s", port, ee.Exit), err}
	case errors.Is(err, runtime.ErrReadyTimeout):
		return &causeErr{fmt.Sprintf("node: the kdb+ process did not answer on port %d within %s", port, readyTimeout(timeout)), err}
	}
	return err
}

// causeErr is a message of its own over the error it explains.
type causeErr struct {
	msg   string
	cause error
}

func (e *causeErr) Error() string { return e.msg }
func (e *causeErr) Unwrap() error { return e.cause }

func readyTimeout(d time.Duration) time.Duration {
	if d <= 0 {
		return 30 * time.Second
	}
	return d
}

// Process is a started node.
type Process struct {
	Port    int
	Started time.Time
	// Handle is the runtime's handle of the process.
	Handle runtime.Handle

	d    runtime.Driver
	done chan struct{}
	exit runtime.Exit // set before done closes
	once sync.Once
}

func newProcess(d runtime.Driver, h runtime.Handle) *Process {
	port, _ := strconv.Atoi(h.Meta["port"])
	return &Process{Port: port, Started: h.Started, Handle: h, d: d, done: make(chan struct{})}
}

func (p *Process) exited(e runtime.Exit) {
	p.once.Do(func() {
		p.exit = e
		close(p.done)
	})
}

// Start starts the node on d and waits until it answers a kdb+ handshake
// on its port, or fails: the process exited (its exit status is in the
// error), the context ended or ReadyTimeout passed (then it is stopped).
func Start(ctx context.Context, d runtime.Driver, s Spec) (*Process, error) {
	rs, err := s.runtimeSpec()
	if err != nil {
		return nil, err
	}
	h, err := runtime.StartReady(ctx, d, rs, ready, readyTimeout(s.ReadyTimeout))
	if err != nil {
		return nil, startErr(err, s.Port, s.ReadyTimeout)
	}
	p := newProcess(d, h)
	go func() {
		e, err := d.Wait(context.Background(), h)
		if err != nil {
			e = runtime.Exit{Code: -1, At: time.Now()}
		}
		_ = d.Destroy(h)
		p.exited(e)
	}()
	return p, nil
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is how the process ended (after Done): nil for exit status 0.
func (p *Process) Err() error { <-p.done; return p.exit.Err() }

// Exit is how the process ended (after Done).
func (p *Process) Exit() runtime.Exit { <-p.done; return p.exit }

// PID is the process id.
func (p *Process) PID() int { return p.Handle.PID }

// Stop ends the node: SIGTERM to its process group, SIGKILL after grace.
// It returns once the process has exited.
func (p *Process) Stop(grace time.Duration) {
	_ = p.d.Stop(p.Handle, grace) // ErrUnknown: it has exited and is forgotten
	<-p.done
}

// LastLines returns the last n lines of the node's log (none without a
// log).
func (p *Process) LastLines(n int) ([]string, error) { return p.d.Tail(p.Handle, n) }

// Probe completes a kdb+ IPC handshake with the process at addr (a
// credential-less login asking for capability 3) and closes the
// connection.
func Probe(addr string, timeout time.Duration) error {
	c, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(timeout))
	if _, err := c.Write([]byte("openfinspace:\x03\x00")); err != nil {
		return err
	}
	var b [1]byte
	if _, err := io.ReadFull(c, b[:]); err != nil {
		return fmt.Errorf("node: no handshake reply from %s: %w", addr, err)
	}
	return nil
}

// FreePort returns a loopback port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// DefaultEnv is the environment nodes get: PATH and HOME, and the kdb+
// variables QHOME, QLIC and QINIT when the server has them. No other
// variable of the server's (its credentials among them) reaches user
// code.
func DefaultEnv() []string { return runtime.InheritEnv("PATH", "HOME", "QHOME", "QLIC", "QINIT") }

// Bootstrap is what a node's bootstrap script sets before user code runs
// (AWS_Q_API.md: "Variables set before user code runs").
type Bootstrap struct {
	// Database is the mounted database's name (.aws.akdb) and DatabaseRoot
	// the directory holding it (.aws.akdbp): code loads
	// .aws.akdbp,"/",.aws.akdb.
	Database, DatabaseRoot string
	// CodePath is where the cluster's code was unpacked (.aws.akcp).
	CodePath string
	// Args are the command line arguments (.aws.args), in order.
	Args [][2]string
	// InitScript, when set, is loaded last: a path below CodePath.
	InitScript string
	// LoadDatabase loads the database when there is no initialization
	// script (an HDB cluster with a database and no code).
	LoadDatabase bool
}

// CheckInitScript refuses an initialization script path that could name a
// file outside the code directory: the model's pattern allows "..",
// backslashes and a leading "/", so the check is ours.
func CheckInitScript(p string) error {
	if p == "" || strings.HasPrefix(p, "/") || strings.ContainsAny(p, "\\\x00") {
		return fmt.Errorf("the initialization script %q must be a relative path inside the code archive, without backslashes", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("the initialization script %q must be a relative path inside the code archive, without empty, . or .. segments", p)
		}
	}
	return nil
}

// Script returns the q text of b; b.InitScript must pass CheckInitScript.
func (b Bootstrap) Script() []byte {
	var w bytes.Buffer
	w.WriteString("/ written by openfinspace: the FinSpace .aws variables, then the cluster's initialization script\n")
	fmt.Fprintf(&w, ".aws.akdb:%s;\n", qString(b.Database))
	fmt.Fprintf(&w, ".aws.akdbp:%s;\n", qString(b.DatabaseRoot))
	fmt.Fprintf(&w, ".aws.akcp:%s;\n", qString(b.CodePath))
	keys, vals := make([]string, len(b.Args)), make([]string, len(b.Args))
	for i, kv := range b.Args {
		keys[i], vals[i] = kv[0], kv[1]
	}
	fmt.Fprintf(&w, ".aws.args:(`$%s)!%s;\n", qStrings(keys), qStrings(vals))
	switch {
	case b.InitScript != "":
		fmt.Fprintf(&w, "system \"cd \",%s;\n", qString(b.CodePath))
		fmt.Fprintf(&w, "system \"l \",%s;\n", qString(strings.TrimSuffix(b.CodePath, "/")+"/"+b.InitScript))
	case b.LoadDatabase && b.Database != "":
		fmt.Fprintf(&w, "system \"l \",%s;\n", qString(strings.TrimSuffix(b.DatabaseRoot, "/")+"/"+b.Database))
	}
	return w.Bytes()
}

// qString is s as a q string literal: quotes, backslashes and control
// bytes escaped (octal), so nothing in s ends the literal.
func qString(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < 0x20 || c == 0x7f:
			fmt.Fprintf(&b, "\\%03o", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// qStrings is a q list of strings: () for none, enlist for one (a
// one-item list written ("a") would be a string, not a list).
func qStrings(ss []string) string {
	switch len(ss) {
	case 0:
		return "()"
	case 1:
		return "enlist " + qString(ss[0])
	}
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = qString(s)
	}
	return "(" + strings.Join(q, ";") + ")"
}
