// Package node runs kdb+ processes: the nodes of kx clusters. A node is a
// real OS process of the configured kdb+ executable (q), started with a
// bootstrap script that sets the FinSpace `.aws` variables and loads the
// cluster's initialization script, listening on a loopback port; it is
// ready once that port completes a kdb+ IPC handshake.
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
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
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
	// Dir is the working directory; Env the environment (nil: none but
	// PATH and HOME of the server's, and QHOME/QLIC when set).
	Dir string
	Env []string
	// Port is the loopback port the node listens on.
	Port int
	// Log receives the process's standard output and error (nil: they
	// are discarded).
	Log io.Writer
	// ReadyTimeout bounds the wait for the first handshake (default 30 s).
	ReadyTimeout time.Duration
}

// Process is a started node.
type Process struct {
	Port    int
	Started time.Time
	cmd     *exec.Cmd
	done    chan struct{}
	err     error
	stopped sync.Once
}

// Start starts the node and waits until it answers a kdb+ handshake on
// its port, or fails: the process exited (its exit status is in the
// error), the context ended or ReadyTimeout passed (then it is stopped).
func Start(ctx context.Context, s Spec) (*Process, error) {
	if s.Executable == "" {
		return nil, errors.New("node: no kdb+ executable is configured")
	}
	if s.Port <= 0 || s.Port > 65535 {
		return nil, fmt.Errorf("node: bad port %d", s.Port)
	}
	args := append([]string{s.Script, "-p", "127.0.0.1:" + strconv.Itoa(s.Port)}, s.Args...)
	cmd := exec.Command(s.Executable, args...)
	cmd.Dir = s.Dir
	cmd.Env = s.Env
	if cmd.Env == nil {
		cmd.Env = DefaultEnv()
	}
	cmd.Stdout, cmd.Stderr = s.Log, s.Log
	// Its own process group (a stop reaches what it starts), and SIGKILL
	// when the server's thread that started it goes: Go threads live as
	// long as the process unless a goroutine locked to one exits.
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("node: starting %s: %w", s.Executable, err)
	}
	p := &Process{Port: s.Port, Started: time.Now(), cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	timeout := s.ReadyTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(s.Port))
	for {
		if Probe(addr, time.Second) == nil {
			return p, nil
		}
		select {
		case <-p.done:
			return nil, fmt.Errorf("node: %s exited before it listened on port %d: %v", s.Executable, s.Port, p.exitErr())
		case <-ctx.Done():
			p.Stop(time.Second)
			return nil, ctx.Err()
		case <-deadline.C:
			p.Stop(time.Second)
			return nil, fmt.Errorf("node: %s did not answer on port %d within %s", s.Executable, s.Port, timeout)
		case <-tick.C:
		}
	}
}

func (p *Process) exitErr() error {
	if p.err == nil {
		return errors.New("exit status 0")
	}
	return p.err
}

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Err is how the process ended (after Done).
func (p *Process) Err() error { <-p.done; return p.err }

// PID is the process id.
func (p *Process) PID() int { return p.cmd.Process.Pid }

// Stop ends the node: SIGTERM to its process group, SIGKILL after grace.
// It returns once the process has exited.
func (p *Process) Stop(grace time.Duration) {
	p.stopped.Do(func() {
		pgid := -p.cmd.Process.Pid
		_ = syscall.Kill(pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(grace):
			_ = syscall.Kill(pgid, syscall.SIGKILL)
		}
	})
	<-p.done
	// What the node started in its group goes with it.
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
}

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
func DefaultEnv() []string {
	var env []string
	for _, k := range []string{"PATH", "HOME", "QHOME", "QLIC", "QINIT"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

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
