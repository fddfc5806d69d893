package runtime

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Logs bounds a process's log: its standard output and error go to
// <Dir>/<name>.log, which is rotated (<name>.log.1 is the previous file,
// and so on) when it reaches MaxBytes, keeping Files files in all, the
// current one included. The bytes on disk never exceed MaxBytes × Files.
//
// The process writes into a named pipe in Dir (<name>.pipe) that it holds
// open for reading too, so a server that dies does not break its output
// (no EPIPE): writes wait in the pipe's buffer, and the server that
// recovers the process reopens the pipe and goes on copying.
type Logs struct {
	Dir      string
	MaxBytes int64 // per file; default 1 MiB
	Files    int   // default 4
}

func (l Logs) withDefaults() Logs {
	if l.MaxBytes <= 0 {
		l.MaxBytes = 1 << 20
	}
	if l.Files <= 0 {
		l.Files = 4
	}
	return l
}

// rotator is an io.Writer over a bounded set of rotated files.
type rotator struct {
	path  string
	max   int64
	files int
	f     *os.File
	size  int64
}

func openRotator(l Logs, name string) (*rotator, error) {
	l = l.withDefaults()
	r := &rotator{path: filepath.Join(l.Dir, name+".log"), max: l.MaxBytes, files: l.Files}
	if err := r.open(); err != nil {
		return nil, err
	}
	return r, nil
}

func (r *rotator) open() error {
	f, err := os.OpenFile(r.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return err
	}
	r.f, r.size = f, st.Size()
	return nil
}

func (r *rotator) rotate() error {
	r.f.Close()
	r.f = nil
	if r.files == 1 {
		if err := os.Remove(r.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return r.open()
	}
	if err := os.Remove(r.path + "." + strconv.Itoa(r.files-1)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	for i := r.files - 2; i >= 1; i-- {
		err := os.Rename(r.path+"."+strconv.Itoa(i), r.path+"."+strconv.Itoa(i+1))
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	if err := os.Rename(r.path, r.path+".1"); err != nil {
		return err
	}
	return r.open()
}

// Write writes p, rotating at the bound; a file ends at a line's end when
// the line fits.
func (r *rotator) Write(p []byte) (int, error) {
	n := 0
	for len(p) > 0 {
		if r.f == nil {
			return n, errors.New("runtime: log closed")
		}
		if r.size >= r.max {
			if err := r.rotate(); err != nil {
				return n, err
			}
		}
		k := min(int64(len(p)), r.max-r.size)
		if k < int64(len(p)) && r.size > 0 {
			// Finish the file at the last whole line that fits, if any.
			if i := bytes.LastIndexByte(p[:k], '\n'); i >= 0 {
				k = int64(i + 1)
			} else {
				k = 0
			}
			if k == 0 {
				if err := r.rotate(); err != nil {
					return n, err
				}
				continue
			}
		}
		w, err := r.f.Write(p[:k])
		n += w
		r.size += int64(w)
		if err != nil {
			return n, err
		}
		p = p[k:]
	}
	return n, nil
}

func (r *rotator) Close() error {
	if r.f == nil {
		return nil
	}
	err := r.f.Close()
	r.f = nil
	return err
}

// logPump copies a process's named pipe into its rotator.
type logPump struct {
	fifo string
	r    *os.File
	rot  *rotator
	done chan struct{}
	once sync.Once
}

func fifoPath(dir, name string) string { return filepath.Join(dir, name+".pipe") }

// newLogPipe creates the named pipe and the pump; child is the process's
// end (standard output and error), to be closed once it is started.
func newLogPipe(l Logs, name string) (p *logPump, child *os.File, err error) {
	if err := os.MkdirAll(l.Dir, 0o750); err != nil {
		return nil, nil, err
	}
	fifo := fifoPath(l.Dir, name)
	_ = os.Remove(fifo) // a previous process's
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		return nil, nil, fmt.Errorf("runtime: log pipe: %w", err)
	}
	p, err = openPump(l, name)
	if err != nil {
		os.Remove(fifo)
		return nil, nil, err
	}
	// Read and write, so that the process itself keeps a reader: its
	// output survives the server (see Logs). A descriptor of its own
	// (not the pump's open file description, which Go makes non-blocking).
	fd, err := syscall.Open(fifo, syscall.O_RDWR|syscall.O_CLOEXEC, 0)
	if err != nil {
		p.abort()
		return nil, nil, fmt.Errorf("runtime: log pipe: %w", err)
	}
	return p, os.NewFile(uintptr(fd), fifo), nil
}

// openPump opens the existing named pipe of name and starts copying.
func openPump(l Logs, name string) (*logPump, error) {
	fifo := fifoPath(l.Dir, name)
	r, err := os.OpenFile(fifo, os.O_RDWR, 0)
	if err != nil {
		return nil, fmt.Errorf("runtime: log pipe: %w", err)
	}
	rot, err := openRotator(l, name)
	if err != nil {
		r.Close()
		return nil, err
	}
	p := &logPump{fifo: fifo, r: r, rot: rot, done: make(chan struct{})}
	go p.run()
	return p, nil
}

func (p *logPump) run() {
	defer close(p.done)
	defer p.rot.Close()
	buf := make([]byte, 32<<10)
	for {
		n, err := p.r.Read(buf)
		if n > 0 {
			_, _ = p.rot.Write(buf[:n]) // a full disk loses output, never the process
		}
		if err != nil {
			return
		}
	}
}

// finish drains what the process left in the pipe (a bounded while: a
// writer that goes on is cut off) and closes everything.
func (p *logPump) finish() {
	p.once.Do(func() {
		if p.r.SetReadDeadline(time.Now().Add(250*time.Millisecond)) != nil {
			p.r.Close() // not pollable (never on Linux): end the read this way
		}
		timer := time.NewTimer(2 * time.Second)
		select {
		case <-p.done:
		case <-timer.C: // a read the close could not wake: leave it
		}
		timer.Stop()
		p.r.Close()
		os.Remove(p.fifo)
	})
}

// abort is finish for a process that never started.
func (p *logPump) abort() {
	p.r.Close()
	p.finish()
}

// TailLog returns the last n lines of the log <dir>/<name>.log and its
// rotated predecessors, oldest first (reading at most the last 4 MiB).
func TailLog(dir, name string, n int) ([]string, error) {
	if n <= 0 {
		return nil, nil
	}
	base := filepath.Join(dir, name+".log")
	const maxRead = 4 << 20
	var data []byte
	for i := 0; len(data) < maxRead; i++ {
		p := base
		if i > 0 {
			p += "." + strconv.Itoa(i)
		}
		b, err := readTail(p, maxRead-len(data))
		if errors.Is(err, os.ErrNotExist) {
			if i == 0 {
				continue // rotated away this instant: the older files remain
			}
			break
		}
		if err != nil {
			return nil, err
		}
		data = append(b, data...)
		if bytes.Count(data, []byte{'\n'}) > n {
			break
		}
	}
	data = bytes.TrimSuffix(data, []byte{'\n'})
	if len(data) == 0 {
		return nil, nil
	}
	lines := bytes.Split(data, []byte{'\n'})
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	out := make([]string, len(lines))
	for i, l := range lines {
		out[i] = string(l)
	}
	return out, nil
}

// readTail reads the last limit bytes of the file at p.
func readTail(p string, limit int) ([]byte, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	off := max(0, st.Size()-int64(limit))
	return io.ReadAll(io.NewSectionReader(f, off, st.Size()-off))
}
