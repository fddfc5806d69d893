package blob

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
)

// Working location types (finspace-data GetWorkingLocation locationType).
const (
	LocationIngestion = "INGESTION"
	LocationSageMaker = "SAGEMAKER"
)

// WorkingLocationBucket is the name of an environment's working bucket:
// finspace-<region>-<account>-<environmentId>, or, when that is not a valid
// bucket name (too long, unexpected characters),
// finspace-<region>-<hash of account, region and environment>.
func WorkingLocationBucket(account, region, environmentID string) string {
	name := "finspace-" + region + "-" + account + "-" + environmentID
	if plain(region) && plain(account) && plain(environmentID) && ValidBucketName(name) == nil {
		return name
	}
	sum := sha256.Sum256([]byte(account + "\x00" + region + "\x00" + environmentID))
	r := strings.Map(func(c rune) rune {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' {
			return c
		}
		return -1
	}, strings.ToLower(region))
	if len(r) > 20 {
		r = r[:20]
	}
	r = strings.Trim(r, "-")
	if r == "" {
		r = "x"
	}
	return "finspace-" + r + "-" + hex.EncodeToString(sum[:])[:32]
}

// plain is lowercase letters, digits and inner hyphens only.
func plain(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// WorkingLocation returns, creating the bucket on first use, the bucket and
// prefix where the users of an environment stage files: "ingestion/" for
// INGESTION (the default when locationType is empty) and "sagemaker/" for
// SAGEMAKER, in the environment's working bucket (WorkingLocationBucket).
//
// Who may use it: on the embedded endpoint every authenticated principal of
// the account that is not a scoped read credential (root, STS sessions,
// FinSpace users' programmatic credentials) may read and write every bucket,
// so any user of the environment can write the location and the server
// (changesets read through this Store) can read it; scoped read credentials
// issued for bucket/prefix may only read under it. There is no per-user or
// per-environment isolation between principals of one account yet.
//
// With an external S3 service configured with a single bucket or a bucket
// prefix, clients reach the location at S3Store.PhysicalLocation.
func WorkingLocation(ctx context.Context, b Store, account, region, environmentID, locationType string) (bucket, prefix string, err error) {
	switch locationType {
	case "", LocationIngestion:
		prefix = "ingestion/"
	case LocationSageMaker:
		prefix = "sagemaker/"
	default:
		return "", "", fmt.Errorf("blob: unknown working location type %q: want %s or %s", locationType, LocationIngestion, LocationSageMaker)
	}
	if account == "" || region == "" || environmentID == "" {
		return "", "", fmt.Errorf("blob: working location needs an account, a region and an environment id")
	}
	bucket = WorkingLocationBucket(account, region, environmentID)
	if err := b.EnsureBucket(ctx, bucket); err != nil {
		return "", "", err
	}
	return bucket, prefix, nil
}
