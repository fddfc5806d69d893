package kx

import "github.com/openfinspace/openfinspace/internal/fault"

// Machine is a status machine: the statuses each status may move to. The
// kx resources with a lifecycle (environments, changesets) share it.
type Machine[S ~string] map[S][]S

// CanMove reports whether from → to is an allowed transition.
func (m Machine[S]) CanMove(from, to S) bool {
	for _, s := range m[from] {
		if s == to {
			return true
		}
	}
	return false
}

// Move sets *cur to to if the machine allows it; what names the resource
// in the client-safe error otherwise ("The Environment").
func (m Machine[S]) Move(what string, cur *S, to S) error {
	if !m.CanMove(*cur, to) {
		return fault.Invalidf("%s is in %s state and cannot move to %s.", what, *cur, to)
	}
	*cur = to
	return nil
}
