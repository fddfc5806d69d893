package clients_test

import (
	"os/exec"
	"testing"

	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

// debianAWSCLI is Debian's AWS CLI 2.9 (no kx commands), installed by
// scripts/test.sh: users still run it.
const debianAWSCLI = "/usr/bin/aws"

// TestDebianAWSCLIEnvironments runs the environment CLI flow with Debian's
// AWS CLI 2.9 and Debian's boto3 1.26 flow script.
func TestDebianAWSCLIEnvironments(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath(debianAWSCLI); err != nil {
		missingClient(t, "%s not found; scripts/test.sh installs awscli", debianAWSCLI)
	}
	python := requirePython(t)
	bash, err := exec.LookPath("bash")
	if err != nil {
		missingClient(t, "bash is not installed")
	}
	srv := servertest.Start(t)
	root := srv.Root()
	env := append(clientEnv(t, srv.URL(), root.AccessKeyID, root.SecretAccessKey), "AWS_CLI="+debianAWSCLI, "PYTHON3="+python)
	runClient(t, env, bash, testdataPath(t, "environments_cli.sh"))
}

func TestDebianBoto3Environments(t *testing.T) {
	t.Parallel()
	if out, err := probe(debianPython, "-c", "import boto3"); err != nil {
		missingClient(t, "Debian's boto3 is not installed (%v: %s)", err, out)
	}
	srv := servertest.Start(t)
	root := srv.Root()
	runClient(t, clientEnv(t, srv.URL(), root.AccessKeyID, root.SecretAccessKey), debianPython, testdataPath(t, "environments_boto3.py"))
}
