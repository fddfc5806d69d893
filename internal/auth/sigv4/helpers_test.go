package sigv4

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/openfinspace/openfinspace/internal/auth"
)

// The fixed clock of most tests.
var testNow = time.Date(2024, 5, 6, 12, 0, 0, 0, time.UTC)

const (
	longAKID     = "AKIAOPENFINSPACE0001"
	longSecret   = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	tempAKID     = "ASIAOPENFINSPACE0002"
	tempSecret   = "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"
	tempToken    = "FwoGZXIvYXdzEXAMPLE//////////wEaDHNlc3Npb24tdG9rZW4tZm9yLXRlc3Rz"
	expiredAKID  = "ASIAOPENFINSPACE0003"
	expiredToken = "expired-session-token"
	region       = "us-east-1"
	arnPath      = "/tags/arn%3Aaws%3Afinspace%3Aus-east-1%3A000000000000%3AkxEnvironment%2Fabc%2FkxCluster%2Fc1"
)

var (
	longCreds    = aws.Credentials{AccessKeyID: longAKID, SecretAccessKey: longSecret}
	tempCreds    = aws.Credentials{AccessKeyID: tempAKID, SecretAccessKey: tempSecret, SessionToken: tempToken}
	expiredCreds = aws.Credentials{AccessKeyID: expiredAKID, SecretAccessKey: tempSecret, SessionToken: expiredToken}
)

func testStore() auth.Static {
	return auth.Static{
		longAKID: {AccessKeyID: longAKID, SecretAccessKey: longSecret,
			Principal: auth.Principal{Kind: auth.Root, Account: "000000000000", ARN: "arn:aws:iam::000000000000:root"}},
		tempAKID: {AccessKeyID: tempAKID, SecretAccessKey: tempSecret, SessionToken: tempToken,
			Expires: testNow.Add(time.Hour),
			Principal: auth.Principal{Kind: auth.AssumedRole, Account: "000000000000",
				ARN: "arn:aws:sts::000000000000:assumed-role/r/s"}},
		expiredAKID: {AccessKeyID: expiredAKID, SecretAccessKey: tempSecret, SessionToken: expiredToken,
			Expires:   testNow.Add(-time.Minute),
			Principal: auth.Principal{Kind: auth.AssumedRole, Account: "000000000000"}},
	}
}

