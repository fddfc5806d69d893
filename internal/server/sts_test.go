package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/credstore"
	"github.com/openfinspace/openfinspace/internal/keyring"
	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
	ists "github.com/openfinspace/openfinspace/internal/sts"
)

const stsAccount = "000000000000"

var assumedRoleIDRE = regexp.MustCompile(`^AROA[A-Z]{17}:`)

// stsClient returns an STS client for srv signing with creds (root when nil).
func stsClient(srv *server.Server, creds aws.CredentialsProvider) *sts.Client {
	if creds == nil {
		root := srv.Root()
		creds = credentials.NewStaticCredentialsProvider(root.AccessKeyID, root.SecretAccessKey, "")
	}
	return sts.New(sts.Options{
		Region:           servertest.Region,
		BaseEndpoint:     aws.String(srv.URL()),
		Credentials:      creds,
		RetryMaxAttempts: 1,
	})
}

func sessionProvider(out *sts.AssumeRoleOutput) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(aws.ToString(out.Credentials.AccessKeyId),
		aws.ToString(out.Credentials.SecretAccessKey), aws.ToString(out.Credentials.SessionToken))
}

// stsFailure returns the AWS error code and HTTP status of err.
func stsFailure(t *testing.T, err error) (string, int) {
	t.Helper()
	if err == nil {
		t.Fatal("call succeeded, want an error")
	}
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an AWS API error", err)
	}
	status := 0
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		status = re.HTTPStatusCode()
	}
	return ae.ErrorCode(), status
}

func wantSTSError(t *testing.T, what string, err error, code string, status int) {
	t.Helper()
	gotCode, gotStatus := stsFailure(t, err)
	if gotCode != code || gotStatus != status {
		t.Errorf("%s: %s %d (%v), want %s %d", what, gotCode, gotStatus, err, code, status)
	}
}

func assumeRole(t *testing.T, c *sts.Client, roleARN, session string, duration int32) *sts.AssumeRoleOutput {
	t.Helper()
	in := &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String(session)}
	if duration != 0 {
		in.DurationSeconds = aws.Int32(duration)
	}
	out, err := c.AssumeRole(context.Background(), in)
	if err != nil {
		t.Fatalf("AssumeRole(%s, %s): %v", roleARN, session, err)
	}
	return out
}

