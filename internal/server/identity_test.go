package server_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/finspace/types"

	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
	fd "github.com/openfinspace/openfinspace/internal/testclient/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

func sp(s string) *string { return &s }

// createdEnvironment creates an environment with a superuser and waits
// until it is CREATED (waitStatus).
func createdEnvironment(t *testing.T, c *finspace.Client, name string) string {
	t.Helper()
	out, err := c.CreateEnvironment(context.Background(), &finspace.CreateEnvironmentInput{Name: aws.String(name),
		SuperuserParameters: &types.SuperuserParameters{EmailAddress: aws.String("root@" + name + ".example.com"), FirstName: aws.String("Root"), LastName: aws.String("User")}})
	if err != nil {
		t.Fatal(err)
	}
	waitStatus(t, c, *out.EnvironmentId, types.EnvironmentStatusCreated)
	return *out.EnvironmentId
}

func rootData(srv *server.Server) *fd.Client {
	root := srv.Root()
	return fd.New(srv.URL(), servertest.Region, fd.StaticCredentials(root.AccessKeyID, root.SecretAccessKey, ""))
}

// userClient gets programmatic credentials with caller for env and returns
// a client using them.
func userClient(t *testing.T, srv *server.Server, caller *fd.Client, env string) *fd.Client {
	t.Helper()
	out, err := caller.GetProgrammaticAccessCredentials(context.Background(), &finspacedata.GetProgrammaticAccessCredentialsRequest{EnvironmentId: &env, DurationInMinutes: aws.Int64(30)})
	if err != nil {
		t.Fatalf("GetProgrammaticAccessCredentials: %v", err)
	}
	if aws.ToInt64(out.DurationInMinutes) != 30 {
		t.Errorf("durationInMinutes = %d, want 30", aws.ToInt64(out.DurationInMinutes))
	}
	cr := out.Credentials
	return fd.New(srv.URL(), servertest.Region, fd.StaticCredentials(*cr.AccessKeyId, *cr.SecretAccessKey, *cr.SessionToken))
}

func code(err error) string {
	var ae *fd.APIError
	if errors.As(err, &ae) {
		return ae.Code
	}
	return fmt.Sprintf("not an API error: %v", err)
}

