package node

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/runtime"
)

var (
	doubleOnce sync.Once
	doublePath string
	doubleErr  error
)

// kdbDouble builds the kdb+ test double (package kdbdouble) once.
func kdbDouble(t *testing.T) string {
	t.Helper()
	doubleOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kdbdouble")
		if err != nil {
			doubleErr = err
			return
		}
		doublePath = filepath.Join(dir, "q")
		out, err := exec.Command("go", "build", "-o", doublePath, "../kdbdouble").CombinedOutput()
		if err != nil {
			doubleErr = fmt.Errorf("building the kdb+ test double: %v\n%s", err, out)
		}
	})
	if doubleErr != nil {
		t.Fatal(doubleErr)
	}
	return doublePath
}

func TestMain(m *testing.M) {
	if os.Getenv("NODE_TEST_PARENT") != "" {
		parentMain()
		return
	}
	code := m.Run()
	if doublePath != "" {
		os.RemoveAll(filepath.Dir(doublePath))
	}
	os.Exit(code)
}

// parentMain is a server stand-in: it starts a node, prints its pid and
// waits to be killed.
func parentMain() {
	port, _ := FreePort()
	p, err := Start(context.Background(), &runtime.Local{}, Spec{Executable: os.Getenv("NODE_TEST_Q"), Script: os.Getenv("NODE_TEST_SCRIPT"), Port: port})
	if err != nil {
		fmt.Println("error", err)
		os.Exit(1)
	}
	fmt.Println("pid", p.PID())
	time.Sleep(time.Hour)
}

func bootstrap(t *testing.T) string {
	t.Helper()
	script := filepath.Join(t.TempDir(), "bootstrap.q")
	b := Bootstrap{Database: "hdb", DatabaseRoot: "/opt/db", CodePath: "/opt/code", Args: [][2]string{{"procname", "hdb1"}}}
	if err := os.WriteFile(script, b.Script(), 0o644); err != nil {
		t.Fatal(err)
	}
	return script
}

func cmdline(t *testing.T, pid int) []string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Skip("no /proc:", err)
	}
	return strings.Split(strings.TrimSuffix(string(b), "\x00"), "\x00")
}

func TestStartProbeStop(t *testing.T) {
	q := kdbDouble(t)
	script := bootstrap(t)
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	p, err := Start(context.Background(), &runtime.Local{}, Spec{Executable: q, Script: script, Port: port, Dir: t.TempDir(),
		Args: []string{"-procname", "hdb1"}})
	if err != nil {
		t.Fatal(err)
	}
	if err := Probe("127.0.0.1:"+strconv.Itoa(port), time.Second); err != nil {
		t.Fatalf("probe of a ready node: %v", err)
	}
	if got, want := cmdline(t, p.PID()), []string{q, script, "-p", "127.0.0.1:" + strconv.Itoa(port), "-procname", "hdb1"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("command line %q, want %q", got, want)
	}
	p.Stop(5 * time.Second)
	select {
	case <-p.Done():
	default:
		t.Fatal("Stop returned before the process exited")
	}
	if err := Probe("127.0.0.1:"+strconv.Itoa(port), 200*time.Millisecond); err == nil {
		t.Error("the port still answers after Stop")
	}
}

