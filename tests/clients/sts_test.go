package clients_test

import (
	"os/exec"
	"testing"

	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

// TestBoto3STS runs testdata/sts_boto3.py (AssumeRole, GetCallerIdentity
// and a FinSpace call with the session's credentials) against an in-process
// server.
func TestBoto3STS(t *testing.T) {
	t.Parallel()
	python := requirePythonBoto3(t)
	srv := servertest.Start(t)
	root := srv.Root()
	runClient(t, clientEnv(t, srv.URL(), root.AccessKeyID, root.SecretAccessKey),
		python, testdataPath(t, "sts_boto3.py"))
}

// TestAWSCLISTS runs testdata/sts_cli.sh (aws sts assume-role and
// get-caller-identity) against an in-process server.
func TestAWSCLISTS(t *testing.T) {
	t.Parallel()
	cli := requireAWSCLI(t)
	python := requirePython(t) // the script parses JSON with python3
	bash, err := exec.LookPath("bash")
	if err != nil {
		missingClient(t, "bash is not installed")
	}
	srv := servertest.Start(t)
	root := srv.Root()
	env := clientEnv(t, srv.URL(), root.AccessKeyID, root.SecretAccessKey)
	env = append(env, "AWS_CLI="+cli, "PYTHON3="+python)
	runClient(t, env, bash, testdataPath(t, "sts_cli.sh"))
}
