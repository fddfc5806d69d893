package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/openfinspace/openfinspace/internal/store"
)

// tx implements store.Tx on a pgx transaction.
type tx struct {
	tx       pgx.Tx
	readOnly bool
	done     bool // set when the enclosing Update/View returns
	undo     []undo
	// conflict is the first serialization failure or deadlock a statement
	// met: the attempt is retried whatever fn does with the error.
	conflict error
}

// undo remembers a rec.Version to restore if the transaction rolls back.
type undo struct {
	rec     *store.Record
	version int64
}

var _ store.Tx = (*tx)(nil)

var errTxDone = errors.New("store/postgres: transaction used after Update or View returned")

// restore undoes rec.Version changes, newest first.
func (t *tx) restore() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i].rec.Version = t.undo[i].version
	}
	t.undo = nil
}

func (t *tx) check(ctx context.Context, write bool) error {
	if t.done {
		return errTxDone
	}
	if write && t.readOnly {
		return ErrReadOnly
	}
	return ctx.Err()
}

// fail decorates a statement's error and remembers a conflict.
func (t *tx) fail(ctx context.Context, op string, err error) error {
	err = dbErr(ctx, op, err)
	if t.conflict == nil && isConflict(err) {
		t.conflict = err
	}
	return err
}

func (t *tx) exec(ctx context.Context, op, query string, args ...any) (pgconn.CommandTag, error) {
	tag, err := t.tx.Exec(ctx, query, args...)
	if err != nil {
		return tag, t.fail(ctx, op, err)
	}
	return tag, nil
}

func checkRecord(rec *store.Record) error {
	if rec == nil {
		return errors.New("store/postgres: nil record")
	}
	if rec.Kind == "" || rec.ID == "" {
		return fmt.Errorf("store/postgres: record needs a kind and an id (kind %q, id %q)", rec.Kind, rec.ID)
	}
	return store.CheckRecordKeys(rec)
}

// Expiry times are stored as unix milliseconds, 0 meaning never (as in
// SQLite).

func toMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	ms := t.UnixMilli()
	if ms == 0 {
		return -1 // the epoch is a real expiry, not "never"
	}
	return ms
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

// blob makes sure an empty document is sent as an empty bytea, not NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

const recordColumns = `kind, id, parent, sort_key, pending, expires_at, version, data`

const (
	sqlGet    = `SELECT ` + recordColumns + ` FROM records WHERE kind = $1 AND id = $2`
	sqlInsert = `INSERT INTO records (` + recordColumns + `) VALUES ($1, $2, $3, $4, $5, $6, 1, $7)
		ON CONFLICT (kind, id) DO NOTHING`
	sqlUpdate = `UPDATE records SET parent = $1, sort_key = $2, pending = $3, expires_at = $4, data = $5, version = version + 1
		WHERE kind = $6 AND id = $7 AND version = $8`
	sqlVersion = `SELECT version FROM records WHERE kind = $1 AND id = $2`
	sqlDelete  = `DELETE FROM records WHERE kind = $1 AND id = $2`
)

func scanRecord(row pgx.Row) (*store.Record, error) {
	var (
		rec     store.Record
		expires int64
	)
	if err := row.Scan(&rec.Kind, &rec.ID, &rec.Parent, &rec.SortKey, &rec.Pending, &expires, &rec.Version, &rec.Data); err != nil {
		return nil, err
	}
	rec.ExpiresAt = fromMillis(expires)
	if rec.Data == nil {
		rec.Data = []byte{} // pgx copies bytea into a new slice: the caller owns it
	}
	return &rec, nil
}

func (t *tx) Get(ctx context.Context, kind, id string) (*store.Record, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	if !store.ValidKey(kind) || !store.ValidKey(id) {
		return nil, fmt.Errorf("%w: %s %q", store.ErrNotFound, kind, id)
	}
	rec, err := scanRecord(t.tx.QueryRow(ctx, sqlGet, kind, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s %q", store.ErrNotFound, kind, id)
	}
	if err != nil {
		return nil, t.fail(ctx, "get", err)
	}
	return rec, nil
}

func (t *tx) Insert(ctx context.Context, rec *store.Record) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	if err := checkRecord(rec); err != nil {
		return err
	}
	tag, err := t.exec(ctx, "insert", sqlInsert,
		rec.Kind, rec.ID, rec.Parent, rec.SortKey, rec.Pending, toMillis(rec.ExpiresAt), blob(rec.Data))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s %q", store.ErrExists, rec.Kind, rec.ID)
	}
	t.undo = append(t.undo, undo{rec, rec.Version})
	rec.Version = 1
	return nil
}

