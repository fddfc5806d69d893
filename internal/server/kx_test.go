package server_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/finspace/types"

	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

// waitKxStatus reads kx environment id until its status is want, moving
// the manual clock one lifecycle step each time the status changes (as
// waitStatus does for FinSpace environments).
func waitKxStatus(t *testing.T, c *finspace.Client, clk *servertest.Clock, id string, want types.EnvironmentStatus) *finspace.GetKxEnvironmentOutput {
	t.Helper()
	var last types.EnvironmentStatus
	steps := 0
	var deadline time.Time
	for {
		out, err := c.GetKxEnvironment(context.Background(), &finspace.GetKxEnvironmentInput{EnvironmentId: aws.String(id)})
		if err != nil {
			t.Fatalf("GetKxEnvironment(%s): %v", id, err)
		}
		switch st := out.Status; {
		case st == want:
			return out
		case st != last:
			if steps == 4 {
				t.Fatalf("kx environment %s in %s after %d steps, want %s", id, st, steps, want)
			}
			last, steps = st, steps+1
			clk.Advance(clk.Step)
			deadline = time.Now().Add(10 * time.Second)
		case time.Now().After(deadline):
			t.Fatalf("kx environment %s: the step from %s was due and not taken", id, st)
		}
	}
}

func TestKxEnvironmentAndUsers(t *testing.T) {
	srv, clk := servertest.StartClocked(t)
	c := servertest.Finspace(srv)
	ctx := context.Background()
	const kms = "arn:aws:kms:us-east-1:000000000000:key/1234"

	created, err := c.CreateKxEnvironment(ctx, &finspace.CreateKxEnvironmentInput{Name: aws.String("kx_env-1"),
		KmsKeyId: aws.String(kms), Description: aws.String("tick data"), ClientToken: aws.String("terraform-20240101000000000000000001")})
	if err != nil {
		t.Fatalf("CreateKxEnvironment: %v", err)
	}
	id := aws.ToString(created.EnvironmentId)
	if !envIDPattern.MatchString(id) {
		t.Errorf("environmentId %q, want 22 lowercase characters", id)
	}
	arn := "arn:aws:finspace:us-east-1:000000000000:kxEnvironment/" + id
	if aws.ToString(created.EnvironmentArn) != arn || created.Status != types.EnvironmentStatusCreateRequested || created.CreationTimestamp == nil {
		t.Errorf("create response: arn %q status %s created %v", aws.ToString(created.EnvironmentArn), created.Status, created.CreationTimestamp)
	}
	env := waitKxStatus(t, c, clk, id, types.EnvironmentStatusCreated)
	if aws.ToString(env.Name) != "kx_env-1" || aws.ToString(env.KmsKeyId) != kms || aws.ToString(env.Description) != "tick data" ||
		aws.ToString(env.AwsAccountId) != "000000000000" || len(aws.ToString(env.DedicatedServiceAccountId)) != 12 ||
		len(env.AvailabilityZoneIds) == 0 || !strings.HasPrefix(aws.ToString(env.CertificateAuthorityArn), "arn:aws:acm-pca:us-east-1:") ||
		env.CreationTimestamp == nil || env.UpdateTimestamp == nil || env.TgwStatus != types.TgwStatusNone || env.DnsStatus != types.DnsStatusNone {
		t.Errorf("GetKxEnvironment: %+v", env)
	}
	again := waitKxStatus(t, c, clk, id, types.EnvironmentStatusCreated)
	if aws.ToString(again.DedicatedServiceAccountId) != aws.ToString(env.DedicatedServiceAccountId) ||
		aws.ToString(again.CertificateAuthorityArn) != aws.ToString(env.CertificateAuthorityArn) {
		t.Errorf("service account or CA changed between reads")
	}

	up, err := c.UpdateKxEnvironment(ctx, &finspace.UpdateKxEnvironmentInput{EnvironmentId: &id, Name: aws.String("kx_env-2"), Description: aws.String("d2")})
	if err != nil || aws.ToString(up.Name) != "kx_env-2" || aws.ToString(up.Description) != "d2" {
		t.Fatalf("UpdateKxEnvironment: %v %+v", err, up)
	}
	list, err := c.ListKxEnvironments(ctx, &finspace.ListKxEnvironmentsInput{})
	if err != nil || len(list.Environments) != 1 || aws.ToString(list.Environments[0].EnvironmentId) != id {
		t.Fatalf("ListKxEnvironments: %v %+v", err, list)
	}

	// Tags: Terraform tags after create, with TagResource on the ARN.
	if _, err := c.TagResource(ctx, &finspace.TagResourceInput{ResourceArn: &arn, Tags: map[string]string{"a": "1", "b": "2"}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	if _, err := c.UntagResource(ctx, &finspace.UntagResourceInput{ResourceArn: &arn, TagKeys: []string{"b"}}); err != nil {
		t.Fatalf("UntagResource: %v", err)
	}
	tags, err := c.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: &arn})
	if err != nil || len(tags.Tags) != 1 || tags.Tags["a"] != "1" {
		t.Fatalf("ListTagsForResource: %v %v", err, tags)
	}

	// Users.
	const role = "arn:aws:iam::000000000000:role/kx-user"
	for _, name := range []string{"alice", "bob", "carol"} {
		u, err := c.CreateKxUser(ctx, &finspace.CreateKxUserInput{EnvironmentId: &id, UserName: aws.String(name), IamRole: aws.String(role),
			Tags: map[string]string{"who": name}})
		if err != nil {
			t.Fatalf("CreateKxUser(%s): %v", name, err)
		}
		if aws.ToString(u.UserArn) != arn+"/kxUser/"+name || aws.ToString(u.EnvironmentId) != id || aws.ToString(u.UserName) != name {
			t.Errorf("CreateKxUser: %+v", u)
		}
	}
	_, err = c.CreateKxUser(ctx, &finspace.CreateKxUserInput{EnvironmentId: &id, UserName: aws.String("alice"), IamRole: aws.String(role)})
	if code := apiCode(t, err); code != "ConflictException" {
		t.Errorf("duplicate user: %s, want ConflictException", code)
	}
	_, err = c.CreateKxUser(ctx, &finspace.CreateKxUserInput{EnvironmentId: aws.String("nosuchenv"), UserName: aws.String("x"), IamRole: aws.String(role)})
	if code := apiCode(t, err); code != "ResourceNotFoundException" {
		t.Errorf("user of an unknown environment: %s, want ResourceNotFoundException", code)
	}
	userARN := arn + "/kxUser/alice"
	if tags, err := c.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: &userARN}); err != nil || tags.Tags["who"] != "alice" {
		t.Errorf("user tags: %v %v", err, tags)
	}
	var names []string
	var next *string
	for {
		page, err := c.ListKxUsers(ctx, &finspace.ListKxUsersInput{EnvironmentId: &id, MaxResults: 2, NextToken: next})
		if err != nil {
			t.Fatalf("ListKxUsers: %v", err)
		}
		for _, u := range page.Users {
			names = append(names, aws.ToString(u.UserName))
			if u.CreateTimestamp == nil || u.UpdateTimestamp == nil || aws.ToString(u.IamRole) != role {
				t.Errorf("listed user %+v", u)
			}
		}
		if next = page.NextToken; next == nil {
			break
		}
	}
	if strings.Join(names, ",") != "alice,bob,carol" {
		t.Errorf("ListKxUsers pages: %v", names)
	}
	const role2 = "arn:aws:iam::000000000000:role/other"
	if u, err := c.UpdateKxUser(ctx, &finspace.UpdateKxUserInput{EnvironmentId: &id, UserName: aws.String("bob"), IamRole: aws.String(role2)}); err != nil || aws.ToString(u.IamRole) != role2 {
		t.Fatalf("UpdateKxUser: %v %+v", err, u)
	}
	if u, err := c.GetKxUser(ctx, &finspace.GetKxUserInput{EnvironmentId: &id, UserName: aws.String("bob")}); err != nil || aws.ToString(u.IamRole) != role2 || aws.ToString(u.UserArn) != arn+"/kxUser/bob" {
		t.Fatalf("GetKxUser: %v %+v", err, u)
	}
	if _, err := c.DeleteKxUser(ctx, &finspace.DeleteKxUserInput{EnvironmentId: &id, UserName: aws.String("carol")}); err != nil {
		t.Fatalf("DeleteKxUser: %v", err)
	}
	_, err = c.GetKxUser(ctx, &finspace.GetKxUserInput{EnvironmentId: &id, UserName: aws.String("carol")})
	if code := apiCode(t, err); code != "ResourceNotFoundException" {
		t.Errorf("deleted user: %s, want ResourceNotFoundException", code)
	}

	// Deletion: DELETED stays readable; what follows is refused as AWS did.
	if _, err := c.DeleteKxEnvironment(ctx, &finspace.DeleteKxEnvironmentInput{EnvironmentId: &id}); err != nil {
		t.Fatalf("DeleteKxEnvironment: %v", err)
	}
	gone := waitKxStatus(t, c, clk, id, types.EnvironmentStatusDeleted)
	if aws.ToString(gone.EnvironmentArn) != arn || gone.UpdateTimestamp == nil {
		t.Errorf("deleted environment: %+v", gone)
	}
	_, err = c.DeleteKxEnvironment(ctx, &finspace.DeleteKxEnvironmentInput{EnvironmentId: &id})
	if code := apiCode(t, err); code != "ValidationException" || !strings.Contains(err.Error(), "The Environment is in DELETED state") {
		t.Errorf("second delete: %v, want ValidationException: The Environment is in DELETED state", err)
	}
	_, err = c.CreateKxUser(ctx, &finspace.CreateKxUserInput{EnvironmentId: &id, UserName: aws.String("dave"), IamRole: aws.String(role)})
	if code := apiCode(t, err); code != "ValidationException" {
		t.Errorf("user of a DELETED environment: %s, want ValidationException", code)
	}
	_, err = c.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: &arn})
	if code := apiCode(t, err); code != "ResourceNotFoundException" {
		t.Errorf("tags of a DELETED environment: %s, want ResourceNotFoundException", code)
	}
	_, err = c.GetKxUser(ctx, &finspace.GetKxUserInput{EnvironmentId: &id, UserName: aws.String("alice")})
	if code := apiCode(t, err); code != "ResourceNotFoundException" {
		t.Errorf("user of a DELETED environment: %s, want ResourceNotFoundException", code)
	}
}

