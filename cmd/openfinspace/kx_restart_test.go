package main

import (
	"context"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/finspace"
	"github.com/aws/aws-sdk-go-v2/service/finspace/types"
)

func kxStatus(t *testing.T, c *finspace.Client, id string) types.EnvironmentStatus {
	t.Helper()
	out, err := c.GetKxEnvironment(context.Background(), &finspace.GetKxEnvironmentInput{EnvironmentId: &id})
	if err != nil {
		t.Fatalf("GetKxEnvironment(%s): %v", id, err)
	}
	return out.Status
}

func waitKx(t *testing.T, c *finspace.Client, id string, want types.EnvironmentStatus) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for kxStatus(t, c, id) != want {
		if time.Now().After(deadline) {
			t.Fatalf("kx environment %s did not reach %s (now %s)", id, want, kxStatus(t, c, id))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestKxRestartAfterKill: kx environments being created, deleted and
// network-updated when the server is SIGKILLed finish their lifecycles
// after a restart on the same data dir, each with its records intact.
func TestKxRestartAfterKill(t *testing.T) {
	dataDir := t.TempDir()
	ctx := context.Background()
	first := startChild(t, dataDir)
	c := clientFor(t, first.url, dataDir)
	kms := aws.String("arn:aws:kms:us-east-1:000000000000:key/restart")

	create := func(name string) string {
		t.Helper()
		out, err := c.CreateKxEnvironment(ctx, &finspace.CreateKxEnvironmentInput{Name: aws.String(name), KmsKeyId: kms,
			Tags: map[string]string{"name": name}})
		if err != nil {
			t.Fatal(err)
		}
		return *out.EnvironmentId
	}
	doomed, network := create("doomed"), create("network")
	waitKx(t, c, doomed, types.EnvironmentStatusCreated)
	waitKx(t, c, network, types.EnvironmentStatusCreated)
	if _, err := c.CreateKxUser(ctx, &finspace.CreateKxUserInput{EnvironmentId: &network, UserName: aws.String("alice"),
		IamRole: aws.String("arn:aws:iam::000000000000:role/alice")}); err != nil {
		t.Fatal(err)
	}
	fresh := []string{create("env-a"), create("env-b"), create("env-c")}
	if _, err := c.DeleteKxEnvironment(ctx, &finspace.DeleteKxEnvironmentInput{EnvironmentId: &doomed}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UpdateKxEnvironmentNetwork(ctx, &finspace.UpdateKxEnvironmentNetworkInput{EnvironmentId: &network,
		CustomDNSConfiguration: []types.CustomDNSServer{{CustomDNSServerName: aws.String("dns.example.com"), CustomDNSServerIP: aws.String("10.0.0.2")}}}); err != nil {
		t.Fatal(err)
	}
	for _, id := range fresh {
		if s := kxStatus(t, c, id); s == types.EnvironmentStatusCreated {
			t.Fatalf("kx environment %s already CREATED before the kill; the test needs a slower lifecycle", id)
		}
	}
	if s := kxStatus(t, c, network); s == types.EnvironmentStatusCreated {
		t.Fatalf("the network update finished before the kill; the test needs a slower lifecycle")
	}
	if s := kxStatus(t, c, doomed); s == types.EnvironmentStatusDeleted {
		t.Fatalf("the deletion finished before the kill; the test needs a slower lifecycle")
	}
	if err := first.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-first.exited

	second := startChild(t, dataDir)
	c = clientFor(t, second.url, dataDir)
	for _, id := range fresh {
		waitKx(t, c, id, types.EnvironmentStatusCreated)
	}
	waitKx(t, c, doomed, types.EnvironmentStatusDeleted)
	waitKx(t, c, network, types.EnvironmentStatusCreated)
	got, err := c.GetKxEnvironment(ctx, &finspace.GetKxEnvironmentInput{EnvironmentId: &network})
	if err != nil {
		t.Fatal(err)
	}
	if got.DnsStatus != types.DnsStatusSuccessfullyUpdated || len(got.CustomDNSConfiguration) != 1 {
		t.Errorf("network update after the restart: dnsStatus %s, %d DNS servers", got.DnsStatus, len(got.CustomDNSConfiguration))
	}
	if _, err := c.GetKxUser(ctx, &finspace.GetKxUserInput{EnvironmentId: &network, UserName: aws.String("alice")}); err != nil {
		t.Errorf("kx user after the restart: %v", err)
	}
	list, err := c.ListKxEnvironments(ctx, &finspace.ListKxEnvironmentsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.Environments) != 5 {
		t.Errorf("listed %d kx environments after the restart, want 5", len(list.Environments))
	}
	if err := second.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-second.exited:
		if err != nil {
			t.Errorf("server exited with %v after SIGTERM, want 0", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("server did not stop within 15 s of SIGTERM")
	}
}
