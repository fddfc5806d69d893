package open

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/postgres"
	"github.com/openfinspace/openfinspace/internal/store/postgres/pgtest"
	"github.com/openfinspace/openfinspace/internal/store/sqlite"
)

func TestEmptyURLOpensSQLite(t *testing.T) {
	path := filepath.Join(t.TempDir(), "data", "metadata.db")
	s, err := Open(t.Context(), "", path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.(*sqlite.Store); !ok {
		t.Fatalf("Open(\"\") = %T, want *sqlite.Store", s)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no database at %s: %v", path, err)
	}
}

func TestErrorsAreNilStores(t *testing.T) {
	// A failed open returns a nil interface, not a typed nil.
	s, err := Open(t.Context(), "", "")
	if err == nil || s != nil {
		t.Fatalf("Open with no SQLite path = %v, %v", s, err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	s, err = Open(ctx, "postgres://u:pw-secret@127.0.0.1:1/db?sslmode=disable&connect_timeout=2", "")
	if err == nil || s != nil {
		t.Fatalf("Open of an unreachable PostgreSQL = %v, %v", s, err)
	}
	if strings.Contains(err.Error(), "pw-secret") {
		t.Fatalf("error shows the password: %v", err)
	}
}

func TestUnsupportedURL(t *testing.T) {
	for _, u := range []string{
		"mysql://root:pw-secret@localhost/db",
		"sqlite:///tmp/x.db",
		"pw-secret@host",
		"host=localhost password=pw-secret", // pgx's key=value form is not accepted here
		"POSTGRES_but_not://x",
	} {
		s, err := Open(t.Context(), u, filepath.Join(t.TempDir(), "m.db"))
		if err == nil {
			s.Close()
			t.Errorf("Open(%q) succeeded", u)
			continue
		}
		if strings.Contains(err.Error(), "pw-secret") {
			t.Errorf("Open(%q): error shows the password: %v", u, err)
		}
		t.Log(err)
	}
}

func TestPostgresURL(t *testing.T) {
	url := pgtest.URL(t)
	for _, u := range []string{url, "postgresql" + strings.TrimPrefix(url, "postgres"), "POSTGRES" + strings.TrimPrefix(url, "postgres")} {
		s, err := Open(t.Context(), u, filepath.Join(t.TempDir(), "unused.db"))
		if err != nil {
			t.Fatalf("Open(%s): %v", u, err)
		}
		if _, ok := s.(*postgres.Store); !ok {
			t.Fatalf("Open(postgres URL) = %T", s)
		}
		err = s.Update(t.Context(), func(tx store.Tx) error {
			return tx.Insert(t.Context(), &store.Record{Kind: "k", ID: u, Data: []byte(`{}`)})
		})
		s.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
}
