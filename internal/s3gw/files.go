package s3gw

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/openfinspace/openfinspace/internal/blob"
)

// The embedded store's disk layout, for the server's components that read
// and link objects as files instead of through S3 (changesets read their
// sources in place; kx stores a content by linking its source): the posix
// backend keeps object bucket/key as the regular file
// <ObjectsDir>/<bucket>/<key>, one directory per bucket, and makes no
// symbolic links. Only this package knows that; callers get a path or a
// link, or false and then use S3.

// LocalObject returns the file holding object bucket/key of the embedded
// store, to read in place. false with an upstream, and for anything that
// is not plainly that file: names the blob store refuses, a "directory"
// key, a path leaving the objects directory or crossing a symbolic link,
// something other than a regular file.
func (g *Gateway) LocalObject(bucket, key string) (string, bool) {
	if g.cfg.Upstream != nil {
		return "", false
	}
	return objectFile(g.cfg.ObjectsDir, bucket, key)
}

func objectFile(root, bucket, key string) (string, bool) {
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", false
	}
	if !validObjectName(bucket, key) {
		return "", false
	}
	p := filepath.Join(realRoot, bucket, filepath.FromSlash(key))
	if rel, err := filepath.Rel(realRoot, p); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	// No symbolic link below the objects directory (the store makes none).
	if real, err := filepath.EvalSymlinks(p); err != nil || real != p {
		return "", false
	}
	st, err := os.Lstat(p)
	if err != nil || !st.Mode().IsRegular() {
		return "", false
	}
	return p, true
}

// validObjectName: names as the blob store checks them, and not a
// "directory" key (the posix backend keeps those as directories).
func validObjectName(bucket, key string) bool {
	return blob.ValidBucketName(bucket) == nil && blob.ValidKey(key) == nil && !strings.HasSuffix(key, "/")
}

// objectPath is where object bucket/key of an existing bucket would live
// under root (resolved), for a link to be made there; false if the bucket
// is not there or the path would leave it.
func objectPath(root, bucket, key string) (string, bool) {
	if !validObjectName(bucket, key) {
		return "", false
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", false
	}
	bdir := filepath.Join(realRoot, bucket)
	if st, err := os.Lstat(bdir); err != nil || !st.IsDir() {
		return "", false // no such bucket here
	}
	p := filepath.Join(bdir, filepath.FromSlash(key))
	if rel, err := filepath.Rel(bdir, p); err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, "../") {
		return "", false
	}
	return p, true
}
