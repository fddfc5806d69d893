package sigv4_test

// A differential test of presigned S3 URLs: each case is a rule of
// query-string authentication with the answer Amazon S3 gives, run against
// openfinspace's main port (S3 served by the gateway behind it) for every
// kind of principal, with URLs built by hand (the SDK's v4 signer) and,
// where the SDK can express the case, by the Go SDK's presigner
// (s3.NewPresignClient).
//
// Where the answers come from:
//   - Amazon S3 API Reference, "Authenticating Requests: Using Query
//     Parameters (AWS Signature Version 4)" (sigv4-query-string-auth):
//     X-Amz-Algorithm, -Credential, -Date, -Expires, -SignedHeaders and
//     -Signature make a presigned URL; X-Amz-Expires is an integer "The
//     minimum value you can set is 1, and the maximum is 604800 (seven
//     days)"; X-Amz-Date is yyyyMMdd'T'HHmmss'Z' and the credential scope's
//     date must be its day; the host header must be signed; the signing key
//     of temporary credentials dies with them.
//   - Amazon S3 API Reference, "Error responses" (ErrorResponses): the
//     codes and statuses: AuthorizationQueryParametersError 400,
//     AccessDenied 403, SignatureDoesNotMatch 403, InvalidAccessKeyId 403,
//     ExpiredToken 400 ("The provided token has expired.").
//   - S3's messages for these errors, as S3 returns them (quoted in public
//     issue threads and in S3-compatible servers' test suites that run
//     against AWS: "X-Amz-Expires must be non-negative", "X-Amz-Expires
//     should be a number", "X-Amz-Expires must be less than a week (in
//     seconds); that is, the given X-Amz-Expires must be less than 604800
//     seconds", "Request has expired", "Request is not yet valid",
//     "Invalid credential date ... This date is not the same as
//     X-Amz-Date").
//
// Two choices where the documentation says nothing: X-Amz-Expires=0 is a
// URL that expired as it was signed (403 Request has expired: 0 is a
// number, non-negative and under a week, so the parameter checks pass),
// and a URL dated more than 15 minutes ahead (S3's clock skew) is not yet
// valid — however short its X-Amz-Expires, so it cannot be used for a year
// by dating it a year ahead.

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	fstypes "github.com/aws/aws-sdk-go-v2/service/finspace/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
	fd "github.com/openfinspace/openfinspace/internal/testclient/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

const (
	region  = servertest.Region
	content = "presigned content"
)

// presignCase is one rule: a URL signed at now+at with X-Amz-Expires
// expires ("" for none), edited by edit after signing, and the answer.
type presignCase struct {
	name    string
	expires string
	at      time.Duration
	edit    func(q url.Values)
	// sdk: the Go SDK's presigner can make this URL (no edit, a valid
	// X-Amz-Expires).
	sdk     bool
	status  int
	code    string
	message string // part of the error message
	// differs says why openfinspace answers otherwise, with status.
	differs    string
	oursStatus int
}

