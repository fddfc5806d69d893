package clients_test

import (
	"os/exec"
	"testing"

	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

// TestAWSCLIKxDatabases runs testdata/kx_databases_cli.sh (databases,
// changesets from `aws s3 sync`ed kdb+ layouts) with the image's AWS CLI.
func TestAWSCLIKxDatabases(t *testing.T) {
	t.Parallel()
	cli := requireAWSCLI(t)
	if out, err := probe(cli, "finspace", "create-kx-changeset", "help"); err != nil {
		missingClient(t, "%s has no kx commands: %s", cli, lastLine(out))
	}
	python := requirePython(t)
	bash, err := exec.LookPath("bash")
	if err != nil {
		missingClient(t, "bash is not installed")
	}
	srv := servertest.Start(t)
	root := srv.Root()
	env := append(clientEnv(t, srv.URL(), root.AccessKeyID, root.SecretAccessKey), "AWS_CLI="+cli, "PYTHON3="+python)
	runClient(t, env, bash, testdataPath(t, "kx_databases_cli.sh"))
}

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