func testVerifier() *Verifier {
	return &Verifier{Credentials: testStore(), Now: func() time.Time { return testNow }}
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// reqSpec describes one request to sign.
type reqSpec struct {
	name    string
	service string
	method  string
	target  string // escaped path and query, as sent
	body    string
	header  map[string]string
}

var specs = []reqSpec{
	{name: "finspace list with query", service: "finspace", method: "GET",
		target: "/kx/environments?maxResults=10&nextToken=abc%2Fdef%3D%3D"},
	{name: "finspace arn path", service: "finspace", method: "GET", target: arnPath},
	{name: "finspace arn path with query", service: "finspace", method: "GET",
		target: arnPath + "?z=1&a=2&a=1&m=%20x%2By"},
	{name: "finspace post json", service: "finspace", method: "POST", target: "/kx/environments",
		body:   `{"name":"env1","kmsKeyId":"arn:aws:kms:us-east-1:000000000000:key/1","tags":{"k":"v  w"}}`,
		header: map[string]string{"Content-Type": "application/json"}},
	{name: "finspace delete repeated keys", service: "finspace", method: "DELETE",
		target: arnPath + "?tagKeys=a&tagKeys=b"},
	{name: "finspace delete repeated keys unsorted", service: "finspace", method: "DELETE",
		target: arnPath + "?tagKeys=b&tagKeys=a&tagKeys=a%20b"},
	{name: "finspace unicode query", service: "finspace", method: "GET",
		target: "/kx/environments/e1/users?name=%E2%82%AC%20caf%C3%A9&x=%F0%9F%98%80&empty="},
	{name: "finspace reserved chars in path", service: "finspace", method: "GET",
		target: "/kx/environments/a~b.c_d-e/databases/db%20one"},
	{name: "finspace custom headers", service: "finspace", method: "PUT", target: "/kx/environments/e1",
		body: `{}`, header: map[string]string{"Content-Type": "application/json", "X-Custom": "  a   b  "}},
	{name: "finspace-api datasets", service: "finspace-api", method: "GET",
		target: "/datasetsv2?maxResults=10&nextToken=t%3D"},
	{name: "finspace-api post", service: "finspace-api", method: "POST", target: "/datasetsv2",
		body: `{"datasetTitle":"t","kind":"TABULAR"}`, header: map[string]string{"Content-Type": "application/x-amz-json-1.1"}},
	{name: "sts form", service: "sts", method: "POST", target: "/",
		body:   "Action=GetCallerIdentity&Version=2011-06-15",
		header: map[string]string{"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}},
	{name: "s3 put", service: "s3", method: "PUT", target: "/bucket/dir/my%20file%21.txt",
		body: "hello, object"},
	{name: "s3 list", service: "s3", method: "GET", target: "/bucket?list-type=2&prefix=a%2Fb&delimiter=%2F"},
}

// newRequest builds the client request for s, with its body.
func newRequest(t testing.TB, baseURL string, s reqSpec) *http.Request {
	t.Helper()
	var body io.Reader
	if s.body != "" {
		body = strings.NewReader(s.body)
	}
	req, err := http.NewRequest(s.method, baseURL+s.target, body)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range s.header {
		req.Header.Set(k, v)
	}
	return req
}

// signOpts tweaks sign.
type signOpts struct {
	creds    aws.Credentials
	at       time.Time
	presign  time.Duration // > 0: presign with this X-Amz-Expires
	noSHAHdr bool
}

// sign signs req as the Go SDK does for s.service: S3 single-encodes the
// path and sends X-Amz-Content-Sha256; presigned S3 uses UNSIGNED-PAYLOAD.
// For a presigned request it returns a new request for the presigned URL.
func sign(t testing.TB, req *http.Request, s reqSpec, o signOpts) *http.Request {
	t.Helper()
	signer := v4.NewSigner()
	var optFns []func(*v4.SignerOptions)
	if s.service == "s3" {
		optFns = append(optFns, func(so *v4.SignerOptions) { so.DisableURIPathEscaping = true })
	}
	hash := sha256Hex([]byte(s.body))
	if o.presign > 0 {
		if s.service == "s3" {
			hash = UnsignedPayload
		}
		req.URL.RawQuery = rawQueryWith(req.URL.RawQuery, "X-Amz-Expires", strconv.Itoa(int(o.presign/time.Second)))
		u, hdr, err := signer.PresignHTTP(context.Background(), o.creds, req, hash, s.service, region, o.at, optFns...)
		if err != nil {
			t.Fatal(err)
		}
		var body io.Reader
		if s.body != "" {
			body = strings.NewReader(s.body)
		}
		pr, err := http.NewRequest(s.method, u, body)
		if err != nil {
			t.Fatal(err)
		}
		for k, vs := range hdr {
			if strings.EqualFold(k, "Host") {
				continue
			}
			pr.Header[k] = vs
		}
		return pr
	}
	if s.service == "s3" && !o.noSHAHdr {
		req.Header.Set("X-Amz-Content-Sha256", hash)
	}
	if err := signer.SignHTTP(context.Background(), o.creds, req, hash, s.service, region, o.at, optFns...); err != nil {
		t.Fatal(err)
	}
	return req
}

func rawQueryWith(raw, k, v string) string {
	if raw == "" {
		return k + "=" + v
	}
	return raw + "&" + k + "=" + v
}

// verifyDirect verifies the client-side request object itself.
func verifyDirect(v *Verifier, req *http.Request) (*Result, error) {
	var body []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		body = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	return v.Verify(context.Background(), req, body)
}

// outcome is what the test server reports.
type outcome struct {
	OK          bool   `json:"ok"`
	Status      int    `json:"status"`
	Code        string `json:"code"`
	Message     string `json:"message"`
	AccessKeyID string `json:"accessKeyId"`
	Service     string `json:"service"`
	Region      string `json:"region"`
	Principal   string `json:"principal"`
	Presigned   bool   `json:"presigned"`
}

// newServer starts a server that verifies every request with v and reports
// the outcome as JSON.
func newServer(t testing.TB, v *Verifier) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		var o outcome
		res, err := v.Verify(r.Context(), r, body)
		var e *Error
		switch {
		case err == nil:
			o = outcome{OK: true, AccessKeyID: res.AccessKeyID, Service: res.Service, Region: res.Region,
				Principal: res.Principal.ARN, Presigned: res.Presigned}
		case errors.As(err, &e):
			o = outcome{Status: e.Status, Code: e.Code, Message: e.Message}
		default:
			o = outcome{Status: 500, Code: "InternalError", Message: err.Error()}
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(o)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func send(t testing.TB, req *http.Request) outcome {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var o outcome
	if err := json.NewDecoder(resp.Body).Decode(&o); err != nil {
		t.Fatalf("decoding outcome: %v", err)
	}
	return o
}

// wantCode checks err is a *Error with the given code.
func wantCode(t testing.TB, err error, code string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got error %v (%T), want *Error %s", err, err, code)
	}
	if e.Code != code {
		t.Fatalf("got %s (%q), want %s", e.Code, e.Message, code)
	}
	for _, secret := range []string{longSecret, tempSecret, tempToken, expiredToken} {
		if strings.Contains(e.Message, secret) {
			t.Fatalf("message leaks a secret: %q", e.Message)
		}
	}
	return e
}

// sdkSignWithHash signs req with the long-term key at testNow, with the given
// payload hash.
func sdkSignWithHash(req *http.Request, s reqSpec, hash string) error {
	return v4.NewSigner().SignHTTP(context.Background(), longCreds, req, hash, s.service, region, testNow,
		func(so *v4.SignerOptions) { so.DisableURIPathEscaping = s.service == "s3" })
}