func TestSTSAssumeRoleWithSDK(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	root := stsClient(srv, nil)

	id, err := root.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity(root): %v", err)
	}
	if aws.ToString(id.Account) != stsAccount || aws.ToString(id.UserId) != stsAccount ||
		aws.ToString(id.Arn) != "arn:aws:iam::000000000000:root" {
		t.Errorf("root identity = %s %s %s", aws.ToString(id.UserId), aws.ToString(id.Account), aws.ToString(id.Arn))
	}

	const roleARN = "arn:aws:iam::000000000000:role/team/Analyst"
	before := time.Now()
	out := assumeRole(t, root, roleARN, "go-session", 900)
	c := out.Credentials
	if !strings.HasPrefix(aws.ToString(c.AccessKeyId), "ASIA") || len(aws.ToString(c.AccessKeyId)) != 20 ||
		aws.ToString(c.SecretAccessKey) == "" || aws.ToString(c.SessionToken) == "" {
		t.Errorf("credentials = %s / secret %d chars / token %d chars", aws.ToString(c.AccessKeyId),
			len(aws.ToString(c.SecretAccessKey)), len(aws.ToString(c.SessionToken)))
	}
	if c.Expiration == nil || c.Expiration.Before(before.Add(899*time.Second)) || c.Expiration.After(time.Now().Add(901*time.Second)) {
		t.Errorf("Expiration = %v, want about 900 s from now", c.Expiration)
	}
	wantARN := "arn:aws:sts::000000000000:assumed-role/Analyst/go-session"
	if got := aws.ToString(out.AssumedRoleUser.Arn); got != wantARN {
		t.Errorf("AssumedRoleUser.Arn = %s, want %s", got, wantARN)
	}
	roleID := aws.ToString(out.AssumedRoleUser.AssumedRoleId)
	if !assumedRoleIDRE.MatchString(roleID) || !strings.HasSuffix(roleID, ":go-session") {
		t.Errorf("AssumedRoleId = %s", roleID)
	}
	if out.PackedPolicySize == nil || *out.PackedPolicySize != 0 {
		t.Errorf("PackedPolicySize = %v, want 0", out.PackedPolicySize)
	}
	// The role id is stable for a role.
	again := assumeRole(t, root, roleARN, "other-session", 0)
	if got := aws.ToString(again.AssumedRoleUser.AssumedRoleId); got != strings.TrimSuffix(roleID, "go-session")+"other-session" {
		t.Errorf("second session's AssumedRoleId = %s, first %s", got, roleID)
	}
	if d := time.Until(*again.Credentials.Expiration); d < 59*time.Minute || d > 61*time.Minute {
		t.Errorf("default duration: expires in %s, want 1h", d)
	}

	// The session's credentials work with FinSpace and STS.
	session := sessionProvider(out)
	fs := servertest.Finspace(srv, func(o *finspace.Options) { o.Credentials = session })
	if _, err := fs.ListEnvironments(ctx, &finspace.ListEnvironmentsInput{}); err != nil {
		t.Fatalf("ListEnvironments with the session: %v", err)
	}
	sid, err := stsClient(srv, session).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity(session): %v", err)
	}
	if aws.ToString(sid.Arn) != wantARN || aws.ToString(sid.Account) != stsAccount || aws.ToString(sid.UserId) != roleID {
		t.Errorf("session identity = %s %s %s, want %s %s %s", aws.ToString(sid.UserId), aws.ToString(sid.Account),
			aws.ToString(sid.Arn), roleID, stsAccount, wantARN)
	}

	// Role chaining: the session assumes another role of the account.
	chainedClient := stsClient(srv, session)
	chained := assumeRole(t, chainedClient, "arn:aws:iam::000000000000:role/Deployer", "chained", 3600)
	cid, err := stsClient(srv, sessionProvider(chained)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatalf("GetCallerIdentity(chained): %v", err)
	}
	if got := aws.ToString(cid.Arn); got != "arn:aws:sts::000000000000:assumed-role/Deployer/chained" {
		t.Errorf("chained identity ARN = %s", got)
	}
	_, err = chainedClient.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/Deployer"),
		RoleSessionName: aws.String("too-long"), DurationSeconds: aws.Int32(3601)})
	wantSTSError(t, "chained session over 1 hour", err, "ValidationError", 400)
}

func TestSTSErrorsWithSDK(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	root := stsClient(srv, nil)

	_, err := root.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::123456789012:role/Elsewhere"),
		RoleSessionName: aws.String("s1")})
	wantSTSError(t, "role in another account", err, "AccessDenied", 403)

	for _, d := range []int32{899, 43201} {
		_, err := root.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/R"),
			RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(d)})
		wantSTSError(t, "DurationSeconds "+strconv.Itoa(int(d)), err, "ValidationError", 400)
	}
	_, err = root.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:user/Alice"),
		RoleSessionName: aws.String("s1")})
	wantSTSError(t, "user ARN", err, "ValidationError", 400)
	_, err = root.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/R"),
		RoleSessionName: aws.String("bad/name")})
	wantSTSError(t, "session name with a slash", err, "ValidationError", 400)

	rc := srv.Root()
	wrong := stsClient(srv, credentials.NewStaticCredentialsProvider(rc.AccessKeyID, rc.SecretAccessKey+"x", ""))
	_, err = wrong.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantSTSError(t, "wrong secret", err, "SignatureDoesNotMatch", 403)
	unknown := stsClient(srv, credentials.NewStaticCredentialsProvider("AKIAUNKNOWNUNKNOWN00", "secret", ""))
	_, err = unknown.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantSTSError(t, "unknown access key", err, "InvalidClientTokenId", 403)

	// A session with a wrong token.
	out := assumeRole(t, root, "arn:aws:iam::000000000000:role/R", "s1", 0)
	badToken := stsClient(srv, credentials.NewStaticCredentialsProvider(aws.ToString(out.Credentials.AccessKeyId),
		aws.ToString(out.Credentials.SecretAccessKey), "forged"))
	_, err = badToken.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantSTSError(t, "session with a forged token", err, "InvalidClientTokenId", 403)
}

