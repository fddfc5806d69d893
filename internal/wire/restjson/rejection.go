package restjson

import (
	"bytes"
	"encoding/xml"
	"net/http"
	"net/url"
	"strings"

	"github.com/openfinspace/openfinspace/internal/netguard"
)

// RejectionRenderer renders the responses netguard writes in place of
// net/http's plain-text errors (requests it could not parse), its header
// timeouts and its refusals, in the protocol of the API the request was
// for, as far as the bytes the client sent tell:
//   - S3 XML (<Error><Code>…) when the request's SigV4 credential scope
//     (Authorization header or presigned X-Amz-Credential) names s3;
//   - STS (AWS Query) XML when it names sts;
//   - otherwise an AWS rest-json error: X-Amzn-ErrorType,
//     x-amzn-RequestId, {"__type", "message"}. Refusals at the connection
//     cap are always JSON: the listener answers them before reading
//     anything.
//
// For net/http's bare 400 it finds the cause in the request line; a bad
// %-escape in a path label of a rest-json operation is a
// ValidationException naming the label, as the handler would answer.
type RejectionRenderer struct {
	routers []namedRouter
}

type namedRouter struct {
	service string
	router  *Router
}

// NewRejectionRenderer routes raw paths against the operation tables of
// services (by signing name).
func NewRejectionRenderer(services map[string][]*Operation) *RejectionRenderer {
	rr := &RejectionRenderer{}
	for name, ops := range services {
		rr.routers = append(rr.routers, namedRouter{name, NewRouter(ops)})
	}
	// Deterministic order when the scope names none of them.
	for i := 1; i < len(rr.routers); i++ {
		for j := i; j > 0 && rr.routers[j].service < rr.routers[j-1].service; j-- {
			rr.routers[j], rr.routers[j-1] = rr.routers[j-1], rr.routers[j]
		}
	}
	return rr
}

// rawRequest is what a rejection's head tells.
type rawRequest struct {
	method, target, proto string
	lineOK                bool // three fields, an HTTP/x.y version
	service               string
}

func parseHead(head []byte) rawRequest {
	var rq rawRequest
	lineEnd := bytes.IndexByte(head, '\n')
	if lineEnd < 0 {
		lineEnd = len(head)
	}
	line := strings.TrimSuffix(string(head[:lineEnd]), "\r")
	fields := strings.Split(line, " ")
	if len(fields) == 3 {
		rq.method, rq.target, rq.proto = fields[0], fields[1], fields[2]
		rq.lineOK = len(rq.proto) == 8 && strings.HasPrefix(rq.proto, "HTTP/") && isDigit(rq.proto[5]) && rq.proto[6] == '.' && isDigit(rq.proto[7])
	} else if len(fields) > 0 {
		rq.method = fields[0]
		if len(fields) > 1 {
			rq.target = fields[1]
		}
	}
	// The signing name, from the Authorization header or a presigned URL.
	rest := head[min(lineEnd+1, len(head)):]
	for len(rest) > 0 {
		var hl []byte
		hl, rest, _ = bytes.Cut(rest, []byte("\n"))
		hl = bytes.TrimSuffix(hl, []byte("\r"))
		if len(hl) == 0 {
			break
		}
		name, value, ok := bytes.Cut(hl, []byte(":"))
		if ok && strings.EqualFold(string(name), "Authorization") {
			if _, cred, found := strings.Cut(string(value), "Credential="); found {
				if i := strings.IndexAny(cred, ", \t"); i >= 0 {
					cred = cred[:i]
				}
				rq.service = scopeService(cred)
			}
			break
		}
	}
	if rq.service == "" {
		if _, q, ok := strings.Cut(rq.target, "?"); ok {
			for q != "" {
				var pair string
				pair, q, _ = strings.Cut(q, "&")
				if k, v, _ := strings.Cut(pair, "="); k == "X-Amz-Credential" {
					v = strings.NewReplacer("%2F", "/", "%2f", "/").Replace(v)
					rq.service = scopeService(v)
					break
				}
			}
		}
	}
	return rq
}

func isDigit(b byte) bool { return '0' <= b && b <= '9' }

// scopeService is the service of a credential AKID/date/region/service/aws4_request.
func scopeService(cred string) string {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[4] != "aws4_request" {
		return ""
	}
	return parts[3]
}

