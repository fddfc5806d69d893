package sts_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/authz"
	"github.com/openfinspace/openfinspace/internal/auth/credstore"
	"github.com/openfinspace/openfinspace/internal/auth/sigv4"
	"github.com/openfinspace/openfinspace/internal/sts"
)

const (
	account    = "000000000000"
	testSecret = "SECRETsecretSECRETsecretSECRETsecret0000"
	testToken  = "TOKENtokenTOKENtokenTOKENtokenTOKENtoken"
)

var (
	rootPrincipal = auth.Principal{Kind: auth.Root, Account: account, ARN: "arn:aws:iam::000000000000:root"}
	rolePrincipal = auth.Principal{Kind: auth.AssumedRole, Account: account,
		ARN: "arn:aws:sts::000000000000:assumed-role/Analyst/s1", RoleARN: "arn:aws:iam::000000000000:role/Analyst"}
	userPrincipal = auth.Principal{Kind: auth.FinSpaceUser, Account: account,
		ARN: "arn:aws:finspace:us-east-1:000000000000:user/env1/u1", EnvironmentID: "env1", UserID: "u1"}
	scopedPrincipal = auth.Principal{Kind: auth.ScopedRead, Account: account,
		ARN: "arn:aws:sts::000000000000:federated-user/scoped", Bucket: "b", Prefix: "p/"}
	roleIDRE = regexp.MustCompile(`^AROA[A-Z]{17}$`)
)

// fakeVerifier accepts every request as principal (or fails with err) and
// records the body it was given.
type fakeVerifier struct {
	principal auth.Principal
	service   string
	payload   string
	err       error
	body      []byte
}

func (f *fakeVerifier) Verify(_ context.Context, _ *http.Request, body []byte) (*sigv4.Result, error) {
	f.body = body
	if f.err != nil {
		return nil, f.err
	}
	svc := f.service
	if svc == "" {
		svc = "sts"
	}
	payload := f.payload
	if payload == "" {
		payload = "hash"
	}
	return &sigv4.Result{Principal: f.principal, AccessKeyID: "ASIACALLERCALLER0000", Service: svc, Region: "us-east-1", PayloadHash: payload}, nil
}

// fakeIssuer issues fixed secrets and records what it was asked.
type fakeIssuer struct {
	mu  sync.Mutex
	got []credstore.IssueInput
	err error
	now time.Time
}

func (f *fakeIssuer) Issue(_ context.Context, in credstore.IssueInput) (*auth.Credential, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.got = append(f.got, in)
	if f.err != nil {
		return nil, f.err
	}
	return &auth.Credential{AccessKeyID: "ASIAISSUEDISSUED0000", SecretAccessKey: testSecret, SessionToken: testToken,
		Expires: f.now.Add(in.TTL).Truncate(time.Second), Principal: in.Principal}, nil
}

type observation struct {
	service, op string
	status      int
}

type fakeObserver struct{ got []observation }

func (o *fakeObserver) Observe(service, op string, status int, _ time.Duration) {
	o.got = append(o.got, observation{service, op, status})
}

type env struct {
	h   *sts.Handler
	v   *fakeVerifier
	iss *fakeIssuer
	obs *fakeObserver
	log *bytes.Buffer
}

