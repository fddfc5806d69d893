package server

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/openfinspace/openfinspace/internal/blob"
)

// linkObject makes an open object file of the embedded store another
// object of it, bucket/key, by a hard link of the open file (its
// descriptor through /proc/self/fd, so the file linked is the file the
// caller read, whatever its name holds now). nil with an external store;
// it links only where the gateway keeps object metadata in the file's
// extended attributes (a link carries them: the ETag and checksums of the
// same bytes), and reports false where it cannot (another file system, no
// /proc, a name taken): the caller then copies.
//
// The gateway never writes an object's file in place (a PUT or a
// completed multipart upload links a new file over the name), so the
// content cannot change under either name.
func (s *Server) linkObject() func(f *os.File, bucket, key string) (bool, error) {
	if s.cfg.S3.External || s.s3gw == nil {
		return nil
	}
	root := filepath.Join(s.cfg.DataDir, "objects")
	return func(f *os.File, bucket, key string) (bool, error) {
		if s.s3gw.MetadataMode() != "xattr" {
			return false, nil
		}
		if blob.ValidBucketName(bucket) != nil || blob.ValidKey(key) != nil || strings.HasSuffix(key, "/") {
			return false, nil
		}
		realRoot, err := filepath.EvalSymlinks(root)
		if err != nil {
			return false, nil
		}
		bdir := filepath.Join(realRoot, bucket)
		if st, err := os.Lstat(bdir); err != nil || !st.IsDir() {
			return false, nil // no such bucket here
		}
		p := filepath.Join(bdir, filepath.FromSlash(key))
		if rel, err := filepath.Rel(bdir, p); err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
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
		err = unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.AT_FDCWD, p, unix.AT_SYMLINK_FOLLOW)
		switch {
		case err == nil:
			return true, nil
		case errors.Is(err, unix.EEXIST), errors.Is(err, unix.EXDEV), errors.Is(err, unix.ENOENT),
			errors.Is(err, unix.EPERM), errors.Is(err, unix.EMLINK), errors.Is(err, unix.EACCES):
			return false, nil
		}
		return false, err
	}
}
