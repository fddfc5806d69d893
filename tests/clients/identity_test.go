package clients_test

import (
	"os/exec"
	"testing"
)

// debianPython is the interpreter of Debian's python3-boto3 (boto3 1.26,
// whose CreateUser sends `ApiAccess`), installed by scripts/test.sh.
const debianPython = "/usr/bin/python3"

// identityEnvironment starts a server and returns it with one CREATED
// environment, whose superuser root credentials act as.
func identityEnvironment(t *testing.T) (endpoint, akid, secret, envID string) {
	t.Helper()
	srv, env := createdEnvironment(t)
	root := srv.Root()
	return srv.URL(), root.AccessKeyID, root.SecretAccessKey, env
}

func TestBoto3Identity(t *testing.T) {
	t.Parallel()
	python := requirePythonBoto3(t)
	endpoint, akid, secret, env := identityEnvironment(t)
	runClient(t, append(clientEnv(t, endpoint, akid, secret), "OPENFINSPACE_ENVIRONMENT_ID="+env), python, testdataPath(t, "identity_boto3.py"))
}

// TestDebianBoto3Identity runs the same flow with Debian's boto3 1.26,
// which sends CreateUser's access member as `ApiAccess`.
func TestDebianBoto3Identity(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath(debianPython); err != nil {
		missingClient(t, "%s not found; scripts/test.sh installs python3-boto3", debianPython)
	}
	if out, err := probe(debianPython, "-c", "import boto3; print(boto3.__version__)"); err != nil {
		missingClient(t, "Debian's boto3 is not installed (%v: %s)", err, out)
	}
	endpoint, akid, secret, env := identityEnvironment(t)
	runClient(t, append(clientEnv(t, endpoint, akid, secret), "OPENFINSPACE_ENVIRONMENT_ID="+env), debianPython, testdataPath(t, "identity_boto3.py"))
}
