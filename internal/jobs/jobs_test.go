package jobs_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/jobs"
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

// TestJanitor: the janitor kind removes expired records once a period.
func TestJanitor(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "jobs.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	err = db.Update(ctx, func(tx store.Tx) error {
		return tx.Insert(ctx, &store.Record{Kind: "token", ID: "old", SortKey: "old", Data: []byte(`{}`),
			ExpiresAt: time.Now().Add(-time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	e, err := jobs.New(jobs.Config{Store: db, Exclusive: true, Poll: 5 * time.Millisecond},
		jobs.Janitor(db, 50*time.Millisecond, nil, nil))
	if err != nil {
		t.Fatal(err)
	}
	e.Start(ctx)
	defer e.Stop()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := db.View(ctx, func(tx store.Tx) error { _, err := tx.Get(ctx, "token", "old"); return err })
		if errors.Is(err, store.ErrNotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the janitor did not remove an expired record")
		}
		time.Sleep(10 * time.Millisecond)
	}
	j, err := e.Get(ctx, jobs.PeriodicJobID(jobs.JanitorKind))
	if err != nil || j.State.Terminal() {
		t.Fatalf("janitor job %+v, %v: want it live (queued for its next period, or running it)", j, err)
	}
}
