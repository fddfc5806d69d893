package netguard

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Rejection is a response the listener writes in place of the server: one
// net/http wrote itself for a request it could not parse, a header
// timeout, or a refusal at the connection cap.
type Rejection struct {
	// Status is kept from net/http: 400, 417, 431, 501 or 505; or 408
	// (header timeout) or 503 (refusal).
	Status int
	// Reason is net/http's detail after "<code> <text>: " (for example
	// "missing required Host header", "unsupported protocol version"),
	// one of the Reason constants, or "" for net/http's bare
	// "400 Bad Request" (which it writes for a malformed request line, a
	// bad %-escape in the path, a malformed header line, a bad
	// Content-Length...: the Renderer finds which from Head).
	Reason string
	// Head is what the client sent of the request, at most 8 KiB (it may
	// stop anywhere); nil for a refusal.
	Head []byte
	// RetryAfter is set for a 503.
	RetryAfter time.Duration
}

// Reasons the listener and net/http give that are not in net/http's text.
const (
	ReasonTooManyConnections     = "too many connections"
	ReasonHeaderTimeout          = "request headers not received in time"
	ReasonUnsupportedTE          = "unsupported transfer encoding"
	ReasonHeaderTooLarge         = "request header fields too large"
	ReasonExpectationUnsupported = "unsupported expectation"
)

// Renderer builds the complete HTTP/1.1 response (status line, headers,
// body) that replaces a rejection. It must carry Connection: close: the
// connection is closed after it.
type Renderer interface {
	RenderRejection(Rejection) []byte
}

// The one header block net/http's server writes before its plain-text
// error bodies (net/http/server.go, conn.serve: errorHeaders).
const netHTTPErrorHeaders = "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n\r\n"

// ParseServerError recognises, in one Write, a response net/http's server
// wrote itself rather than through a handler, exactly in the forms of
// net/http/server.go (Go 1.26):
//
//	HTTP/1.1 431 Request Header Fields Too Large<errorHeaders>431 Request Header Fields Too Large
//	HTTP/1.1 501 Not Implemented<errorHeaders>Unsupported transfer encoding
//	HTTP/1.1 <code> <text>: <detail><errorHeaders><code> <text>: <detail>   (statusError: 400, 505)
//	HTTP/1.1 400 Bad Request<errorHeaders>400 Bad Request
//	HTTP/1.x 417 Expectation Failed\r\nConnection: close\r\nDate: <date>\r\nContent-Length: 0\r\n\r\n
//
// where errorHeaders is "\r\nContent-Type: text/plain; charset=utf-8\r\n
// Connection: close\r\n\r\n". A handler's response never matches: net/http
// gives it a Date header (and a Content-Length or chunked encoding), and
// writes the handler's headers in sorted order, Connection before
// Content-Type.
func ParseServerError(p []byte) (Rejection, bool) {
	if !bytes.HasPrefix(p, []byte("HTTP/1.")) || len(p) < 13 || (p[7] != '1' && p[7] != '0') || p[8] != ' ' {
		return Rejection{}, false
	}
	eol := bytes.Index(p, []byte("\r\n"))
	if eol < 12 {
		return Rejection{}, false
	}
	line := string(p[9:eol]) // "400 Bad Request: missing required Host header"
	code, err := strconv.Atoi(line[:3])
	if err != nil || line[3] != ' ' {
		return Rejection{}, false
	}
	rest := p[eol:]
	if code == http.StatusExpectationFailed {
		if line == "417 Expectation Failed" && expectationFailedForm(rest) {
			return Rejection{Status: code, Reason: ReasonExpectationUnsupported}, true
		}
		return Rejection{}, false
	}
	if p[7] != '1' || !bytes.HasPrefix(rest, []byte(netHTTPErrorHeaders)) {
		return Rejection{}, false
	}
	body := string(rest[len(netHTTPErrorHeaders):])
	text := http.StatusText(code)
	switch {
	case code == http.StatusNotImplemented && line == "501 Not Implemented" && body == "Unsupported transfer encoding":
		return Rejection{Status: code, Reason: ReasonUnsupportedTE}, true
	case body != line || text == "":
		return Rejection{}, false
	case line[4:] == text: // bare: 400 Bad Request, 431 Request Header Fields Too Large
		reason := ""
		if code == http.StatusRequestHeaderFieldsTooLarge {
			reason = ReasonHeaderTooLarge
		}
		return Rejection{Status: code, Reason: reason}, true
	case strings.HasPrefix(line[4:], text+": "): // statusError
		return Rejection{Status: code, Reason: line[4+len(text)+2:]}, true
	}
	return Rejection{}, false
}

