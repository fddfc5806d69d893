package environment

import "testing"

func TestStatusMachine(t *testing.T) {
	allowed := []struct{ from, to Status }{
		{CreateRequested, Creating}, {Creating, Created}, {Created, DeleteRequested},
		{DeleteRequested, Deleting}, {Deleting, Deleted}, {Creating, DeleteRequested},
	}
	for _, tc := range allowed {
		if !CanMove(tc.from, tc.to) {
			t.Errorf("%s → %s refused", tc.from, tc.to)
		}
	}
	refused := []struct{ from, to Status }{
		{Created, Creating}, {Deleted, CreateRequested}, {Deleted, DeleteRequested},
		{CreateRequested, Created}, {DeleteRequested, Created}, {Deleting, Created},
	}
	for _, tc := range refused {
		if CanMove(tc.from, tc.to) {
			t.Errorf("%s → %s allowed", tc.from, tc.to)
		}
	}
	for s := range transitions {
		if s.terminal() && s != Deleted && len(transitions[s]) == 0 {
			t.Errorf("terminal status %s has no way out", s)
		}
	}
}
