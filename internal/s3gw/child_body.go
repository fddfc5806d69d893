package s3gw

import (
	"context"
	"io"
	"sync"

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

// bodyWriteSize is the size of the gateway's writes of object bodies.
const bodyWriteSize = 256 << 10

var bodyBuffers = sync.Pool{New: func() any { b := make([]byte, bodyWriteSize); return &b }}

// largeWrites is the posix backend whose GetObject bodies are written in
// large pieces.
type largeWrites struct{ *posix.Posix }

func (b largeWrites) GetObject(ctx context.Context, in *s3.GetObjectInput) (*s3.GetObjectOutput, error) {
	out, err := b.Posix.GetObject(ctx, in)
	if err == nil && out != nil && out.Body != nil {
		out.Body = &largeWriteBody{ReadCloser: out.Body}
	}
	return out, err
}

// largeWriteBody is an object body that writes itself in bodyWriteSize
// pieces.
type largeWriteBody struct{ io.ReadCloser }

func (b *largeWriteBody) WriteTo(w io.Writer) (int64, error) {
	// The buffered response head goes first, so that the writer's buffer
	// is empty and the large writes below go straight to the connection.
	if f, ok := w.(interface{ Flush() error }); ok {
		if err := f.Flush(); err != nil {
			return 0, err
		}
	}
	bp := bodyBuffers.Get().(*[]byte)
	defer bodyBuffers.Put(bp)
	// Plain Writer and Reader: no ReadFrom or WriteTo to hand the copy
	// back to small buffers.
	return io.CopyBuffer(struct{ io.Writer }{w}, struct{ io.Reader }{b.ReadCloser}, *bp)
}
