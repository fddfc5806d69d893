// Package sigv4 verifies AWS Signature Version 4 on incoming requests, in
// the Authorization header or as a presigned query string, exactly as the AWS
// SDKs (Go v2, botocore, the CLI) compute it.
//
// The canonical request is rebuilt from what the client sent: the escaped
// path from the request line (URI-encoded once more for every service but
// s3), the query pairs sorted after SigV4 encoding, the signed headers only
// (host from r.Host, content-length from r.ContentLength), and the payload
// hash the client used.
package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth"
)

const (
	// DefaultMaxSkew is the clock skew allowed when Verifier.MaxSkew is 0.
	DefaultMaxSkew = 15 * time.Minute
	// MaxPresignExpiry is the longest X-Amz-Expires accepted (7 days).
	MaxPresignExpiry = 7 * 24 * time.Hour
	// UnsignedPayload is the X-Amz-Content-Sha256 value of a request whose
	// body is not covered by the signature.
	UnsignedPayload = "UNSIGNED-PAYLOAD"
)

// Verifier checks SigV4 signatures against a credential store. Its zero
// value (with Credentials set) is ready to use; it must not be copied after
// first use because it holds a cache of derived signing keys.
type Verifier struct {
	Credentials auth.CredentialStore
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
	// MaxSkew bounds the difference between the signing time of a header
	// signature and now; 0 means DefaultMaxSkew. A presigned URL may be
	// used from MaxSkew before its X-Amz-Date until it expires.
	MaxSkew time.Duration

	keys keyCache
}

// Result describes a verified request.
type Result struct {
	Credential  *auth.Credential
	Principal   auth.Principal
	AccessKeyID string
	Region      string
	Service     string // signing name from the credential scope
	SigningTime time.Time
	// Presigned is true for query-string (presigned URL) authentication.
	Presigned bool
	// PayloadHash is the payload hash that was signed: the hex SHA-256 of
	// the body or UnsignedPayload.
	PayloadHash string
}

// signed is what a signature claims, from either the header or the query.
type signed struct {
	scope         Scope
	signedHeaders []string
	sig           []byte
	amzDate       string // timestamp line of the string to sign
	time          time.Time
	token         string
	presigned     bool
	payloads      []string // payload hash candidates, most likely first
}

// Verify authenticates r, whose whole body the caller has already read into
// body. It returns a *Error for any client error (missing, malformed, wrong
// or expired signature or credential); any other error comes from the
// credential store and should be treated as internal.
func (v *Verifier) Verify(ctx context.Context, r *http.Request, body []byte) (*Result, error) {
	if r == nil {
		return nil, errMissing()
	}
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	t := now().UTC()
	path, rawQuery := requestTarget(r)
	params := parseQuery(rawQuery)

	authz := r.Header.Values("Authorization")
	hasHeader := len(authz) > 1 || len(authz) == 1 && strings.Trim(authz[0], " \t") != ""
	presigned := hasParam(params, "X-Amz-Algorithm") || hasParam(params, "X-Amz-Credential") ||
		hasParam(params, "X-Amz-Signature")

	var s *signed
	var err error
	switch {
	case hasHeader && presigned:
		return nil, errMultipleAuth()
	case hasHeader && len(authz) > 1:
		return nil, errIncomplete("Request contains more than one Authorization header.")
	case hasHeader:
		s, err = v.fromHeader(r, authz[0], params, body, t)
	case presigned:
		s, err = v.fromQuery(r, params, body, t)
	default:
		return nil, errMissing()
	}
	if err != nil {
		return nil, err
	}
	return v.check(ctx, r, s, path, params, body, t)
}

func (v *Verifier) maxSkew() time.Duration {
	if v.MaxSkew > 0 {
		return v.MaxSkew
	}
	return DefaultMaxSkew
}

func hasParam(ps []queryParam, key string) bool {
	for i := range ps {
		if ps[i].key == key {
			return true
		}
	}
	return false
}

func paramValue(ps []queryParam, key string) string {
	for i := range ps {
		if ps[i].key == key {
			return ps[i].value
		}
	}
	return ""
}

const msgHostNotSigned = "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."

