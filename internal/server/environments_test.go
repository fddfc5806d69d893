package server_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/finspace/types"
	"github.com/aws/smithy-go"

	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

var envIDPattern = regexp.MustCompile(`^[a-z0-9]{22}$`)

// waitStatus reads environment id with GetEnvironment, as SDK waiters and
// Terraform do, until its status is want. On a server with a manual clock
// (servertest.StartClocked) it drives the lifecycle: each status step is due
// one clock step after the previous one was taken, so the clock moves one
// step each time the status changes, and never while a step is pending.
// Nothing waits for time to pass; the reads in between only wait for the
// job engine to take the step the clock made due. On a server on the real
// clock it polls.
func waitStatus(t *testing.T, c *finspace.Client, id string, want types.EnvironmentStatus) *types.Environment {
	t.Helper()
	clk := servertest.ClockAt(aws.ToString(c.Options().BaseEndpoint))
	if clk == nil {
		return pollStatus(t, c, id, want)
	}
	const maxSteps = 4 // a lifecycle phase takes two
	var last types.EnvironmentStatus
	steps := 0
	var deadline time.Time
	for {
		out, err := c.GetEnvironment(context.Background(), &finspace.GetEnvironmentInput{EnvironmentId: aws.String(id)})
		if err != nil {
			t.Fatalf("GetEnvironment(%s): %v", id, err)
		}
		st := out.Environment.Status
		switch {
		case st == want:
			return out.Environment
		case st != last:
			if steps == maxSteps {
				t.Fatalf("environment %s in %s after %d steps, want %s", id, st, steps, want)
			}
			last, steps = st, steps+1
			clk.Advance(clk.Step)
			// Not a timing assumption: a generous bound on a job engine
			// that stopped taking due steps.
			deadline = time.Now().Add(10 * time.Second)
		case time.Now().After(deadline):
			t.Fatalf("environment %s: the step from %s was due and not taken", id, st)
		}
	}
}

// pollStatus waits for a lifecycle on a server on the real clock.
func pollStatus(t *testing.T, c *finspace.Client, id string, want types.EnvironmentStatus) *types.Environment {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		out, err := c.GetEnvironment(context.Background(), &finspace.GetEnvironmentInput{EnvironmentId: aws.String(id)})
		if err != nil {
			t.Fatalf("GetEnvironment(%s): %v", id, err)
		}
		if out.Environment.Status == want {
			return out.Environment
		}
		if time.Now().After(deadline) {
			t.Fatalf("environment %s stuck in %s, want %s", id, out.Environment.Status, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// apiCode returns the AWS error code of err, failing the test if it has none.
func apiCode(t *testing.T, err error) string {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not an AWS API error", err)
	}
	return ae.ErrorCode()
}

func TestEnvironmentLifecycle(t *testing.T) {
	srv, _ := servertest.StartClocked(t)
	c := servertest.Finspace(srv)
	ctx := context.Background()

	created, err := c.CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{
		Name:        aws.String("research-env"),
		Description: aws.String("Research environment"),
		KmsKeyId:    aws.String("arn:aws:kms:us-east-1:000000000000:key/1234"),
		Tags:        map[string]string{"team": "quant", "cost-center": "42"},
		SuperuserParameters: &types.SuperuserParameters{
			EmailAddress: aws.String("admin@example.com"), FirstName: aws.String("Ada"), LastName: aws.String("Admin"),
		},
	})
	if err != nil {
		t.Fatalf("CreateEnvironment: %v", err)
	}
	id := aws.ToString(created.EnvironmentId)
	if !envIDPattern.MatchString(id) {
		t.Errorf("environment id %q is not 22 lowercase alphanumerics", id)
	}
	wantARN := "arn:aws:finspace:us-east-1:000000000000:environment/" + id
	if aws.ToString(created.EnvironmentArn) != wantARN {
		t.Errorf("ARN = %q, want %q", aws.ToString(created.EnvironmentArn), wantARN)
	}
	if !strings.HasPrefix(aws.ToString(created.EnvironmentUrl), srv.URL()+"/") {
		t.Errorf("environmentUrl %q does not point at the server %s", aws.ToString(created.EnvironmentUrl), srv.URL())
	}

	first, err := c.GetEnvironment(ctx, &finspace.GetEnvironmentInput{EnvironmentId: &id})
	if err != nil {
		t.Fatal(err)
	}
	if s := first.Environment.Status; s != types.EnvironmentStatusCreateRequested {
		t.Errorf("status right after create = %s, want CREATE_REQUESTED (the clock has not moved)", s)
	}
	env := waitStatus(t, c, id, types.EnvironmentStatusCreated)
	if aws.ToString(env.Name) != "research-env" || aws.ToString(env.Description) != "Research environment" ||
		aws.ToString(env.AwsAccountId) != "000000000000" || env.FederationMode != types.FederationModeLocal ||
		aws.ToString(env.KmsKeyId) != "arn:aws:kms:us-east-1:000000000000:key/1234" {
		t.Errorf("environment = %+v", env)
	}

	upd, err := c.UpdateEnvironment(ctx, &finspace.UpdateEnvironmentInput{EnvironmentId: &id, Name: aws.String("renamed"), Description: aws.String("New text")})
	if err != nil {
		t.Fatalf("UpdateEnvironment: %v", err)
	}
	if aws.ToString(upd.Environment.Name) != "renamed" || aws.ToString(upd.Environment.Description) != "New text" {
		t.Errorf("updated environment = %+v", upd.Environment)
	}

	tags, err := c.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: &wantARN})
	if err != nil {
		t.Fatal(err)
	}
	if len(tags.Tags) != 2 || tags.Tags["team"] != "quant" {
		t.Errorf("tags from create = %v", tags.Tags)
	}

	if _, err := c.DeleteEnvironment(ctx, &finspace.DeleteEnvironmentInput{EnvironmentId: &id}); err != nil {
		t.Fatalf("DeleteEnvironment: %v", err)
	}
	waitStatus(t, c, id, types.EnvironmentStatusDeleted)
	_, err = c.DeleteEnvironment(ctx, &finspace.DeleteEnvironmentInput{EnvironmentId: &id})
	if code := apiCode(t, err); code != "ValidationException" || !strings.Contains(err.Error(), "DELETED") {
		t.Errorf("second delete: %v, want ValidationException about DELETED state", err)
	}
	_, err = c.UpdateEnvironment(ctx, &finspace.UpdateEnvironmentInput{EnvironmentId: &id, Name: aws.String("again")})
	if code := apiCode(t, err); code != "ValidationException" {
		t.Errorf("update of a deleted environment: %v", err)
	}
	_, err = c.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: &wantARN})
	if code := apiCode(t, err); code != "ResourceNotFoundException" {
		t.Errorf("tags of a deleted environment: %v", err)
	}
}

