// Package terraform_test drives openfinspace with Terraform and the AWS
// provider from the image's filesystem mirror (spec TERRAFORM.md): apply,
// plan with no changes, update in place, import, destroy, for a kx
// environment (with its transit gateway and DNS configuration), a kx
// user and a kx database (description and tags updated in place, checked
// through the Go SDK not to be replaced, destroyed on its own while the
// environment lives); and a scaling group and a volume (tags in place,
// the provider's waiters for ACTIVE and DELETED). Skipped where terraform
// or the mirror is missing.
package terraform_test

import (
	"bytes"
	"context"
	"errors"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/finspace/types"

	"github.com/openfinspace/openfinspace/internal/server"
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

resource "aws_finspace_kx_database" "db" {
  name           = "tf_db"
  environment_id = aws_finspace_kx_environment.env.id
  description    = "terraform database"
  tags           = { data = "ticks", keep = "yes" }
}

output "env_id" { value = aws_finspace_kx_environment.env.id }
output "db_created" { value = aws_finspace_kx_database.db.created_timestamp }
`

// updated changes what can change in place: the environment's name,
// description and tags, the user's role and tags, the database's
// description and tags.
var updated = strings.NewReplacer(
	`name        = "tf_env"`, `name        = "tf_env_renamed"`,
	`description = "terraform"`, `description = "terraform updated"`,
	`tags        = { team = "kdb" }`, `tags        = { team = "kdb", stage = "prod" }`,
	`role/kx-user"`, `role/kx-user-2"`,
	`tags           = { who = "tf" }`, `tags           = { who = "tf2" }`,
	`description    = "terraform database"`, `description    = "terraform database updated"`,
	`tags           = { data = "ticks", keep = "yes" }`, `tags           = { keep = "no", tier = "hdb" }`,
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

func TestTerraformKxEnvironmentUserAndDatabase(t *testing.T) {
	t.Parallel()
	srv, work, run := terraformIn(t, config)
	run(0, "init", "-input=false", "-no-color")
	run(0, "apply", "-auto-approve", "-input=false", "-no-color")
	run(0, "plan", "-detailed-exitcode", "-input=false", "-no-color") // 0: no changes
	id := strings.TrimSpace(run(0, "output", "-raw", "env_id"))
	created := strings.TrimSpace(run(0, "output", "-raw", "db_created"))
	fs := servertest.Finspace(srv)
	db := wantDatabase(t, fs, id, "terraform database", map[string]string{"data": "ticks", "keep": "yes"})

	// Update in place, then nothing left to change.
	must(t, os.WriteFile(filepath.Join(work, "main.tf"), []byte(updated), 0o600))
	run(2, "plan", "-detailed-exitcode", "-input=false", "-no-color") // 2: changes
	if out := run(0, "apply", "-auto-approve", "-input=false", "-no-color"); !strings.Contains(out, "0 added, 3 changed, 0 destroyed") {
		t.Errorf("the update was not made in place:\n%s", out)
	}
	run(0, "plan", "-detailed-exitcode", "-input=false", "-no-color")
	if again := strings.TrimSpace(run(0, "output", "-raw", "env_id")); again != id {
		t.Errorf("the environment was replaced: %s, then %s", id, again)
	}
	if again := strings.TrimSpace(run(0, "output", "-raw", "db_created")); again != created {
		t.Errorf("the database was replaced: created %s, then %s", created, again)
	}
	db2 := wantDatabase(t, fs, id, "terraform database updated", map[string]string{"keep": "no", "tier": "hdb"})
	if !db2.CreatedTimestamp.Equal(*db.CreatedTimestamp) || aws.ToString(db2.DatabaseArn) != aws.ToString(db.DatabaseArn) {
		t.Errorf("the database was replaced: created %v %s, then %v %s", db.CreatedTimestamp, aws.ToString(db.DatabaseArn),
			db2.CreatedTimestamp, aws.ToString(db2.DatabaseArn))
	}
	if db2.LastModifiedTimestamp.Before(*db.LastModifiedTimestamp) {
		t.Errorf("lastModifiedTimestamp went back: %v, then %v", db.LastModifiedTimestamp, db2.LastModifiedTimestamp)
	}

	// Forget all three, import them by id, and the plan is empty again.
	run(0, "state", "rm", "-no-color", "aws_finspace_kx_database.db", "aws_finspace_kx_user.user", "aws_finspace_kx_environment.env")
	run(0, "import", "-input=false", "-no-color", "aws_finspace_kx_environment.env", id)
	run(0, "import", "-input=false", "-no-color", "aws_finspace_kx_user.user", id+",tf_user")
	run(0, "import", "-input=false", "-no-color", "aws_finspace_kx_database.db", id+",tf_db")
	run(0, "plan", "-detailed-exitcode", "-input=false", "-no-color")

	// The database alone goes while its environment lives, then the rest.
	if out := run(0, "destroy", "-auto-approve", "-input=false", "-no-color", "-target=aws_finspace_kx_database.db"); !strings.Contains(out, "1 destroyed") {
		t.Errorf("the database was not destroyed alone:\n%s", out)
	}
	_, err := fs.GetKxDatabase(context.Background(), &finspace.GetKxDatabaseInput{EnvironmentId: &id, DatabaseName: aws.String("tf_db")})
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) {
		t.Errorf("GetKxDatabase after destroy: %v, want ResourceNotFoundException", err)
	}
	if list, err := fs.ListKxDatabases(context.Background(), &finspace.ListKxDatabasesInput{EnvironmentId: &id}); err != nil || len(list.KxDatabases) != 0 {
		t.Errorf("ListKxDatabases after destroy: %v, %+v", err, list)
	}
	if _, err := fs.GetKxEnvironment(context.Background(), &finspace.GetKxEnvironmentInput{EnvironmentId: &id}); err != nil {
		t.Errorf("GetKxEnvironment after destroying the database: %v", err)
	}
	run(0, "destroy", "-auto-approve", "-input=false", "-no-color")
}

// terraformIn starts a server and returns it, a working directory holding
// main.tf with config, and a function that runs terraform there against
// the server with only AWS_ENDPOINT_URL and the root credentials set,
// checking its exit code. It skips where terraform or the mirror is
// missing.
func terraformIn(t *testing.T, config string) (*server.Server, string, func(wantCode int, args ...string) string) {
	t.Helper()
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
		start := time.Now()
		defer func() { t.Logf("terraform %s: %v", strings.Join(args, " "), time.Since(start).Round(time.Millisecond)) }()
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
	return srv, work, run
}

// wantDatabase reads database tf_db of env through the Go SDK and checks
// its description and tags.
func wantDatabase(t *testing.T, fs *finspace.Client, env, description string, tags map[string]string) *finspace.GetKxDatabaseOutput {
	t.Helper()
	ctx := context.Background()
	d, err := fs.GetKxDatabase(ctx, &finspace.GetKxDatabaseInput{EnvironmentId: &env, DatabaseName: aws.String("tf_db")})
	if err != nil {
		t.Fatalf("GetKxDatabase: %v", err)
	}
	if aws.ToString(d.Description) != description || d.CreatedTimestamp == nil || d.LastModifiedTimestamp == nil {
		t.Errorf("GetKxDatabase: description %q created %v modified %v; want description %q", aws.ToString(d.Description),
			d.CreatedTimestamp, d.LastModifiedTimestamp, description)
	}
	tagged, err := fs.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: d.DatabaseArn})
	if err != nil {
		t.Fatalf("ListTagsForResource(%s): %v", aws.ToString(d.DatabaseArn), err)
	}
	if !maps.Equal(tagged.Tags, tags) {
		t.Errorf("database tags %v, want %v", tagged.Tags, tags)
	}
	return d
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

const scalingConfig = `
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "5.100.0" }
  }
}
provider "aws" { region = "us-east-1" }

