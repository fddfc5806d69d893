package s3gw

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofiber/fiber/v3"
	"github.com/versity/versitygw/backend"
	"github.com/versity/versitygw/backend/meta"
	"github.com/versity/versitygw/backend/posix"
	"github.com/versity/versitygw/debuglogger"
	"github.com/versity/versitygw/s3api"
	"github.com/versity/versitygw/s3api/middlewares"
	"github.com/versity/versitygw/s3api/utils"
)

// childEnv marks a process started as a gateway process; its value is
// childEnvValue. The variable is removed from the environment as soon as the
// child starts.
const (
	childEnv      = "OPENFINSPACE_INTERNAL_S3GW"
	childEnvValue = "gateway-process-v1"
)

// Inherited descriptors of the gateway process (exec.Cmd.ExtraFiles).
const (
	childCtlFD  = 3
	childKeysFD = 4
)

// tokenHeader carries the per-gateway secret that every request reaching
// the gateway process must have: only the parent (which enforces scoped
// credentials) and the embedded blob store know it.
const tokenHeader = "X-Openfinspace-Gateway"

// The gateway runs in a child process started from the same executable
// (os.Executable): this package's init function turns such a process into
// the gateway before main (or a test binary's TestMain) runs, so any
// binary that links this package — the openfinspace command and every test
// binary alike — can start gateways without a subcommand of its own.
//
// Why a process: versitygw's posix backend keeps its root as the process's
// working directory (posix.New calls os.Chdir and then opens relative
// paths), and bucket-name validation and debug logging are package
// globals. Two gateways in one process would write into each other's data
// directories, and the chdir would move the server's own relative paths.
// One child per server keeps every server fully isolated.
func init() {
	if os.Getenv(childEnv) != childEnvValue {
		return
	}
	os.Unsetenv(childEnv)
	os.Exit(runChild())
}

// RunChildIfRequested runs the gateway process and exits when this process
// was started as one, and returns otherwise. The package's init function
// already does this; a main function may call it first thing to make the
// hand-over explicit.
func RunChildIfRequested() {
	if os.Getenv(childEnv) == childEnvValue {
		os.Unsetenv(childEnv)
		os.Exit(runChild())
	}
}

func runChild() int {
	ctlF := os.NewFile(childCtlFD, "s3gw-ctl")
	keysF := os.NewFile(childKeysFD, "s3gw-keys")
	if ctlF == nil || keysF == nil {
		fmt.Fprintln(os.Stderr, "openfinspace s3 gateway: started without its control channels; this process is started by openfinspace itself")
		return 2
	}
	ctl, err := net.FileConn(ctlF)
	ctlF.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "openfinspace s3 gateway: control channel:", err)
		return 2
	}
	keys, err := net.FileConn(keysF)
	keysF.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "openfinspace s3 gateway: keys channel:", err)
		return 2
	}
	c := &child{keys: newRPCClient(keys, 30*time.Second), servers: map[string]*childServer{}}
	// The parent closing the control channel (or dying) ends the gateway.
	err = serveRPC(ctl, c.handle)
	if err != nil {
		fmt.Fprintln(os.Stderr, "openfinspace s3 gateway: control channel:", err)
	}
	c.shutdown()
	return 0
}

type child struct {
	keys *rpcClient

	mu   sync.Mutex
	init *childInit
	// be serves the main port's requests: the posix backend (in large
	// writes) or, with an upstream, the s3proxy backend.
	be backend.Backend
	// directBe serves DirectAddr (benchmarks only), nil otherwise.
	directBe *posix.Posix
	iam      *childIAM
	servers  map[string]*childServer
}

type childServer struct {
	srv  *s3api.S3ApiServer
	sock string
	done chan error
}

func (c *child) handle(req *ctlRequest) *ctlResponse {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch req.Op {
	case "ping":
		return &ctlResponse{}
	case "init":
		if c.init != nil || req.Init == nil {
			return &ctlResponse{Error: "bad init"}
		}
		m, err := c.setup(req.Init)
		if err != nil {
			return &ctlResponse{Error: err.Error()}
		}
		return &ctlResponse{Meta: m}
	case "region":
		if c.init == nil {
			return &ctlResponse{Error: "not initialised"}
		}
		sock, err := c.region(req.Region)
		if err != nil {
			return &ctlResponse{Error: err.Error()}
		}
		return &ctlResponse{Socket: sock}
	}
	return &ctlResponse{Error: "unknown operation " + req.Op}
}

