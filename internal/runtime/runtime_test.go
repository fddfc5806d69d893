package runtime

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The test binary is also every child of these tests: run with
// childArg as its first argument, it plays the part the next one names.
const childArg = "runtime-test-child"

func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == childArg {
		os.Exit(childMain(os.Args[2], os.Args[3:]))
	}
	os.Exit(m.Run())
}

func childMain(mode string, args []string) int {
	switch mode {
	case "sleep": // says hello, then waits to be stopped
		fmt.Println("hello", os.Getpid())
		time.Sleep(time.Hour)
	case "ignore-term":
		signal.Ignore(syscall.SIGTERM)
		fmt.Println("ready")
		time.Sleep(time.Hour)
	case "exit": // exit <code> <after>
		code, _ := strconv.Atoi(args[0])
		d, _ := time.ParseDuration(args[1])
		time.Sleep(d)
		return code
	case "env": // its environment and directory on stdout, "extra" on fd 3
		wd, _ := os.Getwd()
		fmt.Println("cwd", wd)
		for _, kv := range os.Environ() {
			fmt.Println("env", kv)
		}
		f := os.NewFile(3, "extra")
		if _, err := f.WriteString("extra\n"); err != nil {
			return 1
		}
	case "touch": // touch <file>, then sleep
		if err := os.WriteFile(args[0], nil, 0o600); err != nil {
			return 1
		}
		time.Sleep(time.Hour)
	case "spew": // spew <bytes>: numbered lines, then "end"
		n, _ := strconv.Atoi(args[0])
		w := bufio.NewWriter(os.Stdout)
		for i, written := 0, 0; written < n; i++ {
			k, _ := fmt.Fprintf(w, "line %08d %s\n", i, strings.Repeat("x", 50))
			written += k
		}
		fmt.Fprintln(w, "end")
		w.Flush()
	case "tick": // a numbered line every 20 ms
		for i := 0; ; i++ {
			fmt.Println("tick", i)
			time.Sleep(20 * time.Millisecond)
		}
	case "parent-die": // parent-die: starts a child that must die with it
		return parentDie()
	case "adopt-parent": // adopt-parent <log dir>: starts a child that outlives it
		return adoptParent(args[0])
	default:
		fmt.Fprintln(os.Stderr, "unknown mode", mode)
		return 2
	}
	return 0
}

func childSpec(name, mode string, args ...string) Spec {
	return Spec{Name: name, Path: os.Args[0], Args: append([]string{childArg, mode}, args...)}
}

// parentDie starts a child from a goroutine whose locked thread then
// exits — the parent-death signal's hazard, which Local must survive —
// prints the child's pid and waits to be killed.
func parentDie() int {
	// The main goroutine keeps the main thread, which never exits, so the
	// starting goroutine below runs on a thread that does.
	goruntime.LockOSThread()
	var d Local
	res := make(chan error, 1)
	var h Handle
	go func() {
		goruntime.LockOSThread() // never unlocked: this thread exits with the goroutine
		var err error
		h, err = d.Start(context.Background(), Spec{Name: "doomed", Path: os.Args[0],
			Args: []string{childArg, "sleep"}, DieWithParent: true})
		res <- err
	}()
	if err := <-res; err != nil {
		fmt.Println("error", err)
		return 1
	}
	// Give the exited thread's parent-death signal time to arrive, if
	// the child was started on it.
	time.Sleep(300 * time.Millisecond)
	if st, err := d.Inspect(h); err != nil || st.State != StateRunning {
		fmt.Println("error: the child died with the starting thread", st.Exit)
		return 1
	}
	fmt.Println("pid", h.PID)
	time.Sleep(time.Hour)
	return 0
}

// adoptParent starts a child writing to a log, prints its handle as JSON
// and exits, leaving the child running.
func adoptParent(logDir string) int {
	var d Local
	s := childSpec("adoptee", "tick")
	s.Log = Logs{Dir: logDir, MaxBytes: 4096, Files: 2}
	s.Meta = map[string]string{"port": "5001"}
	h, err := d.Start(context.Background(), s)
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	b, _ := json.Marshal(h)
	fmt.Println(string(b))
	return 0
}

