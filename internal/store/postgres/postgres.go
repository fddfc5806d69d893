// Package postgres implements store.Store on PostgreSQL (github.com/jackc/pgx/v5
// and its connection pool), for several openfinspace processes sharing one
// metadata database.
//
// # Layout
//
// One table, records, in the first schema of the connection's search_path
// (add search_path=<schema> to the URL to keep openfinspace in its own
// schema), with the indexes of the SQLite implementation, and
// schema_migrations. Open applies pending migrations in one transaction,
// under an advisory lock, so processes starting together migrate once.
//
// # Transactions
//
// Update runs fn in a SERIALIZABLE transaction, the guarantee the SQLite
// implementation gives by having one writer: a check inside fn (a Count
// against a quota, a Get before an Insert) still holds when fn commits,
// across processes. PostgreSQL reports a transaction that cannot be
// serialized, or a deadlock, with SQLSTATE 40001 or 40P01; Update then rolls
// back, restores rec.Version of every record the attempt changed, waits a
// jittered, growing pause and calls fn again, up to a number of attempts
// (WithRetries). Those are the only cases in which fn runs more than once;
// an attempt in which any statement failed that way is retried even if fn
// swallowed the error.
//
// Tx.Update is optimistic: UPDATE … WHERE kind = $1 AND id = $2 AND
// version = $3. Two transactions updating the same version of a record
// cannot both succeed, whatever the isolation: the second waits for the
// first's row lock and then fails (40001, retried: fn then meets the new
// version and gets store.ErrVersion if it still holds the old one).
//
// Tx.Insert is INSERT … ON CONFLICT DO NOTHING, and no store error (ErrExists,
// ErrVersion, ErrNotFound, ErrInvalidKey) comes from a failed statement, so
// a transaction stays usable after one, as in SQLite.
//
// View runs fn in a REPEATABLE READ READ ONLY transaction: one consistent
// snapshot, taken at its first statement; writes fail with ErrReadOnly
// before reaching the server.
//
// Statements are prepared once per connection (pgx's statement cache).
// Listings send LIMIT, so the server stops at the page. A View reading one
// record costs three round trips (BEGIN, SELECT, ROLLBACK) and an Update
// inserting one three plus the commit's WAL flush: on loopback that is a
// few hundred microseconds where SQLite takes ten (bench/README.md).
//
// # Context
//
// Every statement honours its context: pgx interrupts a statement whose
// context is done (the connection is then discarded), and Update refuses to
// commit once its context is done. A commit interrupted in flight may or
// may not have taken effect, as with any database.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/url"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/openfinspace/openfinspace/internal/store"
)

// Errors specific to this implementation. Compare with errors.Is.
var (
	// ErrReadOnly is returned by writes in a View transaction.
	ErrReadOnly = errors.New("store/postgres: write in a read-only transaction")
	// ErrClosed is returned by every operation on a closed Store.
	ErrClosed = errors.New("store/postgres: store is closed")
	// ErrSchemaTooNew means the database was migrated by a newer release
	// than this binary; Open refuses it rather than risk damaging it.
	ErrSchemaTooNew = errors.New("store/postgres: database schema is newer than this binary supports")
	// ErrConflict wraps the last serialization failure or deadlock when
	// Update gave up after its attempts.
	ErrConflict = errors.New("store/postgres: transaction kept conflicting with concurrent ones")
)

// Defaults used by Open.
const (
	DefaultRetries    = 20
	DefaultMinBackoff = time.Millisecond
	DefaultMaxBackoff = 200 * time.Millisecond
)

type options struct {
	retries                int
	minBackoff, maxBackoff time.Duration
	maxConns               int32
}

// Option configures Open.
type Option func(*options)

// WithRetries sets how many times Update calls fn again after a
// serialization failure or a deadlock (default DefaultRetries; 0 disables
// retries).
func WithRetries(n int) Option { return func(o *options) { o.retries = n } }

