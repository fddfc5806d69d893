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
	cli := requireAWSCLI(t)
	if out, err := probe(cli, "finspace", "create-kx-environment", "help"); err != nil {
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
	runClient(t, env, bash, testdataPath(t, "kx_cli.sh"))
}
