package sqlite

import (
	"bytes"
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	sqlite "modernc.org/sqlite"

	"github.com/openfinspace/openfinspace/internal/store"
)

// Reads (View) run on a pool of read-only connections the store manages
// itself, at the driver level, instead of through database/sql: a read is
// the API's hot path, and database/sql adds per call a connection-pool
// round trip, an unprepared BEGIN and ROLLBACK parsed by sqlite3_exec, two
// goroutines watching the context (one for the transaction, one for the
// result set), and value conversion through reflection. Here every statement,
// BEGIN and ROLLBACK included, is prepared once per connection, and
// statements run with a context that cannot be cancelled, so the driver
// starts no goroutine. Cancellation is checked between statements and every
// cancelCheckRows rows of a listing instead: reads are short, bounded by a
// page, and never wait for the writer (WAL).
//
// # Snapshot reuse
//
// Starting a read transaction in WAL mode costs two fcntl system calls (a
// shared lock on a read mark, and its release) besides BEGIN and ROLLBACK.
// A connection therefore keeps its read transaction open after a View
// returns, and the next View on it reuses that snapshot when no write has
// committed since it began: it is then exactly the latest committed state,
// which is what a new transaction would see. Every View still runs in one
// real SQLite read transaction. Within a reused snapshot the records Get
// returned are remembered (memo), so a hot record is read from SQLite once
// per snapshot rather than once per request.
//
// Knowing that nothing committed rests on two things: every write goes
// through this Store's single writer, which advances Store.commits before
// and after each COMMIT (odd while one is in flight), so a View that starts
// after Update returned sees the change and a View never sees an older state
// than an earlier one; and no other process writes the database, which Open
// enforces with an exclusive lock on a file beside it (tools such as the
// sqlite3 shell must not write while the server runs). A connection
// whose snapshot is out of date is rolled back when it is next used, when it
// is released, and (if idle) right after each commit, so an old snapshot does
// not hold back WAL checkpoints.

const cancelCheckRows = 256

const (
	sqlBegin    = `BEGIN`
	sqlRollback = `ROLLBACK`
)

// memoLimit caps the records remembered per connection and snapshot.
const memoLimit = 1024

type memoKey struct{ kind, id string }

// readConn is one read-only connection with its prepared statements.
type readConn struct {
	conn  driver.Conn
	stmts map[string]driver.Stmt
	dest  []driver.Value // scratch row, reused

	// inTx: a read transaction is open, begun when Store.commits was at.
	inTx bool
	at   uint64
	// memo holds what Get returned in the open transaction; a nil value
	// means not found. Returned records are copies.
	memo map[memoKey]*store.Record
}