// setup opens the posix backend over in.Root, or the upstream's.
func (c *child) setup(in *childInit) (string, error) {
	utils.SetBucketNameValidationStrict(true)
	debuglogger.SetLevel(debuglogger.LevelSilent)
	if in.Upstream != nil {
		be, err := newUpstreamBackend(in.Upstream)
		if err != nil {
			return "", err
		}
		c.init, c.be = in, be
		c.iam = newChildIAM(c.keys, in.Account)
		return "upstream", nil
	}

	var ms meta.MetadataStorer = meta.XattrMeta{}
	mode := "xattr"
	opts := posix.PosixOpts{
		CopyObjectThreshold: 5 << 30, // S3's 5 GiB CopyObject limit
		// The backend's own copy buffer (1 MiB by default) is held by every
		// upload and every ranged download for as long as its client
		// takes: a stalled client would hold it until it is dropped.
		// Ranged bodies are read past it by largeWriteBody's larger
		// buffer; uploads copy through it, and 32 KiB pieces cost main-port
		// PUTs nothing measurable (the main port sends the body in 32 KiB
		// pieces anyway; bench/s3/README.md, 2026-12-02).
		IOBufferSize: 32 << 10,
	}
	opts.SetNewDirPerm(fs.FileMode(0o750))
	opts.SetNewFilePerm(fs.FileMode(0o640))
	if err := (meta.XattrMeta{}).Test(in.Root); err != nil {
		// No user xattrs on this filesystem: keep metadata in a sidecar
		// directory beside the objects.
		if err := os.MkdirAll(in.SideCar, 0o750); err != nil {
			return "", err
		}
		sc, err := meta.NewSideCar(in.SideCar)
		if err != nil {
			return "", fmt.Errorf("sidecar metadata: %w", err)
		}
		ms, mode, opts.SideCarDir = sc, "sidecar", in.SideCar
	}
	be, err := posix.New(in.Root, ms, opts)
	if err != nil {
		return "", fmt.Errorf("posix backend: %w", err)
	}
	c.init, c.be = in, largeWrites{be}
	c.iam = newChildIAM(c.keys, in.Account)
	if in.DirectAddr != "" {
		// The benchmarks' reference is versitygw as it comes: a backend
		// of its own with the default copy buffer, over the same root.
		opts.IOBufferSize = 0
		if c.directBe, err = posix.New(in.Root, ms, opts); err != nil {
			return "", fmt.Errorf("posix backend (direct listener): %w", err)
		}
		if _, err := c.serve(in.DirectRegion, in.DirectAddr, false); err != nil {
			return "", fmt.Errorf("direct listener: %w", err)
		}
	}
	return mode, nil
}

// region starts (once) the S3 server that verifies signatures for region,
// listening on its own socket in the private socket directory.
func (c *child) region(region string) (string, error) {
	if !validRegion(region) {
		return "", fmt.Errorf("invalid region %q", region)
	}
	if s, ok := c.servers[region]; ok {
		select {
		case err := <-s.done:
			return "", fmt.Errorf("the %s server stopped: %v", region, err)
		default:
			return s.sock, nil
		}
	}
	sock := filepath.Join(c.init.SockDir, "s3-"+region+".sock")
	s, err := c.serve(region, sock, true)
	if err != nil {
		return "", err
	}
	c.servers[region] = s
	return sock, nil
}

func (c *child) shutdown() {
	c.mu.Lock()
	defer c.mu.Unlock()
	var wg sync.WaitGroup
	for _, s := range c.servers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = s.srv.ShutDown()
		}()
	}
	wg.Wait()
	if c.directBe != nil {
		c.directBe.Shutdown()
	}
	if c.be != nil {
		c.be.Shutdown()
	}
	if c.init != nil {
		// The parent may be gone (killed): leave no sockets behind.
		os.RemoveAll(c.init.SockDir)
	}
}

