// Command openfinspace serves the Amazon FinSpace APIs.
//
//	openfinspace serve [--addr 127.0.0.1:8765] [--data-dir ./openfinspace-data]
//	openfinspace credentials [--data-dir ...] [--addr ...]
//	openfinspace keygen
//	openfinspace version
//
// Flags and environment variables are parsed in one place (config.go) into
// one server.Config.
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
	"syscall"
	"time"

	"github.com/openfinspace/openfinspace/internal/server"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

// usage is the top-level help, made from the settings table.
func usage() string {
	return `usage: openfinspace <command> [flags]

commands:
  serve        start the server (flags: ` + serveFlags() + `; serve -h describes them)
  credentials  print the root credentials and a ready-to-paste client setup for the server of a data dir
  keygen       print a fresh server key (for OPENFINSPACE_SERVER_KEY or --server-key-file)
  version      print the version

A flag beats its environment variable, which beats the default. Environment (the README's
configuration table describes each):
` + environmentHelp()
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	return runEnv(args, os.Getenv, stdout, stderr)
}

// runEnv runs a command with the environment getenv.
func runEnv(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return 2
	}
	switch args[0] {
	case "serve":
		return serve(args[1:], getenv, stderr)
	case "credentials":
		return printCredentials(args[1:], getenv, stdout, stderr)
	case "keygen":
		key, err := newServerKey()
		if err != nil {
			fmt.Fprintln(stderr, "openfinspace:", err)
			return 1
		}
		fmt.Fprintln(stdout, key)
		return 0
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "openfinspace", versionString())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage())
		return 0
	}
	fmt.Fprintf(stderr, "openfinspace: unknown command %q\n\n%s", args[0], usage())
	return 2
}

// configError reports a parse error and returns the exit code: 0 after
// -h, 2 otherwise.
func configError(err error, stderr io.Writer) int {
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if !isFlagError(err) {
		fmt.Fprintln(stderr, "openfinspace:", err)
	}
	return 2
}

// isFlagError reports an error the flag package printed itself.
func isFlagError(err error) bool {
	var pe *flagParseError
	return errors.As(err, &pe)
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

func serve(args []string, getenv func(string) string, stderr io.Writer) int {
	o, err := parseConfig("serve", args, getenv, stderr)
	if err != nil {
		return configError(err, stderr)
	}
	cfg := o.Config
	log := cfg.Logger
	useLogger(log)
	if err := prepareDataDir(cfg.DataDir, log); err != nil {
		log.Error("starting openfinspace", "error", err)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv, err := server.New(ctx, cfg)
	if err != nil {
		log.Error("starting openfinspace", "error", err)
		return 1
	}
	if err := srv.Start(ctx); err != nil {
		log.Error("starting openfinspace", "error", err)
		_ = srv.Shutdown(context.Background())
		return 1
	}
	if err := writeServing(cfg.DataDir, srv.URL()); err != nil {
		log.Warn("could not record the server's address in the data dir; `openfinspace credentials` will print the configured one", "error", err)
	}
	defer removeServing(cfg.DataDir)
	// The line a user (and the tests) look for: the address, in the
	// message itself so that both log formats show it.
	log.Info(fmt.Sprintf("openfinspace %s serving at %s (run openfinspace credentials for client setup)", versionString(), srv.URL()),
		"data_dir", cfg.DataDir, "access_key_id", srv.Root().AccessKeyID)
	<-ctx.Done()
	log.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.Canceled) {
		log.Error("shutdown", "error", err)
		return 1
	}
	log.Info("openfinspace stopped")
	return 0
}

func printCredentials(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	o, err := parseConfig("credentials", args, getenv, stderr)
	if err != nil {
		return configError(err, stderr)
	}
	akid, secret := o.RootAccessKeyID, o.RootSecretAccessKey
	if akid == "" {
		if err := prepareDataDir(o.DataDir, slog.New(slog.NewTextHandler(stderr, nil))); err != nil {
			fmt.Fprintln(stderr, "openfinspace:", err)
			return 1
		}
		rc, err := server.LoadOrCreateRootCredentials(o.DataDir)
		if err != nil {
			fmt.Fprintln(stderr, "openfinspace:", err)
			return 1
		}
		akid, secret = rc.AccessKeyID, rc.SecretAccessKey
	}
	// Which server this describes: the address given (flag or variable),
	// else the server running on this data dir, else the one `serve` would
	// start with these settings.
	url := o.PublicURL
	if url == "" {
		url = "http://" + o.Addr
	}
	which := "the server configured at " + url + " (flags or environment)"
	if !o.AddrGiven {
		if s, ok := runningServer(o.DataDir); ok {
			url = s.URL
			which = fmt.Sprintf("the server running at %s (pid %d, since %s)", url, s.PID, s.Started.Format(time.RFC3339))
		} else {
			which = "the server `openfinspace serve` starts at " + url + " with these settings (none is running on this data dir now)"
		}
	}
	region, dataDir := o.Region, o.DataDir
	fmt.Fprintf(stdout, `# openfinspace root credentials for %s
# data dir %s
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
`, which, dataDir, akid, secret, region, region, url, akid, secret, region, url)
	return 0
}

// useLogger makes log the one logger of the process: what still logs
// through the standard library's log package, or slog's default, lands in
// it too, in the same format.
func useLogger(log *slog.Logger) { slog.SetDefault(log) }
