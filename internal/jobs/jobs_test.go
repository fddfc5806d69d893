package jobs_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/openfinspace/openfinspace/internal/jobs/jobstest"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/postgres"
	"github.com/openfinspace/openfinspace/internal/store/postgres/pgtest"
	"github.com/openfinspace/openfinspace/internal/store/sqlite"
)

// TestContractSQLite runs the job engine's contract suite on SQLite (one
// handle per database, shared by the engines).
func TestContractSQLite(t *testing.T) {
	jobstest.Run(t, func(t *testing.T, n int) ([]store.Store, bool) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "jobs.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		out := make([]store.Store, n)
		for i := range out {
			out[i] = db
		}
		return out, true
	})
}

// TestContractPostgres runs the suite on PostgreSQL with separate Stores
// (pools) on one schema, as separate server processes would use it.
func TestContractPostgres(t *testing.T) {
	jobstest.Run(t, func(t *testing.T, n int) ([]store.Store, bool) {
		u := pgtest.URL(t)
		out := make([]store.Store, n)
		for i := range out {
			db, err := postgres.Open(context.Background(), u)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			out[i] = db
		}
		return out, false
	})
}
