package s3gw

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/versity/versitygw/backend"
)

// Large object bodies handed over as open files (the gateway's half; the
// main port's is download.go).
//
// A download through the main port used to hold, for as long as its
// client took to read it, a connection between the two processes with a
// worker, buffers and a blocked sendfile(2) here, and a proxied request
// there. For an object body of at least descriptorBodyMin bytes that the
// main port asks for this way (descriptorHeader on its request), the
// gateway answers the response head as usual and then, instead of the
// body, one marker message carrying the open object file (SCM_RIGHTS) and
// the body's offset in it. The main port sends the body to its client
// from that file itself, with sendfile(2), and this request is over at
// once: nothing is held here for a slow or stalled client.
//
// The file is the one this request opened and checked (its metadata made
// the response head), so the body is the object the head describes even
// if the key is overwritten meanwhile (an overwrite renames a new file
// into place; the open one is unchanged).

const (
	// descriptorHeader, "1" on a request from the main port, asks for the
	// body as a descriptor. The main port removes it from its clients'
	// requests.
	descriptorHeader = "X-Openfinspace-Body-Fd"
	// descriptorKey is the request's user value set from the header.
	descriptorKey = "openfinspace.body-fd"
	// descriptorBodyMin is the smallest body sent as a descriptor; smaller
	// ones come in the response, which keeps the client's connection
	// alive (a descriptor body ends it, see download.go).
	descriptorBodyMin = 1 << 20
	// descriptorMarker starts the marker message: the marker byte and the
	// body's offset in the file (8 bytes, big endian).
	descriptorMarker    = 'F'
	descriptorMarkerLen = 9
)

type userValuer interface{ UserValue(key any) any }

// getForDescriptor serves a GetObject the main port asked to receive as a
// descriptor; ok is false when it must be served the usual way (no
// descriptor asked for, a part number, a connection without one).
//
// A ranged request is served from the whole object's answer, with the
// range applied here as the backend applies it (backend.ParseObjectRange,
// Content-Range, checksums only for the whole object): for a range the
// backend's body is a buffered section reader that does not give its file
// back.
func (b largeWrites) getForDescriptor(ctx context.Context, in *s3.GetObjectInput) (_ *s3.GetObjectOutput, _ error, ok bool) {
	uv, isUV := ctx.(userValuer)
	if !isUV || uv.UserValue(descriptorKey) != true || in.PartNumber != nil {
		return nil, nil, false
	}
	cc, isConn := ctx.(interface{ Conn() net.Conn })
	if !isConn {
		return nil, nil, false
	}
	conn, isSC := cc.Conn().(syscall.Conn)
	if !isSC {
		return nil, nil, false
	}
	rng := aws.ToString(in.Range)
	whole := *in
	whole.Range = aws.String("")
	out, err := b.Posix.GetObject(ctx, &whole)
	if err != nil || out == nil || out.Body == nil {
		return out, err, true
	}
	f, isFile := out.Body.(*os.File)
	if !isFile || out.ContentLength == nil || out.ContentRange != nil {
		// Not a plain file (O_DIRECT, a directory object): ask again.
		out.Body.Close()
		return nil, nil, false
	}
	size := *out.ContentLength
	start, length := int64(0), size
	if rng != "" {
		s, l, valid, err := backend.ParseObjectRange(size, rng)
		if err != nil {
			f.Close()
			return nil, err, true
		}
		start, length = s, l
		if valid {
			out.ContentRange = aws.String(fmt.Sprintf("bytes %v-%v/%v", s, s+l-1, size))
		}
		if length-start != size {
			// The backend's condition for returning checksums.
			clearChecksums(out)
		}
		out.ContentLength = aws.Int64(length)
	}
	switch {
	case length >= descriptorBodyMin:
		out.Body = &descriptorBody{f: f, conn: conn, off: start, n: length}
	case start == 0 && length == size:
		out.Body = &largeWriteBody{ReadCloser: f, conn: cc.Conn()}
	default:
		out.Body = &largeWriteBody{ReadCloser: &backend.FileSectionReadCloser{R: io.NewSectionReader(f, start, length), F: f}}
	}
	return out, nil, true
}

func clearChecksums(o *s3.GetObjectOutput) {
	o.ChecksumCRC32, o.ChecksumCRC32C, o.ChecksumCRC64NVME = nil, nil, nil
	o.ChecksumSHA1, o.ChecksumSHA256, o.ChecksumSHA512, o.ChecksumMD5 = nil, nil, nil, nil
	o.ChecksumXXHASH64, o.ChecksumXXHASH3, o.ChecksumXXHASH128 = nil, nil, nil
	o.ChecksumType = ""
}

// descriptorBody is an object body sent as its open file.
type descriptorBody struct {
	f      *os.File
	conn   syscall.Conn
	off, n int64
}

var errDescriptorBody = errors.New("s3gw: a descriptor body is not read")

func (b *descriptorBody) Read([]byte) (int, error) { return 0, errDescriptorBody }
func (b *descriptorBody) Close() error             { return b.f.Close() }

// WriteTo flushes the response head and sends the marker with the file;
// it reports the body as written, since the main port sends it. The main
// port closes the connection after the marker.
func (b *descriptorBody) WriteTo(w io.Writer) (int64, error) {
	if f, ok := w.(interface{ Flush() error }); ok {
		if err := f.Flush(); err != nil {
			return 0, err
		}
	}
	var msg [descriptorMarkerLen]byte
	msg[0] = descriptorMarker
	binary.BigEndian.PutUint64(msg[1:], uint64(b.off))
	fc, err := b.f.SyscallConn()
	if err != nil {
		return 0, err
	}
	var rights []byte
	if err := fc.Control(func(fd uintptr) { rights = syscall.UnixRights(int(fd)) }); err != nil {
		return 0, err
	}
	rc, err := b.conn.SyscallConn()
	if err != nil {
		return 0, err
	}
	var serr error
	if err := rc.Write(func(fd uintptr) bool {
		serr = syscall.Sendmsg(int(fd), msg[:], rights, nil, 0)
		return serr != syscall.EAGAIN
	}); err != nil {
		return 0, err
	}
	if serr != nil {
		return 0, serr
	}
	return b.n, nil
}
