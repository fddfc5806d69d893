package finspacedata

import (
	"encoding/json"
	"testing"
)

func TestCreateUserAcceptsLegacyApiAccess(t *testing.T) {
	cases := map[string]string{
		`{"emailAddress":"a@b.co","type":"APP_USER","apiAccess":"ENABLED"}`:                        "ENABLED",
		`{"emailAddress":"a@b.co","type":"APP_USER","ApiAccess":"ENABLED"}`:                        "ENABLED",
		`{"emailAddress":"a@b.co","type":"APP_USER","ApiAccess":"DISABLED","apiAccess":"ENABLED"}`: "ENABLED",
		`{"emailAddress":"a@b.co","type":"APP_USER"}`:                                              "",
	}
	for body, want := range cases {
		var in CreateUserRequest
		if err := json.Unmarshal([]byte(body), &in); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		got := ""
		if in.ApiAccess != nil {
			got = string(*in.ApiAccess)
		}
		if got != want || in.EmailAddress == nil || *in.EmailAddress != "a@b.co" || in.Type == nil {
			t.Errorf("%s: apiAccess %q email %v type %v; want %q", body, got, in.EmailAddress, in.Type, want)
		}
	}
	// A wrong type under the legacy name is still a decode error.
	var in CreateUserRequest
	if err := json.Unmarshal([]byte(`{"ApiAccess": 3}`), &in); err == nil {
		t.Error("ApiAccess of the wrong type accepted")
	}
	// The request still encodes with the current name only.
	e := ApiAccess("ENABLED")
	b, _ := json.Marshal(&CreateUserRequest{ApiAccess: &e})
	if string(b) != `{"apiAccess":"ENABLED"}` {
		t.Errorf("marshal = %s", b)
	}
}
