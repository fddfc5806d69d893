package server_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	fstypes "github.com/aws/aws-sdk-go-v2/service/finspace/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/authz"
	"github.com/openfinspace/openfinspace/internal/auth/credstore"
	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
	fd "github.com/openfinspace/openfinspace/internal/testclient/finspacedata"
	wfinspace "github.com/openfinspace/openfinspace/internal/wire/finspace"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/restjson"
)

// principals are one credential of every principal kind the policy knows,
// all valid on one server.
type principals map[auth.PrincipalKind]aws.Credentials

// everyPrincipal sets up a CREATED environment and one live credential of
// each kind: root, an STS session whose role a FinSpace user names, the
// superuser's programmatic credentials, scoped read credentials.
func everyPrincipal(t *testing.T, srv *server.Server, dir string) (principals, string) {
	t.Helper()
	ctx := context.Background()
	env := createdEnvironment(t, servertest.Finspace(srv), "walk")
	su := userClient(t, srv, rootData(srv), env)
	const role = "arn:aws:iam::000000000000:role/walker"
	if _, err := su.CreateUser(ctx, &finspacedata.CreateUserRequest{EmailAddress: sp("walker@example.com"), Type: ptrTo(finspacedata.UserTypeSuperUser),
		ApiAccess: ptrTo(finspacedata.ApiAccessEnabled), ApiAccessPrincipalArn: sp(role)}); err != nil {
		t.Fatal(err)
	}
	root := srv.Root()
	sess := assumeRole(t, stsClient(srv, nil), role, "walk", 0).Credentials
	out, err := rootData(srv).GetProgrammaticAccessCredentials(ctx, &finspacedata.GetProgrammaticAccessCredentialsRequest{EnvironmentId: &env})
	if err != nil {
		t.Fatal(err)
	}
	uc := out.Credentials
	scoped, err := sideStore(t, srv, dir, nil).Issue(ctx, credstore.IssueInput{TTL: time.Hour, Group: "scoped/walk", Principal: auth.Principal{
		Kind: auth.ScopedRead, Account: "000000000000", ARN: "arn:aws:sts::000000000000:federated-user/scoped-read",
		Bucket: blob.WorkingLocationBucket("000000000000", servertest.Region, env), Prefix: "views/"}})
	if err != nil {
		t.Fatal(err)
	}
	return principals{
		auth.Root:         {AccessKeyID: root.AccessKeyID, SecretAccessKey: root.SecretAccessKey},
		auth.AssumedRole:  {AccessKeyID: *sess.AccessKeyId, SecretAccessKey: *sess.SecretAccessKey, SessionToken: *sess.SessionToken},
		auth.FinSpaceUser: {AccessKeyID: *uc.AccessKeyId, SecretAccessKey: *uc.SecretAccessKey, SessionToken: *uc.SessionToken},
		auth.ScopedRead:   {AccessKeyID: scoped.AccessKeyID, SecretAccessKey: scoped.SecretAccessKey, SessionToken: scoped.SessionToken},
	}, env
}

