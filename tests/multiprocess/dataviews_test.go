package multiprocess_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	fd "github.com/openfinspace/openfinspace/internal/testclient/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

// glueCall sends one Glue (awsJson 1.1) request to url signed with creds
// and decodes the answer.
func glueCall(t *testing.T, url string, creds aws.CredentialsProvider, op string, in map[string]any) map[string]any {
	t.Helper()
	ctx := context.Background()
	body, _ := json.Marshal(in)
	req, err := http.NewRequest("POST", url+"/", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "AWSGlue."+op)
	c, err := creds.Retrieve(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, c, req, hex.EncodeToString(sum[:]), "glue", region, time.Now()); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("Glue %s through %s: %d %s", op, url, resp.StatusCode, raw)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// dataViewAcrossProcesses: a GLUE_TABLE view of dataset ds created through
// B is materialized by whichever process claims its job (its changeset's
// Parquet streamed from MinIO, its files stored there); A reports it
// SUCCESS, its external credentials read its files through either
// process, and both processes' Glue catalogs answer the same table and
// partitions.
func dataViewAcrossProcesses(t *testing.T, c *cluster, creds aws.CredentialsProvider, ds string) {
	t.Helper()
	ctx := context.Background()
	a, b := fd.New(c.a.url, region, creds), fd.New(c.b.url, region, creds)
	v, err := b.CreateDataView(ctx, &finspacedata.CreateDataViewRequest{DatasetId: &ds, PartitionColumns: []string{"sym"},
		DestinationTypeParams: &finspacedata.DataViewDestinationTypeParams{DestinationType: aws.String("GLUE_TABLE")}})
	if err != nil {
		t.Fatalf("CreateDataView through B: %v", err)
	}
	var got *finspacedata.GetDataViewResponse
	deadline := time.Now().Add(60 * time.Second)
	for {
		if got, err = a.GetDataView(ctx, &finspacedata.GetDataViewRequest{DatasetId: &ds, DataViewId: v.DataViewId}); err != nil {
			t.Fatal(err)
		}
		if *got.Status == finspacedata.DataViewStatusSuccess {
			break
		}
		if *got.Status == finspacedata.DataViewStatusFailed || time.Now().After(deadline) {
			t.Fatalf("data view %s: %+v", *got.Status, got.ErrorInfo)
		}
		time.Sleep(20 * time.Millisecond)
	}
	x, err := a.GetExternalDataViewAccessDetails(ctx, &finspacedata.GetExternalDataViewAccessDetailsRequest{DatasetId: &ds, DataViewId: v.DataViewId})
	if err != nil {
		t.Fatalf("GetExternalDataViewAccessDetails through A: %v", err)
	}
	xc := x.Credentials
	scoped := credentials.NewStaticCredentialsProvider(*xc.AccessKeyId, *xc.SecretAccessKey, *xc.SessionToken)
	for _, p := range []*serverProcess{c.a, c.b} {
		list, err := s3For(p.url, scoped).ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: x.S3Location.Bucket, Prefix: x.S3Location.Key})
		if err != nil || len(list.Contents) != 1 || !strings.HasSuffix(*list.Contents[0].Key, "sym=A/part-00000.parquet") {
			t.Fatalf("the view's files through %s: %+v, %v", p.name, list, err)
		}
		if body := get(t, s3For(p.url, scoped), *x.S3Location.Bucket, *list.Contents[0].Key); !strings.HasPrefix(body, "PAR1") {
			t.Errorf("the view's file through %s is not Parquet", p.name)
		}
	}
	opts := got.DestinationTypeParams.S3DestinationExportFileFormatOptions
	in := map[string]any{"DatabaseName": opts["glueDatabaseName"], "Name": opts["glueTableName"]}
	ta := glueCall(t, c.a.url, c.rootCreds, "GetTable", in)
	tb := glueCall(t, c.b.url, c.rootCreds, "GetTable", in)
	loc := ta["Table"].(map[string]any)["StorageDescriptor"].(map[string]any)["Location"]
	if loc != "s3://"+*x.S3Location.Bucket+"/"+*x.S3Location.Key || !reflect.DeepEqual(ta, tb) {
		t.Errorf("Glue GetTable: A %v, B %v", ta, tb)
	}
	pin := map[string]any{"DatabaseName": opts["glueDatabaseName"], "TableName": opts["glueTableName"]}
	pa, pb := glueCall(t, c.a.url, c.rootCreds, "GetPartitions", pin), glueCall(t, c.b.url, c.rootCreds, "GetPartitions", pin)
	if parts := pa["Partitions"].([]any); len(parts) != 1 || !reflect.DeepEqual(pa, pb) {
		t.Errorf("Glue GetPartitions: A %v, B %v", pa, pb)
	}
	t.Logf("data view %s: created through B, SUCCESS through A, its files read through both, Glue table %s the same from both",
		*v.DataViewId, in["Name"])
}
