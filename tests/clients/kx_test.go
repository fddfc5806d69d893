package clients_test

import (
	"testing"

	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

// TestBoto3Kx runs testdata/kx_boto3.py (kx environment, network update,
// kx users, tags) against an in-process server. It needs a botocore with
// the kx operations (the image's; Debian's 1.29 has none).
func TestBoto3Kx(t *testing.T) {
	t.Parallel()
	python := requirePythonBoto3(t)
	if out, err := probe(python, "-c", "import boto3; boto3.client('finspace', region_name='us-east-1').meta.method_to_api_mapping['create_kx_environment']"); err != nil {
		missingClient(t, "%s has a botocore without the kx operations: %s", python, lastLine(out))
	}
	srv := servertest.Start(t)
	root := srv.Root()
	runClient(t, clientEnv(t, srv.URL(), root.AccessKeyID, root.SecretAccessKey),
		python, testdataPath(t, "kx_boto3.py"))
}
