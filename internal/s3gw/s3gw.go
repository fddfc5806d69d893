// Package s3gw serves the S3 API on openfinspace's main port: the endpoint
// through which users upload and download data with the AWS CLI, boto3 or
// any SDK (path-style, http://host:port/<bucket>/<key>), and the store
// behind the product's own blobs (internal/blob's embedded store).
//
// # Design
//
// The S3 implementation is versitygw (Apache-2.0): its S3 router and
// SigV4 verification (including aws-chunked streaming signatures and
// trailers) over its posix backend, which keeps one directory per bucket
// under <data-dir>/objects, object metadata in extended attributes (or a
// sidecar directory where the filesystem has none), writes objects to an
// O_TMPFILE linked into place only when complete, and stages multipart
// parts under a hidden directory.
//
// With an external S3 service (Config.Upstream) the backend is versitygw's
// s3proxy instead: the same verification and authorization in front of the
// service's buckets, so several servers in front of one service serve the
// same objects (see upstream.go).
//
// versitygw runs in a child process, one per Gateway, started lazily on
// the first S3 request (or blob operation) from the server's own
// executable (see the init function in child.go). It is a process because
// the posix backend is process-global: it chdirs into its root and uses
// relative paths. The child listens only on Unix sockets in a private
// 0700 directory, and accepts only requests carrying a per-gateway secret
// header; its control channel is an inherited socket pair whose closing
// (Close, or the server dying) stops it.
//
// The main port's handler (Gateway.ServeHTTP, mounted for signing name
// "s3") is a reverse proxy: it forwards the exact request target, the Host
// header and the body stream, so the client's signature verifies
// unchanged in the child. The child serves one versitygw router per region
// that clients sign for (started on first use), all over the same backend.
//
// # Credentials and policy
//
// The child holds no credentials. To verify a signature it asks the parent
// for the signing key of the access key (day-, region- and service-scoped
// HMAC key, never the secret); the parent answers from the same credential
// chain as every API (root, STS sessions, FinSpace users' temporary
// credentials, scoped reads), checking session tokens and expiry. Inside
// the gateway every principal acts as the account, and the account id owns
// every bucket; who may use which bucket is decided in the parent before
// forwarding (see access.go): root and STS sessions may use every bucket,
// a FinSpace user only its environment's working bucket, and scoped read
// credentials (auth.ScopedRead, see IssueScopedRead) only reads inside
// their bucket and prefix; anything else gets 403 AccessDenied. The parent
// names the access key it authorized in a header, and the gateway refuses
// a request signed by another key.
//
// # Downloads
//
// A GET of an object goes to the gateway on a connection of its own
// (download.go). A body of 1 MiB or more comes back as the object's open
// file, passed over the Unix socket (child_fd.go): the gateway's request
// ends there, and the main port hijacks the client's connection, writes
// the head with "Connection: close" and sends the body from the file with
// sendfile(2), holding one goroutine, the connection and the file — so a
// client that stalls costs a few KiB, not a proxied request in both
// processes. Smaller bodies, errors and an upstream's bodies are proxied
// as any response, keeping the connection. Other bodies cross the Unix
// socket by sendfile(2) or in large writes (child_body.go) and the
// reverse proxy copies them to the client with 256 KiB buffers (a bounded
// set, see limits.go). A splice fast path (the Unix connection handed to
// the client's TCPConn.ReadFrom) was measured and dropped: on the
// reference machine it used 40% more CPU in this process than the two
// copies and downloaded 8% slower (see bench/s3/README.md).
//
// # Hostile clients
//
// Clients that stop reading their responses or sending their bodies are
// dropped after Limits.IdleTimeout, at most Limits.MaxRequests requests
// are forwarded at once (then 503 SlowDown), and a request body without a
// length never reaches a reused gateway connection: see limits.go and
// guard.go.
package s3gw

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/authz"
	"github.com/openfinspace/openfinspace/internal/auth/sigv4"
	"github.com/openfinspace/openfinspace/internal/runtime"
)

// DefaultRegion is the region of the blob store's requests when
// Config.Region is empty.
const DefaultRegion = "us-east-1"

// maxRegions bounds the routers of one gateway process.
const maxRegions = 16

