package sigv4

import (
	"cmp"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
)

// queryParam is one name=value pair of the request's query string.
type queryParam struct {
	key, value string // decoded
	ek, ev     string // SigV4-encoded, as in the canonical query string
}

// parseQuery splits a raw query string into its pairs, in order. Unlike
// url.ParseQuery it keeps pairs with undecodable escapes (verbatim) and
// semicolons, so the canonical query is built from exactly what was sent.
func parseQuery(raw string) []queryParam {
	if raw == "" {
		return nil
	}
	n := strings.Count(raw, "&") + 1
	ps := make([]queryParam, 0, n)
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		var p queryParam
		p.key, p.ek = decodeComponent(k)
		p.value, p.ev = decodeComponent(v)
		ps = append(ps, p)
	}
	return ps
}

// decodeComponent returns the decoded form of one raw query name or value
// and its SigV4 encoding. '+' decodes to a space, like the AWS SDKs do.
func decodeComponent(raw string) (decoded, encoded string) {
	if isUnreserved(raw) {
		return raw, raw
	}
	d, err := url.QueryUnescape(raw)
	if err != nil {
		d = raw // not valid percent-encoding: take it literally
	}
	return d, uriEncode(d, true)
}

func isUnreserved(s string) bool {
	for i := 0; i < len(s); i++ {
		if !unreserved(s[i]) {
			return false
		}
	}
	return true
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

// uriEncode percent-encodes every byte outside the RFC 3986 unreserved set
// with upper-case hex; '/' is kept when encodeSlash is false.
func uriEncode(s string, encodeSlash bool) string {
	n := 0
	for i := 0; i < len(s); i++ {
		if c := s[i]; !unreserved(c) && (encodeSlash || c != '/') {
			n++
		}
	}
	if n == 0 {
		return s
	}
	const hexUpper = "0123456789ABCDEF"
	b := make([]byte, 0, len(s)+2*n)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if unreserved(c) || (!encodeSlash && c == '/') {
			b = append(b, c)
		} else {
			b = append(b, '%', hexUpper[c>>4], hexUpper[c&15])
		}
	}
	return string(b)
}

// canonicalQuery sorts the pairs by encoded name, then encoded value, and
// joins them, leaving out X-Amz-Signature when skipSignature is set.
func canonicalQuery(ps []queryParam, skipSignature bool) string {
	if len(ps) == 0 {
		return ""
	}
	sorted := make([]queryParam, 0, len(ps))
	size := 0
	for _, p := range ps {
		if skipSignature && p.key == "X-Amz-Signature" {
			continue
		}
		sorted = append(sorted, p)
		size += len(p.ek) + len(p.ev) + 2
	}
	slices.SortFunc(sorted, func(a, b queryParam) int {
		if c := cmp.Compare(a.ek, b.ek); c != 0 {
			return c
		}
		return cmp.Compare(a.ev, b.ev)
	})
	var sb strings.Builder
	sb.Grow(size)
	for i, p := range sorted {
		if i > 0 {
			sb.WriteByte('&')
		}
		sb.WriteString(p.ek)
		sb.WriteByte('=')
		sb.WriteString(p.ev)
	}
	return sb.String()
}

// requestTarget returns the escaped path and raw query exactly as the client
// sent them: from the request line when the server recorded it (so routing
// middleware that rewrites r.URL cannot break verification), else from r.URL.
// It never uses the decoded path.
func requestTarget(r *http.Request) (path, rawQuery string) {
	if ru := r.RequestURI; ru != "" && ru[0] == '/' {
		path, rawQuery, _ = strings.Cut(ru, "?")
		return path, rawQuery
	}
	if r.URL == nil {
		return "/", ""
	}
	if op := r.URL.Opaque; op != "" {
		// "//host/path" form, as the SDK signer documents.
		op, _, _ = strings.Cut(op, "?")
		op = strings.TrimPrefix(op, "//")
		if i := strings.IndexByte(op, '/'); i >= 0 {
			path = op[i:]
		}
	} else {
		path = r.URL.EscapedPath()
	}
	if path == "" {
		path = "/"
	}
	return path, r.URL.RawQuery
}

