package main

import (
	"fmt"
	"strings"
)

// setting is one configuration value: a flag, an environment variable or
// both. This table is the one list of settings: the flags, `serve -h`, the
// top-level help and the README's configuration table are all made from
// it (TestSettingsDocumented compares them), so none can drift.
type setting struct {
	flag, env string
	// def is the built-in default as a flag holds it ("" for none).
	def string
	// usage says what the setting does, in one line.
	usage string
	// defDoc describes the default where def alone does not (the
	// README's default column and -h).
	defDoc string
	// secret values are never shown (errors name only where they came
	// from).
	secret bool
	// readBy names the package that reads the variable itself (the S3
	// settings: blob.ConfigFromEnv, s3gw.LimitsFromEnv); "" for this
	// command.
	readBy string
}

// Settings by command.
var (
	commonSettings = []setting{
		{flag: "addr", env: "OPENFINSPACE_ADDR", def: "127.0.0.1:8765", usage: "listen address"},
		{flag: "data-dir", env: "OPENFINSPACE_DATA_DIR", def: "./openfinspace-data",
			usage: "data directory (made absolute at start-up): SQLite metadata, keys, root credentials, objects, kx files"},
		{flag: "account-id", env: "OPENFINSPACE_ACCOUNT_ID", def: "000000000000", usage: "AWS account id used in ARNs"},
		{flag: "public-url", env: "OPENFINSPACE_PUBLIC_URL", usage: "URL clients use to reach the server (environmentUrl, credentials)",
			defDoc: "http://<addr>"},
		{flag: "log-level", env: "OPENFINSPACE_LOG_LEVEL", def: "info", usage: "debug, info, warn or error"},
		{env: "OPENFINSPACE_ACCESS_KEY_ID", usage: "root access key id (set both or neither)",
			defDoc: "generated on first start, stored in the data dir (0600)"},
		{env: "OPENFINSPACE_SECRET_ACCESS_KEY", secret: true, usage: "root secret access key",
			defDoc: "generated with the access key id"},
	}
	serveSettings = []setting{
		{flag: "log-format", env: "OPENFINSPACE_LOG_FORMAT", def: "text", usage: "text (logfmt) or json, one record per line on standard error"},
		{flag: "max-connections", env: "OPENFINSPACE_MAX_CONNECTIONS", def: "0",
			usage:  "cap on open client connections; above it clients get a 503",
			defDoc: "0: min(8192, file limit/2); -1: no cap"},
		{flag: "database-url", env: "OPENFINSPACE_DATABASE_URL", secret: true,
			usage:  "PostgreSQL URL (postgres://user:password@host:5432/db?sslmode=…, add search_path=<schema> for a schema of its own) for the metadata store; needs the server key and the root credentials set",
			defDoc: "empty: SQLite at <data dir>/metadata.db"},
		{flag: "server-key-file",
			usage:  "file holding the server key, the master key of page tokens, sealed secrets and idempotent responses: standard base64 of 32 random bytes (openfinspace keygen prints one)",
			defDoc: "$OPENFINSPACE_SERVER_KEY, else a key generated into <data dir>/keys/server.key (0600)"},
		{env: "OPENFINSPACE_SERVER_KEY", secret: true, usage: "the server key itself (standard base64 of 32 bytes)",
			defDoc: "see --server-key-file"},
		{flag: "kdb-executable", env: "OPENFINSPACE_KDB_EXECUTABLE",
			usage:  "the kdb+ executable (q, with its licence in QHOME/QLIC) that kx cluster nodes run: a path, or a name on PATH",
			defDoc: "empty: every kx cluster ends CREATE_FAILED saying none is configured"},
		{env: "OPENFINSPACE_LIFECYCLE_STEP", usage: "pause between asynchronous status steps", defDoc: "400ms"},
		{env: "OPENFINSPACE_JOB_LEASE", usage: "how long a job's claim lasts without renewal: how soon another process takes over the jobs of a process that died",
			defDoc: "30s"},
		{env: "OPENFINSPACE_INGEST_MEMORY", usage: "DuckDB memory_limit of each changeset conversion", defDoc: "512MB"},
		{env: "OPENFINSPACE_INGEST_THREADS", usage: "DuckDB threads of each changeset conversion", defDoc: "2"},
		{env: "OPENFINSPACE_INGEST_WORKERS", usage: "changesets converting at once in this process (the others wait PENDING)", defDoc: "4"},
		{env: "OPENFINSPACE_INGEST_PER_ENVIRONMENT", usage: "changesets converting at once per environment across processes (the real service's quota)",
			defDoc: "10"},
		{env: "OPENFINSPACE_DATAVIEWS_PER_DATASET", usage: "the most data views one dataset may have (the real service allowed 3); more answer LimitExceededException",
			defDoc: "unset: no limit"},
		{env: "OPENFINSPACE_INGEST_STAGING_BYTES", usage: "staging budget shared by every changeset conversion of this process: decompressed bz2 sources, compressed Parquet and copies from an external S3; a conversion that crosses it fails SERVICE_QUOTA_EXCEEDED",
			defDoc: "20GiB"},
		{env: "OPENFINSPACE_INGEST_MIN_FREE_BYTES", usage: "free space the staging disk (<data dir>/staging) keeps for everything else: staging that would leave less fails SERVICE_QUOTA_EXCEEDED",
			defDoc: "2GiB"},
		{env: "OPENFINSPACE_INGEST_MAX_LINE_BYTES", usage: "longest CSV record a changeset may hold; a longer one fails it USER_RECOVERABLE naming the file and line",
			defDoc: "2MiB"},
		{env: "OPENFINSPACE_S3_ENDPOINT", readBy: "blob", usage: "an external S3 service's URL (AWS S3, MinIO, Ceph): every object lives there and the main port's S3 endpoint serves its buckets",
			defDoc: "unset: objects live in <data dir>/objects behind the embedded S3 endpoint"},
		{env: "OPENFINSPACE_S3_BUCKET", readBy: "blob", usage: "one physical bucket of the external service holding every logical bucket as a prefix (needs OPENFINSPACE_S3_EMBEDDED=false)"},
		{env: "OPENFINSPACE_S3_BUCKET_PREFIX", readBy: "blob", usage: "or: a prefix prepended to every logical bucket name (needs OPENFINSPACE_S3_EMBEDDED=false)"},
		{env: "OPENFINSPACE_S3_ACCESS_KEY_ID", readBy: "blob", usage: "the external S3 service's access key id"},
		{env: "OPENFINSPACE_S3_SECRET_ACCESS_KEY", readBy: "blob", secret: true, usage: "the external S3 service's secret access key"},
		{env: "OPENFINSPACE_S3_SESSION_TOKEN", readBy: "blob", secret: true, usage: "the external S3 service's session token (optional)"},
		{env: "OPENFINSPACE_S3_REGION", readBy: "blob", usage: "the external S3 service's region", defDoc: "us-east-1"},
		{env: "OPENFINSPACE_S3_PATH_STYLE", readBy: "blob", usage: "path-style requests to the external service (true or false)",
			defDoc: "true with an endpoint, false without"},
		{env: "OPENFINSPACE_S3_EMBEDDED", readBy: "blob", usage: "serve the S3 endpoint on the main port (false only with an external S3)", defDoc: "true"},
		{env: "OPENFINSPACE_S3_MAX_REQUESTS", readBy: "s3gw", usage: "S3 requests forwarded at once (then 503 SlowDown)", defDoc: "4096"},
		{env: "OPENFINSPACE_S3_IDLE_TIMEOUT", readBy: "s3gw", usage: "time without progress before a stalled S3 client is dropped", defDoc: "20s"},
	}
	credentialsSettings = []setting{
		{flag: "region", env: "AWS_REGION", def: "us-east-1", usage: "region for the printed client setup"},
	}
)

