package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	goruntime "runtime"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Local runs processes on this machine. The zero value is ready to use;
// a Local must not be copied after first use.
//
// The parent-death signal (Spec.DieWithParent) is sent when the *thread*
// that started the process exits, not the process: a Go thread exits when
// a goroutine locked to it (runtime.LockOSThread) returns without
// unlocking, which any library may do, and a process started from such a
// thread would be killed long before the server dies. So Local starts
// those processes from one goroutine of its own that locks its thread and
// keeps it locked (so no other goroutine runs there, and the thread does
// not exit) for as long as a process started on it lives; then it
// unlocks it, and the next such start locks one again.
type Local struct {
	mu    sync.Mutex
	tasks map[string]*localTask

	// forks feeds the locked thread's goroutine while forkLive processes
	// started on it live.
	forks    chan forkRequest
	forkLive int
}

type forkRequest struct {
	cmd *exec.Cmd
	res chan error
}

type localTask struct {
	h    Handle
	cmd  *exec.Cmd // nil for a recovered process (not our child)
	logs *logPump
	done chan struct{}
	exit Exit // set before done closes
}

const localDriver = "local"

var _ Driver = (*Local)(nil)

func (d *Local) put(t *localTask) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.tasks == nil {
		d.tasks = map[string]*localTask{}
	}
	d.tasks[t.h.ID] = t
}

func (d *Local) task(h Handle) (*localTask, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if t := d.tasks[h.ID]; t != nil && h.Driver == localDriver {
		return t, nil
	}
	return nil, ErrUnknown
}

// startOnLockedThread runs cmd.Start on the locked thread (see Local),
// starting that thread's goroutine if none runs. The goroutine ends, its
// thread unlocked, once no process started on it lives (forkDone).
func (d *Local) startOnLockedThread(cmd *exec.Cmd) error {
	d.mu.Lock()
	if d.forks == nil {
		forks := make(chan forkRequest)
		d.forks = forks
		go func() {
			goruntime.LockOSThread()
			for r := range forks {
				r.res <- r.cmd.Start()
			}
			// No process of ours has this thread for parent any more.
			goruntime.UnlockOSThread()
		}()
	}
	forks := d.forks
	d.forkLive++
	d.mu.Unlock()
	res := make(chan error, 1)
	forks <- forkRequest{cmd: cmd, res: res}
	err := <-res
	if err != nil {
		d.forkDone()
	}
	return err
}

// forkDone: a process started on the locked thread has exited.
func (d *Local) forkDone() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.forkLive--; d.forkLive == 0 {
		close(d.forks)
		d.forks = nil
	}
}

// Start starts the process. ctx bounds nothing after the start: the
// process runs until it exits or is stopped.
func (d *Local) Start(ctx context.Context, s Spec) (Handle, error) {
	if err := ctx.Err(); err != nil {
		return Handle{}, err
	}
	if err := checkName(s.Name); err != nil {
		return Handle{}, err
	}
	if s.Path == "" {
		return Handle{}, fmt.Errorf("runtime: %s: no executable", s.Name)
	}
	cmd := exec.Command(s.Path, s.Args...)
	cmd.Dir = s.Dir
	cmd.Env = s.Env
	if cmd.Env == nil {
		cmd.Env = DefaultEnv()
	}
	cmd.ExtraFiles = s.ExtraFiles
	cmd.SysProcAttr = sysProcAttr(s.DieWithParent)
	var pump *logPump
	if s.Log.Dir != "" {
		p, out, err := newLogPipe(s.Log, s.Name)
		if err != nil {
			return Handle{}, err
		}
		defer out.Close() // the child has its copy
		pump = p
		cmd.Stdout, cmd.Stderr = out, out
	} else {
		cmd.Stdout, cmd.Stderr = s.Stdout, s.Stderr
	}
	var err error
	locked := s.DieWithParent && goruntime.GOOS == "linux"
	if locked {
		err = d.startOnLockedThread(cmd)
	} else {
		err = cmd.Start()
	}
	if err != nil {
		if pump != nil {
			pump.abort()
		}
		return Handle{}, fmt.Errorf("runtime: starting %s: %w", s.Name, err)
	}
	pid := cmd.Process.Pid
	h := Handle{Driver: localDriver, PID: pid, Started: time.Now(), BootID: bootID()}
	if st, err := readProcStat(pid); err == nil {
		h.StartTicks = st.startTicks
	}
	h.ID = strconv.Itoa(pid) + "@" + strconv.FormatUint(h.StartTicks, 10)
	if pump != nil {
		l := s.Log.withDefaults()
		h.LogDir, h.LogName, h.LogMaxBytes, h.LogFiles = l.Dir, s.Name, l.MaxBytes, l.Files
	}
	if len(s.Meta) > 0 {
		h.Meta = make(map[string]string, len(s.Meta))
		for k, v := range s.Meta {
			h.Meta[k] = v
		}
	}
	t := &localTask{h: h, cmd: cmd, logs: pump, done: make(chan struct{})}
	d.put(t)
	go func() {
		err := cmd.Wait()
		t.exit = exitOf(cmd.ProcessState, err)
		if t.logs != nil {
			t.logs.finish()
		}
		if locked {
			d.forkDone()
		}
		close(t.done)
	}()
	return h, nil
}