func TestStartFailures(t *testing.T) {
	q := kdbDouble(t)
	d := &runtime.Local{}
	port, _ := FreePort()
	// q exits at once when its script is missing.
	_, err := Start(context.Background(), d, Spec{Executable: q, Script: filepath.Join(t.TempDir(), "missing.q"), Port: port})
	if err == nil || !strings.Contains(err.Error(), "exited before it listened") {
		t.Errorf("missing script: %v", err)
	}
	if _, err := Start(context.Background(), d, Spec{Executable: filepath.Join(t.TempDir(), "no-such-q"), Port: port}); err == nil {
		t.Error("a missing executable started")
	}
	if _, err := Start(context.Background(), d, Spec{Port: port}); err == nil {
		t.Error("no executable: started")
	}
	// A process that never listens is stopped after ReadyTimeout.
	mute := filepath.Join(t.TempDir(), "mute-q")
	if err := os.WriteFile(mute, []byte("#!/bin/sh\nexec sleep 60\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	_, err = Start(context.Background(), d, Spec{Executable: mute, Script: "x.q", Port: port, ReadyTimeout: 300 * time.Millisecond})
	if err == nil || !strings.Contains(err.Error(), "did not answer") {
		t.Errorf("never listening: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("gave up after %s", d)
	}
}

// TestStopKillsWhatIgnoresSIGTERM: a node that ignores SIGTERM is killed
// after the grace period.
func TestStopKillsWhatIgnoresSIGTERM(t *testing.T) {
	if _, err := exec.LookPath("python3"); err != nil {
		t.Skip("python3 is needed for a listener that ignores SIGTERM")
	}
	exe := filepath.Join(t.TempDir(), "stubborn-q")
	prog := `#!/usr/bin/env python3
import signal, socket, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)
port = int(sys.argv[sys.argv.index("-p") + 1].split(":")[-1])
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", port)); s.listen(8)
while True:
    c, _ = s.accept()
    data = b""
    while not data.endswith(b"\0"):
        chunk = c.recv(64)
        if not chunk: break
        data += chunk
    c.sendall(b"\x03"); c.close()
`
	if err := os.WriteFile(exe, []byte(prog), 0o755); err != nil {
		t.Fatal(err)
	}
	port, _ := FreePort()
	p, err := Start(context.Background(), &runtime.Local{}, Spec{Executable: exe, Script: "x.q", Port: port})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	p.Stop(300 * time.Millisecond)
	if d := time.Since(start); d < 300*time.Millisecond {
		t.Errorf("a process ignoring SIGTERM ended after %s, before the grace period", d)
	}
	if e := p.Exit(); !e.Known || e.Signal != syscall.SIGKILL {
		t.Errorf("ended by %v, want SIGKILL", e)
	}
}

// TestNodeDiesWithItsServer: SIGKILL of the process that started a node
// ends the node too (no orphan keeps the port).
func TestNodeDiesWithItsServer(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux's")
	}
	q := kdbDouble(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "NODE_TEST_PARENT=1", "NODE_TEST_Q="+q, "NODE_TEST_SCRIPT="+bootstrap(t))
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "pid ") {
		_ = cmd.Process.Kill()
		t.Fatalf("parent said %q (%v)", line, err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "pid ")))
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	deadline := time.Now().Add(10 * time.Second)
	for alive(pid) {
		if time.Now().After(deadline) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
			t.Fatalf("node %d outlived the server that started it", pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid runs (a zombie no one reaps does not).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

func TestBootstrapScript(t *testing.T) {
	b := Bootstrap{Database: "hdb", DatabaseRoot: "/opt/kx/app/db", CodePath: "/opt/kx/app/code",
		Args: [][2]string{{"procname", "hdb \"1\"\\x"}, {"s", "2"}}, InitScript: "init/start.q"}
	got := string(b.Script())
	for _, want := range []string{
		`.aws.akdb:"hdb";`,
		`.aws.akdbp:"/opt/kx/app/db";`,
		`.aws.akcp:"/opt/kx/app/code";`,
		".aws.args:(`$(\"procname\";\"s\"))!(\"hdb \\\"1\\\"\\\\x\";\"2\");",
		`system "cd ","/opt/kx/app/code";`,
		`system "l ","/opt/kx/app/code/init/start.q";`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("bootstrap lacks %s:\n%s", want, got)
		}
	}
	one := string(Bootstrap{Args: [][2]string{{"a", "b"}}}.Script())
	if !strings.Contains(one, ".aws.args:(`$enlist \"a\")!enlist \"b\";") {
		t.Errorf("one argument: %s", one)
	}
	none := string(Bootstrap{Database: "db", DatabaseRoot: "/r", LoadDatabase: true}.Script())
	if !strings.Contains(none, ".aws.args:(`$())!();") || !strings.Contains(none, `system "l ","/r/db";`) {
		t.Errorf("no arguments, database loaded: %s", none)
	}
	if s := qString("a\nb\x00\x7f"); s != `"a\012b\000\177"` {
		t.Errorf("control bytes: %s", s)
	}
}

func TestCheckInitScript(t *testing.T) {
	for _, ok := range []string{"init.q", "somedir/init.q", "a/b/c.q", "..q"} {
		if err := CheckInitScript(ok); err != nil {
			t.Errorf("%q: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "/etc/init.q", "../init.q", "a/../../init.q", "a\\..\\init.q", "./init.q", "a//b.q", "a\x00.q"} {
		if err := CheckInitScript(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// TestStartLogAndReason: a node's output goes to its bounded log, and
// the error of a failed start names no local path (it may become a
// cluster's statusReason).
func TestStartLogAndReason(t *testing.T) {
	q := kdbDouble(t)
	logs := t.TempDir()
	missing := filepath.Join(t.TempDir(), "missing.q")
	port, _ := FreePort()
	_, err := Start(context.Background(), &runtime.Local{}, Spec{Executable: q, Script: missing, Port: port,
		Name: "node-1", Logs: runtime.Logs{Dir: logs, MaxBytes: 4096, Files: 2}})
	if err == nil || !strings.Contains(err.Error(), "exited before it listened on port "+strconv.Itoa(port)) {
		t.Fatalf("missing script: %v", err)
	}
	if strings.Contains(err.Error(), q) || strings.Contains(err.Error(), "/") {
		t.Errorf("the reason names a path: %v", err)
	}
	lines, err := runtime.TailLog(logs, "node-1", 5)
	if err != nil || len(lines) == 0 || !strings.HasPrefix(lines[len(lines)-1], "kdbdouble:") {
		t.Errorf("the node's log: %q, %v", lines, err)
	}

	// A running node's log is read through its Process.
	p, err := Start(context.Background(), &runtime.Local{}, Spec{Executable: q, Script: bootstrap(t), Port: port,
		Name: "node-2", Logs: runtime.Logs{Dir: logs}})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Stop(time.Second)
	if lines, err := p.LastLines(5); err != nil {
		t.Errorf("LastLines: %q, %v", lines, err)
	}
	if _, err := os.Stat(filepath.Join(logs, "node-2.log")); err != nil {
		t.Errorf("no log file: %v", err)
	}
}
