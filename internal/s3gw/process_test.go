package s3gw

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/authz"
	"github.com/openfinspace/openfinspace/internal/auth/sigv4"
)

// The test binary is a gateway process when the package's init says so
// (child.go), and a server stand-in when started with parentArg.
const parentArg = "s3gw-test-parent"

func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == parentArg {
		os.Exit(parentMain(os.Args[2]))
	}
	os.Exit(m.Run())
}

// parentMain starts a gateway over dir/objects, prints its pid and socket
// directory, and waits to be killed.
func parentMain(dir string) int {
	g, err := newGateway(dir)
	if err == nil {
		err = g.Start(context.Background())
	}
	if err != nil {
		fmt.Println("error", err)
		return 1
	}
	fmt.Println("gateway", g.proc.handle.PID, g.proc.sockDir)
	time.Sleep(time.Hour)
	return 0
}

func newGateway(dir string) (*Gateway, error) {
	static := auth.Static{rootKey: {AccessKeyID: rootKey, SecretAccessKey: rootSecret,
		Principal: auth.Principal{Kind: auth.Root, Account: testAccount, ARN: "arn:aws:iam::" + testAccount + ":root"}}}
	creds := auth.Chain{static}
	return New(Config{ObjectsDir: filepath.Join(dir, "objects"), AccountID: testAccount, Credentials: creds,
		Verifier: &sigv4.Verifier{Credentials: creds}, Authz: &authz.Authorizer{Live: liveForTests}, Logger: slog.New(slog.DiscardHandler)})
}

// procAlive reports whether pid runs (a zombie does not).
func procAlive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	return len(f) > 0 && f[0] != "Z" && f[0] != "X"
}

// TestGatewayProcess: the gateway process runs in its own process group
// without the server's credentials in its environment, a killed one is
// started again by the next request, and Close stops it and removes its
// sockets.
func TestGatewayProcess(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", "server-secret")
	t.Setenv("OPENFINSPACE_SECRET_ACCESS_KEY", "server-secret")
	tg := startGateway(t)
	ctx := context.Background()
	if _, err := tg.s3.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("proc")}); err != nil {
		t.Fatal(err)
	}
	p := tg.g.proc
	pid := p.handle.PID
	env, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/environ")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(env, []byte("server-secret")) {
		t.Error("the server's credentials reached the gateway process")
	}
	if pgid, err := syscall.Getpgid(pid); err != nil || pgid != pid {
		t.Errorf("process group %d (%v), want its own (%d)", pgid, err, pid)
	}

	tg.g.Kill()
	if procAlive(pid) {
		t.Fatal("Kill left the gateway running")
	}
	if _, err := tg.s3.HeadBucket(ctx, &s3.HeadBucketInput{Bucket: aws.String("proc")}); err != nil {
		t.Fatalf("after a crash: %v", err)
	}
	if n := tg.g.Starts(); n != 2 {
		t.Errorf("%d starts, want 2", n)
	}
	if _, err := os.Stat(p.sockDir); !os.IsNotExist(err) {
		t.Errorf("the dead gateway's sockets remain: %v", err)
	}
	p2 := tg.g.proc
	if p2.handle.PID == pid {
		t.Fatal("the same pid after a restart")
	}
	if err := tg.g.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if procAlive(p2.handle.PID) {
		t.Error("Close left the gateway running")
	}
	if _, err := os.Stat(p2.sockDir); !os.IsNotExist(err) {
		t.Errorf("Close left the sockets: %v", err)
	}
}

// TestGatewayDiesWithItsServer: SIGKILL of the server ends its gateway
// through the lifeline, which also removes the gateway's sockets.
func TestGatewayDiesWithItsServer(t *testing.T) {
	if goruntime.GOOS != "linux" {
		t.Skip("reads /proc")
	}
	cmd := exec.Command(os.Args[0], parentArg, t.TempDir())
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	f := strings.Fields(line)
	if err != nil || len(f) != 3 || f[0] != "gateway" {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		t.Fatalf("parent said %q (%v)", line, err)
	}
	pid, _ := strconv.Atoi(f[1])
	sockDir := f[2]
	t.Cleanup(func() { _ = syscall.Kill(-pid, syscall.SIGKILL) })
	if !procAlive(pid) {
		t.Fatal("the gateway is not running")
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	waitFor(t, 20*time.Second, "the gateway outlived its server", func() bool { return !procAlive(pid) })
	waitFor(t, 5*time.Second, "the gateway left its sockets", func() bool {
		_, err := os.Stat(sockDir)
		return os.IsNotExist(err)
	})
}
