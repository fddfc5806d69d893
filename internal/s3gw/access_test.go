package s3gw

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openfinspace/openfinspace/internal/auth"
)

func TestEnvironmentDenial(t *testing.T) {
	const own = "finspace-us-east-1-000000000000-envaaaa"
	allowed := []struct {
		target string
		copy   []string
	}{
		{"/" + own, nil},
		{"/" + own + "/", nil},
		{"/" + own + "?list-type=2&prefix=ingestion%2F", nil},
		{"/" + own + "?location", nil},
		{"/" + own + "/ingestion/a.csv", nil},
		{"/" + own + "/ingestion/a%20b.csv?uploadId=x&partNumber=2", nil},
		{"/" + own + "/x", []string{own + "/y"}},
		{"/" + own + "/x", []string{"/" + own + "/y?versionId=3"}},
		{"/" + own + "/x", []string{strings.ReplaceAll(own, "-", "%2D") + "%2Fy"}},
		{"/finspace-us-east-1-000000000000-env%61aaa/k", nil}, // decodes to own
	}
	for _, a := range allowed {
		if why := environmentDenial(a.target, a.copy, own); why != "" {
			t.Errorf("%s (copy %v) denied: %s", a.target, a.copy, why)
		}
	}
	denied := []struct {
		target string
		copy   []string
	}{
		{"/", nil},
		{"/?x-id=ListBuckets", nil},
		{"//" + own + "/k", nil},
		{"/finspace-us-east-1-000000000000-envbbbb", nil},
		{"/finspace-us-east-1-000000000000-envbbbb/k", nil},
		{"/" + own + "x/k", nil},
		{"/other/k", nil},
		{"/" + own + "/../other/k", nil},
		{"/" + own + "/a/%2e%2e/%2e%2e/other/k", nil},
		{"/" + own + "%2F..%2Fother/k", nil},
		{"/" + own + "/k%zz", nil},
		{"relative", nil},
		{"/" + own + "/x", []string{"other/y"}},
		{"/" + own + "/x", []string{"/other/y"}},
		{"/" + own + "/x", []string{own}},
		{"/" + own + "/x", []string{own + "/../other/y"}},
		{"/" + own + "/x", []string{own + "%2F..%2Fother%2Fy"}},
		{"/" + own + "/x", []string{own + "/y", own + "/z"}},
		{"/" + own + "/x", []string{"%zz"}},
	}
	for _, d := range denied {
		if why := environmentDenial(d.target, d.copy, own); why == "" {
			t.Errorf("%s (copy %v) allowed", d.target, d.copy)
		}
	}
}

func TestCredentialOf(t *testing.T) {
	const hdr = "AWS4-HMAC-SHA256 Credential=AKIAAAAAAAAAAAAAAAAA/20260101/eu-west-1/s3/aws4_request, SignedHeaders=host, Signature=00"
	const q = "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIABBBBBBBBBBBBBBBB%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=00"
	req := func(target string, authz ...string) *http.Request {
		r := httptest.NewRequest("GET", target, nil)
		for _, a := range authz {
			r.Header.Add("Authorization", a)
		}
		return r
	}
	for _, c := range []struct {
		r            *http.Request
		akid, region string
		code         string
	}{
		{r: req("/b/k", hdr), akid: "AKIAAAAAAAAAAAAAAAAA", region: "eu-west-1"},
		{r: req("/b/k?list-type=2", hdr), akid: "AKIAAAAAAAAAAAAAAAAA", region: "eu-west-1"},
		{r: req("/b/k?" + q), akid: "AKIABBBBBBBBBBBBBBBB", region: "us-east-1"},
		// Two mechanisms, two headers, two credentials: refused.
		{r: req("/b/k?"+q, hdr), code: "InvalidArgument"},
		{r: req("/b/k?X-Amz-Expires=60", hdr), code: "InvalidArgument"},
		{r: req("/b/k?X%2DAmz%2DCredential=x", hdr), code: "InvalidArgument"},
		{r: req("/b/k?AWSAccessKeyId=AKIA&Signature=x&Expires=1", hdr), code: "InvalidArgument"},
		{r: req("/b/k", hdr, hdr), code: "AuthorizationHeaderMalformed"},
		{r: req("/b/k?" + q + "&X-Amz-Credential=AKIACCCCCCCCCCCCCCCC%2F20260101%2Fus-east-1%2Fs3%2Faws4_request"), code: "AuthorizationQueryParametersError"},
		{r: req("/b/k", "AWS4-HMAC-SHA256 Credential=AKIA/bad"), code: "AuthorizationHeaderMalformed"},
		{r: req("/b/k"), code: "AuthorizationHeaderMalformed"},
	} {
		akid, region, rerr := credentialOf(c.r)
		code := ""
		if rerr != nil {
			code = rerr.code
		}
		if akid != c.akid || region != c.region || code != c.code {
			t.Errorf("%s %v: %q %q %q, want %q %q %q", c.r.RequestURI, c.r.Header["Authorization"], akid, region, code, c.akid, c.region, c.code)
		}
	}
}

