package sigv4

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/openfinspace/openfinspace/internal/auth"
)

// Requests signed by the Go SDK verify, both on the client-side request
// object and as received by a real server.
func TestVerifySDKSignHTTP(t *testing.T) {
	v := testVerifier()
	srv := newServer(t, v)
	for _, s := range specs {
		for _, c := range []aws.Credentials{longCreds, tempCreds} {
			t.Run(s.name+"/"+c.AccessKeyID, func(t *testing.T) {
				req := sign(t, newRequest(t, "http://finspace.local:8080", s), s, signOpts{creds: c, at: testNow})
				res, err := verifyDirect(v, req)
				if err != nil {
					t.Fatalf("direct: %v\nAuthorization: %s", err, req.Header.Get("Authorization"))
				}
				if res.AccessKeyID != c.AccessKeyID || res.Service != s.service || res.Region != region ||
					!res.SigningTime.Equal(testNow) || res.Presigned || res.Credential.AccessKeyID != c.AccessKeyID {
					t.Fatalf("result = %+v", res)
				}
				if want := testStore()[c.AccessKeyID].Principal; res.Principal != want {
					t.Fatalf("principal = %+v, want %+v", res.Principal, want)
				}

				req = sign(t, newRequest(t, srv.URL, s), s, signOpts{creds: c, at: testNow})
				if o := send(t, req); !o.OK || o.Service != s.service || o.AccessKeyID != c.AccessKeyID {
					t.Fatalf("server: %+v", o)
				}
			})
		}
	}
}

// Presigned URLs made by the Go SDK verify.
func TestVerifySDKPresign(t *testing.T) {
	v := testVerifier()
	srv := newServer(t, v)
	presignable := []reqSpec{
		{name: "s3 get object", service: "s3", method: "GET", target: "/bucket/dir/my%20file%21.txt"},
		{name: "s3 get with query", service: "s3", method: "GET", target: "/bucket/k?versionId=v%2B1&response-content-type=text%2Fplain"},
		{name: "sts get caller identity", service: "sts", method: "GET", target: "/?Action=GetCallerIdentity&Version=2011-06-15"},
		{name: "kx connect", service: "finspace-apricot", method: "GET",
			target: "/?Host=h.example&Port=5000&User=bob&Action=finspace%3AConnectKxCluster"},
		{name: "finspace arn path", service: "finspace", method: "GET", target: arnPath + "?tagKeys=b&tagKeys=a"},
	}
	for _, s := range presignable {
		for _, c := range []aws.Credentials{longCreds, tempCreds} {
			t.Run(s.name+"/"+c.AccessKeyID, func(t *testing.T) {
				o := signOpts{creds: c, at: testNow.Add(-5 * time.Minute), presign: 15 * time.Minute}
				req := sign(t, newRequest(t, "http://finspace.local", s), s, o)
				res, err := verifyDirect(v, req)
				if err != nil {
					t.Fatalf("direct: %v\nURL: %s", err, req.URL)
				}
				if !res.Presigned || res.Service != s.service || res.AccessKeyID != c.AccessKeyID {
					t.Fatalf("result = %+v", res)
				}
				req = sign(t, newRequest(t, srv.URL, s), s, o)
				if out := send(t, req); !out.OK || !out.Presigned {
					t.Fatalf("server: %+v", out)
				}
			})
		}
	}
}

func specNamed(name string) reqSpec {
	for _, s := range specs {
		if s.name == name {
			return s
		}
	}
	panic("no spec " + name)
}

func replaceBody(req *http.Request, body string) {
	req.Body = io.NopCloser(strings.NewReader(body))
	req.ContentLength = int64(len(body))
}