func newEnv(p auth.Principal) *env {
	e := &env{v: &fakeVerifier{principal: p}, iss: &fakeIssuer{now: time.Now()}, obs: &fakeObserver{}, log: &bytes.Buffer{}}
	e.h = &sts.Handler{Account: account, Verifier: e.v, Credentials: e.iss, Observer: e.obs,
		Authz:  &authz.Authorizer{Live: func(context.Context, auth.Principal, string) error { return nil }},
		Logger: slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	return e
}

// post sends a form body; the response carries a pre-set request id as the
// outer handler sets one.
func (e *env) post(form url.Values) *httptest.ResponseRecorder {
	return e.do(httptest.NewRequest("POST", "/", strings.NewReader(form.Encode())), "rid-1")
}

func (e *env) do(r *http.Request, rid string) *httptest.ResponseRecorder {
	if r.Method == "POST" && r.Header.Get("Content-Type") == "" {
		r.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	w := httptest.NewRecorder()
	if rid != "" {
		w.Header().Set("x-amzn-RequestId", rid)
	}
	e.h.ServeHTTP(w, r)
	return w
}

func assumeForm(kv ...string) url.Values {
	f := url.Values{"Action": {"AssumeRole"}, "Version": {"2011-06-15"},
		"RoleArn": {"arn:aws:iam::000000000000:role/Analyst"}, "RoleSessionName": {"session-1"}}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "<absent>" {
			f.Del(kv[i])
		} else {
			f.Set(kv[i], kv[i+1])
		}
	}
	return f
}

// xmlError is the parsed error envelope.
type xmlError struct {
	XMLName xml.Name
	Error   struct {
		Type, Code, Message string
	}
	RequestID string `xml:"RequestId"`
}

func parseError(t *testing.T, w *httptest.ResponseRecorder) xmlError {
	t.Helper()
	var e xmlError
	if err := xml.Unmarshal(w.Body.Bytes(), &e); err != nil {
		t.Fatalf("error body does not parse: %v\n%s", err, w.Body)
	}
	if e.XMLName.Space != sts.Namespace || e.XMLName.Local != "ErrorResponse" {
		t.Errorf("error root element %v", e.XMLName)
	}
	return e
}

type xmlAssumeRole struct {
	XMLName xml.Name
	Result  struct {
		Credentials struct {
			AccessKeyID     string `xml:"AccessKeyId"`
			SecretAccessKey string
			SessionToken    string
			Expiration      string
		}
		AssumedRoleUser struct {
			AssumedRoleID string `xml:"AssumedRoleId"`
			Arn           string
		}
		PackedPolicySize *int
	} `xml:"AssumeRoleResult"`
	Metadata struct {
		RequestID string `xml:"RequestId"`
	} `xml:"ResponseMetadata"`
}

func TestAssumeRoleValidation(t *testing.T) {
	long := func(n int) string { return strings.Repeat("a", n) }
	arnOfLen := func(n int) string {
		p := "arn:aws:iam::000000000000:role/"
		return p + long(n-len(p))
	}
	for _, tc := range []struct {
		name    string
		form    url.Values
		message string // substring of the ValidationError message; "" = success
		ttl     time.Duration
	}{
		{"defaults", assumeForm(), "", time.Hour},
		{"minimum duration", assumeForm("DurationSeconds", "900"), "", 900 * time.Second},
		{"maximum duration", assumeForm("DurationSeconds", "43200"), "", 12 * time.Hour},
		{"path", assumeForm("RoleArn", "arn:aws:iam::000000000000:role/team/quant/Analyst"), "", time.Hour},
		{"session name characters", assumeForm("RoleSessionName", "a_b+c=d,e.f@g-h"), "", time.Hour},
		{"ignored parameters", assumeForm("ExternalId", "ext:id/1", "Policy", `{"Version":"2012-10-17"}`,
			"Tags.member.1.Key", "team", "Tags.member.1.Value", "quant", "TransitiveTagKeys.member.1", "team",
			"PolicyArns.member.1.arn", "arn:aws:iam::aws:policy/ReadOnlyAccess", "SourceIdentity", "alice",
			"SerialNumber", "arn:aws:iam::000000000000:mfa/alice", "TokenCode", "123456"), "", time.Hour},

		{"no RoleArn", assumeForm("RoleArn", "<absent>"), "1 validation error detected: Value null at 'roleArn' failed to satisfy constraint: Member must not be null", 0},
		{"nothing", assumeForm("RoleArn", "<absent>", "RoleSessionName", "<absent>"), "2 validation errors detected: Value null at 'roleArn'", 0},
		{"short RoleArn", assumeForm("RoleArn", "arn:aws:iam::0:role"), "Member must have length greater than or equal to 20", 0},
		{"long RoleArn", assumeForm("RoleArn", arnOfLen(2049)), "Member must have length less than or equal to 2048", 0},
		{"RoleArn control character", assumeForm("RoleArn", "arn:aws:iam::000000000000:role/\x01x"), "regular expression pattern", 0},
		{"user ARN", assumeForm("RoleArn", "arn:aws:iam::000000000000:user/Alice"), "at 'roleArn'", 0},
		{"ARN with a region", assumeForm("RoleArn", "arn:aws:iam:us-east-1:000000000000:role/R"), "at 'roleArn'", 0},
		{"not an ARN", assumeForm("RoleArn", "this-is-not-an-arn-at-all"), "at 'roleArn'", 0},
		{"short account", assumeForm("RoleArn", "arn:aws:iam::00000000000:role/Analyst"), "at 'roleArn'", 0},
		{"role name too long", assumeForm("RoleArn", "arn:aws:iam::000000000000:role/"+long(65)), "at 'roleArn'", 0},
		{"empty role name", assumeForm("RoleArn", "arn:aws:iam::000000000000:role/team/"), "at 'roleArn'", 0},
		{"empty path segment", assumeForm("RoleArn", "arn:aws:iam::000000000000:role//Analyst"), "at 'roleArn'", 0},
		{"no RoleSessionName", assumeForm("RoleSessionName", "<absent>"), "Value null at 'roleSessionName'", 0},
		{"short session name", assumeForm("RoleSessionName", "a"), "Member must have length greater than or equal to 2", 0},
		{"long session name", assumeForm("RoleSessionName", long(65)), "Member must have length less than or equal to 64", 0},
		{"session name with a slash", assumeForm("RoleSessionName", "a/b"), `Member must satisfy regular expression pattern: [\w+=,.@-]*`, 0},
		{"session name with a space", assumeForm("RoleSessionName", "a b"), "at 'roleSessionName'", 0},
		{"duration 899", assumeForm("DurationSeconds", "899"), "Value '899' at 'durationSeconds' failed to satisfy constraint: Member must have value greater than or equal to 900", 0},
		{"duration 43201", assumeForm("DurationSeconds", "43201"), "Member must have value less than or equal to 43200", 0},
		{"duration not a number", assumeForm("DurationSeconds", "1h"), "at 'durationSeconds'", 0},
		{"empty duration", assumeForm("DurationSeconds", ""), "at 'durationSeconds'", 0},
		{"short ExternalId", assumeForm("ExternalId", "x"), "at 'externalId'", 0},
		{"ExternalId characters", assumeForm("ExternalId", "abc!def"), "at 'externalId'", 0},
		{"long Policy", assumeForm("Policy", long(2049)), "at 'policy'", 0},
		{"Policy characters", assumeForm("Policy", "{\"a\":\"\u0100\"}"), "at 'policy'", 0},
		{"TokenCode", assumeForm("TokenCode", "12345"), "at 'tokenCode'", 0},
		{"three errors", assumeForm("RoleSessionName", "a", "DurationSeconds", "1", "ExternalId", "x"), "3 validation errors detected: ", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(rootPrincipal)
			w := e.post(tc.form)
			if tc.message == "" {
				if w.Code != 200 {
					t.Fatalf("status %d, want 200\n%s", w.Code, w.Body)
				}
				if len(e.iss.got) != 1 || e.iss.got[0].TTL != tc.ttl {
					t.Fatalf("issued %+v, want one credential with TTL %s", e.iss.got, tc.ttl)
				}
				return
			}
			if w.Code != 400 {
				t.Fatalf("status %d, want 400\n%s", w.Code, w.Body)
			}
			got := parseError(t, w)
			if got.Error.Code != "ValidationError" || got.Error.Type != "Sender" || !strings.Contains(got.Error.Message, tc.message) {
				t.Errorf("error %s %s %q, want Sender ValidationError containing %q", got.Error.Type, got.Error.Code, got.Error.Message, tc.message)
			}
			if len(e.iss.got) != 0 {
				t.Errorf("a credential was issued for an invalid request")
			}
		})
	}
}

