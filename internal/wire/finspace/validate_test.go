package finspace_test

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/openfinspace/openfinspace/internal/wire/finspace"
	"github.com/openfinspace/openfinspace/internal/wire/restjson"
)

func ptr[T any](v T) *T { return &v }

// violation is an expected violation: the member path and a substring of
// the constraint.
type violation struct{ member, constraint string }

// checkViolations asserts that err is a *restjson.ValidationError holding
// every wanted violation (want nil: err must be nil).
func checkViolations(t *testing.T, err error, want ...violation) {
	t.Helper()
	if len(want) == 0 {
		if err != nil {
			t.Fatalf("Validate() = %v, want nil", err)
		}
		return
	}
	var ve *restjson.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Validate() = %v (%T), want *restjson.ValidationError", err, err)
	}
	for _, w := range want {
		found := false
		for _, v := range ve.Violations {
			if v.Member == w.member && strings.Contains(v.Constraint, w.constraint) {
				found = true
			}
		}
		if !found {
			t.Errorf("no violation %q at %q in %v", w.constraint, w.member, ve.Violations)
		}
	}
}

func validEnvironment() *finspace.CreateEnvironmentRequest {
	return &finspace.CreateEnvironmentRequest{
		Name:           ptr("my-env1"),
		Description:    ptr("A test environment"),
		Tags:           map[string]string{"team": "risk"},
		FederationMode: ptr(finspace.FederationModeLocal),
		SuperuserParameters: &finspace.SuperuserParameters{
			EmailAddress: ptr("admin@example.com"),
			FirstName:    ptr("Ada"),
			LastName:     ptr("Lovelace"),
		},
	}
}

