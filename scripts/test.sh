#!/usr/bin/env bash
# Runs every openfinspace test on a fresh machine. Installs what the tests
# need (Debian packages) when it is missing. CI runs this via .ci/run.
#
#   scripts/test.sh                         everything: gofmt, vet, generated
#                                           code, all packages, fuzz targets
#   scripts/test.sh ./tests/multiprocess    only these packages (go test
#                                           arguments), with the same
#                                           PostgreSQL and tools set up
set -euo pipefail
cd "$(dirname "$0")/.."

started=$(date +%s)
step() { printf '\n==> %s (at %ds)\n' "$*" "$(( $(date +%s) - started ))"; }
as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "$@"
}

step "tools"
command -v go >/dev/null || { echo "Go is required (https://go.dev/dl/)"; exit 1; }
# DuckDB (changeset ingestion) is linked in through cgo: a C and C++ toolchain.
if ! command -v gcc >/dev/null || ! command -v g++ >/dev/null; then
  echo "installing gcc and g++ (cgo, for DuckDB)"
  apt_install gcc g++ libc6-dev
fi
# The image's clients (pyenv python3 with boto3 1.43, AWS CLI 1.45) and
# Debian's older ones (python3-boto3 1.26 at /usr/bin/python3, awscli 2.9 at
# /usr/bin/aws), which users still run.
if ! /usr/bin/python3 -c 'import boto3' 2>/dev/null || [ ! -x /usr/bin/aws ]; then
  echo "installing Debian's python3-boto3 and awscli"
  apt_install python3 python3-boto3 awscli
fi
if ! python3 -c 'import boto3' 2>/dev/null; then
  echo "python3 has no boto3: the tests use Debian's"
fi
command -v aws >/dev/null || echo "no aws CLI on PATH: the tests use Debian's /usr/bin/aws"
go version
for py in python3 /usr/bin/python3; do
  "$py" -c 'import boto3, botocore, sys; print(sys.executable, "boto3", boto3.__version__, "botocore", botocore.__version__)' 2>/dev/null || true
done
for cli in aws /usr/bin/aws; do "$cli" --version 2>/dev/null || true; done

only_packages=$#

if [ "$only_packages" -eq 0 ]; then
step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './.cache/*'))
if [ -n "$unformatted" ]; then echo "gofmt would change:"; echo "$unformatted"; exit 1; fi

step "go vet"
go vet ./...

step "generated code is current"
scripts/check-generated.sh
fi

# CI must run the blob conformance suite against MinIO (built once, pinned,
# by internal/blob's test into $(go env GOPATH)/bin); locally it may skip.
if [ -n "${CI:-}" ]; then export OPENFINSPACE_REQUIRE_MINIO=1; fi

