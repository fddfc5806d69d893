package idempotency_test

import (
	"os/exec"
	"strings"
	"testing"

	"github.com/openfinspace/openfinspace/internal/idempotency"
	"github.com/openfinspace/openfinspace/internal/wire/restjson"
)

// Tokens is what the rest-json runtime calls.
var _ restjson.Idempotency = (*idempotency.Tokens)(nil)

// The token memory sits below the wire layer: it shares the response type
// and the context key with it through internal/clienttoken, and imports no
// wire package.
func TestImportsNoWire(t *testing.T) {
	const module = "github.com/openfinspace/openfinspace/"
	out, err := exec.Command("go", "list", "-deps", module+"internal/idempotency").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		if strings.HasPrefix(dep, module+"internal/wire/") || dep == "net/http" {
			t.Errorf("internal/idempotency imports %s", dep)
		}
	}
}
