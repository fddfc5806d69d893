package runtime

import (
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
	"syscall"
)

const canRecover = true

func sysProcAttr(dieWithParent bool) *syscall.SysProcAttr {
	a := &syscall.SysProcAttr{Setpgid: true}
	if dieWithParent {
		a.Pdeathsig = syscall.SIGKILL
	}
	return a
}

// procStat is what /proc/<pid>/stat says of a process.
type procStat struct {
	state      byte // R, S, D, Z, X, …
	ppid, pgid int
	startTicks uint64
}

var errNoProcess = fmt.Errorf("no such process")

func readProcStat(pid int) (procStat, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		if os.IsNotExist(err) {
			return procStat{}, errNoProcess
		}
		return procStat{}, err
	}
	// The command name (field 2) is in parentheses and may hold anything,
	// spaces and parentheses too: the fields that follow start after the
	// last ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("runtime: unreadable /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state), f[1] ppid, f[2] pgrp, f[19] field 22
	// (starttime).
	if len(f) < 20 || len(f[0]) != 1 {
		return procStat{}, fmt.Errorf("runtime: unreadable /proc/%d/stat", pid)
	}
	ppid, err1 := strconv.Atoi(f[1])
	pgid, err2 := strconv.Atoi(f[2])
	start, err3 := strconv.ParseUint(f[19], 10, 64)
	if err1 != nil || err2 != nil || err3 != nil {
		return procStat{}, fmt.Errorf("runtime: unreadable /proc/%d/stat", pid)
	}
	return procStat{state: f[0][0], ppid: ppid, pgid: pgid, startTicks: start}, nil
}

func (s procStat) gone() bool { return s.state == 'Z' || s.state == 'X' }

func bootID() string {
	b, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
