package servertest

import (
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
)

var (
	kdbOnce   sync.Once
	kdbPath   string
	kdbErr    error
	kdbOutput []byte
)

// KdbDouble builds the kdb+ test double (internal/kx/kdbdouble) once per
// test binary and returns its path, for Config.KdbExecutable.
func KdbDouble(t testing.TB) string {
	t.Helper()
	kdbOnce.Do(func() {
		dir, err := os.MkdirTemp("", "kdbdouble")
		if err != nil {
			kdbErr = err
			return
		}
		kdbPath = filepath.Join(dir, "q")
		kdbOutput, kdbErr = exec.Command("go", "build", "-o", kdbPath,
			"github.com/openfinspace/openfinspace/internal/kx/kdbdouble").CombinedOutput()
	})
	if kdbErr != nil {
		t.Fatalf("building the kdb+ test double: %v\n%s", kdbErr, kdbOutput)
	}
	return kdbPath
}