func TestTrustRule(t *testing.T) {
	otherAccountSession := rolePrincipal
	otherAccountSession.Account = "111111111111"
	otherAccountSession.ARN = "arn:aws:sts::111111111111:assumed-role/Analyst/s1"
	for _, tc := range []struct {
		name      string
		caller    auth.Principal
		form      url.Values
		status    int
		code      string
		ttl       time.Duration
		messageIn string
	}{
		{"root", rootPrincipal, assumeForm(), 200, "", time.Hour, ""},
		{"root, 12 hours", rootPrincipal, assumeForm("DurationSeconds", "43200"), 200, "", 12 * time.Hour, ""},
		{"root, other account", rootPrincipal, assumeForm("RoleArn", "arn:aws:iam::123456789012:role/Analyst"), 403, "AccessDenied", 0,
			"User: arn:aws:iam::000000000000:root is not authorized to perform: sts:AssumeRole on resource: arn:aws:iam::123456789012:role/Analyst"},
		{"root, other partition", rootPrincipal, assumeForm("RoleArn", "arn:aws-cn:iam::000000000000:role/Analyst"), 403, "AccessDenied", 0, ""},
		{"chained", rolePrincipal, assumeForm(), 200, "", time.Hour, ""},
		{"chained, 1 hour", rolePrincipal, assumeForm("DurationSeconds", "3600"), 200, "", time.Hour, ""},
		{"chained, 15 minutes", rolePrincipal, assumeForm("DurationSeconds", "900"), 200, "", 15 * time.Minute, ""},
		{"chained, over 1 hour", rolePrincipal, assumeForm("DurationSeconds", "3601"), 400, "ValidationError", 0, "1 hour session limit"},
		{"chained, other account role", rolePrincipal, assumeForm("RoleArn", "arn:aws:iam::123456789012:role/Analyst"), 403, "AccessDenied", 0, ""},
		{"session of another account", otherAccountSession, assumeForm(), 403, "AccessDenied", 0, ""},
		{"FinSpace user", userPrincipal, assumeForm(), 403, "AccessDenied", 0, "User: arn:aws:finspace:us-east-1:000000000000:user/env1/u1 is not authorized"},
		{"scoped read", scopedPrincipal, assumeForm(), 403, "AccessDenied", 0, ""},
		{"validation before authorization", userPrincipal, assumeForm("DurationSeconds", "10"), 400, "ValidationError", 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(tc.caller)
			w := e.post(tc.form)
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d\n%s", w.Code, tc.status, w.Body)
			}
			if tc.code == "" {
				if len(e.iss.got) != 1 || e.iss.got[0].TTL != tc.ttl {
					t.Errorf("issued %+v, want TTL %s", e.iss.got, tc.ttl)
				}
				return
			}
			got := parseError(t, w)
			if got.Error.Code != tc.code || !strings.Contains(got.Error.Message, tc.messageIn) {
				t.Errorf("error %s %q, want %s containing %q", got.Error.Code, got.Error.Message, tc.code, tc.messageIn)
			}
			if len(e.iss.got) != 0 {
				t.Errorf("a credential was issued: %+v", e.iss.got)
			}
		})
	}
}