// Config configures a Gateway.
type Config struct {
	// ObjectsDir holds the buckets (created if missing), e.g.
	// <data-dir>/objects.
	ObjectsDir string
	// MetaDir keeps object metadata when ObjectsDir's filesystem has no
	// user extended attributes, e.g. <data-dir>/objects-meta. It must be
	// outside ObjectsDir.
	MetaDir string
	// Region is the region the blob store signs for (DefaultRegion when
	// empty). Clients may sign for any region.
	Region string
	// AccountID owns every bucket.
	AccountID string
	// Credentials resolves every access key (the server's credential chain).
	Credentials auth.CredentialStore
	// Verifier authenticates scoped read requests before they are
	// authorized; its Credentials should be the same chain.
	Verifier *sigv4.Verifier
	// Authz is the server's authorization model (required).
	Authz  *authz.Authorizer
	Logger *slog.Logger
	// Limits bound what the main port's clients may hold (see limits.go).
	Limits Limits
	// MaxConnections bounds concurrent connections and requests in the
	// gateway process (default: enough for Limits.MaxRequests and the blob
	// store; a smaller value lowers Limits.MaxRequests to fit).
	MaxConnections int
	// Executable is the program started as the gateway process (default
	// os.Executable()); it must link this package.
	Executable string
	// Now is the clock for credential expiry (default time.Now).
	Now func() time.Time
	// Upstream, when set, makes the endpoint the front of an external S3
	// service: signatures are verified and requests authorized as always,
	// but the objects live in the upstream's buckets of the same names
	// (versitygw's s3proxy backend) instead of under ObjectsDir. Several
	// servers in front of one upstream serve the same objects.
	Upstream *Upstream
	// DirectAddr is for benchmarks only: when set (a 127.0.0.1 address),
	// the gateway process also serves Region on it directly, bypassing the
	// main port and the scoped credential checks. Never set it in a server.
	DirectAddr string
}

// Upstream is an external S3 service behind the endpoint (Config.Upstream).
type Upstream struct {
	// Endpoint is the service's URL (empty: Amazon S3 in Region).
	Endpoint                                   string
	Region                                     string
	AccessKeyID, SecretAccessKey, SessionToken string
	PathStyle                                  bool
}

// Gateway is one server's S3 endpoint and embedded store.
type Gateway struct {
	cfg   Config
	log   *slog.Logger
	token string
	pool  *boundedBuffers
	// limits is cfg.Limits with defaults; admit counts the requests
	// forwarded at the moment.
	limits Limits
	admit  *admission
	// downloads are the bodies sent from files on hijacked connections
	// (download.go).
	downloads downloadSet

	// driver runs the gateway process (process.go).
	driver runtime.Local

	mu     sync.Mutex
	closed bool
	proc   *process
	starts int
}

// ErrClosed is returned after Close.
var ErrClosed = errors.New("s3gw: the gateway is closed")

type route struct {
	sock      string // the router's socket (download.go dials it)
	transport *http.Transport
	proxy     *httputil.ReverseProxy
}

// New checks cfg and prepares the directories; the gateway process starts
// on first use (or Start).
func New(cfg Config) (*Gateway, error) {
	if cfg.ObjectsDir == "" {
		return nil, errors.New("s3gw: ObjectsDir is required")
	}
	if cfg.Credentials == nil || cfg.Verifier == nil || cfg.Authz == nil {
		return nil, errors.New("s3gw: Credentials, Verifier and Authz are required")
	}
	if cfg.AccountID == "" {
		return nil, errors.New("s3gw: AccountID is required")
	}
	if cfg.Region == "" {
		cfg.Region = DefaultRegion
	}
	if !validRegion(cfg.Region) {
		return nil, fmt.Errorf("s3gw: invalid region %q", cfg.Region)
	}
	cfg.Limits = cfg.Limits.withDefaults()
	if cfg.MaxConnections <= 0 {
		cfg.MaxConnections = childConcurrency(cfg.Limits.MaxRequests)
	} else if fit := cfg.MaxConnections - blobConns - childConnSlack; fit < cfg.Limits.MaxRequests {
		if fit < 1 {
			return nil, fmt.Errorf("s3gw: MaxConnections must be more than %d", blobConns+childConnSlack)
		}
		cfg.Limits.MaxRequests = fit
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	var err error
	if cfg.ObjectsDir, err = filepath.Abs(cfg.ObjectsDir); err != nil {
		return nil, err
	}
	if cfg.MetaDir == "" {
		cfg.MetaDir = cfg.ObjectsDir + "-meta"
	}
	if cfg.MetaDir, err = filepath.Abs(cfg.MetaDir); err != nil {
		return nil, err
	}
	if strings.HasPrefix(cfg.MetaDir+string(filepath.Separator), cfg.ObjectsDir+string(filepath.Separator)) {
		return nil, errors.New("s3gw: MetaDir must be outside ObjectsDir")
	}
	if cfg.Upstream == nil {
		if err := os.MkdirAll(cfg.ObjectsDir, 0o750); err != nil {
			return nil, fmt.Errorf("s3gw: objects directory: %w", err)
		}
	}
	if cfg.Upstream != nil && cfg.DirectAddr != "" {
		return nil, errors.New("s3gw: DirectAddr serves the objects directory: not with an Upstream")
	}
	if cfg.DirectAddr != "" {
		host, _, err := net.SplitHostPort(cfg.DirectAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return nil, fmt.Errorf("s3gw: DirectAddr %q must be a loopback address", cfg.DirectAddr)
		}
	}
	if cfg.Executable == "" {
		exe, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("s3gw: finding the executable to start the gateway with: %w", err)
		}
		cfg.Executable = exe
	}
	var tok [24]byte
	if _, err := rand.Read(tok[:]); err != nil {
		return nil, err
	}
	return &Gateway{cfg: cfg, log: cfg.Logger, token: hex.EncodeToString(tok[:]),
		pool:   newBoundedBuffers(proxyLargeBuffer, proxySmallBuffer, proxyMaxLarge),
		limits: cfg.Limits, admit: &admission{max: int64(cfg.Limits.MaxRequests)}}, nil
}