resource "aws_finspace_kx_environment" "env" {
  name       = "tf_tick"
  kms_key_id = "arn:aws:kms:us-east-1:000000000000:key/1234"
}

resource "aws_finspace_kx_scaling_group" "sg" {
  name                 = "tf-sg"
  environment_id       = aws_finspace_kx_environment.env.id
  host_type            = "kx.sg.4xlarge"
  availability_zone_id = aws_finspace_kx_environment.env.availability_zones[0]
  tags                 = { team = "tick" }
}

resource "aws_finspace_kx_volume" "vol" {
  name               = "tf-vol"
  environment_id     = aws_finspace_kx_environment.env.id
  availability_zones = [aws_finspace_kx_environment.env.availability_zones[0]]
  az_mode            = "SINGLE"
  type               = "NAS_1"
  description        = "savedown"
  nas1_configuration {
    type = "SSD_250"
    size = 1200
  }
  tags = { team = "tick" }
}

output "env_id" { value = aws_finspace_kx_environment.env.id }
output "vol_arn" { value = aws_finspace_kx_volume.vol.arn }
`

// TestTerraformKxScalingGroupAndVolume: a scaling group and a volume
// apply (the provider waits for ACTIVE), plan with no changes, take tag
// changes in place, import by id, and destroy (the provider waits for
// DELETED).
func TestTerraformKxScalingGroupAndVolume(t *testing.T) {
	t.Parallel()
	srv, work, run := terraformIn(t, scalingConfig)
	run(0, "init", "-input=false", "-no-color")
	run(0, "apply", "-auto-approve", "-input=false", "-no-color")
	run(0, "plan", "-detailed-exitcode", "-input=false", "-no-color")
	id := strings.TrimSpace(run(0, "output", "-raw", "env_id"))
	volARN := strings.TrimSpace(run(0, "output", "-raw", "vol_arn"))
	fs := servertest.Finspace(srv)
	ctx := context.Background()
	g, err := fs.GetKxScalingGroup(ctx, &finspace.GetKxScalingGroupInput{EnvironmentId: &id, ScalingGroupName: aws.String("tf-sg")})
	if err != nil || g.Status != types.KxScalingGroupStatusActive || aws.ToString(g.HostType) != "kx.sg.4xlarge" {
		t.Fatalf("GetKxScalingGroup after apply: %v %+v", err, g)
	}
	v, err := fs.GetKxVolume(ctx, &finspace.GetKxVolumeInput{EnvironmentId: &id, VolumeName: aws.String("tf-vol")})
	if err != nil || v.Status != types.KxVolumeStatusActive || aws.ToString(v.VolumeArn) != volARN || aws.ToInt32(v.Nas1Configuration.Size) != 1200 {
		t.Fatalf("GetKxVolume after apply: %v %+v", err, v)
	}
	if tags, err := fs.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: &volARN}); err != nil || !maps.Equal(tags.Tags, map[string]string{"team": "tick"}) {
		t.Errorf("the volume's tags (TagResource after create): %v %v", err, tags)
	}

	// Tags change in place.
	retagged := strings.ReplaceAll(scalingConfig, `tags                 = { team = "tick" }`, `tags                 = { team = "tick", tier = "hdb" }`)
	retagged = strings.ReplaceAll(retagged, `tags = { team = "tick" }`, `tags = { team = "rdb" }`)
	must(t, os.WriteFile(filepath.Join(work, "main.tf"), []byte(retagged), 0o600))
	if out := run(0, "apply", "-auto-approve", "-input=false", "-no-color"); !strings.Contains(out, "0 added, 2 changed, 0 destroyed") {
		t.Errorf("the tag change was not made in place:\n%s", out)
	}
	run(0, "plan", "-detailed-exitcode", "-input=false", "-no-color")
	if tags, err := fs.ListTagsForResource(ctx, &finspace.ListTagsForResourceInput{ResourceArn: g.ScalingGroupArn}); err != nil ||
		!maps.Equal(tags.Tags, map[string]string{"team": "tick", "tier": "hdb"}) {
		t.Errorf("the group's tags after the change: %v %v", err, tags)
	}

	// Import by "<environment>,<name>", then destroy.
	run(0, "state", "rm", "-no-color", "aws_finspace_kx_scaling_group.sg", "aws_finspace_kx_volume.vol")
	run(0, "import", "-input=false", "-no-color", "aws_finspace_kx_scaling_group.sg", id+",tf-sg")
	run(0, "import", "-input=false", "-no-color", "aws_finspace_kx_volume.vol", id+",tf-vol")
	run(0, "plan", "-detailed-exitcode", "-input=false", "-no-color")
	run(0, "destroy", "-auto-approve", "-input=false", "-no-color")
	if g, err := fs.GetKxScalingGroup(ctx, &finspace.GetKxScalingGroupInput{EnvironmentId: &id, ScalingGroupName: aws.String("tf-sg")}); err == nil && g.Status != types.KxScalingGroupStatusDeleted {
		t.Errorf("the group after destroy: %s", g.Status)
	}
}
