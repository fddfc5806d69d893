package server

import (
	"net/http"

	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/sts"
)

// delegates returns the handlers of the non-rest-json services served on
// the same port, by SigV4 signing name. Each lives in its own file.
func (s *Server) delegates() map[string]http.Handler {
	return map[string]http.Handler{
		sts.SigningName: s.stsHandler(),
		"s3":            s.countS3(s.s3Handler()),
		"glue":          s.glueHandler(), // glue.go
	}
}

// withLease applies Config.JobLease to a job kind.
func (s *Server) withLease(k *jobs.Kind) *jobs.Kind {
	if s.cfg.JobLease > 0 {
		k.Lease = s.cfg.JobLease
	}
	return k
}