// WithBackoff sets the pause before the first retry and its cap; each retry
// doubles it, jittered.
func WithBackoff(first, limit time.Duration) Option {
	return func(o *options) { o.minBackoff, o.maxBackoff = first, limit }
}

// WithMaxConns sets the size of the connection pool (default pgxpool's,
// max(4, GOMAXPROCS), or pool_max_conns in the URL).
func WithMaxConns(n int) Option { return func(o *options) { o.maxConns = int32(n) } }

// Store is a store.Store backed by a PostgreSQL database.
type Store struct {
	pool   *pgxpool.Pool
	opts   options
	closed atomic.Bool
	// retried counts attempts retried after a conflict (tests, metrics).
	retried atomic.Uint64
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (postgres://user:password@host:port/db?…,
// any setting pgx accepts, e.g. sslmode, search_path, pool_max_conns),
// applies pending schema migrations and returns the store. ctx bounds the
// connection and the migrations. Errors never include the password.
func Open(ctx context.Context, url string, opts ...Option) (*Store, error) {
	o := options{retries: DefaultRetries, minBackoff: DefaultMinBackoff, maxBackoff: DefaultMaxBackoff}
	for _, opt := range opts {
		opt(&o)
	}
	if o.retries < 0 || o.minBackoff < 0 || o.maxBackoff < o.minBackoff || o.maxConns < 0 {
		return nil, fmt.Errorf("store/postgres: invalid options (retries %d, backoff %v..%v, max conns %d)",
			o.retries, o.minBackoff, o.maxBackoff, o.maxConns)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors redact the password.
		return nil, fmt.Errorf("store/postgres: %w", err)
	}
	if o.maxConns > 0 {
		cfg.MaxConns = o.maxConns
	}
	where := describe(cfg)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("store/postgres: %s: %w", where, err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("store/postgres: connect to %s: %w", where, err)
	}
	if err := migrate(ctx, pool, migrations); err != nil {
		pool.Close()
		if errors.Is(err, ErrSchemaTooNew) {
			return nil, fmt.Errorf("%w (%s)", err, where)
		}
		return nil, fmt.Errorf("store/postgres: open %s: %w", where, err)
	}
	return &Store{pool: pool, opts: o}, nil
}

// describe names the database for messages, without credentials.
func describe(cfg *pgxpool.Config) string {
	c := cfg.ConnConfig
	u := url.URL{Scheme: "postgres", Host: fmt.Sprintf("%s:%d", c.Host, c.Port), Path: "/" + c.Database}
	if c.User != "" {
		u.User = url.User(c.User)
	}
	if sp := c.RuntimeParams["search_path"]; sp != "" {
		u.RawQuery = url.Values{"search_path": {sp}}.Encode()
	}
	return u.String()
}

// Close closes the pool, waiting for connections in use to be released.
// Close is idempotent.
func (s *Store) Close() error {
	if s.closed.Swap(true) {
		return nil
	}
	s.pool.Close()
	return nil
}

// Update runs fn in a SERIALIZABLE transaction and commits it if fn returns
// nil. An error from fn rolls back and is returned unchanged; a panic in fn
// rolls back and re-panics. fn is called again only after a serialization
// failure or a deadlock (see the package documentation).
func (s *Store) Update(ctx context.Context, fn func(store.Tx) error) error {
	return s.update(ctx, pgx.Serializable, fn)
}

func (s *Store) update(ctx context.Context, iso pgx.TxIsoLevel, fn func(store.Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	backoff := s.opts.minBackoff
	for attempt := 0; ; attempt++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err, conflict := s.updateOnce(ctx, iso, fn)
		if conflict == nil {
			return err
		}
		if attempt >= s.opts.retries {
			if err == conflict {
				return fmt.Errorf("%w after %d attempts: %w", ErrConflict, attempt+1, conflict)
			}
			return err // fn's own error, from an attempt that also conflicted
		}
		s.retried.Add(1)
		d := backoff/2 + rand.N(backoff+1)
		backoff = min(2*backoff, s.opts.maxBackoff)
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// updateOnce runs one attempt. conflict is non-nil when the attempt failed
// with a serialization failure or deadlock and may be retried; err is then
// what Update returns if it does not retry.
func (s *Store) updateOnce(ctx context.Context, iso pgx.TxIsoLevel, fn func(store.Tx) error) (err, conflict error) {
	pgtx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: iso})
	if err != nil {
		err = s.wrap(ctx, "begin", err)
		if isConflict(err) {
			return err, err
		}
		return err, nil
	}
	t := &tx{tx: pgtx}
	committed := false
	defer func() {
		t.done = true
		if !committed {
			rollback(ctx, pgtx)
			t.restore()
		}
	}()
	ferr := fn(t)
	if t.conflict != nil {
		if ferr == nil {
			ferr = t.conflict
		}
		return ferr, t.conflict
	}
	if ferr != nil {
		return ferr, nil
	}
	if err := ctx.Err(); err != nil {
		return err, nil
	}
	if err := pgtx.Commit(ctx); err != nil {
		err = s.wrap(ctx, "commit", err)
		if isConflict(err) {
			return err, err
		}
		return err, nil
	}
	committed = true
	return nil, nil
}

// rollback ends a transaction that will not commit. It runs even when ctx
// is done (a failed rollback would cost the connection), bounded in time.
func rollback(ctx context.Context, pgtx pgx.Tx) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_ = pgtx.Rollback(rctx)
}

// View runs fn in a REPEATABLE READ READ ONLY transaction. Writes in fn fail
// with ErrReadOnly. An error from fn is returned unchanged; a panic in fn
// re-panics after the transaction is released.
func (s *Store) View(ctx context.Context, fn func(store.Tx) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	pgtx, err := s.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return s.wrap(ctx, "begin read", err)
	}
	t := &tx{tx: pgtx, readOnly: true}
	defer func() {
		t.done = true
		rollback(ctx, pgtx) // a read-only transaction has nothing to commit
	}()
	return fn(t)
}