func presignCases() []presignCase {
	const (
		params   = "AuthorizationQueryParametersError"
		required = "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
	)
	del := func(name string) func(url.Values) { return func(q url.Values) { q.Del(name) } }
	set := func(name, v string) func(url.Values) { return func(q url.Values) { q.Set(name, v) } }
	cases := []presignCase{
		{name: "valid for a minute", expires: "60", sdk: true, status: 200},
		// Valid for 1 s from X-Amz-Date, dated 2 s ahead so that the window
		// does not depend on how fast the request travels.
		{name: "X-Amz-Expires=1", expires: "1", at: 2 * time.Second, sdk: true, status: 200},
		{name: "X-Amz-Expires=604800, the longest", expires: "604800", sdk: true, status: 200},
		{name: "signed 14 minutes ahead (within the skew)", expires: "60", at: 14 * time.Minute, sdk: true, status: 200},
		{name: "signed 6 days ago for 7", expires: "604800", at: -6 * 24 * time.Hour, sdk: true, status: 200},

		{name: "no X-Amz-Expires", status: 400, code: params, message: required},
		{name: "X-Amz-Expires empty", expires: "60", edit: set("X-Amz-Expires", ""), status: 400, code: params, message: required},
		{name: "X-Amz-Expires=0", expires: "0", status: 403, code: "AccessDenied", message: "Request has expired"},
		{name: "X-Amz-Expires=604801", expires: "604801", status: 400, code: params,
			message: "X-Amz-Expires must be less than a week (in seconds); that is, the given X-Amz-Expires must be less than 604800 seconds"},
		{name: "X-Amz-Expires=-1", expires: "-1", status: 400, code: params, message: "X-Amz-Expires must be non-negative"},
		{name: "X-Amz-Expires=abc", expires: "abc", status: 400, code: params, message: "X-Amz-Expires should be a number"},
		{name: "X-Amz-Expires=2^63", expires: "9223372036854775808", status: 400, code: params, message: "X-Amz-Expires should be a number"},
		{name: "expired an hour ago", expires: "3600", at: -2 * time.Hour, sdk: true, status: 403, code: "AccessDenied", message: "Request has expired"},
		{name: "7 days and a minute old", expires: "604800", at: -7*24*time.Hour - time.Minute, sdk: true, status: 403, code: "AccessDenied", message: "Request has expired"},
		{name: "a year ahead for 1 s", expires: "1", at: 365 * 24 * time.Hour, sdk: true, status: 403, code: "AccessDenied", message: "Request is not yet valid"},
		{name: "a year ahead for 7 days", expires: "604800", at: 365 * 24 * time.Hour, sdk: true, status: 403, code: "AccessDenied", message: "Request is not yet valid"},
		{name: "16 minutes ahead", expires: "60", at: 16 * time.Minute, sdk: true, status: 403, code: "AccessDenied", message: "Request is not yet valid"},
		{name: "credential scope of another day", expires: "60", edit: func(q url.Values) {
			q.Set("X-Amz-Credential", strings.Replace(q.Get("X-Amz-Credential"), "/"+time.Now().UTC().Format("20060102")+"/",
				"/"+time.Now().UTC().AddDate(0, 0, -1).Format("20060102")+"/", 1))
		}, status: 400, code: params, message: "Invalid credential date"},
		{name: "X-Amz-Date not ISO 8601 basic", expires: "60", edit: func(q url.Values) {
			q.Set("X-Amz-Date", time.Now().UTC().Format(time.RFC3339))
		}, status: 400, code: params, message: "X-Amz-Date must be in the ISO8601 Long Format"},
		{name: "host not signed", expires: "60", edit: set("X-Amz-SignedHeaders", "x-amz-date"), status: 403, code: "AccessDenied",
			message: "There were headers present in the request which were not signed"},
		{name: "another algorithm", expires: "60", edit: set("X-Amz-Algorithm", "AWS4-HMAC-SHA1"), status: 400, code: params},
		{name: "another signature", expires: "60", edit: set("X-Amz-Signature", strings.Repeat("0", 64)), status: 403, code: "SignatureDoesNotMatch"},
		{name: "another X-Amz-Expires than signed", expires: "60", edit: set("X-Amz-Expires", "61"), status: 403, code: "SignatureDoesNotMatch"},
		{name: "X-Amz-Expires twice", expires: "60", edit: func(q url.Values) { q.Add("X-Amz-Expires", "60") }, status: 400, code: params},
	}
	for _, p := range []string{"X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date", "X-Amz-SignedHeaders"} {
		c := presignCase{name: "no " + p, expires: "60", edit: del(p), status: 400, code: params, message: required}
		if p == "X-Amz-Credential" {
			// The main port serves several services and picks one by the
			// signing name in the credential: without one, nothing says
			// S3, and the port answers as its JSON services do.
			c.differs, c.oursStatus = "no credential scope names the s3 service", 403
		}
		cases = append(cases, c)
	}
	return cases
}

// testPrincipal signs URLs for an object it may read.
type testPrincipal struct {
	name        string
	creds       aws.Credentials
	bucket, key string
}

