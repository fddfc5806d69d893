// Package glue is a small AWS Glue Data Catalog: databases, tables
// (columns, partition keys, a storage descriptor with location, formats
// and SerDe, parameters) and their partitions, per region of the account,
// in the metadata store (SQLite or PostgreSQL alike).
//
// The server's own components write the catalog through the Go API of
// this file (PutDatabase, PutTable, PutPartitions, ReplacePartitions and
// the Remove functions; data views register what they materialize); Glue
// clients only read it, through the six read operations of wire.go
// (GetDatabases, GetDatabase, GetTables, GetTable, GetPartitions,
// GetPartition). No Glue Create/Update/Delete operation is served.
//
// Names are case-insensitive as in Glue: they are stored and looked up in
// lower case. A partition has no schema of its own: its storage descriptor
// is its table's with the partition's location.
package glue

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/store"
)

// Record kinds.
const (
	KindDatabase  = "gluedb"    // ID region/db, Parent region, SortKey db
	KindTable     = "gluetable" // ID region/db/table, Parent region/db, SortKey table
	KindPartition = "gluepart"  // ID region/db/table/key, Parent region/db/table, SortKey key (partitionKey)
)

// The Hive Parquet formats a Parquet table is registered with (what Glue
// crawlers and Athena's CREATE TABLE ... STORED AS PARQUET write).
const (
	ParquetInputFormat  = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
	ParquetOutputFormat = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
	ParquetSerDe        = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
)

// Column is a column or a partition key.
type Column struct {
	Name       string            `json:"name"`
	Type       string            `json:"type,omitempty"` // Hive type: string, bigint, double, timestamp, ...
	Comment    string            `json:"comment,omitempty"`
	Parameters map[string]string `json:"parameters,omitempty"`
}

// SerDe is a storage descriptor's serialization library.
type SerDe struct {
	Name                 string            `json:"name,omitempty"`
	SerializationLibrary string            `json:"library,omitempty"`
	Parameters           map[string]string `json:"parameters,omitempty"`
}

// StorageDescriptor says where and how a table's (or partition's) data is
// stored.
type StorageDescriptor struct {
	Columns      []Column          `json:"columns,omitempty"`
	Location     string            `json:"location,omitempty"` // s3://bucket/prefix/
	InputFormat  string            `json:"inputFormat,omitempty"`
	OutputFormat string            `json:"outputFormat,omitempty"`
	Compressed   bool              `json:"compressed,omitempty"`
	SerDe        SerDe             `json:"serde"`
	Parameters   map[string]string `json:"parameters,omitempty"`
}

// ParquetStorage is the storage descriptor of Parquet files under location.
func ParquetStorage(location string, columns []Column) StorageDescriptor {
	return StorageDescriptor{Columns: columns, Location: location, InputFormat: ParquetInputFormat,
		OutputFormat: ParquetOutputFormat,
		SerDe:        SerDe{SerializationLibrary: ParquetSerDe, Parameters: map[string]string{"serialization.format": "1"}}}
}

// Database is a catalog database.
type Database struct {
	Region      string            `json:"region"`
	Name        string            `json:"name"`
	Description string            `json:"description,omitempty"`
	LocationURI string            `json:"locationUri,omitempty"`
	Parameters  map[string]string `json:"parameters,omitempty"`
	CreateTime  time.Time         `json:"createTime"`
}

// Table is a catalog table.
type Table struct {
	Region        string            `json:"region"`
	DatabaseName  string            `json:"database"`
	Name          string            `json:"name"`
	Description   string            `json:"description,omitempty"`
	Owner         string            `json:"owner,omitempty"`
	TableType     string            `json:"tableType,omitempty"` // EXTERNAL_TABLE
	PartitionKeys []Column          `json:"partitionKeys,omitempty"`
	Storage       StorageDescriptor `json:"storage"`
	Parameters    map[string]string `json:"parameters,omitempty"`
	CreateTime    time.Time         `json:"createTime"`
	UpdateTime    time.Time         `json:"updateTime"`
}

