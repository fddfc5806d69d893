package s3gw

import (
	"bytes"
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/openfinspace/openfinspace/internal/runtime"
)

// The gateway process is run by internal/runtime's local driver (its own
// process group, the environment below, the two inherited socket pairs
// as ExtraFiles, stop by SIGKILL). What stays here, and why:
//
//   - The restart policy is lazy: a gateway that died is started again by
//     the next request that needs it, under that request's context, and a
//     failure is that request's answer (503). runtime.Supervisor restarts
//     in the background with backoff, which would start gateways nobody
//     needs and report failures to no one.
//   - Readiness is the "init" call on the control channel (it carries the
//     configuration), not a probe: it is protocol, so it is here.
//   - Stopping is the lifeline, not SIGTERM: closing the control channel
//     makes the gateway drain its servers and remove its socket directory
//     (SIGTERM would end the Go process at once, leaving the sockets). The
//     driver's Stop comes only after the lifeline's grace, as SIGKILL.
//   - No parent-death signal: the lifeline already ends the gateway when
//     the server dies, however it dies, and in order (sockets removed); a
//     SIGKILL from the kernel would skip that.
//   - No Recover: the gateway's channels are socket pairs private to the
//     server that started it, so a new server cannot reattach; the old
//     gateway ends with its lifeline and the new server starts its own.
//   - Its output goes to the server's log (logWriter), not to a log file:
//     the gateway writes little (warnings), and the server's log is where
//     an operator looks.

type process struct {
	handle  runtime.Handle
	ctl     *rpcClient
	keys    net.Conn
	sockDir string
	meta    string
	done    chan struct{} // closed when the process has exited
	exitErr error         // set before done closes

	mu     sync.Mutex
	routes map[string]*route
}

// Kill ends the gateway process abruptly, as a crash would (tests); the
// next request starts a new one.
func (g *Gateway) Kill() {
	g.mu.Lock()
	p := g.proc
	g.mu.Unlock()
	if p != nil {
		_ = g.driver.Stop(p.handle, 0) // SIGKILL
		<-p.done
	}
}

// running returns the live process, starting one if needed.
func (g *Gateway) running(ctx context.Context) (*process, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return nil, ErrClosed
	}
	if p := g.proc; p != nil {
		select {
		case <-p.done:
			g.log.Warn("s3 gateway process exited; starting a new one", "error", p.exitErr)
			p.release()
			g.proc = nil
		default:
			return p, nil
		}
	}
	p, err := g.start(ctx)
	if err != nil {
		return nil, err
	}
	g.proc = p
	g.starts++
	return p, nil
}

// shortTempDir is a base for the socket directory whose paths fit a Unix
// socket address (108 bytes).
func shortTempDir() string {
	if d := os.TempDir(); len(d) <= 40 {
		return d
	}
	return "/tmp"
}

