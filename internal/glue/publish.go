package glue

import (
	"context"
	"errors"
	"strings"

	"github.com/openfinspace/openfinspace/internal/store"
)

// PublishTableTx registers, in the caller's transaction, a table with the
// whole set of its partitions: the database is created when missing (an
// existing one is kept as it is), the table put as PutTable does and its
// partitions replaced as ReplacePartitions does. A component that switches
// its own state and the catalog together (a data view's new version) calls
// it in the transaction of that switch.
func (c *Catalog) PublishTableTx(ctx context.Context, tx store.Tx, db Database, t Table, parts []PartitionInput) error {
	d := db.Clone()
	var err error
	if err = checkRegion(d.Region); err != nil {
		return err
	}
	if d.Name, err = normalName("database", d.Name); err != nil {
		return err
	}
	if err := checkText("description", d.Description, 2048); err != nil {
		return err
	}
	if _, _, err := c.databases.Get(ctx, tx, d.Region+"/"+d.Name); errors.Is(err, store.ErrNotFound) {
		d.CreateTime = c.now().UTC()
		if err := c.databases.Insert(ctx, tx, d); err != nil {
			return err
		}
	} else if err != nil {
		return err
	}
	tb, err := c.checkTable(t)
	if err != nil {
		return err
	}
	if err := c.putTableTx(ctx, tx, tb); err != nil {
		return err
	}
	return c.replacePartitionsTx(ctx, tx, tb, parts)
}

// RemoveTableTx removes a table and its partitions in the caller's
// transaction (store.ErrNotFound when there is no such table).
func (c *Catalog) RemoveTableTx(ctx context.Context, tx store.Tx, region, database, name string) error {
	t, _, err := c.tables.Get(ctx, tx, region+"/"+strings.ToLower(database)+"/"+strings.ToLower(name))
	if err != nil {
		return err
	}
	return c.removeTableTx(ctx, tx, t)
}
