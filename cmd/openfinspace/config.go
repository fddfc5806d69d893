package main

import (
	"cmp"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/openfinspace/openfinspace/internal/blob"
	"github.com/openfinspace/openfinspace/internal/s3gw"
	"github.com/openfinspace/openfinspace/internal/server"
)

// This file is the one place where flags and environment variables become
// configuration: parseConfig turns a command's arguments and environment
// into a server.Config (and the few settings of the commands themselves).
// A flag given on the command line beats its environment variable, which
// beats the default. Flags' defaults are the built-in ones, never values
// from the environment, so -h cannot print a secret.

// parseBytes reads a size in bytes: a count, or a number with a unit
// (kB, MB, GB, TB in powers of 1000; KiB, MiB, GiB, TiB in powers of 1024;
// case ignored).
func parseBytes(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return (r < '0' || r > '9') && r != '.' })
	num, unit := s, ""
	if i >= 0 {
		num, unit = s[:i], strings.ToLower(strings.TrimSpace(s[i:]))
	}
	units := map[string]float64{"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
		"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40}
	mul, ok := units[unit]
	f, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || f*mul >= 1<<62 {
		return 0, false
	}
	return int64(f * mul), true
}

// duckSize is a size DuckDB's memory_limit accepts.
var duckSize = regexp.MustCompile(`^(?i)[0-9]+(\.[0-9]+)?\s*(b|kb|mb|gb|tb|kib|mib|gib|tib)$`)

// options is what a command runs with.
type options struct {
	server.Config
	// Region is the region of the client setup `credentials` prints.
	Region string
	// AddrGiven is whether the listen address or the public URL was set
	// (by flag or variable) rather than defaulted.
	AddrGiven bool
}

// values resolves settings after the flags are parsed.
type values struct {
	fs     *flag.FlagSet
	getenv func(string) string
	given  map[string]bool // flags given on the command line
	byName map[string]setting
}

// get returns a setting's value and where it came from ("--flag", the
// variable's name, or "" for the default).
func (v *values) get(name string) (string, string) {
	st := v.byName[name]
	if st.flag != "" && v.given[st.flag] {
		return v.fs.Lookup(st.flag).Value.String(), "--" + st.flag
	}
	if st.env != "" {
		if s := v.getenv(st.env); s != "" {
			return s, st.env
		}
	}
	return st.def, ""
}

// invalid describes a bad value: the flag or variable it came from, the
// value unless it is secret, and what was wanted.
func (v *values) invalid(name, value, source, want string) error {
	st := v.byName[name]
	if source == "" {
		source = "the default"
	}
	if st.secret {
		return fmt.Errorf("bad %s: want %s", source, want)
	}
	if strings.HasPrefix(source, "--") {
		return fmt.Errorf("bad %s %q: want %s", source, value, want)
	}
	return fmt.Errorf("bad %s=%q: want %s", source, value, want)
}

// flagParseError is an error the flag package has printed already, with
// the usage.
type flagParseError struct{ err error }

func (e *flagParseError) Error() string { return e.err.Error() }
func (e *flagParseError) Unwrap() error { return e.err }

