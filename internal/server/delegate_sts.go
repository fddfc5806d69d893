package server

import (
	"net/http"

	"github.com/openfinspace/openfinspace/internal/sts"
)

// stsHandler is the STS endpoint (signing name "sts"): AssumeRole and
// GetCallerIdentity, with sessions issued by the temporary credential store
// and verified by the server's SigV4 verifier.
func (s *Server) stsHandler() http.Handler {
	return &sts.Handler{
		Account:     s.cfg.AccountID,
		Verifier:    s.verifier,
		Credentials: s.temp,
		Authz:       s.authz,
		Observer:    s.metrics,
		Logger:      s.log,
	}
}
