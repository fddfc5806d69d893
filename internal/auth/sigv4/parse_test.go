package sigv4

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestParseAuthorizationVariants(t *testing.T) {
	const sig = "0123456789abcdef0123456789ABCDEF0123456789abcdef0123456789abcdef"
	cred := "AKID/20240101/us-east-1/finspace/aws4_request"
	for _, h := range []string{
		"AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host;x-amz-date, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=" + cred + ",SignedHeaders=host;x-amz-date,Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=" + cred + " SignedHeaders=host;x-amz-date Signature=" + sig,
		"AWS4-HMAC-SHA256\tCredential=" + cred + ",\tSignedHeaders=host;x-amz-date,  Signature=" + sig,
		"  AWS4-HMAC-SHA256   Credential=" + cred + " ,  SignedHeaders=host;x-amz-date , Signature=" + sig + ",  ",
		"AWS4-HMAC-SHA256,Credential=" + cred + ",SignedHeaders=host;x-amz-date,Signature=" + sig,
		"AWS4-HMAC-SHA256 Signature=" + sig + ", SignedHeaders=host;x-amz-date, Credential=" + cred,
		"AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=Host;X-Amz-Date, Signature=" + sig + ", Extra=1",
	} {
		a, err := ParseAuthorization(h)
		if err != nil {
			t.Errorf("%q: %v", h, err)
			continue
		}
		want := Scope{AccessKeyID: "AKID", Date: "20240101", Region: "us-east-1", Service: "finspace", Terminal: "aws4_request"}
		if a.Algorithm != Algorithm || a.Scope != want || !slices.Equal(a.SignedHeaders, []string{"host", "x-amz-date"}) ||
			a.Signature != sig {
			t.Errorf("%q: %+v", h, a)
		}
		if a.Scope.String() != "20240101/us-east-1/finspace/aws4_request" {
			t.Errorf("scope string %q", a.Scope.String())
		}
	}
}