// parseConfig parses command cmd ("serve" or "credentials") with args and
// the environment getenv. Errors name the flag or variable at fault; -h
// returns flag.ErrHelp after printing the usage to stderr.
func parseConfig(cmd string, args []string, getenv func(string) string, stderr io.Writer) (*options, error) {
	settings := append([]setting(nil), commonSettings...)
	switch cmd {
	case "serve":
		settings = append(settings, serveSettings...)
	case "credentials":
		settings = append(settings, credentialsSettings...)
	}
	fs := flag.NewFlagSet(cmd, flag.ContinueOnError)
	fs.SetOutput(stderr)
	v := &values{fs: fs, getenv: getenv, given: map[string]bool{}, byName: map[string]setting{}}
	for _, st := range settings {
		name := st.flag
		if name == "" {
			name = st.env
		} else {
			fs.String(st.flag, st.def, st.flagUsage())
		}
		v.byName[name] = st
	}
	fs.Usage = func() {
		out := fs.Output()
		fmt.Fprintf(out, "Usage of %s:\n", cmd)
		fs.PrintDefaults()
		first := true
		for _, st := range settings {
			if st.flag != "" {
				continue
			}
			if first {
				fmt.Fprintf(out, "Environment only:\n")
				first = false
			}
			fmt.Fprintf(out, "  %s\n    \t%s (default %s)\n", st.env, st.usage, cmp.Or(st.defDoc, st.def, "unset"))
		}
	}
	if err := fs.Parse(args); err != nil {
		return nil, &flagParseError{err}
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("%s: unexpected argument %q", cmd, fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { v.given[f.Name] = true })

	o := &options{}
	c := &o.Config
	var addrSrc, urlSrc string
	c.Addr, addrSrc = v.get("addr")
	// Every path is made absolute here, once: the server and the work it
	// starts (DuckDB conversions, kdb+ nodes in their own directories) must
	// not depend on the working directory the command was started from.
	val, src := v.get("data-dir")
	if val == "" {
		return nil, v.invalid("data-dir", val, src, "a directory")
	}
	abs, err := filepath.Abs(val)
	if err != nil {
		return nil, v.invalid("data-dir", val, src, "a directory that can be made absolute ("+err.Error()+")")
	}
	c.DataDir = abs
	c.AccountID, _ = v.get("account-id")
	c.PublicURL, urlSrc = v.get("public-url")
	o.AddrGiven = addrSrc != "" || urlSrc != ""
	c.RootAccessKeyID, _ = v.get("OPENFINSPACE_ACCESS_KEY_ID")
	c.RootSecretAccessKey, _ = v.get("OPENFINSPACE_SECRET_ACCESS_KEY")
	if (c.RootAccessKeyID == "") != (c.RootSecretAccessKey == "") {
		return nil, errors.New("set both OPENFINSPACE_ACCESS_KEY_ID and OPENFINSPACE_SECRET_ACCESS_KEY, or neither")
	}
	if cmd == "credentials" {
		o.Region, _ = v.get("region")
		return o, nil
	}

	val, src = v.get("log-level")
	var level slog.Level
	if err := level.UnmarshalText([]byte(val)); err != nil {
		return nil, v.invalid("log-level", val, src, "debug, info, warn or error")
	}
	hopts := &slog.HandlerOptions{Level: level}
	switch val, src := v.get("log-format"); val {
	case "text", "":
		c.Logger = slog.New(slog.NewTextHandler(stderr, hopts))
	case "json":
		c.Logger = slog.New(slog.NewJSONHandler(stderr, hopts))
	default:
		return nil, v.invalid("log-format", val, src, "text or json")
	}
	if cmd != "serve" {
		return o, nil
	}

	val, src = v.get("max-connections")
	n, err := strconv.Atoi(val)
	if err != nil || n < -1 {
		return nil, v.invalid("max-connections", val, src, "a count, 0 for the default or -1 for no cap")
	}
	c.MaxConnections = n
	c.DatabaseURL, _ = v.get("database-url")
	if val, src := v.get("kdb-executable"); val != "" {
		// A bare name is looked up on PATH when a node starts; a relative
		// path is taken from here, since nodes run in their own
		// directories.
		if strings.ContainsRune(val, '/') {
			if val, err = filepath.Abs(val); err != nil {
				return nil, v.invalid("kdb-executable", val, src, "a path that can be made absolute")
			}
		}
		c.KdbExecutable = val
	}
	for _, d := range []struct {
		name string
		to   *time.Duration
	}{{"OPENFINSPACE_LIFECYCLE_STEP", &c.LifecycleStep}, {"OPENFINSPACE_JOB_LEASE", &c.JobLease}} {
		if val, src := v.get(d.name); val != "" {
			if *d.to, err = time.ParseDuration(val); err != nil || *d.to <= 0 {
				return nil, v.invalid(d.name, val, src, "a positive duration such as 400ms or 30s")
			}
		}
	}
	if val, src := v.get("OPENFINSPACE_INGEST_MEMORY"); val != "" {
		if !duckSize.MatchString(val) {
			return nil, v.invalid("OPENFINSPACE_INGEST_MEMORY", val, src, "a size such as 512MB or 2GiB")
		}
		c.Ingest.MemoryLimit = val
	}
	for _, n := range []struct {
		name string
		to   *int64
	}{{"OPENFINSPACE_INGEST_STAGING_BYTES", &c.Ingest.StagingBytes}, {"OPENFINSPACE_INGEST_MIN_FREE_BYTES", &c.Ingest.MinFreeBytes},
		{"OPENFINSPACE_INGEST_MAX_LINE_BYTES", &c.Ingest.MaxLineBytes}} {
		if val, src := v.get(n.name); val != "" {
			var ok bool
			if *n.to, ok = parseBytes(val); !ok || *n.to <= 0 {
				return nil, v.invalid(n.name, val, src, "a positive size such as 512MiB, 20GiB or 1048576")
			}
		}
	}
	for _, n := range []struct {
		name string
		to   *int
	}{{"OPENFINSPACE_INGEST_THREADS", &c.Ingest.Threads}, {"OPENFINSPACE_INGEST_WORKERS", &c.Ingest.Workers},
		{"OPENFINSPACE_INGEST_PER_ENVIRONMENT", &c.Ingest.PerEnvironment},
		{"OPENFINSPACE_DATAVIEWS_PER_DATASET", &c.Ingest.MaxViewsPerDataset}} {
		if val, src := v.get(n.name); val != "" {
			if *n.to, err = strconv.Atoi(val); err != nil || *n.to <= 0 {
				return nil, v.invalid(n.name, val, src, "a positive count")
			}
		}
	}
	if c.ServerKey, err = serverKey(v); err != nil {
		return nil, err
	}
	if c.S3, err = blob.ConfigFromEnv(getenv); err != nil {
		return nil, err
	}
	if c.S3Limits, err = s3gw.LimitsFromEnv(getenv); err != nil {
		return nil, err
	}
	return o, nil
}

// serverKey reads the server key from --server-key-file or
// OPENFINSPACE_SERVER_KEY (nil when neither is set).
func serverKey(v *values) ([]byte, error) {
	const want = "the standard base64 of 32 random bytes (`openfinspace keygen` prints one)"
	if path, src := v.get("server-key-file"); path != "" {
		b, err := os.ReadFile(path)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		key, err := decodeKey(string(b))
		if err != nil {
			return nil, fmt.Errorf("bad %s %s: want it to hold %s", src, path, want)
		}
		return key, nil
	}
	if val, src := v.get("OPENFINSPACE_SERVER_KEY"); val != "" {
		key, err := decodeKey(val)
		if err != nil {
			return nil, v.invalid("OPENFINSPACE_SERVER_KEY", val, src, want)
		}
		return key, nil
	}
	return nil, nil
}

func decodeKey(s string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(s))
	if err != nil {
		return nil, err
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("%d bytes, want 32", len(key))
	}
	return key, nil
}

// newServerKey returns a fresh server key as OPENFINSPACE_SERVER_KEY wants
// it.
func newServerKey() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}