// TestS3PresignedURLRules runs every case for root credentials, an STS
// assumed-role session and a FinSpace user's programmatic credentials,
// then checks that the URLs of temporary credentials die with them.
func TestS3PresignedURLRules(t *testing.T) {
	t.Parallel()
	var skew atomic.Int64 // the server's clock ahead of the test's
	srv := servertest.Start(t, func(c *server.Config) {
		c.Clock = func() time.Time { return time.Now().Add(time.Duration(skew.Load())) }
	})
	ctx := context.Background()
	r := srv.Root()
	root := aws.Credentials{AccessKeyID: r.AccessKeyID, SecretAccessKey: r.SecretAccessKey}
	rootS3 := s3Client(srv, root)
	if _, err := rootS3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("presigned")}); err != nil {
		t.Fatal(err)
	}
	stsc := sts.New(sts.Options{Region: region, BaseEndpoint: aws.String(srv.URL()), RetryMaxAttempts: 1,
		Credentials: credentials.StaticCredentialsProvider{Value: root}})
	sess, err := stsc.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/Admin"),
		RoleSessionName: aws.String("presign"), DurationSeconds: aws.Int32(900)})
	if err != nil {
		t.Fatal(err)
	}
	sc := sess.Credentials
	user, bucket, prefix := finspaceUser(t, srv)
	principals := []testPrincipal{
		{"root", root, "presigned", "root/object.txt"},
		{"role session", aws.Credentials{AccessKeyID: *sc.AccessKeyId, SecretAccessKey: *sc.SecretAccessKey, SessionToken: *sc.SessionToken},
			"presigned", "session/object.txt"},
		{"FinSpace user", user, bucket, prefix + "object.txt"},
	}
	for _, p := range principals {
		if _, err := rootS3.PutObject(ctx, &s3.PutObjectInput{Bucket: &p.bucket, Key: &p.key, Body: strings.NewReader(content)}); err != nil {
			t.Fatal(err)
		}
	}

	for _, p := range principals {
		t.Run(p.name, func(t *testing.T) {
			for _, c := range presignCases() {
				u := rawPresign(t, srv, p, http.MethodGet, c.expires, c.at, c.edit)
				check(t, "raw: "+c.name, u, c)
				if c.sdk {
					check(t, "SDK: "+c.name, sdkPresign(t, srv, p, c.expires, c.at), c)
				}
			}
			// A presigned PUT, then a presigned GET of what it wrote.
			key := p.key + ".put"
			req, err := s3.NewPresignClient(s3Client(srv, p.creds), s3.WithPresignExpires(time.Minute)).
				PresignPutObject(ctx, &s3.PutObjectInput{Bucket: &p.bucket, Key: &key})
			if err != nil {
				t.Fatal(err)
			}
			put, _ := http.NewRequest(http.MethodPut, req.URL, strings.NewReader("put by URL"))
			if status, body := send(t, put); status != 200 {
				t.Fatalf("presigned PUT: %d %s", status, body)
			}
			got, err := rootS3.GetObject(ctx, &s3.GetObjectInput{Bucket: &p.bucket, Key: &key})
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(got.Body)
			got.Body.Close()
			if string(b) != "put by URL" {
				t.Errorf("presigned PUT wrote %q", b)
			}
		})
	}

	// An unknown access key.
	unknown := testPrincipal{"unknown", aws.Credentials{AccessKeyID: "AKIAUNKNOWNUNKNOWN00", SecretAccessKey: "x"}, "presigned", "root/object.txt"}
	check(t, "unknown access key", rawPresign(t, srv, unknown, http.MethodGet, "60", 0, nil),
		presignCase{status: 403, code: "InvalidAccessKeyId"})

	// The URLs of temporary credentials die with them: the server's clock
	// moves past the session's 15 minutes and the user's credentials'
	// hour; the URLs themselves are still in their 3 hours.
	var urls []string
	for _, p := range principals {
		urls = append(urls, rawPresign(t, srv, p, http.MethodGet, "10800", 0, nil))
	}
	skew.Store(int64(2 * time.Hour))
	check(t, "root after 2 hours", urls[0], presignCase{status: 200})
	for i, p := range principals[1:] {
		check(t, p.name+" after its credentials expired", urls[i+1],
			presignCase{status: 400, code: "ExpiredToken", message: "The provided token has expired."})
	}
}

func s3Client(srv *server.Server, c aws.Credentials) *s3.Client {
	return s3.New(s3.Options{Region: region, BaseEndpoint: aws.String(srv.URL()), UsePathStyle: true, RetryMaxAttempts: 1,
		Credentials: credentials.StaticCredentialsProvider{Value: c}})
}

// rawPresign presigns method of p's object with the SDK's v4 signer at
// now+at, X-Amz-Expires expires ("" for none), then applies edit.
func rawPresign(t *testing.T, srv *server.Server, p testPrincipal, method, expires string, at time.Duration, edit func(url.Values)) string {
	t.Helper()
	target := srv.URL() + "/" + p.bucket + "/" + p.key
	if expires != "" {
		target += "?X-Amz-Expires=" + url.QueryEscape(expires)
	}
	req, err := http.NewRequest(method, target, nil)
	if err != nil {
		t.Fatal(err)
	}
	signer := v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })
	signed, _, err := signer.PresignHTTP(context.Background(), p.creds, req, "UNSIGNED-PAYLOAD", "s3", region, time.Now().Add(at))
	if err != nil {
		t.Fatal(err)
	}
	if edit == nil {
		return signed
	}
	u, err := url.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	edit(q)
	u.RawQuery = q.Encode()
	return u.String()
}

