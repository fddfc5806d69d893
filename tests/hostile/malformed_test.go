package hostile_test

// Raw malformed requests over TCP to a real server: every answer, whether
// the handler's or one net/http writes itself before any handler runs, is
// an AWS error envelope with x-amzn-RequestId (rest-json; S3 XML for a
// request signed for s3).

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

// malformedCase is one raw request and the envelope it must get.
type malformedCase struct {
	name    string
	raw     string // the bytes sent; "{sig:finspace}" / "{sig:s3}" marks where signing headers go (see malformedSign)
	status  int
	code    string // "" accepts any code (still an envelope)
	mention string // the message must contain it
	s3      bool   // an S3 XML error instead of rest-json
	closed  bool   // the server closes the connection after (Connection: close)
}

// malformedSign returns the SigV4 header lines (Host, X-Amz-Date,
// X-Amz-Content-Sha256, Authorization) of an empty-bodied request to
// target as the verifier reads it. signAs is the target the SDK signer
// is given: the same, except where the test sends bytes the SDK would
// never produce (a bad escape "%zz" is signed as its literal reading
// "%25zz", which is how the verifier canonicalizes what it cannot decode).
func malformedSign(t *testing.T, srv *server.Server, service, method, signAs string) string {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL()+signAs, nil)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(nil)
	hash := hex.EncodeToString(sum[:])
	req.Header.Set("X-Amz-Content-Sha256", hash)
	root := srv.Root()
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: root.AccessKeyID, SecretAccessKey: root.SecretAccessKey},
		req, hash, service, servertest.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Host: %s\r\n", req.URL.Host)
	_ = req.Header.Write(&b)
	return b.String()
}

// malformedSigned is a signed request line plus headers, ready to send.
func malformedSigned(t *testing.T, srv *server.Server, service, method, target, signAs string) string {
	if signAs == "" {
		signAs = target
	}
	return method + " " + target + " HTTP/1.1\r\n" + malformedSign(t, srv, service, method, signAs) + "\r\n"
}

// malformedExchange sends raw on a new connection and reads one response.
func malformedExchange(t *testing.T, addr, raw string) (*http.Response, []byte, net.Conn, error) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	if _, err := c.Write([]byte(raw)); err != nil {
		return nil, nil, c, err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return nil, nil, c, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, body, c, err
}

// malformedCheck asserts that resp is the envelope tc wants.
func malformedCheck(t *testing.T, tc malformedCase, resp *http.Response, body []byte) {
	t.Helper()
	if resp.StatusCode != tc.status {
		t.Errorf("%s: status %d, want %d (%q)", tc.name, resp.StatusCode, tc.status, body)
	}
	if resp.Header.Get("x-amzn-RequestId") == "" {
		t.Errorf("%s: no x-amzn-RequestId in %v", tc.name, resp.Header)
	}
	var code, message string
	if tc.s3 {
		var e struct{ Code, Message, RequestId string }
		if err := xml.Unmarshal(body, &e); err != nil || e.Code == "" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/xml") {
			t.Errorf("%s: not an S3 error document: %q %v", tc.name, body, err)
		}
		code, message = e.Code, e.Message
	} else {
		var e struct {
			Type    *string `json:"__type"`
			Message *string `json:"message"`
		}
		if err := json.Unmarshal(body, &e); err != nil || e.Message == nil || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
			t.Errorf("%s: not a rest-json error: %s %q %v", tc.name, resp.Header.Get("Content-Type"), body, err)
			return
		}
		code = resp.Header.Get("X-Amzn-ErrorType")
		if e.Type != nil && *e.Type != code {
			t.Errorf("%s: __type %q but X-Amzn-ErrorType %q", tc.name, *e.Type, code)
		}
		message = *e.Message
	}
	if tc.code != "" && code != tc.code {
		t.Errorf("%s: code %q (%q), want %q", tc.name, code, message, tc.code)
	}
	if !strings.Contains(message, tc.mention) {
		t.Errorf("%s: message %q does not mention %q", tc.name, message, tc.mention)
	}
	if tc.closed && !resp.Close {
		t.Errorf("%s: no Connection: close", tc.name)
	}
}

