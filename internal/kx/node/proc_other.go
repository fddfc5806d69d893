//go:build !linux

package node

import "syscall"

// Elsewhere a node has its own process group but outlives a server killed
// with SIGKILL (no parent-death signal).
func sysProcAttr() *syscall.SysProcAttr { return &syscall.SysProcAttr{Setpgid: true} }
