package server_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/smithy-go"

	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
	wfinspace "github.com/openfinspace/openfinspace/internal/wire/finspace"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/restjson"
)

// notYetAvailable reads the README's "Not built yet" list: the
// operations that answer NotImplementedException, by signing name (lines
// "- `finspace`: `Op`, `Op` …" between its markers). The test below keeps
// it equal to what the server answers.
func notYetAvailable(t *testing.T) map[string][]string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- not built: TestEveryOperationIsRouted checks this list -->", "<!-- end of not built -->"
	i, j := bytes.Index(b, []byte(begin)), bytes.Index(b, []byte(end))
	if i < 0 || j < i {
		t.Fatalf("README.md has no %q … %q block", begin, end)
	}
	out := map[string][]string{}
	for _, line := range strings.Split(string(b[i+len(begin):j]), "\n") {
		m := regexp.MustCompile("^- `([a-z-]+)`:(.*)$").FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		for _, op := range regexp.MustCompile("`([A-Za-z]+)`").FindAllStringSubmatch(m[2], -1) {
			out[m[1]] = append(out[m[1]], op[1])
		}
	}
	return out
}

var labelRE = regexp.MustCompile(`\{([^}]+)\}`)

// requestPath fills every URI label with a value valid for most patterns.
func requestPath(op *restjson.Operation) string {
	return labelRE.ReplaceAllStringFunc(op.URI, func(string) string { return "abc123" })
}

type signedClient struct {
	srv    *server.Server
	signer *v4.Signer
	creds  aws.Credentials
	now    time.Time
}

func newSignedClient(srv *server.Server) *signedClient {
	root := srv.Root()
	return &signedClient{srv: srv, signer: v4.NewSigner(), creds: aws.Credentials{AccessKeyID: root.AccessKeyID, SecretAccessKey: root.SecretAccessKey}, now: time.Now()}
}

type wireResponse struct {
	status int
	code   string
	body   map[string]any
}