func openReadConn(dsn string) (*readConn, error) {
	c, err := (&sqlite.Driver{}).Open(dsn)
	if err != nil {
		return nil, err
	}
	rc := &readConn{conn: c, stmts: make(map[string]driver.Stmt), dest: make([]driver.Value, 8), memo: make(map[memoKey]*store.Record)}
	prep, ok := c.(driver.ConnPrepareContext)
	if !ok {
		c.Close()
		return nil, errors.New("store/sqlite: driver connection cannot prepare statements")
	}
	for _, q := range append(statements(false), sqlBegin, sqlRollback) {
		st, err := prep.PrepareContext(context.Background(), q)
		if err != nil {
			rc.close()
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
		rc.stmts[q] = st
	}
	return rc, nil
}

func (rc *readConn) close() {
	for _, st := range rc.stmts {
		st.Close()
	}
	rc.conn.Close()
}

// snapshot makes sure rc has a read transaction that began when the store's
// commit counter was at now. An open one is reused only if it began at the
// same even value: no commit has started since, so it holds the latest
// committed state. (Two transactions begun while a commit was in flight, at
// the same odd value, may differ: one may include the commit.)
func (rc *readConn) snapshot(now uint64) error {
	if rc.inTx && rc.at == now && now%2 == 0 {
		return nil
	}
	if err := rc.end(); err != nil {
		return err
	}
	if err := rc.exec(sqlBegin); err != nil {
		return err
	}
	rc.inTx, rc.at = true, now
	return nil
}

// end closes rc's read transaction, if any, and forgets its memo.
func (rc *readConn) end() error {
	if !rc.inTx {
		return nil
	}
	rc.inTx = false
	clear(rc.memo)
	return rc.exec(sqlRollback)
}

// exec runs a prepared statement that returns no rows.
func (rc *readConn) exec(query string) error {
	_, err := rc.stmts[query].(driver.StmtExecContext).ExecContext(context.Background(), nil)
	return err
}

// query runs a prepared statement.
func (rc *readConn) query(query string, args []driver.NamedValue) (driver.Rows, error) {
	st, ok := rc.stmts[query]
	if !ok {
		return nil, fmt.Errorf("store/sqlite: statement not prepared: %q", query)
	}
	return st.(driver.StmtQueryContext).QueryContext(context.Background(), args)
}

// readPool hands out at most cap(idle) connections, opening them on first
// use and keeping them for the store's life.
//
// Every possible connection is at any time exactly one of: a token in slots
// (not opened), in idle, or in use; close counts them all back.
type readPool struct {
	dsn     string
	commits *atomic.Uint64 // the Store's commit counter
	slots   chan struct{}  // one token per connection that may still be opened
	idle    chan *readConn // open connections not in use
	done    chan struct{}  // closed by close
	closed  atomic.Bool
}

func newReadPool(dsn string, size int, commits *atomic.Uint64) *readPool {
	p := &readPool{dsn: dsn, commits: commits, slots: make(chan struct{}, size), idle: make(chan *readConn, size), done: make(chan struct{})}
	for range size {
		p.slots <- struct{}{}
	}
	return p
}

// get returns an idle connection, opens one if the pool is not full, or
// waits for one to be released (honouring ctx).
func (p *readPool) get(ctx context.Context) (*readConn, error) {
	select {
	case rc := <-p.idle:
		return rc, nil
	default:
	}
	select {
	case rc := <-p.idle:
		return rc, nil
	case <-p.slots:
		rc, err := openReadConn(p.dsn)
		if err != nil {
			p.slots <- struct{}{}
			return nil, err
		}
		return rc, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-p.done:
		return nil, ErrClosed
	}
}

// put returns rc to the pool; a broken connection (or one released after
// Close) is closed and its slot freed. A snapshot that a commit has made out
// of date is released first.
func (p *readPool) put(rc *readConn, broken bool) {
	if !broken && rc.inTx && rc.at != p.commits.Load() {
		broken = rc.end() != nil
	}
	if broken || p.closed.Load() {
		rc.close()
		p.slots <- struct{}{}
		return
	}
	p.idle <- rc
}

// endIdle ends the out-of-date read transactions of idle connections (the
// writer calls it after each commit), so that they do not hold back WAL
// checkpoints while nobody reads.
func (p *readPool) endIdle() {
	now := p.commits.Load()
	for range cap(p.idle) {
		var rc *readConn
		select {
		case rc = <-p.idle:
		default:
			return
		}
		stale := rc.inTx && rc.at != now
		p.put(rc, stale && rc.end() != nil)
	}
}

// close closes every connection, waiting for those in use to be released.
func (p *readPool) close() {
	p.closed.Store(true)
	close(p.done)
	for range cap(p.slots) {
		select {
		case rc := <-p.idle:
			rc.close()
		case <-p.slots:
		}
	}
}

// rtx is a read-only transaction on a readConn.
type rtx struct {
	rc   *readConn
	done bool
}

var _ store.Tx = (*rtx)(nil)

func (t *rtx) check(ctx context.Context) error {
	if t.done {
		return errTxDone
	}
	return ctx.Err()
}

func (t *rtx) Get(ctx context.Context, kind, id string) (*store.Record, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	key := memoKey{kind, id}
	rec, seen := t.rc.memo[key]
	if !seen {
		var err error
		rec, err = t.get(kind, id)
		if err != nil {
			return nil, dbErr(ctx, "get", err)
		}
		if len(t.rc.memo) < memoLimit {
			t.rc.memo[key] = rec
		}
	}
	if rec == nil {
		return nil, fmt.Errorf("%w: %s %q", store.ErrNotFound, kind, id)
	}
	out := *rec
	out.Data = bytes.Clone(rec.Data)
	if out.Data == nil {
		out.Data = []byte{}
	}
	return &out, nil
}

// get reads one record from the database; nil when there is none.
func (t *rtx) get(kind, id string) (*store.Record, error) {
	rows, err := t.rc.query(sqlGet, []driver.NamedValue{{Ordinal: 1, Value: kind}, {Ordinal: 2, Value: id}})
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	rec, err := t.next(rows)
	if err == io.EOF {
		return nil, nil
	}
	return rec, err
}

func (t *rtx) List(ctx context.Context, q store.Query) ([]*store.Record, error) {
	if err := t.check(ctx); err != nil {
		return nil, err
	}
	if ok, err := store.CheckQuery(q); !ok {
		return nil, err
	}
	query, args := listSQL(q)
	rows, err := t.rc.query(query, namedArgs(args))
	if err != nil {
		return nil, dbErr(ctx, "list", err)
	}
	defer rows.Close()
	var out []*store.Record
	if q.Limit > 0 {
		out = make([]*store.Record, 0, min(q.Limit, 1000))
	}
	for i := 1; q.Limit == 0 || len(out) < q.Limit; i++ {
		rec, err := t.next(rows)
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return nil, dbErr(ctx, "list", err)
		}
		out = append(out, rec)
		if i%cancelCheckRows == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

func (t *rtx) Count(ctx context.Context, q store.Query) (int, error) {
	if err := t.check(ctx); err != nil {
		return 0, err
	}
	q.After, q.Limit = nil, 0
	if ok, err := store.CheckQuery(q); !ok {
		return 0, err
	}
	query, args := countSQL(q)
	rows, err := t.rc.query(query, namedArgs(args))
	if err != nil {
		return 0, dbErr(ctx, "count", err)
	}
	defer rows.Close()
	d := t.rc.dest[:1]
	if err := rows.Next(d); err != nil {
		return 0, dbErr(ctx, "count", err)
	}
	n, ok := d[0].(int64)
	if !ok {
		return 0, fmt.Errorf("store/sqlite: count has unexpected type %T", d[0])
	}
	clear(d)
	return int(n), nil
}

func namedArgs(args []any) []driver.NamedValue {
	named := make([]driver.NamedValue, len(args))
	for i, a := range args {
		named[i] = driver.NamedValue{Ordinal: i + 1, Value: a}
	}
	return named
}

// next reads one row of recordColumns.
func (t *rtx) next(rows driver.Rows) (*store.Record, error) {
	d := t.rc.dest
	if err := rows.Next(d); err != nil {
		return nil, err
	}
	var rec store.Record
	var ok [8]bool
	rec.Kind, ok[0] = d[0].(string)
	rec.ID, ok[1] = d[1].(string)
	rec.Parent, ok[2] = d[2].(string)
	rec.SortKey, ok[3] = d[3].(string)
	pending, ok4 := d[4].(int64)
	expires, ok5 := d[5].(int64)
	rec.Version, ok[6] = d[6].(int64)
	ok[4], ok[5] = ok4, ok5
	switch data := d[7].(type) {
	case []byte: // the driver copies blobs out of SQLite's memory
		rec.Data, ok[7] = data, true
	case nil:
		rec.Data, ok[7] = []byte{}, true
	}
	for i, good := range ok {
		if !good {
			return nil, fmt.Errorf("store/sqlite: column %d has unexpected type %T", i, d[i])
		}
	}
	rec.Pending = pending != 0
	rec.ExpiresAt = fromMillis(expires)
	clear(d)
	return &rec, nil
}

// Writes fail in a read-only transaction.

func (t *rtx) Insert(ctx context.Context, _ *store.Record) error { return t.refuse(ctx) }
func (t *rtx) Update(ctx context.Context, _ *store.Record) error { return t.refuse(ctx) }
func (t *rtx) Delete(ctx context.Context, _, _ string) error     { return t.refuse(ctx) }

func (t *rtx) refuse(ctx context.Context) error {
	if err := t.check(ctx); err != nil {
		return err
	}
	return ErrReadOnly
}