// lineReader returns a writer for a child's stdout and a function that
// waits for its next line.
func lineReader(t *testing.T) (io.Writer, func() string) {
	t.Helper()
	r, w := io.Pipe()
	lines := make(chan string, 100)
	go func() {
		s := bufio.NewScanner(r)
		for s.Scan() {
			lines <- s.Text()
		}
		close(lines)
	}()
	t.Cleanup(func() { w.Close() })
	return w, func() string {
		t.Helper()
		select {
		case l := <-lines:
			return l
		case <-time.After(20 * time.Second):
			t.Fatal("no line from the child")
			return ""
		}
	}
}

func killGroupAtEnd(t *testing.T, pid int) {
	t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
}

func TestStartEnvDirExtraFiles(t *testing.T) {
	t.Setenv("RUNTIME_TEST_SECRET", "leaked")
	var d Local
	dir := t.TempDir()
	er, ew, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer er.Close()
	var out strings.Builder
	var mu sync.Mutex
	s := childSpec("env", "env")
	s.Dir, s.ExtraFiles = dir, []*os.File{ew}
	s.Stdout = writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	s.Meta = map[string]string{"port": "1234"}
	h, err := d.Start(context.Background(), s)
	ew.Close()
	if err != nil {
		t.Fatal(err)
	}
	if h.Driver != "local" || h.PID <= 0 || h.Meta["port"] != "1234" {
		t.Errorf("handle %+v", h)
	}
	if goruntime.GOOS == "linux" && (h.StartTicks == 0 || h.BootID == "") {
		t.Errorf("handle without start time or boot id: %+v", h)
	}
	extra, _ := bufio.NewReader(er).ReadString('\n')
	if extra != "extra\n" {
		t.Errorf("fd 3 gave %q", extra)
	}
	e, err := d.Wait(context.Background(), h)
	if err != nil || !e.Known || e.Code != 0 || e.Err() != nil {
		t.Fatalf("exit %+v, %v", e, err)
	}
	st, err := d.Inspect(h)
	if err != nil || st.State != StateExited || st.Exit == nil || st.PID != h.PID {
		t.Errorf("inspect after exit: %+v, %v", st, err)
	}
	mu.Lock()
	got := out.String()
	mu.Unlock()
	if !strings.Contains(got, "cwd "+dir+"\n") {
		t.Errorf("working directory: %s", got)
	}
	if strings.Contains(got, "RUNTIME_TEST_SECRET") {
		t.Errorf("the server's environment reached the child: %s", got)
	}
	if p, ok := os.LookupEnv("PATH"); ok && !strings.Contains(got, "env PATH="+p+"\n") {
		t.Errorf("PATH not passed: %s", got)
	}
	if err := d.Destroy(h); err != nil {
		t.Fatal(err)
	}
	if _, err := d.Inspect(h); !errors.Is(err, ErrUnknown) {
		t.Errorf("inspect after Destroy: %v", err)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestExitStatusAndStartErrors(t *testing.T) {
	var d Local
	h, err := d.Start(context.Background(), childSpec("exit3", "exit", "3", "0s"))
	if err != nil {
		t.Fatal(err)
	}
	e, _ := d.Wait(context.Background(), h)
	var ee *ExitError
	if !e.Known || e.Code != 3 || !errors.As(e.Err(), &ee) || e.String() != "exit status 3" {
		t.Errorf("exit %+v (%v)", e, e.Err())
	}
	if _, err := d.Start(context.Background(), Spec{Name: "missing", Path: filepath.Join(t.TempDir(), "nope")}); err == nil {
		t.Error("a missing executable started")
	}
	for _, name := range []string{"", "a/b", "..", "x\x00"} {
		if _, err := d.Start(context.Background(), Spec{Name: name, Path: os.Args[0]}); err == nil {
			t.Errorf("name %q accepted", name)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := d.Start(ctx, childSpec("late", "sleep")); !errors.Is(err, context.Canceled) {
		t.Errorf("a start under an ended context: %v", err)
	}
}

func TestStopGraceThenKill(t *testing.T) {
	var d Local
	// A child that ends at SIGTERM goes at once.
	w, next := lineReader(t)
	s := childSpec("polite", "sleep")
	s.Stdout = w
	h, err := d.Start(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	killGroupAtEnd(t, h.PID)
	next()
	start := time.Now()
	if err := d.Stop(h, 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if e, _ := d.Wait(context.Background(), h); e.Signal != syscall.SIGTERM || time.Since(start) > 5*time.Second {
		t.Errorf("polite child: %v after %s", e, time.Since(start))
	}

	// One that ignores SIGTERM is killed after the grace.
	w, next = lineReader(t)
	s = childSpec("stubborn", "ignore-term")
	s.Stdout = w
	h, err = d.Start(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	killGroupAtEnd(t, h.PID)
	if l := next(); l != "ready" {
		t.Fatalf("child said %q", l)
	}
	start = time.Now()
	if err := d.Stop(h, 400*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el < 400*time.Millisecond {
		t.Errorf("a child ignoring SIGTERM ended after %s, before the grace", el)
	}
	e, _ := d.Wait(context.Background(), h)
	if e.Signal != syscall.SIGKILL {
		t.Errorf("stubborn child ended by %v, want SIGKILL", e)
	}
	if st, _ := d.Inspect(h); st.State != StateExited {
		t.Errorf("state after Stop: %v", st.State)
	}
	if err := d.Stop(h, time.Second); err != nil { // twice is fine
		t.Error(err)
	}
}

func TestStartReady(t *testing.T) {
	var d Local
	dir := t.TempDir()
	flag := filepath.Join(dir, "ready")
	fileReady := func(ctx context.Context, h Handle) error {
		for {
			if _, err := os.Stat(flag); err == nil {
				return nil
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(10 * time.Millisecond):
			}
		}
	}
	h, err := StartReady(context.Background(), &d, childSpec("touch", "touch", flag), fileReady, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	killGroupAtEnd(t, h.PID)
	if st, _ := d.Inspect(h); st.State != StateRunning {
		t.Errorf("ready process: %+v", st)
	}
	d.Destroy(h)

	os.Remove(flag)
	_, err = StartReady(context.Background(), &d, childSpec("dies", "exit", "7", "50ms"), fileReady, 20*time.Second)
	var ee *ExitError
	if !errors.Is(err, ErrExitedBeforeReady) || !errors.As(err, &ee) || ee.Exit.Code != 7 || !strings.Contains(err.Error(), "exit status 7") {
		t.Errorf("exited before ready: %v", err)
	}
	start := time.Now()
	_, err = StartReady(context.Background(), &d, childSpec("mute", "sleep"), fileReady, 300*time.Millisecond)
	if !errors.Is(err, ErrReadyTimeout) || time.Since(start) > 10*time.Second {
		t.Errorf("never ready: %v after %s", err, time.Since(start))
	}
	d.mu.Lock()
	left := len(d.tasks)
	d.mu.Unlock()
	if left != 0 {
		t.Errorf("%d processes left in the driver after failed starts", left)
	}
}

// TestSupervisorBackoff: a process that exits at once is restarted after
// doubling waits; one that stayed up StableAfter restarts after
// MinBackoff again.
func TestSupervisorBackoff(t *testing.T) {
	run := func(lifetime string, stable time.Duration) (ups []Event, gaps []time.Duration) {
		var d Local
		type stamped struct {
			e  Event
			at time.Time
		}
		events := make(chan stamped, 64)
		s := &Supervisor{Driver: &d, MinBackoff: 100 * time.Millisecond, MaxBackoff: 2 * time.Second, StableAfter: stable,
			Spec:    func(int) (Spec, error) { return childSpec("crash", "exit", "1", lifetime), nil },
			OnEvent: func(e Event) { events <- stamped{e, time.Now()} }}
		done := make(chan struct{})
		go func() { s.Run(context.Background()); close(done) }()
		var downAt time.Time
		for len(ups) < 5 {
			select {
			case ev := <-events:
				if ev.e.Up {
					if !downAt.IsZero() {
						gaps = append(gaps, ev.at.Sub(downAt))
					}
					ups = append(ups, ev.e)
				} else {
					if ev.e.Exit == nil || ev.e.Exit.Code != 1 || ev.e.Err == nil {
						t.Fatalf("exit event %+v", ev.e)
					}
					downAt = ev.at
				}
			case <-time.After(30 * time.Second):
				t.Fatal("no event from the supervisor")
			}
		}
		s.Stop()
		<-done
		if _, st := s.Inspect(); st.Restarts < 4 {
			t.Errorf("Inspect: %+v", st)
		}
		return ups, gaps
	}
	ups, gaps := run("0s", time.Hour)
	for i, e := range ups {
		if e.Restarts != i || e.Handle.PID <= 0 {
			t.Errorf("start %d: %+v", i, e)
		}
	}
	for i, g := range gaps {
		if want := 100 * time.Millisecond << i; g < want {
			t.Errorf("restart %d after %s, want at least %s (gaps %v)", i+1, g, want, gaps)
		}
	}
	// Up 300 ms each time, stable after 200 ms: the backoff stays at the
	// minimum (a doubling one would wait 800 ms before the fourth restart).
	_, gaps = run("300ms", 200*time.Millisecond)
	if last := gaps[len(gaps)-1]; last < 100*time.Millisecond || last >= 700*time.Millisecond {
		t.Errorf("a stable process restarted after %s (gaps %v), want the minimum backoff", last, gaps)
	}
}

// TestSupervisorReadinessAndStop: a start that is never ready is stopped
// and retried; Stop stops the running process.
func TestSupervisorReadinessAndStop(t *testing.T) {
	var d Local
	dir := t.TempDir()
	events := make(chan Event, 16)
	s := &Supervisor{Driver: &d, MinBackoff: 10 * time.Millisecond, ReadyTimeout: 300 * time.Millisecond, Grace: 2 * time.Second,
		Spec: func(restarts int) (Spec, error) {
			// The first start never signals readiness.
			flag := filepath.Join(dir, "never")
			if restarts > 0 {
				flag = filepath.Join(dir, "ready"+strconv.Itoa(restarts))
			}
			s := childSpec("node", "touch", flag)
			s.Meta = map[string]string{"flag": flag}
			return s, nil
		},
		Ready: func(ctx context.Context, h Handle) error {
			if strings.HasSuffix(h.Meta["flag"], "never") {
				<-ctx.Done()
				return ctx.Err()
			}
			for {
				if _, err := os.Stat(h.Meta["flag"]); err == nil {
					return nil
				}
				select {
				case <-ctx.Done():
					return ctx.Err()
				case <-time.After(10 * time.Millisecond):
				}
			}
		},
		OnEvent: func(e Event) { events <- e }}
	done := make(chan struct{})
	go func() { s.Run(context.Background()); close(done) }()
	first := <-events
	if first.Up || !errors.Is(first.Err, ErrReadyTimeout) {
		t.Fatalf("first event %+v", first)
	}
	var up Event
	select {
	case up = <-events:
	case <-time.After(20 * time.Second):
		t.Fatal("no second start")
	}
	if !up.Up || up.Restarts != 1 {
		t.Fatalf("second event %+v", up)
	}
	killGroupAtEnd(t, up.Handle.PID)
	if h, st := s.Inspect(); h.ID != up.Handle.ID || st.State != StateRunning || st.Restarts != 1 {
		t.Errorf("Inspect: %+v %+v", h, st)
	}
	s.Stop()
	<-done
	if alive(up.Handle.PID) {
		t.Error("Stop returned with the process running")
	}
	if last := <-events; !last.Stopped || last.Up || last.Handle.ID != up.Handle.ID || last.Exit == nil || last.Exit.Signal != syscall.SIGTERM {
		t.Errorf("the stopped process's event: %+v", last)
	}
	s.Stop() // twice is fine
}

// TestRecoverAcrossParents: a handle persisted by one parent process is
// adopted by another (this one), log included; stale handles are refused.
func TestRecoverAcrossParents(t *testing.T) {
	if !canRecover {
		t.Skip("no /proc")
	}
	logDir := t.TempDir()
	out, err := exec.Command(os.Args[0], childArg, "adopt-parent", logDir).Output()
	if err != nil {
		t.Fatalf("first parent: %v (%s)", err, out)
	}
	var h Handle
	if err := json.Unmarshal(out, &h); err != nil {
		t.Fatalf("first parent said %q: %v", out, err)
	}
	killGroupAtEnd(t, h.PID)
	if h.Meta["port"] != "5001" || h.LogName != "adoptee" {
		t.Errorf("persisted handle %+v", h)
	}

	// Stale handles first: a live pid with another start time, another
	// boot, a handle of another driver.
	var d Local
	reused := h
	reused.PID = os.Getpid()
	if err := d.Recover(context.Background(), reused); !errors.Is(err, ErrNotOurs) {
		t.Errorf("a reused pid: %v", err)
	}
	wrongTicks := h
	wrongTicks.StartTicks++
	if err := d.Recover(context.Background(), wrongTicks); !errors.Is(err, ErrNotOurs) {
		t.Errorf("another start time: %v", err)
	}
	rebooted := h
	rebooted.BootID = "another-boot"
	if err := d.Recover(context.Background(), rebooted); !errors.Is(err, ErrGone) {
		t.Errorf("another boot: %v", err)
	}
	k8s := h
	k8s.Driver = "kubernetes"
	if err := d.Recover(context.Background(), k8s); err == nil {
		t.Error("a kubernetes handle recovered")
	}

	if err := d.Recover(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	if st, err := d.Inspect(h); err != nil || st.State != StateRunning || st.PID != h.PID {
		t.Fatalf("recovered: %+v, %v", st, err)
	}
	// Its output, held in the pipe while no parent read it, reaches the
	// log again, which stays bounded.
	tickOf := func() int {
		lines, err := d.Tail(h, 1)
		if err != nil || len(lines) != 1 {
			return -1
		}
		n, err := strconv.Atoi(strings.TrimPrefix(lines[0], "tick "))
		if err != nil {
			return -1
		}
		return n
	}
	first := tickOf()
	waitFor(t, 20*time.Second, "the recovered process's log does not grow", func() bool { return tickOf() > first+5 })
	if n := logBytes(t, logDir); n > 2*4096 {
		t.Errorf("%d log bytes, bound 8192", n)
	}
	if err := d.Stop(h, 5*time.Second); err != nil {
		t.Fatal(err)
	}
	e, err := d.Wait(context.Background(), h)
	if err != nil || e.Known {
		t.Errorf("exit of a recovered process: %+v, %v", e, err)
	}
	if alive(h.PID) {
		t.Fatal("the recovered process survived Stop")
	}
	// Now gone: another server refuses the handle.
	if err := new(Local).Recover(context.Background(), h); !errors.Is(err, ErrGone) && !errors.Is(err, ErrNotOurs) {
		t.Errorf("a dead process's handle: %v", err)
	}
}

// TestParentDeathKillsChild: SIGKILL of the process that started a child
// with DieWithParent ends the child too, although the thread that asked
// for the start had exited long before.
func TestParentDeathKillsChild(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux's")
	}
	cmd := exec.Command(os.Args[0], childArg, "parent-die")
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
		_ = cmd.Wait()
		t.Fatalf("parent said %q (%v)", line, err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(line, "pid ")))
	killGroupAtEnd(t, pid)
	if !alive(pid) {
		t.Fatal("the child is not running")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitFor(t, 10*time.Second, "the child outlived its parent", func() bool { return !alive(pid) })
}

// TestLogRotationBound: a child writing far more than the bound leaves at
// most MaxBytes × Files on disk, the last lines readable.
func TestLogRotationBound(t *testing.T) {
	var d Local
	dir := t.TempDir()
	s := childSpec("spew", "spew", strconv.Itoa(8<<20))
	s.Log = Logs{Dir: dir, MaxBytes: 64 << 10, Files: 3}
	h, err := d.Start(context.Background(), s)
	if err != nil {
		t.Fatal(err)
	}
	const bound = 3 * 64 << 10
	max := int64(0)
	exited := make(chan struct{})
	go func() { _, _ = d.Wait(context.Background(), h); close(exited) }()
	for running := true; running; {
		select {
		case <-exited:
			running = false
		case <-time.After(5 * time.Millisecond):
		}
		if n := logBytes(t, dir); n > max {
			max = n
		}
	}
	if max > bound {
		t.Errorf("%d log bytes on disk at most, bound %d", max, bound)
	}
	if max < bound/2 {
		t.Errorf("%d log bytes at most: the log was not written", max)
	}
	lines, err := d.Tail(h, 3)
	if err != nil || len(lines) != 3 || lines[2] != "end" || !strings.HasPrefix(lines[0], "line ") {
		t.Fatalf("last lines %q, %v", lines, err)
	}
	// Whole lines per file: the first line of the oldest is a whole one.
	old, err := os.ReadFile(filepath.Join(dir, "spew.log.2"))
	if err != nil || !strings.HasPrefix(string(old), "line ") {
		t.Errorf("oldest file starts %.20q (%v)", old, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "spew.pipe")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the log pipe was left: %v", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Errorf("%d files in the log directory, want 3", len(entries))
	}
}

func TestTailLog(t *testing.T) {
	dir := t.TempDir()
	if lines, err := TailLog(dir, "none", 5); err != nil || lines != nil {
		t.Errorf("no log: %q, %v", lines, err)
	}
	r, err := openRotator(Logs{Dir: dir, MaxBytes: 20, Files: 3}, "n")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 10 {
		fmt.Fprintf(r, "l%d\n", i)
	}
	r.Close()
	lines, err := TailLog(dir, "n", 4)
	if err != nil || strings.Join(lines, ",") != "l6,l7,l8,l9" {
		t.Errorf("tail: %q, %v", lines, err)
	}
	all, _ := TailLog(dir, "n", 100)
	if len(all) == 0 || all[len(all)-1] != "l9" || len(all) > 15 {
		t.Errorf("everything kept: %q", all)
	}
}

func logBytes(t *testing.T, dir string) int64 {
	t.Helper()
	var n int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if info, err := e.Info(); err == nil && info.Mode().IsRegular() {
			n += info.Size()
		}
	}
	return n
}

func waitFor(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal(what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	if syscall.Kill(pid, 0) != nil {
		return false
	}
	st, err := readProcStat(pid)
	return err == nil && !st.gone()
}

// TestLockedThreadLifetime: processes started on the locked thread keep
// it while any of them lives; after the last one it is let go, and a
// later start takes a new one.
func TestLockedThreadLifetime(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("the parent-death signal is Linux's")
	}
	var d Local
	start := func(name string) Handle {
		t.Helper()
		s := childSpec(name, "sleep")
		s.DieWithParent = true
		h, err := d.Start(context.Background(), s)
		if err != nil {
			t.Fatal(err)
		}
		killGroupAtEnd(t, h.PID)
		return h
	}
	forks := func() (bool, int) {
		d.mu.Lock()
		defer d.mu.Unlock()
		return d.forks != nil, d.forkLive
	}
	a, b := start("a"), start("b")
	if on, n := forks(); !on || n != 2 {
		t.Fatalf("two children: thread %v, %d live", on, n)
	}
	d.Stop(a, 0)
	time.Sleep(100 * time.Millisecond)
	if !alive(b.PID) {
		t.Fatal("the second child died with the first")
	}
	d.Stop(b, 0)
	if on, n := forks(); on || n != 0 {
		t.Fatalf("no child: thread %v, %d live", on, n)
	}
	c := start("c")
	time.Sleep(100 * time.Millisecond)
	if st, _ := d.Inspect(c); st.State != StateRunning {
		t.Fatalf("a start after the thread was let go: %+v", st)
	}
	d.Stop(c, 0)
}
