package s3gw

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/sigv4"
	"github.com/openfinspace/openfinspace/internal/blob"
)

func codeOf(e *requestError) string {
	if e == nil {
		return ""
	}
	return e.code
}

func TestKeyProblem(t *testing.T) {
	seg := func(n int) string { return strings.Repeat("s", n) }
	for _, c := range []struct {
		key     string
		sidecar bool
		code    string
	}{
		{key: "data/2024/trades.csv"},
		{key: "folder/"},
		{key: "a//b"}, // an empty segment is S3's business, and the filesystem's
		{key: "ü/中/🥳"},
		{key: "a b+c&d=e:f~(g)*'!"},
		{key: strings.Repeat(seg(255)+"/", 4)}, // 1024 bytes
		{key: seg(255) + "/" + seg(255)},
		{key: "..a/b..", code: ""},
		{key: ".hidden/.sgwtmpx/sgwtmp/a.sgwtmp"},
		{key: ".a.sgwtmp.12x"},
		{key: "meta/x", sidecar: false},
		{key: "metadata/meta-x/x.meta", sidecar: true},

		{key: "a\x00b", code: "InvalidURI"},
		{key: "\x00", code: "InvalidURI"},
		{key: "a\xffb", code: "InvalidURI"},
		{key: "\xed\xa0\x80", code: "InvalidURI"}, // a UTF-16 surrogate
		{key: strings.Repeat("k", 1025), code: "KeyTooLongError"},
		{key: seg(256), code: "KeyTooLongError"},
		{key: "a/" + seg(256) + "/b", code: "KeyTooLongError"},
		{key: ".", code: "AccessDenied"},
		{key: "..", code: "AccessDenied"},
		{key: "./x", code: "AccessDenied"},
		{key: "a/./b", code: "AccessDenied"},
		{key: "a/../b", code: "AccessDenied"},
		{key: "x/../.sgwtmp/multipart", code: "AccessDenied"},
		{key: "a/..", code: "AccessDenied"},
		{key: "../", code: "AccessDenied"},
		{key: ".sgwtmp", code: "InvalidArgument"},
		{key: ".sgwtmp/", code: "InvalidArgument"},
		{key: ".sgwtmp/multipart", code: "InvalidArgument"},
		{key: ".sgwtmp/multipart/ab/cd/1", code: "InvalidArgument"},
		{key: "dir/.sgwtmp/x", code: "InvalidArgument"},
		{key: "/.sgwtmp/x", code: "InvalidArgument"},
		{key: "dir/.obj.sgwtmp.1733123456789", code: "InvalidArgument"},
		{key: "meta", sidecar: true, code: "InvalidArgument"},
		{key: "meta/acl", sidecar: true, code: "InvalidArgument"},
		{key: "x/meta/etag", sidecar: true, code: "InvalidArgument"},
		{key: "x/meta", sidecar: true, code: "InvalidArgument"},
	} {
		e := keyProblem(c.key, c.sidecar)
		if codeOf(e) != c.code {
			t.Errorf("keyProblem(%.60q, sidecar %v) = %v, want %q", c.key, c.sidecar, e, c.code)
		}
		if want := http.StatusBadRequest; e != nil && e.code == "AccessDenied" && e.status != http.StatusForbidden ||
			e != nil && e.code != "AccessDenied" && e.status != want {
			t.Errorf("keyProblem(%.60q): status %d", c.key, e.status)
		}
	}
}

// The metadata mode is asked for only when a segment depends on it, and
// a failure to learn it is reported.
func TestKeyProblemAsksForTheModeOnlyWhenNeeded(t *testing.T) {
	asked := 0
	ask := func() (bool, error) { asked++; return true, nil }
	for _, k := range []string{"a/b", "metadata/x", ".sgwtmp/meta", "a/../meta"} {
		if _, err := keyProblemLazy(k, ask); err != nil {
			t.Fatal(err)
		}
	}
	if asked != 0 {
		t.Errorf("asked %d times for keys without a meta segment (or refused before)", asked)
	}
	if e, _ := keyProblemLazy("a/meta/b", ask); codeOf(e) != "InvalidArgument" || asked != 1 {
		t.Errorf("a/meta/b in sidecar mode: %v, asked %d", e, asked)
	}
	if _, err := keyProblemLazy("meta", func() (bool, error) { return false, ErrClosed }); err != ErrClosed {
		t.Errorf("error learning the mode: %v", err)
	}
}

