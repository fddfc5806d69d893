package server

import "github.com/openfinspace/openfinspace/internal/environment"

// WakeJobs makes the job engine look for due jobs now rather than at its
// next poll. A test that moves Config.Clock forward calls it, so that what
// the move made due runs at once (servertest.Clock does).
func (s *Server) WakeJobs() { s.jobs.Wake(environment.JobKind) }
