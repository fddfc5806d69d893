package clients_test

import (
	"testing"

	"github.com/openfinspace/openfinspace/internal/server"
	"github.com/openfinspace/openfinspace/internal/server/servertest"
)

// TestBoto3KxClusters runs testdata/kx_clusters_boto3.py against a server
// whose nodes run the kdb+ test double.
func TestBoto3KxClusters(t *testing.T) {
	t.Parallel()
	python := requirePythonBoto3(t)
	if out, err := probe(python, "-c", "import boto3; boto3.client('finspace', region_name='us-east-1').meta.method_to_api_mapping['create_kx_cluster']"); err != nil {
		missingClient(t, "%s has a botocore without the kx operations: %s", python, lastLine(out))
	}
	q := servertest.KdbDouble(t)
	srv := servertest.Start(t, func(c *server.Config) { c.KdbExecutable = q })
	root := srv.Root()
	runClient(t, clientEnv(t, srv.URL(), root.AccessKeyID, root.SecretAccessKey),
		python, testdataPath(t, "kx_clusters_boto3.py"))
}

// TestBoto3KxScalingGroupsAndVolumes runs testdata/kx_scaling_boto3.py: a
// scaling group and a volume, clusters on them (nodes run the kdb+ test
// double), the refusals, teardown in order.
func TestBoto3KxScalingGroupsAndVolumes(t *testing.T) {
	t.Parallel()
	python := requirePythonBoto3(t)
	if out, err := probe(python, "-c", "import boto3; boto3.client('finspace', region_name='us-east-1').meta.method_to_api_mapping['create_kx_volume']"); err != nil {
		missingClient(t, "%s has a botocore without the kx operations: %s", python, lastLine(out))
	}
	q := servertest.KdbDouble(t)
	srv := servertest.Start(t, func(c *server.Config) { c.KdbExecutable = q })
	root := srv.Root()
	runClient(t, clientEnv(t, srv.URL(), root.AccessKeyID, root.SecretAccessKey),
		python, testdataPath(t, "kx_scaling_boto3.py"))
}
