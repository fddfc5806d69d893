// Package server assembles openfinspace from one Config: store, keyring,
// job engine, domain services, API adapters and the HTTP handler.
// Nothing is global, so a test can run several servers in one process.
package server

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	apifinspace "github.com/openfinspace/openfinspace/internal/api/finspace"
	apifinspacedata "github.com/openfinspace/openfinspace/internal/api/finspacedata"
	"github.com/openfinspace/openfinspace/internal/auth"
	"github.com/openfinspace/openfinspace/internal/auth/authz"
	"github.com/openfinspace/openfinspace/internal/auth/credstore"
	"github.com/openfinspace/openfinspace/internal/auth/sigv4"
	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/dataset"
	"github.com/openfinspace/openfinspace/internal/environment"
	"github.com/openfinspace/openfinspace/internal/idempotency"
	"github.com/openfinspace/openfinspace/internal/identity"
	"github.com/openfinspace/openfinspace/internal/jobs"
	"github.com/openfinspace/openfinspace/internal/keyring"
	"github.com/openfinspace/openfinspace/internal/kx"
	"github.com/openfinspace/openfinspace/internal/kx/dataviews"
	"github.com/openfinspace/openfinspace/internal/kx/scaling"
	"github.com/openfinspace/openfinspace/internal/kx/users"
	"github.com/openfinspace/openfinspace/internal/kx/volumes"
	"github.com/openfinspace/openfinspace/internal/metrics"
	"github.com/openfinspace/openfinspace/internal/netguard"
	"github.com/openfinspace/openfinspace/internal/paging"
	"github.com/openfinspace/openfinspace/internal/s3gw"
	"github.com/openfinspace/openfinspace/internal/store"
	storeopen "github.com/openfinspace/openfinspace/internal/store/open"
	"github.com/openfinspace/openfinspace/internal/store/sqlite"
	"github.com/openfinspace/openfinspace/internal/tagging"
	"github.com/openfinspace/openfinspace/internal/wire/finspace"
	"github.com/openfinspace/openfinspace/internal/wire/finspacedata"
	"github.com/openfinspace/openfinspace/internal/wire/restjson"
)

// Config is everything a server needs. It is built in one place
// (cmd/openfinspace parses flags and environment variables into it); New
// reads no environment variable, so servers in one process may differ.
type Config struct {
	Addr    string // listen address, e.g. 127.0.0.1:8765 (":0" picks a port)
	DataDir string
	// AccountID is the AWS account id in ARNs (default 000000000000).
	AccountID string
	// DatabaseURL selects the metadata store: a postgres:// URL for
	// PostgreSQL; empty for SQLite at <DataDir>/metadata.db. With
	// PostgreSQL several processes may share the store, so ServerKey and
	// the root credentials must be set (New refuses to start otherwise):
	// nothing they share may come from a process-local file.
	DatabaseURL string
	// Root credentials; generated and stored in DataDir when empty.
	RootAccessKeyID, RootSecretAccessKey string
	// ServerKey is the 32-byte master key of the keyring (page tokens,
	// sealed secrets, idempotent responses). Nil: the key kept in
	// <DataDir>/keys/server.key, created on first start. Never logged.
	ServerKey []byte
	// S3 configures object storage (the zero value: the embedded store
	// under <DataDir>/objects behind the main port's S3 endpoint; see
	// blob.ConfigFromEnv for the OPENFINSPACE_S3_* variables). Its Gateway
	// and embedded credentials are set by the server.
	S3 blob.Config
	// S3Limits bound what clients of the main port's S3 endpoint may hold
	// (zero fields: the defaults; see s3gw.LimitsFromEnv).
	S3Limits s3gw.Limits
	// PublicURL is how clients reach this server (environmentUrl); default
	// http://<listen address>.
	PublicURL string
	// LifecycleStep is the pause between asynchronous status steps.
	LifecycleStep time.Duration
	// JobLease overrides how long a claim on an environment lifecycle job
	// lasts without renewal (0: the job kind's own, 30 s): how soon
	// another process takes over the job of a process that died.
	JobLease time.Duration
	// KdbExecutable is the kdb+ executable (q) that kx cluster nodes run;
	// empty: clusters end CREATE_FAILED saying none is configured.
	KdbExecutable string
	// Ingest bounds changeset ingestion (zero fields: the defaults).
	Ingest IngestConfig
	Logger *slog.Logger
	// Clock is the one clock of every service, the job engine, the token
	// stores, credential expiry, signature checks and the janitor's
	// expiry (tests set a manual one); nil means time.Now. Timers and
	// tickers still run on real time (tests wake the engine: WakeJobs).
	Clock func() time.Time
	// MaxConnections caps open client connections (0: min(8192,
	// RLIMIT_NOFILE/2), see netguard.DefaultMaxConns; < 0: no cap). Above
	// it a connection gets a 503 ServiceUnavailableException and is closed.
	MaxConnections int
	// ReadHeaderTimeout bounds reading a request's headers, in total from
	// its first byte (default 10 s); IdleTimeout closes keep-alive
	// connections idle that long (default 60 s).
	ReadHeaderTimeout, IdleTimeout time.Duration
}