func TestAssumeRoleResponse(t *testing.T) {
	e := newEnv(rootPrincipal)
	const roleARN = "arn:aws:iam::000000000000:role/team/Analyst"
	w := e.post(assumeForm("RoleArn", roleARN, "DurationSeconds", "1800"))
	if w.Code != 200 {
		t.Fatalf("status %d\n%s", w.Code, w.Body)
	}
	if ct := w.Header().Get("Content-Type"); ct != "text/xml" {
		t.Errorf("Content-Type %q", ct)
	}
	if rid := w.Header().Get("x-amzn-RequestId"); rid != "rid-1" {
		t.Errorf("x-amzn-RequestId %q, want the outer handler's rid-1", rid)
	}
	var out xmlAssumeRole
	if err := xml.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("%v\n%s", err, w.Body)
	}
	if out.XMLName.Space != sts.Namespace || out.XMLName.Local != "AssumeRoleResponse" {
		t.Errorf("root element %v", out.XMLName)
	}
	if !bytes.HasPrefix(w.Body.Bytes(), []byte(`<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><AssumeRoleResult><Credentials><AccessKeyId>`)) {
		t.Errorf("body starts %.120s", w.Body)
	}
	c := out.Result.Credentials
	if c.AccessKeyID != "ASIAISSUEDISSUED0000" || c.SecretAccessKey != testSecret || c.SessionToken != testToken {
		t.Errorf("credentials %+v", c)
	}
	exp, err := time.Parse(time.RFC3339, c.Expiration)
	if err != nil || !strings.HasSuffix(c.Expiration, "Z") {
		t.Fatalf("Expiration %q: %v", c.Expiration, err)
	}
	if want := e.iss.now.Add(1800 * time.Second).Truncate(time.Second); !exp.Equal(want) {
		t.Errorf("Expiration %s, want %s", exp, want)
	}
	u := out.Result.AssumedRoleUser
	if u.Arn != "arn:aws:sts::000000000000:assumed-role/Analyst/session-1" {
		t.Errorf("Arn %s", u.Arn)
	}
	roleID, session, _ := strings.Cut(u.AssumedRoleID, ":")
	if !roleIDRE.MatchString(roleID) || session != "session-1" || roleID != sts.RoleID(roleARN) {
		t.Errorf("AssumedRoleId %s", u.AssumedRoleID)
	}
	if out.Result.PackedPolicySize == nil || *out.Result.PackedPolicySize != 0 {
		t.Errorf("PackedPolicySize %v", out.Result.PackedPolicySize)
	}
	if out.Metadata.RequestID != "rid-1" {
		t.Errorf("RequestId %q", out.Metadata.RequestID)
	}

	// What was issued.
	if len(e.iss.got) != 1 {
		t.Fatalf("issued %d credentials", len(e.iss.got))
	}
	in := e.iss.got[0]
	wantP := auth.Principal{Kind: auth.AssumedRole, Account: account,
		ARN: "arn:aws:sts::000000000000:assumed-role/Analyst/session-1", RoleARN: roleARN}
	if in.Principal != wantP || in.Group != "sts/"+roleARN || in.TTL != 30*time.Minute {
		t.Errorf("IssueInput %+v", in)
	}

	// Secrets never reach the log.
	if log := e.log.String(); strings.Contains(log, testSecret) || strings.Contains(log, testToken) {
		t.Errorf("log contains a secret:\n%s", log)
	} else if !strings.Contains(log, "ASIAISSUEDISSUED0000") {
		t.Errorf("log does not record the issued access key id:\n%s", log)
	}
	if len(e.obs.got) != 1 || e.obs.got[0] != (observation{"sts", "AssumeRole", 200}) {
		t.Errorf("observed %+v", e.obs.got)
	}
}