// expectationFailedForm matches the rest of net/http's 417 (after the
// status line): exactly Connection: close, Date and Content-Length: 0.
func expectationFailedForm(rest []byte) bool {
	const pre, post = "\r\nConnection: close\r\nDate: ", "\r\nContent-Length: 0\r\n\r\n"
	if !bytes.HasPrefix(rest, []byte(pre)) || !bytes.HasSuffix(rest, []byte(post)) {
		return false
	}
	return len(rest) == len(pre)+len(http.TimeFormat)+len(post)
}

// Code is the AWS error code JSONRenderer (and the restjson renderer, by
// default) gives each status.
func Code(status int) string {
	switch status {
	case http.StatusBadRequest:
		return "BadRequestException"
	case http.StatusRequestTimeout:
		return "RequestTimeoutException"
	case http.StatusExpectationFailed:
		return "ExpectationFailedException"
	case http.StatusRequestHeaderFieldsTooLarge:
		return "RequestHeaderFieldsTooLargeException"
	case http.StatusNotImplemented:
		return "NotImplementedException"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailableException"
	case http.StatusHTTPVersionNotSupported:
		return "HTTPVersionNotSupportedException"
	}
	return "BadRequestException"
}

// Message is a client-facing message for a rejection, without the
// request-specific detail a Renderer may find in Head.
func Message(r Rejection) string {
	switch r.Status {
	case http.StatusServiceUnavailable:
		return "The server is at its connection limit. Retry later."
	case http.StatusRequestTimeout:
		return "The request headers were not received in time."
	case http.StatusRequestHeaderFieldsTooLarge:
		return "The request headers are larger than the server accepts."
	case http.StatusNotImplemented:
		return "The request's Transfer-Encoding is not supported (only chunked is)."
	case http.StatusHTTPVersionNotSupported:
		return "The request's HTTP version is not supported (HTTP/1.0 and HTTP/1.1 are)."
	case http.StatusExpectationFailed:
		return "The request's Expect header is not supported (only 100-continue is)."
	}
	if r.Reason != "" {
		return "The HTTP request is malformed: " + r.Reason + "."
	}
	return "The HTTP request is malformed."
}

// JSONRenderer renders every rejection as an AWS rest-json error. It is the
// default; restjson's renderer adds S3 and STS forms and names members.
type JSONRenderer struct{}

func (JSONRenderer) RenderRejection(r Rejection) []byte {
	return JSONError(r, Code(r.Status), Message(r))
}

// JSONError is the AWS rest-json error response for r with code and
// message: X-Amzn-ErrorType, x-amzn-RequestId, body {"__type", "message"},
// Connection: close, and Retry-After for a 503.
func JSONError(r Rejection, code, message string) []byte {
	body, _ := json.Marshal(map[string]string{"__type": code, "message": message})
	return Response(r, "application/json", body, [2]string{"X-Amzn-ErrorType", code}, [2]string{"x-amzn-RequestId", RequestID()})
}

// Response builds a complete HTTP/1.1 response for r: status r.Status,
// Date, Content-Type, Content-Length, Connection: close, Retry-After for a
// 503, then header, then body (left out for a HEAD request).
func Response(r Rejection, contentType string, body []byte, header ...[2]string) []byte {
	var b bytes.Buffer
	b.Grow(256 + len(body))
	b.WriteString("HTTP/1.1 ")
	b.WriteString(strconv.Itoa(r.Status))
	b.WriteByte(' ')
	b.WriteString(http.StatusText(r.Status))
	b.WriteString("\r\nDate: ")
	b.WriteString(time.Now().UTC().Format(http.TimeFormat))
	b.WriteString("\r\nContent-Type: ")
	b.WriteString(contentType)
	b.WriteString("\r\nContent-Length: ")
	b.WriteString(strconv.Itoa(len(body)))
	b.WriteString("\r\nConnection: close\r\n")
	if r.Status == http.StatusServiceUnavailable && r.RetryAfter > 0 {
		b.WriteString("Retry-After: ")
		b.WriteString(strconv.Itoa(int((r.RetryAfter + time.Second - 1) / time.Second)))
		b.WriteString("\r\n")
	}
	for _, h := range header {
		b.WriteString(h[0])
		b.WriteString(": ")
		b.WriteString(h[1])
		b.WriteString("\r\n")
	}
	b.WriteString("\r\n")
	if !bytes.HasPrefix(r.Head, []byte("HEAD ")) {
		b.Write(body)
	}
	return b.Bytes()
}

// RequestID is a new request id in the form AWS uses for x-amzn-RequestId.
func RequestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	h := hex.EncodeToString(b[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