func TestUsersAndGroups(t *testing.T) {
	srv, _ := servertest.StartClocked(t)
	ctx := context.Background()
	env := createdEnvironment(t, servertest.Finspace(srv), "identity")
	su := userClient(t, srv, rootData(srv), env)

	// The superuser from superuserParameters exists.
	list, err := su.ListUsers(ctx, &finspacedata.ListUsersRequest{MaxResults: aws.Int32(10)})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Users) != 1 || aws.ToString(list.Users[0].EmailAddress) != "root@identity.example.com" || *list.Users[0].Type != "SUPER_USER" {
		t.Fatalf("users of a new environment = %+v, want the superuser", list.Users)
	}

	var userIDs []string
	for i := range 3 {
		out, err := su.CreateUser(ctx, &finspacedata.CreateUserRequest{EmailAddress: sp(fmt.Sprintf("user%d@example.com", i)),
			Type: ptrTo(finspacedata.UserTypeAppUser), FirstName: sp("App"), LastName: sp(fmt.Sprint("User", i)),
			ApiAccess: ptrTo(finspacedata.ApiAccessEnabled), ApiAccessPrincipalArn: sp(fmt.Sprintf("arn:aws:iam::000000000000:role/analyst%d", i))})
		if err != nil {
			t.Fatalf("CreateUser: %v", err)
		}
		userIDs = append(userIDs, *out.UserId)
	}
	u, err := su.GetUser(ctx, &finspacedata.GetUserRequest{UserId: &userIDs[0]})
	if err != nil {
		t.Fatal(err)
	}
	if *u.Status != "ENABLED" || *u.ApiAccess != "ENABLED" || aws.ToString(u.LastName) != "User0" || aws.ToInt64(u.CreateTime) < time.Now().Add(-time.Minute).UnixMilli() {
		t.Errorf("GetUser = %+v", u)
	}
	if _, err := su.CreateUser(ctx, &finspacedata.CreateUserRequest{EmailAddress: sp("USER0@example.com"), Type: ptrTo(finspacedata.UserTypeAppUser)}); code(err) != "ConflictException" {
		t.Errorf("duplicate email: %v, want ConflictException", err)
	}
	if _, err := su.UpdateUser(ctx, &finspacedata.UpdateUserRequest{UserId: &userIDs[1], FirstName: sp("Renamed"), Type: ptrTo(finspacedata.UserTypeSuperUser)}); err != nil {
		t.Fatal(err)
	}
	if u, _ := su.GetUser(ctx, &finspacedata.GetUserRequest{UserId: &userIDs[1]}); aws.ToString(u.FirstName) != "Renamed" || *u.Type != "SUPER_USER" {
		t.Errorf("after UpdateUser: %+v", u)
	}
	if _, err := su.DisableUser(ctx, &finspacedata.DisableUserRequest{UserId: &userIDs[2]}); err != nil {
		t.Fatal(err)
	}
	if u, _ := su.GetUser(ctx, &finspacedata.GetUserRequest{UserId: &userIDs[2]}); *u.Status != "DISABLED" || u.LastDisabledTime == nil {
		t.Errorf("after DisableUser: %+v", u)
	}
	if _, err := su.EnableUser(ctx, &finspacedata.EnableUserRequest{UserId: &userIDs[2]}); err != nil {
		t.Fatal(err)
	}
	if u, _ := su.GetUser(ctx, &finspacedata.GetUserRequest{UserId: &userIDs[2]}); *u.Status != "ENABLED" {
		t.Errorf("after EnableUser: %+v", u)
	}
	p1, err := su.ResetUserPassword(ctx, &finspacedata.ResetUserPasswordRequest{UserId: &userIDs[0]})
	if err != nil {
		t.Fatal(err)
	}
	p2, err := su.ResetUserPassword(ctx, &finspacedata.ResetUserPasswordRequest{UserId: &userIDs[0]})
	if err != nil {
		t.Fatal(err)
	}
	if len(aws.ToString(p1.TemporaryPassword)) < 12 || aws.ToString(p1.TemporaryPassword) == aws.ToString(p2.TemporaryPassword) {
		t.Errorf("temporary passwords %q and %q", aws.ToString(p1.TemporaryPassword), aws.ToString(p2.TemporaryPassword))
	}

	var groupIDs []string
	for i, perms := range [][]finspacedata.ApplicationPermission{{"CreateDataset"}, {"ManageUsersAndGroups", "GetTemporaryCredentials"}, {"ViewAuditData"}} {
		out, err := su.CreatePermissionGroup(ctx, &finspacedata.CreatePermissionGroupRequest{Name: sp(fmt.Sprint("group", i)), Description: sp("test group"), ApplicationPermissions: perms})
		if err != nil {
			t.Fatalf("CreatePermissionGroup: %v", err)
		}
		groupIDs = append(groupIDs, *out.PermissionGroupId)
	}
	g, err := su.GetPermissionGroup(ctx, &finspacedata.GetPermissionGroupRequest{PermissionGroupId: &groupIDs[1]})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(g.PermissionGroup.Name) != "group1" || len(g.PermissionGroup.ApplicationPermissions) != 2 {
		t.Errorf("GetPermissionGroup = %+v", g.PermissionGroup)
	}
	if _, err := su.UpdatePermissionGroup(ctx, &finspacedata.UpdatePermissionGroupRequest{PermissionGroupId: &groupIDs[2], Name: sp("auditors")}); err != nil {
		t.Fatal(err)
	}
	for _, gid := range groupIDs {
		out, err := su.AssociateUserToPermissionGroup(ctx, &finspacedata.AssociateUserToPermissionGroupRequest{PermissionGroupId: &gid, UserId: &userIDs[0]})
		if err != nil || aws.ToInt32(out.StatusCode) != 200 {
			t.Fatalf("Associate: %v %v", out, err)
		}
	}
	for _, uid := range userIDs[1:] {
		if _, err := su.AssociateUserToPermissionGroup(ctx, &finspacedata.AssociateUserToPermissionGroupRequest{PermissionGroupId: &groupIDs[0], UserId: &uid}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := su.AssociateUserToPermissionGroup(ctx, &finspacedata.AssociateUserToPermissionGroupRequest{PermissionGroupId: &groupIDs[0], UserId: &userIDs[0]}); code(err) != "ConflictException" {
		t.Errorf("associating twice: %v", err)
	}

	// Pagination with maxResults=1 over every list.
	walk := func(name string, page func(token *string) (int, *string, error)) int {
		t.Helper()
		total := 0
		var token *string
		for i := 0; ; i++ {
			n, next, err := page(token)
			if err != nil {
				t.Fatalf("%s page %d: %v", name, i, err)
			}
			if n > 1 {
				t.Fatalf("%s: %d items with maxResults=1", name, n)
			}
			total += n
			if next == nil {
				return total
			}
			if i > 20 {
				t.Fatalf("%s does not end", name)
			}
			token = next
		}
	}
	one := aws.Int32(1)
	if n := walk("ListUsers", func(tok *string) (int, *string, error) {
		o, err := su.ListUsers(ctx, &finspacedata.ListUsersRequest{MaxResults: one, NextToken: tok})
		if err != nil {
			return 0, nil, err
		}
		return len(o.Users), o.NextToken, nil
	}); n != 4 {
		t.Errorf("ListUsers walked %d users, want 4", n)
	}
	if n := walk("ListPermissionGroups", func(tok *string) (int, *string, error) {
		o, err := su.ListPermissionGroups(ctx, &finspacedata.ListPermissionGroupsRequest{MaxResults: one, NextToken: tok})
		if err != nil {
			return 0, nil, err
		}
		return len(o.PermissionGroups), o.NextToken, nil
	}); n != 3 {
		t.Errorf("ListPermissionGroups walked %d, want 3", n)
	}
	if n := walk("ListUsersByPermissionGroup", func(tok *string) (int, *string, error) {
		o, err := su.ListUsersByPermissionGroup(ctx, &finspacedata.ListUsersByPermissionGroupRequest{PermissionGroupId: &groupIDs[0], MaxResults: one, NextToken: tok})
		if err != nil {
			return 0, nil, err
		}
		for _, u := range o.Users {
			if aws.ToString((*string)(u.MembershipStatus)) != "ADDITION_SUCCESS" {
				t.Errorf("membership status %v", u.MembershipStatus)
			}
		}
		return len(o.Users), o.NextToken, nil
	}); n != 3 {
		t.Errorf("ListUsersByPermissionGroup walked %d, want 3", n)
	}
	if n := walk("ListPermissionGroupsByUser", func(tok *string) (int, *string, error) {
		o, err := su.ListPermissionGroupsByUser(ctx, &finspacedata.ListPermissionGroupsByUserRequest{UserId: &userIDs[0], MaxResults: one, NextToken: tok})
		if err != nil {
			return 0, nil, err
		}
		return len(o.PermissionGroups), o.NextToken, nil
	}); n != 3 {
		t.Errorf("ListPermissionGroupsByUser walked %d, want 3", n)
	}
	// A token of one listing is refused by another.
	o, _ := su.ListUsers(ctx, &finspacedata.ListUsersRequest{MaxResults: one})
	if _, err := su.ListPermissionGroups(ctx, &finspacedata.ListPermissionGroupsRequest{MaxResults: one, NextToken: o.NextToken}); code(err) != "ValidationException" {
		t.Errorf("foreign nextToken: %v", err)
	}

	if _, err := su.DisassociateUserFromPermissionGroup(ctx, &finspacedata.DisassociateUserFromPermissionGroupRequest{PermissionGroupId: &groupIDs[2], UserId: &userIDs[0]}); err != nil {
		t.Fatal(err)
	}
	if _, err := su.DeletePermissionGroup(ctx, &finspacedata.DeletePermissionGroupRequest{PermissionGroupId: &groupIDs[1]}); err != nil {
		t.Fatal(err)
	}
	gs, err := su.ListPermissionGroupsByUser(ctx, &finspacedata.ListPermissionGroupsByUserRequest{UserId: &userIDs[0], MaxResults: aws.Int32(10)})
	if err != nil || len(gs.PermissionGroups) != 1 || *gs.PermissionGroups[0].PermissionGroupId != groupIDs[0] {
		t.Errorf("groups of user after disassociate+delete: %+v %v", gs, err)
	}

	// Validation and not found.
	if _, err := su.CreateUser(ctx, &finspacedata.CreateUserRequest{EmailAddress: sp("x@example.com"), Type: ptrTo(finspacedata.UserType("ADMIN"))}); code(err) != "ValidationException" {
		t.Errorf("bad user type: %v", err)
	}
	if _, err := su.ListUsers(ctx, &finspacedata.ListUsersRequest{}); code(err) != "ValidationException" {
		t.Errorf("ListUsers without maxResults: %v", err)
	}
	if _, err := su.GetUser(ctx, &finspacedata.GetUserRequest{UserId: sp("nosuchuser")}); code(err) != "ResourceNotFoundException" {
		t.Errorf("unknown user: %v", err)
	}
	if _, err := su.GetPermissionGroup(ctx, &finspacedata.GetPermissionGroupRequest{PermissionGroupId: sp("nosuchgroup")}); code(err) != "ResourceNotFoundException" {
		t.Errorf("unknown group: %v", err)
	}
	if _, err := rootData(srv).GetProgrammaticAccessCredentials(ctx, &finspacedata.GetProgrammaticAccessCredentialsRequest{EnvironmentId: &env, DurationInMinutes: aws.Int64(61)}); code(err) != "ValidationException" {
		t.Errorf("durationInMinutes 61: %v", err)
	}
}

func ptrTo[T any](v T) *T { return &v }

func TestCredentialsRefused(t *testing.T) {
	srv, clock := servertest.StartClocked(t)
	ctx := context.Background()
	fs := servertest.Finspace(srv)
	envA := createdEnvironment(t, fs, "env-a")
	envB := createdEnvironment(t, fs, "env-b")
	root := rootData(srv)

	// With two environments, root credentials no longer pick one.
	if _, err := root.ListUsers(ctx, &finspacedata.ListUsersRequest{MaxResults: aws.Int32(5)}); code(err) != "AccessDeniedException" {
		t.Errorf("root on finspace-data with two environments: %v, want AccessDeniedException", err)
	}
	a := userClient(t, srv, root, envA)
	b := userClient(t, srv, root, envB)
	bUsers, err := b.ListUsers(ctx, &finspacedata.ListUsersRequest{MaxResults: aws.Int32(5)})
	if err != nil {
		t.Fatal(err)
	}
	bSuper := *bUsers.Users[0].UserId
	// Environment A's credentials do not see environment B's users.
	if _, err := a.GetUser(ctx, &finspacedata.GetUserRequest{UserId: &bSuper}); code(err) != "ResourceNotFoundException" {
		t.Errorf("env A credentials reading env B's user: %v", err)
	}
	if _, err := a.GetProgrammaticAccessCredentials(ctx, &finspacedata.GetProgrammaticAccessCredentialsRequest{EnvironmentId: &envB}); code(err) != "AccessDeniedException" {
		t.Errorf("env A credentials asking for env B credentials: %v", err)
	}

	// A disabled user's credentials, issued before, are refused at once.
	created, err := a.CreateUser(ctx, &finspacedata.CreateUserRequest{EmailAddress: sp("second-super@example.com"), Type: ptrTo(finspacedata.UserTypeSuperUser)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.DisableUser(ctx, &finspacedata.DisableUserRequest{UserId: aws.String(mustSuperuserID(t, a))}); code(err) != "ValidationException" {
		t.Errorf("disabling oneself: %v", err)
	}
	_ = created
	if _, err := b.DisableUser(ctx, &finspacedata.DisableUserRequest{UserId: created.UserId}); code(err) != "ResourceNotFoundException" {
		t.Errorf("env B disabling env A's user: %v", err)
	}

	// Expired credentials: ExpiredTokenException. The client signs with the
	// same clock, so the signature itself is current.
	clock.Advance(31 * time.Minute)
	a.Now = clock.Now
	if _, err := a.ListUsers(ctx, &finspacedata.ListUsersRequest{MaxResults: aws.Int32(5)}); code(err) != "ExpiredTokenException" {
		t.Errorf("credentials after 31 of 30 minutes: %v, want ExpiredTokenException", err)
	}
}

func mustSuperuserID(t *testing.T, c *fd.Client) string {
	t.Helper()
	out, err := c.ListUsers(context.Background(), &finspacedata.ListUsersRequest{MaxResults: aws.Int32(10)})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range out.Users {
		if *u.Type == "SUPER_USER" && aws.ToString(u.EmailAddress) != "second-super@example.com" {
			return *u.UserId
		}
	}
	t.Fatal("no superuser")
	return ""
}
