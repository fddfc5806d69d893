// Package auth authenticates requests (AWS Signature Version 4) and models
// the principals and credentials every API and the S3 endpoint share.
package auth

import (
	"context"
	"errors"
	"time"
)

// PrincipalKind says what kind of identity signed a request.
type PrincipalKind int

const (
	Root         PrincipalKind = iota // the server's root credentials
	AssumedRole                       // an STS AssumeRole session (issue 3)
	FinSpaceUser                      // a FinSpace user's programmatic credentials (issue 3)
	ScopedRead                        // read-only credentials for one S3 prefix (issue 4)
)

// Principal is the identity behind a credential.
type Principal struct {
	Kind    PrincipalKind
	Account string
	// ARN: arn:aws:iam::<account>:root, arn:aws:sts::<account>:assumed-role/<role>/<session>, ...
	ARN string
	// Attributes used by later issues; empty when not applicable.
	RoleARN        string // for AssumedRole
	EnvironmentID  string // for FinSpaceUser
	UserID         string // for FinSpaceUser
	Bucket, Prefix string // for ScopedRead
}

// Credential is a verifiable access key.
type Credential struct {
	AccessKeyID     string
	SecretAccessKey string
	// SessionToken must accompany requests signed with a temporary
	// credential; empty for long-term keys.
	SessionToken string
	// Expires is zero for credentials that never expire.
	Expires   time.Time
	Principal Principal
}

// ErrUnknownAccessKey is returned by a CredentialStore for an access key it
// does not hold.
var ErrUnknownAccessKey = errors.New("auth: unknown access key")

// CredentialStore looks up credentials by access key id. Later issues add
// stores (STS sessions, FinSpace users' temporary credentials, scoped S3
// credentials); Chain combines them.
type CredentialStore interface {
	LookupAccessKey(ctx context.Context, accessKeyID string) (*Credential, error)
}

// Chain asks each store in turn and returns the first credential found.
type Chain []CredentialStore

func (c Chain) LookupAccessKey(ctx context.Context, id string) (*Credential, error) {
	for _, s := range c {
		cred, err := s.LookupAccessKey(ctx, id)
		if err == nil {
			return cred, nil
		}
		if !errors.Is(err, ErrUnknownAccessKey) {
			return nil, err
		}
	}
	return nil, ErrUnknownAccessKey
}

// Static holds a fixed set of credentials (the root credentials).
type Static map[string]*Credential

func (s Static) LookupAccessKey(_ context.Context, id string) (*Credential, error) {
	if c, ok := s[id]; ok {
		return c, nil
	}
	return nil, ErrUnknownAccessKey
}