// Partition is one partition of a table: a value per partition key and
// where its data is.
type Partition struct {
	Region       string            `json:"region"`
	DatabaseName string            `json:"database"`
	TableName    string            `json:"table"`
	Values       []string          `json:"values"`
	Location     string            `json:"location,omitempty"`
	Parameters   map[string]string `json:"parameters,omitempty"`
	CreateTime   time.Time         `json:"createTime"`
}

func cloneColumns(cs []Column) []Column {
	if cs == nil {
		return nil
	}
	out := slices.Clone(cs)
	for i := range out {
		out[i].Parameters = maps.Clone(out[i].Parameters)
	}
	return out
}

func (s StorageDescriptor) clone() StorageDescriptor {
	s.Columns = cloneColumns(s.Columns)
	s.SerDe.Parameters = maps.Clone(s.SerDe.Parameters)
	s.Parameters = maps.Clone(s.Parameters)
	return s
}

// Clone returns a deep copy (store.Cloner).
func (d *Database) Clone() *Database {
	c := *d
	c.Parameters = maps.Clone(d.Parameters)
	return &c
}

// Clone returns a deep copy (store.Cloner).
func (t *Table) Clone() *Table {
	c := *t
	c.PartitionKeys = cloneColumns(t.PartitionKeys)
	c.Storage = t.Storage.clone()
	c.Parameters = maps.Clone(t.Parameters)
	return &c
}

// Clone returns a deep copy (store.Cloner).
func (p *Partition) Clone() *Partition {
	c := *p
	c.Values = slices.Clone(p.Values)
	c.Parameters = maps.Clone(p.Parameters)
	return &c
}

// Config builds a Catalog.
type Config struct {
	Store store.Store
	// Pages signs page tokens (the server's codec; scopes keep Glue's
	// tokens out of other listings).
	Pages *paging.Codec
	// Account is the catalog id (the account id).
	Account string
	Now     func() time.Time // nil: time.Now
}

// Catalog is the Glue Data Catalog of one account.
type Catalog struct {
	db         store.Store
	pages      *paging.Codec
	account    string
	now        func() time.Time
	databases  *store.Table[Database, *Database]
	tables     *store.Table[Table, *Table]
	partitions *store.Table[Partition, *Partition]
}

// New returns the catalog cfg describes.
func New(cfg Config) *Catalog {
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	return &Catalog{
		db: cfg.Store, pages: cfg.Pages, account: cfg.Account, now: now,
		databases: store.NewTable(store.TableDef[Database, *Database]{Kind: KindDatabase,
			ID:       func(d *Database) string { return d.Region + "/" + d.Name },
			Parent:   func(d *Database) string { return d.Region },
			SortKey:  func(d *Database) string { return d.Name },
			NotFound: func(id string) error { return notFound("Database %s not found.", lastSegment(id)) },
		}),
		tables: store.NewTable(store.TableDef[Table, *Table]{Kind: KindTable,
			ID:       func(t *Table) string { return t.Region + "/" + t.DatabaseName + "/" + t.Name },
			Parent:   func(t *Table) string { return t.Region + "/" + t.DatabaseName },
			SortKey:  func(t *Table) string { return t.Name },
			NotFound: func(id string) error { return notFound("Table %s not found.", lastSegment(id)) },
		}),
		partitions: store.NewTable(store.TableDef[Partition, *Partition]{Kind: KindPartition,
			ID:       func(p *Partition) string { return partitionParent(p) + "/" + partitionKey(p.Values) },
			Parent:   partitionParent,
			SortKey:  func(p *Partition) string { return partitionKey(p.Values) },
			NotFound: func(string) error { return notFound("%s", "Partition not found.") },
		}),
	}
}

// Account is the catalog id.
func (c *Catalog) Account() string { return c.account }

func partitionParent(p *Partition) string { return p.Region + "/" + p.DatabaseName + "/" + p.TableName }

// partitionKey encodes partition values as a store key: their JSON array,
// which holds no NUL byte (JSON escapes it) and orders by the first value.
func partitionKey(values []string) string {
	b, _ := json.Marshal(values)
	return string(b)
}

func lastSegment(id string) string { return id[strings.LastIndexByte(id, '/')+1:] }

