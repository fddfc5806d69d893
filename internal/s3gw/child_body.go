package s3gw

import (
	"context"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/versity/versitygw/backend/posix"
)

// Object bodies over the Unix sockets.
//
// fasthttp writes a response body through its connection's bufio.Writer
// (4 KiB, fiber's default, which versitygw does not change). Over TCP that
// writer hands the body to TCPConn.ReadFrom (sendfile, or 32 KiB copies),
// but a *net.UnixConn has no ReadFrom, so every object would cross the
// socket in 4 KiB writes, each preceded by a 4 KiB read: two system calls
// per 4 KiB in the gateway process, which made downloads through the main
// port about half as fast as straight from the gateway. fasthttp prefers
// a body's io.WriterTo, so the Unix-socket servers' backend wraps object
// bodies in largeWriteBody, which flushes the response head and writes the
// body in bodyWriteSize pieces; the bufio.Writer passes writes larger than
// its buffer straight to the connection.
//
// A client of the main port that stops reading its download leaves this
// process blocked in a write, holding its buffer, until the main port
// drops the client (Limits.IdleTimeout). So at most bodyMaxLarge bodies at
// a time are written in bodyWriteSize pieces; the others in
// bodySmallWriteSize pieces, which keeps the memory of thousands of
// stalled downloads small.

// Sizes of the gateway's writes of object bodies.
const (
	bodyWriteSize      = 256 << 10
	bodySmallWriteSize = 8 << 10
	bodyMaxLarge       = 64 // 16 MiB
)

// largeWrites is the posix backend whose GetObject bodies are written in
// large pieces.
type largeWrites struct{ *posix.Posix }

// bodyBuffers are the object bodies' write buffers (one per gateway
// process: package state of the child, which is one process per gateway).
var bodyBuffers = newBoundedBuffers(bodyWriteSize, bodySmallWriteSize, bodyMaxLarge)

func (b largeWrites) GetObject(ctx context.Context, in *s3.GetObjectInput) (*s3.GetObjectOutput, error) {
	if out, err, ok := b.getForDescriptor(ctx, in); ok {
		return out, err
	}
	out, err := b.Posix.GetObject(ctx, in)
	if err == nil && out != nil && out.Body != nil {
		body := &largeWriteBody{ReadCloser: out.Body}
		// versitygw passes the request's *fasthttp.RequestCtx, which
		// knows the connection the body goes to.
		if c, ok := ctx.(interface{ Conn() net.Conn }); ok {
			body.conn = c.Conn()
		}
		out.Body = body
	}
	return out, err
}

// largeWriteBody is an object body that writes itself to the connection
// with sendfile(2) (a whole object: a file) or in bodyWriteSize pieces
// (ranges).
type largeWriteBody struct {
	io.ReadCloser
	conn net.Conn // the connection it is written to, when known
}

func (b *largeWriteBody) WriteTo(w io.Writer) (int64, error) {
	// The buffered response head goes first, so that the writer's buffer
	// is empty and the body below goes straight to the connection.
	if f, ok := w.(interface{ Flush() error }); ok {
		if err := f.Flush(); err != nil {
			return 0, err
		}
	}
	if f, ok := b.ReadCloser.(*os.File); ok && b.conn != nil {
		if _, ok := b.conn.(syscall.Conn); ok {
			// sendfile(2) from the file's current position (its start) to
			// the end: no copy through this process and no buffer, and a
			// client that stops reading leaves this waiting in the
			// poller, holding nothing.
			return f.WriteTo(b.conn)
		}
	}
	buf := bodyBuffers.Get()
	defer bodyBuffers.Put(buf)
	// Plain Writer and Reader: no ReadFrom or WriteTo to hand the copy
	// back to small buffers.
	return io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{b.ReadCloser}, buf)
}