func TestGetCallerIdentity(t *testing.T) {
	type result struct {
		XMLName xml.Name
		Result  struct {
			UserID  string `xml:"UserId"`
			Account string
			Arn     string
		} `xml:"GetCallerIdentityResult"`
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}
	for _, tc := range []struct {
		name             string
		p                auth.Principal
		userID, acct, ar string
	}{
		{"root", rootPrincipal, account, account, "arn:aws:iam::000000000000:root"},
		{"assumed role", rolePrincipal, sts.RoleID(rolePrincipal.RoleARN) + ":s1", account, rolePrincipal.ARN},
		{"FinSpace user", userPrincipal, "u1", account, userPrincipal.ARN},
		{"scoped read", scopedPrincipal, "ASIACALLERCALLER0000", account, scopedPrincipal.ARN},
		{"principal without account", auth.Principal{Kind: auth.Root}, account, account, "arn:aws:iam::000000000000:root"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(tc.p)
			w := e.post(url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}})
			if w.Code != 200 {
				t.Fatalf("status %d\n%s", w.Code, w.Body)
			}
			var out result
			if err := xml.Unmarshal(w.Body.Bytes(), &out); err != nil {
				t.Fatal(err)
			}
			if out.XMLName.Space != sts.Namespace || out.XMLName.Local != "GetCallerIdentityResponse" || out.RequestID != "rid-1" {
				t.Errorf("envelope %v, request id %q", out.XMLName, out.RequestID)
			}
			if out.Result.UserID != tc.userID || out.Result.Account != tc.acct || out.Result.Arn != tc.ar {
				t.Errorf("identity %+v, want %s %s %s", out.Result, tc.userID, tc.acct, tc.ar)
			}
		})
	}
}