// TestAuthorizationWalk sends every operation of every rest-json service
// signed by every kind of principal and checks the answer against the
// policy table: where the policy grants no access the answer is 403
// AccessDeniedException naming the action, before binding, validation or
// the operation itself; where it grants access the authorization model
// never refuses (the operation's own rules may).
func TestAuthorizationWalk(t *testing.T) {
	dir := t.TempDir()
	srv, _ := servertest.StartClocked(t, func(c *server.Config) { c.DataDir = dir })
	creds, _ := everyPrincipal(t, srv, dir)
	if len(creds) != len(authz.PrincipalKinds) {
		t.Fatalf("the walk covers %d principal kinds, the policy %d", len(creds), len(authz.PrincipalKinds))
	}
	services := map[string][]*restjson.Operation{authz.Finspace: wfinspace.Operations, authz.FinspaceData: finspacedata.Operations}
	for _, kind := range authz.PrincipalKinds {
		c := &signedClient{srv: srv, signer: v4.NewSigner(), creds: creds[kind], now: time.Now()}
		for service, ops := range services {
			for _, op := range ops {
				r := c.do(t, service, op.Method, requestPath(op), []byte("{}"), true)
				msg, _ := r.body["message"].(string)
				byModel := r.status == 403 && r.code == "AccessDeniedException" && strings.Contains(msg, "may not call this API")
				switch authz.Lookup(kind, service, op.Name) {
				case authz.None:
					if !byModel || !strings.Contains(msg, "is not authorized to perform: "+service+":"+op.Name) {
						t.Errorf("%s → %s:%s: %d %s %q, want the model's 403 AccessDeniedException", authz.KindName(kind), service, op.Name, r.status, r.code, msg)
					}
				default:
					if byModel || r.status >= 500 && r.status != 501 || r.code == "UnknownOperationException" {
						t.Errorf("%s → %s:%s: %d %s %q, want the operation to run", authz.KindName(kind), service, op.Name, r.status, r.code, msg)
					}
				}
			}
		}

		// STS: every action the policy names, through the Go SDK.
		sc := stsClient(srv, credentials.StaticCredentialsProvider{Value: creds[kind]})
		_, err := sc.GetCallerIdentity(context.Background(), &sts.GetCallerIdentityInput{})
		checkDecision(t, kind, authz.STS, "GetCallerIdentity", err)
		_, err = sc.AssumeRole(context.Background(), &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::000000000000:role/next"), RoleSessionName: aws.String("next")})
		checkDecision(t, kind, authz.STS, "AssumeRole", err)

		// S3: full access reaches every bucket (ListBuckets); own access
		// only its resource (the rules are tested in tests/s3).
		s3c := s3For(srv, credentials.StaticCredentialsProvider{Value: creds[kind]})
		_, err = s3c.ListBuckets(context.Background(), &s3.ListBucketsInput{})
		switch authz.Lookup(kind, authz.S3, "") {
		case authz.Full:
			if err != nil {
				t.Errorf("%s ListBuckets: %v", authz.KindName(kind), err)
			}
		default:
			servertest.WantS3Error(t, authz.KindName(kind)+" ListBuckets", err, "AccessDenied", 403)
		}
	}
}

// checkDecision checks an SDK call's outcome against the policy: AccessDenied
// exactly where the policy grants nothing.
func checkDecision(t *testing.T, kind auth.PrincipalKind, service, op string, err error) {
	t.Helper()
	var ae smithy.APIError
	denied := errors.As(err, &ae) && ae.ErrorCode() == "AccessDenied"
	switch want := authz.Lookup(kind, service, op); {
	case want == authz.None && !denied:
		t.Errorf("%s → %s:%s: %v, want AccessDenied", authz.KindName(kind), service, op, err)
	case want != authz.None && err != nil:
		t.Errorf("%s → %s:%s: %v, want success", authz.KindName(kind), service, op, err)
	}
}

// TestPolicyCoversEveryService: every signing name the server answers has
// a row for root, and no principal kind reaches a service the server does
// not serve.
func TestPolicyCoversEveryService(t *testing.T) {
	served := map[string]bool{authz.Finspace: true, authz.FinspaceData: true, authz.STS: true, authz.S3: true, authz.Glue: true}
	if got := len(server.ImplementedOperations()); got != 2 {
		t.Fatalf("%d rest-json services; the walk covers 2", got)
	}
	for svc := range served {
		if authz.Lookup(auth.Root, svc, "") == authz.None {
			t.Errorf("root has no access to %s", svc)
		}
	}
	for kind, rules := range authz.Policy {
		for svc := range rules {
			if !served[svc] {
				t.Errorf("%s has a rule for %s, which is not served", authz.KindName(kind), svc)
			}
		}
	}
}

// TestFinSpaceUserCredentialsConfined is the critical finding's regression
// test: a FinSpace user's programmatic credentials — of a user with only
// GetTemporaryCredentials, of a disabled user, of a deleted environment —
// run none of the finspace control plane, through the Go SDK.
func TestFinSpaceUserCredentialsConfined(t *testing.T) {
	srv, _ := servertest.StartClocked(t)
	ctx := context.Background()
	rootFS := servertest.Finspace(srv)
	envA := createdEnvironment(t, rootFS, "confined-a")
	envB, err := rootFS.CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{Name: aws.String("confined-b")})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, rootFS, *envB.EnvironmentId, fstypes.EnvironmentStatusCreated)

	// An APP_USER whose only permission is GetTemporaryCredentials, through
	// its role, as a real client gets such credentials.
	su := userClient(t, srv, rootData(srv), envA)
	const role = "arn:aws:iam::000000000000:role/confined"
	u, err := su.CreateUser(ctx, &finspacedata.CreateUserRequest{EmailAddress: sp("confined@example.com"), Type: ptrTo(finspacedata.UserTypeAppUser),
		ApiAccess: ptrTo(finspacedata.ApiAccessEnabled), ApiAccessPrincipalArn: sp(role)})
	if err != nil {
		t.Fatal(err)
	}
	g, err := su.CreatePermissionGroup(ctx, &finspacedata.CreatePermissionGroupRequest{Name: sp("creds-only"),
		ApplicationPermissions: []finspacedata.ApplicationPermission{finspacedata.ApplicationPermissionGetTemporaryCredentials}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := su.AssociateUserToPermissionGroup(ctx, &finspacedata.AssociateUserToPermissionGroupRequest{PermissionGroupId: g.PermissionGroupId, UserId: u.UserId}); err != nil {
		t.Fatal(err)
	}
	sess := assumeRole(t, stsClient(srv, nil), role, "confined", 0).Credentials
	roleData := fd.New(srv.URL(), servertest.Region, fd.StaticCredentials(*sess.AccessKeyId, *sess.SecretAccessKey, *sess.SessionToken))
	out, err := roleData.GetProgrammaticAccessCredentials(ctx, &finspacedata.GetProgrammaticAccessCredentialsRequest{EnvironmentId: &envA})
	if err != nil {
		t.Fatal(err)
	}
	appUser := aws.Credentials{AccessKeyID: *out.Credentials.AccessKeyId, SecretAccessKey: *out.Credentials.SecretAccessKey, SessionToken: *out.Credentials.SessionToken}
	superOut, err := rootData(srv).GetProgrammaticAccessCredentials(ctx, &finspacedata.GetProgrammaticAccessCredentialsRequest{EnvironmentId: &envA})
	if err != nil {
		t.Fatal(err)
	}
	super := aws.Credentials{AccessKeyID: *superOut.Credentials.AccessKeyId, SecretAccessKey: *superOut.Credentials.SecretAccessKey, SessionToken: *superOut.Credentials.SessionToken}

	attempts := func(t *testing.T, who string, c aws.Credentials) {
		t.Helper()
		fs := servertest.Finspace(srv, func(o *finspace.Options) { o.Credentials = credentials.StaticCredentialsProvider{Value: c} })
		envBArn := "arn:aws:finspace:us-east-1:000000000000:environment/" + *envB.EnvironmentId
		for name, call := range map[string]func() error{
			"DeleteEnvironment(B)": func() error {
				_, err := fs.DeleteEnvironment(ctx, &finspace.DeleteEnvironmentInput{EnvironmentId: envB.EnvironmentId})
				return err
			},
			"CreateEnvironment": func() error {
				_, err := fs.CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{Name: aws.String("intruder")})
				return err
			},
			"UpdateEnvironment(A)": func() error {
				_, err := fs.UpdateEnvironment(ctx, &finspace.UpdateEnvironmentInput{EnvironmentId: &envA, Name: aws.String("renamed")})
				return err
			},
			"TagResource(B)": func() error {
				_, err := fs.TagResource(ctx, &finspace.TagResourceInput{ResourceArn: &envBArn, Tags: map[string]string{"owned": "yes"}})
				return err
			},
			"GetEnvironment(A)": func() error {
				_, err := fs.GetEnvironment(ctx, &finspace.GetEnvironmentInput{EnvironmentId: &envA})
				return err
			},
			"ListEnvironments": func() error {
				_, err := fs.ListEnvironments(ctx, &finspace.ListEnvironmentsInput{})
				return err
			},
			"CreateKxEnvironment": func() error {
				_, err := fs.CreateKxEnvironment(ctx, &finspace.CreateKxEnvironmentInput{Name: aws.String("kx"), KmsKeyId: aws.String("arn:aws:kms:us-east-1:000000000000:key/k")})
				return err
			},
		} {
			var ae smithy.APIError
			if err := call(); !errors.As(err, &ae) || ae.ErrorCode() != "AccessDeniedException" {
				t.Errorf("%s: %s = %v, want AccessDeniedException", who, name, err)
			}
		}
	}
	attempts(t, "APP_USER with GetTemporaryCredentials only", appUser)
	attempts(t, "superuser's programmatic credentials", super)

	if _, err := su.DisableUser(ctx, &finspacedata.DisableUserRequest{UserId: u.UserId}); err != nil {
		t.Fatal(err)
	}
	attempts(t, "disabled user", appUser)
	if _, err := rootFS.DeleteEnvironment(ctx, &finspace.DeleteEnvironmentInput{EnvironmentId: &envA}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, rootFS, envA, fstypes.EnvironmentStatusDeleted)
	attempts(t, "user of a deleted environment", super)

	// Nothing the attempts asked for happened.
	b, err := rootFS.GetEnvironment(ctx, &finspace.GetEnvironmentInput{EnvironmentId: envB.EnvironmentId})
	if err != nil || b.Environment.Status != fstypes.EnvironmentStatusCreated {
		t.Errorf("environment B after the attempts: %+v, %v", b, err)
	}
	tags, err := rootFS.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: b.Environment.EnvironmentArn})
	if err != nil || len(tags.Tags) != 0 {
		t.Errorf("environment B's tags: %v, %v", tags, err)
	}
	list, err := rootFS.ListEnvironments(ctx, &finspace.ListEnvironmentsInput{})
	if err != nil || len(list.Environments) != 2 {
		t.Errorf("environments after the attempts: %d, %v", len(list.Environments), err)
	}
}

