//go:build !linux

package runtime

import (
	"errors"
	"syscall"
)

// Elsewhere there is no parent-death signal and no /proc: processes have
// their own process group, and Recover refuses every handle.
const canRecover = false

func sysProcAttr(bool) *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }

type procStat struct {
	state      byte
	ppid, pgid int
	startTicks uint64
}

var errNoProcess = errors.New("no such process")

func readProcStat(int) (procStat, error) { return procStat{}, errors.New("runtime: no /proc here") }

func (s procStat) gone() bool { return true }

func bootID() string { return "" }
