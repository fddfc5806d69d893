package authz_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/authz"
	"github.com/openfinspace/openfinspace/internal/fault"
)

func TestDecide(t *testing.T) {
	revoked := errors.New("revoked")
	live := map[string]bool{"u-live": true}
	a := &authz.Authorizer{Live: func(_ context.Context, p auth.Principal, region string) error {
		if !live[p.UserID] || region != "us-east-1" {
			return fault.Deniedf("%v", revoked)
		}
		return nil
	}}
	user := func(id string) auth.Principal {
		return auth.Principal{Kind: auth.FinSpaceUser, ARN: "arn:aws:finspace:us-east-1:000000000000:user/" + id, UserID: id}
	}
	for _, tc := range []struct {
		name      string
		p         auth.Principal
		region    string
		service   string
		op        string
		want      authz.Access
		wantError bool
	}{
		{"root, control plane", auth.Principal{Kind: auth.Root}, "us-east-1", authz.Finspace, "DeleteEnvironment", authz.Full, false},
		{"role, S3", auth.Principal{Kind: auth.AssumedRole}, "us-east-1", authz.S3, "", authz.Full, false},
		{"user, control plane", user("u-live"), "us-east-1", authz.Finspace, "DeleteEnvironment", authz.None, true},
		{"user, kx", user("u-live"), "us-east-1", authz.Finspace, "CreateKxEnvironment", authz.None, true},
		{"user, finspace-data", user("u-live"), "us-east-1", authz.FinspaceData, "ListUsers", authz.Own, false},
		{"user, S3", user("u-live"), "us-east-1", authz.S3, "", authz.Own, false},
		{"user, GetCallerIdentity", user("u-live"), "us-east-1", authz.STS, "GetCallerIdentity", authz.Full, false},
		{"user, AssumeRole", user("u-live"), "us-east-1", authz.STS, "AssumeRole", authz.None, true},
		{"revoked user, S3", user("u-off"), "us-east-1", authz.S3, "", authz.None, true},
		{"revoked user, GetCallerIdentity", user("u-off"), "us-east-1", authz.STS, "GetCallerIdentity", authz.None, true},
		{"user, other region", user("u-live"), "eu-west-1", authz.FinspaceData, "ListUsers", authz.None, true},
		{"scoped, finspace-data", auth.Principal{Kind: auth.ScopedRead}, "us-east-1", authz.FinspaceData, "GetUser", authz.None, true},
		{"scoped, S3", auth.Principal{Kind: auth.ScopedRead}, "us-east-1", authz.S3, "", authz.Own, false},
		{"unknown kind", auth.Principal{Kind: auth.PrincipalKind(99)}, "us-east-1", authz.S3, "", authz.None, true},
		{"unknown service", auth.Principal{Kind: auth.Root}, "us-east-1", "athena", "StartQueryExecution", authz.None, true},
		{"root, Glue", auth.Principal{Kind: auth.Root}, "us-east-1", authz.Glue, "GetTable", authz.Full, false},
		{"role, Glue", auth.Principal{Kind: auth.AssumedRole}, "us-east-1", authz.Glue, "GetPartitions", authz.Full, false},
		{"user, Glue", user("u-live"), "us-east-1", authz.Glue, "GetTables", authz.None, true},
		{"scoped, Glue", auth.Principal{Kind: auth.ScopedRead}, "us-east-1", authz.Glue, "GetDatabases", authz.None, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := a.Decide(context.Background(), auth.Caller{Principal: tc.p, Region: tc.region}, tc.service, tc.op)
			if got != tc.want || (err != nil) != tc.wantError {
				t.Fatalf("Decide = %v, %v; want %v, error %v", got, err, tc.want, tc.wantError)
			}
			if err != nil && fault.KindOf(err) != fault.Denied {
				t.Errorf("error %v is not a fault.Denied", err)
			}
		})
	}
}

// A FinSpace user is refused when the authorizer cannot check liveness.
func TestNoLivenessCheckRefusesUsers(t *testing.T) {
	var a *authz.Authorizer
	_, err := a.Decide(context.Background(), auth.Caller{Principal: auth.Principal{Kind: auth.FinSpaceUser}}, authz.FinspaceData, "ListUsers")
	if fault.KindOf(err) != fault.Denied {
		t.Fatalf("Decide without Live = %v", err)
	}
}

// The README's table is the policy's.
func TestReadmeTable(t *testing.T) {
	readme, err := os.ReadFile("../../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(readme), authz.Table()) {
		t.Errorf("README.md does not contain the authorization table; replace it with:\n%s", authz.Table())
	}
}
