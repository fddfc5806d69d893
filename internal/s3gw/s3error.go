package s3gw

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/xml"
	"net/http"
	"regexp"
	"strings"
)

// xmlError is an Amazon S3 error document.
func xmlError(code, message, resource string) string {
	var b strings.Builder
	b.WriteString(xml.Header)
	b.WriteString("<Error><Code>")
	_ = xml.EscapeText(&b, []byte(code))
	b.WriteString("</Code><Message>")
	_ = xml.EscapeText(&b, []byte(message))
	b.WriteString("</Message>")
	if resource != "" {
		b.WriteString("<Resource>")
		_ = xml.EscapeText(&b, []byte(resource))
		b.WriteString("</Resource>")
	}
	b.WriteString("<RequestId>")
	b.WriteString(requestID())
	b.WriteString("</RequestId></Error>")
	return b.String()
}

func requestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// writeError answers r with an S3 error (no body for HEAD, as S3 does).
func writeError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	h := w.Header()
	h.Set("Content-Type", "application/xml")
	h.Set("X-Amz-Error-Code", code)
	if r.Method == http.MethodHead {
		w.WriteHeader(status)
		return
	}
	body := xmlError(code, message, r.URL.Path)
	w.WriteHeader(status)
	_, _ = w.Write([]byte(body))
}

// regionRE accepts AWS region names (us-east-1, us-gov-west-1, ...) and
// the names S3-compatible services use (auto, local, ...): lowercase
// letters, digits and hyphens, nothing that could be a path.
var regionRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,31}$`)

func validRegion(r string) bool { return len(r) <= 32 && regionRE.MatchString(r) }
