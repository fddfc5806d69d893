// Package sqlite implements store.Store on an embedded SQLite database
// (modernc.org/sqlite, no cgo).
//
// # Layout
//
// The database is one file (the server uses <data-dir>/metadata.db) in WAL
// mode, plus its -wal and -shm companions. Open creates missing parent
// directories with mode 0700 and a missing database file with mode 0600;
// SQLite gives the -wal and -shm files the mode of the database file.
//
// # Durability
//
// The writer connection runs with PRAGMA synchronous=FULL by default: a
// transaction that Update reported as committed has been fsynced to the WAL
// and survives a process crash and a power loss. [WithSynchronous] can select
// NORMAL, which in WAL mode still never corrupts the database but may lose the
// last transactions on a power loss (not on a process crash).
//
// # Concurrency
//
// Writes go through a single connection: Update begins with BEGIN IMMEDIATE,
// so at most one write transaction runs at a time and concurrent Update
// calls queue (honouring their context) instead of failing. View runs on a
// separate pool of read-only connections; in WAL mode readers see a
// consistent snapshot and never wait for the writer, and the writer never
// waits for readers.
//
// Update retries when SQLite reports the database busy or locked (another
// process holds the write lock longer than the busy timeout): the
// transaction is rolled back and fn is called again, a few times with a small
// backoff. That is the only case in which fn runs more than once for one
// Update call, so fn must not have side effects outside the transaction, or
// must tolerate being repeated.
//
// Nested calls are not supported: calling Update from inside an Update fn
// deadlocks (there is one writer connection). View inside an Update fn works
// but does not see the enclosing transaction's uncommitted writes.
//
// # Versions and rollback
//
// Tx.Insert sets rec.Version to 1 and Tx.Update increments rec.Version as
// soon as the statement succeeds, so later statements in the same
// transaction see the new version. If the transaction does not commit (fn
// returned an error or panicked, the commit failed, or the context was
// cancelled), every rec.Version changed by the transaction is restored to
// the value it had before, so the caller's records again match the store and
// can be retried as they are.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/openfinspace/openfinspace/internal/store"
)

// Errors specific to this implementation. Compare with errors.Is.
var (
	// ErrReadOnly is returned by writes in a View transaction.
	ErrReadOnly = errors.New("store/sqlite: write in a read-only transaction")
	// ErrClosed is returned by every operation on a closed Store.
	ErrClosed = errors.New("store/sqlite: store is closed")
	// ErrInUse means another Store (in this or another process) has the
	// database open.
	ErrInUse = errors.New("store/sqlite: the database is in use by another process")
	// ErrSchemaTooNew means the database was migrated by a newer release
	// than this binary; Open refuses it rather than risk damaging it.
	ErrSchemaTooNew = errors.New("store/sqlite: database schema is newer than this binary supports")
)

// Synchronous is the PRAGMA synchronous level of the writer connection.
type Synchronous string

const (
	// SynchronousFull fsyncs the WAL on every commit: nothing committed is
	// lost on a crash or power loss. The default.
	SynchronousFull Synchronous = "FULL"
	// SynchronousNormal fsyncs only at checkpoints: no corruption, but the
	// last commits may be lost on a power loss (not on a process crash).
	SynchronousNormal Synchronous = "NORMAL"
)

// Defaults used by Open.
const (
	DefaultBusyTimeout = 5 * time.Second
	DefaultBusyRetries = 3
)

type options struct {
	sync        Synchronous
	busyTimeout time.Duration
	readConns   int
	busyRetries int
}

// Option configures Open.
type Option func(*options)

// WithSynchronous sets PRAGMA synchronous on the writer connection
// (default SynchronousFull).
func WithSynchronous(s Synchronous) Option { return func(o *options) { o.sync = s } }

// WithBusyTimeout sets PRAGMA busy_timeout on every connection: how long a
// statement waits for a lock held by another connection or process before
// failing with SQLITE_BUSY (default DefaultBusyTimeout).
func WithBusyTimeout(d time.Duration) Option { return func(o *options) { o.busyTimeout = d } }

// WithReadConns sets the size of the read-only connection pool used by View
// (default max(4, GOMAXPROCS)).
func WithReadConns(n int) Option { return func(o *options) { o.readConns = n } }

// WithBusyRetries sets how many times Update retries a transaction that
// failed with SQLITE_BUSY or SQLITE_LOCKED (default DefaultBusyRetries;
// 0 disables retries).
func WithBusyRetries(n int) Option { return func(o *options) { o.busyRetries = n } }

