package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// migrations is the ordered schema history: migrations[i] brings the schema
// from version i to version i+1. Append only; never edit a released entry.
//
// The columns mirror the SQLite implementation's (store/sqlite/schema.go):
//   - kind, id, parent and sort_key are text COLLATE "C": they compare
//     bytewise, as Go compares strings (keys are valid UTF-8 without NUL,
//     which text requires; see store.ErrInvalidKey). An index entry holds
//     at most about 2.7 kB, which bounds the length of a record's keys.
//   - expires_at is unix milliseconds, 0 = never (the unix epoch itself is
//     stored as -1), exactly as in SQLite.
//   - data is bytea: the document bytes exactly as given, not jsonb.
//
// Each listing shape has the index SQLite uses for it, so a page is one
// range seek (forward or backward) whatever its position.
var migrations = []string{
	// 1: records and their indexes.
	`CREATE TABLE records (
		kind       text    COLLATE "C" NOT NULL,
		id         text    COLLATE "C" NOT NULL,
		parent     text    COLLATE "C" NOT NULL DEFAULT '',
		sort_key   text    COLLATE "C" NOT NULL DEFAULT '',
		pending    boolean NOT NULL DEFAULT false,
		expires_at bigint  NOT NULL DEFAULT 0,
		version    bigint  NOT NULL CHECK (version >= 1),
		data       bytea   NOT NULL,
		PRIMARY KEY (kind, id)
	);
	CREATE INDEX records_parent ON records (kind, parent, sort_key, id);
	CREATE INDEX records_sort ON records (kind, sort_key, id);
	CREATE INDEX records_pending ON records (kind, sort_key, id) WHERE pending;
	CREATE INDEX records_pending_parent ON records (kind, parent, sort_key, id) WHERE pending;
	CREATE INDEX records_expires ON records (expires_at) WHERE expires_at <> 0;`,
}

// SchemaVersion is the schema version this binary migrates databases to.
func SchemaVersion() int { return len(migrations) }

// migrateLock is the advisory lock key (with the schema's name) that
// serializes migrations of one schema by several processes starting at
// once.
const migrateLock = "openfinspace.store.migrate"

// migrate brings the schema first on the search path to len(list) in one
// transaction. It is a no-op on an up-to-date schema and fails with
// ErrSchemaTooNew on a schema migrated beyond list.
func migrate(ctx context.Context, pool *pgxpool.Pool, list []string) (err error) {
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	var schema *string
	if err = tx.QueryRow(ctx, `SELECT current_schema()`).Scan(&schema); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if schema == nil {
		err = errors.New("migrate: no schema on the search path exists (create it, or fix search_path in the URL)")
		return err
	}
	if _, err = tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext($1 || '.' || $2))`, migrateLock, *schema); err != nil {
		return fmt.Errorf("migrate: lock: %w", err)
	}
	if _, err = tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    integer PRIMARY KEY,
		applied_at bigint  NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var current int
	if err = tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if current > len(list) {
		err = fmt.Errorf("%w: schema %q is at version %d, this binary knows versions up to %d; run a newer release or restore a backup",
			ErrSchemaTooNew, *schema, current, len(list))
		return err
	}
	for v := current + 1; v <= len(list); v++ {
		if _, err = tx.Exec(ctx, list[v-1]); err != nil {
			return fmt.Errorf("migrate: schema version %d: %w", v, err)
		}
		if _, err = tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at)
			VALUES ($1, (extract(epoch FROM clock_timestamp()) * 1000)::bigint)`, v); err != nil {
			return fmt.Errorf("migrate: schema version %d: %w", v, err)
		}
	}
	if err = tx.Commit(ctx); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}