func TestKxEnvironmentNetwork(t *testing.T) {
	srv, clk := servertest.StartClocked(t)
	c := servertest.Finspace(srv)
	ctx := context.Background()
	created, err := c.CreateKxEnvironment(ctx, &finspace.CreateKxEnvironmentInput{Name: aws.String("net"), KmsKeyId: aws.String("arn:aws:kms:us-east-1:000000000000:key/1")})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(created.EnvironmentId)
	_, err = c.UpdateKxEnvironmentNetwork(ctx, &finspace.UpdateKxEnvironmentNetworkInput{EnvironmentId: &id,
		CustomDNSConfiguration: []types.CustomDNSServer{{CustomDNSServerName: aws.String("a.example.com"), CustomDNSServerIP: aws.String("10.0.0.76")}}})
	if code := apiCode(t, err); code != "ConflictException" {
		t.Errorf("network update while CREATE_REQUESTED: %s, want ConflictException", code)
	}
	waitKxStatus(t, c, clk, id, types.EnvironmentStatusCreated)

	for _, cidr := range []string{"100.64.0.0/24", "10.0.0.0/26", "100.64.0.1/26", "100.128.0.0/26", "nonsense"} {
		_, err := c.UpdateKxEnvironmentNetwork(ctx, &finspace.UpdateKxEnvironmentNetworkInput{EnvironmentId: &id,
			TransitGatewayConfiguration: &types.TransitGatewayConfiguration{TransitGatewayID: aws.String("tgw-1"), RoutableCIDRSpace: aws.String(cidr)}})
		if code := apiCode(t, err); code != "ValidationException" {
			t.Errorf("routableCIDRSpace %s: %s, want ValidationException", cidr, code)
		}
	}

	tgw := &types.TransitGatewayConfiguration{TransitGatewayID: aws.String("tgw-0123"), RoutableCIDRSpace: aws.String("100.64.0.0/26"),
		AttachmentNetworkAclConfiguration: []types.NetworkACLEntry{{RuleNumber: aws.Int32(1), Protocol: aws.String("6"),
			RuleAction: types.RuleActionAllow, CidrBlock: aws.String("0.0.0.0/0"), PortRange: &types.PortRange{From: 53, To: 53}}}}
	up, err := c.UpdateKxEnvironmentNetwork(ctx, &finspace.UpdateKxEnvironmentNetworkInput{EnvironmentId: &id, TransitGatewayConfiguration: tgw,
		ClientToken: aws.String("terraform-20240101000000000000000002")})
	if err != nil {
		t.Fatalf("UpdateKxEnvironmentNetwork: %v", err)
	}
	if up.Status != types.EnvironmentStatusUpdateNetworkRequested || up.TgwStatus != types.TgwStatusUpdateRequested || up.DnsStatus != types.DnsStatusNone {
		t.Errorf("update response: status %s tgw %s dns %s", up.Status, up.TgwStatus, up.DnsStatus)
	}
	env := waitKxStatus(t, c, clk, id, types.EnvironmentStatusCreated)
	if env.TgwStatus != types.TgwStatusSuccessfullyUpdated || env.DnsStatus != types.DnsStatusNone {
		t.Errorf("after the update: tgw %s dns %s", env.TgwStatus, env.DnsStatus)
	}
	got := env.TransitGatewayConfiguration
	if got == nil || aws.ToString(got.TransitGatewayID) != "tgw-0123" || aws.ToString(got.RoutableCIDRSpace) != "100.64.0.0/26" ||
		len(got.AttachmentNetworkAclConfiguration) != 1 || got.AttachmentNetworkAclConfiguration[0].PortRange.To != 53 {
		t.Errorf("transitGatewayConfiguration read back: %+v", got)
	}

	// DNS separately, as Terraform does.
	if _, err := c.UpdateKxEnvironmentNetwork(ctx, &finspace.UpdateKxEnvironmentNetworkInput{EnvironmentId: &id,
		CustomDNSConfiguration: []types.CustomDNSServer{{CustomDNSServerName: aws.String("example.finspace.amazon.aws.com"), CustomDNSServerIP: aws.String("10.0.0.76")}}}); err != nil {
		t.Fatalf("UpdateKxEnvironmentNetwork (DNS): %v", err)
	}
	env = waitKxStatus(t, c, clk, id, types.EnvironmentStatusCreated)
	if env.DnsStatus != types.DnsStatusSuccessfullyUpdated || len(env.CustomDNSConfiguration) != 1 ||
		aws.ToString(env.CustomDNSConfiguration[0].CustomDNSServerIP) != "10.0.0.76" || env.TransitGatewayConfiguration == nil {
		t.Errorf("after the DNS update: %+v", env)
	}
}
