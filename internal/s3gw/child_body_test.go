package s3gw

import (
	"bufio"
	"bytes"
	"io"
	"testing"
)

// recorder records the sizes of the writes it gets.
type recorder struct {
	bytes.Buffer
	writes []int
}

func (r *recorder) Write(p []byte) (int, error) {
	r.writes = append(r.writes, len(p))
	return r.Buffer.Write(p)
}

// TestLargeWriteBody: an object body written by fasthttp's path (a 4 KiB
// bufio.Writer holding the response head, and the body's WriteTo) reaches
// the connection head first, then in writes of bodyWriteSize.
func TestLargeWriteBody(t *testing.T) {
	const size = 3*bodyWriteSize + 1234
	body := bytes.Repeat([]byte("0123456789abcdef"), size/16+1)[:size]
	conn := &recorder{}
	bw := bufio.NewWriterSize(conn, 4096)
	head := "HTTP/1.1 200 OK\r\nContent-Length: 786666\r\n\r\n"
	bw.WriteString(head)
	var rd io.Reader = &largeWriteBody{ReadCloser: io.NopCloser(struct{ io.Reader }{bytes.NewReader(body)})}
	wt, ok := rd.(io.WriterTo)
	if !ok {
		t.Fatal("largeWriteBody is not an io.WriterTo: fasthttp would copy it through its 4 KiB buffer")
	}
	n, err := wt.WriteTo(bw)
	if err != nil || n != size {
		t.Fatalf("WriteTo = %d, %v", n, err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if got := conn.String(); got != head+string(body) {
		t.Fatalf("the connection got %d bytes, not the head and the body in order", len(got))
	}
	want := []int{len(head), bodyWriteSize, bodyWriteSize, bodyWriteSize}
	if len(conn.writes) < len(want) {
		t.Fatalf("writes %v", conn.writes)
	}
	for i, w := range want {
		if conn.writes[i] != w {
			t.Fatalf("writes %v, want %v then the rest", conn.writes, want)
		}
	}
}
