package environment

import "github.com/openfinspace/openfinspace/internal/fault"

// Status is a FinSpace environment status (model enum EnvironmentStatus).
type Status string

const (
	CreateRequested Status = "CREATE_REQUESTED"
	Creating        Status = "CREATING"
	Created         Status = "CREATED"
	DeleteRequested Status = "DELETE_REQUESTED"
	Deleting        Status = "DELETING"
	Deleted         Status = "DELETED"
	FailedCreation  Status = "FAILED_CREATION"
	FailedDeletion  Status = "FAILED_DELETION"
)

// transitions is the status machine: the statuses each status may move to.
var transitions = map[Status][]Status{
	CreateRequested: {Creating, FailedCreation, DeleteRequested},
	Creating:        {Created, FailedCreation, DeleteRequested},
	Created:         {DeleteRequested},
	FailedCreation:  {DeleteRequested},
	DeleteRequested: {Deleting, FailedDeletion},
	Deleting:        {Deleted, FailedDeletion},
	FailedDeletion:  {DeleteRequested},
	Deleted:         {},
}

// terminal statuses need no reconciler.
func (s Status) terminal() bool {
	switch s {
	case Created, Deleted, FailedCreation, FailedDeletion:
		return true
	}
	return false
}

// deleting reports whether the environment is on its way out or gone.
func (s Status) deleting() bool {
	return s == DeleteRequested || s == Deleting || s == Deleted
}

// CanMove reports whether from → to is an allowed transition.
func CanMove(from, to Status) bool {
	for _, s := range transitions[from] {
		if s == to {
			return true
		}
	}
	return false
}

func (e *Environment) moveTo(to Status) error {
	if !CanMove(e.Status, to) {
		return fault.Invalidf("The Environment is in %s state and cannot move to %s.", e.Status, to)
	}
	e.Status = to
	return nil
}
