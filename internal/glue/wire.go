package glue

import (
	"context"
	"hash/fnv"
	"regexp"
	"strings"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/store"
	wglue "github.com/openfinspace/openfinspace/internal/wire/glue"
	"github.com/openfinspace/openfinspace/internal/wire/shape"
)

// This file serves the six read operations on the generated Glue shapes
// (internal/wire/glue). The region is the caller's (its SigV4 scope).
//
// What each accepts beyond the common members:
//
//   - CatalogId, when set, must be the account id (EntityNotFoundException
//     otherwise: there is one catalog per account).
//   - TransactionId and QueryAsOfTime (Lake Formation governed tables) are
//     refused with InvalidInputException; AuditContext and
//     IncludeStatusDetails are accepted and ignored.
//   - GetDatabases: ResourceShareType FOREIGN and FEDERATED list nothing
//     (no database is shared or federated); AttributesToGet [NAME] returns
//     names only.
//   - GetTables: Expression is a Go regular expression the whole table name
//     must match; AttributesToGet returns only the names (and TableType
//     with TABLE_TYPE).
//   - GetPartitions: Expression as expr.go says; Segment splits the
//     partitions into TotalSegments disjoint sets by a hash of their
//     values; ExcludeColumnSchema leaves the columns out.
//
// NextToken is opaque and tamper-evident (package paging), valid only for
// the listing and filters it was issued for.

// Register installs the catalog's read operations.
func (c *Catalog) Register(h *wglue.Handlers) {
	h.GetDatabases = c.getDatabases
	h.GetDatabase = c.getDatabase
	h.GetTables = c.getTables
	h.GetTable = c.getTable
	h.GetPartitions = c.getPartitions
	h.GetPartition = c.getPartition
}

func callerRegion(ctx context.Context) string {
	c, _ := auth.CallerFrom(ctx)
	return c.Region
}

func (c *Catalog) checkCatalog(id *string) error {
	if id != nil && *id != c.account {
		return fault.NotFoundf("Catalog %s not found: this server has one catalog, %s.", *id, c.account)
	}
	return nil
}

func noGovernedReads(tx *string, asOf *shape.Timestamp) error {
	if tx != nil || asOf != nil {
		return fault.Invalidf("TransactionId and QueryAsOfTime are not supported: openfinspace's catalog has no governed tables.")
	}
	return nil
}

func op(name string) *shape.Operation { return wglue.OperationByName(name) }

// pageArgs resolves the token and page size of a listing of scope.
func (c *Catalog) pageArgs(opName, scope string, token *string, maxResults *int32) (*store.Cursor, int, error) {
	pg := op(opName).Pagination
	var limit *int64
	if maxResults != nil {
		v := int64(*maxResults)
		limit = &v
	}
	n := paging.Limit(limit, pg.LimitMax, 100)
	if token == nil || *token == "" {
		return nil, n, nil
	}
	cur, err := c.pages.Decode(scope, *token)
	return cur, n, err
}

func (c *Catalog) nextToken(scope string, next *store.Cursor) *string {
	if next == nil {
		return nil
	}
	t := c.pages.Encode(scope, *next)
	return &t
}