func TestEnvironmentValidation(t *testing.T) {
	srv := servertest.Start(t)
	c := servertest.Finspace(srv)
	ctx := context.Background()
	cases := []struct {
		name   string
		in     *finspace.CreateEnvironmentInput
		member string
	}{
		{"bad name", &finspace.CreateEnvironmentInput{Name: aws.String("-bad-")}, "'name'"},
		{"long name", &finspace.CreateEnvironmentInput{Name: aws.String(strings.Repeat("a", 256))}, "'name'"},
		{"description charset", &finspace.CreateEnvironmentInput{Name: aws.String("ok"), Description: aws.String("semi;colon")}, "'description'"},
		{"federation mode enum", &finspace.CreateEnvironmentInput{Name: aws.String("ok"), FederationMode: "SOMETIMES"}, "'federationMode'"},
		{"superuser email", &finspace.CreateEnvironmentInput{Name: aws.String("ok"), SuperuserParameters: &types.SuperuserParameters{
			EmailAddress: aws.String("not-an-email"), FirstName: aws.String("A"), LastName: aws.String("B")}}, "superuserParameters.emailAddress"},
		{"federated without parameters", &finspace.CreateEnvironmentInput{Name: aws.String("ok"), FederationMode: types.FederationModeFederated}, "federationParameters"},
		{"aws: tag", &finspace.CreateEnvironmentInput{Name: aws.String("ok"), Tags: map[string]string{"aws:owner": "x"}}, "tags"},
	}
	for _, tc := range cases {
		_, err := c.CreateEnvironment(ctx, tc.in)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		if code := apiCode(t, err); code != "ValidationException" || !strings.Contains(err.Error(), tc.member) {
			t.Errorf("%s: %v; want ValidationException naming %s", tc.name, err, tc.member)
		}
	}
	// Nothing was created by the refused requests.
	list, err := c.ListEnvironments(ctx, &finspace.ListEnvironmentsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Environments) != 0 {
		t.Errorf("refused requests created %d environments", len(list.Environments))
	}
}

func TestEnvironmentNotFound(t *testing.T) {
	srv := servertest.Start(t)
	c := servertest.Finspace(srv)
	ctx := context.Background()
	_, err := c.GetEnvironment(ctx, &finspace.GetEnvironmentInput{EnvironmentId: aws.String("doesnotexist00000000000")})
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Errorf("GetEnvironment of unknown id: %v, want ResourceNotFoundException", err)
	}
	_, err = c.DeleteEnvironment(ctx, &finspace.DeleteEnvironmentInput{EnvironmentId: aws.String("nope")})
	if !errors.As(err, &rnf) {
		t.Errorf("DeleteEnvironment of unknown id: %v", err)
	}
	// Environments are regional, as in AWS.
	created, err := c.CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{Name: aws.String("east")})
	if err != nil {
		t.Fatal(err)
	}
	west := servertest.Finspace(srv, func(o *finspace.Options) { o.Region = "us-west-2" })
	_, err = west.GetEnvironment(ctx, &finspace.GetEnvironmentInput{EnvironmentId: created.EnvironmentId})
	if !errors.As(err, &rnf) {
		t.Errorf("GetEnvironment from another region: %v, want ResourceNotFoundException", err)
	}
}