// notFound is a NotFound fault that is also store.ErrNotFound.
func notFound(format string, args ...any) error {
	f := fault.NotFoundf(format, args...)
	f.Err = store.ErrNotFound
	return f
}

// nameRE is what the catalog accepts as a database or table name: Hive's
// lower-case letters, digits and underscores, plus hyphens as Glue allows.
var nameRE = regexp.MustCompile(`^[a-z0-9_-]{1,255}$`)

// normalName is name in lower case, checked: what registration accepts.
func normalName(what, name string) (string, error) {
	n := strings.ToLower(name)
	if !nameRE.MatchString(n) {
		return "", fault.Invalidf("The %s name %q must be 1 to 255 letters, digits, underscores or hyphens.", what, name)
	}
	return n, nil
}

// lookupName is a client's name in lower case, and whether it can name
// anything at all (a name with a slash never can).
func lookupName(name string) (string, bool) {
	n := strings.ToLower(name)
	return n, n != "" && !strings.Contains(n, "/")
}

func checkRegion(region string) error {
	if region == "" || strings.Contains(region, "/") {
		return fault.Invalidf("The region %q is not valid.", region)
	}
	return nil
}

func checkText(what, s string, max int) error {
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return fault.Invalidf("The %s must be valid UTF-8 without NUL characters.", what)
	}
	if utf8.RuneCountInString(s) > max {
		return fault.Invalidf("The %s is longer than %d characters.", what, max)
	}
	return nil
}

func checkColumns(what string, cols []Column) error {
	seen := map[string]bool{}
	for _, col := range cols {
		if col.Name == "" {
			return fault.Invalidf("A %s has no name.", what)
		}
		if err := checkText(what+" name", col.Name, 1024); err != nil {
			return err
		}
		if err := checkText(what+" type", col.Type, 131072); err != nil {
			return err
		}
		if seen[strings.ToLower(col.Name)] {
			return fault.Invalidf("The %s %q appears twice.", what, col.Name)
		}
		seen[strings.ToLower(col.Name)] = true
	}
	return nil
}

// PutDatabase registers db (by region and name), replacing a database of
// the same name but keeping its creation time, and returns what is stored.
func (c *Catalog) PutDatabase(ctx context.Context, db Database) (*Database, error) {
	d := db.Clone()
	var err error
	if err = checkRegion(d.Region); err != nil {
		return nil, err
	}
	if d.Name, err = normalName("database", d.Name); err != nil {
		return nil, err
	}
	if err := checkText("description", d.Description, 2048); err != nil {
		return nil, err
	}
	err = c.db.Update(ctx, func(tx store.Tx) error {
		old, version, err := c.databases.Get(ctx, tx, d.Region+"/"+d.Name)
		switch {
		case errors.Is(err, store.ErrNotFound):
			d.CreateTime = c.now().UTC()
			return c.databases.Insert(ctx, tx, d)
		case err != nil:
			return err
		}
		d.CreateTime = old.CreateTime
		return c.databases.Update(ctx, tx, d, version)
	})
	if err != nil {
		return nil, err
	}
	return d, nil
}

// RemoveDatabase removes a database with its tables and their partitions.
func (c *Catalog) RemoveDatabase(ctx context.Context, region, name string) error {
	name = strings.ToLower(name)
	return c.db.Update(ctx, func(tx store.Tx) error {
		if _, _, err := c.databases.Get(ctx, tx, region+"/"+name); err != nil {
			return err
		}
		tables, err := c.tables.List(ctx, tx, store.Query{Parent: region + "/" + name})
		if err != nil {
			return err
		}
		for _, t := range tables {
			if err := c.removeTableTx(ctx, tx, t); err != nil {
				return err
			}
		}
		return c.databases.Delete(ctx, tx, region+"/"+name)
	})
}

// PutTable registers t in its database (which must exist), replacing a
// table of the same name but keeping its creation time, and returns what
// is stored. Replacing a table with other partition keys removes its
// partitions, which no longer fit it.
func (c *Catalog) PutTable(ctx context.Context, t Table) (*Table, error) {
	tb, err := c.checkTable(t)
	if err != nil {
		return nil, err
	}
	err = c.db.Update(ctx, func(tx store.Tx) error { return c.putTableTx(ctx, tx, tb) })
	if err != nil {
		return nil, err
	}
	return tb, nil
}

