package sigv4

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func FuzzParseAuthorization(f *testing.F) {
	const sig = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, s := range []string{
		"AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/finspace/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/s3/aws4_request,SignedHeaders=host,Signature=" + sig,
		"AWS4-HMAC-SHA256\tCredential=AKID/20240101/us-east-1/sts/aws4_request SignedHeaders=host Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/finspace/aws5_request, SignedHeaders=host, Signature=" + sig,
		"AWS4-HMAC-SHA256 Credential=a/b/c, Credential=d, SignedHeaders=;;, Signature=zz",
		"AWS4-HMAC-SHA256 ,,, = ==",
		"Bearer x",
		"",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		a, err := ParseAuthorization(h)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Code != CodeIncompleteSignature || e.Status != http.StatusForbidden {
				t.Fatalf("error %#v is not an IncompleteSignatureException", err)
			}
			if a != nil {
				t.Fatal("non-nil Authorization with an error")
			}
			return
		}
		if a.Algorithm != Algorithm || a.Terminal != Terminal || a.AccessKeyID == "" || a.Region == "" ||
			a.Service == "" || !validScopeDate(a.Date) || len(a.SignedHeaders) == 0 || len(a.sig) != 32 {
			t.Fatalf("accepted an invalid header %q: %+v", h, a)
		}
		for _, n := range a.SignedHeaders {
			if n == "" || n != strings.ToLower(n) {
				t.Fatalf("signed header %q", n)
			}
		}
		if !strings.Contains(h, a.Scope.AccessKeyID+"/"+a.Scope.String()) {
			t.Fatalf("scope %+v not from %q", a.Scope, h)
		}
	})
}

func FuzzVerify(f *testing.F) {
	// Seeds: requests signed by the SDK, which the fuzzer then mutates.
	for _, s := range specs {
		req := sign(f, newRequest(f, "http://h", s), s, signOpts{creds: tempCreds, at: testNow})
		f.Add(req.Method, req.URL.RequestURI(), req.Header.Get("Authorization"), req.Header.Get("X-Amz-Date"),
			req.Header.Get("X-Amz-Security-Token"), req.Header.Get("X-Amz-Content-Sha256"), []byte(s.body))
	}
	for _, s := range specs[:3] {
		req := sign(f, newRequest(f, "http://h", s), s, signOpts{creds: longCreds, at: testNow, presign: time.Hour})
		f.Add(req.Method, req.URL.RequestURI(), "", "", "", "", []byte(s.body))
	}
	f.Add("GET", "/%zz/a?b=%zz&&=&c", "AWS4-HMAC-SHA256 Credential=x", "x", "", "STREAMING-x", []byte(nil))
	f.Add("", "", "", "", "", "", []byte("{}"))

	v := testVerifier()
	f.Fuzz(func(t *testing.T, method, target, authz, amzDate, token, contentSHA string, body []byte) {
		req := &http.Request{Method: method, Host: "h", Header: http.Header{}, ContentLength: int64(len(body))}
		if u, err := url.ParseRequestURI(target); err == nil {
			req.URL = u
			req.RequestURI = target
		} else {
			req.URL = &url.URL{Path: "/", RawQuery: target}
		}
		for k, val := range map[string]string{"Authorization": authz, "X-Amz-Date": amzDate,
			"X-Amz-Security-Token": token, "X-Amz-Content-Sha256": contentSHA} {
			if val != "" {
				req.Header.Set(k, val)
			}
		}
		req.Header.Set("Content-Type", "application/json")
		req.Body = io.NopCloser(strings.NewReader(string(body)))
		PeekScope(req)
		res, err := v.Verify(context.Background(), req, body)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status < 400 || e.Code == "" || e.Message == "" {
				t.Fatalf("error %#v is not a client *Error", err)
			}
			for _, secret := range []string{longSecret, tempSecret, tempToken} {
				if strings.Contains(e.Message, secret) {
					t.Fatalf("message leaks a secret: %q", e.Message)
				}
			}
			return
		}
		if res.Credential == nil || res.AccessKeyID != res.Credential.AccessKeyID {
			t.Fatalf("result %+v", res)
		}
	})
}