// Store is a store.Store backed by one SQLite database file.
type Store struct {
	path    string
	w       *sql.DB   // one connection, BEGIN IMMEDIATE
	r       *readPool // read-only connections (see read.go)
	commits atomic.Uint64
	lock    *os.File // held for the store's life: no other process writes
	wst     map[string]*sql.Stmt
	retries int
	closed  atomic.Bool
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database at path, applies pending
// schema migrations and returns the store. ctx bounds the migrations.
func Open(ctx context.Context, path string, opts ...Option) (*Store, error) {
	o := options{
		sync:        SynchronousFull,
		busyTimeout: DefaultBusyTimeout,
		readConns:   max(4, runtime.GOMAXPROCS(0)),
		busyRetries: DefaultBusyRetries,
	}
	for _, opt := range opts {
		opt(&o)
	}
	switch o.sync {
	case SynchronousFull, SynchronousNormal:
	default:
		return nil, fmt.Errorf("store/sqlite: unsupported synchronous level %q", o.sync)
	}
	if o.busyTimeout < 0 || o.readConns < 1 || o.busyRetries < 0 {
		return nil, fmt.Errorf("store/sqlite: invalid options (busy timeout %v, read conns %d, retries %d)",
			o.busyTimeout, o.readConns, o.busyRetries)
	}
	if path == "" || path == ":memory:" || strings.HasPrefix(path, "file:") {
		return nil, fmt.Errorf("store/sqlite: path %q must name a database file", path)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(abs), 0o700); err != nil {
		return nil, fmt.Errorf("store/sqlite: create data directory: %w", err)
	}
	lock, err := lockFile(abs + lockSuffix)
	if err != nil {
		return nil, err
	}
	s, err := open(ctx, abs, o)
	if err != nil {
		lock.Close()
		return nil, err
	}
	s.lock = lock
	return s, nil
}

// lockSuffix names the file beside the database that Open locks.
const lockSuffix = ".lock"

// lockFile takes an exclusive lock on path (creating it, mode 0600) that the
// kernel releases when the process exits, however it exits.
func lockFile(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s is locked (%s)", ErrInUse, strings.TrimSuffix(path, lockSuffix), path)
		}
		return nil, fmt.Errorf("store/sqlite: locking %s: %w", path, err)
	}
	return f, nil
}

func open(ctx context.Context, abs string, o options) (*Store, error) {
	// Create the file ourselves so that it gets mode 0600; SQLite would use
	// 0644. SQLite gives -wal and -shm the database file's mode.
	if err := createFile(abs); err != nil {
		return nil, fmt.Errorf("store/sqlite: create database file: %w", err)
	}

	busyMS := strconv.FormatInt(o.busyTimeout.Milliseconds(), 10)
	uri := "file:" + escapePath(abs)
	wdsn := uri + "?mode=rw&_txlock=immediate" +
		"&_pragma=busy_timeout(" + busyMS + ")" +
		"&_pragma=journal_mode(WAL)" +
		"&_pragma=synchronous(" + string(o.sync) + ")" +
		"&_pragma=foreign_keys(1)"
	rdsn := uri + "?mode=ro" +
		"&_pragma=busy_timeout(" + busyMS + ")" +
		"&_pragma=foreign_keys(1)" +
		"&_pragma=query_only(1)"

	w, err := sql.Open("sqlite", wdsn)
	if err != nil {
		return nil, fmt.Errorf("store/sqlite: open %s: %w", abs, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)

	if err := checkWAL(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("store/sqlite: open %s: %w", abs, err)
	}
	if err := migrate(ctx, w, migrations); err != nil {
		w.Close()
		if errors.Is(err, ErrSchemaTooNew) {
			return nil, fmt.Errorf("%w (%s)", err, abs)
		}
		return nil, fmt.Errorf("store/sqlite: open %s: %w", abs, err)
	}

	s := &Store{path: abs, w: w, retries: o.busyRetries}
	r := newReadPool(rdsn, o.readConns, &s.commits)
	rc, err := r.get(ctx)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("store/sqlite: open %s read-only: %w", abs, err)
	}
	r.put(rc, false)
	wst, err := prepareAll(ctx, w, true)
	if err != nil {
		r.close()
		w.Close()
		return nil, fmt.Errorf("store/sqlite: open %s: %w", abs, err)
	}
	s.r, s.wst = r, wst
	return s, nil
}

// createFile creates path with mode 0600 unless it exists, and makes the new
// directory entry durable.
func createFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// checkWAL makes sure the DSN pragmas took effect: the store's concurrency
// and durability rest on WAL mode.
func checkWAL(ctx context.Context, db *sql.DB) error {
	var mode string
	if err := db.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return err
	}
	if !strings.EqualFold(mode, "wal") {
		return fmt.Errorf("journal_mode is %q, want wal (does the file system support WAL?)", mode)
	}
	return nil
}