func TestReservedSegment(t *testing.T) {
	for seg, want := range map[string]bool{
		".sgwtmp": true, ".x.sgwtmp.1": true, ".trades.csv.sgwtmp.1733123456789012345": true, "...sgwtmp.1": true, "..sgwtmp.1": false,
		"sgwtmp": false, ".sgwtmp2": false, ".sgwtmp.1": false, ".x.sgwtmp.": false, ".x.sgwtmp.1a": false,
		"x.sgwtmp.1": false, ".SGWTMP": false, "": false, ".": false,
	} {
		if got := reservedSegment(seg); got != want {
			t.Errorf("reservedSegment(%q) = %v, want %v", seg, got, want)
		}
	}
}

func TestPrefixProblem(t *testing.T) {
	for p, code := range map[string]string{
		"": "", "data/": "", ".sgw": "", ".sgwtmpx/": "", "a//": "", "meta/": "",
		".sgwtmp": "InvalidArgument", ".sgwtmp/": "InvalidArgument", ".sgwtmp/multipart/": "InvalidArgument",
		"a/.sgwtmp/": "InvalidArgument", "./": "AccessDenied", "a/../": "AccessDenied",
	} {
		if got := codeOf(prefixProblem(p)); got != code {
			t.Errorf("prefixProblem(%q) = %q, want %q", p, got, code)
		}
	}
}

func TestCreateBucketNames(t *testing.T) {
	long := strings.Repeat("a", 63)
	for name, ok := range map[string]bool{
		"abc": true, long: true, "my.bucket.name": true, "a-b.c-d": true, "1bucket2": true, "xn-abc": true,
		"sthree": true, "abc-s3": true, "192.168.5": true, "amzn-s3-demo": true,

		"ab": false, long + "a": false, "a..b": false, "Abc": false, "a_b": false, "-abc": false, "abc-": false,
		".abc": false, "abc.": false, "192.168.5.4": false, "xn--abc": false, "sthree-abc": false,
		"sthree-configurator-x": false, "amzn-s3-demo-bucket": false, "abc-s3alias": false, "abc--ol-s3": false,
		"abc.mrap": false, "abc--x-s3": false, "abc--table-s3": false,
	} {
		if got := blob.ValidBucketName(name) == nil; got != ok {
			t.Errorf("ValidBucketName(%q) ok = %v, want %v", name, got, ok)
		}
	}
	// The working locations the product creates itself always pass.
	for _, account := range []string{"000000000000", "123456789012", "", "Acct_1"} {
		for _, region := range []string{"us-east-1", "eu-west-2", "ap-southeast-1", "us-gov-west-1", "local", "x--table-s3", "UPPER"} {
			for _, env := range []string{"abcdefghijklmnopqrstuv", "a1b2c3", "x--x-s3", "", "s3alias", strings.Repeat("e", 40)} {
				if b := blob.WorkingLocationBucket(account, region, env); blob.ValidBucketName(b) != nil {
					t.Errorf("WorkingLocationBucket(%q, %q, %q) = %q is refused by CreateBucket", account, region, env, b)
				}
			}
		}
	}
	for q, want := range map[string]bool{
		"": true, "x-id=CreateBucket": true, "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=60": true,
		"acl": false, "versioning": false, "policy=": false, "tagging&x-id=PutBucketTagging": false,
	} {
		if got := createBucketQuery(parseRawQuery(q)); got != want {
			t.Errorf("createBucketQuery(%q) = %v, want %v", q, got, want)
		}
	}
}

