package clients_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/openfinspace/openfinspace/internal/glue"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

// TestBoto3Glue registers a database, two tables and 24 partitions through
// the server's Go API (as data views do) and runs testdata/glue_boto3.py:
// boto3's glue client reads them (paging, an expression), and the refusals
// (an unknown database, an unsupported operation, an unsigned request,
// another region).
func TestBoto3Glue(t *testing.T) {
	t.Parallel()
	python := requirePythonBoto3(t)
	srv := servertest.Start(t)
	ctx := context.Background()
	cat := srv.Glue()
	if _, err := cat.PutDatabase(ctx, glue.Database{Region: region, Name: "market", Description: "market data",
		LocationURI: "s3://views/market/"}); err != nil {
		t.Fatal(err)
	}
	cols := []glue.Column{{Name: "sym", Type: "string"}, {Name: "px", Type: "double", Comment: "last price"}, {Name: "ts", Type: "timestamp"}}
	for _, name := range []string{"trades", "quotes"} {
		if _, err := cat.PutTable(ctx, glue.Table{Region: region, DatabaseName: "market", Name: name, TableType: "EXTERNAL_TABLE",
			PartitionKeys: []glue.Column{{Name: "year", Type: "string"}, {Name: "month", Type: "string"}},
			Storage:       glue.ParquetStorage("s3://views/market/"+name+"/", cols),
			Parameters:    map[string]string{"classification": "parquet"}}); err != nil {
			t.Fatal(err)
		}
	}
	var parts []glue.PartitionInput
	for _, y := range []string{"2023", "2024"} {
		for m := 1; m <= 12; m++ {
			parts = append(parts, glue.PartitionInput{Values: []string{y, fmt.Sprintf("%02d", m)},
				Location: fmt.Sprintf("s3://views/market/trades/year=%s/month=%02d/", y, m)})
		}
	}
	if err := cat.PutPartitions(ctx, region, "market", "trades", parts); err != nil {
		t.Fatal(err)
	}
	root := srv.Root()
	runClient(t, clientEnv(t, srv.URL(), root.AccessKeyID, root.SecretAccessKey), python, testdataPath(t, "glue_boto3.py"))
}
