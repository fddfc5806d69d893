package s3gw

import (
	"context"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Sync makes everything written to the embedded store's objects durable
// (syncfs of their file system): versitygw's posix backend writes object
// files without fsync, so a result committed to the metadata store (which
// is fsynced) must first have its objects on disk, or a power loss could
// leave a committed version naming contents that never reached the disk.
// A no-op when the gateway fronts an external service.
func (g *Gateway) Sync(ctx context.Context) error {
	if g.cfg.Upstream != nil {
		return nil
	}
	f, err := os.Open(g.cfg.ObjectsDir)
	if err != nil {
		return fmt.Errorf("s3gw: sync: %w", err)
	}
	defer f.Close()
	if err := unix.Syncfs(int(f.Fd())); err != nil {
		return fmt.Errorf("s3gw: syncfs %s: %w", g.cfg.ObjectsDir, err)
	}
	return ctx.Err()
}