// canonicalURIs returns the canonical URI candidates for a path as sent.
// Services other than s3 URI-encode the already escaped path once more (what
// every SDK does); botocore also removes dot segments and empty segments
// first, so that form is the second candidate when it differs. S3 uses the
// path as sent.
func canonicalURIs(escapedPath, service string) []string {
	if escapedPath == "" {
		escapedPath = "/"
	}
	if service == "s3" {
		return []string{escapedPath}
	}
	first := uriEncode(escapedPath, false)
	if n := normalizePath(escapedPath); n != escapedPath {
		if second := uriEncode(n, false); second != first {
			return []string{first, second}
		}
	}
	return []string{first}
}

// normalizePath removes "." and ".." segments and empty segments, keeping
// a leading and trailing slash, as botocore's remove_dot_segments does.
func normalizePath(p string) string {
	if p == "" {
		return "/"
	}
	if alreadyNormal(p) {
		return p
	}
	return removeDotSegments(p)
}

// removeDotSegments is normalizePath without the fast path.
func removeDotSegments(p string) string {
	segs := strings.Split(p, "/")
	out := segs[:0]
	for _, s := range segs {
		switch s {
		case "", ".":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, s)
		}
	}
	var b strings.Builder
	b.Grow(len(p))
	if p[0] == '/' {
		b.WriteByte('/')
	}
	b.WriteString(strings.Join(out, "/"))
	if p[len(p)-1] == '/' && len(out) > 0 {
		b.WriteByte('/')
	}
	return b.String()
}

// alreadyNormal reports whether normalizePath would return p unchanged
// because there is nothing to remove: p is absolute and has no empty, "."
// or ".." segment (a trailing slash aside).
func alreadyNormal(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		if seg == "." || seg == ".." {
			return false
		}
	}
	return !strings.Contains(p, "//")
}

// canonicalHeaders writes "name:value\n" for every signed header.
func canonicalHeaders(b []byte, r *http.Request, names []string, body []byte) []byte {
	// Header maps built by hand may hold non-canonical keys; a server's
	// never do. Collect them once so each lookup stays O(1).
	var odd []string
	for k := range r.Header {
		if textproto.CanonicalMIMEHeaderKey(k) != k {
			odd = append(odd, k)
		}
	}
	slices.Sort(odd)
	for _, name := range names {
		b = append(b, name...)
		b = append(b, ':')
		switch name {
		case "host":
			host := r.Host
			if host == "" && r.URL != nil {
				host = r.URL.Host
			}
			b = appendHeaderValue(b, host)
		case "content-length":
			b = appendContentLength(b, r, body)
		default:
			b = appendHeaderValues(b, r.Header, odd, name)
		}
		b = append(b, '\n')
	}
	return b
}

func appendContentLength(b []byte, r *http.Request, body []byte) []byte {
	if r.ContentLength >= 0 {
		return strconv.AppendInt(b, r.ContentLength, 10)
	}
	if v := r.Header.Get("Content-Length"); v != "" {
		return appendHeaderValue(b, v)
	}
	return strconv.AppendInt(b, int64(len(body)), 10)
}

// appendHeaderValues appends every value of the header called name (any
// case), trimmed, sequential spaces collapsed, joined with commas.
func appendHeaderValues(b []byte, h http.Header, odd []string, name string) []byte {
	canon := textproto.CanonicalMIMEHeaderKey(name)
	n := 0
	for _, v := range h[canon] {
		if n > 0 {
			b = append(b, ',')
		}
		b = appendHeaderValue(b, v)
		n++
	}
	for _, k := range odd {
		if len(k) != len(name) || !strings.EqualFold(k, name) {
			continue
		}
		for _, v := range h[k] {
			if n > 0 {
				b = append(b, ',')
			}
			b = appendHeaderValue(b, v)
			n++
		}
	}
	return b
}

// appendHeaderValue trims the value and collapses runs of spaces, like the
// SDK signers.
func appendHeaderValue(b []byte, v string) []byte {
	v = strings.TrimSpace(v)
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b = append(b, c)
	}
	return b
}