// checkTable returns a copy of t with its names normalized, checked as
// registration checks them.
func (c *Catalog) checkTable(t Table) (*Table, error) {
	tb := t.Clone()
	var err error
	if err = checkRegion(tb.Region); err != nil {
		return nil, err
	}
	if tb.DatabaseName, err = normalName("database", tb.DatabaseName); err != nil {
		return nil, err
	}
	if tb.Name, err = normalName("table", tb.Name); err != nil {
		return nil, err
	}
	if err := checkText("description", tb.Description, 2048); err != nil {
		return nil, err
	}
	if err := checkText("location", tb.Storage.Location, 2056); err != nil {
		return nil, err
	}
	if err := checkColumns("column", tb.Storage.Columns); err != nil {
		return nil, err
	}
	if err := checkColumns("partition key", tb.PartitionKeys); err != nil {
		return nil, err
	}
	for _, k := range tb.PartitionKeys {
		for _, col := range tb.Storage.Columns {
			if strings.EqualFold(k.Name, col.Name) {
				return nil, fault.Invalidf("The partition key %q is also a column.", k.Name)
			}
		}
	}
	return tb, nil
}

// putTableTx stores checked table tb (its database must exist), keeping
// the creation time of the table it replaces; other partition keys remove
// the old table's partitions.
func (c *Catalog) putTableTx(ctx context.Context, tx store.Tx, tb *Table) error {
	if _, _, err := c.databases.Get(ctx, tx, tb.Region+"/"+tb.DatabaseName); err != nil {
		return err
	}
	now := c.now().UTC()
	tb.UpdateTime = now
	old, version, err := c.tables.Get(ctx, tx, tb.Region+"/"+tb.DatabaseName+"/"+tb.Name)
	switch {
	case errors.Is(err, store.ErrNotFound):
		tb.CreateTime = now
		return c.tables.Insert(ctx, tx, tb)
	case err != nil:
		return err
	}
	tb.CreateTime = old.CreateTime
	if !sameKeys(old.PartitionKeys, tb.PartitionKeys) {
		if err := c.removePartitionsTx(ctx, tx, old); err != nil {
			return err
		}
	}
	return c.tables.Update(ctx, tx, tb, version)
}

func sameKeys(a, b []Column) bool {
	return slices.EqualFunc(a, b, func(x, y Column) bool { return strings.EqualFold(x.Name, y.Name) && x.Type == y.Type })
}

// RemoveTable removes a table and its partitions.
func (c *Catalog) RemoveTable(ctx context.Context, region, database, name string) error {
	return c.db.Update(ctx, func(tx store.Tx) error {
		t, _, err := c.tables.Get(ctx, tx, region+"/"+strings.ToLower(database)+"/"+strings.ToLower(name))
		if err != nil {
			return err
		}
		return c.removeTableTx(ctx, tx, t)
	})
}

func (c *Catalog) removeTableTx(ctx context.Context, tx store.Tx, t *Table) error {
	if err := c.removePartitionsTx(ctx, tx, t); err != nil {
		return err
	}
	return c.tables.Delete(ctx, tx, t.Region+"/"+t.DatabaseName+"/"+t.Name)
}

func (c *Catalog) removePartitionsTx(ctx context.Context, tx store.Tx, t *Table) error {
	parts, err := c.partitions.List(ctx, tx, store.Query{Parent: t.Region + "/" + t.DatabaseName + "/" + t.Name})
	if err != nil {
		return err
	}
	for _, p := range parts {
		if err := c.partitions.Delete(ctx, tx, partitionParent(p)+"/"+partitionKey(p.Values)); err != nil {
			return err
		}
	}
	return nil
}

// PartitionInput is a partition to register.
type PartitionInput struct {
	Values     []string
	Location   string
	Parameters map[string]string
}