func TestPartOrderProblem(t *testing.T) {
	part := func(n string) string { return "<Part><ETag>\"e\"</ETag><PartNumber>" + n + "</PartNumber></Part>" }
	doc := func(parts ...string) []byte {
		return []byte(`<?xml version="1.0" encoding="UTF-8"?><CompleteMultipartUpload xmlns="http://s3.amazonaws.com/doc/2006-03-01/">` +
			strings.Join(parts, "") + "</CompleteMultipartUpload>")
	}
	for _, c := range []struct {
		name string
		body []byte
		code string
	}{
		{"ascending", doc(part("1"), part("2"), part("3")), ""},
		{"gaps", doc(part("1"), part("5"), part("10000")), ""},
		{"one part", doc(part("7")), ""},
		{"reversed", doc(part("2"), part("1")), "InvalidPartOrder"},
		{"later out of order", doc(part("1"), part("3"), part("2")), "InvalidPartOrder"},
		{"repeated", doc(part("1"), part("1")), "InvalidPartOrder"},
		{"whitespace and checksums", []byte("<CompleteMultipartUpload>\n  <Part>\n    <ChecksumCRC32>AAAAAA==</ChecksumCRC32>\n    <PartNumber> 1 </PartNumber>\n  </Part>\n  <Part><PartNumber>2</PartNumber></Part>\n</CompleteMultipartUpload>"), ""},
		// Left to the gateway: what it refuses for another reason.
		{"no parts", doc(), ""},
		{"zero", doc(part("0"), part("1")), ""},
		{"negative later", doc(part("2"), part("-1")), ""},
		{"not a number", doc(part("2"), part("x")), ""},
		{"no part number", doc(part("2"), "<Part><ETag>e</ETag></Part>"), ""},
		{"not XML", []byte("parts 2, 1"), ""},
		{"other document", []byte("<Delete><Part><PartNumber>2</PartNumber></Part><Part><PartNumber>1</PartNumber></Part></Delete>"), ""},
		{"empty", nil, ""},
	} {
		if got := codeOf(partOrderProblem(c.body)); got != c.code {
			t.Errorf("%s: %q, want %q", c.name, got, c.code)
		}
	}
}

func TestDeleteKeys(t *testing.T) {
	for _, c := range []struct {
		body string
		keys []string
	}{
		{`<Delete><Object><Key>a</Key></Object><Object><Key>.sgwtmp/multipart/x</Key><VersionId>v</VersionId></Object></Delete>`, []string{"a", ".sgwtmp/multipart/x"}},
		{`<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Quiet>true</Quiet><Object><Key>a&amp;b&#x2F;c</Key></Object></Delete>`, []string{"a&b/c"}},
		// aws-chunked framing around the document: the gateway's
		// xml.Unmarshal skips the text before the first element.
		{"7d;chunk-signature=00\r\n<Delete><Object><Key>.sgwtmp</Key></Object></Delete>\r\n0;chunk-signature=00\r\n\r\n", []string{".sgwtmp"}},
		{`<Delete><Object><Key>a</Key></Object>`, nil}, // not XML: the gateway refuses it
		{``, nil},
	} {
		got := deleteKeys([]byte(c.body))
		if strings.Join(got, "|") != strings.Join(c.keys, "|") {
			t.Errorf("deleteKeys(%.50q) = %q, want %q", c.body, got, c.keys)
		}
	}
}

