package shape_test

import (
	"os/exec"
	"strings"
	"testing"
)

// The generated shape packages are leaves a domain package may import:
// they, and this package, depend on nothing of the module but this
// package, and on no HTTP code.
func TestGeneratedShapesImportNoHTTP(t *testing.T) {
	const module = "github.com/openfinspace/openfinspace/"
	pkgs := []string{"internal/wire/shape", "internal/wire/finspace", "internal/wire/finspacedata"}
	for _, p := range pkgs {
		out, err := exec.Command("go", "list", "-deps", module+p).Output()
		if err != nil {
			t.Fatalf("go list: %v", err)
		}
		for _, dep := range strings.Fields(string(out)) {
			switch {
			case dep == "net/http" || strings.HasPrefix(dep, "net/http/"):
				t.Errorf("%s imports %s", p, dep)
			case strings.HasPrefix(dep, module) && dep != module+p && dep != module+"internal/wire/shape":
				t.Errorf("%s imports %s", p, dep)
			}
		}
	}
}
