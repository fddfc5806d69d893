package clients_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/finspace/types"
	_ "github.com/duckdb/duckdb-go/v2"
	"github.com/klauspost/compress/zstd"

	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

// datasetRowsCSV is the source every format variant carries: all 12
// column types, a quoted separator, unicode, limits of the integer types.
const datasetRowsCSV = "s,c,i,ti,si,bi,f,d,dt,ts,b,bin\n" +
	"\"a, b\",x,2147483647,127,32767,9223372036854775807,1.5,2.25,2024-02-29,2024-02-29 03:04:05,true,ab\n" +
	"ü東京,y,-2147483648,-128,-32768,-9223372036854775808,-0.5,1e+300,1970-01-01,1999-12-31 23:59:59.5,false,zz\n" +
	"nulls,,,,,,,,,,,\n"

// datasetRowsWant is how the stored data reads back (see storedRows).
var datasetRowsWant = []string{
	"a, b|x|2147483647|127|32767|9223372036854775807|1.5|2.25|2024-02-29|2024-02-29 03:04:05|true|6162",
	"nulls|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL|NULL",
	"ü東京|y|-2147483648|-128|-32768|-9223372036854775808|-0.5|1e+300|1970-01-01|1999-12-31 23:59:59.5|false|7A7A",
}

// datasetFixtures writes the sources the script uploads: the CSV, the
// same rows as newline-delimited JSON and as a JSON array, zstd of the
// CSV (Python has no zstd), and Parquet written by DuckDB.
func datasetFixtures(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("rows.csv", []byte(datasetRowsCSV))
	ndjson := `{"s":"a, b","c":"x","i":2147483647,"ti":127,"si":32767,"bi":9223372036854775807,"f":1.5,"d":2.25,"dt":"2024-02-29","ts":"2024-02-29 03:04:05","b":true,"bin":"ab"}
{"s":"ü東京","c":"y","i":-2147483648,"ti":-128,"si":-32768,"bi":-9223372036854775808,"f":-0.5,"d":1e300,"dt":"1970-01-01","ts":"1999-12-31 23:59:59.5","b":false,"bin":"zz"}
{"s":"nulls","c":null,"i":null,"ti":null,"si":null,"bi":null,"f":null,"d":null,"dt":null,"ts":null,"b":null,"bin":null}
`
	write("rows.ndjson", []byte(ndjson))
	write("rows.json", []byte("["+strings.Join(strings.Split(strings.TrimSpace(ndjson), "\n"), ",\n")+"]\n"))
	write("rows.xml", []byte(`<?xml version="1.0" encoding="UTF-8"?>
<rows xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
  <row s="a, b"><c>x</c><i>2147483647</i><ti>127</ti><si>32767</si><bi>9223372036854775807</bi><f>1.5</f><d>2.25</d>
    <dt>2024-02-29</dt><ts>2024-02-29 03:04:05</ts><b>true</b><bin>ab</bin></row>
  <row><s>ü東京</s><c>y</c><i>-2147483648</i><ti>-128</ti><si>-32768</si><bi>-9223372036854775808</bi><f>-0.5</f><d>1e+300</d>
    <dt>1970-01-01</dt><ts>1999-12-31 23:59:59.5</ts><b>false</b><bin>zz</bin></row>
  <row><s>nulls</s><c xsi:nil="true"/></row>
</rows>
`))
	enc, _ := zstd.NewWriter(nil)
	write("rows.csv.zst", enc.EncodeAll([]byte(datasetRowsCSV), nil))
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	_, err = db.Exec(fmt.Sprintf(`COPY (SELECT s, c, i::INTEGER AS i, ti::TINYINT AS ti, si::SMALLINT AS si, bi::BIGINT AS bi,
		f::FLOAT AS f, d::DOUBLE AS d, dt::DATE AS dt, ts::TIMESTAMP AS ts, b::BOOLEAN AS b, bin::BLOB AS bin
		FROM read_csv('%s', header=true, all_varchar=true)) TO '%s' (FORMAT parquet)`,
		filepath.Join(dir, "rows.csv"), filepath.Join(dir, "rows.parquet")))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// storedRows reads a changeset's stored Parquet through the server's blob
// store, with DuckDB, as text rows sorted by every column.
func storedRows(t *testing.T, srv *server.Server, env, dataset, changeset, columns string) []string {
	t.Helper()
	ctx := context.Background()
	rc, _, err := srv.Blobs().Get(ctx, srv.DatasetsManagedBucket(servertest.Region, env), "datasets/"+dataset+"/changesets/"+changeset+"/data.parquet")
	if err != nil {
		t.Fatalf("stored data of %s: %v", changeset, err)
	}
	defer rc.Close()
	path := filepath.Join(t.TempDir(), changeset+".parquet")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.Copy(f, rc); err != nil {
		t.Fatal(err)
	}
	f.Close()
	db, err := sql.Open("duckdb", "")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(fmt.Sprintf("SELECT concat_ws('|', %s) AS r FROM read_parquet('%s') ORDER BY r", columns, path))
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var r string
		if err := rows.Scan(&r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

const allTypesColumns = `s, coalesce(c, 'NULL'), coalesce(i::VARCHAR, 'NULL'), coalesce(ti::VARCHAR, 'NULL'),
	coalesce(si::VARCHAR, 'NULL'), coalesce(bi::VARCHAR, 'NULL'), coalesce(f::VARCHAR, 'NULL'), coalesce(d::VARCHAR, 'NULL'),
	coalesce(dt::VARCHAR, 'NULL'), coalesce(ts::VARCHAR, 'NULL'), coalesce(b::VARCHAR, 'NULL'), coalesce(hex(bin), 'NULL')`

// createdEnvironment starts a server with one CREATED environment.
func createdEnvironment(t *testing.T) (*server.Server, string) {
	t.Helper()
	srv := servertest.Start(t)
	c := servertest.Finspace(srv)
	out, err := c.CreateEnvironment(context.Background(), &finspace.CreateEnvironmentInput{Name: aws.String("clients")})
	if err != nil {
		t.Fatal(err)
	}
	waitCreated(t, c, *out.EnvironmentId)
	return srv, *out.EnvironmentId
}

// waitCreated polls GetEnvironment until environment id is CREATED.
func waitCreated(t *testing.T, c *finspace.Client, id string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := c.GetEnvironment(context.Background(), &finspace.GetEnvironmentInput{EnvironmentId: &id})
		if err != nil {
			t.Fatal(err)
		}
		if got.Environment.Status == types.EnvironmentStatusCreated {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("environment %s stuck in %s", id, got.Environment.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func runDatasetsBoto3(t *testing.T, python string) {
	srv, env := createdEnvironment(t)
	fixtures := datasetFixtures(t)
	result := filepath.Join(t.TempDir(), "result.json")
	root := srv.Root()
	runClient(t, append(clientEnv(t, srv.URL(), root.AccessKeyID, root.SecretAccessKey),
		"OPENFINSPACE_ENVIRONMENT_ID="+env, "OPENFINSPACE_FIXTURES="+fixtures, "OPENFINSPACE_RESULT="+result),
		python, testdataPath(t, "datasets_boto3.py"))
	raw, err := os.ReadFile(result)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]struct{ Dataset, Changeset string }
	if err := json.Unmarshal(raw, &got); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"csv", "csv_defaults", "ndjson", "json_array", "gzip", "bz2", "zstd", "parquet", "xml", "xml_gzip"} {
		c, ok := got[name]
		if !ok {
			t.Errorf("the script reported no %s changeset", name)
			continue
		}
		if rows := storedRows(t, srv, env, c.Dataset, c.Changeset, allTypesColumns); strings.Join(rows, "\n") != strings.Join(datasetRowsWant, "\n") {
			t.Errorf("%s: stored rows\n%s\nwant\n%s", name, strings.Join(rows, "\n"), strings.Join(datasetRowsWant, "\n"))
		}
	}
	var three []string
	for _, r := range datasetRowsWant {
		three = append(three, r, r, r)
	}
	if rows := storedRows(t, srv, env, got["prefix"].Dataset, got["prefix"].Changeset, allTypesColumns); len(rows) != 9 {
		t.Errorf("a prefix of three files: %d rows, want 9: %v", len(rows), rows)
	}
	if rows := storedRows(t, srv, env, got["replace"].Dataset, got["replace"].Changeset, "sym, px"); strings.Join(rows, ",") != "R|5" {
		t.Errorf("the REPLACE's data: %v", rows)
	}
	if rows := storedRows(t, srv, env, got["correction"].Dataset, got["correction"].Changeset, "sym, px"); strings.Join(rows, ",") != "A|11" {
		t.Errorf("the last correction's data: %v", rows)
	}
}

// TestBoto3Datasets runs testdata/datasets_boto3.py with the image's boto3
// and reads what it ingested back through DuckDB, row by row.
func TestBoto3Datasets(t *testing.T) {
	t.Parallel()
	runDatasetsBoto3(t, requirePythonBoto3(t))
}

// TestDebianBoto3Datasets runs the same flow with Debian's boto3 1.26.
func TestDebianBoto3Datasets(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath(debianPython); err != nil {
		missingClient(t, "%s not found; scripts/test.sh installs python3-boto3", debianPython)
	}
	if out, err := probe(debianPython, "-c", "import boto3; print(boto3.__version__)"); err != nil {
		missingClient(t, "Debian's boto3 is not installed (%v: %s)", err, out)
	}
	runDatasetsBoto3(t, debianPython)
}

func runDatasetsCLI(t *testing.T, cli string) {
	python := requirePython(t) // the script parses JSON with python3
	bash, err := exec.LookPath("bash")
	if err != nil {
		missingClient(t, "bash is not installed")
	}
	srv, envID := createdEnvironment(t)
	root := srv.Root()
	env := append(clientEnv(t, srv.URL(), root.AccessKeyID, root.SecretAccessKey),
		"AWS_CLI="+cli, "PYTHON3="+python, "OPENFINSPACE_ENVIRONMENT_ID="+envID)
	runClient(t, env, bash, testdataPath(t, "datasets_cli.sh"))
}

// TestAWSCLIDatasets runs testdata/datasets_cli.sh with the image's AWS CLI.
func TestAWSCLIDatasets(t *testing.T) {
	t.Parallel()
	runDatasetsCLI(t, requireAWSCLI(t))
}

// TestDebianAWSCLIDatasets runs it with Debian's AWS CLI 2.9.
func TestDebianAWSCLIDatasets(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath(debianAWSCLI); err != nil {
		missingClient(t, "%s not found; scripts/test.sh installs awscli", debianAWSCLI)
	}
	runDatasetsCLI(t, debianAWSCLI)
}