func TestNormalizePath(t *testing.T) {
	for in, want := range map[string]string{
		"":                  "/",
		"/":                 "/",
		"/a/b":              "/a/b",
		"/a//b/":            "/a/b/",
		"/a/./b/../c":       "/a/c",
		"/../a":             "/a",
		"//":                "/",
		"/a/b/..":           "/a",
		"/kx//environments": "/kx/environments",
		"/%2E/a":            "/%2E/a",
	} {
		if got := normalizePath(in); got != want {
			t.Errorf("normalizePath(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCanonicalURIs(t *testing.T) {
	if got := canonicalURIs(arnPath, "finspace"); len(got) != 1 ||
		got[0] != "/tags/arn%253Aaws%253Afinspace%253Aus-east-1%253A000000000000%253AkxEnvironment%252Fabc%252FkxCluster%252Fc1" {
		t.Errorf("finspace: %q", got)
	}
	if got := canonicalURIs(arnPath, "s3"); len(got) != 1 || got[0] != arnPath {
		t.Errorf("s3: %q", got)
	}
	if got := canonicalURIs("/a//b/./c d", "sts"); !slices.Equal(got, []string{"/a//b/./c%20d", "/a/b/c%20d"}) {
		t.Errorf("normalized: %q", got)
	}
}

func TestCanonicalQuery(t *testing.T) {
	for in, want := range map[string]string{
		"":                                   "",
		"tagKeys=b&tagKeys=a":                "tagKeys=a&tagKeys=b",
		"b=2&a=1&a":                          "a=&a=1&b=2",
		"a=x+y&a=x%20y&c=%7e&d=~":            "a=x%20y&a=x%20y&c=~&d=~",
		"k=a%2Fb&k=a-b":                      "k=a%2Fb&k=a-b",
		"n=%E2%82%AC&m=%e2%82%ac":            "m=%E2%82%AC&n=%E2%82%AC",
		"bad=%zz&semi=a;b&&":                 "bad=%25zz&semi=a%3Bb",
		"X-Amz-Signature=00&X-Amz-Date=1":    "X-Amz-Date=1",
		"slash=/&star=*&excl=!&paren=(x)":    "excl=%21&paren=%28x%29&slash=%2F&star=%2A",
		"list-type=2&prefix=a%2Fb&delimiter": "delimiter=&list-type=2&prefix=a%2Fb",
	} {
		if got := canonicalQuery(parseQuery(in), true); got != want {
			t.Errorf("canonicalQuery(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRequestTarget(t *testing.T) {
	// A server request: the request line wins over a rewritten URL.
	r := &http.Request{RequestURI: arnPath + "?a=1", URL: &url.URL{Path: "/rewritten", RawQuery: "b=2"}}
	if p, q := requestTarget(r); p != arnPath || q != "a=1" {
		t.Errorf("server request: %q %q", p, q)
	}
	// Absolute-form request line: use the parsed URL.
	u, _ := url.Parse("http://h" + arnPath + "?a=1")
	r = &http.Request{RequestURI: "http://h" + arnPath + "?a=1", URL: u}
	if p, q := requestTarget(r); p != arnPath || q != "a=1" {
		t.Errorf("absolute form: %q %q", p, q)
	}
	// Opaque, as the SDK documents for pre-escaped paths.
	r = &http.Request{URL: &url.URL{Scheme: "http", Host: "h", Opaque: "//h/a%2Fb", RawQuery: "x"}}
	if p, q := requestTarget(r); p != "/a%2Fb" || q != "x" {
		t.Errorf("opaque: %q %q", p, q)
	}
	r = &http.Request{URL: &url.URL{}}
	if p, _ := requestTarget(r); p != "/" {
		t.Errorf("empty: %q", p)
	}
}

func TestCanonicalHeaders(t *testing.T) {
	r := &http.Request{Host: "h:8080", ContentLength: -1, Header: http.Header{
		"X-Multi":   {" a  b ", "c"},
		"x-lower":   {"l"}, // set by hand, not canonical
		"X-Lower":   {"u"},
		"X-Tab":     {"\tt\t"},
		"X-Missing": nil,
	}}
	got := string(canonicalHeaders(nil, r, []string{"content-length", "host", "x-lower", "x-missing", "x-multi", "x-tab"}, []byte("12345")))
	want := "content-length:5\nhost:h:8080\nx-lower:u,l\nx-missing:\nx-multi:a b,c\nx-tab:t\n"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	r.Header.Set("Content-Length", "7")
	if got := string(canonicalHeaders(nil, r, []string{"content-length"}, nil)); got != "content-length:7\n" {
		t.Errorf("content-length from header: %q", got)
	}
}

// X-Amz-Date wins over Date; a Date header alone works (see the 2011 AWS
// vector in TestVerifyAWSTestVectors).
func TestVerifyDatePrecedence(t *testing.T) {
	s := specNamed("finspace post json")
	req := sign(t, newRequest(t, "http://h", s), s, signOpts{creds: longCreds, at: testNow})
	req.Header.Set("Date", "Mon, 09 Sep 2011 23:36:00 GMT")
	if _, err := verifyDirect(testVerifier(), req); err != nil {
		t.Fatal(err)
	}
	req = sign(t, newRequest(t, "http://h", s), s, signOpts{creds: longCreds, at: testNow})
	req.Header.Del("X-Amz-Date")
	req.Header.Set("Date", "not a date")
	_, err := verifyDirect(testVerifier(), req)
	wantCode(t, err, CodeIncompleteSignature)
}

func TestErrorString(t *testing.T) {
	e := errSignature()
	if !strings.HasPrefix(e.Error(), "InvalidSignatureException: ") {
		t.Errorf("Error() = %q", e.Error())
	}
	var v Verifier // no store: an internal error, not a client one
	req := sign(t, newRequest(t, "http://h", specs[0]), specs[0], signOpts{creds: longCreds, at: testNow})
	v.Now = testVerifier().Now
	if _, err := v.Verify(context.Background(), req, nil); err == nil || strings.Contains(err.Error(), "Exception") {
		t.Errorf("nil store: %v", err)
	}
}

// The client-visible messages are AWS's, word for word.
func TestErrorMessages(t *testing.T) {
	for _, c := range []struct {
		e             *Error
		status        int
		code, message string
	}{
		{errMissing(), 403, "MissingAuthenticationTokenException", "Missing Authentication Token"},
		{errUnknownKey(), 403, "UnrecognizedClientException", "The security token included in the request is invalid."},
		{errBadToken(), 403, "UnrecognizedClientException", "The security token included in the request is invalid."},
		{errSignature(), 403, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."},
		{errCredentialExpired(), 403, "ExpiredTokenException", "The security token included in the request is expired"},
		{errPresignExpired(), 403, "AccessDeniedException", "Request has expired"},
	} {
		if c.e.Status != c.status || c.e.Code != c.code || c.e.Message != c.message {
			t.Errorf("got %d %s %q, want %d %s %q", c.e.Status, c.e.Code, c.e.Message, c.status, c.code, c.message)
		}
	}
}
