package server

import (
	"context"
	"errors"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/blob"
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
		return nil, errors.New("server: scoped read credentials need the embedded S3 endpoint")
	}
	return s3gw.IssueScopedRead(ctx, s.temp, s.cfg.AccountID, bucket, prefix, ttl)
}
