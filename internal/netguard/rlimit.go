package netguard

// fromLimit is the default cap for a descriptor limit of n.
func fromLimit(n uint64) int {
	if n == ^uint64(0) { // RLIM_INFINITY
		return 8192
	}
	return int(max(min(n/2, 8192), 16))
}
