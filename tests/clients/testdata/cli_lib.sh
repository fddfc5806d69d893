# Shared helpers of the AWS CLI flow scripts (source it after set -euo
# pipefail, with OPENFINSPACE_ENDPOINT set): a work dir, PASS/FAIL
# accounting, and call/check wrappers that work with AWS CLI v1 and v2.
AWS_CLI="${AWS_CLI:-aws}"
PYTHON3="${PYTHON3:-python3}"
export AWS_PAGER=""            # CLI v2: never start a pager
export AWS_MAX_ATTEMPTS=1      # one attempt per call; retries would hide errors
export AWS_RETRY_MODE=standard

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
failures=0

pass() { echo "PASS: $*"; }
fail() {
	echo "FAIL: $*"
	failures=$((failures + 1))
}

# cli SERVICE ARGS...: runs the CLI; stdout to $WORK/out, stderr to $WORK/err.
# Returns the CLI's exit status (callers decide what it means).
cli() {
	local svc="$1"
	shift
	"$AWS_CLI" --endpoint-url "$OPENFINSPACE_ENDPOINT" --region us-east-1 --output json \
		"$svc" "$@" >"$WORK/out" 2>"$WORK/err"
}

# ok DESCRIPTION SERVICE ARGS...: the call must succeed.
ok() {
	local what="$1"
	shift
	local rc=0
	cli "$@" || rc=$?
	if [[ $rc -eq 0 ]]; then
		return 0
	fi
	fail "$what: exit $rc"
	sed 's/^/    stderr: /' "$WORK/err"
	exit 1
}

# json EXPR: evaluates a python expression on the last call's JSON output
# (bound to d) and prints the result.
json() {
	"$PYTHON3" -c 'import json, sys
d = json.load(open(sys.argv[1]))
v = eval(sys.argv[2])
print(v if isinstance(v, str) else json.dumps(v, sort_keys=True))' "$WORK/out" "$1"
}

# expect DESCRIPTION GOT WANT
expect() {
	if [[ "$2" == "$3" ]]; then
		pass "$1"
	else
		fail "$1: got '$2', want '$3'"
	fi
}

# expect_error DESCRIPTION CODE SERVICE ARGS...: the call must exit non-zero
# and stderr must carry the service's error code, as both CLI versions print
# it: "An error occurred (CODE) when calling the ... operation: message".
expect_error() {
	local what="$1" code="$2"
	shift 2
	local rc=0
	cli "$@" || rc=$?
	if [[ $rc -eq 0 ]]; then
		fail "$what: exit 0, want an error ($code)"
	elif grep -qF "An error occurred ($code)" "$WORK/err"; then
		pass "$what: exit $rc, $code"
	else
		fail "$what: exit $rc, stderr does not name $code"
		sed 's/^/    stderr: /' "$WORK/err"
	fi
}

# as_root / as_session KEY SECRET TOKEN: which credentials the next calls
# use (as_root needs ROOT_KEY and ROOT_SECRET).
as_root() {
	export AWS_ACCESS_KEY_ID="$ROOT_KEY" AWS_SECRET_ACCESS_KEY="$ROOT_SECRET"
	unset AWS_SESSION_TOKEN
}
as_session() {
	export AWS_ACCESS_KEY_ID="$1" AWS_SECRET_ACCESS_KEY="$2" AWS_SESSION_TOKEN="$3"
}

# summary: the last line of every flow script.
summary() {
	if ((failures > 0)); then
		echo "SUMMARY: $failures check(s) failed -> FAIL"
		exit 1
	fi
	echo "SUMMARY: all checks passed -> PASS"
}