func TestMalformedRequests(t *testing.T) {
	srv := servertest.Start(t)
	u, _ := url.Parse(srv.URL())
	addr := u.Host
	sig := func(service, method, target, signAs string) string {
		return malformedSigned(t, srv, service, method, target, signAs)
	}
	fakeAuth := "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261202/us-east-1/finspace/aws4_request, SignedHeaders=host, Signature=00\r\n"
	s3Auth := "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261202/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00\r\n"
	host := "Host: " + addr + "\r\n"
	big := strings.Repeat("a", server.MaxHeaderBytes+8<<10) // past net/http's 4 KiB of slack

	cases := []malformedCase{
		// Request lines net/http refuses.
		{name: "request line with two fields", raw: "GET /environment\r\n" + host + "\r\n", status: 400, code: "BadRequestException", mention: "request line", closed: true},
		{name: "HTTP/0.9 simple request", raw: "GET /\r\n\r\n", status: 400, code: "BadRequestException", closed: true},
		{name: "HTTP/0.9 request line", raw: "GET /environment HTTP/0.9\r\n" + host + "\r\n", status: 505, code: "HTTPVersionNotSupportedException", mention: "HTTP version", closed: true},
		{name: "HTTP/2.0 request line", raw: "GET /environment HTTP/2.0\r\n" + host + "\r\n", status: 505, code: "HTTPVersionNotSupportedException", closed: true},
		{name: "HTTP/3.0 request line", raw: "GET /environment HTTP/3.0\r\n" + host + "\r\n", status: 505, code: "HTTPVersionNotSupportedException", closed: true},
		{name: "malformed version", raw: "GET /environment HTTP/one\r\n" + host + "\r\n", status: 400, code: "BadRequestException", mention: "version", closed: true},
		{name: "lower-case version", raw: "GET /environment http/1.1\r\n" + host + "\r\n", status: 400, code: "BadRequestException", closed: true},
		{name: "extra field", raw: "GET /environment HTTP/1.1 extra\r\n" + host + "\r\n", status: 400, code: "BadRequestException", closed: true},
		{name: "bad method", raw: "GE(T /environment HTTP/1.1\r\n" + host + "\r\n", status: 400, code: "BadRequestException", mention: "method", closed: true},
		{name: "binary garbage", raw: "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", status: 400, code: "BadRequestException", closed: true},
		{name: "control character in the path", raw: "GET /environment/a\x7fb HTTP/1.1\r\n" + host + "\r\n", status: 400, closed: true},
		// Bad %-escapes in path labels: net/http refuses the request line;
		// the envelope names the label, signed or not.
		{name: "bad escape in environmentId", raw: "GET /environment/%zz HTTP/1.1\r\n" + host + fakeAuth + "\r\n", status: 400, code: "ValidationException", mention: "'environmentId'", closed: true},
		{name: "truncated escape in resourceArn", raw: "GET /tags/arn%3Aaws%3Afinspace%3 HTTP/1.1\r\n" + host + "\r\n", status: 400, code: "ValidationException", mention: "'resourceArn'", closed: true},
		{name: "bad escape in clusterName", raw: "DELETE /kx/environments/e1/clusters/c%G1?clientToken=t HTTP/1.1\r\n" + host + "\r\n", status: 400, code: "ValidationException", mention: "'clusterName'", closed: true},
		{name: "bad escape in a finspace-data label", raw: "GET /datasetsv2/%%41 HTTP/1.1\r\n" + host + "\r\n", status: 400, code: "ValidationException", mention: "'datasetId'", closed: true},
		{name: "bad escape in a literal", raw: "GET /environ%zzment HTTP/1.1\r\n" + host + "\r\n", status: 400, code: "BadRequestException", mention: "percent-encoded", closed: true},
		{name: "bad escape in an S3 key", raw: "PUT /bucket/k%zz HTTP/1.1\r\n" + host + s3Auth + "Content-Length: 0\r\n\r\n", status: 400, code: "InvalidURI", s3: true, closed: true},
		// Bad escapes, repeats and raw ';' in the query: the handler,
		// after authentication.
		{name: "bad escape in nextToken", raw: sig("finspace", "GET", "/environment?nextToken=%zz", "/environment?nextToken=%25zz"),
			status: 400, code: "ValidationException", mention: "'nextToken'"},
		{name: "truncated escape in maxResults", raw: sig("finspace", "GET", "/environment?maxResults=1%", "/environment?maxResults=1%25"),
			status: 400, code: "ValidationException", mention: "'maxResults'"},
		{name: "raw semicolon in nextToken", raw: sig("finspace", "GET", "/environment?nextToken=a;b", "/environment?nextToken=a%3Bb"),
			status: 400, code: "ValidationException", mention: "'nextToken'"},
		{name: "repeated maxResults", raw: sig("finspace", "GET", "/environment?maxResults=1&maxResults=2", ""),
			status: 400, code: "ValidationException", mention: "'maxResults'"},
		{name: "repeated nextToken", raw: sig("finspace", "GET", "/kx/environments?nextToken=a&nextToken=a", ""),
			status: 400, code: "ValidationException", mention: "'nextToken'"},
		{name: "repeated clientToken", raw: sig("finspace", "DELETE", "/kx/environments/e1?clientToken=a&clientToken=b", ""),
			status: 400, code: "ValidationException", mention: "'clientToken'"},
		{name: "repeated durationInMinutes", raw: sig("finspace-api", "GET", "/credentials/programmatic?environmentId=e&durationInMinutes=60&durationInMinutes=60", ""),
			status: 400, code: "ValidationException", mention: "'durationInMinutes'"},
		// A list member keeps its repeats: the request is bound (here the
		// resource does not exist).
		{name: "repeated tagKeys (a list)", raw: sig("finspace", "DELETE", "/tags/arn%3Aaws%3Afinspace%3Aus-east-1%3A000000000000%3Aenvironment%2Fnope?tagKeys=a&tagKeys=b", ""),
			status: 404, code: "ResourceNotFoundException"},
		// Trailing slashes and empty labels are not routed elsewhere.
		{name: "trailing slash after a collection (GET)", raw: sig("finspace", "GET", "/environment/", ""),
			status: 400, code: "ValidationException", mention: "'environmentId'"},
		{name: "trailing slash after a collection (POST)", raw: sig("finspace", "POST", "/environment/", ""),
			status: 404, code: "UnknownOperationException"},
		{name: "trailing slash after a label", raw: sig("finspace", "GET", "/kx/environments/e1/clusters/c1/", ""),
			status: 404, code: "UnknownOperationException"},
		{name: "empty label", raw: sig("finspace", "GET", "/kx/environments//clusters", ""),
			status: 400, code: "ValidationException", mention: "'environmentId'"},
		{name: "empty segment nowhere a label", raw: sig("finspace", "GET", "/environment//x", ""),
			status: 404, code: "UnknownOperationException"},
		{name: "double leading slash", raw: sig("finspace", "GET", "//environment", ""),
			status: 404, code: "UnknownOperationException"},
		{name: "empty label, finspace-data", raw: sig("finspace-api", "GET", "/user//permission-groups", ""),
			status: 400, code: "ValidationException", mention: "'userId'"},
		// Headers net/http refuses.
		{name: "no Host header", raw: "GET /environment HTTP/1.1\r\n\r\n", status: 400, code: "BadRequestException", mention: "Host", closed: true},
		{name: "two Host headers", raw: "GET /environment HTTP/1.1\r\n" + host + host + "\r\n", status: 400, code: "BadRequestException", closed: true},
		{name: "header line without a colon", raw: "GET /environment HTTP/1.1\r\n" + host + "not a header\r\n\r\n", status: 400, code: "BadRequestException", closed: true},
		{name: "invalid header name", raw: "GET /environment HTTP/1.1\r\n" + host + "Bad Name: x\r\n\r\n", status: 400, code: "BadRequestException", closed: true},
		{name: "control character in a header value", raw: "GET /environment HTTP/1.1\r\n" + host + "X-A: a\x01b\r\n\r\n", status: 400, code: "BadRequestException", mention: "header", closed: true},
		{name: "bad Content-Length", raw: "POST /environment HTTP/1.1\r\n" + host + "Content-Length: twelve\r\n\r\n", status: 400, code: "BadRequestException", closed: true},
		{name: "two Content-Lengths", raw: "POST /environment HTTP/1.1\r\n" + host + "Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}", status: 400, code: "BadRequestException", closed: true},
		{name: "oversized header", raw: "GET /environment HTTP/1.1\r\n" + host + "X-Big: " + big + "\r\n\r\n", status: 431, code: "RequestHeaderFieldsTooLargeException", closed: true},
		{name: "oversized S3 header", raw: "GET /bucket/k HTTP/1.1\r\n" + host + s3Auth + "X-Amz-Meta-Big: " + big + "\r\n\r\n", status: 431, code: "RequestHeaderSectionTooLarge", s3: true, closed: true},
		{name: "oversized request line", raw: "GET /environment/" + big + " HTTP/1.1\r\n" + host + "\r\n", status: 431, code: "RequestHeaderFieldsTooLargeException", closed: true},
		{name: "unknown expectation", raw: "GET /environment HTTP/1.1\r\n" + host + "Expect: 200-ok\r\n\r\n", status: 417, code: "ExpectationFailedException", closed: true},
		// Transfer encodings.
		{name: "gzip transfer encoding", raw: "POST /environment HTTP/1.1\r\n" + host + "Transfer-Encoding: gzip\r\n\r\n", status: 501, code: "NotImplementedException", mention: "Transfer-Encoding", closed: true},
		{name: "identity transfer encoding", raw: "POST /environment HTTP/1.1\r\n" + host + "Transfer-Encoding: identity\r\n\r\n", status: 501, code: "NotImplementedException", closed: true},
		{name: "chunked, gzip", raw: "POST /environment HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked, gzip\r\n\r\n", status: 501, closed: true},
		{name: "two Transfer-Encoding headers", raw: "POST /environment HTTP/1.1\r\n" + host + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", status: 501, closed: true},
		{name: "S3 gzip transfer encoding", raw: "PUT /bucket/k HTTP/1.1\r\n" + host + s3Auth + "Transfer-Encoding: gzip\r\n\r\n", status: 501, code: "NotImplemented", s3: true, closed: true},
		{name: "bad chunk size", raw: "POST /environment HTTP/1.1\r\n" + host + fakeAuth + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", status: 400},
		// Unsigned, well-formed: the handler's 403.
		{name: "unsigned", raw: "GET /environment HTTP/1.1\r\n" + host + "\r\n", status: 403, code: "MissingAuthenticationTokenException"},
		{name: "HTTP/2 preface", raw: "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", status: 403, code: "MissingAuthenticationTokenException"},
	}
	for _, tc := range cases {
		resp, body, _, err := malformedExchange(t, addr, tc.raw)
		if err != nil {
			t.Errorf("%s: no response: %v", tc.name, err)
			continue
		}
		malformedCheck(t, tc, resp, body)
	}
}

// TestMalformedThenServed: after malformed requests the server still
// serves a well-formed one, and a connection that sent a valid request
// is not disturbed by another's garbage.
func TestMalformedThenServed(t *testing.T) {
	srv := servertest.Start(t)
	u, _ := url.Parse(srv.URL())
	good := malformedSigned(t, srv, "finspace", "GET", "/environment?maxResults=5", "")
	c, err := net.Dial("tcp", u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(15 * time.Second))
	br := bufio.NewReader(c)
	for i := range 3 {
		resp, body, _, err := malformedExchange(t, u.Host, "GET /environment/%zz HTTP/1.1\r\nHost: x\r\n\r\n")
		if err != nil {
			t.Fatalf("malformed request %d: %v", i, err)
		}
		malformedCheck(t, malformedCase{name: "bad escape", status: 400, code: "ValidationException", mention: "environmentId", closed: true}, resp, body)
		if _, err := c.Write([]byte(good)); err != nil {
			t.Fatal(err)
		}
		resp, err = http.ReadResponse(br, nil)
		if err != nil {
			t.Fatalf("request %d on the good connection: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !bytes.Contains(b, []byte("environments")) || resp.Close {
			t.Errorf("request %d: %d %q close=%v", i, resp.StatusCode, b, resp.Close)
		}
	}
}