// Region is the region the blob store signs for.
func (g *Gateway) Region() string { return g.cfg.Region }

// EndpointURL is the URL the blob store signs requests for; HTTPClient
// reaches it.
func (g *Gateway) EndpointURL() string { return "http://s3gw.openfinspace.internal" }

// HTTPClient reaches the gateway process directly (not through the main
// port), for the embedded blob store.
func (g *Gateway) HTTPClient() *http.Client {
	return &http.Client{Transport: blobTransport{g}}
}

type blobTransport struct{ g *Gateway }

func (t blobTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt, err := t.g.route(req.Context(), t.g.cfg.Region)
	if err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	out := req.Clone(req.Context())
	out.Header.Set(tokenHeader, t.g.token)
	return rt.transport.RoundTrip(out)
}

// Start starts the gateway process now rather than on first use.
func (g *Gateway) Start(ctx context.Context) error {
	_, err := g.route(ctx, g.cfg.Region)
	return err
}

// Starts reports how many gateway processes have been started (tests).
func (g *Gateway) Starts() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.starts
}

// MetadataMode is "xattr" or "sidecar" once the process runs, "" before.
func (g *Gateway) MetadataMode() string {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.proc == nil {
		return ""
	}
	return g.proc.meta
}

// route returns the proxy to the router for region, starting the process
// and the router as needed.
func (g *Gateway) route(ctx context.Context, region string) (*route, error) {
	if !validRegion(region) {
		return nil, fmt.Errorf("s3gw: invalid region %q", region)
	}
	p, err := g.running(ctx)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if rt := p.routes[region]; rt != nil {
		return rt, nil
	}
	if len(p.routes) >= maxRegions {
		return nil, fmt.Errorf("s3gw: more than %d regions in use", maxRegions)
	}
	var resp ctlResponse
	if err := p.ctl.call(&ctlRequest{Op: "region", Region: region}, &resp); err != nil {
		return nil, err
	}
	if resp.Error != "" {
		return nil, fmt.Errorf("s3gw: %s", resp.Error)
	}
	rt := g.newRoute(resp.Socket)
	p.routes[region] = rt
	return rt, nil
}

func (g *Gateway) newRoute(sock string) *route {
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		// Below the router's connection limit (fasthttp answers plain
		// text beyond it); requests beyond wait for a connection.
		MaxConnsPerHost:     g.cfg.MaxConnections - childConnSlack,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 256,
		IdleConnTimeout:     60 * time.Second,
		DisableCompression:  true,
		// The default 4 KiB buffers: response bodies are read straight
		// into the proxy's copy buffer (bufio passes reads larger than
		// itself through), and request bodies go out in io.Copy's 32 KiB
		// pieces once the head is written, whatever these sizes. Larger
		// ones only cost memory on every connection.
	}
	rp := &httputil.ReverseProxy{
		Rewrite:        g.rewrite,
		Transport:      tr,
		BufferPool:     g.pool,
		ModifyResponse: modifyResponse,
		ErrorHandler:   g.proxyError,
		// Without it the proxy writes body-copy failures (a client gone
		// mid-download) with the log package's default logger, past the
		// server's handler and level: a client's doing, so at Debug.
		ErrorLog: slog.NewLogLogger(g.log.Handler(), slog.LevelDebug),
	}
	return &route{sock: sock, transport: tr, proxy: rp}
}

// target is the request target exactly as the client sent it: the
// signature covers it, so it must reach the gateway byte for byte.
func target(r *http.Request) string {
	t := r.RequestURI
	if strings.HasPrefix(t, "/") && !strings.HasPrefix(t, "//") {
		return t
	}
	t = r.URL.EscapedPath()
	if r.URL.RawQuery != "" {
		t += "?" + r.URL.RawQuery
	}
	return t
}

