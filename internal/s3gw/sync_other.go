//go:build !linux

package s3gw

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
)

// Sync makes the embedded store's objects durable (see sync_linux.go); off
// Linux, with fsync of every object file.
func (g *Gateway) Sync(ctx context.Context) error {
	if g.cfg.Upstream != nil {
		return nil
	}
	return filepath.WalkDir(g.cfg.ObjectsDir, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("s3gw: sync: %w", err)
		}
		defer f.Close()
		return f.Sync()
	})
}