func exitOf(ps *os.ProcessState, err error) Exit {
	e := Exit{Known: true, Code: -1, At: time.Now()}
	if ps == nil {
		e.Known = false
		return e
	}
	if ws, ok := ps.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		e.Signal = ws.Signal()
		return e
	}
	e.Code = ps.ExitCode()
	return e
}

// Recover adopts the process of a handle from a previous server (or
// returns nil if this driver holds it already). ErrGone: it has exited or
// the machine has rebooted since; ErrNotOurs: the pid is another
// process's now. A recovered process is watched through /proc (it is not
// our child: its exit status is not ours to learn), and its log, if it
// has one, is copied again from its pipe.
func (d *Local) Recover(ctx context.Context, h Handle) error {
	if h.Driver != localDriver {
		return fmt.Errorf("runtime: a %q handle given to the local driver", h.Driver)
	}
	if _, err := d.task(h); err == nil {
		return nil
	}
	if !canRecover {
		return errors.New("runtime: recovering processes needs Linux's /proc")
	}
	if h.PID <= 0 || h.StartTicks == 0 {
		return fmt.Errorf("runtime: a handle without pid and start time: %w", ErrNotOurs)
	}
	if h.BootID != bootID() {
		return fmt.Errorf("runtime: process %d was started before the machine rebooted: %w", h.PID, ErrGone)
	}
	if err := d.check(h); err != nil {
		return err
	}
	t := &localTask{h: h, done: make(chan struct{})}
	if h.LogDir != "" {
		p, err := openPump(Logs{Dir: h.LogDir, MaxBytes: h.LogMaxBytes, Files: h.LogFiles}, h.LogName)
		if err != nil {
			return fmt.Errorf("runtime: recovering process %d's log: %w", h.PID, err)
		}
		t.logs = p
	}
	d.put(t)
	go func() {
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for range tick.C {
			if d.check(h) != nil {
				break
			}
		}
		t.exit = Exit{Known: false, Code: -1, At: time.Now()}
		if t.logs != nil {
			t.logs.finish()
		}
		close(t.done)
	}()
	return nil
}

// check says whether h's process runs: nil, ErrGone or ErrNotOurs.
func (d *Local) check(h Handle) error {
	st, err := readProcStat(h.PID)
	switch {
	case errors.Is(err, errNoProcess):
		return fmt.Errorf("runtime: process %d: %w", h.PID, ErrGone)
	case err != nil:
		return err
	case st.startTicks != h.StartTicks || st.pgid != h.PID:
		return fmt.Errorf("runtime: process %d: %w", h.PID, ErrNotOurs)
	case st.gone():
		return fmt.Errorf("runtime: process %d has exited: %w", h.PID, ErrGone)
	}
	return nil
}

// Wait returns once the process has exited, or when ctx ends.
func (d *Local) Wait(ctx context.Context, h Handle) (Exit, error) {
	t, err := d.task(h)
	if err != nil {
		return Exit{}, err
	}
	select {
	case <-t.done:
		return t.exit, nil
	case <-ctx.Done():
		return Exit{}, ctx.Err()
	}
}

// Stop sends SIGTERM to the process group, SIGKILL after grace (at once
// when grace ≤ 0), and returns once the process has exited; what it
// started in its group is killed with it.
func (d *Local) Stop(h Handle, grace time.Duration) error {
	t, err := d.task(h)
	if err != nil {
		return err
	}
	select {
	case <-t.done:
		return nil
	default:
	}
	if t.cmd == nil && d.check(h) != nil {
		// A recovered process that is gone (or whose pid is reused): its
		// watcher will say so; signal nothing.
		<-t.done
		return nil
	}
	pgid := -h.PID
	if grace > 0 {
		_ = syscall.Kill(pgid, syscall.SIGTERM)
		timer := time.NewTimer(grace)
		select {
		case <-t.done:
		case <-timer.C:
		}
		timer.Stop()
	}
	select {
	case <-t.done:
	default:
		_ = syscall.Kill(pgid, syscall.SIGKILL)
		<-t.done
	}
	// The group outlives its leader while members remain; its id is not
	// reused meanwhile.
	_ = syscall.Kill(pgid, syscall.SIGKILL)
	return nil
}

// Inspect reports the process's state.
func (d *Local) Inspect(h Handle) (Status, error) {
	t, err := d.task(h)
	if err != nil {
		return Status{}, err
	}
	s := Status{State: StateRunning, PID: h.PID, Started: h.Started}
	select {
	case <-t.done:
		e := t.exit
		s.State, s.Exit = StateExited, &e
	default:
	}
	return s, nil
}

// Destroy stops the process if it runs (SIGKILL) and forgets it.
func (d *Local) Destroy(h Handle) error {
	if err := d.Stop(h, 0); err != nil {
		return err
	}
	d.mu.Lock()
	delete(d.tasks, h.ID)
	d.mu.Unlock()
	return nil
}

// Tail returns the last lines of the process's log.
func (d *Local) Tail(h Handle, lines int) ([]string, error) {
	if h.LogDir == "" {
		return nil, nil
	}
	return TailLog(h.LogDir, h.LogName, lines)
}
