package glue

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/fault"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/store"
	"github.com/openfinspace/openfinspace/internal/store/postgres"
	"github.com/openfinspace/openfinspace/internal/store/postgres/pgtest"
	"github.com/openfinspace/openfinspace/internal/store/sqlite"
	wglue "github.com/openfinspace/openfinspace/internal/wire/glue"
)

const (
	region  = "us-east-1"
	account = "000000000000"
)

// stores runs fn against a catalog on SQLite and, when
// OPENFINSPACE_TEST_POSTGRES is set, on PostgreSQL.
func stores(t *testing.T, fn func(t *testing.T, c *Catalog)) {
	t.Run("sqlite", func(t *testing.T) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "m.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, newCatalog(db))
	})
	t.Run("postgres", func(t *testing.T) {
		db, err := postgres.Open(context.Background(), pgtest.URL(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		fn(t, newCatalog(db))
	})
}

func newCatalog(db store.Store) *Catalog {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return New(Config{Store: db, Pages: paging.NewCodec([]byte("0123456789abcdef0123456789abcdef")), Account: account,
		Now: func() time.Time { now = now.Add(time.Second); return now }})
}

func callerCtx(r string) context.Context {
	return auth.WithCaller(context.Background(), auth.Caller{Region: r, Principal: auth.Principal{Kind: auth.Root}})
}

// fixture registers database "sales" with table "trades" partitioned by
// (year, month) with n partitions per year for 2023 and 2024, and an
// unpartitioned table "ref".
func fixture(t *testing.T, c *Catalog, n int) {
	t.Helper()
	ctx := context.Background()
	if _, err := c.PutDatabase(ctx, Database{Region: region, Name: "Sales", Description: "trades", LocationURI: "s3://b/sales/"}); err != nil {
		t.Fatal(err)
	}
	cols := []Column{{Name: "sym", Type: "string"}, {Name: "px", Type: "double", Comment: "price"}}
	if _, err := c.PutTable(ctx, Table{Region: region, DatabaseName: "sales", Name: "trades", TableType: "EXTERNAL_TABLE",
		PartitionKeys: []Column{{Name: "year", Type: "string"}, {Name: "month", Type: "string"}},
		Storage:       ParquetStorage("s3://b/sales/trades/", cols), Parameters: map[string]string{"classification": "parquet"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.PutTable(ctx, Table{Region: region, DatabaseName: "sales", Name: "ref", Storage: ParquetStorage("s3://b/sales/ref/", cols)}); err != nil {
		t.Fatal(err)
	}
	var parts []PartitionInput
	for _, y := range []string{"2023", "2024"} {
		for m := 1; m <= n; m++ {
			mm := []string{"01", "02", "03", "04", "05", "06", "07", "08", "09", "10", "11", "12"}[m-1]
			parts = append(parts, PartitionInput{Values: []string{y, mm}, Location: "s3://b/sales/trades/year=" + y + "/month=" + mm + "/"})
		}
	}
	if err := c.PutPartitions(ctx, region, "sales", "trades", parts); err != nil {
		t.Fatal(err)
	}
}

func TestRegisterAndRead(t *testing.T) {
	stores(t, func(t *testing.T, c *Catalog) {
		ctx := context.Background()
		fixture(t, c, 3)
		d, err := c.Database(ctx, region, "SALES")
		if err != nil || d.Name != "sales" || d.LocationURI != "s3://b/sales/" {
			t.Fatalf("Database = %+v, %v", d, err)
		}
		created := d.CreateTime
		// Replacing keeps the creation time.
		if d, err = c.PutDatabase(ctx, Database{Region: region, Name: "sales", Description: "new"}); err != nil || !d.CreateTime.Equal(created) {
			t.Fatalf("PutDatabase again = %+v, %v", d, err)
		}
		if _, err := c.Database(ctx, "eu-west-1", "sales"); fault.KindOf(err) != fault.NotFound {
			t.Errorf("another region's database: %v", err)
		}
		tb, err := c.Table(ctx, region, "sales", "Trades")
		if err != nil || tb.Storage.InputFormat != ParquetInputFormat || len(tb.PartitionKeys) != 2 {
			t.Fatalf("Table = %+v, %v", tb, err)
		}
		p, _, err := c.Partition(ctx, region, "sales", "trades", []string{"2024", "02"})
		if err != nil || p.Location != "s3://b/sales/trades/year=2024/month=02/" {
			t.Fatalf("Partition = %+v, %v", p, err)
		}
		if _, _, err := c.Partition(ctx, region, "sales", "trades", []string{"2025", "01"}); fault.KindOf(err) != fault.NotFound {
			t.Errorf("missing partition: %v", err)
		}

		// Refusals of the Go API.
		for name, err := range map[string]error{
			"table without database": func() error {
				_, err := c.PutTable(ctx, Table{Region: region, DatabaseName: "nope", Name: "t"})
				return err
			}(),
			"bad name": func() error {
				_, err := c.PutDatabase(ctx, Database{Region: region, Name: "a/b"})
				return err
			}(),
			"key that is a column": func() error {
				_, err := c.PutTable(ctx, Table{Region: region, DatabaseName: "sales", Name: "t",
					PartitionKeys: []Column{{Name: "sym"}}, Storage: ParquetStorage("s3://x/", []Column{{Name: "SYM"}})})
				return err
			}(),
			"wrong number of values": c.PutPartitions(ctx, region, "sales", "trades", []PartitionInput{{Values: []string{"2024"}}}),
			"empty value":            c.PutPartitions(ctx, region, "sales", "trades", []PartitionInput{{Values: []string{"2024", ""}}}),
		} {
			if k := fault.KindOf(err); k != fault.Invalid && k != fault.NotFound {
				t.Errorf("%s: %v", name, err)
			}
		}

		// Replace the partition set; then the table's keys: its partitions go.
		if err := c.ReplacePartitions(ctx, region, "sales", "trades", []PartitionInput{{Values: []string{"2024", "02"}, Location: "s3://b/x/"}}); err != nil {
			t.Fatal(err)
		}
		page, _, err := c.Partitions(ctx, region, "sales", "trades", nil, nil, 100)
		if err != nil || len(page.Items) != 1 || page.Items[0].Location != "s3://b/x/" || !page.Items[0].CreateTime.Equal(p.CreateTime) {
			t.Fatalf("after ReplacePartitions: %+v, %v", page.Items, err)
		}
		if err := c.RemovePartitions(ctx, region, "sales", "trades", []string{"2024", "02"}); err != nil {
			t.Fatal(err)
		}
		if err := c.RemovePartitions(ctx, region, "sales", "trades", []string{"2024", "02"}); fault.KindOf(err) != fault.NotFound {
			t.Errorf("removing a removed partition: %v", err)
		}
		fixture(t, c, 2)
		tb.PartitionKeys = tb.PartitionKeys[:1]
		if _, err := c.PutTable(ctx, *tb); err != nil {
			t.Fatal(err)
		}
		if page, _, _ := c.Partitions(ctx, region, "sales", "trades", nil, nil, 100); len(page.Items) != 0 {
			t.Errorf("partitions kept after the keys changed: %d", len(page.Items))
		}

		// RemoveDatabase takes its tables and partitions along.
		fixture(t, c, 2)
		if err := c.RemoveDatabase(ctx, region, "sales"); err != nil {
			t.Fatal(err)
		}
		var left int
		_ = c.db.View(ctx, func(tx store.Tx) error {
			for _, k := range []string{KindDatabase, KindTable, KindPartition} {
				n, err := tx.Count(ctx, store.Query{Kind: k, AnyParent: true})
				if err != nil {
					return err
				}
				left += n
			}
			return nil
		})
		if left != 0 {
			t.Errorf("%d records left after RemoveDatabase", left)
		}
	})
}

// TestReadOperations drives the six operations on the generated shapes.
func TestReadOperations(t *testing.T) {
	stores(t, func(t *testing.T, c *Catalog) {
		ctx := callerCtx(region)
		fixture(t, c, 12)
		h := &wglue.Handlers{}
		c.Register(h)
		for i := range 3 {
			if _, err := c.PutDatabase(context.Background(), Database{Region: region, Name: "db" + itoa(i)}); err != nil {
				t.Fatal(err)
			}
		}

		// GetDatabases pages by name.
		var names []string
		var token *string
		for pages := 0; ; pages++ {
			out, err := h.GetDatabases(ctx, &wglue.GetDatabasesRequest{MaxResults: new(int32(2)), NextToken: token})
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range out.DatabaseList {
				names = append(names, *d.Name)
				if *d.CatalogId != account {
					t.Errorf("CatalogId = %s", *d.CatalogId)
				}
			}
			if token = out.NextToken; token == nil {
				break
			}
		}
		if !slices.Equal(names, []string{"db0", "db1", "db2", "sales"}) {
			t.Errorf("GetDatabases = %v", names)
		}
		if out, _ := h.GetDatabases(callerCtx("eu-west-1"), &wglue.GetDatabasesRequest{}); len(out.DatabaseList) != 0 {
			t.Errorf("another region lists %d databases", len(out.DatabaseList))
		}
		foreign := wglue.ResourceShareTypeForeign
		if out, _ := h.GetDatabases(ctx, &wglue.GetDatabasesRequest{ResourceShareType: &foreign}); len(out.DatabaseList) != 0 {
			t.Errorf("FOREIGN lists %d databases", len(out.DatabaseList))
		}
		if _, err := h.GetDatabases(ctx, &wglue.GetDatabasesRequest{CatalogId: new("123456789012")}); fault.KindOf(err) != fault.NotFound {
			t.Errorf("another catalog: %v", err)
		}

		// GetTables with a name expression.
		out, err := h.GetTables(ctx, &wglue.GetTablesRequest{DatabaseName: new("sales"), Expression: new("tr.*")})
		if err != nil || len(out.TableList) != 1 || *out.TableList[0].Name != "trades" || out.NextToken != nil {
			t.Fatalf("GetTables(tr.*) = %+v, %v", out, err)
		}
		if _, err := h.GetTables(ctx, &wglue.GetTablesRequest{DatabaseName: new("sales"), Expression: new("(")}); fault.KindOf(err) != fault.Invalid {
			t.Errorf("bad table expression: %v", err)
		}
		if _, err := h.GetTables(ctx, &wglue.GetTablesRequest{DatabaseName: new("nope")}); fault.KindOf(err) != fault.NotFound || !strings.Contains(err.Error(), "Database nope not found") {
			t.Errorf("tables of a missing database: %v", err)
		}
		gt, err := h.GetTable(ctx, &wglue.GetTableRequest{DatabaseName: new("sales"), Name: new("trades")})
		if err != nil || *gt.Table.StorageDescriptor.SerdeInfo.SerializationLibrary != ParquetSerDe ||
			*gt.Table.StorageDescriptor.Location != "s3://b/sales/trades/" || len(gt.Table.StorageDescriptor.Columns) != 2 {
			t.Fatalf("GetTable = %+v, %v", gt, err)
		}

		// GetPartitions: paging, an expression, segments.
		listAll := func(req wglue.GetPartitionsRequest) [][]string {
			t.Helper()
			var got [][]string
			for {
				r := req
				out, err := h.GetPartitions(ctx, &r)
				if err != nil {
					t.Fatal(err)
				}
				for _, p := range out.Partitions {
					got = append(got, p.Values)
				}
				if out.NextToken == nil {
					return got
				}
				req.NextToken = out.NextToken
			}
		}
		base := wglue.GetPartitionsRequest{DatabaseName: new("sales"), TableName: new("trades"), MaxResults: new(int32(5))}
		if got := listAll(base); len(got) != 24 || !slices.Equal(got[0], []string{"2023", "01"}) || !slices.Equal(got[23], []string{"2024", "12"}) {
			t.Errorf("all partitions: %d %v", len(got), got)
		}
		q := base
		q.Expression = new("year = '2024' AND `month` = '03'")
		if got := listAll(q); len(got) != 1 || !slices.Equal(got[0], []string{"2024", "03"}) {
			t.Errorf("expression: %v", got)
		}
		q.Expression = new("year = 2024")
		q.MaxResults = new(int32(4))
		if got := listAll(q); len(got) != 12 {
			t.Errorf("year = 2024 (paged by 4): %d", len(got))
		}
		var union [][]string
		for s := range int32(3) {
			q := base
			q.Segment = &wglue.Segment{SegmentNumber: new(s), TotalSegments: new(int32(3))}
			union = append(union, listAll(q)...)
		}
		if len(union) != 24 {
			t.Errorf("three segments hold %d partitions, want 24", len(union))
		}
		for expr, want := range map[string]string{
			"year > '2023'":                 "only = comparisons",
			"year = '2024' OR month = '01'": "only AND",
			"color = 'red'":                 "Unknown column 'color'",
			"year = '2024":                  "not terminated",
			"(year = '2024')":               "partition key name was expected",
		} {
			q := base
			q.Expression = new(expr)
			_, err := h.GetPartitions(ctx, &q)
			if fault.KindOf(err) != fault.Invalid || !strings.Contains(err.Error(), want) {
				t.Errorf("expression %q: %v, want InvalidInput mentioning %q", expr, err, want)
			}
		}
		// A token is for its own listing only.
		first, _ := h.GetPartitions(ctx, &base)
		q = base
		q.Expression = new("year = '2024'")
		q.NextToken = first.NextToken
		if _, err := h.GetPartitions(ctx, &q); fault.KindOf(err) != fault.Invalid {
			t.Errorf("a token of another listing: %v", err)
		}
		q = base
		q.TransactionId = new("tx")
		if _, err := h.GetPartitions(ctx, &q); fault.KindOf(err) != fault.Invalid {
			t.Errorf("TransactionId: %v", err)
		}
		gp, err := h.GetPartition(ctx, &wglue.GetPartitionRequest{DatabaseName: new("sales"), TableName: new("trades"), PartitionValues: []string{"2023", "07"}})
		if err != nil || *gp.Partition.StorageDescriptor.Location != "s3://b/sales/trades/year=2023/month=07/" ||
			*gp.Partition.StorageDescriptor.InputFormat != ParquetInputFormat {
			t.Fatalf("GetPartition = %+v, %v", gp, err)
		}
		if _, err := h.GetPartition(ctx, &wglue.GetPartitionRequest{DatabaseName: new("sales"), TableName: new("nope"), PartitionValues: []string{"x"}}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("partition of a missing table: %v", err)
		}
	})
}

// Values the store hands out are the caller's (store.Table's contract).
func TestClone(t *testing.T) {
	tb := &Table{PartitionKeys: []Column{{Name: "k", Parameters: map[string]string{"a": "b"}}},
		Storage: ParquetStorage("s3://x/", []Column{{Name: "c"}}), Parameters: map[string]string{"p": "q"}}
	c := tb.Clone()
	c.PartitionKeys[0].Parameters["a"] = "changed"
	c.Storage.Columns[0].Name = "changed"
	c.Storage.SerDe.Parameters["serialization.format"] = "changed"
	c.Parameters["p"] = "changed"
	if tb.PartitionKeys[0].Parameters["a"] != "b" || tb.Storage.Columns[0].Name != "c" ||
		tb.Storage.SerDe.Parameters["serialization.format"] != "1" || tb.Parameters["p"] != "q" {
		t.Errorf("Clone shares memory: %+v", tb)
	}
	p := &Partition{Values: []string{"a"}, Parameters: map[string]string{"x": "y"}}
	pc := p.Clone()
	pc.Values[0], pc.Parameters["x"] = "b", "z"
	if p.Values[0] != "a" || p.Parameters["x"] != "y" {
		t.Errorf("Partition.Clone shares memory")
	}
}
