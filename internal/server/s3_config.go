package server

import (
	"context"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/s3gw"
)

// Blobs is the server's object store.
func (s *Server) Blobs() blob.Store {
	if s.blobs == nil {
		return nil
	}
	return s.blobs
}

// S3Gateway is the embedded S3 endpoint, nil when it is turned off.
func (s *Server) S3Gateway() *s3gw.Gateway {
	return s.s3gw
}

// IssueScopedRead issues credentials that may only read bucket/prefix
// through the S3 endpoint, for ttl (see s3gw.IssueScopedRead).
func (s *Server) IssueScopedRead(ctx context.Context, bucket, prefix string, ttl time.Duration) (*auth.Credential, error) {
	if s.S3Gateway() == nil {
		// A client-safe answer, not an internal error: the credentials are
		// signed for the embedded endpoint, which this server does not run.
		return nil, fault.Unavailablef("External access to data views needs the embedded S3 endpoint; this server stores objects in an external S3 service (OPENFINSPACE_S3_EMBEDDED=false), whose own credentials must be used.")
	}
	return s3gw.IssueScopedRead(ctx, s.temp, s.cfg.AccountID, bucket, prefix, ttl)
}