// TestRevocation: disabling a user or deleting its environment cuts its
// credentials off at once on every API — finspace-data, S3 requests and
// presigned URLs made before — and enabling the user restores them.
func TestRevocation(t *testing.T) {
	srv, _ := servertest.StartClocked(t)
	ctx := context.Background()
	rootFS := servertest.Finspace(srv)
	env := createdEnvironment(t, rootFS, "revoke")
	su := userClient(t, srv, rootData(srv), env)
	const role = "arn:aws:iam::000000000000:role/revoked"
	u, err := su.CreateUser(ctx, &finspacedata.CreateUserRequest{EmailAddress: sp("revoked@example.com"), Type: ptrTo(finspacedata.UserTypeAppUser),
		ApiAccess: ptrTo(finspacedata.ApiAccessEnabled), ApiAccessPrincipalArn: sp(role)})
	if err != nil {
		t.Fatal(err)
	}
	g, err := su.CreatePermissionGroup(ctx, &finspacedata.CreatePermissionGroupRequest{Name: sp("uploaders"),
		ApplicationPermissions: []finspacedata.ApplicationPermission{finspacedata.ApplicationPermissionGetTemporaryCredentials}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := su.AssociateUserToPermissionGroup(ctx, &finspacedata.AssociateUserToPermissionGroupRequest{PermissionGroupId: g.PermissionGroupId, UserId: u.UserId}); err != nil {
		t.Fatal(err)
	}
	sess := assumeRole(t, stsClient(srv, nil), role, "revoked", 0).Credentials
	roleData := fd.New(srv.URL(), servertest.Region, fd.StaticCredentials(*sess.AccessKeyId, *sess.SecretAccessKey, *sess.SessionToken))
	out, err := roleData.GetProgrammaticAccessCredentials(ctx, &finspacedata.GetProgrammaticAccessCredentialsRequest{EnvironmentId: &env})
	if err != nil {
		t.Fatal(err)
	}
	cr := out.Credentials
	userData := fd.New(srv.URL(), servertest.Region, fd.StaticCredentials(*cr.AccessKeyId, *cr.SecretAccessKey, *cr.SessionToken))
	us3 := s3For(srv, credentials.NewStaticCredentialsProvider(*cr.AccessKeyId, *cr.SecretAccessKey, *cr.SessionToken))
	loc, err := userData.GetWorkingLocation(ctx, &finspacedata.GetWorkingLocationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	bucket := aws.ToString(loc.S3Bucket)
	mustPut(t, us3, bucket, "before.txt", "before")
	presigned, err := s3.NewPresignClient(us3).PresignGetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("before.txt")})
	if err != nil {
		t.Fatal(err)
	}
	getURL := func() (int, string) {
		resp, err := http.Get(presigned.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if st, body := getURL(); st != 200 || body != "before" {
		t.Fatalf("presigned GET while enabled: %d %q", st, body)
	}

	cutOff := func(t *testing.T, why string) {
		t.Helper()
		_, err := us3.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("after.txt"), Body: strings.NewReader("x")})
		servertest.WantS3Error(t, why+": PutObject", err, "AccessDenied", 403)
		_, err = us3.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("before.txt")})
		servertest.WantS3Error(t, why+": GetObject", err, "AccessDenied", 403)
		_, err = us3.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: &bucket})
		servertest.WantS3Error(t, why+": ListObjectsV2", err, "AccessDenied", 403)
		if st, body := getURL(); st != 403 || !strings.Contains(body, "<Code>AccessDenied</Code>") {
			t.Errorf("%s: presigned GET = %d %q, want 403 AccessDenied", why, st, body)
		}
		if _, err := userData.GetWorkingLocation(ctx, &finspacedata.GetWorkingLocationRequest{}); code(err) != "AccessDeniedException" {
			t.Errorf("%s: GetWorkingLocation = %v", why, err)
		}
		_, err = stsClient(srv, credentials.NewStaticCredentialsProvider(*cr.AccessKeyId, *cr.SecretAccessKey, *cr.SessionToken)).
			GetCallerIdentity(ctx, &sts.GetCallerIdentityInput{})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != "AccessDenied" {
			t.Errorf("%s: GetCallerIdentity = %v", why, err)
		}
	}

	// Disabled: refused on the very next request.
	if _, err := su.DisableUser(ctx, &finspacedata.DisableUserRequest{UserId: u.UserId}); err != nil {
		t.Fatal(err)
	}
	cutOff(t, "disabled user")
	if _, err := rootS3(srv).HeadObject(ctx, &s3.HeadObjectInput{Bucket: &bucket, Key: aws.String("after.txt")}); err == nil {
		t.Error("a refused PUT wrote its object")
	}
	// Enabled again: the same credentials work again (the check reads
	// the user's state, nothing was cached).
	if _, err := su.EnableUser(ctx, &finspacedata.EnableUserRequest{UserId: u.UserId}); err != nil {
		t.Fatal(err)
	}
	if st, _ := getURL(); st != 200 {
		t.Errorf("presigned GET after EnableUser: %d", st)
	}
	mustPut(t, us3, bucket, "again.txt", "again")

	// The environment deleted: its users' credentials, the superuser's
	// included, reach nothing; the account's administrators keep the
	// bucket's objects (README: "A deleted environment's data").
	superOut, err := rootData(srv).GetProgrammaticAccessCredentials(ctx, &finspacedata.GetProgrammaticAccessCredentialsRequest{EnvironmentId: &env})
	if err != nil {
		t.Fatal(err)
	}
	sc := superOut.Credentials
	super3 := s3For(srv, credentials.NewStaticCredentialsProvider(*sc.AccessKeyId, *sc.SecretAccessKey, *sc.SessionToken))
	if _, err := rootFS.DeleteEnvironment(ctx, &finspace.DeleteEnvironmentInput{EnvironmentId: &env}); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, rootFS, env, fstypes.EnvironmentStatusDeleted)
	cutOff(t, "deleted environment")
	_, err = super3.GetObject(ctx, &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("again.txt")})
	servertest.WantS3Error(t, "superuser of a deleted environment", err, "AccessDenied", 403)
	_, err = super3.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: aws.String("late.txt"), Body: strings.NewReader("x")})
	servertest.WantS3Error(t, "superuser of a deleted environment", err, "AccessDenied", 403)
	if got := servertest.S3Body(t, rootS3(srv), &s3.GetObjectInput{Bucket: &bucket, Key: aws.String("again.txt")}); got != "again" {
		t.Errorf("root reads the deleted environment's object: %q", got)
	}
}