// escapePath makes an absolute file path safe inside a SQLite file: URI.
func escapePath(p string) string {
	p = filepath.ToSlash(p)
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		if c <= ' ' || c >= 0x7f || c == '?' || c == '#' || c == '%' || c == '&' || c == '=' {
			fmt.Fprintf(&b, "%%%02X", c)
			continue
		}
		b.WriteByte(c)
	}
	return b.String()
}

// Path returns the absolute path of the database file.
func (s *Store) Path() string { return s.path }

// Close closes the store. The last connection to close checkpoints the WAL
// into the database file. Close is idempotent.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	// Readers first, so that the writer is the last connection and can
	// checkpoint and remove the WAL.
	s.r.close()
	closeAll(s.wst)
	err := s.w.Close()
	if s.lock != nil {
		s.lock.Close() // releases the lock
	}
	return err
}

// Update runs fn in a read-write transaction and commits it if fn returns
// nil. An error from fn rolls back and is returned unchanged; a panic in fn
// rolls back and re-panics. fn may be called more than once, but only when
// an attempt failed because the database was busy or locked (see the package
// documentation).
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	backoff := 5 * time.Millisecond
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := s.updateOnce(ctx, fn)
		if err == nil || attempt >= s.retries || !isBusy(err) {
			return err
		}
		// Jittered exponential backoff.
		d := backoff/2 + rand.N(backoff)
		backoff *= 2
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

func (s *Store) updateOnce(ctx context.Context, fn func(store.Tx) error) (err error) {
	sqltx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.wrap(ctx, "begin", err)
	}
	t := &tx{tx: sqltx, prepared: s.wst}
	committed := false
	defer func() {
		t.done = true
		if !committed {
			_ = sqltx.Rollback()
			t.restore()
		}
	}()
	if err := fn(t); err != nil {
		return err
	}
	// The commit counter is odd while a commit is in flight and advances
	// again once it is over, whether or not COMMIT reported an error: a
	// reader reuses a snapshot only at the even value it began at (see
	// read.go).
	s.commits.Add(1)
	err = sqltx.Commit()
	s.commits.Add(1)
	s.r.endIdle()
	if err != nil {
		return s.wrap(ctx, "commit", err)
	}
	committed = true
	return nil
}

// View runs fn in a read-only transaction with a consistent snapshot.
// Writes in fn fail with ErrReadOnly. An error from fn is returned
// unchanged; a panic in fn re-panics after the transaction is released.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	rc, err := s.r.get(ctx)
	if err != nil {
		return s.wrap(ctx, "begin read", err)
	}
	if err := rc.snapshot(s.commits.Load()); err != nil {
		s.r.put(rc, true)
		return s.wrap(ctx, "begin read", err)
	}
	t := &rtx{rc: rc}
	defer func() {
		t.done = true
		s.r.put(rc, false)
	}()
	return fn(t)
}

// expiryBatch bounds the rows one DeleteExpired transaction removes, so the
// writer is never held for long.
const expiryBatch = 1000

// DeleteExpired removes records whose ExpiresAt is non-zero and before now,
// in batches of at most expiryBatch rows per transaction. It returns the
// number removed (also when it stops early with an error).
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	cutoff := now.UnixMilli()
	total := 0
	for {
		var n int64
		err := s.updateRaw(ctx, func(t *tx) error {
			res, err := t.exec(ctx, sqlDeleteExpired, cutoff, expiryBatch)
			if err != nil {
				return err
			}
			n, err = res.RowsAffected()
			return err
		})
		if err != nil {
			return total, err
		}
		total += int(n)
		if n < expiryBatch {
			return total, nil
		}
	}
}

// updateRaw runs fn on a write transaction, with Update's retries.
func (s *Store) updateRaw(ctx context.Context, fn func(*tx) error) error {
	return s.Update(ctx, func(t store.Tx) error { return fn(t.(*tx)) })
}

// wrap decorates a driver error; when ctx is done the context error is
// wrapped too, so errors.Is(err, context.Canceled) holds.
func (s *Store) wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if s.closed.Load() {
		return fmt.Errorf("%w (%s: %v)", ErrClosed, op, err)
	}
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("store/sqlite: %s: %w (%w)", op, cerr, err)
	}
	return fmt.Errorf("store/sqlite: %s: %w", op, err)
}

// isBusy reports whether err is SQLITE_BUSY or SQLITE_LOCKED (any extended
// code).
func isBusy(err error) bool {
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Code() & 0xff {
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return true
	}
	return false
}