func TestErrorMapping(t *testing.T) {
	for _, tc := range []struct {
		in     *sigv4.Error
		status int
		code   string
	}{
		{&sigv4.Error{Status: 403, Code: sigv4.CodeMissingAuthenticationToken, Message: "Missing Authentication Token"}, 403, "MissingAuthenticationToken"},
		{&sigv4.Error{Status: 403, Code: sigv4.CodeIncompleteSignature, Message: "m"}, 400, "IncompleteSignature"},
		{&sigv4.Error{Status: 400, Code: sigv4.CodeQueryParameters, Message: "m"}, 400, "IncompleteSignature"},
		{&sigv4.Error{Status: 400, Code: sigv4.CodeInvalidArgument, Message: "m"}, 400, "IncompleteSignature"},
		{&sigv4.Error{Status: 403, Code: sigv4.CodeUnrecognizedClient, Message: "The security token included in the request is invalid."}, 403, "InvalidClientTokenId"},
		{&sigv4.Error{Status: 403, Code: sigv4.CodeInvalidSignature, Message: "m"}, 403, "SignatureDoesNotMatch"},
		{&sigv4.Error{Status: 403, Code: sigv4.CodeAccessDenied, Message: "Request has expired"}, 400, "RequestExpired"},
		{&sigv4.Error{Status: 403, Code: sigv4.CodeExpiredToken, Message: "The security token included in the request is expired"}, 403, "ExpiredToken"},
		{&sigv4.Error{Status: 400, Code: sigv4.CodeContentSHA256Mismatch, Message: "m"}, 403, "SignatureDoesNotMatch"},
		{&sigv4.Error{Status: 501, Code: sigv4.CodeNotImplemented, Message: "m"}, 501, "NotImplemented"},
		{&sigv4.Error{Status: 418, Code: "Teapot", Message: "m"}, 418, "Teapot"},
	} {
		t.Run(tc.in.Code, func(t *testing.T) {
			got := sts.FromSigV4(tc.in)
			if got.Status != tc.status || got.Code != tc.code || got.Message == "" {
				t.Errorf("FromSigV4 = %+v, want %d %s", got, tc.status, tc.code)
			}
			// Through the handler, wrapped as the verifier may wrap it.
			e := newEnv(rootPrincipal)
			e.v.err = errorsJoin(tc.in)
			w := e.post(url.Values{"Action": {"GetCallerIdentity"}})
			if w.Code != tc.status {
				t.Errorf("status %d, want %d", w.Code, tc.status)
			}
			x := parseError(t, w)
			wantType := "Sender"
			if tc.status >= 500 {
				wantType = "Receiver"
			}
			if x.Error.Code != tc.code || x.Error.Type != wantType || x.RequestID != "rid-1" || x.Error.Message != got.Message {
				t.Errorf("error %+v", x)
			}
		})
	}
	if sts.FromSigV4(nil) != nil {
		t.Error("FromSigV4(nil) != nil")
	}
}

