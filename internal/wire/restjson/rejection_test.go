package restjson

import (
	"bufio"
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/netguard"
)

func TestRejectionRenderer(t *testing.T) {
	rr := NewRejectionRenderer(map[string][]*Operation{"finspace": testOps(), "finspace-api": {
		{Name: "GetDataset", Method: "GET", URI: "/datasetsv2/{datasetId}"},
	}})
	const fsAuth = "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261202/us-east-1/finspace/aws4_request, SignedHeaders=host, Signature=abc\r\n"
	const s3Auth = "authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261202/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=abc\r\n"
	cases := []struct {
		name     string
		rej      netguard.Rejection
		head     string
		protocol string // json, s3, sts
		status   int
		code     string
		mention  string
	}{
		{"bad escape in a label", netguard.Rejection{Status: 400}, "GET /tags/arn%3Aaws%3 HTTP/1.1\r\nHost: x\r\n" + fsAuth + "\r\n",
			"json", 400, "ValidationException", "'resourceArn'"},
		{"bad escape, unsigned", netguard.Rejection{Status: 400}, "POST /user/%zz/disable HTTP/1.1\r\nHost: x\r\n\r\n",
			"json", 400, "ValidationException", "'userId'"},
		{"bad escape, other service's table", netguard.Rejection{Status: 400}, "GET /datasetsv2/%G0 HTTP/1.1\r\n\r\n",
			"json", 400, "ValidationException", "'datasetId'"},
		{"bad escape, absolute form", netguard.Rejection{Status: 400}, "GET http://h:1/user/%zz HTTP/1.1\r\n\r\n",
			"json", 400, "ValidationException", "'userId'"},
		{"bad escape, no operation", netguard.Rejection{Status: 400}, "GET /nope/%zz HTTP/1.1\r\n\r\n",
			"json", 400, "BadRequestException", "percent-encoded"},
		{"bad escape in a literal", netguard.Rejection{Status: 400}, "GET /us%zzer HTTP/1.1\r\n\r\n",
			"json", 400, "BadRequestException", "percent-encoded"},
		{"request line without version", netguard.Rejection{Status: 400}, "GET /\r\n\r\n", "json", 400, "BadRequestException", "request line"},
		{"empty head", netguard.Rejection{Status: 400}, "", "json", 400, "BadRequestException", "no request line"},
		{"bad version", netguard.Rejection{Status: 400}, "GET / HTTP/1.x\r\n\r\n", "json", 400, "BadRequestException", "version"},
		{"bad method", netguard.Rejection{Status: 400}, "G(T / HTTP/1.1\r\n\r\n", "json", 400, "BadRequestException", "method"},
		{"bad header line", netguard.Rejection{Status: 400}, "GET / HTTP/1.1\r\nno colon\r\n\r\n", "json", 400, "BadRequestException", "header line"},
		{"net/http detail", netguard.Rejection{Status: 400, Reason: "missing required Host header"}, "GET / HTTP/1.1\r\n\r\n",
			"json", 400, "BadRequestException", "missing required Host header"},
		{"505", netguard.Rejection{Status: 505, Reason: "unsupported protocol version"}, "GET / HTTP/0.9\r\n\r\n", "json", 505, "HTTPVersionNotSupportedException", "HTTP version"},
		{"501", netguard.Rejection{Status: 501, Reason: netguard.ReasonUnsupportedTE}, "POST / HTTP/1.1\r\n" + fsAuth, "json", 501, "NotImplementedException", "Transfer-Encoding"},
		{"431", netguard.Rejection{Status: 431}, "GET / HTTP/1.1\r\nX: aaaa", "json", 431, "RequestHeaderFieldsTooLargeException", "headers"},
		{"408", netguard.Rejection{Status: 408}, "GET / HTTP/1.1\r\nHo", "json", 408, "RequestTimeoutException", "in time"},
		{"503", netguard.Rejection{Status: 503, RetryAfter: time.Second}, "", "json", 503, "ServiceUnavailableException", "connection limit"},
		{"S3 bad escape", netguard.Rejection{Status: 400}, "PUT /bucket/a%zz HTTP/1.1\r\nHost: x\r\n" + s3Auth + "\r\n", "s3", 400, "InvalidURI", "percent-encoded"},
		{"S3 presigned bad escape", netguard.Rejection{Status: 400}, "GET /bucket/a%zz?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261202%2Fus-east-1%2Fs3%2Faws4_request HTTP/1.1\r\n\r\n", "s3", 400, "InvalidURI", ""},
		{"S3 431", netguard.Rejection{Status: 431}, "PUT /bucket/k HTTP/1.1\r\n" + s3Auth + "X-Amz-Meta-A: aaaa", "s3", 431, "RequestHeaderSectionTooLarge", ""},
		{"S3 501", netguard.Rejection{Status: 501, Reason: netguard.ReasonUnsupportedTE}, "PUT /bucket/k HTTP/1.1\r\n" + s3Auth + "\r\n", "s3", 501, "NotImplemented", ""},
		{"S3 408", netguard.Rejection{Status: 408}, "PUT /bucket/k HTTP/1.1\r\n" + s3Auth, "s3", 408, "RequestTimeout", ""},
		{"STS", netguard.Rejection{Status: 400, Reason: "invalid header value"}, "POST / HTTP/1.1\r\nAuthorization: AWS4-HMAC-SHA256 Credential=A/20261202/us-east-1/sts/aws4_request, SignedHeaders=host, Signature=x\r\n\r\n",
			"sts", 400, "ValidationError", "invalid header value"},
		{"not a credential", netguard.Rejection{Status: 400}, "GET /bucket/%zz HTTP/1.1\r\nAuthorization: Basic Credential=s3\r\n\r\n", "json", 400, "BadRequestException", ""},
	}
	for _, tc := range cases {
		tc.rej.Head = []byte(tc.head)
		raw := rr.RenderRejection(tc.rej)
		resp, err := http.ReadResponse(bufio.NewReader(bytes.NewReader(raw)), nil)
		if err != nil {
			t.Errorf("%s: unparseable response %q: %v", tc.name, raw, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != tc.status || !resp.Close || resp.Header.Get("x-amzn-RequestId") == "" {
			t.Errorf("%s: %d close=%v %v, want %d, Connection: close, x-amzn-RequestId", tc.name, resp.StatusCode, resp.Close, resp.Header, tc.status)
		}
		var code, message string
		switch tc.protocol {
		case "json":
			var e struct{ Type, Message string }
			if err := json.Unmarshal(body, &struct {
				Type    *string `json:"__type"`
				Message *string `json:"message"`
			}{&e.Type, &e.Message}); err != nil || resp.Header.Get("Content-Type") != "application/json" {
				t.Errorf("%s: not a JSON error: %q %v", tc.name, body, err)
			}
			code, message = e.Type, e.Message
			if resp.Header.Get("X-Amzn-ErrorType") != code {
				t.Errorf("%s: X-Amzn-ErrorType %q, body %q", tc.name, resp.Header.Get("X-Amzn-ErrorType"), code)
			}
		case "s3":
			var e struct{ Code, Message, RequestId string }
			if err := xml.Unmarshal(body, &e); err != nil || resp.Header.Get("Content-Type") != "application/xml" || e.RequestId != resp.Header.Get("x-amz-request-id") {
				t.Errorf("%s: not an S3 error: %q %v", tc.name, body, err)
			}
			code, message = e.Code, e.Message
		case "sts":
			var e struct {
				Error     struct{ Type, Code, Message string }
				RequestId string
			}
			if err := xml.Unmarshal(body, &e); err != nil || e.Error.Type != "Sender" || e.RequestId == "" {
				t.Errorf("%s: not an STS error: %q %v", tc.name, body, err)
			}
			code, message = e.Error.Code, e.Error.Message
		}
		if code != tc.code || !strings.Contains(message, tc.mention) {
			t.Errorf("%s: %s %q, want %s mentioning %q", tc.name, code, message, tc.code, tc.mention)
		}
		if tc.status == 503 && resp.Header.Get("Retry-After") != "1" {
			t.Errorf("%s: Retry-After %q", tc.name, resp.Header.Get("Retry-After"))
		}
	}
}

// TestRejectionHEAD: no body after the headers of a HEAD response.
func TestRejectionHEAD(t *testing.T) {
	rr := NewRejectionRenderer(nil)
	raw := rr.RenderRejection(netguard.Rejection{Status: 431, Head: []byte("HEAD /bucket/k HTTP/1.1\r\nX: aaaa")})
	if !bytes.HasSuffix(raw, []byte("\r\n\r\n")) {
		t.Errorf("HEAD rejection carries a body: %q", raw)
	}
}