func TestPresignProblem(t *testing.T) {
	const cred = "AKIAEXAMPLE%2F20260105%2Fus-east-1%2Fs3%2Faws4_request"
	base := url.Values{"X-Amz-Algorithm": {"AWS4-HMAC-SHA256"}, "X-Amz-Credential": {"AKIAEXAMPLE/20260105/us-east-1/s3/aws4_request"},
		"X-Amz-Date": {"20260105T101500Z"}, "X-Amz-Expires": {"60"}, "X-Amz-SignedHeaders": {"host"}, "X-Amz-Signature": {"00"}}
	with := func(k, v string) string {
		q := url.Values{}
		for n, vs := range base {
			q[n] = vs
		}
		if v == "-" {
			delete(q, k)
		} else {
			q.Set(k, v)
		}
		return q.Encode()
	}
	const required = "requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
	for _, c := range []struct {
		query        string
		status       int
		code, detail string
	}{
		{query: with("", "-")},
		{query: with("X-Amz-Expires", "0")},
		{query: with("X-Amz-Expires", "1")},
		{query: with("X-Amz-Expires", "604800")},
		{query: with("X-Amz-SignedHeaders", "content-type;host;x-amz-meta-a")},
		{query: "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=" + cred + "&X-Amz-Date=20260105T101500Z&X-Amz-Expires=60&X-Amz-SignedHeaders=host&X-Amz-Signature=00&x-id=GetObject"},

		{query: with("X-Amz-Expires", "-"), status: 400, code: "AuthorizationQueryParametersError", detail: required},
		{query: with("X-Amz-Expires", ""), status: 400, code: "AuthorizationQueryParametersError", detail: required},
		{query: with("X-Amz-Signature", "-"), status: 400, code: "AuthorizationQueryParametersError", detail: required},
		{query: with("X-Amz-Algorithm", "-"), status: 400, code: "AuthorizationQueryParametersError", detail: required},
		{query: with("X-Amz-Date", "-"), status: 400, code: "AuthorizationQueryParametersError", detail: required},
		{query: with("X-Amz-SignedHeaders", "-"), status: 400, code: "AuthorizationQueryParametersError", detail: required},
		{query: with("X-Amz-Expires", "604801"), status: 400, code: "AuthorizationQueryParametersError", detail: "must be less than 604800 seconds"},
		{query: with("X-Amz-Expires", "9223372036854775807"), status: 400, code: "AuthorizationQueryParametersError", detail: "must be less than 604800 seconds"},
		{query: with("X-Amz-Expires", "9223372036854775808"), status: 400, code: "AuthorizationQueryParametersError", detail: "X-Amz-Expires should be a number"},
		{query: with("X-Amz-Expires", "-1"), status: 400, code: "AuthorizationQueryParametersError", detail: "X-Amz-Expires must be non-negative"},
		{query: with("X-Amz-Expires", "1h"), status: 400, code: "AuthorizationQueryParametersError", detail: "X-Amz-Expires should be a number"},
		{query: with("X-Amz-Expires", "1.5"), status: 400, code: "AuthorizationQueryParametersError", detail: "X-Amz-Expires should be a number"},
		{query: with("X-Amz-Date", "2026-01-05T10:15:00Z"), status: 400, code: "AuthorizationQueryParametersError", detail: "ISO8601 Long Format"},
		{query: with("X-Amz-Date", "20260105T101500"), status: 400, code: "AuthorizationQueryParametersError", detail: "ISO8601 Long Format"},
		{query: with("X-Amz-Date", "20260230T101500Z"), status: 400, code: "AuthorizationQueryParametersError", detail: "ISO8601 Long Format"},
		{query: with("X-Amz-Date", "20260106T001500Z"), status: 400, code: "AuthorizationQueryParametersError",
			detail: `Invalid credential date "20260105". This date is not the same as X-Amz-Date: "20260106".`},
		{query: with("X-Amz-SignedHeaders", "x-amz-date"), status: 403, code: "AccessDenied", detail: "headers present in the request which were not signed"},
		{query: with("X-Amz-SignedHeaders", "Host"), status: 403, code: "AccessDenied", detail: "not signed"},
	} {
		e := presignProblem(parseRawQuery(c.query))
		switch {
		case c.code == "" && e != nil:
			t.Errorf("%s: %v, want no error", c.query, e)
		case c.code != "" && (e == nil || e.code != c.code || e.status != c.status || !strings.Contains(e.message, c.detail)):
			t.Errorf("%s: %+v, want %d %s %q", c.query, e, c.status, c.code, c.detail)
		}
	}
}

// credentialOf speaks S3's query-parameter vocabulary for presigned URLs
// that name no credential, or a malformed one.
func TestCredentialOfPresigned(t *testing.T) {
	for q, code := range map[string]string{
		"X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Date=20260105T101500Z": "AuthorizationQueryParametersError",
		"X-Amz-Credential=AKIA%2F20260105%2Fus-east-1%2Fs3":            "AuthorizationQueryParametersError",
		"X-Amz-Credential=%2F20260105%2Fus-east-1%2Fs3%2Faws4_request": "AuthorizationQueryParametersError",
		"AWSAccessKeyId=AKIA&Signature=x&Expires=1":                    "AuthorizationHeaderMalformed",
		"": "AuthorizationHeaderMalformed",
	} {
		r := httptest.NewRequest("GET", "/b/k?"+q, nil)
		if _, _, e := credentialOf(r); codeOf(e) != code {
			t.Errorf("%q: %v, want %s", q, e, code)
		}
	}
}

