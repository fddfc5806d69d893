package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/finspace/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openfinspace/openfinspace/internal/server"
	fd "github.com/openfinspace/openfinspace/internal/testclient/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

// TestRelativeDataDir starts the real command as the README does, with a
// relative data dir, and ingests a dataset changeset end to end: every
// path the server hands to DuckDB (and to kdb+ nodes) must be absolute
// whatever the working directory (a relative data dir once failed every
// changeset with INTERNAL_SERVICE_EXCEPTION).
func TestRelativeDataDir(t *testing.T) {
	wd := t.TempDir()
	srv := startChildIn(t, wd, "openfinspace-data")
	dataDir := filepath.Join(wd, "openfinspace-data")
	ctx := context.Background()
	c := clientFor(t, srv.url, dataDir)
	env, err := c.CreateEnvironment(ctx, &finspace.CreateEnvironmentInput{Name: aws.String("research")})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, c, *env.EnvironmentId, types.EnvironmentStatusCreated)

	rc, err := server.LoadOrCreateRootCredentials(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	root := fd.New(srv.url, "us-east-1", fd.StaticCredentials(rc.AccessKeyID, rc.SecretAccessKey, ""))
	pc, err := root.GetProgrammaticAccessCredentials(ctx, &finspacedata.GetProgrammaticAccessCredentialsRequest{EnvironmentId: env.EnvironmentId})
	if err != nil {
		t.Fatal(err)
	}
	k := pc.Credentials
	su := fd.New(srv.url, "us-east-1", fd.StaticCredentials(*k.AccessKeyId, *k.SecretAccessKey, *k.SessionToken))
	loc, err := su.GetWorkingLocation(ctx, &finspacedata.GetWorkingLocationRequest{})
	if err != nil {
		t.Fatal(err)
	}
	bucket := aws.ToString(loc.S3Bucket)
	key := strings.TrimPrefix(aws.ToString(loc.S3Path), bucket+"/") + "prices.csv"
	s3c := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.url), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider(*k.AccessKeyId, *k.SecretAccessKey, *k.SessionToken)})
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key,
		Body: strings.NewReader("sym,px\nAAPL,1.5\nMSFT,2.25\n")}); err != nil {
		t.Fatal(err)
	}

	group, err := su.CreatePermissionGroup(ctx, &finspacedata.CreatePermissionGroupRequest{Name: aws.String("analysts"),
		ApplicationPermissions: []finspacedata.ApplicationPermission{finspacedata.ApplicationPermissionGetTemporaryCredentials}})
	if err != nil {
		t.Fatal(err)
	}
	var perms []finspacedata.ResourcePermission
	for _, p := range []string{"ViewDatasetDetails", "AddDatasetData"} {
		perms = append(perms, finspacedata.ResourcePermission{Permission: aws.String(p)})
	}
	str, dbl := finspacedata.ColumnDataTypeString, finspacedata.ColumnDataTypeDouble
	ds, err := su.CreateDataset(ctx, &finspacedata.CreateDatasetRequest{DatasetTitle: aws.String("prices"),
		Kind:                  ptr(finspacedata.DatasetKindTabular),
		PermissionGroupParams: &finspacedata.PermissionGroupParams{PermissionGroupId: group.PermissionGroupId, DatasetPermissions: perms},
		SchemaDefinition: &finspacedata.SchemaUnion{TabularSchemaConfig: &finspacedata.SchemaDefinition{Columns: []finspacedata.ColumnDefinition{
			{ColumnName: aws.String("sym"), DataType: &str}, {ColumnName: aws.String("px"), DataType: &dbl}}}}})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := su.CreateChangeset(ctx, &finspacedata.CreateChangesetRequest{DatasetId: ds.DatasetId,
		ChangeType:   ptr(finspacedata.ChangeTypeReplace),
		SourceParams: map[string]string{"s3SourcePath": "s3://" + bucket + "/" + key, "sourceType": "S3"},
		FormatParams: map[string]string{"formatType": "CSV", "withHeader": "true"}})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		out, err := su.GetChangeset(ctx, &finspacedata.GetChangesetRequest{DatasetId: ds.DatasetId, ChangesetId: cs.ChangesetId})
		if err != nil {
			t.Fatal(err)
		}
		if *out.Status == finspacedata.IngestionStatusSuccess {
			break
		}
		if *out.Status == finspacedata.IngestionStatusFailed {
			msg := ""
			if out.ErrorInfo != nil && out.ErrorInfo.ErrorMessage != nil {
				msg = *out.ErrorInfo.ErrorMessage
			}
			t.Fatalf("changeset FAILED with a relative data dir: %s", msg)
		}
		if time.Now().After(deadline) {
			t.Fatalf("changeset still %s after 60 s", *out.Status)
		}
		time.Sleep(50 * time.Millisecond)
	}
	srv.stop(t)
}
