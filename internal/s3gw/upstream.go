package s3gw

import (
	"context"
	"fmt"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go/middleware"
	"github.com/versity/versitygw/backend"
	"github.com/versity/versitygw/backend/s3proxy"
)

// newUpstreamBackend is versitygw's s3proxy backend over the upstream
// service, in the gateway process: the main port's S3 requests, verified
// and authorized as with the posix backend, are made again to the
// upstream with its credentials, on buckets of the same names.
//
// The bodies it forwards are request streams, which cannot be hashed
// before they are sent nor retried: payloads are sent UNSIGNED-PAYLOAD
// (the client's own signature covered them on the main port), checksums
// only where an operation requires them, and no retries (the client
// retries the main-port request).
func newUpstreamBackend(u *Upstream) (backend.Backend, error) {
	o := s3.Options{
		Region:                     u.Region,
		Credentials:                credentials.NewStaticCredentialsProvider(u.AccessKeyID, u.SecretAccessKey, u.SessionToken),
		UsePathStyle:               u.PathStyle,
		Retryer:                    aws.NopRetryer{},
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
		HTTPClient:                 &http.Client{Transport: &http.Transport{Proxy: http.ProxyFromEnvironment, MaxIdleConnsPerHost: 64, IdleConnTimeout: 90 * time.Second}},
		APIOptions:                 []func(*middleware.Stack) error{v4.SwapComputePayloadSHA256ForUnsignedPayloadMiddleware},
	}
	if o.Region == "" {
		o.Region = DefaultRegion
	}
	if u.Endpoint != "" {
		o.BaseEndpoint = aws.String(u.Endpoint)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	be, err := s3proxy.NewWithClient(ctx, s3.New(o), "")
	if err != nil {
		return nil, fmt.Errorf("upstream S3 backend: %w", err)
	}
	return be, nil
}
