package server

import (
	"context"
	"errors"

	"github.com/openfinspace/openfinspace/internal/glue"
	"github.com/openfinspace/openfinspace/internal/store"
)

// lateCatalog gives the datasets service (built before the Glue catalog,
// which needs the page codec) the catalog once it exists: data views
// register their Glue tables through it.
type lateCatalog struct{ s *Server }

var errNoCatalog = errors.New("server: the Glue Data Catalog is not built yet")

func (c lateCatalog) PublishTableTx(ctx context.Context, tx store.Tx, db glue.Database, t glue.Table, parts []glue.PartitionInput) error {
	if c.s.glue == nil {
		return errNoCatalog
	}
	return c.s.glue.PublishTableTx(ctx, tx, db, t, parts)
}

func (c lateCatalog) RemoveTableTx(ctx context.Context, tx store.Tx, region, database, table string) error {
	if c.s.glue == nil {
		return errNoCatalog
	}
	return c.s.glue.RemoveTableTx(ctx, tx, region, database, table)
}
