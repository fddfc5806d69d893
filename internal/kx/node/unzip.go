package node

import (
	"archive/zip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// UnzipLimits bound what unpacking a cluster's code archive may write.
type UnzipLimits struct {
	// MaxFiles is the most entries (default 100 000); MaxBytes the most
	// uncompressed bytes in total (default 10 GiB).
	MaxFiles int
	MaxBytes int64
}

// ErrUnsafeArchive is the cause of a refused code archive: an entry that
// would land outside the destination (absolute, "..", a backslash, NUL),
// a symbolic link or other non-regular file, a path given twice, or more
// than the limits allow.
var ErrUnsafeArchive = errors.New("unsafe code archive")

// Unzip unpacks the zip archive r (size bytes) into dest, which must not
// exist, as the cluster's code directory: directories 0755, files 0644
// (0755 when the archive marks them executable). Nothing it writes can be
// outside dest: unsafe entries refuse the whole archive, and a failure
// removes dest.
func Unzip(r io.ReaderAt, size int64, dest string, lim UnzipLimits) (err error) {
	if lim.MaxFiles <= 0 {
		lim.MaxFiles = 100_000
	}
	if lim.MaxBytes <= 0 {
		lim.MaxBytes = 10 << 30
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return fmt.Errorf("the code is not a zip archive: %w", err)
	}
	if len(zr.File) > lim.MaxFiles {
		return fmt.Errorf("%w: %d entries, more than %d", ErrUnsafeArchive, len(zr.File), lim.MaxFiles)
	}
	// Check every entry before writing anything.
	seen := map[string]bool{}
	for _, f := range zr.File {
		name, dir, err := entryPath(f)
		if err != nil {
			return err
		}
		if seen[name] && !dir {
			return fmt.Errorf("%w: %q appears twice", ErrUnsafeArchive, f.Name)
		}
		seen[name] = true
	}
	if _, err := os.Lstat(dest); err == nil {
		return fmt.Errorf("node: %s exists", dest)
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = os.RemoveAll(dest)
		}
	}()
	var total int64
	for _, f := range zr.File {
		name, dir, _ := entryPath(f)
		target := filepath.Join(dest, filepath.FromSlash(name))
		if dir {
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if f.Mode()&0o111 != 0 {
			mode = 0o755
		}
		n, err := writeEntry(f, target, mode, lim.MaxBytes-total)
		total += n
		if err != nil {
			return err
		}
	}
	return nil
}

// entryPath is f's slash path below the destination and whether it is a
// directory; unsafe entries are refused.
func entryPath(f *zip.File) (string, bool, error) {
	n := f.Name
	refuse := func(why string) (string, bool, error) {
		return "", false, fmt.Errorf("%w: entry %q %s", ErrUnsafeArchive, n, why)
	}
	if strings.ContainsRune(n, 0) || strings.Contains(n, "\\") {
		return refuse("contains NUL or a backslash")
	}
	if strings.HasPrefix(n, "/") || (len(n) > 1 && n[1] == ':') {
		return refuse("is absolute")
	}
	mode := f.Mode()
	dir := mode.IsDir() || strings.HasSuffix(n, "/")
	if !dir && !mode.IsRegular() {
		return refuse("is not a regular file or directory (symbolic links are refused)")
	}
	clean := strings.TrimSuffix(n, "/")
	if clean == "" {
		return refuse("is empty")
	}
	for _, seg := range strings.Split(clean, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return refuse("has an empty, . or .. segment")
		}
	}
	return path.Clean(clean), dir, nil
}

// writeEntry writes f's content to a new file target, at most budget
// bytes (the declared size is not trusted).
func writeEntry(f *zip.File, target string, mode fs.FileMode, budget int64) (int64, error) {
	rc, err := f.Open()
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	// O_EXCL: never through something already there (a directory entry
	// named like a file, say).
	out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return 0, err
	}
	n, err := io.Copy(out, io.LimitReader(rc, budget+1))
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err == nil && n > budget {
		err = fmt.Errorf("%w: more than the limit of uncompressed bytes", ErrUnsafeArchive)
	}
	return n, err
}
