package main

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
)

// prepareDataDir makes the data dir private to the server's user: it
// creates it with mode 0700, or removes the group and other bits of an
// existing one (logged at Info). The secrets in it are 0600 files already;
// the directory's mode also hides which there are and the metadata
// database's WAL and lock files. A mode that cannot be changed (a mount
// owned by another user) is logged at Warn and the server starts anyway:
// it can still run with its 0600 files.
func prepareDataDir(dir string, log *slog.Logger) error {
	fi, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return fmt.Errorf("creating the data dir: %w", err)
		}
		// MkdirAll's mode passes through the umask; say it exactly.
		return os.Chmod(dir, 0o700)
	}
	if err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	if !fi.IsDir() {
		return fmt.Errorf("data dir %s is not a directory", dir)
	}
	perm := fi.Mode().Perm()
	if perm&0o077 == 0 {
		return nil
	}
	tight := perm &^ 0o077
	if err := os.Chmod(dir, tight); err != nil {
		log.Warn("the data dir is readable by other users and its mode cannot be changed",
			"data_dir", dir, "mode", fmt.Sprintf("%#o", perm), "error", err)
		return nil
	}
	log.Info("tightened the data dir's mode", "data_dir", dir, "from", fmt.Sprintf("%#o", perm), "to", fmt.Sprintf("%#o", tight))
	return nil
}
