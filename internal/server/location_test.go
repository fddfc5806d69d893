package server_test

import (
	"context"
	"io"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openfinspace/openfinspace/internal/server/servertest"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
)

// TestGetWorkingLocation: GetWorkingLocation → upload there with the
// user's programmatic credentials through the S3 endpoint → read it back
// through the server's blob store.
func TestGetWorkingLocation(t *testing.T) {
	srv, _ := servertest.StartClocked(t)
	ctx := context.Background()
	env := createdEnvironment(t, servertest.Finspace(srv), "locations")
	creds, err := rootData(srv).GetProgrammaticAccessCredentials(ctx, &finspacedata.GetProgrammaticAccessCredentialsRequest{EnvironmentId: &env})
	if err != nil {
		t.Fatal(err)
	}
	user := userClient(t, srv, rootData(srv), env)
	loc, err := user.GetWorkingLocation(ctx, &finspacedata.GetWorkingLocationRequest{LocationType: ptrTo(finspacedata.LocationTypeIngestion)})
	if err != nil {
		t.Fatalf("GetWorkingLocation: %v", err)
	}
	bucket, path := aws.ToString(loc.S3Bucket), aws.ToString(loc.S3Path)
	if !strings.HasPrefix(path, bucket+"/") || aws.ToString(loc.S3Uri) != "s3://"+path || !strings.Contains(bucket, env) {
		t.Fatalf("location = %+v", loc)
	}
	again, err := user.GetWorkingLocation(ctx, &finspacedata.GetWorkingLocationRequest{})
	if err != nil || aws.ToString(again.S3Path) != path {
		t.Fatalf("default location %v %v, want the INGESTION one %s", again, err, path)
	}
	sm, err := user.GetWorkingLocation(ctx, &finspacedata.GetWorkingLocationRequest{LocationType: ptrTo(finspacedata.LocationTypeSagemaker)})
	if err != nil || aws.ToString(sm.S3Path) == path {
		t.Fatalf("SAGEMAKER location %v %v", sm, err)
	}

	c := creds.Credentials
	s3c := s3For(srv, credentials.NewStaticCredentialsProvider(*c.AccessKeyId, *c.SecretAccessKey, *c.SessionToken))
	key := strings.TrimPrefix(path, bucket+"/") + "trades.csv"
	if _, err := s3c.PutObject(ctx, &s3.PutObjectInput{Bucket: &bucket, Key: &key, Body: strings.NewReader("sym,px\nAAPL,1\n")}); err != nil {
		t.Fatalf("upload into the working location: %v", err)
	}
	rc, _, err := srv.Blobs().Get(ctx, bucket, key)
	if err != nil {
		t.Fatalf("blob Get: %v", err)
	}
	defer rc.Close()
	got, _ := io.ReadAll(rc)
	if string(got) != "sym,px\nAAPL,1\n" {
		t.Fatalf("read back %q", got)
	}
}