// IngestConfig bounds changeset ingestion (DuckDB runs inside the server
// process; see package ingest).
type IngestConfig struct {
	// MemoryLimit is each conversion's DuckDB memory_limit (DuckDB syntax,
	// default "512MB"); Threads its threads (default 2).
	MemoryLimit string
	Threads     int
	// PerEnvironment bounds the changesets ingesting at once per
	// environment across processes (default 10); Workers those running at
	// once in this process (default 4).
	PerEnvironment, Workers int
	// MaxSourceBytes caps one changeset's sources (default 50 GiB).
	MaxSourceBytes int64
	// StagingBytes is the staging budget every conversion of this
	// process shares (default 20 GiB); MinFreeBytes the free space the
	// staging disk keeps (default 2 GiB); MaxLineBytes the longest CSV
	// record (default 2 MiB). See ingest.Limits.
	StagingBytes, MinFreeBytes, MaxLineBytes int64
	// MaxViewsPerDataset is the data view quota per dataset (0: none).
	// Materializations share PerEnvironment and MemoryLimit/Threads.
	MaxViewsPerDataset int
}

// Server is one running openfinspace instance.
type Server struct {
	cfg     Config
	log     *slog.Logger
	db      store.Store
	jobs    *jobs.Engine
	envs    *environment.Service
	kx      *kx.Service
	scaling *scaling.Service
	kxUsers *users.Service
	// kxVolumes are the kx volumes family.
	kxVolumes *volumes.Service
	// kxDataviews are the kx dataviews family.
	kxDataviews *dataviews.Service
	datasets    *dataset.Service
	metrics     *metrics.Metrics
	handler     http.Handler
	http        *http.Server
	listener    net.Listener
	root        RootCredentials
	// temp issues and finds temporary credentials (STS sessions, FinSpace
	// users' programmatic credentials, scoped S3 read keys).
	temp *credstore.Store
	// verifier checks SigV4 for every API and delegate; authz decides who
	// may call what, for every API and delegate.
	verifier *sigv4.Verifier
	authz    *authz.Authorizer
	// blobs is the object store; s3gw the embedded S3 endpoint (nil when
	// objects live in an external S3 service).
	blobs *blob.S3Store
	s3gw  *s3gw.Gateway
	// glue is the account's Glue Data Catalog (glue.go).
	glue *glueCatalog
	// closers run at Shutdown, after the HTTP server stops.
	closers []func(context.Context) error
}