// fromHeader reads an Authorization header signature.
func (v *Verifier) fromHeader(r *http.Request, h string, params []queryParam, body []byte, now time.Time) (*signed, error) {
	a, err := ParseAuthorization(h)
	if err != nil {
		return nil, err
	}
	if !slices.Contains(a.SignedHeaders, "host") {
		return nil, errIncomplete(msgHostNotSigned)
	}
	s := &signed{scope: a.Scope, signedHeaders: a.SignedHeaders, sig: a.sig}

	if d := r.Header.Get("X-Amz-Date"); d != "" {
		tm, ok := parseAmzDate(d)
		if !ok {
			return nil, errIncomplete("X-Amz-Date must be in the ISO 8601 basic format yyyyMMdd'T'HHmmss'Z'.")
		}
		s.time, s.amzDate = tm, d
	} else if d := r.Header.Get("Date"); d != "" {
		tm, err := http.ParseTime(d)
		if err != nil {
			return nil, errIncomplete("Date header must be an HTTP date (RFC 7231).")
		}
		s.time = tm.UTC()
		s.amzDate = s.time.Format(amzDateLayout)
	} else {
		return nil, errIncomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if err := checkScopeDate(s); err != nil {
		return nil, err
	}
	if err := checkSkew(s, now, v.maxSkew()); err != nil {
		return nil, err
	}

	if cs := r.Header.Get("X-Amz-Content-Sha256"); cs != "" {
		if err := checkContentSHA256(cs, body); err != nil {
			return nil, err
		}
		s.payloads = []string{cs}
	} else {
		s.payloads = []string{hashHex(body)}
	}

	s.token = r.Header.Get("X-Amz-Security-Token")
	if s.token == "" {
		s.token = paramValue(params, "X-Amz-Security-Token")
	}
	return s, nil
}

const msgQueryRequires = "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date and X-Amz-SignedHeaders parameters."

// fromQuery reads a presigned-URL signature.
func (v *Verifier) fromQuery(r *http.Request, params []queryParam, body []byte, now time.Time) (*signed, error) {
	const (
		pAlg = iota
		pCred
		pSig
		pDate
		pSigned
		pExpires
		pToken
		nParams
	)
	names := [nParams]string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date",
		"X-Amz-SignedHeaders", "X-Amz-Expires", "X-Amz-Security-Token"}
	var vals [nParams]string
	var seen [nParams]bool
	for _, p := range params {
		for i, n := range names {
			if p.key != n {
				continue
			}
			if seen[i] {
				return nil, errQueryParams("Query-string authentication parameter " + n + " appears more than once.")
			}
			vals[i], seen[i] = p.value, true
		}
	}
	for _, i := range []int{pAlg, pCred, pSig, pDate, pSigned} {
		if vals[i] == "" {
			return nil, errQueryParams(msgQueryRequires)
		}
	}
	if vals[pAlg] != Algorithm {
		return nil, errQueryParams("X-Amz-Algorithm only supports \"" + Algorithm + "\".")
	}
	s := &signed{presigned: true}
	var msg string
	if s.scope, msg = parseScope(vals[pCred]); msg != "" {
		return nil, errQueryParams("Error parsing the X-Amz-Credential parameter; " + msg)
	}
	if s.signedHeaders, msg = parseSignedHeaders(vals[pSigned]); msg != "" {
		return nil, errQueryParams("Error parsing the X-Amz-SignedHeaders parameter; " + msg)
	}
	if !slices.Contains(s.signedHeaders, "host") {
		return nil, errQueryParams(msgHostNotSigned)
	}
	if s.sig, msg = parseSignature(vals[pSig]); msg != "" {
		return nil, errQueryParams("X-Amz-Signature: " + msg)
	}
	tm, ok := parseAmzDate(vals[pDate])
	if !ok {
		return nil, errQueryParams("X-Amz-Date must be in the ISO 8601 basic format yyyyMMdd'T'HHmmss'Z'.")
	}
	s.time, s.amzDate = tm, vals[pDate]
	expires := v.maxSkew()
	if seen[pExpires] {
		n, err := strconv.ParseInt(vals[pExpires], 10, 64)
		if err != nil || n < 0 {
			return nil, errQueryParams("X-Amz-Expires should be a non-negative number of seconds.")
		}
		if n > int64(MaxPresignExpiry/time.Second) {
			return nil, errQueryParams("X-Amz-Expires must be less than a week (in seconds) that is 604800.")
		}
		expires = time.Duration(n) * time.Second
	}
	if err := checkScopeDate(s); err != nil {
		return nil, err
	}
	if s.time.Sub(now) > v.maxSkew() {
		return nil, errPresignNotYet()
	}
	if now.After(s.time.Add(expires)) {
		return nil, errPresignExpired()
	}

	if cs := r.Header.Get("X-Amz-Content-Sha256"); cs != "" {
		if err := checkContentSHA256(cs, body); err != nil {
			return nil, err
		}
		s.payloads = []string{cs}
	} else {
		// botocore and the S3 presigners sign UNSIGNED-PAYLOAD; the Go
		// SDK's other presigners (STS) sign the hash of the empty body.
		s.payloads = []string{UnsignedPayload, hashHex(body)}
	}

	s.token = vals[pToken]
	if s.token == "" {
		s.token = r.Header.Get("X-Amz-Security-Token")
	}
	return s, nil
}

