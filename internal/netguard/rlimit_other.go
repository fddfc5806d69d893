//go:build !unix

package netguard

// DefaultMaxConns is 8192 where there is no RLIMIT_NOFILE.
func DefaultMaxConns() int { return 8192 }