// New opens the data dir and builds the server; Start begins serving.
func New(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("server: DataDir is required")
	}
	// Everything under the data dir is reached by absolute paths (DuckDB
	// conversions and kdb+ nodes run elsewhere than the working directory).
	if abs, err := filepath.Abs(cfg.DataDir); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	} else {
		cfg.DataDir = abs
	}
	if cfg.AccountID == "" {
		cfg.AccountID = "000000000000"
	}
	if cfg.LifecycleStep == 0 {
		cfg.LifecycleStep = 400 * time.Millisecond
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, log: log, metrics: metrics.New()}
	if cfg.DatabaseURL != "" {
		if err := sharedFromConfig(cfg); err != nil {
			return nil, err
		}
		if !cfg.S3.External {
			log.Warn("the metadata store is PostgreSQL but objects stay in this process's data dir (embedded S3): " +
				"several processes need an external S3 service (OPENFINSPACE_S3_ENDPOINT)")
		}
	}

	switch {
	case cfg.RootAccessKeyID != "" && cfg.RootSecretAccessKey != "":
		s.root = RootCredentials{AccessKeyID: cfg.RootAccessKeyID, SecretAccessKey: cfg.RootSecretAccessKey}
	case cfg.RootAccessKeyID != "" || cfg.RootSecretAccessKey != "":
		return nil, errors.New("server: set both the root access key id and the secret access key, or neither")
	default:
		rc, err := LoadOrCreateRootCredentials(cfg.DataDir)
		if err != nil {
			return nil, fmt.Errorf("root credentials: %w", err)
		}
		s.root = rc
	}
	var keys *keyring.Keyring
	var err error
	if cfg.ServerKey != nil {
		keys, err = keyring.New(cfg.ServerKey)
	} else {
		keys, err = keyring.LoadOrCreate(filepath.Join(cfg.DataDir, "keys", "server.key"))
	}
	if err != nil {
		return nil, err
	}
	db, err := storeopen.Open(ctx, cfg.DatabaseURL, filepath.Join(cfg.DataDir, "metadata.db"))
	if err != nil {
		return nil, fmt.Errorf("opening metadata store: %w", err)
	}
	s.db = db
	// SQLite admits one process: a starting engine takes over every lease
	// its predecessor left.
	_, exclusive := s.db.(*sqlite.Store)
	s.jobs, err = jobs.New(jobs.Config{Store: db, Owner: jobOwner(), Exclusive: exclusive, Now: cfg.Clock, Logger: log,
		Observer: s.metrics})
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := s.build(keys); err != nil {
		for i := len(s.closers) - 1; i >= 0; i-- {
			_ = s.closers[i](ctx)
		}
		db.Close()
		return nil, err
	}
	return s, nil
}

// sharedFromConfig checks that a server on a shared (PostgreSQL) store
// takes what every process must share from its configuration: a key or
// credentials generated into one process's data dir would make the others
// refuse its page tokens, sealed secrets and signatures.
func sharedFromConfig(cfg Config) error {
	var missing []string
	if cfg.ServerKey == nil {
		missing = append(missing, "the server key (OPENFINSPACE_SERVER_KEY or --server-key-file; `openfinspace keygen` prints one)")
	}
	if cfg.RootAccessKeyID == "" || cfg.RootSecretAccessKey == "" {
		missing = append(missing, "the root credentials (OPENFINSPACE_ACCESS_KEY_ID and OPENFINSPACE_SECRET_ACCESS_KEY)")
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("server: with a PostgreSQL metadata store (OPENFINSPACE_DATABASE_URL) every process must be given "+
		"the same server key and root credentials, never ones from its own data dir: set %s", strings.Join(missing, " and "))
}

// jobOwner names this server in job leases: host, process id and a random
// suffix (servers in one process, or a restarted process, differ), so an
// operator reading a job sees which process holds it.
func jobOwner() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("%s/%d/%s", cmp.Or(host, "localhost"), os.Getpid(), hex.EncodeToString(b[:]))
}

