// Package serverbin is test support for tests and benchmarks that run the
// shipped binary as a real process: it builds cmd/openfinspace and finds
// free loopback addresses. Not used by the server.
package serverbin

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// Package is the import path of the server's main package.
const Package = "github.com/openfinspace/openfinspace/cmd/openfinspace"

// EnvBinary names a server binary built beforehand from this tree:
// scripts/test.sh builds one and every package that runs the binary uses
// it, instead of each linking its own (about 5 s of CPU each).
const EnvBinary = "OPENFINSPACE_TEST_BINARY"

// Build builds the server into dir/openfinspace (within five minutes) and
// returns its path and how long the build took; with $OPENFINSPACE_TEST_BINARY
// set it returns that binary instead, and no time.
func Build(ctx context.Context, dir string) (string, time.Duration, error) {
	if bin := os.Getenv(EnvBinary); bin != "" {
		if st, err := os.Stat(bin); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
			return "", 0, fmt.Errorf("%s=%s is not an executable file (%v)", EnvBinary, bin, err)
		}
		return bin, 0, nil
	}
	goTool, err := exec.LookPath("go")
	if err != nil {
		return "", 0, fmt.Errorf("go tool not found to build the binary: %w", err)
	}
	bin := filepath.Join(dir, "openfinspace")
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	start := time.Now()
	if out, err := exec.CommandContext(ctx, goTool, "build", "-o", bin, Package).CombinedOutput(); err != nil {
		return "", 0, fmt.Errorf("go build ./cmd/openfinspace: %v\n%s", err, out)
	}
	return bin, time.Since(start), nil
}

// FreeAddr returns a loopback address no listener holds at the moment.
func FreeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
