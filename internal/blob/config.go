package blob

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// Gateway is the embedded S3 endpoint as the embedded store reaches it:
// implemented by *s3gw.Gateway.
type Gateway interface {
	// EndpointURL is the base URL to sign requests for.
	EndpointURL() string
	// Region is the region the gateway verifies signatures for.
	Region() string
	// HTTPClient reaches the gateway privately (not through the main port).
	HTTPClient() *http.Client
}

// NewEmbedded returns the store kept by the embedded gateway: an S3 client
// of gw signing with the given credentials (the server's root credentials).
func NewEmbedded(gw Gateway, accessKeyID, secretAccessKey string) (*S3Store, error) {
	if gw == nil {
		return nil, errors.New("blob: no embedded gateway")
	}
	st, err := NewS3(S3Options{
		Endpoint:        gw.EndpointURL(),
		Region:          gw.Region(),
		AccessKeyID:     accessKeyID,
		SecretAccessKey: secretAccessKey,
		PathStyle:       true,
		HTTPClient:      gw.HTTPClient(),
	})
	if err != nil {
		return nil, err
	}
	st.kind = "embedded"
	if y, ok := gw.(Syncer); ok {
		st.syncer = y
	}
	return st, nil
}

// Config selects and configures the blob store. The zero value is the
// embedded store behind the main port's S3 endpoint.
type Config struct {
	// External is true when an external S3 service is configured
	// (OPENFINSPACE_S3_ENDPOINT, OPENFINSPACE_S3_BUCKET or
	// OPENFINSPACE_S3_BUCKET_PREFIX set); the embedded store is used
	// otherwise.
	External bool
	// S3 configures the external service.
	S3 S3Options
	// NoEndpoint turns off the S3 endpoint on the main port
	// (OPENFINSPACE_S3_EMBEDDED=false; the zero value serves it). Only with
	// an external service: the embedded store has no other way in. With
	// an external service the endpoint fronts its buckets (same names), so
	// several servers serve the same objects; a single bucket or a bucket
	// prefix needs the endpoint turned off.
	NoEndpoint bool

	// For the embedded store: the gateway and the credentials to sign with.
	Gateway                      Gateway
	AccessKeyID, SecretAccessKey string
}

// Environment variables read by ConfigFromEnv.
const (
	EnvEndpoint     = "OPENFINSPACE_S3_ENDPOINT"
	EnvBucket       = "OPENFINSPACE_S3_BUCKET"
	EnvBucketPrefix = "OPENFINSPACE_S3_BUCKET_PREFIX"
	EnvAccessKeyID  = "OPENFINSPACE_S3_ACCESS_KEY_ID"
	EnvSecretKey    = "OPENFINSPACE_S3_SECRET_ACCESS_KEY"
	EnvSessionToken = "OPENFINSPACE_S3_SESSION_TOKEN"
	EnvRegion       = "OPENFINSPACE_S3_REGION"
	EnvPathStyle    = "OPENFINSPACE_S3_PATH_STYLE"
	EnvEmbedded     = "OPENFINSPACE_S3_EMBEDDED"
)

// ConfigFromEnv reads the OPENFINSPACE_S3_* variables through getenv
// (os.Getenv):
//
//	OPENFINSPACE_S3_ENDPOINT           external S3 URL (empty: Amazon S3 when a bucket is set)
//	OPENFINSPACE_S3_BUCKET             one physical bucket holding every logical bucket as a prefix
//	OPENFINSPACE_S3_BUCKET_PREFIX      or: a prefix prepended to every logical bucket name
//	OPENFINSPACE_S3_ACCESS_KEY_ID      credentials of the external service
//	OPENFINSPACE_S3_SECRET_ACCESS_KEY
//	OPENFINSPACE_S3_SESSION_TOKEN      optional
//	OPENFINSPACE_S3_REGION             default us-east-1
//	OPENFINSPACE_S3_PATH_STYLE         true|false, default true with an endpoint, false without
//	OPENFINSPACE_S3_EMBEDDED           true|false: serve the S3 endpoint on the main port (default true;
//	                                   false is required with OPENFINSPACE_S3_BUCKET or _BUCKET_PREFIX)
func ConfigFromEnv(getenv func(string) string) (Config, error) {
	c := Config{}
	c.S3 = S3Options{
		Endpoint:        strings.TrimSpace(getenv(EnvEndpoint)),
		Bucket:          strings.TrimSpace(getenv(EnvBucket)),
		BucketPrefix:    strings.TrimSpace(getenv(EnvBucketPrefix)),
		AccessKeyID:     getenv(EnvAccessKeyID),
		SecretAccessKey: getenv(EnvSecretKey),
		SessionToken:    getenv(EnvSessionToken),
		Region:          strings.TrimSpace(getenv(EnvRegion)),
		PathStyle:       strings.TrimSpace(getenv(EnvEndpoint)) != "",
	}
	if c.S3.Region == "" {
		c.S3.Region = "us-east-1"
	}
	if v := strings.TrimSpace(getenv(EnvPathStyle)); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("%s=%q: want true or false", EnvPathStyle, v)
		}
		c.S3.PathStyle = b
	}
	if v := strings.TrimSpace(getenv(EnvEmbedded)); v != "" {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("%s=%q: want true or false", EnvEmbedded, v)
		}
		c.NoEndpoint = !b
	}
	c.External = c.S3.Endpoint != "" || c.S3.Bucket != "" || c.S3.BucketPrefix != ""
	return c, c.Validate()
}

// Validate checks the combination of settings.
func (c Config) Validate() error {
	if !c.External {
		if c.NoEndpoint {
			return fmt.Errorf("%s=false needs an external S3 service (%s)", EnvEmbedded, EnvEndpoint)
		}
		return nil
	}
	if c.S3.AccessKeyID == "" || c.S3.SecretAccessKey == "" {
		return fmt.Errorf("external S3: set %s and %s", EnvAccessKeyID, EnvSecretKey)
	}
	if c.S3.Bucket != "" && c.S3.BucketPrefix != "" {
		return fmt.Errorf("external S3: set %s or %s, not both", EnvBucket, EnvBucketPrefix)
	}
	if !c.NoEndpoint && (c.S3.Bucket != "" || c.S3.BucketPrefix != "") {
		// The main port's S3 endpoint fronts the external service's buckets
		// by their own names; it cannot map them into one bucket or under a
		// prefix.
		return fmt.Errorf("external S3: with %s or %s the S3 endpoint on the main port cannot serve the objects: set %s=false",
			EnvBucket, EnvBucketPrefix, EnvEmbedded)
	}
	if c.S3.Endpoint != "" && !strings.HasPrefix(c.S3.Endpoint, "http://") && !strings.HasPrefix(c.S3.Endpoint, "https://") {
		return fmt.Errorf("external S3: %s=%q must be an http:// or https:// URL", EnvEndpoint, c.S3.Endpoint)
	}
	return nil
}

// Open returns the configured store: the external service when
// c.External, the embedded gateway's store otherwise.
func Open(ctx context.Context, c Config) (*S3Store, error) {
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("blob: %w", err)
	}
	if c.External {
		return NewS3(c.S3)
	}
	return NewEmbedded(c.Gateway, c.AccessKeyID, c.SecretAccessKey)
}