// Every mutation of a signed request is refused with the right code.
func TestVerifyMutations(t *testing.T) {
	post := specNamed("finspace post json")
	del := specNamed("finspace delete repeated keys")
	custom := specNamed("finspace custom headers")
	s3put := specNamed("s3 put")
	type tc struct {
		name   string
		spec   reqSpec
		opts   signOpts
		mutate func(*http.Request)
		code   string
	}
	long := signOpts{creds: longCreds, at: testNow}
	temp := signOpts{creds: tempCreds, at: testNow}
	cases := []tc{
		{"body changed", post, long, func(r *http.Request) {
			replaceBody(r, strings.Replace(post.body, "env1", "env2", 1))
		}, CodeInvalidSignature},
		{"body dropped", post, long, func(r *http.Request) { r.Body = nil; r.ContentLength = 0 }, CodeInvalidSignature},
		{"s3 body changed", s3put, long, func(r *http.Request) { replaceBody(r, "HELLO, OBJECT") }, CodeContentSHA256Mismatch},
		{"s3 body changed, header hash updated", s3put, long, func(r *http.Request) {
			replaceBody(r, "HELLO, OBJECT")
			r.Header.Set("X-Amz-Content-Sha256", sha256Hex([]byte("HELLO, OBJECT")))
		}, CodeInvalidSignature},
		{"path changed", del, long, func(r *http.Request) {
			r.URL.RawPath = strings.Replace(r.URL.RawPath, "c1", "c2", 1)
			r.URL.Path = strings.Replace(r.URL.Path, "c1", "c2", 1)
		}, CodeInvalidSignature},
		{"path sent decoded", del, long, func(r *http.Request) { r.URL.RawPath = "" }, CodeInvalidSignature},
		{"path escaped differently", del, long, func(r *http.Request) {
			r.URL.RawPath = strings.Replace(r.URL.RawPath, "%3A", "%3a", 1)
		}, CodeInvalidSignature},
		{"query value changed", del, long, func(r *http.Request) { r.URL.RawQuery = "tagKeys=a&tagKeys=c" }, CodeInvalidSignature},
		{"query key dropped", del, long, func(r *http.Request) { r.URL.RawQuery = "tagKeys=a" }, CodeInvalidSignature},
		{"query key added", del, long, func(r *http.Request) { r.URL.RawQuery += "&x=1" }, CodeInvalidSignature},
		{"method changed", del, long, func(r *http.Request) { r.Method = "GET" }, CodeInvalidSignature},
		{"host changed", del, long, func(r *http.Request) { r.Host = "evil.local:8080" }, CodeInvalidSignature},
		{"signed header changed", custom, long, func(r *http.Request) { r.Header.Set("X-Custom", "a b c") }, CodeInvalidSignature},
		{"content-type changed", custom, long, func(r *http.Request) { r.Header.Set("Content-Type", "text/plain") }, CodeInvalidSignature},
		{"x-amz-date changed", del, long, func(r *http.Request) {
			r.Header.Set("X-Amz-Date", testNow.Add(time.Second).Format(amzDateLayout))
		}, CodeInvalidSignature},
		{"signature changed", del, long, func(r *http.Request) {
			a := r.Header.Get("Authorization")
			i := strings.Index(a, "Signature=") + len("Signature=")
			c := byte('0')
			if a[i] == '0' {
				c = '1'
			}
			r.Header.Set("Authorization", a[:i]+string(c)+a[i+1:])
		}, CodeInvalidSignature},
		{"scope region changed", del, long, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/us-east-1/", "/eu-west-1/", 1))
		}, CodeInvalidSignature},
		{"scope service changed", del, long, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/finspace/", "/finspace-api/", 1))
		}, CodeInvalidSignature},
		{"scope date differs from x-amz-date", del, long, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "/20240506/", "/20240505/", 1))
		}, CodeInvalidSignature},
		{"signed header list changed", custom, long, func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ";x-custom", "", 1))
		}, CodeInvalidSignature},
		{"wrong secret", del, signOpts{creds: aws.Credentials{AccessKeyID: longAKID, SecretAccessKey: tempSecret}, at: testNow}, nil, CodeInvalidSignature},
		{"unknown key", del, signOpts{creds: aws.Credentials{AccessKeyID: "AKIAUNKNOWN000000000", SecretAccessKey: longSecret}, at: testNow}, nil, CodeUnrecognizedClient},
		{"missing token", del, signOpts{creds: aws.Credentials{AccessKeyID: tempAKID, SecretAccessKey: tempSecret}, at: testNow}, nil, CodeUnrecognizedClient},
		{"token header removed", del, temp, func(r *http.Request) { r.Header.Del("X-Amz-Security-Token") }, CodeUnrecognizedClient},
		{"wrong token", del, signOpts{creds: aws.Credentials{AccessKeyID: tempAKID, SecretAccessKey: tempSecret, SessionToken: tempToken + "x"}, at: testNow}, nil, CodeUnrecognizedClient},
		{"token of another credential", del, signOpts{creds: aws.Credentials{AccessKeyID: tempAKID, SecretAccessKey: tempSecret, SessionToken: expiredToken}, at: testNow}, nil, CodeUnrecognizedClient},
		{"token with a long-term key", del, signOpts{creds: aws.Credentials{AccessKeyID: longAKID, SecretAccessKey: longSecret, SessionToken: tempToken}, at: testNow}, nil, CodeUnrecognizedClient},
		{"expired credential", del, signOpts{creds: expiredCreds, at: testNow}, nil, CodeExpiredToken},
		{"signed 16 min ago", del, signOpts{creds: longCreds, at: testNow.Add(-16 * time.Minute)}, nil, CodeInvalidSignature},
		{"signed 16 min ahead", del, signOpts{creds: longCreds, at: testNow.Add(16 * time.Minute)}, nil, CodeInvalidSignature},
		{"authorization removed", del, long, func(r *http.Request) { r.Header.Del("Authorization") }, CodeMissingAuthenticationToken},
		{"also presigned", del, long, func(r *http.Request) { r.URL.RawQuery += "&X-Amz-Signature=00" }, CodeInvalidArgument},
		{"two authorization headers", del, long, func(r *http.Request) { r.Header.Add("Authorization", r.Header.Get("Authorization")) }, CodeIncompleteSignature},
		{"no date", del, long, func(r *http.Request) { r.Header.Del("X-Amz-Date") }, CodeIncompleteSignature},
		{"bad date", del, long, func(r *http.Request) { r.Header.Set("X-Amz-Date", "2024-05-06T12:00:00Z") }, CodeIncompleteSignature},
	}
	v := testVerifier()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := sign(t, newRequest(t, "http://finspace.local:8080", c.spec), c.spec, c.opts)
			if c.mutate != nil {
				c.mutate(req)
			}
			_, err := verifyDirect(v, req)
			wantCode(t, err, c.code)
		})
	}
}