// rejectGateway is a Gateway without a process: reject needs only its
// verifier.
func rejectGateway(now func() time.Time) *Gateway {
	static := auth.Static{rootKey: {AccessKeyID: rootKey, SecretAccessKey: rootSecret,
		Principal: auth.Principal{Kind: auth.Root, Account: testAccount, ARN: "arn:aws:iam::" + testAccount + ":root"}},
		"ASIATESTSESSION": {AccessKeyID: "ASIATESTSESSION", SecretAccessKey: "session-secret", SessionToken: "token",
			Expires:   time.Date(2026, 1, 5, 11, 0, 0, 0, time.UTC),
			Principal: auth.Principal{Kind: auth.AssumedRole, Account: testAccount, ARN: "arn:aws:sts::" + testAccount + ":assumed-role/r/s"}},
		"ASIAEXPIREDSESSION": {AccessKeyID: "ASIAEXPIREDSESSION", SecretAccessKey: "expired-secret", SessionToken: "token2",
			Expires:   time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC),
			Principal: auth.Principal{Kind: auth.AssumedRole, Account: testAccount, ARN: "arn:aws:sts::" + testAccount + ":assumed-role/r/old"}}}
	creds := auth.Chain{static}
	return &Gateway{cfg: Config{Credentials: creds, Verifier: &sigv4.Verifier{Credentials: creds, Now: now}},
		log: slog.New(slog.DiscardHandler)}
}

