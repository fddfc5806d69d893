// Package ingest converts changeset source files (CSV, JSON, Parquet, XML; none,
// gzip, zstd or bz2 compressed) into one Parquet file typed by a dataset
// schema, using DuckDB. It is the engine the datasets domain calls; it knows
// nothing about HTTP, S3 or the store: its inputs are local files, a format,
// a schema and an output path, and its output is a row count or a typed error
// (see [CategoryOf]) that maps onto the FinSpace errorCategory values.
//
// # Strictness
//
// Sources are read with the schema's explicit columns and auto_detect=false:
// the CSV sniffer once returned 31% of a file's rows without an error. Every
// value is cast to its column type; a value that cannot be cast fails the
// whole conversion with a [*ValidationError] naming the file, the line (as a
// user counts lines, header included), the column and the value. Nothing is
// dropped and nothing becomes NULL silently. The fast path is a single
// strict COPY; only when it fails do we scan again to find the first bad
// value (CSV through DuckDB's reject tables, which carry exact line numbers;
// JSON and Parquet by a TRY_CAST scan in file order).
//
// DuckDB's gzip reader does not check a stream's end: a truncated .gz
// source gave the rows before the cut and no error. Every gzip or zstd
// source DuckDB reads is therefore also decompressed in Go while the COPY
// runs; a stream that does not end cleanly fails the conversion. CSV line
// numbers come from the reject table's byte offset, because DuckDB's own
// "line" counts records (a quoted line break is not counted).
//
// Cast semantics are DuckDB's: "1.7" into INTEGER rounds to 2, a DOUBLE or
// FLOAT literal beyond the type's range becomes ±Inf, BINARY columns take
// the text's bytes with \xNN escapes. A JSON record that lacks a key gives
// NULL for that column (JSON has no other way to say NULL per record);
// Parquet columns are matched by name and a missing one is an error, while
// extra columns are ignored. CSV columns are positional: the header line is
// skipped, not matched against the schema; a row with too few or too many
// fields fails with its line.
//
// XML, which DuckDB cannot read, is parsed in Go (xmlfast.go: a window
// over the stream, one buffer per record) and loaded through DuckDB's
// appender as batches of packed records; a view unpacks them into text
// columns with each record's source and line, the same casts then write
// the Parquet file, and the diagnostic query over that view names the
// first bad value's line. The layout and its rules (attributes as columns,
// xsi:nil, empty elements) are in xml.go. The fast reader accepts a subset
// of what encoding/xml accepts and gives the same values; on anything
// else, and on every error, encoding/xml reads the source again and names
// the error as it always did (or, when it finds none, reads every source):
// the strictness is encoding/xml's. BenchmarkXMLvsCSV compares it with
// DuckDB's CSV reader and with encoding/xml.
//
// CSV records longer than Limits.MaxLineBytes fail the conversion
// (USER_RECOVERABLE, naming the file and line): DuckDB drops a line longer
// than its buffer without an error, so Go reads every CSV source alongside
// the COPY (with the compressed-stream check above) and interrupts it on
// such a line. A source with data that yields no row is an error, never
// an empty success. An XML record longer than the same limit fails too.
//
// # Bounds and sandbox
//
// Each Convert opens its own in-memory DuckDB with memory_limit, threads, a
// temp_directory (and max_temp_directory_size) for spilling under the
// caller's staging directory, autoinstall/autoload of extensions off (the
// json and parquet extensions are built into the static library), and
// enable_external_access=false with allowed_paths/allowed_directories naming
// only the sources, the staging directory and the temporary output, then
// lock_configuration=true. bz2 (which DuckDB cannot read) and compressed
// Parquet are decompressed in Go into the staging directory, counted as
// they are written against Limits.MaxStagedBytes, one budget shared by
// every conversion of the Engine (and by callers' copies, Engine.Reserve),
// and against the file system's free space, which keeps
// Limits.MinFreeBytes: a conversion that crosses either stops with
// SERVICE_QUOTA_EXCEEDED. Staging files are removed when Convert returns,
// on success and on failure. The failure path (diagnosis) streams: its
// memory does not grow with the source.
//
// The output is written under a temporary name in the output's directory,
// fsynced and renamed, so a crash never leaves a partial Parquet file under
// the final name (a stale temporary name may remain after a crash; callers
// own the directory and can sweep ".*.ingest-tmp" names on start).
//
// Cancelling ctx interrupts the running DuckDB query (duckdb-go calls
// duckdb_interrupt, re-sent every 500 ms until the call returns).
//
// # In process today, a worker process later
//
// DuckDB runs inside the caller's process. That means: a crash (segfault,
// abort) in DuckDB's C++ code takes the whole server down; memory_limit
// bounds DuckDB's buffer manager but not every allocation, so a pathological
// input can still grow the server's RSS; and cancellation is cooperative —
// an interrupt is honoured between DuckDB's internal steps, normally within
// milliseconds, but cannot be forced. The job engine's lease makes a crash
// recoverable (the changeset is retried or failed after restart), not
// harmless.
//
// The same API can run in a worker: the server would exec itself as
// "openfinspace ingest-worker" per job (or keep a small pool), pass the
// request (sources, format, schema, output, limits) as JSON on stdin and read
// the row count or the typed error as JSON on stdout. The worker runs under
// its own RLIMIT_AS / cgroup memory cap, so a blow-up kills only it; cancel
// is SIGTERM then SIGKILL after a grace period, a hard stop that cannot be
// ignored; a worker that dies is reported as INTERNAL_SERVICE_EXCEPTION (or
// SERVICE_QUOTA_EXCEEDED when killed by its memory cap) and the atomic
// rename means no output is half-visible. Convert is deliberately a pure
// function of its request so that move needs no change here.
package ingest