// childEnvironment is the server's environment without its credentials
// (AWS_*, OPENFINSPACE_*), and the variable that makes the executable a
// gateway. Not runtime.DefaultEnv: the gateway is this program, and what
// the Go runtime and the platform read (TMPDIR, GOCOVERDIR, locale…) is
// kept.
func childEnvironment() []string {
	env := []string{childEnv + "=" + childEnvValue}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "AWS_") || strings.HasPrefix(kv, "OPENFINSPACE_") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (g *Gateway) start(ctx context.Context) (p *process, err error) {
	begin := time.Now()
	sockDir, err := os.MkdirTemp(shortTempDir(), "ofs-s3gw-")
	if err != nil {
		return nil, fmt.Errorf("s3gw: socket directory: %w", err)
	}
	ctlLocal, ctlRemote, err := socketPair("ctl")
	if err != nil {
		os.RemoveAll(sockDir)
		return nil, err
	}
	keysLocal, keysRemote, err := socketPair("keys")
	if err != nil {
		ctlLocal.Close()
		ctlRemote.Close()
		os.RemoveAll(sockDir)
		return nil, err
	}
	spec := runtime.Spec{
		Name: "s3gw", Path: g.cfg.Executable, Env: childEnvironment(), Dir: g.cfg.ObjectsDir,
		ExtraFiles: []*os.File{ctlRemote, keysRemote}, // fds 3 and 4
		Stdout:     newLogWriter(g.log, slog.LevelDebug),
		Stderr:     newLogWriter(g.log, slog.LevelWarn),
		// Its own process group (the driver's): a terminal's Ctrl-C
		// reaches the server, which then stops the gateway in order.
	}
	if g.cfg.Upstream != nil {
		spec.Dir = sockDir // no objects directory then
	}
	h, err := g.driver.Start(ctx, spec)
	ctlRemote.Close()
	keysRemote.Close()
	if err != nil {
		ctlLocal.Close()
		keysLocal.Close()
		os.RemoveAll(sockDir)
		return nil, fmt.Errorf("s3gw: starting the gateway process: %w", err)
	}
	p = &process{handle: h, ctl: newRPCClient(ctlLocal, 60*time.Second), keys: keysLocal, sockDir: sockDir,
		done: make(chan struct{}), routes: map[string]*route{}}
	go func() {
		e, werr := g.driver.Wait(context.Background(), h)
		if werr == nil {
			p.exitErr = e.Err()
		} else {
			p.exitErr = werr
		}
		_ = g.driver.Destroy(h)
		close(p.done)
	}()
	go func() {
		if err := serveRPC(keysLocal, g.signingKey); err != nil {
			select {
			case <-p.done:
			default:
				g.log.Warn("s3 gateway keys channel", "error", err)
			}
		}
	}()
	defer func() {
		if err != nil {
			_ = g.driver.Stop(h, 0)
			<-p.done
			p.release()
		}
	}()

	var resp ctlResponse
	init := &childInit{
		Root: g.cfg.ObjectsDir, SideCar: g.cfg.MetaDir, SockDir: sockDir,
		RootAccess: "OFSGWROOT" + randomHex(8), RootSecret: randomHex(24),
		Token: g.token, Account: g.cfg.AccountID, MaxConns: g.cfg.MaxConnections,
		DirectAddr: g.cfg.DirectAddr, DirectRegion: g.cfg.Region, Upstream: g.cfg.Upstream,
	}
	callErr := make(chan error, 1)
	go func() { callErr <- p.ctl.call(&ctlRequest{Op: "init", Init: init}, &resp) }()
	select {
	case err = <-callErr:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if err == nil && resp.Error != "" {
		err = errors.New(resp.Error)
	}
	if err != nil {
		return nil, fmt.Errorf("s3gw: initialising the gateway process: %w", err)
	}
	p.meta = resp.Meta
	objects := g.cfg.ObjectsDir
	if u := g.cfg.Upstream; u != nil {
		objects = cmp.Or(u.Endpoint, "Amazon S3")
	}
	g.log.Info("s3 gateway process started", "pid", h.PID, "objects", objects,
		"metadata", resp.Meta, "elapsed", time.Since(begin).Round(time.Millisecond))
	return p, nil
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return strings.ToUpper(hex.EncodeToString(b))
}

// release frees what the parent holds for a process that has exited.
func (p *process) release() {
	p.ctl.close()
	p.keys.Close()
	p.mu.Lock()
	for _, rt := range p.routes {
		rt.transport.CloseIdleConnections()
	}
	p.mu.Unlock()
	os.RemoveAll(p.sockDir)
}

// Close stops the gateway process (waiting for in-flight requests up to
// ctx's deadline, then killing it) and removes its sockets.
func (g *Gateway) Close(ctx context.Context) error {
	g.mu.Lock()
	g.closed = true
	p := g.proc
	g.proc = nil
	g.mu.Unlock()
	defer g.downloads.close(ctx, 15*time.Second)
	if p == nil {
		return nil
	}
	// The gateway's shutdown waits for every connection it has not seen
	// idle, and fasthttp counts one that never carried a request as busy:
	// the transports' idle connections (some dialed for a request that
	// another connection served) go first.
	p.mu.Lock()
	for _, rt := range p.routes {
		rt.transport.CloseIdleConnections()
	}
	p.mu.Unlock()
	p.ctl.close() // the lifeline: the process shuts down
	timer := time.NewTimer(15 * time.Second)
	defer timer.Stop()
	var err error
	select {
	case <-p.done:
	case <-ctx.Done():
		err = fmt.Errorf("s3gw: the gateway process did not stop in time: %w", ctx.Err())
	case <-timer.C:
		err = errors.New("s3gw: the gateway process did not stop within 15s")
	}
	if err != nil {
		_ = g.driver.Stop(p.handle, 0) // SIGKILL, the lifeline's grace is over
		<-p.done
	}
	p.release()
	return err
}

// logWriter turns the gateway process's output into log records, a line
// each.
type logWriter struct {
	log   *slog.Logger
	level slog.Level
	mu    sync.Mutex
	buf   []byte
}

func newLogWriter(log *slog.Logger, level slog.Level) *logWriter {
	return &logWriter{log: log, level: level}
}

func (w *logWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	for {
		i := bytes.IndexByte(w.buf, '\n')
		if i < 0 {
			break
		}
		if line := strings.TrimSpace(string(w.buf[:i])); line != "" {
			w.log.Log(context.Background(), w.level, "s3 gateway process: "+line)
		}
		w.buf = w.buf[i+1:]
	}
	if len(w.buf) > 64<<10 {
		w.log.Log(context.Background(), w.level, "s3 gateway process: "+string(w.buf))
		w.buf = nil
	}
	return len(p), nil
}