func (t *tx) Update(ctx context.Context, rec *store.Record) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	if err := checkRecord(rec); err != nil {
		return err
	}
	tag, err := t.exec(ctx, "update", sqlUpdate,
		rec.Parent, rec.SortKey, rec.Pending, toMillis(rec.ExpiresAt), blob(rec.Data),
		rec.Kind, rec.ID, rec.Version)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		var stored int64
		err := t.tx.QueryRow(ctx, sqlVersion, rec.Kind, rec.ID).Scan(&stored)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			return fmt.Errorf("%w: %s %q", store.ErrNotFound, rec.Kind, rec.ID)
		case err != nil:
			return t.fail(ctx, "update", err)
		}
		return fmt.Errorf("%w: %s %q is at version %d, not %d", store.ErrVersion, rec.Kind, rec.ID, stored, rec.Version)
	}
	t.undo = append(t.undo, undo{rec, rec.Version})
	rec.Version++
	return nil
}

func (t *tx) Delete(ctx context.Context, kind, id string) error {
	if err := t.check(ctx, true); err != nil {
		return err
	}
	if !store.ValidKey(kind) || !store.ValidKey(id) {
		return fmt.Errorf("%w: %s %q", store.ErrNotFound, kind, id)
	}
	tag, err := t.exec(ctx, "delete", sqlDelete, kind, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: %s %q", store.ErrNotFound, kind, id)
	}
	return nil
}

// listSQL builds the keyset query for q. The equality filters and
// (sort_key, id) are the columns of one index per shape (see schema.go), so
// the cursor and the bound are an index range, ORDER BY follows the index
// (backwards for Reverse) and LIMIT stops the scan at the page.
func listSQL(q store.Query) (string, []any) {
	var b strings.Builder
	b.Grow(256) // one allocation for the statement text
	args := make([]any, 0, 6)
	b.WriteString(`SELECT ` + recordColumns + ` FROM records WHERE `)
	args = where(&b, args, q)
	if q.Reverse {
		b.WriteString(` ORDER BY sort_key DESC, id DESC`)
	} else {
		b.WriteString(` ORDER BY sort_key, id`)
	}
	if q.Limit > 0 {
		args = append(args, q.Limit)
		b.WriteString(` LIMIT $` + strconv.Itoa(len(args)))
	}
	return b.String(), args
}

// countSQL counts what listSQL selects without a cursor or a limit.
func countSQL(q store.Query) (string, []any) {
	var b strings.Builder
	b.WriteString(`SELECT count(*) FROM records WHERE `)
	q.After = nil
	args := where(&b, make([]any, 0, 3), q)
	return b.String(), args
}

// where writes the WHERE clause of q and appends its arguments.
func where(b *strings.Builder, args []any, q store.Query) []any {
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	b.WriteString(`kind = ` + arg(q.Kind))
	if !q.AnyParent {
		b.WriteString(` AND parent = ` + arg(q.Parent))
	}
	if q.PendingOnly {
		b.WriteString(` AND pending`) // the literal predicate of the partial indexes
	}
	after, bound := q.After, q.SortKeyMax
	if q.Reverse && after != nil && bound != nil {
		// Both are upper bounds and one implies the other: keep the
		// tighter, so the backward scan has one starting point.
		if after.SortKey <= *bound {
			bound = nil
		} else {
			after = nil
		}
	}
	if after != nil {
		op := ` > `
		if q.Reverse {
			op = ` < `
		}
		sk := arg(after.SortKey)
		b.WriteString(` AND (sort_key, id)` + op + `(` + sk + `, ` + arg(after.ID) + `)`)
	}
	if bound != nil {
		b.WriteString(` AND sort_key <= ` + arg(*bound))
	}
	return args
}

func (t *tx) List(ctx context.Context, q store.Query) ([]*store.Record, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	if ok, err := store.CheckQuery(q); !ok {
		return nil, err
	}
	query, args := listSQL(q)
	rows, err := t.tx.Query(ctx, query, args...)
	if err != nil {
		return nil, t.fail(ctx, "list", err)
	}
	defer rows.Close()
	var out []*store.Record
	if q.Limit > 0 {
		out = make([]*store.Record, 0, min(q.Limit, 1000))
	}
	for rows.Next() {
		rec, err := scanRecord(rows)
		if err != nil {
			return nil, t.fail(ctx, "list", err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, t.fail(ctx, "list", err)
	}
	return out, nil
}

func (t *tx) Count(ctx context.Context, q store.Query) (int, error) {
	if err := t.check(ctx, false); err != nil {
		return 0, err
	}
	q.After, q.Limit = nil, 0
	if ok, err := store.CheckQuery(q); !ok {
		return 0, err
	}
	query, args := countSQL(q)
	var n int64
	if err := t.tx.QueryRow(ctx, query, args...).Scan(&n); err != nil {
		return 0, t.fail(ctx, "count", err)
	}
	return int(n), nil
}
