package ingest

import (
	"fmt"
	"strings"
)

// ColumnType is a FinSpace ColumnDataType.
type ColumnType string

// The FinSpace ColumnDataType values.
const (
	TypeString   ColumnType = "STRING"
	TypeChar     ColumnType = "CHAR"
	TypeInteger  ColumnType = "INTEGER"
	TypeTinyint  ColumnType = "TINYINT"
	TypeSmallint ColumnType = "SMALLINT"
	TypeBigint   ColumnType = "BIGINT"
	TypeFloat    ColumnType = "FLOAT"
	TypeDouble   ColumnType = "DOUBLE"
	TypeDate     ColumnType = "DATE"
	TypeDatetime ColumnType = "DATETIME"
	TypeBoolean  ColumnType = "BOOLEAN"
	TypeBinary   ColumnType = "BINARY"
)

// duckType is the DuckDB type a FinSpace type is stored as. CHAR has no
// fixed-length counterpart in DuckDB or Parquet: it is stored as VARCHAR.
// DATETIME is a TIMESTAMP (microseconds, no time zone).
var duckTypes = map[ColumnType]string{
	TypeString:   "VARCHAR",
	TypeChar:     "VARCHAR",
	TypeInteger:  "INTEGER",
	TypeTinyint:  "TINYINT",
	TypeSmallint: "SMALLINT",
	TypeBigint:   "BIGINT",
	TypeFloat:    "FLOAT",
	TypeDouble:   "DOUBLE",
	TypeDate:     "DATE",
	TypeDatetime: "TIMESTAMP",
	TypeBoolean:  "BOOLEAN",
	TypeBinary:   "BLOB",
}

// DuckType returns the DuckDB type name a column of type t is written as.
func (t ColumnType) DuckType() string { return duckTypes[t] }

// Column is one column of a tabular schema.
type Column struct {
	Name string
	Type ColumnType
}

// Schema is the ordered list of a dataset's columns.
type Schema struct {
	Columns []Column
}

// Validate checks that the schema has at least one column, that every name
// is non-empty and unique (DuckDB and Parquet readers compare names without
// case, so "Price" and "price" collide) and that every type is known.
func (s Schema) Validate() error {
	if len(s.Columns) == 0 {
		return &RequestError{Member: "schema", Msg: "the schema has no columns"}
	}
	seen := make(map[string]bool, len(s.Columns))
	for i, c := range s.Columns {
		if strings.TrimSpace(c.Name) == "" {
			return &RequestError{Member: "schema", Msg: fmt.Sprintf("column %d has an empty name", i+1)}
		}
		k := strings.ToLower(c.Name)
		if seen[k] {
			return &RequestError{Member: "schema", Msg: fmt.Sprintf("column name %q appears more than once", c.Name)}
		}
		seen[k] = true
		if _, ok := duckTypes[c.Type]; !ok {
			return &RequestError{Member: "schema", Msg: fmt.Sprintf("column %q has unknown type %q", c.Name, c.Type)}
		}
	}
	return nil
}