// RenderRejection implements netguard.Renderer.
func (rr *RejectionRenderer) RenderRejection(rej netguard.Rejection) []byte {
	rq := parseHead(rej.Head)
	code, message := netguard.Code(rej.Status), netguard.Message(rej)
	pathEscape := false
	if rej.Status == http.StatusBadRequest && rej.Reason == "" {
		code, message, pathEscape = rr.diagnose(rq)
	}
	switch rq.service {
	case "s3":
		return s3Error(rej, s3Code(rej.Status, pathEscape), message, rq)
	case "sts":
		return stsError(rej, stsCode(rej.Status, code), message)
	}
	return netguard.JSONError(rej, code, message)
}

// diagnose finds why net/http refused a request with a bare 400.
func (rr *RejectionRenderer) diagnose(rq rawRequest) (code, message string, pathEscape bool) {
	const bad = "BadRequestException"
	switch {
	case rq.method == "" && rq.target == "":
		return bad, "The HTTP request is malformed: it has no request line.", false
	case !rq.lineOK && (rq.target == "" || rq.proto == ""):
		return bad, "The HTTP request line is malformed: want <method> <path> HTTP/1.1.", false
	case !rq.lineOK:
		return bad, "The HTTP version in the request line is malformed.", false
	case !validMethod(rq.method):
		return bad, "The HTTP request method is not valid.", false
	}
	target := rq.target
	if i := strings.Index(target, "://"); i >= 0 { // absolute form
		if j := strings.IndexByte(target[i+3:], '/'); j >= 0 {
			target = target[i+3+j:]
		} else {
			target = "/"
		}
	}
	path, _, _ := strings.Cut(target, "?")
	if _, err := url.PathUnescape(path); err != nil || strings.ContainsAny(path, "\x00\x7f") {
		if rq.service == "" || rq.service == "finspace" || rq.service == "finspace-api" {
			for _, nr := range rr.routers {
				if rq.service != "" && nr.service != rq.service {
					continue
				}
				if op, label, problem := nr.router.Explain(rq.method, path); op != nil && problem == LabelBadEscape {
					return "ValidationException", LabelError(label, problem).Error(), true
				}
			}
		}
		return bad, "The request path is not correctly percent-encoded.", true
	}
	return bad, "The HTTP request is malformed: its request line or a header line could not be parsed.", false
}

func validMethod(m string) bool {
	if m == "" {
		return false
	}
	for i := 0; i < len(m); i++ {
		c := m[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

func s3Code(status int, pathEscape bool) string {
	switch status {
	case http.StatusBadRequest:
		if pathEscape {
			return "InvalidURI"
		}
		return "InvalidRequest"
	case http.StatusRequestTimeout:
		return "RequestTimeout"
	case http.StatusRequestHeaderFieldsTooLarge:
		return "RequestHeaderSectionTooLarge"
	case http.StatusNotImplemented:
		return "NotImplemented"
	case http.StatusHTTPVersionNotSupported:
		return "HttpVersionNotSupported"
	case http.StatusServiceUnavailable:
		return "SlowDown"
	}
	return "InvalidRequest"
}

func s3Error(rej netguard.Rejection, code, message string, rq rawRequest) []byte {
	id := netguard.RequestID()
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString("<Error><Code>")
	_ = xml.EscapeText(&b, []byte(code))
	b.WriteString("</Code><Message>")
	_ = xml.EscapeText(&b, []byte(message))
	b.WriteString("</Message><RequestId>")
	b.WriteString(id)
	b.WriteString("</RequestId></Error>")
	return netguard.Response(rej, "application/xml", []byte(b.String()),
		[2]string{"X-Amz-Error-Code", code}, [2]string{"x-amz-request-id", id}, [2]string{"x-amzn-RequestId", id})
}

func stsCode(status int, jsonCode string) string {
	switch status {
	case http.StatusBadRequest:
		return "ValidationError"
	case http.StatusServiceUnavailable:
		return "ServiceUnavailable"
	}
	return strings.TrimSuffix(jsonCode, "Exception")
}

func stsError(rej netguard.Rejection, code, message string) []byte {
	id := netguard.RequestID()
	typ := "Sender"
	if rej.Status >= 500 {
		typ = "Receiver"
	}
	var b strings.Builder
	b.WriteString(`<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>`)
	b.WriteString(typ)
	b.WriteString("</Type><Code>")
	_ = xml.EscapeText(&b, []byte(code))
	b.WriteString("</Code><Message>")
	_ = xml.EscapeText(&b, []byte(message))
	b.WriteString("</Message></Error><RequestId>")
	b.WriteString(id)
	b.WriteString("</RequestId></ErrorResponse>")
	return netguard.Response(rej, "text/xml", []byte(b.String()), [2]string{"x-amzn-RequestId", id})
}