func TestVerifySkewWindow(t *testing.T) {
	s := specNamed("finspace post json")
	v := testVerifier()
	for _, d := range []time.Duration{-15 * time.Minute, -14 * time.Minute, 0, 14 * time.Minute, 15 * time.Minute} {
		req := sign(t, newRequest(t, "http://h", s), s, signOpts{creds: longCreds, at: testNow.Add(d)})
		if _, err := verifyDirect(v, req); err != nil {
			t.Errorf("signed at now%+v: %v", d, err)
		}
	}
	req := sign(t, newRequest(t, "http://h", s), s, signOpts{creds: longCreds, at: testNow.Add(-16 * time.Minute)})
	_, err := verifyDirect(v, req)
	e := wantCode(t, err, CodeInvalidSignature)
	want := "Signature expired: 20240506T114400Z is now earlier than 20240506T114500Z (20240506T120000Z - 15 min.)"
	if e.Message != want {
		t.Errorf("message = %q, want %q", e.Message, want)
	}
	req = sign(t, newRequest(t, "http://h", s), s, signOpts{creds: longCreds, at: testNow.Add(16 * time.Minute)})
	_, err = verifyDirect(v, req)
	e = wantCode(t, err, CodeInvalidSignature)
	want = "Signature not yet current: 20240506T121600Z is still later than 20240506T121500Z (20240506T120000Z + 15 min.)"
	if e.Message != want {
		t.Errorf("message = %q, want %q", e.Message, want)
	}

	// A custom window.
	v2 := &Verifier{Credentials: testStore(), Now: v.Now, MaxSkew: 5 * time.Minute}
	req = sign(t, newRequest(t, "http://h", s), s, signOpts{creds: longCreds, at: testNow.Add(-6 * time.Minute)})
	_, err = verifyDirect(v2, req)
	if e := wantCode(t, err, CodeInvalidSignature); !strings.HasSuffix(e.Message, "- 5 min.)") {
		t.Errorf("message = %q", e.Message)
	}
}

