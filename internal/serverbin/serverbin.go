// Package serverbin is test support for tests and benchmarks that run the
// shipped binary as a real process: it builds cmd/openfinspace and finds
// free loopback addresses. Not used by the server.
package serverbin

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"time"
)

// Package is the import path of the server's main package.
const Package = "github.com/openfinspace/openfinspace/cmd/openfinspace"

// Build builds the server into dir/openfinspace (within five minutes) and
// returns its path and how long the build took.
func Build(ctx context.Context, dir string) (string, time.Duration, error) {
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
