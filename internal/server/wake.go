package server

// WakeJobs makes the job engine look for due jobs of every kind now rather
// than at its next poll. A test that moves Config.Clock forward calls it,
// so that what the move made due runs at once (servertest.Clock does).
func (s *Server) WakeJobs() { s.jobs.WakeAll() }
