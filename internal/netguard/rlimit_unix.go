//go:build unix

package netguard

import "syscall"

// DefaultMaxConns is min(8192, RLIMIT_NOFILE/2): each client connection
// may hold a second descriptor (the embedded S3 gateway's socket while it
// proxies), and the rest is headroom for the database, the gateway child
// and the listener itself. (Go raises the soft limit to the hard one at
// start, so the soft limit read here is normally the hard limit.)
func DefaultMaxConns() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur == 0 {
		return 512
	}
	return fromLimit(lim.Cur)
}