func TestVerifyPresignRefusals(t *testing.T) {
	s := reqSpec{name: "s3 get", service: "s3", method: "GET", target: "/bucket/key"}
	v := testVerifier()
	type tc struct {
		name   string
		opts   signOpts
		mutate func(*http.Request)
		code   string
	}
	ok := signOpts{creds: tempCreds, at: testNow.Add(-time.Minute), presign: time.Hour}
	setQ := func(k, val string) func(*http.Request) {
		return func(r *http.Request) {
			q := r.URL.Query()
			q.Set(k, val)
			r.URL.RawQuery = q.Encode()
		}
	}
	delQ := func(k string) func(*http.Request) {
		return func(r *http.Request) {
			q := r.URL.Query()
			q.Del(k)
			r.URL.RawQuery = q.Encode()
		}
	}
	cases := []tc{
		{"valid", ok, nil, ""},
		{"valid until the last second", signOpts{creds: longCreds, at: testNow.Add(-time.Hour), presign: time.Hour}, nil, ""},
		{"expired", signOpts{creds: longCreds, at: testNow.Add(-time.Hour - time.Second), presign: time.Hour}, nil, CodeAccessDenied},
		{"seven days ago", signOpts{creds: longCreds, at: testNow.Add(-MaxPresignExpiry + time.Minute), presign: MaxPresignExpiry}, nil, ""},
		{"not yet valid", signOpts{creds: longCreds, at: testNow.Add(16 * time.Minute), presign: time.Hour}, nil, CodeAccessDenied},
		{"expires over a week", signOpts{creds: longCreds, at: testNow, presign: MaxPresignExpiry + time.Second}, nil, CodeQueryParameters},
		{"expires not a number", ok, setQ("X-Amz-Expires", "soon"), CodeQueryParameters},
		{"expires negative", ok, setQ("X-Amz-Expires", "-1"), CodeQueryParameters},
		{"query tampered", ok, setQ("versionId", "1"), CodeInvalidSignature},
		{"signature tampered", ok, setQ("X-Amz-Signature", strings.Repeat("ab", 32)), CodeInvalidSignature},
		{"signature short", ok, setQ("X-Amz-Signature", "abcd"), CodeQueryParameters},
		{"algorithm", ok, setQ("X-Amz-Algorithm", "AWS4-ECDSA-P256-SHA256"), CodeQueryParameters},
		{"no credential", ok, delQ("X-Amz-Credential"), CodeQueryParameters},
		{"no date", ok, delQ("X-Amz-Date"), CodeQueryParameters},
		{"no signed headers", ok, delQ("X-Amz-SignedHeaders"), CodeQueryParameters},
		{"host not signed", ok, setQ("X-Amz-SignedHeaders", "x-amz-date"), CodeQueryParameters},
		{"bad terminal", ok, setQ("X-Amz-Credential", tempAKID+"/20240506/us-east-1/s3/aws4_requests"), CodeQueryParameters},
		{"token removed", ok, delQ("X-Amz-Security-Token"), CodeUnrecognizedClient},
		{"token changed", ok, setQ("X-Amz-Security-Token", "nope"), CodeUnrecognizedClient},
		{"expires changed", ok, setQ("X-Amz-Expires", "7200"), CodeInvalidSignature},
		{"duplicated parameter", ok, func(r *http.Request) { r.URL.RawQuery += "&X-Amz-Date=20240506T120000Z" }, CodeQueryParameters},
		{"with authorization header too", ok, func(r *http.Request) { r.Header.Set("Authorization", "AWS4-HMAC-SHA256 x") }, CodeInvalidArgument},
		{"expired credential", signOpts{creds: expiredCreds, at: testNow, presign: time.Hour}, nil, CodeExpiredToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			req := sign(t, newRequest(t, "http://finspace.local", s), s, c.opts)
			if c.mutate != nil {
				c.mutate(req)
			}
			_, err := verifyDirect(v, req)
			if c.code == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantCode(t, err, c.code)
		})
	}
}

func TestVerifyMissingAuthentication(t *testing.T) {
	v := testVerifier()
	for _, target := range []string{"/kx/environments", "/kx/environments?X-Amz-Date=20240506T120000Z"} {
		req, _ := http.NewRequest("GET", "http://h"+target, nil)
		_, err := v.Verify(context.Background(), req, nil)
		e := wantCode(t, err, CodeMissingAuthenticationToken)
		if e.Status != 403 || e.Message != "Missing Authentication Token" {
			t.Errorf("%s: %+v", target, e)
		}
	}
	req, _ := http.NewRequest("GET", "http://h/", nil)
	req.Header.Set("Authorization", "  ")
	_, err := v.Verify(context.Background(), req, nil)
	wantCode(t, err, CodeMissingAuthenticationToken)
}

