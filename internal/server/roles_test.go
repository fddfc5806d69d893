package server_test

import (
	"context"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/openfinspace/openfinspace/internal/server/servertest"
	fd "github.com/openfinspace/openfinspace/internal/testclient/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

// TestRoleSessionsActAsUsers: an IAM role session acts as the FinSpace user
// whose apiAccessPrincipalArn is the role, with that user's permissions.
func TestRoleSessionsActAsUsers(t *testing.T) {
	srv, _ := servertest.StartClocked(t)
	ctx := context.Background()
	env := createdEnvironment(t, servertest.Finspace(srv), "roles")
	su := userClient(t, srv, rootData(srv), env)
	const analystRole = "arn:aws:iam::000000000000:role/analyst"
	const mutedRole = "arn:aws:iam::000000000000:role/muted"
	analyst, err := su.CreateUser(ctx, &finspacedata.CreateUserRequest{EmailAddress: sp("analyst@example.com"), Type: ptrTo(finspacedata.UserTypeAppUser),
		ApiAccess: ptrTo(finspacedata.ApiAccessEnabled), ApiAccessPrincipalArn: sp(analystRole)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := su.CreateUser(ctx, &finspacedata.CreateUserRequest{EmailAddress: sp("muted@example.com"), Type: ptrTo(finspacedata.UserTypeAppUser),
		ApiAccess: ptrTo(finspacedata.ApiAccessDisabled), ApiAccessPrincipalArn: sp(mutedRole)}); err != nil {
		t.Fatal(err)
	}

	roleData := func(role string) *fd.Client {
		out := assumeRole(t, stsClient(srv, nil), role, "s1", 0)
		c := out.Credentials
		return fd.New(srv.URL(), servertest.Region, fd.StaticCredentials(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken))
	}
	analystRoleClient := roleData(analystRole)
	getCreds := func(c *fd.Client) (*finspacedata.GetProgrammaticAccessCredentialsResponse, error) {
		return c.GetProgrammaticAccessCredentials(ctx, &finspacedata.GetProgrammaticAccessCredentialsRequest{EnvironmentId: &env, DurationInMinutes: aws.Int64(15)})
	}
	// An APP_USER needs GetTemporaryCredentials.
	if _, err := getCreds(analystRoleClient); code(err) != "AccessDeniedException" {
		t.Errorf("role of an APP_USER without GetTemporaryCredentials: %v", err)
	}
	// A user without API access is refused whatever its groups.
	if _, err := getCreds(roleData(mutedRole)); code(err) != "AccessDeniedException" {
		t.Errorf("role of a user with apiAccess DISABLED: %v", err)
	}
	// A role no user names is refused.
	if _, err := getCreds(roleData("arn:aws:iam::000000000000:role/stranger")); code(err) != "AccessDeniedException" {
		t.Errorf("role no user names: %v", err)
	}

	g, err := su.CreatePermissionGroup(ctx, &finspacedata.CreatePermissionGroupRequest{Name: sp("analysts"),
		ApplicationPermissions: []finspacedata.ApplicationPermission{finspacedata.ApplicationPermissionGetTemporaryCredentials, finspacedata.ApplicationPermissionCreateDataset}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := su.AssociateUserToPermissionGroup(ctx, &finspacedata.AssociateUserToPermissionGroupRequest{PermissionGroupId: g.PermissionGroupId, UserId: analyst.UserId}); err != nil {
		t.Fatal(err)
	}
	out, err := getCreds(analystRoleClient)
	if err != nil {
		t.Fatalf("role of an APP_USER with GetTemporaryCredentials: %v", err)
	}
	cr := out.Credentials
	asAnalyst := fd.New(srv.URL(), servertest.Region, fd.StaticCredentials(*cr.AccessKeyId, *cr.SecretAccessKey, *cr.SessionToken))

	// The analyst lacks ManageUsersAndGroups: user and group operations are
	// denied, through its own credentials and through the role directly.
	for name, c := range map[string]*fd.Client{"user credentials": asAnalyst, "role session": analystRoleClient} {
		if _, err := c.CreateUser(ctx, &finspacedata.CreateUserRequest{EmailAddress: sp("new@example.com"), Type: ptrTo(finspacedata.UserTypeAppUser)}); code(err) != "AccessDeniedException" {
			t.Errorf("%s: CreateUser without ManageUsersAndGroups: %v", name, err)
		}
		if _, err := c.ListPermissionGroups(ctx, &finspacedata.ListPermissionGroupsRequest{MaxResults: aws.Int32(5)}); code(err) != "AccessDeniedException" {
			t.Errorf("%s: ListPermissionGroups without ManageUsersAndGroups: %v", name, err)
		}
	}

	// Disabling the analyst refuses the credentials issued before, at once.
	if _, err := su.DisableUser(ctx, &finspacedata.DisableUserRequest{UserId: analyst.UserId}); err != nil {
		t.Fatal(err)
	}
	if _, err := asAnalyst.GetProgrammaticAccessCredentials(ctx, &finspacedata.GetProgrammaticAccessCredentialsRequest{EnvironmentId: &env}); code(err) != "AccessDeniedException" {
		t.Errorf("disabled user's earlier credentials: %v", err)
	}
	if _, err := asAnalyst.ListUsers(ctx, &finspacedata.ListUsersRequest{MaxResults: aws.Int32(5)}); code(err) != "AccessDeniedException" {
		t.Errorf("disabled user's earlier credentials on ListUsers: %v", err)
	}
	if _, err := getCreds(analystRoleClient); code(err) != "AccessDeniedException" {
		t.Errorf("role of a disabled user: %v", err)
	}
}
