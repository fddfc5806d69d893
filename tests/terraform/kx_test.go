// Package terraform_test drives openfinspace with Terraform and the AWS
// provider from the image's filesystem mirror (spec TERRAFORM.md): apply,
// plan with no changes, update in place, import, destroy, for a kx
// environment (with its transit gateway and DNS configuration) and a kx
// user. Skipped where terraform or the mirror is
// missing.
package terraform_test

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

const config = `
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}
provider "aws" { region = "us-east-1" }

resource "aws_finspace_kx_environment" "env" {
  name        = "tf_env"
  kms_key_id  = "arn:aws:kms:us-east-1:000000000000:key/1234"
  description = "terraform"
  tags        = { team = "kdb" }
  transit_gateway_configuration {
    transit_gateway_id  = "tgw-0123456789"
    routable_cidr_space = "100.64.0.0/26"
  }
  custom_dns_configuration {
    custom_dns_server_name = "example.finspace.amazon.aws.com"
    custom_dns_server_ip   = "10.0.0.76"
  }
}

resource "aws_finspace_kx_user" "user" {
  name           = "tf_user"
  environment_id = aws_finspace_kx_environment.env.id
  iam_role       = "arn:aws:iam::000000000000:role/kx-user"
  tags           = { who = "tf" }
}

output "env_id" { value = aws_finspace_kx_environment.env.id }
`

// updated changes what can change in place: the environment's name,
// description and tags, the user's role and tags.
var updated = strings.NewReplacer(
	`name        = "tf_env"`, `name        = "tf_env_renamed"`,
	`description = "terraform"`, `description = "terraform updated"`,
	`tags        = { team = "kdb" }`, `tags        = { team = "kdb", stage = "prod" }`,
	`role/kx-user"`, `role/kx-user-2"`,
	`tags           = { who = "tf" }`, `tags           = { who = "tf2" }`,
).Replace(config)

func mirror(t *testing.T) string {
	for _, dir := range []string{"/opt/tf-plugins", "/usr/share/terraform/plugins", "/root/.terraform.d/plugins"} {
		if _, err := os.Stat(filepath.Join(dir, "registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64")); err == nil {
			return dir
		}
	}
	t.Skip("the AWS provider 5.100.0 filesystem mirror is not on this machine (looked in /opt/tf-plugins, /usr/share/terraform/plugins, /root/.terraform.d/plugins)")
	return ""
}

func TestTerraformKxEnvironmentAndUser(t *testing.T) {
	tf, err := exec.LookPath("terraform")
	if err != nil {
		t.Skip("terraform is not on PATH")
	}
	root := mirror(t)
	srv := servertest.Start(t)
	dir := t.TempDir()
	cli := filepath.Join(dir, "cli.tfrc")
	must(t, os.WriteFile(cli, []byte(`provider_installation {
  filesystem_mirror {
    path    = "`+root+`"
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct { exclude = ["registry.terraform.io/hashicorp/aws"] }
}
disable_checkpoint = true
`), 0o600))
	work := filepath.Join(dir, "work")
	must(t, os.MkdirAll(work, 0o700))
	must(t, os.WriteFile(filepath.Join(work, "main.tf"), []byte(config), 0o600))
	rc := srv.Root()
	env := append(os.Environ(), "TF_CLI_CONFIG_FILE="+cli, "TF_IN_AUTOMATION=1", "CHECKPOINT_DISABLE=1",
		"AWS_ENDPOINT_URL="+srv.URL(), "AWS_ACCESS_KEY_ID="+rc.AccessKeyID, "AWS_SECRET_ACCESS_KEY="+rc.SecretAccessKey,
		"AWS_EC2_METADATA_DISABLED=true", "AWS_PROFILE=", "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null",
		"TF_DATA_DIR="+filepath.Join(dir, "data"))
	run := func(wantCode int, args ...string) string {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, tf, args...)
		cmd.Dir, cmd.Env = work, env
		var out bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &out
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("terraform %v: %v\n%s", args, err, out.String())
		}
		if code != wantCode {
			t.Fatalf("terraform %v: exit %d, want %d\n%s", args, code, wantCode, out.String())
		}
		return out.String()
	}
	run(0, "init", "-input=false", "-no-color")
	run(0, "apply", "-auto-approve", "-input=false", "-no-color")
	run(0, "plan", "-detailed-exitcode", "-input=false", "-no-color") // 0: no changes
	id := strings.TrimSpace(run(0, "output", "-raw", "env_id"))

	// Update in place, then nothing left to change.
	must(t, os.WriteFile(filepath.Join(work, "main.tf"), []byte(updated), 0o600))
	run(2, "plan", "-detailed-exitcode", "-input=false", "-no-color") // 2: changes
	if out := run(0, "apply", "-auto-approve", "-input=false", "-no-color"); !strings.Contains(out, "0 added, 2 changed, 0 destroyed") {
		t.Errorf("the update was not made in place:\n%s", out)
	}
	run(0, "plan", "-detailed-exitcode", "-input=false", "-no-color")
	if again := strings.TrimSpace(run(0, "output", "-raw", "env_id")); again != id {
		t.Errorf("the environment was replaced: %s, then %s", id, again)
	}

	// Forget both, import them by id, and the plan is empty again.
	run(0, "state", "rm", "-no-color", "aws_finspace_kx_user.user", "aws_finspace_kx_environment.env")
	run(0, "import", "-input=false", "-no-color", "aws_finspace_kx_environment.env", id)
	run(0, "import", "-input=false", "-no-color", "aws_finspace_kx_user.user", id+",tf_user")
	run(0, "plan", "-detailed-exitcode", "-input=false", "-no-color")

	run(0, "destroy", "-auto-approve", "-input=false", "-no-color")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