// TestRejectRequests drives reject with whole requests: what it answers,
// and that what it lets through carries its body unchanged.
func TestRejectRequests(t *testing.T) {
	now := time.Date(2026, 1, 5, 10, 15, 0, 0, time.UTC)
	g := rejectGateway(func() time.Time { return now })
	ctx := context.Background()
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	root := aws.Credentials{AccessKeyID: rootKey, SecretAccessKey: rootSecret}
	session := aws.Credentials{AccessKeyID: "ASIATESTSESSION", SecretAccessKey: "session-secret", SessionToken: "token"}
	expired := aws.Credentials{AccessKeyID: "ASIAEXPIREDSESSION", SecretAccessKey: "expired-secret", SessionToken: "token2"}

	// signed is a header-signed request (the gateway checks such
	// signatures; reject does not look at them).
	signed := func(method, target string, body []byte, hdr ...string) *http.Request {
		r := httptest.NewRequest(method, "http://s3.test"+target, bytes.NewReader(body))
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Add(hdr[i], hdr[i+1])
		}
		r.Header.Set("X-Amz-Content-Sha256", sigv4.UnsignedPayload)
		if err := signer.SignHTTP(ctx, root, r, sigv4.UnsignedPayload, "s3", testRegion, now); err != nil {
			t.Fatal(err)
		}
		return r
	}
	// presigned is a presigned request signed at at, with the given
	// X-Amz-Expires ("" for none).
	presigned := func(c aws.Credentials, method, target, expires string, at time.Time, hdr ...string) *http.Request {
		u := "http://s3.test" + target
		if expires != "" {
			sep := "?"
			if strings.Contains(u, "?") {
				sep = "&"
			}
			u += sep + "X-Amz-Expires=" + expires
		}
		r := httptest.NewRequest(method, u, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Add(hdr[i], hdr[i+1])
		}
		pu, _, err := signer.PresignHTTP(ctx, c, r, sigv4.UnsignedPayload, "s3", testRegion, at)
		if err != nil {
			t.Fatal(err)
		}
		out := httptest.NewRequest(method, pu, nil)
		out.Header = r.Header.Clone()
		return out
	}
	// withHeader adds a header that the signature does not cover.
	withHeader := func(r *http.Request, k, v string) *http.Request { r.Header.Set(k, v); return r }
	// sized declares a Content-Length the (empty) test body does not have.
	sized := func(r *http.Request, n int64) *http.Request { r.ContentLength = n; return r }
	xmlBody := func(s string) []byte { return []byte(s) }
	deleteBody := xmlBody(`<Delete><Object><Key>ok</Key></Object><Object><Key>.sgwtmp/multipart/x/y/1</Key></Object></Delete>`)
	completeBody := xmlBody(`<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>"b"</ETag></Part><Part><PartNumber>1</PartNumber><ETag>"a"</ETag></Part></CompleteMultipartUpload>`)
	okComplete := xmlBody(`<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>"a"</ETag></Part><Part><PartNumber>2</PartNumber><ETag>"b"</ETag></Part></CompleteMultipartUpload>`)

	for _, c := range []struct {
		name   string
		r      *http.Request
		status int
		code   string
	}{
		{name: "GET object", r: signed("GET", "/bkt/data/x.csv", nil)},
		{name: "PUT object", r: signed("PUT", "/bkt/data/x.csv", []byte("body"))},
		{name: "PUT of 5 GiB", r: sized(signed("PUT", "/bkt/big", nil), 5<<30)},
		{name: "PUT over 5 GiB", r: sized(signed("PUT", "/bkt/big", nil), 5<<30+1), status: 400, code: "EntityTooLarge"},
		{name: "part over 5 GiB", r: sized(signed("PUT", "/bkt/big?partNumber=1&uploadId=u", nil), 6<<30), status: 400, code: "EntityTooLarge"},
		{name: "aws-chunked PUT over 5 GiB", r: withHeader(withHeader(sized(signed("PUT", "/bkt/big", nil), 100), "X-Amz-Content-Sha256", "STREAMING-UNSIGNED-PAYLOAD-TRAILER"), "X-Amz-Decoded-Content-Length", "5368709121"), status: 400, code: "EntityTooLarge"},
		{name: "NUL", r: signed("PUT", "/bkt/a%00b", []byte("x")), status: 400, code: "InvalidURI"},
		{name: "invalid UTF-8", r: signed("GET", "/bkt/%FF", nil), status: 400, code: "InvalidURI"},
		{name: "dot segment", r: signed("GET", "/bkt/a/%2E%2E/b", nil), status: 403, code: "AccessDenied"},
		{name: "HEAD of a reserved key", r: signed("HEAD", "/bkt/.sgwtmp/multipart", nil), status: 400, code: "InvalidArgument"},
		{name: "escaped reserved key", r: signed("DELETE", "/bkt/%2Esgwtmp%2Fmultipart", nil), status: 400, code: "InvalidArgument"},
		{name: "copy from a reserved key", r: signed("PUT", "/bkt/copy", nil, "X-Amz-Copy-Source", "bkt/.sgwtmp/multipart/a/b/1"), status: 400, code: "InvalidArgument"},
		{name: "copy from an escaped reserved key", r: signed("PUT", "/bkt/copy", nil, "X-Amz-Copy-Source", "/bkt/%2Esgwtmp/x?versionId=v"), status: 400, code: "InvalidArgument"},
		{name: "copy from a dot segment", r: signed("PUT", "/bkt/copy", nil, "X-Amz-Copy-Source", "bkt/x/../y"), status: 403, code: "AccessDenied"},
		{name: "copy", r: signed("PUT", "/bkt/copy", nil, "X-Amz-Copy-Source", "bkt/data/x.csv")},
		{name: "two copy sources", r: signed("PUT", "/bkt/copy", nil, "X-Amz-Copy-Source", "bkt/a", "X-Amz-Copy-Source", "bkt/b"), status: 400, code: "InvalidArgument"},
		{name: "list", r: signed("GET", "/bkt?list-type=2&prefix=data%2F", nil)},
		{name: "list the staging area", r: signed("GET", "/bkt?list-type=2&prefix=.sgwtmp%2Fmultipart%2F", nil), status: 400, code: "InvalidArgument"},
		{name: "list versions of the staging area", r: signed("GET", "/bkt?versions&prefix=.sgwtmp/", nil), status: 400, code: "InvalidArgument"},
		{name: "create bucket", r: signed("PUT", "/my.bucket-1", nil)},
		{name: "create bucket a..b", r: signed("PUT", "/a..b", nil), status: 400, code: "InvalidBucketName"},
		{name: "create bucket xn--", r: signed("PUT", "/xn--abc/", nil), status: 400, code: "InvalidBucketName"},
		{name: "create bucket -s3alias", r: signed("PUT", "/abc-s3alias?x-id=CreateBucket", nil), status: 400, code: "InvalidBucketName"},
		{name: "bucket subresource of an old name", r: signed("PUT", "/xn--abc?tagging", []byte("<Tagging/>"))},
		{name: "GET of an invalid bucket name", r: signed("GET", "/a..b", nil)},
		{name: "delete objects", r: signed("POST", "/bkt?delete", xmlBody(`<Delete><Object><Key>ok</Key></Object></Delete>`))},
		{name: "delete a reserved key", r: signed("POST", "/bkt?delete=", deleteBody), status: 400, code: "InvalidArgument"},
		{name: "delete objects too long to check", r: signed("POST", "/bkt?delete", bytes.Repeat([]byte(" "), maxCheckedBody+1)), status: 400, code: "MaxMessageLengthExceeded"},
		{name: "complete", r: signed("POST", "/bkt/big?uploadId=u", okComplete)},
		{name: "complete out of order", r: signed("POST", "/bkt/big?uploadId=u", completeBody), status: 400, code: "InvalidPartOrder"},
		{name: "complete too long to check", r: signed("POST", "/bkt/big?uploadId=u", append(completeBody, bytes.Repeat([]byte(" "), maxCheckedBody)...))},

		{name: "presigned GET", r: presigned(root, "GET", "/bkt/k", "60", now)},
		{name: "presigned GET, session", r: presigned(session, "GET", "/bkt/k", "60", now)},
		{name: "presigned GET within the skew", r: presigned(root, "GET", "/bkt/k", "1", now.Add(14*time.Minute))},
		{name: "presigned, no X-Amz-Expires", r: presigned(root, "GET", "/bkt/k", "", now), status: 400, code: "AuthorizationQueryParametersError"},
		{name: "presigned a year ahead", r: presigned(root, "GET", "/bkt/k", "1", now.AddDate(1, 0, 0)), status: 403, code: "AccessDenied"},
		{name: "presigned a year ahead, session", r: presigned(session, "GET", "/bkt/k", "1", now.AddDate(1, 0, 0)), status: 403, code: "AccessDenied"},
		{name: "presigned and expired", r: presigned(root, "GET", "/bkt/k", "60", now.Add(-61*time.Second)), status: 403, code: "AccessDenied"},
		{name: "presigned, X-Amz-Expires=0", r: presigned(root, "GET", "/bkt/k", "0", now.Add(-time.Second)), status: 403, code: "AccessDenied"},
		{name: "presigned by an expired session", r: presigned(expired, "GET", "/bkt/k", "3600", now.Add(-time.Minute)), status: 400, code: "ExpiredToken"},
		{name: "presigned with a wrong secret", r: presigned(aws.Credentials{AccessKeyID: rootKey, SecretAccessKey: "x"}, "GET", "/bkt/k", "60", now), status: 403, code: "SignatureDoesNotMatch"},
		{name: "presigned with an unknown key", r: presigned(aws.Credentials{AccessKeyID: "AKIAUNKNOWN", SecretAccessKey: "x"}, "GET", "/bkt/k", "60", now), status: 403, code: "InvalidAccessKeyId"},
		{name: "presigned with a forged session token", r: presigned(aws.Credentials{AccessKeyID: session.AccessKeyID, SecretAccessKey: session.SecretAccessKey, SessionToken: "forged"}, "GET", "/bkt/k", "60", now), status: 400, code: "InvalidToken"},
		{name: "presigned with an unsigned content hash header", r: withHeader(presigned(root, "PUT", "/bkt/k", "60", now), "X-Amz-Content-Sha256", strings.Repeat("0", 64))},
		{name: "presigned with a signed content hash header", r: presigned(root, "PUT", "/bkt/k", "60", now, "X-Amz-Content-Sha256", sigv4.UnsignedPayload)},
		{name: "presigned, then a key problem", r: presigned(root, "GET", "/bkt/.sgwtmp/x", "60", now), status: 400, code: "InvalidArgument"},
	} {
		var body []byte
		if c.r.Body != nil {
			body, _ = io.ReadAll(c.r.Body)
			c.r.Body = io.NopCloser(bytes.NewReader(body))
		}
		w := httptest.NewRecorder()
		rejected := g.reject(w, c.r)
		switch {
		case c.code == "" && rejected:
			t.Errorf("%s: refused: %d %s", c.name, w.Code, w.Body)
		case c.code != "" && !rejected:
			t.Errorf("%s: not refused, want %d %s", c.name, c.status, c.code)
		case c.code != "" && (w.Code != c.status || w.Header().Get("X-Amz-Error-Code") != c.code):
			t.Errorf("%s: %d %s, want %d %s", c.name, w.Code, w.Body, c.status, c.code)
		case !rejected && c.r.Body != nil:
			got, _ := io.ReadAll(c.r.Body)
			if !bytes.Equal(got, body) {
				t.Errorf("%s: the body forwarded is %d bytes, not the %d sent", c.name, len(got), len(body))
			}
		}
	}
}
