// Package open opens the metadata store a configuration names: PostgreSQL
// for a postgres:// URL, otherwise the embedded SQLite database.
package open

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/postgres"
	"github.com/openfinspace/openfinspace/internal/store/sqlite"
)

// Open opens the store at databaseURL: a postgres:// or postgresql:// URL
// opens PostgreSQL (store/postgres), an empty one the SQLite database at
// sqlitePath (store/sqlite). Any other URL is an error. Errors never show
// the URL's password.
func Open(ctx context.Context, databaseURL, sqlitePath string) (store.Store, error) {
	if databaseURL == "" {
		s, err := sqlite.Open(ctx, sqlitePath)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	scheme, rest, _ := strings.Cut(databaseURL, "://")
	switch scheme = strings.ToLower(scheme); scheme {
	case "postgres", "postgresql":
		// pgx reads only a lower-case scheme as a URL.
		s, err := postgres.Open(ctx, scheme+"://"+rest)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	return nil, fmt.Errorf("store: unsupported database URL %s: want postgres://… or postgresql://…, or none for SQLite", redact(databaseURL))
}

// redact shows a URL without its password, or only its scheme when it does
// not parse.
func redact(raw string) string {
	if u, err := url.Parse(raw); err == nil && u.Scheme != "" {
		return fmt.Sprintf("%q", u.Redacted())
	}
	scheme, _, found := strings.Cut(raw, "://")
	if found && !strings.ContainsAny(scheme, "@:/") {
		return fmt.Sprintf("%q", scheme+"://…")
	}
	return "(not a URL)"
}
