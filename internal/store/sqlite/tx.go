package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openfinspace/openfinspace/internal/store"
)

// tx implements store.Tx on a database/sql transaction.
type tx struct {
	tx       *sql.Tx
	readOnly bool
	done     bool // set when the enclosing Update/View returns
	undo     []undo
	prepared map[string]*sql.Stmt // the Store's, by query text
	local    map[string]*sql.Stmt // this transaction's handles on them
}

// undo remembers a rec.Version to restore if the transaction rolls back.
type undo struct {
	rec     *store.Record
	version int64
}

var _ store.Tx = (*tx)(nil)

// restore undoes rec.Version changes, newest first, so a record changed
// twice ends at its original version.
func (t *tx) restore() {
	for i := len(t.undo) - 1; i >= 0; i-- {
		t.undo[i].rec.Version = t.undo[i].version
	}
	t.undo = nil
}

var errTxDone = errors.New("store/sqlite: transaction used after Update or View returned")

func (t *tx) check(ctx context.Context, write bool) error {
	if t.done {
		return errTxDone
	}
	if write && t.readOnly {
		return ErrReadOnly
	}
	return ctx.Err()
}

// dbErr decorates a driver error with the operation and, when ctx is done,
// the context error.
func dbErr(ctx context.Context, op string, err error) error {
	if cerr := ctx.Err(); cerr != nil && !errors.Is(err, cerr) {
		return fmt.Errorf("store/sqlite: %s: %w (%w)", op, cerr, err)
	}
	return fmt.Errorf("store/sqlite: %s: %w", op, err)
}

func checkRecord(rec *store.Record) error {
	if rec == nil {
		return errors.New("store/sqlite: nil record")
	}
	if rec.Kind == "" || rec.ID == "" {
		return fmt.Errorf("store/sqlite: record needs a kind and an id (kind %q, id %q)", rec.Kind, rec.ID)
	}
	return store.CheckRecordKeys(rec)
}

// Expiry times are stored as unix milliseconds, 0 meaning never.

func toMillis(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	ms := t.UnixMilli()
	if ms == 0 {
		// The unix epoch itself is a real (long past) expiry; keep it
		// distinct from "never".
		return -1
	}
	return ms
}

func fromMillis(ms int64) time.Time {
	if ms == 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}

func boolInt(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// blob makes sure an empty document is bound as an empty BLOB, not NULL.
func blob(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

const recordColumns = `kind, id, parent, sort_key, pending, expires_at, version, data`

// The statements a transaction runs; Open prepares them once per database
// handle (see prepareAll) so that transactions do not re-parse them.
const (
	sqlGet    = `SELECT ` + recordColumns + ` FROM records WHERE kind = ? AND id = ?`
	sqlInsert = `INSERT INTO records (` + recordColumns + `) VALUES (?, ?, ?, ?, ?, ?, 1, ?)
		ON CONFLICT (kind, id) DO NOTHING`
	sqlUpdate = `UPDATE records SET parent = ?, sort_key = ?, pending = ?, expires_at = ?, data = ?, version = version + 1
		WHERE kind = ? AND id = ? AND version = ?`
	sqlVersion       = `SELECT version FROM records WHERE kind = ? AND id = ?`
	sqlDelete        = `DELETE FROM records WHERE kind = ? AND id = ?`
	sqlDeleteExpired = `DELETE FROM records WHERE rowid IN (
		SELECT rowid FROM records WHERE expires_at <> 0 AND expires_at < ? LIMIT ?)`
)

// statements lists every statement text a transaction can run: the fixed
// ones and each shape listSQL and countSQL produce.
func statements(write bool) []string {
	out := []string{sqlGet, sqlVersion}
	if write {
		out = append(out, sqlInsert, sqlUpdate, sqlDelete, sqlDeleteExpired)
	}
	seen := make(map[string]bool)
	for _, q := range queryShapes() {
		l, _ := listSQL(q)
		c, _ := countSQL(q)
		for _, text := range []string{l, c} {
			if !seen[text] {
				seen[text] = true
				out = append(out, text)
			}
		}
	}
	return out
}

// queryShapes returns one query of every shape: each combination of the
// options that change the statement text.
func queryShapes() []store.Query {
	var out []store.Query
	bound := "m"
	for _, anyParent := range []bool{false, true} {
		for _, pending := range []bool{false, true} {
			for _, reverse := range []bool{false, true} {
				for _, after := range []*store.Cursor{nil, {SortKey: "a"}, {SortKey: "z"}} {
					for _, max := range []*string{nil, &bound} {
						out = append(out, store.Query{AnyParent: anyParent, PendingOnly: pending,
							Reverse: reverse, After: after, SortKeyMax: max})
					}
				}
			}
		}
	}
	return out
}

// prepareAll prepares statements on db. database/sql re-prepares a statement
// on each pooled connection the first time a transaction there uses it and
// keeps it for the connection's life.
func prepareAll(ctx context.Context, db *sql.DB, write bool) (map[string]*sql.Stmt, error) {
	m := make(map[string]*sql.Stmt)
	for _, q := range statements(write) {
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			closeAll(m)
			return nil, fmt.Errorf("prepare %q: %w", q, err)
		}
		m[q] = st
	}
	return m, nil
}

func closeAll(m map[string]*sql.Stmt) {
	for _, st := range m {
		st.Close()
	}
}

// stmt returns the transaction's handle on a prepared statement, or nil
// when query was not prepared.
func (t *tx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st, ok := t.local[query]; ok {
		return st
	}
	parent, ok := t.prepared[query]
	if !ok {
		return nil
	}
	st := t.tx.StmtContext(ctx, parent)
	if t.local == nil {
		t.local = make(map[string]*sql.Stmt, 4)
	}
	t.local[query] = st
	return st
}

func (t *tx) exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.tx.ExecContext(ctx, query, args...)
}