func TestVerifyMalformedAuthorization(t *testing.T) {
	const sig = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	cred := longAKID + "/20240506/us-east-1/finspace/aws4_request"
	cases := []struct{ header, msg string }{
		{"AWS4-HMAC-SHA256", "requires 'Credential' parameter"},
		{"AWS4-HMAC-SHA256 Credential=" + cred, "requires 'Signature' parameter"},
		{"AWS4-HMAC-SHA256 Credential=" + cred + ", Signature=" + sig, "requires 'SignedHeaders' parameter"},
		{"AWS4-HMAC-SHA256 SignedHeaders=host, Signature=" + sig, "requires 'Credential' parameter"},
		{"AWS4-HMAC-SHA256 Credential=, SignedHeaders=host, Signature=" + sig, "requires 'Credential' parameter"},
		{"AWS4-HMAC-SHA256 Credential=" + strings.TrimSuffix(cred, "/aws4_request") + ", SignedHeaders=host, Signature=" + sig, "exactly 5 slash-delimited"},
		{"AWS4-HMAC-SHA256 Credential=" + strings.Replace(cred, "aws4_request", "aws5_request", 1) + ", SignedHeaders=host, Signature=" + sig, "valid terminator"},
		{"AWS4-HMAC-SHA256 Credential=" + strings.Replace(cred, "20240506", "2024-5-6", 1) + ", SignedHeaders=host, Signature=" + sig, "yyyyMMdd"},
		{"AWS4-HMAC-SHA256 Credential=" + strings.Replace(cred, "us-east-1", "", 1) + ", SignedHeaders=host, Signature=" + sig, "region"},
		{"AWS4-HMAC-SHA256 Credential=" + strings.Replace(cred, "finspace", "", 1) + ", SignedHeaders=host, Signature=" + sig, "service"},
		{"AWS4-HMAC-SHA256 Credential=/20240506/us-east-1/finspace/aws4_request, SignedHeaders=host, Signature=" + sig, "access key"},
		{"AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host, Signature=xyz", "64 hexadecimal"},
		{"AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host, Signature=" + sig + "00", "64 hexadecimal"},
		{"AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host, Signature=" + strings.Replace(sig, "0", "g", 1), "64 hexadecimal"},
		{"AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=x-amz-date, Signature=" + sig, "'Host'"},
		{"AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host;;x-amz-date, Signature=" + sig, "empty header name"},
		{"AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host;x\u212Aey, Signature=" + sig, "invalid header name"},
		{"AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders=host;a:b, Signature=" + sig, "invalid header name"},
		{"AWS4-HMAC-SHA256 Credential=" + cred + ", Credential=" + cred + ", SignedHeaders=host, Signature=" + sig, "more than one 'Credential'"},
		{"AWS4-HMAC-SHA256 Credential=" + cred + ", SignedHeaders, Signature=" + sig, "missing equal-sign"},
		{"Bearer abc.def", "only AWS4-HMAC-SHA256"},
		{"AWS " + longAKID + ":c2lnbmF0dXJl", "only AWS4-HMAC-SHA256"},
		{"AWS4-ECDSA-P256-SHA256 Credential=" + cred + ", SignedHeaders=host, Signature=" + sig, "only AWS4-HMAC-SHA256"},
		{"aws4-hmac-sha256 Credential=" + cred + ", SignedHeaders=host, Signature=" + sig, "only AWS4-HMAC-SHA256"},
	}
	v := testVerifier()
	for _, c := range cases {
		req, _ := http.NewRequest("GET", "http://h/", nil)
		req.Header.Set("Authorization", c.header)
		req.Header.Set("X-Amz-Date", "20240506T120000Z")
		_, err := v.Verify(context.Background(), req, nil)
		e := wantCode(t, err, CodeIncompleteSignature)
		if e.Status != 403 || !strings.Contains(e.Message, c.msg) {
			t.Errorf("%q: got %q, want it to mention %q", c.header, e.Message, c.msg)
		}
	}
}