func (s *Server) build(keys *keyring.Keyring) error {
	now := s.cfg.Clock // the one clock of every service, the engine's too (New)
	if now == nil {
		now = time.Now
	}
	tokens := idempotency.New(s.db, keys, idempotency.Options{Now: now})
	tags := tagging.New(s.db, s.cfg.AccountID)
	envs := environment.New(environment.Config{Store: s.db, Jobs: s.jobs, Account: s.cfg.AccountID,
		BaseURL: s.PublicURL, StepDelay: s.cfg.LifecycleStep, Now: now, Logger: s.log})
	// Expired records (client tokens, temporary credentials, finished
	// jobs) go once a minute across every process sharing the store.
	if err := s.jobs.Register(jobs.Janitor(s.db, time.Minute, now, s.log)); err != nil {
		return err
	}
	if err := s.jobs.Register(s.withLease(envs.JobKind())); err != nil {
		return err
	}
	s.envs = envs
	tags.Register("environment", envs.Exists)

	s.temp = credstore.New(s.db, keys, credstore.Options{Now: now})
	// Operations with a client token mark it in their commit (tokens.CommitTx).
	ident := identity.New(identity.Config{Store: s.db, Credentials: s.temp, Environments: envs,
		Account: s.cfg.AccountID, Tokens: tokens, Now: now})
	envs.OnCreated(ident.CreateSuperuserTx)

	creds := auth.Chain{auth.Static{s.root.AccessKeyID: &auth.Credential{
		AccessKeyID: s.root.AccessKeyID, SecretAccessKey: s.root.SecretAccessKey,
		Principal: auth.Principal{Kind: auth.Root, Account: s.cfg.AccountID,
			ARN: "arn:aws:iam::" + s.cfg.AccountID + ":root"},
	}}, s.temp}
	s.verifier = &sigv4.Verifier{Credentials: creds, Now: s.cfg.Clock}
	// One authorization model for every API on the port (package authz).
	s.authz = &authz.Authorizer{Live: ident.Live}
	// Object storage before the adapters that use it (the embedded
	// gateway verifies and authorizes with the two above).
	if err := s.openObjects(); err != nil {
		return err
	}

	if err := s.buildDatasets(ident, tokens, now); err != nil {
		return err
	}
	kxs, err := s.buildKx(tokens, now)
	if err != nil {
		return err
	}
	tags.Register("kxEnvironment", kxs.Exists)

	pages := paging.NewCodec(keys.Key("page-tokens"))
	fsHandlers := &finspace.Handlers{}
	apifinspace.Register(fsHandlers, &apifinspace.Adapter{Environments: envs, Kx: kxs, Scaling: s.scaling, Users: s.kxUsers, Volumes: s.kxVolumes, Dataviews: s.kxDataviews, Tags: tags, Pages: pages})
	fdHandlers := &finspacedata.Handlers{}
	apifinspacedata.Register(fdHandlers, &apifinspacedata.Adapter{Identity: ident, Datasets: s.datasets, Pages: pages, Blobs: s.blobs, Account: s.cfg.AccountID})
	s.registerGauges()
	s.buildGlue(pages, now)
	delegates := s.delegates()
	api := &restjson.Handler{
		Delegates: delegates,
		Services: map[string]*restjson.Service{
			finspace.SigningName:     {SigningName: finspace.SigningName, Operations: finspace.Operations, Lookup: fsHandlers.Lookup},
			finspacedata.SigningName: {SigningName: finspacedata.SigningName, Operations: finspacedata.Operations, Lookup: fdHandlers.Lookup},
		},
		Scope: func(r *http.Request) (string, bool) {
			svc, _, ok := sigv4.PeekScope(r)
			return svc, ok
		},
		Auth:        &authenticator{v: s.verifier},
		Authz:       s.authz,
		Idempotency: tokens,
		Observer:    s.metrics,
		Logger:      s.log,
	}
	api.Init()

	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("ok\n"))
	})
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.HandleFunc("GET /environments/{id}", environmentPage)
	s.handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Unsigned requests to the few plain pages; everything signed (an S3
		// bucket may be called "healthz") goes to the APIs.
		if !signed(r) {
			if h, pattern := mux.Handler(r); pattern != "" {
				h.ServeHTTP(w, r)
				return
			}
		}
		api.ServeHTTP(w, r)
	})
	return nil
}