func errorsJoin(e error) error { return errors.Join(e) }

func TestRequests(t *testing.T) {
	big := "Action=GetCallerIdentity&Pad=" + strings.Repeat("x", sts.MaxBodyBytes)
	for _, tc := range []struct {
		name   string
		method string
		target string
		ctype  string
		body   string
		setup  func(*env)
		status int
		code   string
	}{
		{"GET with query parameters", "GET", "/?Action=GetCallerIdentity&Version=2011-06-15", "", "", nil, 200, ""},
		{"POST without Version", "POST", "/", "", "Action=GetCallerIdentity", nil, 200, ""},
		{"POST with parameters in the query", "POST", "/?Action=GetCallerIdentity&Version=2011-06-15", "", "", nil, 200, ""},
		{"POST form without content type", "POST", "/", "-", "Action=GetCallerIdentity", nil, 200, ""},
		{"unknown action", "POST", "/", "", "Action=Frobnicate&Version=2011-06-15", nil, 400, "InvalidAction"},
		{"unimplemented action", "POST", "/", "", "Action=GetSessionToken&Version=2011-06-15", nil, 400, "InvalidAction"},
		{"other version", "POST", "/", "", "Action=GetCallerIdentity&Version=2012-01-01", nil, 400, "InvalidAction"},
		{"no action", "POST", "/", "", "Version=2011-06-15", nil, 400, "MissingAction"},
		{"JSON body", "POST", "/", "application/json", `{"Action":"GetCallerIdentity"}`, nil, 400, "MalformedQueryString"},
		{"bad form body", "POST", "/", "", "Action=%zz", nil, 400, "MalformedQueryString"},
		{"bad query", "GET", "/?Action=%zz", "", "", nil, 400, "MalformedQueryString"},
		{"body too large", "POST", "/", "", big, nil, 413, "RequestEntityTooLarge"},
		{"PUT", "PUT", "/", "", "Action=GetCallerIdentity", nil, 405, "InvalidAction"},
		{"unsigned body", "POST", "/", "", "Action=GetCallerIdentity", func(e *env) { e.v.payload = sigv4.UnsignedPayload }, 403, "SignatureDoesNotMatch"},
		{"unsigned, no body", "GET", "/?Action=GetCallerIdentity", "", "", func(e *env) { e.v.payload = sigv4.UnsignedPayload }, 200, ""},
		{"scoped to another service", "POST", "/", "", "Action=GetCallerIdentity", func(e *env) { e.v.service = "finspace" }, 403, "SignatureDoesNotMatch"},
		{"store failure", "POST", "/", "", assumeForm().Encode(), func(e *env) { e.iss.err = errors.New("disk on fire") }, 500, "InternalFailure"},
		{"verifier failure", "POST", "/", "", "Action=GetCallerIdentity", func(e *env) { e.v.err = errors.New("db down") }, 500, "InternalFailure"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(rootPrincipal)
			if tc.setup != nil {
				tc.setup(e)
			}
			r := httptest.NewRequest(tc.method, tc.target, strings.NewReader(tc.body))
			switch tc.ctype {
			case "":
			case "-":
				r.Header.Set("Content-Type", "")
				r.Header.Del("Content-Type")
			default:
				r.Header.Set("Content-Type", tc.ctype)
			}
			var w *httptest.ResponseRecorder
			if tc.ctype == "-" {
				w = httptest.NewRecorder()
				w.Header().Set("x-amzn-RequestId", "rid-1")
				e.h.ServeHTTP(w, r)
			} else {
				w = e.do(r, "rid-1")
			}
			if w.Code != tc.status {
				t.Fatalf("status %d, want %d\n%s", w.Code, tc.status, w.Body)
			}
			if tc.code != "" {
				x := parseError(t, w)
				if x.Error.Code != tc.code {
					t.Errorf("code %s, want %s (%s)", x.Error.Code, tc.code, x.Error.Message)
				}
				if tc.status == 500 && (strings.Contains(x.Error.Message, "fire") || strings.Contains(x.Error.Message, "db down")) {
					t.Errorf("internal error leaked: %s", x.Error.Message)
				}
			}
			if tc.status != 413 && string(e.v.body) != tc.body {
				t.Errorf("verifier got body %q, want %q", e.v.body, tc.body)
			}
		})
	}
}