// expiryBatch bounds the rows one DeleteExpired transaction removes.
const expiryBatch = 1000

// sqlDeleteExpired removes one batch. It runs at READ COMMITTED: each row
// is locked and its expiry checked again at its latest version, and rows
// another transaction holds are left for the next sweep, so sweeps by
// several processes neither conflict nor wait.
const sqlDeleteExpired = `DELETE FROM records WHERE (kind, id) IN (
	SELECT kind, id FROM records WHERE expires_at <> 0 AND expires_at < $1
	LIMIT $2 FOR UPDATE SKIP LOCKED)`

// DeleteExpired removes records whose ExpiresAt is non-zero and before now,
// in batches of at most expiryBatch rows per transaction. It returns the
// number removed (also when it stops early with an error).
func (s *Store) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	cutoff := now.UnixMilli()
	total := 0
	for {
		var n int64
		err := s.update(ctx, pgx.ReadCommitted, func(st store.Tx) error {
			t := st.(*tx)
			tag, err := t.exec(ctx, "delete expired", sqlDeleteExpired, cutoff, expiryBatch)
			n = tag.RowsAffected()
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

// wrap decorates a driver error; when ctx is done the context error is
// wrapped too, so errors.Is(err, context.Canceled) holds.
func (s *Store) wrap(ctx context.Context, op string, err error) error {
	if err == nil {
		return nil
	}
	if s.closed.Load() {
		return fmt.Errorf("%w (%s: %v)", ErrClosed, op, err)
	}
	return dbErr(ctx, op, err)
}

// dbErr decorates a driver error with the operation and, when ctx is done,
// the context error.
func dbErr(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("store/postgres: %s: %w (%w)", op, cerr, err)
	}
	return fmt.Errorf("store/postgres: %s: %w", op, err)
}

// isConflict reports a serialization failure (40001) or a deadlock (40P01).
func isConflict(err error) bool {
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return false
	}
	return e.Code == "40001" || e.Code == "40P01"
}