func TestVerifyContentSHA256(t *testing.T) {
	s := specNamed("s3 put")
	v := testVerifier()
	cases := []struct {
		value string
		code  string
	}{
		{UnsignedPayload, ""},
		{"STREAMING-AWS4-HMAC-SHA256-PAYLOAD", CodeNotImplemented},
		{"STREAMING-UNSIGNED-PAYLOAD-TRAILER", CodeNotImplemented},
		{"abc", CodeInvalidArgument},
		{strings.Repeat("z", 64), CodeInvalidArgument},
		{sha256Hex([]byte("other")), CodeContentSHA256Mismatch},
	}
	for _, c := range cases {
		req := newRequest(t, "http://h", s)
		req.Header.Set("X-Amz-Content-Sha256", c.value)
		if err := sdkSignWithHash(req, s, c.value); err != nil {
			t.Fatal(err)
		}
		res, err := verifyDirect(v, req)
		if c.code == "" {
			if err != nil {
				t.Fatalf("%s: %v", c.value, err)
			}
			if res.PayloadHash != c.value {
				t.Fatalf("PayloadHash = %q", res.PayloadHash)
			}
			continue
		}
		wantCode(t, err, c.code)
	}
	// Non-S3 services may send the header too (the CLI does for some).
	fs := specNamed("finspace post json")
	req := newRequest(t, "http://h", fs)
	req.Header.Set("X-Amz-Content-Sha256", sha256Hex([]byte(fs.body)))
	if err := sdkSignWithHash(req, fs, sha256Hex([]byte(fs.body))); err != nil {
		t.Fatal(err)
	}
	if _, err := verifyDirect(v, req); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyStoreError(t *testing.T) {
	boom := errors.New("database is on fire")
	v := &Verifier{Credentials: failingStore{boom}, Now: func() time.Time { return testNow }}
	s := specNamed("finspace post json")
	req := sign(t, newRequest(t, "http://h", s), s, signOpts{creds: longCreds, at: testNow})
	_, err := verifyDirect(v, req)
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the store's error", err)
	}
	var e *Error
	if errors.As(err, &e) {
		t.Fatalf("store error became %v", e)
	}

	// A Chain that does not know the key reports an unknown key.
	v = &Verifier{Credentials: auth.Chain{auth.Static{}}, Now: v.Now}
	req = sign(t, newRequest(t, "http://h", s), s, signOpts{creds: longCreds, at: testNow})
	_, err = verifyDirect(v, req)
	wantCode(t, err, CodeUnrecognizedClient)
}

type failingStore struct{ err error }

func (f failingStore) LookupAccessKey(context.Context, string) (*auth.Credential, error) {
	return nil, f.err
}

// The official AWS SigV4 test vectors: get-vanilla from the 2015 suite and
// from the 2011 suite, which dates requests with the Date header.
func TestVerifyAWSTestVectors(t *testing.T) {
	store := auth.Static{"AKIDEXAMPLE": {AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}}
	cases := []struct {
		now             time.Time
		host, authz     string
		amzDate, date   string
		service, region string
	}{
		{now: time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC), host: "example.amazonaws.com", amzDate: "20150830T123600Z",
			authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
		{now: time.Date(2011, 9, 9, 23, 36, 0, 0, time.UTC), host: "host.foo.com", date: "Mon, 09 Sep 2011 23:36:00 GMT",
			authz: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20110909/us-east-1/host/aws4_request, SignedHeaders=date;host, Signature=b27ccfbfa7df52a200ff74193ca6e32d4b48b8856fab7ebf1c595d0670a7e470"},
	}
	for _, c := range cases {
		v := &Verifier{Credentials: store, Now: func() time.Time { return c.now }}
		req, _ := http.NewRequest("GET", "http://"+c.host+"/", nil)
		req.Header.Set("Authorization", c.authz)
		if c.amzDate != "" {
			req.Header.Set("X-Amz-Date", c.amzDate)
		}
		if c.date != "" {
			req.Header.Set("Date", c.date)
		}
		res, err := v.Verify(context.Background(), req, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.authz, err)
		}
		if !res.SigningTime.Equal(c.now) {
			t.Errorf("signing time %v", res.SigningTime)
		}
	}
}

