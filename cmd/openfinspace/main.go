// Command openfinspace serves the Amazon FinSpace APIs.
//
//	openfinspace serve [--addr 127.0.0.1:8765] [--data-dir ./openfinspace-data]
//	openfinspace credentials [--data-dir ...] [--addr ...]
//	openfinspace version
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"strconv"
	"syscall"
	"time"

	"github.com/openfinspace/openfinspace/internal/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `usage: openfinspace <command> [flags]

commands:
  serve        start the server (flags: --addr, --data-dir, --account-id, --log-level, --max-connections,
               --database-url)
  credentials  print the root credentials and a ready-to-paste client setup
  version      print the version

environment: OPENFINSPACE_ADDR, OPENFINSPACE_DATA_DIR, OPENFINSPACE_ACCOUNT_ID,
OPENFINSPACE_ACCESS_KEY_ID, OPENFINSPACE_SECRET_ACCESS_KEY, OPENFINSPACE_PUBLIC_URL,
OPENFINSPACE_LOG_LEVEL, OPENFINSPACE_LIFECYCLE_STEP (pause between status steps, default 400ms),
OPENFINSPACE_MAX_CONNECTIONS (open client connections; default min(8192, file limit/2), -1: no cap),
OPENFINSPACE_DATABASE_URL (postgres://… for a PostgreSQL metadata store; default SQLite in the data dir)
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], stderr)
	case "credentials":
		return printCredentials(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "openfinspace", versionString())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "openfinspace: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func versionString() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				return "dev-" + s.Value[:12]
			}
		}
	}
	return version
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

type common struct {
	addr, dataDir, accountID, publicURL, logLevel string
}

func commonFlags(fs *flag.FlagSet) *common {
	c := &common{}
	fs.StringVar(&c.addr, "addr", env("OPENFINSPACE_ADDR", "127.0.0.1:8765"), "listen address")
	fs.StringVar(&c.dataDir, "data-dir", env("OPENFINSPACE_DATA_DIR", "./openfinspace-data"), "data directory")
	fs.StringVar(&c.accountID, "account-id", env("OPENFINSPACE_ACCOUNT_ID", "000000000000"), "AWS account id used in ARNs")
	fs.StringVar(&c.publicURL, "public-url", env("OPENFINSPACE_PUBLIC_URL", ""), "URL clients use to reach the server (default http://<addr>)")
	fs.StringVar(&c.logLevel, "log-level", env("OPENFINSPACE_LOG_LEVEL", "info"), "debug, info, warn or error")
	return c
}

func serve(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := commonFlags(fs)
	maxConns := fs.String("max-connections", env("OPENFINSPACE_MAX_CONNECTIONS", "0"),
		"cap on open client connections; above it clients get a 503 (0: min(8192, file limit/2); -1: no cap)")
	// The environment is read after parsing, not as the flag's default, so
	// that -h never prints a password the URL may hold.
	databaseURL := fs.String("database-url", "",
		"PostgreSQL URL (postgres://user:password@host:5432/db?sslmode=…) for the metadata store (default $OPENFINSPACE_DATABASE_URL; empty: SQLite in the data dir)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *databaseURL == "" {
		*databaseURL = os.Getenv("OPENFINSPACE_DATABASE_URL")
	}
	maxConnections, err := strconv.Atoi(*maxConns)
	if err != nil || maxConnections < -1 {
		fmt.Fprintf(stderr, "openfinspace: bad --max-connections / OPENFINSPACE_MAX_CONNECTIONS %q (want a count, 0 for the default or -1 for no cap)\n", *maxConns)
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		fmt.Fprintf(stderr, "openfinspace: bad --log-level %q\n", c.logLevel)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	var step time.Duration
	if v := os.Getenv("OPENFINSPACE_LIFECYCLE_STEP"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			fmt.Fprintf(stderr, "openfinspace: bad OPENFINSPACE_LIFECYCLE_STEP %q\n", v)
			return 2
		}
		step = d
	}

	if err := prepareDataDir(c.dataDir, log); err != nil {
		log.Error("starting openfinspace", "error", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.New(ctx, server.Config{
		Addr: c.addr, DataDir: c.dataDir, DatabaseURL: *databaseURL, AccountID: c.accountID, PublicURL: c.publicURL, LifecycleStep: step,
		MaxConnections:      maxConnections,
		RootAccessKeyID:     os.Getenv("OPENFINSPACE_ACCESS_KEY_ID"),
		RootSecretAccessKey: os.Getenv("OPENFINSPACE_SECRET_ACCESS_KEY"),
		Logger:              log,
	})
	if err != nil {
		log.Error("starting openfinspace", "error", err)
		return 1
	}
	if err := srv.Start(ctx); err != nil {
		log.Error("starting openfinspace", "error", err)
		_ = srv.Shutdown(context.Background())
		return 1
	}
	fmt.Fprintf(stderr, "openfinspace %s serving at %s (data dir %s, access key %s); run `openfinspace credentials` for client setup\n",
		versionString(), srv.URL(), c.dataDir, srv.Root().AccessKeyID)
	<-ctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("shutdown", "error", err)
		return 1
	}
	return 0
}

func printCredentials(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("credentials", flag.ContinueOnError)
	fs.SetOutput(stderr)
	c := commonFlags(fs)
	region := fs.String("region", env("AWS_REGION", "us-east-1"), "region for the printed client setup")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	akid, secret := os.Getenv("OPENFINSPACE_ACCESS_KEY_ID"), os.Getenv("OPENFINSPACE_SECRET_ACCESS_KEY")
	if akid == "" || secret == "" {
		if err := prepareDataDir(c.dataDir, slog.New(slog.NewTextHandler(stderr, nil))); err != nil {
			fmt.Fprintln(stderr, "openfinspace:", err)
			return 1
		}
		rc, err := server.LoadOrCreateRootCredentials(c.dataDir)
		if err != nil {
			fmt.Fprintln(stderr, "openfinspace:", err)
			return 1
		}
		akid, secret = rc.AccessKeyID, rc.SecretAccessKey
	}
	url := c.publicURL
	if url == "" {
		url = "http://" + c.addr
	}
	fmt.Fprintf(stdout, `# openfinspace root credentials (data dir %s)
export AWS_ACCESS_KEY_ID=%s
export AWS_SECRET_ACCESS_KEY=%s
export AWS_REGION=%s
export AWS_DEFAULT_REGION=%s
export AWS_ENDPOINT_URL=%s

# or, as an AWS CLI profile:
#   aws configure set aws_access_key_id %s --profile openfinspace
#   aws configure set aws_secret_access_key %s --profile openfinspace
#   aws configure set region %s --profile openfinspace
#   aws --profile openfinspace --endpoint-url %s finspace list-environments
`, c.dataDir, akid, secret, *region, *region, url, akid, secret, *region, url)
	return 0
}
