package server

import (
	"context"
	"net/http"
	"os"
	"path/filepath"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/s3gw"
)

// openObjects opens the blob store of Config.S3 and, unless it is turned
// off, the S3 endpoint of the main port (internal/s3gw). The objects live
// under <data-dir>/objects (the embedded store, reached through the
// gateway) or in an external S3 service, which the blob store reaches
// directly and the endpoint fronts. The gateway process starts on the
// first S3 request or blob operation.
func (s *Server) openObjects() error {
	bc := s.cfg.S3
	if !bc.NoEndpoint {
		gw, err := s3gw.New(s3gw.Config{
			ObjectsDir:  filepath.Join(s.cfg.DataDir, "objects"),
			MetaDir:     filepath.Join(s.cfg.DataDir, "objects-meta"),
			AccountID:   s.cfg.AccountID,
			Credentials: s.verifier.Credentials,
			Verifier:    s.verifier,
			Authz:       s.authz,
			Logger:      s.log,
			Limits:      s.cfg.S3Limits,
			Now:         s.cfg.Clock,
			Upstream:    upstream(bc),
		})
		if err != nil {
			return err
		}
		s.closers = append(s.closers, gw.Close)
		s.s3gw = gw
		bc.Gateway = gw
		bc.AccessKeyID, bc.SecretAccessKey = s.root.AccessKeyID, s.root.SecretAccessKey
	}
	var err error
	s.blobs, err = blob.Open(context.Background(), bc)
	return err
}

// localObject maps an object of the embedded store to its file (nil with
// an external store): changesets read those in place. The disk layout is
// the gateway's (s3gw.Gateway.LocalObject).
func (s *Server) localObject() func(bucket, key string) (string, bool) {
	if s.cfg.S3.External || s.s3gw == nil {
		return nil
	}
	return s.s3gw.LocalObject
}

// linkObject makes an open object file of the embedded store another
// object of it by a hard link (nil with an external store; false where the
// gateway cannot link, and the caller copies): s3gw.Gateway.LinkObject.
func (s *Server) linkObject() func(f *os.File, bucket, key string) (bool, error) {
	if s.cfg.S3.External || s.s3gw == nil {
		return nil
	}
	return s.s3gw.LinkObject
}

// upstream is the external service the endpoint fronts, nil for the
// embedded store.
func upstream(bc blob.Config) *s3gw.Upstream {
	if !bc.External {
		return nil
	}
	o := bc.S3
	return &s3gw.Upstream{Endpoint: o.Endpoint, Region: o.Region, AccessKeyID: o.AccessKeyID,
		SecretAccessKey: o.SecretAccessKey, SessionToken: o.SessionToken, PathStyle: o.PathStyle}
}

// s3Handler serves signing name "s3" on the main port: the gateway, or an
// S3 error saying the endpoint is turned off.
func (s *Server) s3Handler() http.Handler {
	if s.s3gw != nil {
		return s.s3gw
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(http.StatusNotImplemented)
		if r.Method != http.MethodHead {
			_, _ = w.Write([]byte(`<?xml version="1.0" encoding="UTF-8"?>` + "\n" +
				`<Error><Code>NotImplemented</Code><Message>The embedded S3 endpoint is turned off (OPENFINSPACE_S3_EMBEDDED=false): this server stores objects in an external S3 service.</Message></Error>`))
		}
	})
}