func TestVerifyConcurrent(t *testing.T) {
	v := testVerifier()
	// Sign on the test goroutine (sign may call t.Fatal); verify in parallel.
	reqs := make([][]*http.Request, 16)
	for i := range reqs {
		s := specs[i%len(specs)]
		c := []aws.Credentials{longCreds, tempCreds}[i%2]
		for range 20 {
			reqs[i] = append(reqs[i], sign(t, newRequest(t, "http://h", s), s, signOpts{creds: c, at: testNow}))
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, len(reqs))
	for _, rs := range reqs {
		wg.Go(func() {
			for _, req := range rs {
				if _, err := verifyDirect(v, req); err != nil {
					errs <- fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func TestKeyCache(t *testing.T) {
	var c keyCache
	s := Scope{AccessKeyID: "A", Date: "20240506", Region: "r", Service: "s", Terminal: Terminal}
	k1 := c.signingKey("secret1", s)
	if k := c.signingKey("secret1", s); k != k1 {
		t.Fatal("cached key differs")
	}
	// A rotated secret must not reuse the old key.
	k2 := c.signingKey("secret2", s)
	if k2 == k1 || k2 != deriveKey("secret2", s.Date, s.Region, s.Service) {
		t.Fatal("rotated secret reused the cached key")
	}
	for i := range 3 * keyCacheSize {
		s.Region = fmt.Sprint("region-", i)
		c.signingKey("secret", s)
	}
	if n := c.len(); n > keyCacheSize {
		t.Fatalf("cache holds %d keys, bound %d", n, keyCacheSize)
	}
}

// Errors have the S3 flavour the S3 endpoint needs.
func TestErrorForS3(t *testing.T) {
	cases := []struct {
		e      *Error
		status int
		code   string
	}{
		{errMissing(), 403, "AccessDenied"},
		{errIncomplete("x"), 400, "AuthorizationHeaderMalformed"},
		{errUnknownKey(), 403, "InvalidAccessKeyId"},
		{errBadToken(), 400, "InvalidToken"},
		{errSignature(), 403, "SignatureDoesNotMatch"},
		{errSkew("x"), 403, "RequestTimeTooSkewed"},
		{errPresignExpired(), 403, "AccessDenied"},
		{errCredentialExpired(), 400, "ExpiredToken"},
		{errContentMismatch(), 400, CodeContentSHA256Mismatch},
		{errQueryParams("x"), 400, CodeQueryParameters},
	}
	for _, c := range cases {
		got := c.e.ForS3()
		if got.Status != c.status || got.Code != c.code || got.Message == "" {
			t.Errorf("%s.ForS3() = %+v, want %d %s", c.e.Code, got, c.status, c.code)
		}
	}
}

func TestPeekScope(t *testing.T) {
	cases := []struct {
		header, query   string
		service, region string
		ok              bool
	}{
		{header: "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/finspace/aws4_request, SignedHeaders=host, Signature=00",
			service: "finspace", region: "us-east-1", ok: true},
		{header: "AWS4-HMAC-SHA256 Credential=AKID/20240101/eu-west-2/finspace-api/aws4_request,SignedHeaders=host",
			service: "finspace-api", region: "eu-west-2", ok: true},
		{header: "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sts/aws4_request",
			service: "sts", region: "us-east-1", ok: true},
		{query: "a=1&X-Amz-Credential=AKID%2F20240101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=00",
			service: "s3", region: "us-east-1", ok: true},
		{query: "X-Amz-Credential=AKID/20240101/us-west-2/s3/aws4_request", service: "s3", region: "us-west-2", ok: true},
		{header: "Bearer x"},
		{header: "AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1"},
		{header: "AWS4-HMAC-SHA256 Credential=AKID/20240101//finspace/aws4_request"},
		{header: "AWS4-HMAC-SHA256 Credential=a/b/c/d/e/f"},
		{query: "X-Amz-Credential=%zz"},
		{},
	}
	for _, c := range cases {
		req := &http.Request{Header: http.Header{}, URL: &url.URL{Path: "/", RawQuery: c.query}}
		if c.header != "" {
			req.Header.Set("Authorization", c.header)
		}
		svc, reg, ok := PeekScope(req)
		if svc != c.service || reg != c.region || ok != c.ok {
			t.Errorf("PeekScope(%q, %q) = %q, %q, %v", c.header, c.query, svc, reg, ok)
		}
	}
}
