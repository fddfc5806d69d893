package server

import (
	"context"
	"net/http"
	"os"
	"path/filepath"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/s3gw"
)

// addS3 mounts the embedded S3 endpoint (signing name "s3") and opens the
// blob store: the embedded gateway's (objects under <data-dir>/objects) or,
// when configured, an external S3 service's. The gateway process starts on
// the first S3 request or blob operation.
func (s *Server) addS3(out map[string]http.Handler) error {
	bc, err := s.s3Config()
	if err != nil {
		return err
	}
	if bc.EmbeddedEndpoint {
		limits, err := s3gw.LimitsFromEnv(os.Getenv) // OPENFINSPACE_S3_MAX_REQUESTS, OPENFINSPACE_S3_IDLE_TIMEOUT
		if err != nil {
			return err
		}
		gw, err := s3gw.New(s3gw.Config{
			ObjectsDir:  filepath.Join(s.cfg.DataDir, "objects"),
			MetaDir:     filepath.Join(s.cfg.DataDir, "objects-meta"),
			AccountID:   s.cfg.AccountID,
			Credentials: s.verifier.Credentials,
			Verifier:    s.verifier,
			Authz:       s.authz,
			Logger:      s.log,
			Limits:      limits,
		})
		if err != nil {
			return err
		}
		out["s3"] = gw
		s.closers = append(s.closers, gw.Close)
		s.s3gw = gw
		bc.Gateway = gw
		bc.AccessKeyID, bc.SecretAccessKey = s.root.AccessKeyID, s.root.SecretAccessKey
	} else {
		out["s3"] = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusNotImplemented)
			if r.Method != http.MethodHead {
				_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
					`<Error><Code>NotImplemented</Code><Message>The embedded S3 endpoint is turned off (OPENFINSPACE_S3_EMBEDDED=false): this server stores objects in an external S3 service.</Message></Error>`))
			}
		})
	}
	s.blobs, err = blob.Open(context.Background(), bc)
	return err
}