func (t *tx) query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.tx.QueryContext(ctx, query, args...)
}

func (t *tx) queryRow(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.tx.QueryRowContext(ctx, query, args...)
}

type scanner interface{ Scan(dest ...any) error }

func scanRecord(row scanner) (*store.Record, error) {
	var (
		rec     store.Record
		pending int64
		expires int64
		data    []byte
	)
	if err := row.Scan(&rec.Kind, &rec.ID, &rec.Parent, &rec.SortKey, &pending, &expires, &rec.Version, &data); err != nil {
		return nil, err
	}
	rec.Pending = pending != 0
	rec.ExpiresAt = fromMillis(expires)
	if data == nil {
		data = []byte{}
	}
	rec.Data = data // database/sql copies []byte on Scan: the caller owns it
	return &rec, nil
}

func (t *tx) Get(ctx context.Context, kind, id string) (*store.Record, error) {
	if err := t.check(ctx, false); err != nil {
		return nil, err
	}
	row := t.queryRow(ctx, sqlGet, kind, id)
	rec, err := scanRecord(row)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("%w: %s %q", store.ErrNotFound, kind, id)
	}
	if err != nil {
		return nil, dbErr(ctx, "get", err)
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
	res, err := t.exec(ctx, sqlInsert,
		rec.Kind, rec.ID, rec.Parent, rec.SortKey, boolInt(rec.Pending), toMillis(rec.ExpiresAt), blob(rec.Data))
	if err != nil {
		return dbErr(ctx, "insert", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return dbErr(ctx, "insert", err)
	}
	if n == 0 {
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
	res, err := t.exec(ctx, sqlUpdate,
		rec.Parent, rec.SortKey, boolInt(rec.Pending), toMillis(rec.ExpiresAt), blob(rec.Data),
		rec.Kind, rec.ID, rec.Version)
	if err != nil {
		return dbErr(ctx, "update", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return dbErr(ctx, "update", err)
	}
	if n == 0 {
		var stored int64
		err := t.queryRow(ctx, sqlVersion, rec.Kind, rec.ID).Scan(&stored)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			return fmt.Errorf("%w: %s %q", store.ErrNotFound, rec.Kind, rec.ID)
		case err != nil:
			return dbErr(ctx, "update", err)
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
	res, err := t.exec(ctx, sqlDelete, kind, id)
	if err != nil {
		return dbErr(ctx, "delete", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return dbErr(ctx, "delete", err)
	}
	if n == 0 {
		return fmt.Errorf("%w: %s %q", store.ErrNotFound, kind, id)
	}
	return nil
}

// listSQL builds the keyset query for q. Each shape is served by one index
// whose leading columns are the equality filters followed by (sort_key, id),
// so the cursor and the bound are a range seek and ORDER BY needs no sort
// (Reverse walks the same index backwards): the cost of a page does not
// depend on how many rows precede it.
//
//	(kind, parent)           records_parent          (kind, parent, sort_key, id)
//	(kind)                   records_sort            (kind, sort_key, id)
//	(kind, parent) pending   records_pending_parent  partial WHERE pending = 1
//	(kind) pending           records_pending         partial WHERE pending = 1
//
// "pending = 1" is written as a literal so that the partial indexes apply,
// and INDEXED BY names the index: without statistics the planner picks
// records_parent over records_pending_parent when a pending listing has both
// a cursor and a bound, and then reads every non-pending row in the range.
func listSQL(q store.Query) (string, []any) {
	var b strings.Builder
	b.Grow(256) // one allocation for the statement text
	args := make([]any, 0, 5)
	b.WriteString(`SELECT ` + recordColumns + ` FROM records INDEXED BY ` + indexFor(q) + ` WHERE `)
	args = where(&b, args, q)
	// No LIMIT: the caller stops reading after q.Limit rows (SQLite steps
	// lazily along the index, so the cost is the same). A bound LIMIT ?
	// made SQLite re-prepare the statement on every execution (its
	// planner uses the value), about 16 µs per listing.
	if q.Reverse {
		b.WriteString(` ORDER BY sort_key DESC, id DESC`)
	} else {
		b.WriteString(` ORDER BY sort_key, id`)
	}
	return b.String(), args
}

// countSQL builds the query counting what listSQL selects without a cursor;
// it reads only the listing's index (a covering index).
func countSQL(q store.Query) (string, []any) {
	var b strings.Builder
	b.Grow(256) // one allocation for the statement text
	args := make([]any, 0, 3)
	b.WriteString(`SELECT count(*) FROM records INDEXED BY ` + indexFor(q) + ` WHERE `)
	q.After = nil
	args = where(&b, args, q)
	return b.String(), args
}

// indexFor names the index that serves q (see listSQL).
func indexFor(q store.Query) string {
	switch {
	case q.AnyParent && q.PendingOnly:
		return "records_pending"
	case q.AnyParent:
		return "records_sort"
	case q.PendingOnly:
		return "records_pending_parent"
	}
	return "records_parent"
}

// where writes the WHERE clause of q and appends its arguments.
func where(b *strings.Builder, args []any, q store.Query) []any {
	b.WriteString(`kind = ?`)
	args = append(args, q.Kind)
	if !q.AnyParent {
		b.WriteString(` AND parent = ?`)
		args = append(args, q.Parent)
	}
	if q.PendingOnly {
		b.WriteString(` AND pending = 1`)
	}
	after, bound := q.After, q.SortKeyMax
	if q.Reverse && after != nil && bound != nil {
		// Both are upper bounds; one implies the other, so keep the
		// tighter one and the index seek has a single starting point.
		if after.SortKey <= *bound {
			bound = nil
		} else {
			after = nil
		}
	}
	if after != nil {
		if q.Reverse {
			b.WriteString(` AND (sort_key, id) < (?, ?)`)
		} else {
			b.WriteString(` AND (sort_key, id) > (?, ?)`)
		}
		args = append(args, after.SortKey, after.ID)
	}
	if bound != nil {
		b.WriteString(` AND sort_key <= ?`)
		args = append(args, *bound)
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
	rows, err := t.query(ctx, query, args...)
	if err != nil {
		return nil, dbErr(ctx, "list", err)
	}
	defer rows.Close()
	var out []*store.Record
	if q.Limit > 0 {
		out = make([]*store.Record, 0, min(q.Limit, 1000))
	}
	for (q.Limit == 0 || len(out) < q.Limit) && rows.Next() {
		rec, err := scanRecord(rows)
		if err != nil {
			return nil, dbErr(ctx, "list", err)
		}
		out = append(out, rec)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr(ctx, "list", err)
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
	if err := t.queryRow(ctx, query, args...).Scan(&n); err != nil {
		return 0, dbErr(ctx, "count", err)
	}
	return int(n), nil
}