// sdkPresign presigns a GetObject of p's object with the Go SDK's
// presigner, signing at now+at.
func sdkPresign(t *testing.T, srv *server.Server, p testPrincipal, expires string, at time.Duration) string {
	t.Helper()
	d, err := time.ParseDuration(expires + "s")
	if err != nil {
		t.Fatal(err)
	}
	pc := s3.NewPresignClient(s3Client(srv, p.creds), func(o *s3.PresignOptions) {
		o.Expires = d
		o.Presigner = shiftedSigner{at: at, signer: v4.NewSigner(func(o *v4.SignerOptions) { o.DisableURIPathEscaping = true })}
	})
	req, err := pc.PresignGetObject(context.Background(), &s3.GetObjectInput{Bucket: &p.bucket, Key: &p.key})
	if err != nil {
		t.Fatal(err)
	}
	if req.Method != http.MethodGet || !strings.Contains(req.URL, "X-Amz-Expires="+expires+"&") {
		t.Fatalf("the SDK presigned %s %s", req.Method, req.URL)
	}
	return req.URL
}

// shiftedSigner is the SDK's v4 presigner signing at another time.
type shiftedSigner struct {
	at     time.Duration
	signer *v4.Signer
}

func (s shiftedSigner) PresignHTTP(ctx context.Context, c aws.Credentials, r *http.Request, payloadHash, service, region string,
	signingTime time.Time, optFns ...func(*v4.SignerOptions)) (string, http.Header, error) {
	return s.signer.PresignHTTP(ctx, c, r, payloadHash, service, region, signingTime.Add(s.at), optFns...)
}

func send(t *testing.T, req *http.Request) (int, string) {
	t.Helper()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// check GETs u and compares the answer with c's.
func check(t *testing.T, what, u string, c presignCase) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	status, body := send(t, req)
	if c.differs != "" {
		if status != c.oursStatus || !strings.Contains(body, "MissingAuthenticationTokenException") {
			t.Errorf("%s: %d %.400s, want %d MissingAuthenticationTokenException (S3 answers %d %s, but %s)",
				what, status, body, c.oursStatus, c.status, c.code, c.differs)
		}
		return
	}
	switch {
	case status != c.status:
		t.Errorf("%s: %d %.400s, want %d %s", what, status, body, c.status, c.code)
	case c.status == 200 && body != content:
		t.Errorf("%s: body %q", what, body)
	case c.code != "" && !strings.Contains(body, "<Code>"+c.code+"</Code>"):
		t.Errorf("%s: %.400s, want code %s", what, body, c.code)
	case c.message != "" && !strings.Contains(body, xmlEscape(c.message)):
		t.Errorf("%s: %.400s, want the message %q", what, body, c.message)
	}
}

func xmlEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&#34;", "'", "&#39;").Replace(s)
}

// finspaceUser creates an environment and returns its superuser's
// programmatic credentials (an hour), its working bucket and prefix.
func finspaceUser(t *testing.T, srv *server.Server) (aws.Credentials, string, string) {
	t.Helper()
	ctx := context.Background()
	r := srv.Root()
	fs := servertest.Finspace(srv)
	out, err := fs.CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{Name: aws.String("presign"),
		SuperuserParameters: &fstypes.SuperuserParameters{EmailAddress: aws.String("admin@presign.example.com"),
			FirstName: aws.String("Admin"), LastName: aws.String("User")}})
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		env, err := fs.GetEnvironment(ctx, &finspace.GetEnvironmentInput{EnvironmentId: out.EnvironmentId})
		if err != nil {
			t.Fatal(err)
		}
		if env.Environment.Status == fstypes.EnvironmentStatusCreated {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("environment is %s after 30s", env.Environment.Status)
		}
	}
	rootData := fd.New(srv.URL(), region, fd.StaticCredentials(r.AccessKeyID, r.SecretAccessKey, ""))
	pc, err := rootData.GetProgrammaticAccessCredentials(ctx, &finspacedata.GetProgrammaticAccessCredentialsRequest{
		EnvironmentId: out.EnvironmentId, DurationInMinutes: aws.Int64(60)})
	if err != nil {
		t.Fatal(err)
	}
	c := pc.Credentials
	creds := aws.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken}
	loc, err := fd.New(srv.URL(), region, fd.StaticCredentials(creds.AccessKeyID, creds.SecretAccessKey, creds.SessionToken)).
		GetWorkingLocation(ctx, &finspacedata.GetWorkingLocationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	bucket := aws.ToString(loc.S3Bucket)
	return creds, bucket, strings.TrimPrefix(aws.ToString(loc.S3Path), bucket+"/")
}