func TestCreateEnvironmentValidate(t *testing.T) {
	tooManyTags := map[string]string{}
	for i := range 51 {
		tooManyTags[fmt.Sprintf("k%d", i)] = "v"
	}
	tests := []struct {
		name string
		edit func(*finspace.CreateEnvironmentRequest)
		want []violation
	}{
		{"valid", func(*finspace.CreateEnvironmentRequest) {}, nil},
		{"missing name", func(r *finspace.CreateEnvironmentRequest) { r.Name = nil },
			[]violation{{"name", "must not be null"}}},
		{"bad name pattern", func(r *finspace.CreateEnvironmentRequest) { r.Name = ptr("-bad-") },
			[]violation{{"name", "regular expression pattern"}}},
		{"name too long", func(r *finspace.CreateEnvironmentRequest) { r.Name = ptr(strings.Repeat("a", 256)) },
			[]violation{{"name", "less than or equal to 255"}}},
		{"tag key aws:", func(r *finspace.CreateEnvironmentRequest) { r.Tags = map[string]string{"aws:x": "v"} },
			[]violation{{"tags.key", "pattern: ^(?!aws:)"}}},
		{"51 tags", func(r *finspace.CreateEnvironmentRequest) { r.Tags = tooManyTags },
			[]violation{{"tags", "at most 50 items"}}},
		{"empty tags", func(r *finspace.CreateEnvironmentRequest) { r.Tags = map[string]string{} },
			[]violation{{"tags", "at least 1 items"}}},
		{"bad tag value", func(r *finspace.CreateEnvironmentRequest) { r.Tags = map[string]string{"k": "a\nb"} },
			[]violation{{"tags.value", "pattern"}}},
		{"bad federationMode", func(r *finspace.CreateEnvironmentRequest) { r.FederationMode = ptr(finspace.FederationMode("BAD")) },
			[]violation{{"federationMode", "enum value set: [FEDERATED, LOCAL]"}}},
		{"bad nested email", func(r *finspace.CreateEnvironmentRequest) { r.SuperuserParameters.EmailAddress = ptr("not-an-email") },
			[]violation{{"superuserParameters.emailAddress", "pattern"}}},
		{"missing nested names", func(r *finspace.CreateEnvironmentRequest) {
			r.SuperuserParameters.FirstName, r.SuperuserParameters.LastName = nil, nil
		}, []violation{{"superuserParameters.firstName", "not be null"}, {"superuserParameters.lastName", "not be null"}}},
		{"bad data bundle in list", func(r *finspace.CreateEnvironmentRequest) { r.DataBundles = []string{"short"} },
			[]violation{{"dataBundles[0]", "greater than or equal to 20"}, {"dataBundles[0]", "pattern"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validEnvironment()
			tt.edit(r)
			checkViolations(t, r.Validate(), tt.want...)
		})
	}
}

func TestValidationErrorNeverEchoesValues(t *testing.T) {
	r := validEnvironment()
	r.SuperuserParameters.EmailAddress = ptr("secret-value-123")
	err := r.Validate()
	if err == nil {
		t.Fatal("want an error")
	}
	if strings.Contains(err.Error(), "secret-value-123") {
		t.Fatalf("error echoes the value: %v", err)
	}
}

func TestListEnvironmentsMaxResults(t *testing.T) {
	checkViolations(t, (&finspace.ListEnvironmentsRequest{MaxResults: ptr(int32(101))}).Validate(),
		violation{"maxResults", "less than or equal to 100"})
	checkViolations(t, (&finspace.ListEnvironmentsRequest{MaxResults: ptr(int32(100))}).Validate())
	checkViolations(t, (&finspace.ListEnvironmentsRequest{}).Validate())
}

func validCluster() *finspace.CreateKxClusterRequest {
	return &finspace.CreateKxClusterRequest{
		EnvironmentId:    ptr("abcdef123"),
		ClusterName:      ptr("cluster-1"),
		ClusterType:      ptr(finspace.KxClusterTypeHdb),
		ReleaseLabel:     ptr("1.0"),
		VpcConfiguration: &finspace.VpcConfiguration{VpcId: ptr("vpc-0123abcd")},
		AzMode:           ptr(finspace.KxAzModeSingle),
	}
}

func TestCreateKxClusterValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*finspace.CreateKxClusterRequest)
		want []violation
	}{
		{"valid", func(*finspace.CreateKxClusterRequest) {}, nil},
		{"missing required", func(r *finspace.CreateKxClusterRequest) { *r = finspace.CreateKxClusterRequest{} },
			[]violation{{"environmentId", "not be null"}, {"clusterName", "not be null"}, {"clusterType", "not be null"},
				{"releaseLabel", "not be null"}, {"vpcConfiguration", "not be null"}, {"azMode", "not be null"}}},
		{"argument key AWSfoo", func(r *finspace.CreateKxClusterRequest) {
			r.CommandLineArguments = []finspace.KxCommandLineArgument{{Key: ptr("AWSfoo"), Value: ptr("1")}}
		}, []violation{{"commandLineArguments[0].key", "pattern"}}},
		{"argument key awsfoo", func(r *finspace.CreateKxClusterRequest) {
			r.CommandLineArguments = []finspace.KxCommandLineArgument{{Key: ptr("ok"), Value: ptr("1")}, {Key: ptr("awsfoo"), Value: ptr("1")}}
		}, []violation{{"commandLineArguments[1].key", "pattern"}}},
		{"argument key AWS_ZIP_DEFAULT", func(r *finspace.CreateKxClusterRequest) {
			r.CommandLineArguments = []finspace.KxCommandLineArgument{{Key: ptr("AWS_ZIP_DEFAULT"), Value: ptr("1")}}
		}, nil},
		{"argument key s", func(r *finspace.CreateKxClusterRequest) {
			r.CommandLineArguments = []finspace.KxCommandLineArgument{{Key: ptr("s"), Value: ptr("4")}}
		}, nil},
		{"execution role ok", func(r *finspace.CreateKxClusterRequest) {
			r.ExecutionRole = ptr("arn:aws:iam::123456789012:role/my-role")
		}, nil},
		{"execution role path ok", func(r *finspace.CreateKxClusterRequest) {
			r.ExecutionRole = ptr("arn:aws-us-gov:iam::123456789012:role/path/to/role@x")
		}, nil},
		{"execution role short account", func(r *finspace.CreateKxClusterRequest) {
			r.ExecutionRole = ptr("arn:aws:iam::12345:role/my-role")
		}, []violation{{"executionRole", "pattern"}}},
		{"execution role not a role", func(r *finspace.CreateKxClusterRequest) {
			r.ExecutionRole = ptr("arn:aws:iam::123456789012:user/me")
		}, []violation{{"executionRole", "pattern"}}},
		{"execution role name over 1017", func(r *finspace.CreateKxClusterRequest) {
			r.ExecutionRole = ptr("arn:aws:iam::123456789012:role/" + strings.Repeat("a", 1018))
		}, []violation{{"executionRole", "pattern"}, {"executionRole", "less than or equal to 1024"}}},
		{"bad cluster type", func(r *finspace.CreateKxClusterRequest) { r.ClusterType = ptr(finspace.KxClusterType("hdb")) },
			[]violation{{"clusterType", "enum value set"}}},
		{"nested range", func(r *finspace.CreateKxClusterRequest) {
			r.AutoScalingConfiguration = &finspace.AutoScalingConfiguration{MetricTarget: ptr(100.5), MinNodeCount: ptr(int32(0))}
		}, []violation{{"autoScalingConfiguration.metricTarget", "less than or equal to 100"},
			{"autoScalingConfiguration.minNodeCount", "greater than or equal to 1"}}},
		{"float minimum", func(r *finspace.CreateKxClusterRequest) {
			r.ScalingGroupConfiguration = &finspace.KxScalingGroupConfiguration{
				ScalingGroupName: ptr("sg1"), MemoryReservation: ptr(int32(6)), NodeCount: ptr(int32(1)), Cpu: ptr(0.05)}
		}, []violation{{"scalingGroupConfiguration.cpu", "greater than or equal to 0.1"}}},
		{"nested list in list", func(r *finspace.CreateKxClusterRequest) {
			r.Databases = []finspace.KxDatabaseConfiguration{{
				DatabaseName: ptr("db1"),
				CacheConfigurations: []finspace.KxDatabaseCacheConfiguration{
					{CacheType: ptr("CACHE_1000"), DbPaths: []string{"/ok/", "no-slash"}},
				},
			}}
		}, []violation{{"databases[0].cacheConfigurations[0].dbPaths[1]", "pattern"}}},
		{"bad vpc", func(r *finspace.CreateKxClusterRequest) { r.VpcConfiguration.VpcId = ptr("vpc-1") },
			[]violation{{"vpcConfiguration.vpcId", "pattern"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := validCluster()
			tt.edit(r)
			checkViolations(t, r.Validate(), tt.want...)
		})
	}
}

