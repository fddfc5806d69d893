package server

import "net/http"

// delegates returns the handlers of the non-rest-json services served on
// the same port, by SigV4 signing name. Each lives in its own file.
func (s *Server) delegates() (map[string]http.Handler, error) {
	out := map[string]http.Handler{}
	for _, add := range []func(map[string]http.Handler) error{s.addSTS, s.addS3} {
		if err := add(out); err != nil {
			return nil, err
		}
	}
	return out, nil
}