// flagUsage is a flag's -h text: what it does, its variable and, where the
// flag's own default does not say it, the default described. It has no
// back quotes (the flag package would take the quoted word as the value's
// name).
func (st setting) flagUsage() string {
	u := st.usage
	if st.env != "" {
		u += " ($" + st.env + ")"
	}
	if st.def == "" && st.defDoc != "" {
		u += "; default " + st.defDoc
	} else if st.defDoc != "" {
		u += "; " + st.defDoc
	}
	return u
}

// defaultDoc is the README's default column.
func (st setting) defaultDoc() string {
	switch {
	case st.defDoc != "" && st.def != "":
		return "`" + st.def + "` (" + st.defDoc + ")"
	case st.defDoc != "":
		return st.defDoc
	case st.def != "":
		return "`" + st.def + "`"
	}
	return "unset"
}

// settingsMarkdown is the README's configuration table: every setting of
// serve (credentials' own --region is in the README's prose).
func settingsMarkdown() string {
	var b strings.Builder
	b.WriteString("| flag | environment | default | what it sets |\n| --- | --- | --- | --- |\n")
	for _, st := range append(append([]setting(nil), commonSettings...), serveSettings...) {
		fl, env := "", ""
		if st.flag != "" {
			fl = "`--" + st.flag + "`"
		}
		if st.env != "" {
			env = "`" + st.env + "`"
		}
		fmt.Fprintf(&b, "| %s | %s | %s | %s |\n", fl, env, md(st.defaultDoc()), md(st.usage))
	}
	return b.String()
}

func md(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

// environmentHelp lists every variable for the top-level help.
func environmentHelp() string {
	var b strings.Builder
	line := "  "
	for _, st := range append(append(append([]setting(nil), commonSettings...), serveSettings...), credentialsSettings...) {
		if st.env == "" {
			continue
		}
		if len(line)+len(st.env)+1 > 100 {
			b.WriteString(strings.TrimRight(line, " ") + "\n")
			line = "  "
		}
		line += st.env + " "
	}
	b.WriteString(strings.TrimRight(line, " ") + "\n")
	return b.String()
}

// serveFlags lists serve's flags for the top-level help.
func serveFlags() string {
	var names []string
	for _, st := range append(append([]setting(nil), commonSettings...), serveSettings...) {
		if st.flag != "" {
			names = append(names, "--"+st.flag)
		}
	}
	return strings.Join(names, ", ")
}