# The store's PostgreSQL tests run against OPENFINSPACE_TEST_POSTGRES; unless
# it is set, start a throwaway server (Debian's postgresql, installed when
# missing) on a free loopback port, and remove it when this script exits.
# Each test creates a schema of its own in it (internal/store/postgres/pgtest).
pg_dir=""
pg_bin=""
pg_as() { if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
stop_postgres() {
  if [ -n "$pg_dir" ]; then
    pg_as "$pg_bin/pg_ctl" -D "$pg_dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$pg_dir"
    pg_dir=""
  fi
}
find_pg_bin() {
  if command -v initdb >/dev/null; then dirname "$(readlink -f "$(command -v initdb)")"; return; fi
  ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1
}
if [ -z "${OPENFINSPACE_TEST_POSTGRES:-}" ]; then
  step "throwaway PostgreSQL"
  pg_bin=$(find_pg_bin)
  if [ -z "$pg_bin" ] || [ ! -x "$pg_bin/initdb" ]; then
    echo "installing Debian's postgresql"
    apt_install postgresql
    pg_bin=$(find_pg_bin)
  fi
  trap stop_postgres EXIT
  trap 'exit 130' INT TERM
  pg_dir=$(mktemp -d /tmp/openfinspace-pg.XXXXXX)
  if [ "$(id -u)" -eq 0 ]; then chown postgres: "$pg_dir"; fi
  pg_as "$pg_bin/initdb" -D "$pg_dir/data" -U postgres --auth=trust -E UTF8 --no-sync >"$pg_dir/initdb.log" 2>&1 ||
    { cat "$pg_dir/initdb.log"; exit 1; }
  pg_port=""
  for _ in 1 2 3; do # a free port may be taken before the server binds it
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    if pg_as "$pg_bin/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/log" -w -t 60 start \
        -o "-k $pg_dir -p $port -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300" >/dev/null; then
      pg_port=$port
      break
    fi
  done
  if [ -z "$pg_port" ]; then cat "$pg_dir/log"; echo "PostgreSQL did not start"; exit 1; fi
  psql=$pg_bin/psql; [ -x "$psql" ] || psql=psql
  "$psql" -h 127.0.0.1 -p "$pg_port" -U postgres -qc 'CREATE DATABASE openfinspace'
  export OPENFINSPACE_TEST_POSTGRES="postgres://postgres@127.0.0.1:$pg_port/openfinspace?sslmode=disable"
  echo "PostgreSQL $("$pg_bin/postgres" --version | awk '{print $3}') at 127.0.0.1:$pg_port ($pg_dir)"
fi

# One MinIO for every package that needs an external S3 service (the blob
# conformance suite, the server fronting S3, tests/multiprocess), unless
# OPENFINSPACE_TEST_MINIO_URL names one. The binary is $OPENFINSPACE_MINIO,
# minio on PATH or $(go env GOPATH)/bin/minio, built there once (pinned, the
# version internal/blob/blobtest names) when missing.
minio_dir=""
minio_pid=""
stop_minio() {
  if [ -n "$minio_pid" ]; then kill "$minio_pid" 2>/dev/null || true; wait "$minio_pid" 2>/dev/null || true; minio_pid=""; fi
  if [ -n "$minio_dir" ]; then rm -rf "$minio_dir"; minio_dir=""; fi
}
trap 'stop_minio; stop_postgres' EXIT
if [ -z "${OPENFINSPACE_TEST_MINIO_URL:-}" ]; then
  step "MinIO"
  minio_bin=${OPENFINSPACE_MINIO:-$(command -v minio || true)}
  if [ -z "$minio_bin" ]; then
    minio_bin="$(go env GOPATH | cut -d: -f1)/bin/minio"
    if [ ! -x "$minio_bin" ]; then
      minio_version=$(sed -n 's/^const minioVersion = "\(.*\)"$/\1/p' internal/blob/blobtest/minio.go)
      echo "building MinIO $minio_version into $(dirname "$minio_bin") (once; a few minutes)"
      (cd /tmp && GOBIN=$(dirname "$minio_bin") CGO_ENABLED=0 GOFLAGS=-buildvcs=false go install "github.com/minio/minio@$minio_version")
    fi
  fi
  minio_dir=$(mktemp -d /tmp/openfinspace-minio.XXXXXX)
  minio_password=$(python3 -c 'import secrets; print(secrets.token_hex(12))')
  minio_ready() { python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=2)' "http://127.0.0.1:$minio_port/minio/health/ready" 2>/dev/null; }
  free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
  for _ in 1 2 3; do # a free port may be taken before MinIO binds it
    minio_port=$(free_port)
    MINIO_ROOT_USER=openfinspace MINIO_ROOT_PASSWORD=$minio_password MINIO_BROWSER=off MINIO_UPDATE=off MINIO_CI_CD=1 \
      "$minio_bin" server "$minio_dir/data" --address "127.0.0.1:$minio_port" --console-address "127.0.0.1:$(free_port)" --quiet \
      >"$minio_dir/log" 2>&1 &
    minio_pid=$!
    for _ in $(seq 1 600); do
      if minio_ready; then break; fi
      kill -0 "$minio_pid" 2>/dev/null || break
      sleep 0.1
    done
    if minio_ready; then break; fi
    kill "$minio_pid" 2>/dev/null || true; wait "$minio_pid" 2>/dev/null || true; minio_pid=""
  done
  if [ -z "$minio_pid" ]; then cat "$minio_dir/log"; echo "MinIO did not start"; exit 1; fi
  export OPENFINSPACE_TEST_MINIO_URL="http://127.0.0.1:$minio_port"
  export OPENFINSPACE_TEST_MINIO_USER=openfinspace OPENFINSPACE_TEST_MINIO_PASSWORD=$minio_password
  echo "MinIO $("$minio_bin" --version 2>/dev/null | head -1 | awk '{print $3}') at $OPENFINSPACE_TEST_MINIO_URL ($minio_dir)"
fi

# The server binary, built once for every package that runs it as a process
# (internal/serverbin: tests/clients, tests/readme, tests/multiprocess, bench).
step "server binary"
bin_dir=$(mktemp -d /tmp/openfinspace-bin.XXXXXX)
trap 'stop_minio; stop_postgres; rm -rf "$bin_dir"' EXIT
go build -o "$bin_dir/openfinspace" ./cmd/openfinspace
export OPENFINSPACE_TEST_BINARY=$bin_dir/openfinspace
echo "$OPENFINSPACE_TEST_BINARY"

if [ "$only_packages" -ne 0 ]; then
  step "go test -race $*"
  go test -race -shuffle=on -count=1 -timeout 20m "$@"
  exit 0
fi

# Three packages at a time on two cores: many tests wait on client
# processes, servers' lifecycle steps and Terraform, and two left a core
# idle (18.5 min of user CPU in a 16.5 min run).
step "go test -race -shuffle=on -p 3 ./..."
go test -race -shuffle=on -count=1 -timeout 20m -p 3 ./...

step "fuzz targets, briefly"
# Two at a time, one fuzzing worker each (the 2-core machine): most of a
# target's time is building its instrumented test binary.
export OPENFINSPACE_FUZZ_TIME=${OPENFINSPACE_FUZZ_TIME:-10s}
fuzz_dir=$(mktemp -d /tmp/openfinspace-fuzz.XXXXXX)
fuzz_one() {
  local pkg=$1 name=$2 log
  log="$FUZZ_DIR/$(echo "$pkg.$name" | tr '/.' '__').log"
  if go test -run '^$' -fuzz "^${name}\$" -fuzztime "$OPENFINSPACE_FUZZ_TIME" -parallel 1 "$pkg" >"$log" 2>&1; then
    echo "--- $name ($pkg, $OPENFINSPACE_FUZZ_TIME): $(tail -1 "$log")"
  else
    echo "--- $name ($pkg) FAILED:"; cat "$log"; return 1
  fi
}
export -f fuzz_one
export FUZZ_DIR=$fuzz_dir
grep -rn --include='*_test.go' '^func Fuzz' . | sort | while IFS= read -r line; do
  file=${line%%:*}; name=${line#*func }; name=${name%%(*}
  echo "./$(dirname "$file") $name"
done | xargs -P 2 -L 1 bash -c 'fuzz_one "$@"' _
rm -rf "$fuzz_dir"

echo
echo "all tests passed in $(( $(date +%s) - started ))s"
