package runtime

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"syscall"
	"time"
)

// Driver runs processes; see the package documentation for the contract.
type Driver interface {
	Start(ctx context.Context, spec Spec) (Handle, error)
	Recover(ctx context.Context, h Handle) error
	Wait(ctx context.Context, h Handle) (Exit, error)
	Stop(h Handle, grace time.Duration) error
	Inspect(h Handle) (Status, error)
	Destroy(h Handle) error
	Tail(h Handle, lines int) ([]string, error)
}

// Spec is how to start one process.
type Spec struct {
	// Name names the process in its log file (<Log.Dir>/<Name>.log) and in
	// errors; it must be a plain file name.
	Name string
	// Path is the executable (a path, or a name looked up on PATH); Args
	// follow it (Args[0] is not the program name).
	Path string
	Args []string
	// Dir is the working directory ("" : the server's).
	Dir string
	// Env is the whole environment (nil: DefaultEnv()).
	Env []string
	// ExtraFiles are inherited as descriptors 3, 4, …; the caller keeps
	// (and closes) its copies.
	ExtraFiles []*os.File
	// DieWithParent kills the process (SIGKILL) when the server dies,
	// however it dies (Linux only; elsewhere it is ignored). A process
	// that must be recovered after our restart leaves it false.
	DieWithParent bool
	// Log, when Log.Dir is set, sends standard output and error to a
	// bounded, rotated log file; otherwise they go to Stdout and Stderr
	// (nil: discarded).
	Log            Logs
	Stdout, Stderr io.Writer
	// Meta is copied into the Handle (a port, a node id): what a
	// recovering server needs to reach the process again.
	Meta map[string]string
}

// Handle names a started process; it is what is persisted.
type Handle struct {
	Driver string `json:"driver"`
	// ID is the driver's id of the process: "<pid>@<start ticks>" here, a
	// pod's UID for a Kubernetes driver.
	ID  string `json:"id"`
	PID int    `json:"pid,omitempty"`
	// StartTicks is the process's start time in clock ticks after boot
	// (field 22 of /proc/<pid>/stat) and BootID the boot it belongs to: a
	// pid with another start time is another process.
	StartTicks uint64    `json:"startTicks,omitempty"`
	BootID     string    `json:"bootId,omitempty"`
	Started    time.Time `json:"started"`
	// LogDir and LogName locate the log (empty when there is none);
	// LogMaxBytes and LogFiles are its bounds.
	LogDir      string            `json:"logDir,omitempty"`
	LogName     string            `json:"logName,omitempty"`
	LogMaxBytes int64             `json:"logMaxBytes,omitempty"`
	LogFiles    int               `json:"logFiles,omitempty"`
	Meta        map[string]string `json:"meta,omitempty"`
}

// State is a process's state.
type State string

const (
	StateRunning State = "running"
	StateExited  State = "exited"
)

// Status is what Inspect reports.
type Status struct {
	State   State
	PID     int
	Started time.Time
	// Exit is set once the process has exited.
	Exit *Exit
	// Restarts counts the starts after the first (a Supervisor's Inspect;
	// a driver knows of one process only and says 0).
	Restarts int
}

// Exit is how a process ended.
type Exit struct {
	// Known is false for a recovered process: only a process's parent
	// learns its exit status, and that parent was the server before ours.
	Known bool
	// Code is the exit code, -1 when a signal ended the process.
	Code int
	// Signal is the signal that ended it (0 if none).
	Signal syscall.Signal
	At     time.Time
}

func (e Exit) String() string {
	switch {
	case !e.Known:
		return "exited (status unknown: not our child)"
	case e.Signal != 0:
		return "killed by signal " + e.Signal.String()
	}
	return "exit status " + strconv.Itoa(e.Code)
}

// Err is nil for a known exit status 0, e's description otherwise.
func (e Exit) Err() error {
	if e.Known && e.Signal == 0 && e.Code == 0 {
		return nil
	}
	return &ExitError{Exit: e}
}

// ExitError is an Exit as an error.
type ExitError struct{ Exit Exit }

func (e *ExitError) Error() string { return e.Exit.String() }

var (
	// ErrGone: the handle's process has exited (or the machine rebooted).
	ErrGone = errors.New("runtime: the process is gone")
	// ErrNotOurs: the handle's pid names another process now.
	ErrNotOurs = errors.New("runtime: the pid names another process (reused)")
	// ErrUnknown: this driver holds no such process (Start or Recover it).
	ErrUnknown = errors.New("runtime: unknown process handle")
)

// DefaultEnv is the environment a Spec without Env gets: PATH and HOME of
// the server's, nothing else (its credentials least of all).
func DefaultEnv() []string { return InheritEnv("PATH", "HOME") }

// InheritEnv is "KEY=value" for each of keys the server has set.
func InheritEnv(keys ...string) []string {
	var env []string
	for _, k := range keys {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	return env
}

func checkName(name string) error {
	if name == "" || name == "." || name == ".." || len(name) > 200 {
		return fmt.Errorf("runtime: bad process name %q", name)
	}
	for _, c := range name {
		if c == '/' || c == 0 || c == '\\' {
			return fmt.Errorf("runtime: bad process name %q", name)
		}
	}
	return nil
}
