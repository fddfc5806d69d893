package restjson_test

import (
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/openfinspace/openfinspace/internal/wire/finspace"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/restjson"
)

func opNamed(t *testing.T, name string) *restjson.Operation {
	t.Helper()
	for _, op := range allOps {
		if op.Name == name {
			return op
		}
	}
	t.Fatalf("no operation %s", name)
	return nil
}

// TestBindQueryRepeats: through the generated BindParams, a repeated
// single-valued query member is a ValidationException naming it, of every
// type (string, enum, integer, long); list members (the models' only one
// is UntagResource's tagKeys) keep accepting repeats.
func TestBindQueryRepeats(t *testing.T) {
	cases := []struct {
		op, query string
		member    string // "" when the bind must succeed
	}{
		{"ListEnvironments", "nextToken=a&nextToken=b", "nextToken"},
		{"ListEnvironments", "maxResults=1&maxResults=1", "maxResults"},
		{"ListKxClusters", "clusterType=HDB&clusterType=RDB", "clusterType"},
		{"ListKxVolumes", "volumeType=NAS_1&volumeType=NAS_1", "volumeType"},
		{"DeleteKxCluster", "clientToken=t&clientToken=t", "clientToken"},
		{"GetKxConnectionString", "userArn=a&clusterName=c&clusterName=d", "clusterName"},
		{"GetProgrammaticAccessCredentials", "environmentId=e&durationInMinutes=60&durationInMinutes=60", "durationInMinutes"},
		{"ListUsers", "maxResults=10&nextToken=x&nextToken=x", "nextToken"},
		{"UntagResource", "tagKeys=a&tagKeys=b&tagKeys=a", ""},
		{"ListEnvironments", "maxResults=10&unknown=1&unknown=2", ""}, // not a member: ignored, as before
	}
	for _, tc := range cases {
		q, err := restjson.ParseQuery(tc.query)
		if err != nil {
			t.Fatal(err)
		}
		_, err = restjson.Bind(opNamed(t, tc.op), restjson.Params{Path: map[string]string{"environmentId": "e", "clusterName": "c", "resourceArn": "arn"}, Query: q}, nil)
		if tc.member == "" {
			if err != nil {
				t.Errorf("%s ?%s: %v", tc.op, tc.query, err)
			}
			continue
		}
		var ve *restjson.ValidationError
		if !errors.As(err, &ve) || len(ve.Violations) != 1 || ve.Violations[0].Member != tc.member || !strings.Contains(ve.Error(), "at most once") {
			t.Errorf("%s ?%s: err %v, want a repeat violation on %s", tc.op, tc.query, err, tc.member)
		}
	}
	// The list member binds every value, in order.
	var untag finspace.UntagResourceRequest
	if err := untag.BindParams(restjson.Params{Query: url.Values{"tagKeys": {"a", "b", "a"}}}); err != nil || strings.Join(untag.TagKeys, ",") != "a,b,a" {
		t.Errorf("tagKeys bound %q, %v", untag.TagKeys, err)
	}
}

// TestEveryQueryMemberRefusesRepeats walks both models' operation tables:
// every query member but the list ones refuses a repeat.
func TestEveryQueryMemberRefusesRepeats(t *testing.T) {
	lists := map[string]bool{"UntagResource.tagKeys": true}
	names := []string{"nextToken", "maxResults", "clientToken", "clusterType", "volumeType", "userArn", "clusterName",
		"environmentId", "durationInMinutes", "tagKeys"}
	checked := 0
	for _, op := range append(append([]*restjson.Operation{}, finspace.Operations...), finspacedata.Operations...) {
		for _, name := range names {
			if err := op.NewInput().BindParams(restjson.Params{Query: url.Values{name: {"1"}}}); err != nil {
				t.Errorf("%s: one %s=1: %v", op.Name, name, err)
				continue
			}
			err := op.NewInput().BindParams(restjson.Params{Query: url.Values{name: {"1", "1"}}})
			if err == nil {
				// Either not a member of op (ignored) or a list member.
				if lists[op.Name+"."+name] {
					checked++
				}
				continue
			}
			if lists[op.Name+"."+name] {
				t.Errorf("%s.%s is a list: repeats must bind", op.Name, name)
			}
			checked++
		}
	}
	if checked < 40 {
		t.Errorf("only %d query members checked; the walk is broken", checked)
	}
}