// sideStore is a second credential store over a running server's metadata
// store and keys, so a test can issue credentials the server has not issued
// itself: expired ones, or ones for other principal kinds.
func sideStore(t *testing.T, srv *server.Server, dataDir string, now func() time.Time) *credstore.Store {
	t.Helper()
	keys, err := keyring.LoadOrCreate(filepath.Join(dataDir, "keys", "server.key"))
	if err != nil {
		t.Fatal(err)
	}
	return credstore.New(srv.Store(), keys, credstore.Options{Now: now})
}

func credsOf(c *auth.Credential) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(c.AccessKeyID, c.SecretAccessKey, c.SessionToken)
}

func TestSTSExpiredSession(t *testing.T) {
	dir := t.TempDir()
	srv := servertest.Start(t, func(c *server.Config) { c.DataDir = dir })
	ctx := context.Background()

	// A 900-second session (the minimum AssumeRole issues) issued 901
	// seconds ago: the same credential AssumeRole would have returned then.
	past := sideStore(t, srv, dir, func() time.Time { return time.Now().Add(-901 * time.Second) })
	role, err := ists.ParseRoleARN("arn:aws:iam::000000000000:role/Expired")
	if err != nil {
		t.Fatal(err)
	}
	cred, err := past.Issue(ctx, ists.SessionInput(role, "old-session", ists.MinDuration))
	if err != nil {
		t.Fatal(err)
	}
	fs := servertest.Finspace(srv, func(o *finspace.Options) { o.Credentials = credsOf(cred) })
	_, err = fs.ListEnvironments(ctx, &finspace.ListEnvironmentsInput{})
	wantSTSError(t, "finspace call with an expired session", err, "ExpiredTokenException", 403)
	_, err = stsClient(srv, credsOf(cred)).GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	wantSTSError(t, "STS call with an expired session", err, "ExpiredToken", 403)

	// The same session issued now works.
	fresh := sideStore(t, srv, dir, nil)
	cred, err = fresh.Issue(ctx, ists.SessionInput(role, "new-session", ists.MinDuration))
	if err != nil {
		t.Fatal(err)
	}
	fs = servertest.Finspace(srv, func(o *finspace.Options) { o.Credentials = credsOf(cred) })
	if _, err := fs.ListEnvironments(ctx, &finspace.ListEnvironmentsInput{}); err != nil {
		t.Errorf("finspace call with a fresh session: %v", err)
	}
}

func TestSTSTrustRuleForOtherPrincipals(t *testing.T) {
	dir := t.TempDir()
	srv, _ := servertest.StartClocked(t, func(c *server.Config) { c.DataDir = dir })
	ctx := context.Background()
	cs := sideStore(t, srv, dir, nil)

	live := liveUser(t, srv, servertest.Region)
	user, err := cs.Issue(ctx, credstore.IssueInput{TTL: time.Hour, Group: "user/" + live.EnvironmentID + "/" + live.UserID, Principal: live})
	if err != nil {
		t.Fatal(err)
	}
	scoped, err := cs.Issue(ctx, credstore.IssueInput{TTL: time.Hour, Group: "scoped/b", Principal: auth.Principal{
		Kind: auth.ScopedRead, Account: stsAccount, ARN: "arn:aws:sts::000000000000:federated-user/scoped-read",
		Bucket: "b", Prefix: "p/"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		cred    *auth.Credential
		userID  string
		wantARN string
	}{
		{"FinSpace user", user, live.UserID, live.ARN},
		{"scoped read", scoped, scoped.AccessKeyID, "arn:aws:sts::000000000000:federated-user/scoped-read"},
	} {
		c := stsClient(srv, credsOf(tc.cred))
		_, err := c.AssumeRole(ctx, &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/R"),
			RoleSessionName: aws.String("s1")})
		wantSTSError(t, tc.name+" AssumeRole", err, "AccessDenied", 403)
		id, err := c.GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		if err != nil {
			t.Errorf("%s GetCallerIdentity: %v", tc.name, err)
			continue
		}
		if aws.ToString(id.UserId) != tc.userID || aws.ToString(id.Arn) != tc.wantARN || aws.ToString(id.Account) != stsAccount {
			t.Errorf("%s identity = %s %s %s, want %s %s %s", tc.name, aws.ToString(id.UserId), aws.ToString(id.Account),
				aws.ToString(id.Arn), tc.userID, stsAccount, tc.wantARN)
		}
	}
}

// stsRaw sends a request signed for sts and returns the status, the error
// code (if any) and the body.
func stsRaw(t *testing.T, srv *server.Server, method, query, body string) (int, string, []byte) {
	t.Helper()
	target := srv.URL() + "/"
	if query != "" {
		target += "?" + query
	}
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	root := srv.Root()
	sum := sha256.Sum256([]byte(body))
	hash := hex.EncodeToString(sum[:])
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: root.AccessKeyID, SecretAccessKey: root.SecretAccessKey},
		req, hash, "sts", servertest.Region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("x-amzn-RequestId") == "" {
		t.Errorf("%s %s: no x-amzn-RequestId header", method, query)
	}
	var e struct {
		Error struct{ Code string } `xml:"Error"`
	}
	_ = xml.Unmarshal(b, &e)
	return resp.StatusCode, e.Error.Code, b
}