func signed(r *http.Request) bool {
	return r.Header.Get("Authorization") != "" || r.URL.Query().Has("X-Amz-Credential")
}

// authenticator adapts the SigV4 verifier to restjson.Authenticator.
type authenticator struct{ v *sigv4.Verifier }

func (a *authenticator) Authenticate(ctx context.Context, r *http.Request, body []byte) (auth.Caller, error) {
	res, err := a.v.Verify(ctx, r, body)
	if err != nil {
		var se *sigv4.Error
		if errors.As(err, &se) {
			return auth.Caller{}, &restjson.APIError{Status: se.Status, Code: se.Code, Message: se.Message}
		}
		return auth.Caller{}, err
	}
	// The JSON APIs sign their bodies: an unsigned payload would let a
	// replayed signature carry any body.
	if res.PayloadHash == sigv4.UnsignedPayload && len(body) > 0 {
		return auth.Caller{}, &restjson.APIError{Status: 403, Code: "InvalidSignatureException",
			Message: "The request body must be signed: UNSIGNED-PAYLOAD is accepted only for requests without a body."}
	}
	return auth.Caller{Principal: res.Principal, AccessKeyID: res.AccessKeyID, Region: res.Region}, nil
}

// Start listens on cfg.Addr, resumes pending lifecycles and serves in the
// background.
func (s *Server) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return err
	}
	// Connection cap, slow-client eviction, and AWS envelopes for the
	// errors net/http writes itself (package netguard).
	guard := netguard.Listen(ln, netguard.Config{MaxConns: s.cfg.MaxConnections, Logger: s.log,
		Renderer: restjson.NewRejectionRenderer(map[string][]*restjson.Operation{
			finspace.SigningName: finspace.Operations, finspacedata.SigningName: finspacedata.Operations})})
	s.listener = guard
	if s.cfg.PublicURL == "" {
		s.cfg.PublicURL = "http://" + ln.Addr().String()
	}
	if err := s.envs.Resume(ctx); err != nil {
		ln.Close()
		return fmt.Errorf("resuming lifecycles: %w", err)
	}
	if err := s.kx.Resume(ctx); err != nil {
		ln.Close()
		return fmt.Errorf("resuming kx lifecycles: %w", err)
	}
	if err := s.resumeKxFamilies(ctx); err != nil {
		ln.Close()
		return err
	}
	s.jobs.Start(ctx)
	s.http = &http.Server{Handler: s.handler,
		ReadHeaderTimeout: cmp.Or(s.cfg.ReadHeaderTimeout, DefaultReadHeaderTimeout),
		IdleTimeout:       cmp.Or(s.cfg.IdleTimeout, DefaultIdleTimeout),
		MaxHeaderBytes:    MaxHeaderBytes,
		ConnState:         guard.ConnState,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug)}
	go func() {
		if err := s.http.Serve(guard); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "error", err)
		}
	}()
	s.log.Info("openfinspace listening", "url", s.cfg.PublicURL, "data_dir", s.cfg.DataDir, "max_connections", guard.MaxConns())
	s.logConditions()
	return nil
}

