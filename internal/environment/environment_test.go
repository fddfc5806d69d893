package environment

import (
	"encoding/json"
	"testing"
	"time"
)

// TestCloneIsDeep: a clone shares nothing mutable with the original (the
// read paths hand out clones of cached documents).
func TestCloneIsDeep(t *testing.T) {
	orig := &Environment{ID: "e", Name: "n", Status: Created, CreatedAt: time.Unix(1, 0),
		Federation: &Federation{SamlMetadataURL: "u", AttributeMap: map[string]string{"a": "b"}},
		Superuser:  &Superuser{EmailAddress: "x@example.com"}, DataBundles: []string{"d1"}}
	want, _ := json.Marshal(orig)
	c := orig.Clone()
	if got, _ := json.Marshal(c); string(got) != string(want) {
		t.Fatalf("clone differs:\n%s\n%s", got, want)
	}
	c.Name, c.Status = "changed", Deleted
	c.Federation.SamlMetadataURL = "changed"
	c.Federation.AttributeMap["a"] = "changed"
	c.Superuser.EmailAddress = "changed"
	c.DataBundles[0] = "changed"
	if got, _ := json.Marshal(orig); string(got) != string(want) {
		t.Errorf("changing the clone changed the original:\n%s\n%s", got, want)
	}
	if (&Environment{}).Clone().Federation != nil {
		t.Error("clone of an environment without federation has one")
	}
}
