package s3gw

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// LinkObject makes an open object file of the embedded store another
// object of it, bucket/key, by a hard link of the open file (its
// descriptor through /proc/self/fd, so the file linked is the file the
// caller read, whatever its name holds now). It links only where the
// gateway keeps object metadata in the file's extended attributes (a link
// carries them: the ETag and checksums of the same bytes), and reports
// false where it cannot (an upstream, sidecar metadata, another file
// system, no /proc, no such bucket, a name taken): the caller then copies.
//
// The gateway never writes an object's file in place (a PUT or a
// completed multipart upload links a new file over the name), so the
// content cannot change under either name.
func (g *Gateway) LinkObject(f *os.File, bucket, key string) (bool, error) {
	if g.cfg.Upstream != nil || g.MetadataMode() != "xattr" {
		return false, nil
	}
	return linkObjectFile(g.cfg.ObjectsDir, f, bucket, key)
}

func linkObjectFile(root string, f *os.File, bucket, key string) (bool, error) {
	p, ok := objectPath(root, bucket, key)
	if !ok {
		return false, nil
	}
	dir := filepath.Dir(p)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return false, nil
	}
	// No symbolic link on the way (the store makes none).
	if real, err := filepath.EvalSymlinks(dir); err != nil || real != dir {
		return false, nil
	}
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.AT_FDCWD, p, unix.AT_SYMLINK_FOLLOW)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, unix.EEXIST), errors.Is(err, unix.EXDEV), errors.Is(err, unix.ENOENT),
		errors.Is(err, unix.EPERM), errors.Is(err, unix.EMLINK), errors.Is(err, unix.EACCES):
		return false, nil
	}
	return false, err
}