func TestRequestIDAndEscaping(t *testing.T) {
	e := newEnv(rootPrincipal)
	// No request id from an outer handler: one is made.
	r := httptest.NewRequest("POST", "/", strings.NewReader(assumeForm("RoleArn", `arn:aws:iam::000000000000:role/<b>&"x"`).Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := e.do(r, "")
	rid := w.Header().Get("x-amzn-RequestId")
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`).MatchString(rid) {
		t.Errorf("generated request id %q", rid)
	}
	x := parseError(t, w) // the message echoes markup, escaped
	if x.RequestID != rid || !strings.Contains(x.Error.Message, `role/<b>&"x"`) {
		t.Errorf("error %+v", x)
	}
	if bytes.Contains(w.Body.Bytes(), []byte("<b>")) {
		t.Errorf("markup not escaped: %s", w.Body)
	}
	if len(e.obs.got) != 1 || e.obs.got[0] != (observation{"sts", "AssumeRole", 400}) {
		t.Errorf("observed %+v", e.obs.got)
	}
	// Unknown actions are not metrics labels.
	e.post(url.Values{"Action": {"Made-Up-" + strings.Repeat("x", 50)}})
	if got := e.obs.got[len(e.obs.got)-1]; got.op != "" || got.status != 400 {
		t.Errorf("observed %+v for an unknown action", got)
	}
}

func TestParseRoleARN(t *testing.T) {
	for _, tc := range []struct {
		in         string
		path, name string
		ok         bool
	}{
		{"arn:aws:iam::000000000000:role/R", "/", "R", true},
		{"arn:aws:iam::000000000000:role/a/b/Role.Name@x", "/a/b/", "Role.Name@x", true},
		{"arn:aws-cn:iam::000000000000:role/R", "/", "R", true},
		{"arn:aws:iam::000000000000:role/", "", "", false},
		{"arn:aws:iam::000000000000:role", "", "", false},
		{"arn:aws:iam::000000000000:user/R", "", "", false},
		{"arn:aws:sts::000000000000:role/R", "", "", false},
		{"arn::iam::000000000000:role/R", "", "", false},
		{"arn:aws:iam::abc:role/R", "", "", false},
		{"arn:aws:iam::000000000000:role/a b", "", "", false},
		{"arn:aws:iam::000000000000:role/p a/R", "", "", false},
		{"aws:iam::000000000000:role/R", "", "", false},
	} {
		got, err := sts.ParseRoleARN(tc.in)
		if (err == nil) != tc.ok {
			t.Errorf("ParseRoleARN(%q) error %v, want ok=%v", tc.in, err, tc.ok)
			continue
		}
		if !tc.ok {
			continue
		}
		if got.Path != tc.path || got.Name != tc.name || got.Account != account || got.String() != tc.in {
			t.Errorf("ParseRoleARN(%q) = %+v (%s)", tc.in, got, got.String())
		}
	}
}

func TestRoleID(t *testing.T) {
	a := sts.RoleID("arn:aws:iam::000000000000:role/A")
	if !roleIDRE.MatchString(a) {
		t.Errorf("RoleID = %q", a)
	}
	if a != sts.RoleID("arn:aws:iam::000000000000:role/A") {
		t.Error("RoleID is not stable")
	}
	if a == sts.RoleID("arn:aws:iam::000000000000:role/B") || a == sts.RoleID("arn:aws:iam::111111111111:role/A") {
		t.Error("different roles share a role id")
	}
}
