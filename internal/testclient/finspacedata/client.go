// Package fdclient is a small typed client for the finspace-data API
// (signing name finspace-api), for tests: the aws-sdk-go-v2 module for this
// service no longer exists. The per-operation methods are generated from
// the model (client_gen.go, see internal/wire/gen); this file holds the
// hand-written part: the Client, APIError, SigV4 signing and transport.
//
// Requests are built as an AWS SDK builds them: URI labels percent-encoded
// (including '/' and ':'), list query members as repeated keys, a JSON body
// of the body members ("{}" when none is set, no body when the input has no
// body members), idempotency tokens filled with a random UUID when unset.
// The client does not validate inputs, so tests can send invalid requests.
package fdclient

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

// Client calls a finspace-data endpoint.
type Client struct {
	// Endpoint is the base URL, e.g. "http://127.0.0.1:8080".
	Endpoint string
	// Region is the SigV4 signing region ("us-east-1" when empty).
	Region string
	// Credentials sign every request; nil sends unsigned requests.
	Credentials aws.CredentialsProvider
	// HTTPClient sends the requests (http.DefaultClient when nil).
	HTTPClient *http.Client
	// Now returns the signing time (time.Now when nil).
	Now func() time.Time
}

// New returns a client for endpoint, signing with creds in region.
func New(endpoint, region string, creds aws.CredentialsProvider) *Client {
	return &Client{Endpoint: endpoint, Region: region, Credentials: creds}
}

// StaticCredentials returns a provider of fixed credentials.
func StaticCredentials(accessKeyID, secretAccessKey, sessionToken string) aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{
			AccessKeyID:     accessKeyID,
			SecretAccessKey: secretAccessKey,
			SessionToken:    sessionToken,
			Source:          "fdclient.StaticCredentials",
		}, nil
	})
}

// APIError is an error response of the service.
type APIError struct {
	StatusCode int
	Code       string // error shape name, e.g. "ValidationException"
	Message    string
	RequestID  string // x-amzn-RequestId
}

func (e *APIError) Error() string {
	s := fmt.Sprintf("finspace-data: %s (HTTP %d)", e.Code, e.StatusCode)
	if e.Message != "" {
		s += ": " + e.Message
	}
	if e.RequestID != "" {
		s += " [request id " + e.RequestID + "]"
	}
	return s
}

// do sends one request and decodes a success body into out. body is nil
// for inputs without body members. It returns the HTTP status code.
func (c *Client) do(ctx context.Context, op, method, path string, query url.Values, body, out any) (int, error) {
	var payload []byte
	if body != nil {
		var err error
		if payload, err = json.Marshal(body); err != nil {
			return 0, fmt.Errorf("%s: encode body: %w", op, err)
		}
	}
	u := strings.TrimRight(c.Endpoint, "/") + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if payload != nil {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	if payload != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if c.Credentials != nil {
		creds, err := c.Credentials.Retrieve(ctx)
		if err != nil {
			return 0, fmt.Errorf("%s: credentials: %w", op, err)
		}
		sum := sha256.Sum256(payload)
		region := c.Region
		if region == "" {
			region = "us-east-1"
		}
		now := time.Now
		if c.Now != nil {
			now = c.Now
		}
		err = v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), finspacedata.SigningName, region, now().UTC())
		if err != nil {
			return 0, fmt.Errorf("%s: sign: %w", op, err)
		}
	}
	hc := c.HTTPClient
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, fmt.Errorf("%s: read response: %w", op, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, decodeError(resp, data)
	}
	if len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s: decode response: %w", op, err)
		}
	}
	return resp.StatusCode, nil
}

// decodeError reads a rest-json error as the SDKs do: the code from the
// X-Amzn-ErrorType header (text before ':' and after '#'), else the body's
// __type or code; the message from message or Message.
func decodeError(resp *http.Response, data []byte) error {
	e := &APIError{StatusCode: resp.StatusCode, RequestID: resp.Header.Get("X-Amzn-Requestid")}
	var b struct {
		Type       string `json:"__type"`
		Code       string `json:"code"`
		Message    string `json:"message"`
		MessageCap string `json:"Message"`
	}
	_ = json.Unmarshal(data, &b) // a body that is not JSON still yields an APIError
	code := resp.Header.Get("X-Amzn-Errortype")
	if code == "" {
		code = cmpOr(b.Type, b.Code)
	}
	code, _, _ = strings.Cut(code, ":")
	if i := strings.LastIndex(code, "#"); i >= 0 {
		code = code[i+1:]
	}
	e.Code = strings.TrimSpace(code)
	e.Message = cmpOr(b.Message, b.MessageCap)
	return e
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// escapeLabel percent-encodes a URI label value as the AWS SDKs do: every
// byte except the unreserved characters A-Z a-z 0-9 - _ . ~ ('/' and ':'
// included).
func escapeLabel(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexDigits[c>>4])
		b.WriteByte(hexDigits[c&15])
	}
	return b.String()
}

// ErrMissingLabel is wrapped by the error of a call whose URI label member
// is nil or empty (the request can not be built, as in the SDKs).
var ErrMissingLabel = errors.New("URI label member must be set and non-empty")

func missingLabel(op, member string) error {
	return fmt.Errorf("%s: %s: %w", op, member, ErrMissingLabel)
}

// newIdempotencyToken returns a random version 4 UUID.
func newIdempotencyToken() *string {
	var u [16]byte
	_, _ = rand.Read(u[:]) // crypto/rand.Read never returns an error
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	s := fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
	return &s
}
