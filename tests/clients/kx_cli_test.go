package clients_test

import (
	"os/exec"
	"testing"

	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

// TestAWSCLIKx runs testdata/kx_cli.sh with the image's AWS CLI (Debian's
// 2.9 has no kx commands).
func TestAWSCLIKx(t *testing.T) {
	t.Parallel()
	runKxCLI(t, "create-kx-environment", "kx_cli.sh")
}

// TestAWSCLIKxDatabases runs testdata/kx_databases_cli.sh (databases,
// changesets from `aws s3 sync`ed kdb+ layouts) with the image's AWS CLI.
func TestAWSCLIKxDatabases(t *testing.T) {
	t.Parallel()
	runKxCLI(t, "create-kx-changeset", "kx_databases_cli.sh")
}

// runKxCLI runs script against a fresh server with the image's AWS CLI,
// skipping when that CLI has no `aws finspace <command>`.
func runKxCLI(t *testing.T, command, script string) {
	cli := requireAWSCLI(t)
	if out, err := probe(cli, "finspace", command, "help"); err != nil {
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
	runClient(t, env, bash, testdataPath(t, script))
}
