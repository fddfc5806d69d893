package sigv4

import (
	"encoding/hex"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Algorithm is the only signing algorithm accepted.
const Algorithm = "AWS4-HMAC-SHA256"

// Terminal ends every credential scope.
const Terminal = "aws4_request"

const (
	amzDateLayout   = "20060102T150405Z"
	scopeDateLayout = "20060102"
)

// Scope is the credential of a SigV4 signature:
// AccessKeyID/Date/Region/Service/Terminal.
type Scope struct {
	AccessKeyID string
	Date        string // yyyyMMdd
	Region      string
	Service     string // the signing name: finspace, finspace-api, s3, sts, ...
	Terminal    string // always aws4_request once parsed
}

// String returns the credential scope as it appears in the string to sign:
// Date/Region/Service/Terminal (without the access key).
func (s Scope) String() string {
	return s.Date + "/" + s.Region + "/" + s.Service + "/" + s.Terminal
}

// Authorization is a parsed SigV4 Authorization header.
type Authorization struct {
	Algorithm string
	Scope
	// SignedHeaders are the signed header names, lower-cased, in the order
	// sent (SDKs send them sorted).
	SignedHeaders []string
	// Signature is the hex signature as sent.
	Signature string

	sig []byte // decoded Signature
}

// ParseAuthorization parses an Authorization header of the form
//
//	AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/finspace/aws4_request, SignedHeaders=host;x-amz-date, Signature=<hex>
//
// Parameters may be separated by commas, spaces or both. Errors are
// *Error values with code IncompleteSignatureException.
func ParseAuthorization(h string) (*Authorization, error) {
	h = strings.Trim(h, " \t")
	alg, rest := h, ""
	if i := strings.IndexAny(h, " \t,"); i >= 0 {
		alg, rest = h[:i], h[i+1:]
	}
	if alg == "" {
		return nil, errIncomplete("Authorization header is empty.")
	}
	if alg != Algorithm {
		return nil, errIncomplete("Unsupported AWS 'algorithm' in the Authorization header: only " + Algorithm + " is supported.")
	}
	var cred, signed, sig string
	var haveCred, haveSigned, haveSig bool
	for rest != "" {
		// The next parameter runs to the next comma, space or tab.
		i := strings.IndexAny(rest, ", \t")
		if i == 0 {
			rest = rest[1:]
			continue
		}
		f := rest
		if i > 0 {
			f, rest = rest[:i], rest[i+1:]
		} else {
			rest = ""
		}
		k, val, ok := strings.Cut(f, "=")
		if !ok {
			return nil, errIncomplete(quoteShort(f) + " not a valid key=value pair (missing equal-sign) in Authorization header.")
		}
		var dst *string
		var seen *bool
		switch k {
		case "Credential":
			dst, seen = &cred, &haveCred
		case "SignedHeaders":
			dst, seen = &signed, &haveSigned
		case "Signature":
			dst, seen = &sig, &haveSig
		default:
			continue // unknown parameters are ignored, as AWS does
		}
		if *seen {
			return nil, errIncomplete("Authorization header contains more than one '" + k + "' parameter.")
		}
		*dst, *seen = val, true
	}
	var missing []string
	if !haveCred || cred == "" {
		missing = append(missing, "Authorization header requires 'Credential' parameter.")
	}
	if !haveSig || sig == "" {
		missing = append(missing, "Authorization header requires 'Signature' parameter.")
	}
	if !haveSigned || signed == "" {
		missing = append(missing, "Authorization header requires 'SignedHeaders' parameter.")
	}
	if len(missing) > 0 {
		return nil, errIncomplete(strings.Join(missing, " "))
	}
	a := &Authorization{Algorithm: alg, Signature: sig}
	var msg string
	if a.Scope, msg = parseScope(cred); msg != "" {
		return nil, errIncomplete(msg)
	}
	if a.SignedHeaders, msg = parseSignedHeaders(signed); msg != "" {
		return nil, errIncomplete(msg)
	}
	if a.sig, msg = parseSignature(sig); msg != "" {
		return nil, errIncomplete(msg)
	}
	return a, nil
}

// parseScope parses AKID/date/region/service/aws4_request; a non-empty
// message says what is wrong.
func parseScope(cred string) (Scope, string) {
	parts := strings.Split(cred, "/")
	if len(parts) != 5 {
		return Scope{}, "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got " + quoteShort(cred) + "."
	}
	s := Scope{AccessKeyID: parts[0], Date: parts[1], Region: parts[2], Service: parts[3], Terminal: parts[4]}
	switch {
	case s.AccessKeyID == "":
		return Scope{}, "Credential must name an access key id."
	case !validScopeDate(s.Date):
		return Scope{}, "Credential date " + quoteShort(s.Date) + " must be in yyyyMMdd format."
	case s.Region == "":
		return Scope{}, "Credential should be scoped to a valid region."
	case s.Service == "":
		return Scope{}, "Credential should be scoped to a valid service."
	case s.Terminal != Terminal:
		return Scope{}, "Credential should be scoped with a valid terminator: '" + Terminal + "', not " + quoteShort(s.Terminal) + "."
	}
	return s, ""
}

func validScopeDate(d string) bool {
	_, _, _, ok := parseDate(d)
	return ok
}

func parseSignedHeaders(v string) ([]string, string) {
	if v == "" {
		return nil, "SignedHeaders must not be empty."
	}
	names := strings.Split(v, ";")
	for i, n := range names {
		if n == "" {
			return nil, "SignedHeaders contains an empty header name."
		}
		for j := 0; j < len(n); j++ {
			if !isTokenChar(n[j]) {
				return nil, "SignedHeaders contains an invalid header name."
			}
		}
		names[i] = strings.ToLower(n) // ASCII only, after the check above
	}
	return names, ""
}

// isTokenChar reports whether c may appear in an HTTP header name (RFC 9110
// tchar).
func isTokenChar(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
		strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

func parseSignature(v string) ([]byte, string) {
	const msg = "Signature must be 64 hexadecimal characters."
	if len(v) != 64 {
		return nil, msg
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		return nil, msg
	}
	return b, ""
}

// quoteShort quotes s for an error message, cut to a readable length.
func quoteShort(s string) string {
	const max = 64
	if len(s) > max {
		s = s[:max] + "..."
	}
	return strconv.Quote(s)
}

// PeekScope returns the signing name (service) and region of a request's
// credential scope, from the Authorization header or the presigned
// X-Amz-Credential query parameter, without verifying anything. ok is false
// when neither carries a well-formed scope.
func PeekScope(r *http.Request) (service, region string, ok bool) {
	if h := r.Header.Get("Authorization"); h != "" {
		i := strings.Index(h, "Credential=")
		if i < 0 {
			return "", "", false
		}
		cred := h[i+len("Credential="):]
		if j := strings.IndexAny(cred, ", \t"); j >= 0 {
			cred = cred[:j]
		}
		return peekCredential(cred)
	}
	if r.URL == nil {
		return "", "", false
	}
	q := r.URL.RawQuery
	for q != "" {
		var pair string
		pair, q, _ = strings.Cut(q, "&")
		k, v, _ := strings.Cut(pair, "=")
		if k != "X-Amz-Credential" {
			continue
		}
		cred, err := url.QueryUnescape(v)
		if err != nil {
			return "", "", false
		}
		return peekCredential(cred)
	}
	return "", "", false
}

// peekCredential splits AKID/date/region/service/terminal cheaply.
func peekCredential(cred string) (service, region string, ok bool) {
	var parts [5]string
	n := 0
	for n < 4 {
		i := strings.IndexByte(cred, '/')
		if i < 0 {
			return "", "", false
		}
		parts[n], cred = cred[:i], cred[i+1:]
		n++
	}
	if strings.IndexByte(cred, '/') >= 0 {
		return "", "", false
	}
	parts[4] = cred
	if parts[2] == "" || parts[3] == "" {
		return "", "", false
	}
	return parts[3], parts[2], true
}
