package clients_test

import (
	"os/exec"
	"testing"
)

// TestAWSCLIAuthorization runs testdata/authz_cli.sh (FinSpace user
// credentials confined to FinSpace Data and their working bucket, cut off
// when their environment is deleted) with the image's AWS CLI.
func TestAWSCLIAuthorization(t *testing.T) {
	t.Parallel()
	runAuthzCLI(t, requireAWSCLI(t), true)
}

// TestDebianAWSCLIAuthorization runs the same flow with Debian's AWS CLI 2.9.
func TestDebianAWSCLIAuthorization(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath(debianAWSCLI); err != nil {
		missingClient(t, "%s not found; scripts/test.sh installs awscli", debianAWSCLI)
	}
	runAuthzCLI(t, debianAWSCLI, false)
}

func runAuthzCLI(t *testing.T, cli string, hasKx bool) {
	t.Helper()
	python := requirePython(t)
	bash, err := exec.LookPath("bash")
	if err != nil {
		missingClient(t, "bash is not installed")
	}
	endpoint, akid, secret, env := identityEnvironment(t)
	vars := append(clientEnv(t, endpoint, akid, secret), "AWS_CLI="+cli, "PYTHON3="+python, "OPENFINSPACE_ENVIRONMENT_ID="+env)
	if hasKx {
		vars = append(vars, "OPENFINSPACE_CLI_HAS_KX=1")
	}
	runClient(t, vars, bash, testdataPath(t, "authz_cli.sh"))
}
