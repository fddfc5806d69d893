package clients_test

import (
	"testing"

	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

// TestBoto3KxDatabases runs testdata/kx_databases_boto3.py.
func TestBoto3KxDatabases(t *testing.T) {
	t.Parallel()
	python := requirePythonBoto3(t)
	if out, err := probe(python, "-c", "import boto3; boto3.client('finspace', region_name='us-east-1').meta.method_to_api_mapping['create_kx_changeset']"); err != nil {
		missingClient(t, "%s has a botocore without the kx operations: %s", python, lastLine(out))
	}
	srv := servertest.Start(t)
	root := srv.Root()
	runClient(t, clientEnv(t, srv.URL(), root.AccessKeyID, root.SecretAccessKey),
		python, testdataPath(t, "kx_databases_boto3.py"))
}