func ptr(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (c *Catalog) getDatabases(ctx context.Context, in *wglue.GetDatabasesRequest) (*wglue.GetDatabasesResponse, error) {
	if err := c.checkCatalog(in.CatalogId); err != nil {
		return nil, err
	}
	out := &wglue.GetDatabasesResponse{DatabaseList: []wglue.Database{}}
	if in.ResourceShareType != nil && *in.ResourceShareType != wglue.ResourceShareTypeAll {
		return out, nil // nothing is shared with or federated into this account
	}
	r := callerRegion(ctx)
	scope := "glue.GetDatabases|" + r
	after, limit, err := c.pageArgs("GetDatabases", scope, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	page, err := c.Databases(ctx, r, after, limit)
	if err != nil {
		return nil, err
	}
	namesOnly := len(in.AttributesToGet) > 0
	for _, d := range page.Items {
		w := c.wireDatabase(d)
		if namesOnly {
			w = wglue.Database{Name: w.Name}
		}
		out.DatabaseList = append(out.DatabaseList, w)
	}
	out.NextToken = c.nextToken(scope, page.Next)
	return out, nil
}

func (c *Catalog) getDatabase(ctx context.Context, in *wglue.GetDatabaseRequest) (*wglue.GetDatabaseResponse, error) {
	if err := c.checkCatalog(in.CatalogId); err != nil {
		return nil, err
	}
	d, err := c.Database(ctx, callerRegion(ctx), *in.Name)
	if err != nil {
		return nil, err
	}
	w := c.wireDatabase(d)
	return &wglue.GetDatabaseResponse{Database: &w}, nil
}

func (c *Catalog) getTables(ctx context.Context, in *wglue.GetTablesRequest) (*wglue.GetTablesResponse, error) {
	if err := c.checkCatalog(in.CatalogId); err != nil {
		return nil, err
	}
	if err := noGovernedReads(in.TransactionId, in.QueryAsOfTime); err != nil {
		return nil, err
	}
	var keep func(*Table) bool
	expr := ""
	if in.Expression != nil && *in.Expression != "" {
		expr = *in.Expression
		re, err := regexp.Compile(`^(?:` + expr + `)$`)
		if err != nil {
			return nil, fault.Invalidf("The table name expression %q is not a valid regular expression.", expr)
		}
		keep = func(t *Table) bool { return re.MatchString(t.Name) }
	}
	r := callerRegion(ctx)
	db, _ := lookupName(*in.DatabaseName)
	scope := "glue.GetTables|" + r + "|" + db + "|" + expr
	after, limit, err := c.pageArgs("GetTables", scope, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	page, err := c.Tables(ctx, r, *in.DatabaseName, keep, after, limit)
	if err != nil {
		return nil, err
	}
	attrs := map[wglue.TableAttributes]bool{}
	for _, a := range in.AttributesToGet {
		attrs[a] = true
	}
	out := &wglue.GetTablesResponse{TableList: []wglue.Table{}}
	for _, t := range page.Items {
		w := c.wireTable(t)
		if len(attrs) > 0 {
			w = wglue.Table{Name: w.Name, DatabaseName: w.DatabaseName, CatalogId: w.CatalogId}
			if attrs[wglue.TableAttributesTableType] {
				w.TableType = ptr(t.TableType)
			}
		}
		out.TableList = append(out.TableList, w)
	}
	out.NextToken = c.nextToken(scope, page.Next)
	return out, nil
}

func (c *Catalog) getTable(ctx context.Context, in *wglue.GetTableRequest) (*wglue.GetTableResponse, error) {
	if err := c.checkCatalog(in.CatalogId); err != nil {
		return nil, err
	}
	if err := noGovernedReads(in.TransactionId, in.QueryAsOfTime); err != nil {
		return nil, err
	}
	t, err := c.Table(ctx, callerRegion(ctx), *in.DatabaseName, *in.Name)
	if err != nil {
		return nil, err
	}
	w := c.wireTable(t)
	return &wglue.GetTableResponse{Table: &w}, nil
}

func (c *Catalog) getPartitions(ctx context.Context, in *wglue.GetPartitionsRequest) (*wglue.GetPartitionsResponse, error) {
	if err := c.checkCatalog(in.CatalogId); err != nil {
		return nil, err
	}
	if err := noGovernedReads(in.TransactionId, in.QueryAsOfTime); err != nil {
		return nil, err
	}
	expr := ""
	if in.Expression != nil {
		expr = strings.TrimSpace(*in.Expression)
	}
	filter, err := parseExpression(expr)
	if err != nil {
		return nil, err
	}
	segment, segments := int32(0), int32(1)
	if s := in.Segment; s != nil {
		segment, segments = *s.SegmentNumber, *s.TotalSegments
		if segment >= segments {
			return nil, fault.Invalidf("The SegmentNumber %d must be less than TotalSegments %d.", segment, segments)
		}
	}
	// An unknown key is refused even when the table has no partition to
	// test it on.
	if len(filter) > 0 {
		t, err := c.Table(ctx, callerRegion(ctx), *in.DatabaseName, *in.TableName)
		if err != nil {
			return nil, err
		}
		if _, err := filter.bind(t); err != nil {
			return nil, err
		}
	}
	var keep func(*Table, *Partition) bool
	if len(filter) > 0 || segments > 1 {
		var idx []int
		keep = func(t *Table, p *Partition) bool {
			if idx == nil {
				var err error
				if idx, err = filter.bind(t); err != nil {
					return false // the table changed since the check above
				}
			}
			return filter.match(idx, p.Values) && (segments == 1 || segmentOf(p.Values, segments) == segment)
		}
	}
	r := callerRegion(ctx)
	db, _ := lookupName(*in.DatabaseName)
	tb, _ := lookupName(*in.TableName)
	scope := "glue.GetPartitions|" + r + "|" + db + "|" + tb + "|" + expr + "|" + itoa(int(segment)) + "/" + itoa(int(segments))
	after, limit, err := c.pageArgs("GetPartitions", scope, in.NextToken, in.MaxResults)
	if err != nil {
		return nil, err
	}
	page, t, err := c.Partitions(ctx, r, *in.DatabaseName, *in.TableName, keep, after, limit)
	if err != nil {
		return nil, err
	}
	exclude := in.ExcludeColumnSchema != nil && *in.ExcludeColumnSchema
	out := &wglue.GetPartitionsResponse{Partitions: []wglue.Partition{}}
	for _, p := range page.Items {
		out.Partitions = append(out.Partitions, c.wirePartition(t, p, exclude))
	}
	out.NextToken = c.nextToken(scope, page.Next)
	return out, nil
}

// segmentOf assigns partition values to one of n segments.
func segmentOf(values []string, n int32) int32 {
	h := fnv.New32a()
	h.Write([]byte(partitionKey(values)))
	return int32(h.Sum32() % uint32(n))
}

func (c *Catalog) getPartition(ctx context.Context, in *wglue.GetPartitionRequest) (*wglue.GetPartitionResponse, error) {
	if err := c.checkCatalog(in.CatalogId); err != nil {
		return nil, err
	}
	p, t, err := c.Partition(ctx, callerRegion(ctx), *in.DatabaseName, *in.TableName, in.PartitionValues)
	if err != nil {
		return nil, err
	}
	w := c.wirePartition(t, p, false)
	return &wglue.GetPartitionResponse{Partition: &w}, nil
}

func wireColumns(cols []Column) []wglue.Column {
	if cols == nil {
		return nil
	}
	out := make([]wglue.Column, len(cols))
	for i, col := range cols {
		out[i] = wglue.Column{Name: ptr(col.Name), Type: ptr(col.Type), Comment: ptr(col.Comment), Parameters: col.Parameters}
	}
	return out
}

func wireStorage(s StorageDescriptor, location string, columns bool) *wglue.StorageDescriptor {
	w := &wglue.StorageDescriptor{
		Location: ptr(location), InputFormat: ptr(s.InputFormat), OutputFormat: ptr(s.OutputFormat),
		Compressed: &s.Compressed, NumberOfBuckets: new(int32(0)), StoredAsSubDirectories: new(false),
		SerdeInfo:  &wglue.SerDeInfo{Name: ptr(s.SerDe.Name), SerializationLibrary: ptr(s.SerDe.SerializationLibrary), Parameters: s.SerDe.Parameters},
		Parameters: s.Parameters,
	}
	if columns {
		w.Columns = wireColumns(s.Columns)
		if w.Columns == nil {
			w.Columns = []wglue.Column{}
		}
	}
	return w
}

func (c *Catalog) wireDatabase(d *Database) wglue.Database {
	return wglue.Database{Name: ptr(d.Name), Description: ptr(d.Description), LocationUri: ptr(d.LocationURI),
		Parameters: d.Parameters, CreateTime: shape.NewTimestamp(d.CreateTime), CatalogId: ptr(c.account)}
}

func (c *Catalog) wireTable(t *Table) wglue.Table {
	return wglue.Table{
		Name: ptr(t.Name), DatabaseName: ptr(t.DatabaseName), Description: ptr(t.Description), Owner: ptr(t.Owner),
		CreateTime: shape.NewTimestamp(t.CreateTime), UpdateTime: shape.NewTimestamp(t.UpdateTime),
		Retention: new(int32(0)), StorageDescriptor: wireStorage(t.Storage, t.Storage.Location, true),
		PartitionKeys: wireColumns(t.PartitionKeys), TableType: ptr(t.TableType), Parameters: t.Parameters,
		IsRegisteredWithLakeFormation: new(false), CatalogId: ptr(c.account),
	}
}

func (c *Catalog) wirePartition(t *Table, p *Partition, excludeColumns bool) wglue.Partition {
	return wglue.Partition{
		Values: p.Values, DatabaseName: ptr(p.DatabaseName), TableName: ptr(p.TableName),
		CreationTime: shape.NewTimestamp(p.CreateTime), StorageDescriptor: wireStorage(t.Storage, p.Location, !excludeColumns),
		Parameters: p.Parameters, CatalogId: ptr(c.account),
	}
}