func TestCreateKxChangesetDbPath(t *testing.T) {
	req := func(dbPath string) *finspace.CreateKxChangesetRequest {
		return &finspace.CreateKxChangesetRequest{
			EnvironmentId: ptr("env1"),
			DatabaseName:  ptr("db1"),
			ClientToken:   ptr("token-1"),
			ChangeRequests: []finspace.ChangeRequest{
				{ChangeType: ptr(finspace.ChangeTypePut), S3Path: ptr("s3://bucket-1/data/"), DbPath: ptr("/")},
				{ChangeType: ptr(finspace.ChangeTypePut), S3Path: ptr("s3://bucket-1/data/"), DbPath: ptr(dbPath)},
			},
		}
	}
	checkViolations(t, req("/a/b/c/").Validate(), violation{"changeRequests[1].dbPath", "pattern"})
	checkViolations(t, req("/2020.01.02/").Validate())
	checkViolations(t, (&finspace.CreateKxChangesetRequest{ChangeRequests: []finspace.ChangeRequest{}}).Validate(),
		violation{"environmentId", "not be null"}, violation{"databaseName", "not be null"},
		violation{"clientToken", "not be null"}, violation{"changeRequests", "at least 1 items"})
	checkViolations(t, (&finspace.CreateKxChangesetRequest{ChangeRequests: []finspace.ChangeRequest{{}}}).Validate(),
		violation{"changeRequests[0].changeType", "not be null"}, violation{"changeRequests[0].dbPath", "not be null"})
}

func TestBindParams(t *testing.T) {
	var untag finspace.UntagResourceRequest
	arn := "arn:aws:finspace:us-east-1:123456789012:kxEnvironment/abc/kxCluster/c1"
	err := untag.BindParams(restjson.Params{
		Path:  map[string]string{"resourceArn": arn},
		Query: url.Values{"tagKeys": {"a", "b"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if untag.ResourceArn == nil || *untag.ResourceArn != arn {
		t.Errorf("ResourceArn = %v, want %s", untag.ResourceArn, arn)
	}
	if fmt.Sprint(untag.TagKeys) != "[a b]" {
		t.Errorf("TagKeys = %q, want [a b]", untag.TagKeys)
	}
	checkViolations(t, untag.Validate())

	var list finspace.ListKxClustersRequest
	err = list.BindParams(restjson.Params{
		Path:  map[string]string{"environmentId": "env1"},
		Query: url.Values{"clusterType": {"HDB"}, "maxResults": {"10"}, "nextToken": {"t"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if list.ClusterType == nil || *list.ClusterType != finspace.KxClusterTypeHdb ||
		list.MaxResults == nil || *list.MaxResults != 10 || list.NextToken == nil || *list.NextToken != "t" {
		t.Errorf("bound %+v", list)
	}

	var envs finspace.ListEnvironmentsRequest
	err = envs.BindParams(restjson.Params{Query: url.Values{"maxResults": {"ten"}}})
	var ve *restjson.ValidationError
	if !errors.As(err, &ve) || len(ve.Violations) != 1 || ve.Violations[0].Member != "maxResults" {
		t.Fatalf("bad integer: err = %v, want a *restjson.ValidationError on maxResults", err)
	}

	// Absent parameters stay nil.
	var get finspace.GetKxClusterRequest
	if err := get.BindParams(restjson.Params{}); err != nil {
		t.Fatal(err)
	}
	if get.EnvironmentId != nil || get.ClusterName != nil {
		t.Errorf("absent labels bound: %+v", get)
	}
	checkViolations(t, get.Validate(), violation{"environmentId", "not be null"}, violation{"clusterName", "not be null"})
}

func TestIdempotent(t *testing.T) {
	var in restjson.Input = new(finspace.CreateKxClusterRequest)
	idem, ok := in.(restjson.Idempotent)
	if !ok {
		t.Fatal("CreateKxClusterRequest does not implement restjson.Idempotent")
	}
	idem.SetIdempotencyToken(ptr("tok"))
	if got := idem.IdempotencyToken(); got == nil || *got != "tok" {
		t.Errorf("IdempotencyToken() = %v", got)
	}
	if _, ok := any(new(finspace.CreateEnvironmentRequest)).(restjson.Idempotent); ok {
		t.Error("CreateEnvironmentRequest has no idempotency token but implements restjson.Idempotent")
	}
}