// logConditions logs, once at start-up, one line for each condition an
// operator should know of: what the metadata and objects live on, and
// what cannot work as configured.
func (s *Server) logConditions() {
	if s.cfg.DatabaseURL != "" {
		s.log.Info("metadata store: PostgreSQL (several processes may share it)", "database", redactURL(s.cfg.DatabaseURL))
	} else {
		s.log.Info("metadata store: SQLite in the data dir (one process)")
	}
	if s.cfg.S3.External {
		s.log.Info("objects: an external S3 service", "endpoint", cmp.Or(s.cfg.S3.S3.Endpoint, "Amazon S3"),
			"bucket", s.cfg.S3.S3.Bucket, "bucket_prefix", s.cfg.S3.S3.BucketPrefix)
	} else {
		s.log.Info("objects: the embedded S3 store in the data dir")
	}
	switch exe := s.cfg.KdbExecutable; {
	case exe == "":
		s.log.Warn("no kdb+ executable configured: every kx cluster will end CREATE_FAILED; set OPENFINSPACE_KDB_EXECUTABLE or --kdb-executable to q")
	default:
		if _, err := exec.LookPath(exe); err != nil {
			s.log.Warn("the kdb+ executable cannot be run: kx clusters will end CREATE_FAILED", "kdb_executable", exe, "error", err)
		}
	}
}

// redactURL is a database URL without its password (or the text
// "(unparsable)").
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	if q := u.Query(); q.Has("password") {
		q.Set("password", "xxxxx")
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}

// Connection defaults (see Config). ReadHeaderTimeout was 30 s: SDKs and
// the CLI write a request's headers in one go, so 10 s is still ample on
// a slow link, and it is how long a client that stops in its headers holds
// a connection below the cap. IdleTimeout was unset: idle keep-alive
// connections stayed open for ever. The header cap (net/http's default is
// 1 MiB) bounds the memory a connection can make the server hold; SigV4
// requests use a few KiB.
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultIdleTimeout       = 60 * time.Second
	MaxHeaderBytes           = 64 << 10
)

// URL is the base URL clients use (the endpoint URL).
func (s *Server) URL() string { return s.cfg.PublicURL }

// Root returns the root credentials.
func (s *Server) Root() RootCredentials { return s.root }

// Store is the server's metadata store. The database admits one Store at
// a time, so code in the same process that needs it (tests, tools) uses
// this one.
func (s *Server) Store() store.Store { return s.db }

// Handler returns the server's HTTP handler (for in-process benchmarks).
func (s *Server) Handler() http.Handler { return s.handler }

// Shutdown stops accepting requests, waits for in-flight ones, stops the
// job engine and closes the store.
func (s *Server) Shutdown(ctx context.Context) error {
	var errs []error
	if s.http != nil {
		errs = append(errs, s.http.Shutdown(ctx))
	}
	s.jobs.Stop()
	for i := len(s.closers) - 1; i >= 0; i-- {
		errs = append(errs, s.closers[i](ctx))
	}
	errs = append(errs, s.db.Close())
	return errors.Join(errs...)
}

// PublicURL is resolved after Start; adapters read it lazily.
func (s *Server) PublicURL() string { return strings.TrimSuffix(s.cfg.PublicURL, "/") }

// environmentPage is where environmentUrl points: the real service showed
// the FinSpace web application there; openfinspace has no web application,
// so the page says how to reach the environment through the APIs.
func environmentPage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "openfinspace environment %s\nopenfinspace serves the FinSpace APIs only: use the AWS CLI, boto3 or an AWS SDK with this server as the endpoint URL.\n",
		strings.Map(func(r rune) rune {
			if r < 128 && (r == '-' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z') {
				return r
			}
			return -1
		}, r.PathValue("id")))
}

// ImplementedOperations reports, per signing name, which operations have an
// implementation (the rest answer NotImplementedException).
func ImplementedOperations() map[string]map[string]bool {
	fs := &finspace.Handlers{}
	apifinspace.Register(fs, &apifinspace.Adapter{})
	fd := &finspacedata.Handlers{}
	apifinspacedata.Register(fd, &apifinspacedata.Adapter{})
	out := map[string]map[string]bool{finspace.SigningName: {}, finspacedata.SigningName: {}}
	for _, op := range finspace.Operations {
		out[finspace.SigningName][op.Name] = fs.Lookup(op.Name) != nil
	}
	for _, op := range finspacedata.Operations {
		out[finspacedata.SigningName][op.Name] = fd.Lookup(op.Name) != nil
	}
	return out
}