func TestTags(t *testing.T) {
	srv := servertest.Start(t)
	c := servertest.Finspace(srv)
	ctx := context.Background()
	created, err := c.CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{Name: aws.String("tagged")})
	if err != nil {
		t.Fatal(err)
	}
	arn := created.EnvironmentArn
	if _, err := c.TagResource(ctx, &finspace.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"a": "1", "b": "2", "c": "3"}}); err != nil {
		t.Fatalf("TagResource: %v", err)
	}
	if _, err := c.TagResource(ctx, &finspace.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"a": "one"}}); err != nil {
		t.Fatalf("TagResource overwrite: %v", err)
	}
	if _, err := c.UntagResource(ctx, &finspace.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"b", "c", "absent"}}); err != nil {
		t.Fatalf("UntagResource: %v", err)
	}
	got, err := c.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: arn})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Tags) != 1 || got.Tags["a"] != "one" {
		t.Errorf("tags = %v, want {a: one}", got.Tags)
	}

	many := map[string]string{}
	for i := range 50 {
		many[fmt.Sprintf("k%02d", i)] = "v"
	}
	_, err = c.TagResource(ctx, &finspace.TagResourceInput{ResourceArn: arn, Tags: many})
	var inv *types.InvalidRequestException
	if !errors.As(err, &inv) {
		t.Errorf("51st tag: %v, want InvalidRequestException", err)
	}
	_, err = c.TagResource(ctx, &finspace.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"aws:x": "1"}})
	if !errors.As(err, &inv) {
		t.Errorf("aws: tag key: %v, want InvalidRequestException", err)
	}
	var rnf *types.ResourceNotFoundException
	for _, unknown := range []string{
		"arn:aws:finspace:us-east-1:000000000000:environment/aaaaaaaaaaaaaaaaaaaaaa",
		"arn:aws:finspace:us-east-1:999999999999:environment/" + aws.ToString(created.EnvironmentId),
		"arn:aws:finspace:us-east-1:000000000000:kxEnvironment/abc/kxCluster/c1",
	} {
		_, err = c.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: aws.String(unknown)})
		if !errors.As(err, &rnf) {
			t.Errorf("ListTagsForResource(%s): %v, want ResourceNotFoundException", unknown, err)
		}
		_, err = c.TagResource(ctx, &finspace.TagResourceInput{ResourceArn: aws.String(unknown), Tags: map[string]string{"a": "b"}})
		if !errors.As(err, &rnf) {
			t.Errorf("TagResource(%s): %v, want ResourceNotFoundException", unknown, err)
		}
	}
	_, err = c.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: aws.String("arn:aws:s3:::not-finspace-at-all")})
	if !errors.As(err, &inv) {
		t.Errorf("non-FinSpace ARN: %v, want InvalidRequestException", err)
	}
}

func TestListEnvironmentsPagination(t *testing.T) {
	srv := servertest.Start(t)
	c := servertest.Finspace(srv)
	ctx := context.Background()
	want := map[string]bool{}
	for i := range 6 {
		out, err := c.CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{Name: aws.String(fmt.Sprintf("env%d", i))})
		if err != nil {
			t.Fatal(err)
		}
		want[aws.ToString(out.EnvironmentId)] = true
	}
	var order []string
	var token *string
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("pagination does not end")
		}
		out, err := c.ListEnvironments(ctx, &finspace.ListEnvironmentsInput{MaxResults: 1, NextToken: token})
		if err != nil {
			t.Fatalf("ListEnvironments page %d: %v", pages, err)
		}
		if len(out.Environments) > 1 {
			t.Fatalf("page of %d with maxResults=1", len(out.Environments))
		}
		for _, e := range out.Environments {
			order = append(order, aws.ToString(e.EnvironmentId))
		}
		if out.NextToken == nil {
			break
		}
		token = out.NextToken
	}
	if len(order) != len(want) {
		t.Fatalf("listed %d environments, want %d: %v", len(order), len(want), order)
	}
	seen := map[string]bool{}
	for _, id := range order {
		if !want[id] || seen[id] {
			t.Fatalf("unexpected or repeated id %s in %v", id, order)
		}
		seen[id] = true
	}
	// A second walk gives the same order (stable).
	all, err := c.ListEnvironments(ctx, &finspace.ListEnvironmentsInput{})
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range all.Environments {
		if aws.ToString(e.EnvironmentId) != order[i] {
			t.Fatalf("order changed between listings at %d", i)
		}
	}
	for _, bad := range []string{"forged", strings.Repeat("A", 40), aws.ToString(token) + "x"} {
		_, err = c.ListEnvironments(ctx, &finspace.ListEnvironmentsInput{NextToken: aws.String(bad)})
		var ve *types.ValidationException
		if !errors.As(err, &ve) {
			t.Errorf("nextToken %q: %v, want ValidationException", bad, err)
		}
	}
	_, err = c.ListEnvironments(ctx, &finspace.ListEnvironmentsInput{MaxResults: 101})
	var ve *types.ValidationException
	if !errors.As(err, &ve) {
		t.Errorf("maxResults=101: %v, want ValidationException", err)
	}
}