// A request authorized for one key cannot be executed under another: the
// parent refuses requests that carry two credentials, and the gateway
// refuses a request whose signature is by another key than the one the
// parent named.
func TestOneKeyPerRequest(t *testing.T) {
	user := &auth.Credential{AccessKeyID: "AKIATESTUSERUSERUSER", SecretAccessKey: "user-secret",
		Principal: auth.Principal{Kind: auth.FinSpaceUser, Account: testAccount, EnvironmentID: "envaaaa",
			ARN: "arn:aws:finspace:us-east-1:000000000000:user/envaaaa/u1"}}
	tg := startGateway(t, user)
	ctx := context.Background()
	if _, err := tg.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("secret")}); err != nil {
		t.Fatal(err)
	}
	mustPutObject(t, tg.s3, "secret", "k", []byte("secret data"))

	// The user presigns a GET of another bucket, and adds an Authorization
	// header naming the root key.
	pre, err := s3.NewPresignClient(s3Client(tg.url, user.AccessKeyID, user.SecretAccessKey, "")).
		PresignGetObject(ctx, &s3.GetObjectInput{Bucket: aws.String("secret"), Key: aws.String("k")})
	if err != nil {
		t.Fatal(err)
	}
	r, _ := http.NewRequest("GET", pre.URL, nil)
	r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+rootKey+"/"+time.Now().UTC().Format("20060102")+
		"/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=0000000000000000000000000000000000000000000000000000000000000000")
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(string(body), "InvalidArgument") {
		t.Errorf("presigned user URL with a root Authorization header: %s %s", resp.Status, body)
	}
	// Without the header the presigned URL is just denied.
	resp, err = http.Get(pre.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "<Code>AccessDenied</Code>") {
		t.Errorf("presigned user URL for another bucket: %s %s", resp.Status, body)
	}

	// Straight to the gateway process: signed by the user, authorized (as
	// if) for root.
	rt, err := tg.g.route(ctx, testRegion)
	if err != nil {
		t.Fatal(err)
	}
	send := func(authorizedFor string) int {
		req, _ := http.NewRequest("GET", "http://s3gw/secret/k", nil)
		const empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
		req.Header.Set("X-Amz-Content-Sha256", empty)
		if err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: user.AccessKeyID, SecretAccessKey: user.SecretAccessKey},
			req, empty, "s3", testRegion, time.Now()); err != nil {
			t.Fatal(err)
		}
		req.Header.Set(tokenHeader, tg.g.token)
		req.Header.Set(accessKeyHeader, authorizedFor)
		resp, err := rt.transport.RoundTrip(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	if st := send(rootKey); st != 403 {
		t.Errorf("gateway: a user's signature on a request authorized for root: %d, want 403", st)
	}
	if st := send(user.AccessKeyID); st != 200 {
		t.Errorf("gateway: a user's signature on a request authorized for the user: %d, want 200", st)
	}
}
