package finspace

import (
	"encoding/json"
	"testing"

	"github.com/openfinspace/openfinspace/internal/environment"
)

// TestEnvironmentOutOmitsEmptyMembers: members the environment does not
// have are absent from the wire form, as AWS omits them, not "".
func TestEnvironmentOutOmitsEmptyMembers(t *testing.T) {
	env := &environment.Environment{ID: "abc", Name: "research", Account: "000000000000", Region: "us-east-1",
		ARN: "arn:aws:finspace:us-east-1:000000000000:environment/abc", URL: "http://x/environments/abc",
		Status: environment.Created, FederationMode: environment.FederationLocal}
	b, err := json.Marshal(environmentOut(env))
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"name":"research","environmentId":"abc","awsAccountId":"000000000000","status":"CREATED","environmentUrl":"http://x/environments/abc","environmentArn":"arn:aws:finspace:us-east-1:000000000000:environment/abc","federationMode":"LOCAL"}`
	var got, exp map[string]any
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	_ = json.Unmarshal([]byte(want), &exp)
	if len(got) != len(exp) {
		t.Fatalf("wire form %s, want the members of %s", b, want)
	}
	for k, v := range exp {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %s)", k, got[k], v, b)
		}
	}
	env.Description, env.KmsKeyID = "d", "k"
	b, _ = json.Marshal(environmentOut(env))
	_ = json.Unmarshal(b, &got)
	if got["description"] != "d" || got["kmsKeyId"] != "k" {
		t.Errorf("description and kmsKeyId missing: %s", b)
	}
}