// PutPartitions registers partitions of a table (which must exist),
// replacing those with the same values (their creation time kept), in one
// transaction.
func (c *Catalog) PutPartitions(ctx context.Context, region, database, table string, parts []PartitionInput) error {
	return c.db.Update(ctx, func(tx store.Tx) error {
		t, err := c.tableTx(ctx, tx, region, database, table)
		if err != nil {
			return err
		}
		return c.putPartitionsTx(ctx, tx, t, parts)
	})
}

// ReplacePartitions makes parts the whole set of partitions of a table, in
// one transaction: others are removed.
func (c *Catalog) ReplacePartitions(ctx context.Context, region, database, table string, parts []PartitionInput) error {
	return c.db.Update(ctx, func(tx store.Tx) error {
		t, err := c.tableTx(ctx, tx, region, database, table)
		if err != nil {
			return err
		}
		return c.replacePartitionsTx(ctx, tx, t, parts)
	})
}

func (c *Catalog) replacePartitionsTx(ctx context.Context, tx store.Tx, t *Table, parts []PartitionInput) error {
	keep := map[string]bool{}
	for _, p := range parts {
		keep[partitionKey(p.Values)] = true
	}
	old, err := c.partitions.List(ctx, tx, store.Query{Parent: t.Region + "/" + t.DatabaseName + "/" + t.Name})
	if err != nil {
		return err
	}
	for _, p := range old {
		if !keep[partitionKey(p.Values)] {
			if err := c.partitions.Delete(ctx, tx, partitionParent(p)+"/"+partitionKey(p.Values)); err != nil {
				return err
			}
		}
	}
	return c.putPartitionsTx(ctx, tx, t, parts)
}

// RemovePartitions removes the partitions of a table with the given values.
func (c *Catalog) RemovePartitions(ctx context.Context, region, database, table string, values ...[]string) error {
	return c.db.Update(ctx, func(tx store.Tx) error {
		t, err := c.tableTx(ctx, tx, region, database, table)
		if err != nil {
			return err
		}
		for _, v := range values {
			id := region + "/" + t.DatabaseName + "/" + t.Name + "/" + partitionKey(v)
			if err := c.partitions.Delete(ctx, tx, id); err != nil {
				return err
			}
		}
		return nil
	})
}

func (c *Catalog) tableTx(ctx context.Context, tx store.Tx, region, database, table string) (*Table, error) {
	database, table = strings.ToLower(database), strings.ToLower(table)
	if _, _, err := c.databases.Get(ctx, tx, region+"/"+database); err != nil {
		return nil, err
	}
	t, _, err := c.tables.Get(ctx, tx, region+"/"+database+"/"+table)
	return t, err
}

func (c *Catalog) putPartitionsTx(ctx context.Context, tx store.Tx, t *Table, parts []PartitionInput) error {
	now := c.now().UTC()
	seen := map[string]bool{}
	for _, in := range parts {
		if len(in.Values) != len(t.PartitionKeys) {
			return fault.Invalidf("A partition of table %s needs %d values (one per partition key), not %d.", t.Name, len(t.PartitionKeys), len(in.Values))
		}
		for _, v := range in.Values {
			if v == "" {
				return fault.Invalidf("A partition value of table %s is empty.", t.Name)
			}
			if err := checkText("partition value", v, 1024); err != nil {
				return err
			}
		}
		if err := checkText("location", in.Location, 2056); err != nil {
			return err
		}
		key := partitionKey(in.Values)
		if seen[key] {
			return fault.Invalidf("The partition %s of table %s is given twice.", key, t.Name)
		}
		seen[key] = true
		p := &Partition{Region: t.Region, DatabaseName: t.DatabaseName, TableName: t.Name, Values: slices.Clone(in.Values),
			Location: in.Location, Parameters: maps.Clone(in.Parameters), CreateTime: now}
		old, version, err := c.partitions.Get(ctx, tx, partitionParent(p)+"/"+key)
		switch {
		case errors.Is(err, store.ErrNotFound):
			err = c.partitions.Insert(ctx, tx, p)
		case err == nil:
			p.CreateTime = old.CreateTime
			err = c.partitions.Update(ctx, tx, p, version)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// String names a partition in messages: its values.
func (p *Partition) String() string {
	return fmt.Sprintf("%s.%s%q", p.DatabaseName, p.TableName, p.Values)
}
