package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"
)

// migrations is the ordered schema history: migrations[i] brings the schema
// from version i to version i+1. Append only; never edit a released entry.
//
// Column notes (the PostgreSQL implementation mirrors them):
//   - sort_key and id compare bytewise (SQLite's BINARY collation; COLLATE "C"
//     in PostgreSQL), matching Go string order.
//   - pending is 0/1.
//   - expires_at is unix milliseconds, 0 = never.
//   - data holds the document bytes exactly as given.
var migrations = []string{
	// 1: records and their indexes.
	`CREATE TABLE records (
		kind       TEXT    NOT NULL,
		id         TEXT    NOT NULL,
		parent     TEXT    NOT NULL DEFAULT '',
		sort_key   TEXT    NOT NULL DEFAULT '',
		pending    INTEGER NOT NULL DEFAULT 0 CHECK (pending IN (0, 1)),
		expires_at INTEGER NOT NULL DEFAULT 0,
		version    INTEGER NOT NULL CHECK (version >= 1),
		data       BLOB    NOT NULL,
		PRIMARY KEY (kind, id)
	);
	CREATE INDEX records_parent ON records (kind, parent, sort_key, id);
	CREATE INDEX records_sort ON records (kind, sort_key, id);
	CREATE INDEX records_pending ON records (kind, sort_key, id) WHERE pending = 1;
	CREATE INDEX records_pending_parent ON records (kind, parent, sort_key, id) WHERE pending = 1;
	CREATE INDEX records_expires ON records (expires_at) WHERE expires_at <> 0;`,
}

// SchemaVersion is the schema version this binary migrates databases to.
func SchemaVersion() int { return len(migrations) }

// migrate brings the database to len(list) in one transaction. It is a no-op
// on an up-to-date database and fails with ErrSchemaTooNew on a database
// migrated beyond list.
func migrate(ctx context.Context, db *sql.DB, list []string) (err error) {
	tx, err := db.BeginTx(ctx, nil) // BEGIN IMMEDIATE on the writer DSN
	if err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	if _, err = tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	var current int
	if err = tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return fmt.Errorf("migrate: %w", err)
	}
	if current > len(list) {
		err = fmt.Errorf("%w: database is at schema version %d, this binary knows versions up to %d; run a newer release or restore a backup",
			ErrSchemaTooNew, current, len(list))
		return err
	}
	now := time.Now().UnixMilli()
	for v := current + 1; v <= len(list); v++ {
		if _, err = tx.ExecContext(ctx, list[v-1]); err != nil {
			return fmt.Errorf("migrate: schema version %d: %w", v, err)
		}
		if _, err = tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, v, now); err != nil {
			return fmt.Errorf("migrate: schema version %d: %w", v, err)
		}
	}
	if err = tx.Commit(); err != nil {
		return fmt.Errorf("migrate: commit: %w", err)
	}
	return nil
}