// parseAmzDate parses an ISO 8601 basic timestamp (yyyyMMdd'T'HHmmss'Z')
// as time.Parse(amzDateLayout, d) does, accepting only the canonical form
// (the form that formats back to d).
func parseAmzDate(d string) (time.Time, bool) {
	if len(d) != len(amzDateLayout) || d[8] != 'T' || d[15] != 'Z' {
		return time.Time{}, false
	}
	y, mo, day, ok := parseDate(d[:8])
	if !ok {
		return time.Time{}, false
	}
	h, ok1 := digits(d[9:11])
	mi, ok2 := digits(d[11:13])
	sec, ok3 := digits(d[13:15])
	if !ok1 || !ok2 || !ok3 || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), day, h, mi, sec, 0, time.UTC), true
}

// parseDate parses yyyyMMdd, rejecting impossible dates as time.Parse does.
func parseDate(d string) (y, m, day int, ok bool) {
	if len(d) != 8 {
		return 0, 0, 0, false
	}
	y, ok1 := digits(d[:4])
	m, ok2 := digits(d[4:6])
	day, ok3 := digits(d[6:8])
	if !ok1 || !ok2 || !ok3 || m < 1 || m > 12 || day < 1 {
		return 0, 0, 0, false
	}
	// time.Date normalizes February 30 to March 2: out of range.
	if time.Date(y, time.Month(m), day, 0, 0, 0, 0, time.UTC).Day() != day {
		return 0, 0, 0, false
	}
	return y, m, day, true
}

// digits parses a run of ASCII digits.
func digits(s string) (int, bool) {
	n := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	return n, true
}

// checkScopeDate compares the credential scope's date with the signing
// time's. s.amzDate is always the canonical form of s.time (parseAmzDate
// accepts nothing else, and a Date header is formatted into it), so its
// first eight characters are the signing day.
func checkScopeDate(s *signed) error {
	if day := s.amzDate[:len(scopeDateLayout)]; day != s.scope.Date {
		return errDateMismatch(fmt.Sprintf(
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			s.scope.Date, day, s.amzDate))
	}
	return nil
}

func checkSkew(s *signed, now time.Time, skew time.Duration) error {
	if d := now.Sub(s.time); d <= skew && d >= -skew {
		return nil
	}
	var window string
	if skew%time.Minute == 0 {
		window = strconv.FormatInt(int64(skew/time.Minute), 10) + " min."
	} else {
		window = skew.String() + "."
	}
	switch {
	case now.Sub(s.time) > skew:
		return errSkew(fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s)",
			s.amzDate, now.Add(-skew).Format(amzDateLayout), now.Format(amzDateLayout), window))
	case s.time.Sub(now) > skew:
		return errSkew(fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + %s)",
			s.amzDate, now.Add(skew).Format(amzDateLayout), now.Format(amzDateLayout), window))
	}
	return nil
}

// checkContentSHA256 validates an X-Amz-Content-Sha256 header against the
// body.
func checkContentSHA256(cs string, body []byte) error {
	switch {
	case cs == UnsignedPayload:
		return nil
	case strings.HasPrefix(cs, "STREAMING-"):
		return errStreaming()
	case len(cs) != 2*sha256.Size:
		return errContentInvalid()
	}
	want, err := hex.DecodeString(cs)
	if err != nil {
		return errContentInvalid()
	}
	got := sha256.Sum256(body)
	if !hmac.Equal(got[:], want) {
		return errContentMismatch()
	}
	return nil
}

// emptySHA256 is the hex SHA-256 of an empty body.
const emptySHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