// serve starts a versitygw router for region listening on addr (a socket
// path or a TCP address); withToken requires the gateway token header.
func (c *child) serve(region, addr string, withToken bool) (*childServer, error) {
	in := c.init
	ready := make(chan struct{})
	var once sync.Once
	token := []byte(in.Token)
	opts := []s3api.Option{
		s3api.WithConcurrencyLimiter(in.MaxConns, in.MaxConns),
		s3api.WithMpMaxParts(10000),
		s3api.WithQuiet(),
		s3api.WithKeepAlive(),
		s3api.WithOnListen(func() { once.Do(func() { close(ready) }) }),
	}
	if withToken {
		opts = append(opts, s3api.WithMiddleware("/", closeAfterChunkedBody))
		opts = append(opts, s3api.WithMiddleware("/", func(ctx fiber.Ctx) error {
			if subtle.ConstantTimeCompare([]byte(ctx.Get(tokenHeader)), token) != 1 {
				ctx.Status(403)
				ctx.Set("Content-Type", "application/xml")
				return ctx.SendString(xmlError("AccessDenied", "Access Denied", ""))
			}
			// The main port authorized the request for this access key:
			// it must be the one whose signature is verified here.
			if want := ctx.Get(accessKeyHeader); want != "" {
				if got, ok := signingAccessKey(ctx, region); ok && got != want {
					ctx.Status(403)
					ctx.Set("Content-Type", "application/xml")
					return ctx.SendString(xmlError("AccessDenied", "Access Denied", ""))
				}
			}
			if ctx.Get(descriptorHeader) == "1" {
				// The main port takes a large body as its file (child_fd.go).
				ctx.RequestCtx().SetUserValue(descriptorKey, true)
			}
			return ctx.Next()
		}))
	}
	// The direct listener (benchmarks' reference) serves versitygw as is.
	var be backend.Backend = c.directBe
	if withToken {
		be = c.be
	}
	srv, err := s3api.New(be, middlewares.RootUserConfig{Access: in.RootAccess, Secret: in.RootSecret},
		region, c.iam, nil, nil, nil, nil, opts...)
	if err != nil {
		return nil, fmt.Errorf("s3 server: %w", err)
	}
	s := &childServer{srv: srv, sock: addr, done: make(chan error, 1)}
	go func() { s.done <- srv.ServeMultiPort([]string{addr}) }()
	select {
	case <-ready:
	case err := <-s.done:
		return nil, fmt.Errorf("s3 server for %s: %v", region, err)
	case <-time.After(30 * time.Second):
		return nil, errors.New("s3 server did not start listening within 30s")
	}
	if !withToken {
		c.servers["direct "+addr] = s
	}
	return s, nil
}

// closeAfterChunkedBody closes the connection after a request whose body
// has no length (Transfer-Encoding: chunked). versitygw drains what a
// handler left of a Content-Length body (middlewares.DrainRequestBody) but
// not of a chunked one, and fasthttp would read the rest of such a body as
// the next request on the connection: whatever answers such a request,
// the connection is not used again. (The main port refuses chunked bodies
// except aws-chunked uploads, and sends those with Connection: close.)
//
// What is left of the body is read first, within bounds, as versitygw
// does for Content-Length bodies: closing a Unix socket with unread bytes
// makes the parent's pending writes fail (EPIPE), and the parent would
// then answer 503 instead of this response. fasthttp's chunked stream
// reports io.EOF again once it has ended (v1.73, measured), so a body the
// handler read to its end costs one read; the deadlines bound the rest.
func closeAfterChunkedBody(ctx fiber.Ctx) error {
	if ctx.Request().Header.ContentLength() != -1 {
		return ctx.Next()
	}
	ctx.Response().Header.SetConnectionClose()
	defer drainChunkedBody(ctx)
	return ctx.Next()
}

// Bounds of drainChunkedBody.
const (
	chunkedDrainMax   = 256 << 10
	chunkedDrainIdle  = time.Second
	chunkedDrainTotal = 5 * time.Second
)

func drainChunkedBody(ctx fiber.Ctx) {
	stream := ctx.Request().BodyStream()
	if stream == nil {
		return
	}
	conn := ctx.RequestCtx().Conn()
	end := time.Now().Add(chunkedDrainTotal)
	buf := make([]byte, 16<<10)
	for n := 0; n < chunkedDrainMax; {
		if conn != nil {
			dl := time.Now().Add(chunkedDrainIdle)
			if dl.After(end) {
				dl = end
			}
			_ = conn.SetReadDeadline(dl)
		}
		m, err := stream.Read(buf)
		n += m
		if err != nil {
			break
		}
	}
	if conn != nil {
		_ = conn.SetReadDeadline(time.Time{})
	}
}

// signingAccessKey returns the access key whose signature versitygw will
// verify for the request, parsed as its authentication middlewares parse
// it (query string first, then the Authorization header); ok is false
// when they will refuse the request anyway.
func signingAccessKey(ctx fiber.Ctx, region string) (string, bool) {
	if utils.IsPresignedURLAuth(ctx) {
		if utils.IsPresignedURLAuthV2(ctx) {
			return "", false
		}
		a, err := utils.ParsePresignedURIParts(ctx, region)
		if err != nil {
			return "", false
		}
		return a.Access, true
	}
	a, err := utils.ParseAuthorization(ctx.Get("Authorization"))
	if err != nil {
		return "", false
	}
	return a.Access, true
}
