// Package pgtest gives tests a PostgreSQL database of their own.
//
// Tests find the server in OPENFINSPACE_TEST_POSTGRES, a connection URL such
// as postgres://postgres@127.0.0.1:5432/openfinspace?sslmode=disable
// (scripts/test.sh starts a throwaway server and sets it). Without it a test
// is skipped, unless CI is set: then it fails, so that CI cannot pass
// without running the PostgreSQL tests.
//
// Each call of URL creates a schema of its own (t_<random>) and returns the
// URL with search_path set to it; the schema is dropped when the test ends.
// Tests therefore share no state, and run safely in parallel, shuffled, and
// from several packages at once against one server.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL names the variable holding the server's URL.
const EnvURL = "OPENFINSPACE_TEST_POSTGRES"

// ServerURL returns the server's URL, skipping the test when it is not
// configured (failing it when CI is set).
func ServerURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv(EnvURL)
	if u == "" {
		msg := EnvURL + " is not set: PostgreSQL tests need a server URL such as " +
			"postgres://postgres@127.0.0.1:5432/openfinspace?sslmode=disable (scripts/test.sh starts a throwaway server)"
		if os.Getenv("CI") != "" {
			t.Fatal("CI is set but " + msg)
		}
		t.Skip(msg)
	}
	return u
}

// URL creates a fresh, empty schema for t and returns the server's URL
// selecting it (search_path). The schema is dropped at the end of t, after
// cleanups registered later (closing the stores opened on it) have run.
func URL(t testing.TB) string {
	t.Helper()
	base := ServerURL(t)
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("%s must be a postgres:// URL", EnvURL)
	}
	var b [6]byte
	if _, err := rand.Read(b[:]); err != nil {
		t.Fatal(err)
	}
	schema := "t_" + strings.ToLower(hex.EncodeToString(b[:]))

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("pgtest: connect to %s: %v", u.Redacted(), err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE SCHEMA `+schema); err != nil {
		t.Fatalf("pgtest: create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("pgtest: connect to drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, `DROP SCHEMA `+schema+` CASCADE`); err != nil {
			t.Errorf("pgtest: drop schema %s: %v", schema, err)
		}
	})

	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