func TestSTSWire(t *testing.T) {
	srv := servertest.Start(t)

	// GET with the parameters in the query.
	status, code, body := stsRaw(t, srv, "GET", "Action=GetCallerIdentity&Version=2011-06-15", "")
	if status != 200 || !strings.Contains(string(body), "<Arn>arn:aws:iam::000000000000:root</Arn>") {
		t.Errorf("GET GetCallerIdentity: %d %s %s", status, code, body)
	}
	for _, tc := range []struct {
		name, method, query, body string
		status                    int
		code                      string
	}{
		{"unknown action", "POST", "", "Action=Frobnicate&Version=2011-06-15", 400, "InvalidAction"},
		{"unimplemented STS action", "POST", "", "Action=GetSessionToken&Version=2011-06-15", 400, "InvalidAction"},
		{"wrong version", "POST", "", "Action=GetCallerIdentity&Version=2011-06-16", 400, "InvalidAction"},
		{"no action", "POST", "", "Version=2011-06-15", 400, "MissingAction"},
		{"missing RoleArn", "POST", "", "Action=AssumeRole&Version=2011-06-15&RoleSessionName=s1", 400, "ValidationError"},
		{"DurationSeconds not a number", "POST", "", "Action=AssumeRole&Version=2011-06-15&RoleArn=arn:aws:iam::000000000000:role/R&RoleSessionName=s1&DurationSeconds=abc", 400, "ValidationError"},
		{"ignored parameters", "POST", "", "Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A000000000000%3Arole%2FR&RoleSessionName=s1" +
			"&ExternalId=ext-123&Policy=%7B%7D&Tags.member.1.Key=team&Tags.member.1.Value=quant&TransitiveTagKeys.member.1=team" +
			"&PolicyArns.member.1.arn=arn%3Aaws%3Aiam%3A%3Aaws%3Apolicy%2FReadOnlyAccess", 200, ""},
	} {
		status, code, body := stsRaw(t, srv, tc.method, tc.query, tc.body)
		if status != tc.status || code != tc.code {
			t.Errorf("%s: %d %s, want %d %s\n%s", tc.name, status, code, tc.status, tc.code, body)
		}
	}
}

func TestSTSPresignedGetCallerIdentity(t *testing.T) {
	srv := servertest.Start(t)
	ctx := context.Background()
	presigner := sts.NewPresignClient(stsClient(srv, nil))
	p, err := presigner.PresignGetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(p.URL)
	if err != nil {
		t.Fatal(err)
	}
	if !u.Query().Has("X-Amz-Signature") || u.Query().Get("Action") != "GetCallerIdentity" {
		t.Fatalf("presigned URL %s", p.URL)
	}
	req, _ := http.NewRequest(p.Method, p.URL, nil)
	for k, vs := range p.SignedHeader {
		if !strings.EqualFold(k, "host") {
			req.Header[k] = vs
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var out struct {
		Result struct{ Arn, Account, UserId string } `xml:"GetCallerIdentityResult"`
	}
	if err := xml.Unmarshal(body, &out); err != nil || resp.StatusCode != 200 || out.Result.Arn != "arn:aws:iam::000000000000:root" {
		t.Errorf("presigned GetCallerIdentity: %d %v %s", resp.StatusCode, err, body)
	}
}