func hashHex(b []byte) string {
	if len(b) == 0 {
		return emptySHA256
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// check looks the credential up, then checks the session token, the
// signature and the credential's expiry, in that order, so an expired
// credential is only reported to a caller who holds it.
func (v *Verifier) check(ctx context.Context, r *http.Request, s *signed, path string, params []queryParam, body []byte, now time.Time) (*Result, error) {
	if v.Credentials == nil {
		return nil, errors.New("sigv4: Verifier has no credential store")
	}
	cred, err := v.Credentials.LookupAccessKey(ctx, s.scope.AccessKeyID)
	if err != nil {
		if errors.Is(err, auth.ErrUnknownAccessKey) {
			return nil, errUnknownKey()
		}
		return nil, err
	}
	if cred == nil {
		return nil, errUnknownKey()
	}
	if cred.SessionToken == "" {
		if s.token != "" {
			return nil, errBadToken()
		}
	} else if subtle.ConstantTimeCompare([]byte(s.token), []byte(cred.SessionToken)) != 1 {
		return nil, errBadToken()
	}

	key := v.keys.signingKey(cred.SecretAccessKey, s.scope)
	method := r.Method
	if method == "" {
		method = http.MethodGet
	}
	query := canonicalQuery(params, s.presigned)
	headers := canonicalHeaders(make([]byte, 0, 256), r, s.signedHeaders, body)
	signedLine := strings.Join(s.signedHeaders, ";")

	payload := ""
	var buf []byte
	for _, uri := range canonicalURIs(path, s.scope.Service) {
		for _, p := range s.payloads {
			buf = appendCanonicalRequest(buf[:0], method, uri, query, headers, signedLine, p)
			if sig := signature(&key, s.amzDate, s.scope, buf); hmac.Equal(sig[:], s.sig) {
				payload = p
				break
			}
		}
		if payload != "" {
			break
		}
	}
	if payload == "" {
		return nil, errSignature()
	}
	if !cred.Expires.IsZero() && !now.Before(cred.Expires) {
		return nil, errCredentialExpired()
	}
	return &Result{
		Credential:  cred,
		Principal:   cred.Principal,
		AccessKeyID: s.scope.AccessKeyID,
		Region:      s.scope.Region,
		Service:     s.scope.Service,
		SigningTime: s.time,
		Presigned:   s.presigned,
		PayloadHash: payload,
	}, nil
}

func appendCanonicalRequest(b []byte, method, uri, query string, headers []byte, signedHeaders, payload string) []byte {
	b = slices.Grow(b, len(method)+len(uri)+len(query)+len(headers)+len(signedHeaders)+len(payload)+5)
	b = append(b, method...)
	b = append(b, '\n')
	b = append(b, uri...)
	b = append(b, '\n')
	b = append(b, query...)
	b = append(b, '\n')
	b = append(b, headers...)
	b = append(b, '\n')
	b = append(b, signedHeaders...)
	b = append(b, '\n')
	b = append(b, payload...)
	return b
}

// signature returns HMAC-SHA256(key, string to sign) for a canonical
// request. It is HMAC written out (RFC 2104, a 32-byte key) so that the
// common case allocates nothing.
func signature(key *[sha256.Size]byte, amzDate string, scope Scope, canonical []byte) [sha256.Size]byte {
	const blockSize = 64
	sum := sha256.Sum256(canonical)
	var inner [blockSize + 256]byte
	b := inner[:blockSize]
	for i := range blockSize {
		b[i] = 0x36
		if i < len(key) {
			b[i] ^= key[i]
		}
	}
	b = append(b, Algorithm...)
	b = append(b, '\n')
	b = append(b, amzDate...)
	b = append(b, '\n')
	b = append(b, scope.Date...)
	b = append(b, '/')
	b = append(b, scope.Region...)
	b = append(b, '/')
	b = append(b, scope.Service...)
	b = append(b, '/')
	b = append(b, scope.Terminal...)
	b = append(b, '\n')
	b = hex.AppendEncode(b, sum[:])
	innerSum := sha256.Sum256(b)
	var outer [blockSize + sha256.Size]byte
	for i := range blockSize {
		outer[i] = 0x5c
		if i < len(key) {
			outer[i] ^= key[i]
		}
	}
	copy(outer[blockSize:], innerSum[:])
	return sha256.Sum256(outer[:])
}