func (c *signedClient) do(t *testing.T, service, method, path string, body []byte, sign bool) wireResponse {
	t.Helper()
	req, err := http.NewRequest(method, c.srv.URL()+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if sign {
		sum := sha256.Sum256(body)
		if err := c.signer.SignHTTP(context.Background(), c.creds, req, hex.EncodeToString(sum[:]), service, servertest.Region, c.now); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := wireResponse{status: resp.StatusCode, code: resp.Header.Get("X-Amzn-ErrorType")}
	_ = json.Unmarshal(raw, &out.body)
	if resp.Header.Get("x-amzn-RequestId") == "" {
		t.Errorf("%s %s: no x-amzn-RequestId header", method, path)
	}
	return out
}

func TestEveryOperationIsRouted(t *testing.T) {
	srv := servertest.Start(t)
	c := newSignedClient(srv)
	services := map[string][]*restjson.Operation{"finspace": wfinspace.Operations, "finspace-api": finspacedata.Operations}
	if len(wfinspace.Operations) != 50 || len(finspacedata.Operations) != 31 {
		t.Fatalf("operation tables have %d and %d operations, want 50 and 31", len(wfinspace.Operations), len(finspacedata.Operations))
	}
	for service, ops := range services {
		var unavailable []string
		for _, op := range ops {
			path := requestPath(op)
			// Unsigned: refused before anything else.
			if r := c.do(t, service, op.Method, path, []byte("{}"), false); r.status != 403 || r.code != "MissingAuthenticationTokenException" {
				t.Errorf("%s unsigned: %d %s, want 403 MissingAuthenticationTokenException", op.Name, r.status, r.code)
			}
			// Signed: routed to the operation (binding and validation ran);
			// never the unknown-route answer, never a server error.
			r := c.do(t, service, op.Method, path, []byte("{}"), true)
			if r.code == "UnknownOperationException" || r.status >= 500 && r.status != 501 {
				t.Errorf("%s %s %s: %d %s %v", op.Name, op.Method, path, r.status, r.code, r.body)
			}
			if r.code == restjson.NotImplementedCode {
				unavailable = append(unavailable, op.Name)
				if msg, _ := r.body["message"].(string); !strings.Contains(msg, op.Name) {
					t.Errorf("%s: not-available message %q does not name the operation", op.Name, msg)
				}
			}
			if r.code != "" && r.code != restjson.NotImplementedCode && r.body["message"] == nil {
				t.Errorf("%s: error %s without a message", op.Name, r.code)
			}
		}
		sort.Strings(unavailable)
		listed := notYetAvailable(t)[service]
		for _, name := range unavailable {
			if !contains(listed, name) {
				t.Errorf("%s answers NotImplementedException but the README's \"Not built yet\" does not list it", name)
			}
		}

	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// TestNotYetAvailableList checks the list against the running server with
// requests valid enough to pass validation.
func TestNotYetAvailableList(t *testing.T) {
	impl := server.ImplementedOperations()
	notYet := notYetAvailable(t)
	for service, ops := range map[string][]*restjson.Operation{"finspace": wfinspace.Operations, "finspace-api": finspacedata.Operations} {
		for _, op := range ops {
			listed := contains(notYet[service], op.Name)
			if listed == impl[service][op.Name] {
				t.Errorf("%s/%s: listed as not available = %v, implemented = %v", service, op.Name, listed, impl[service][op.Name])
			}
		}
	}
}

func TestUnknownRoutesAndBadBodies(t *testing.T) {
	srv := servertest.Start(t)
	c := newSignedClient(srv)
	cases := []struct {
		name, service, method, path string
		body                        []byte
		status                      int
		code                        string
	}{
		{"unknown path", "finspace", "GET", "/no/such/route", nil, 404, "UnknownOperationException"},
		{"wrong method", "finspace", "PATCH", "/environment", nil, 404, "UnknownOperationException"},
		{"unknown service", "dynamodb", "GET", "/", nil, 400, "UnknownServiceException"},
		{"malformed JSON", "finspace", "POST", "/environment", []byte(`{"name":`), 400, "ValidationException"},
		{"JSON array", "finspace", "POST", "/environment", []byte(`[1,2]`), 400, "ValidationException"},
		{"wrong member type", "finspace", "POST", "/environment", []byte(`{"name": 42}`), 400, "ValidationException"},
		{"wrong nested type", "finspace", "POST", "/environment", []byte(`{"name":"ok","tags":{"a":1}}`), 400, "ValidationException"},
		{"bad query integer", "finspace", "GET", "/environment?maxResults=ten", nil, 400, "ValidationException"},
		{"oversized body", "finspace", "POST", "/environment", bytes.Repeat([]byte(" "), 17<<20), 400, "ValidationException"},
	}
	for _, tc := range cases {
		r := c.do(t, tc.service, tc.method, tc.path, tc.body, true)
		if r.status != tc.status || r.code != tc.code {
			t.Errorf("%s: %d %s %v, want %d %s", tc.name, r.status, tc.code, r.body, tc.status, tc.code)
		}
	}
}

func TestSignatureFailures(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	root := srv.Root()
	cases := []struct {
		name   string
		client *finspace.Client
		code   string
	}{
		{"wrong secret", servertest.Finspace(srv, func(o *finspace.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider(root.AccessKeyID, "wrong-secret", "")
		}), "InvalidSignatureException"},
		{"unknown key", servertest.Finspace(srv, func(o *finspace.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider("AKIAUNKNOWN000000000", root.SecretAccessKey, "")
		}), "UnrecognizedClientException"},
		{"session token with a long-term key", servertest.Finspace(srv, func(o *finspace.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider(root.AccessKeyID, root.SecretAccessKey, "token")
		}), "UnrecognizedClientException"},
	}
	for _, tc := range cases {
		_, err := tc.client.ListEnvironments(ctx, &finspace.ListEnvironmentsInput{})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != tc.code {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.code)
		}
	}
	// A request signed 20 minutes ago is outside the ±15 minute window.
	c := newSignedClient(srv)
	c.now = time.Now().Add(-20 * time.Minute)
	if r := c.do(t, "finspace", "GET", "/environment", nil, true); r.status != 403 || r.code != "InvalidSignatureException" ||
		!strings.Contains(r.body["message"].(string), "Signature expired") {
		t.Errorf("stale signature: %d %s %v", r.status, r.code, r.body)
	}
	c.now = time.Now().Add(-10 * time.Minute)
	if r := c.do(t, "finspace", "GET", "/environment", nil, true); r.status != 200 {
		t.Errorf("signature 10 minutes old: %d %s, want 200", r.status, r.code)
	}
	// A body under UNSIGNED-PAYLOAD is refused: the JSON APIs sign bodies.
	req, _ := http.NewRequest("POST", srv.URL()+"/environment", strings.NewReader(`{"name":"sneaky"}`))
	req.Header.Set("X-Amz-Content-Sha256", "UNSIGNED-PAYLOAD")
	if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: root.AccessKeyID, SecretAccessKey: root.SecretAccessKey},
		req, "UNSIGNED-PAYLOAD", "finspace", servertest.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
		if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-ErrorType") != "InvalidSignatureException" {
			t.Errorf("unsigned payload with a body: %d %s, want 403 InvalidSignatureException", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
		}
	}

	// Absent signature through a raw client.
	resp, err := http.Get(srv.URL() + "/environment")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Errorf("unsigned: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	// Health and metrics are open.
	for _, p := range []string{"/healthz", "/metrics"} {
		resp, err := http.Get(srv.URL() + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d", p, resp.StatusCode)
		}
		if p == "/metrics" && !bytes.Contains(b, []byte(`openfinspace_requests_total{operation="ListEnvironments",service="finspace",status="403"}`)) {
			t.Errorf("/metrics has no per-operation request counter:\n%.2000s", b)
		}
	}
}