func (g *Gateway) rewrite(pr *httputil.ProxyRequest) {
	path, query, _ := strings.Cut(target(pr.In), "?")
	pr.Out.URL = &url.URL{Scheme: "http", Host: "s3gw", Opaque: path, RawQuery: query}
	pr.Out.Host = pr.In.Host
	pr.Out.Header.Set(tokenHeader, g.token)
	pr.Out.Header.Del(descriptorHeader) // only download.go asks for one
	// ServeHTTP authorized the request for this key; the gateway refuses
	// it if its signature is by another (no key matches "-").
	akid, _, rerr := credentialOf(pr.In)
	if rerr != nil {
		akid = "-"
	}
	pr.Out.Header.Set(accessKeyHeader, akid)
	if pr.In.ContentLength < 0 {
		// A body of unknown length (an aws-chunked upload sent with
		// Transfer-Encoding: chunked): if the gateway answers before
		// reading all of it, the rest must not be read as the next
		// request on this connection. Use it once.
		pr.Out.Close = true
	}
	signed := signedHeaders(pr.In)
	if !slices.Contains(signed, "expect") {
		// This server already answered 100-continue; the gateway must not
		// send a second one.
		pr.Out.Header.Del("Expect")
	}
	if pr.In.ContentLength == 0 && pr.In.Header.Get("Content-Length") != "" {
		switch pr.In.Method {
		case "GET", "HEAD", "POST", "PUT", "PATCH":
		default:
			// Keep a signed "Content-Length: 0" on DELETE and friends.
			pr.Out.TransferEncoding = []string{"identity"}
		}
	}
}

// signedHeaders lists the signed header names (lower case) of r.
func signedHeaders(r *http.Request) []string {
	if h := r.Header.Get("Authorization"); h != "" {
		if a, err := sigv4.ParseAuthorization(h); err == nil {
			return a.SignedHeaders
		}
		return nil
	}
	return strings.Split(r.URL.Query().Get("X-Amz-SignedHeaders"), ";")
}

// ServeHTTP serves a request signed for "s3" on the main port.
func (g *Gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	gw, r := g.guard(w, r) // deadlines on the body and the response (guard.go)
	defer gw.finish()
	w = gw
	ctx := r.Context()
	akid, region, rerr := credentialOf(r)
	if rerr != nil {
		writeError(w, r, rerr.status, rerr.code, rerr.message)
		return
	}
	if !validRegion(region) {
		writeError(w, r, http.StatusBadRequest, "AuthorizationHeaderMalformed",
			fmt.Sprintf("The authorization header is malformed; the region '%.40s' is not a valid region name.", region))
		return
	}
	// Every principal: presigned URLs, keys, bucket names, part order
	// (reject.go).
	if g.reject(w, r) {
		return
	}
	cred, err := g.cfg.Credentials.LookupAccessKey(ctx, akid)
	switch {
	case err == nil:
		if !g.authorize(w, r, cred.Principal, region) {
			return
		}
	case !errors.Is(err, auth.ErrUnknownAccessKey):
		g.log.Error("s3: looking up an access key", "error", err)
		writeError(w, r, http.StatusInternalServerError, "InternalError", "We encountered an internal error. Please try again.")
		return
	}
	// Unknown keys go on: the gateway answers InvalidAccessKeyId.
	rt, err := g.route(ctx, region)
	if err != nil {
		if ctx.Err() == nil {
			g.log.Error("s3 gateway unavailable", "error", err)
		}
		writeError(w, r, http.StatusServiceUnavailable, "ServiceUnavailable", "The S3 gateway is not available; please retry.")
		return
	}
	g.forward(rt, w, r)
}

// authorizeScoped verifies a scoped read credential's request and checks
// it against the credential's bucket and prefix; it answers the client and
// returns false when the request may not proceed.
func (g *Gateway) authorizeScoped(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead || r.ContentLength != 0 {
		writeError(w, r, http.StatusForbidden, "AccessDenied", "Access Denied")
		return false
	}
	res, ok := g.verify(w, r)
	if !ok {
		return false
	}
	p := res.Principal
	if why := scopeDenial(r.Method, target(r), p.Bucket, p.Prefix); why != "" {
		g.log.Debug("s3: scoped read denied", "access_key", res.AccessKeyID, "method", r.Method, "target", target(r), "reason", why)
		writeError(w, r, http.StatusForbidden, "AccessDenied", "Access Denied")
		return false
	}
	return true
}
