package glue

import (
	"context"

	"github.com/openfinspace/openfinspace/internal/store"
)

// Page is one page of a listing and the cursor that continues it.
type Page[T any] = store.Page[T]

// Database returns a database of region.
func (c *Catalog) Database(ctx context.Context, region, name string) (*Database, error) {
	n, ok := lookupName(name)
	if !ok {
		return nil, notFound("Database %s not found.", name)
	}
	var d *Database
	err := c.db.View(ctx, func(tx store.Tx) error {
		var err error
		d, _, err = c.databases.GetIn(ctx, tx, region, region+"/"+n)
		return err
	})
	return d, err
}

// Databases lists the databases of region by name, limit at a time after
// a cursor.
func (c *Catalog) Databases(ctx context.Context, region string, after *store.Cursor, limit int) (Page[*Database], error) {
	var page Page[*Database]
	err := c.db.View(ctx, func(tx store.Tx) error {
		var err error
		page, err = c.databases.Page(ctx, tx, store.Query{Parent: region, After: after}, limit)
		return err
	})
	return page, err
}

// Table returns a table of a database of region.
func (c *Catalog) Table(ctx context.Context, region, database, name string) (*Table, error) {
	var t *Table
	err := c.db.View(ctx, func(tx store.Tx) error {
		var err error
		t, err = c.lookupTableTx(ctx, tx, region, database, name)
		return err
	})
	return t, err
}

func (c *Catalog) lookupDatabaseTx(ctx context.Context, tx store.Tx, region, database string) (*Database, error) {
	db, ok := lookupName(database)
	if !ok {
		return nil, notFound("Database %s not found.", database)
	}
	d, _, err := c.databases.GetIn(ctx, tx, region, region+"/"+db)
	return d, err
}

func (c *Catalog) lookupTableTx(ctx context.Context, tx store.Tx, region, database, name string) (*Table, error) {
	d, err := c.lookupDatabaseTx(ctx, tx, region, database)
	if err != nil {
		return nil, err
	}
	n, ok := lookupName(name)
	if !ok {
		return nil, notFound("Table %s not found.", name)
	}
	t, _, err := c.tables.GetIn(ctx, tx, region+"/"+d.Name, region+"/"+d.Name+"/"+n)
	return t, err
}

// Tables lists the tables of a database by name that keep accepts (nil:
// all), limit at a time after a cursor.
func (c *Catalog) Tables(ctx context.Context, region, database string, keep func(*Table) bool, after *store.Cursor, limit int) (Page[*Table], error) {
	var page Page[*Table]
	err := c.db.View(ctx, func(tx store.Tx) error {
		d, err := c.lookupDatabaseTx(ctx, tx, region, database)
		if err != nil {
			return err
		}
		page, err = scan(ctx, tx, c.tables, store.Query{Parent: region + "/" + d.Name, After: after}, limit, keep,
			func(t *Table) store.Cursor {
				return store.Cursor{SortKey: t.Name, ID: t.Region + "/" + t.DatabaseName + "/" + t.Name}
			})
		return err
	})
	return page, err
}

// Partition returns the partition of a table with the given values, and
// the table.
func (c *Catalog) Partition(ctx context.Context, region, database, table string, values []string) (*Partition, *Table, error) {
	var p *Partition
	var t *Table
	err := c.db.View(ctx, func(tx store.Tx) error {
		var err error
		if t, err = c.lookupTableTx(ctx, tx, region, database, table); err != nil {
			return err
		}
		parent := region + "/" + t.DatabaseName + "/" + t.Name
		p, _, err = c.partitions.GetIn(ctx, tx, parent, parent+"/"+partitionKey(values))
		return err
	})
	return p, t, err
}

// Partitions lists the partitions of a table in value order that keep
// accepts (nil: all; it also sees the table), limit at a time after a
// cursor, and returns the table.
func (c *Catalog) Partitions(ctx context.Context, region, database, table string, keep func(*Table, *Partition) bool,
	after *store.Cursor, limit int) (Page[*Partition], *Table, error) {
	var page Page[*Partition]
	var t *Table
	err := c.db.View(ctx, func(tx store.Tx) error {
		var err error
		if t, err = c.lookupTableTx(ctx, tx, region, database, table); err != nil {
			return err
		}
		var filter func(*Partition) bool
		if keep != nil {
			filter = func(p *Partition) bool { return keep(t, p) }
		}
		parent := region + "/" + t.DatabaseName + "/" + t.Name
		page, err = scan(ctx, tx, c.partitions, store.Query{Parent: parent, After: after}, limit, filter,
			func(p *Partition) store.Cursor {
				k := partitionKey(p.Values)
				return store.Cursor{SortKey: k, ID: parent + "/" + k}
			})
		return err
	})
	return page, t, err
}

// scanBatch is how many records a filtered listing reads at a time.
const scanBatch = 200

// scan pages a listing through a filter: it reads batches until it has
// limit values keep accepts and knows whether another one follows. Its
// cost is the records read, O(page) without a filter.
func scan[T any, P store.Cloner[T]](ctx context.Context, tx store.Tx, tbl *store.Table[T, P], q store.Query, limit int,
	keep func(P) bool, cursor func(P) store.Cursor) (Page[P], error) {
	if keep == nil {
		return tbl.Page(ctx, tx, q, limit)
	}
	var out Page[P]
	for {
		page, err := tbl.Page(ctx, tx, q, max(limit+1, scanBatch))
		if err != nil {
			return out, err
		}
		for _, v := range page.Items {
			if !keep(v) {
				continue
			}
			if len(out.Items) == limit {
				c := cursor(out.Items[limit-1])
				out.Next = &c
				return out, nil
			}
			out.Items = append(out.Items, v)
		}
		if page.Next == nil {
			return out, nil
		}
		q.After = page.Next
	}
}
