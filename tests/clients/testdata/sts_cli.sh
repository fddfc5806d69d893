#!/usr/bin/env bash
# STS AssumeRole / GetCallerIdentity through the AWS CLI against an
# openfinspace server.
#
# Environment:
#   OPENFINSPACE_ENDPOINT                       server URL (required)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY    root credentials (required)
#   AWS_CLI                                     CLI binary (default: aws)
#   PYTHON3                                     python for JSON parsing (default: python3)
#
# Works with AWS CLI v1 and v2. Prints PASS/FAIL lines and exits non-zero on
# the first failed call or if any check failed.
set -euo pipefail

: "${OPENFINSPACE_ENDPOINT:?OPENFINSPACE_ENDPOINT is required}"
: "${AWS_ACCESS_KEY_ID:?AWS_ACCESS_KEY_ID is required}"
: "${AWS_SECRET_ACCESS_KEY:?AWS_SECRET_ACCESS_KEY is required}"
unset AWS_SESSION_TOKEN

ACCOUNT=000000000000
ROLE_ARN="arn:aws:iam::$ACCOUNT:role/cli/Analyst"
ROOT_KEY="$AWS_ACCESS_KEY_ID"
ROOT_SECRET="$AWS_SECRET_ACCESS_KEY"

# shellcheck source=cli_lib.sh
source "$(dirname "$0")/cli_lib.sh"

echo "client: $("$AWS_CLI" --version 2>&1)"
echo "endpoint: $OPENFINSPACE_ENDPOINT"

# --- root identity -------------------------------------------------------------
ok "get-caller-identity (root)" sts get-caller-identity
expect "root Arn" "$(json 'd["Arn"]')" "arn:aws:iam::$ACCOUNT:root"
expect "root Account" "$(json 'd["Account"]')" "$ACCOUNT"
expect "root UserId" "$(json 'd["UserId"]')" "$ACCOUNT"

# --- assume-role -----------------------------------------------------------------
ok "assume-role" sts assume-role --role-arn "$ROLE_ARN" --role-session-name cli-session \
	--duration-seconds 900 --external-id cli-external-id
key="$(json 'd["Credentials"]["AccessKeyId"]')"
secret="$(json 'd["Credentials"]["SecretAccessKey"]')"
token="$(json 'd["Credentials"]["SessionToken"]')"
session_arn="$(json 'd["AssumedRoleUser"]["Arn"]')"
role_id="$(json 'd["AssumedRoleUser"]["AssumedRoleId"]')"
expiration="$(json 'd["Credentials"]["Expiration"]')"
if [[ "$key" =~ ^ASIA[A-Z2-7]{16}$ ]]; then pass "session access key id"; else fail "session access key id '$key'"; fi
if [[ -n "$secret" && -n "$token" ]]; then pass "session secret and token"; else fail "session secret or token empty"; fi
expect "assumed-role ARN" "$session_arn" "arn:aws:sts::$ACCOUNT:assumed-role/Analyst/cli-session"
if [[ "$role_id" =~ ^AROA[A-Z0-9]{17}:cli-session$ ]]; then pass "AssumedRoleId $role_id"; else fail "AssumedRoleId '$role_id'"; fi
if [[ "$expiration" =~ ^20[0-9]{2}-[0-9]{2}-[0-9]{2}T ]]; then pass "Expiration $expiration"; else fail "Expiration '$expiration'"; fi

# --- the session's credentials ---------------------------------------------------
as_session "$key" "$secret" "$token"
ok "get-caller-identity (session)" sts get-caller-identity
expect "session Arn" "$(json 'd["Arn"]')" "arn:aws:sts::$ACCOUNT:assumed-role/Analyst/cli-session"
expect "session UserId" "$(json 'd["UserId"]')" "$role_id"
ok "finspace list-environments (session)" finspace list-environments
expect "list-environments answers a list" "$(json 'type(d.get("environments", [])).__name__')" "list"

# Role chaining: the session assumes another role.
ok "assume-role (chained)" sts assume-role --role-arn "arn:aws:iam::$ACCOUNT:role/Deployer" \
	--role-session-name chained
expect "chained ARN" "$(json 'd["AssumedRoleUser"]["Arn"]')" "arn:aws:sts::$ACCOUNT:assumed-role/Deployer/chained"
expect_error "chained session over one hour" ValidationError \
	sts assume-role --role-arn "$ROLE_ARN" --role-session-name too-long --duration-seconds 7200

# A forged session token.
as_session "$key" "$secret" "forged-token"
expect_error "get-caller-identity with a forged token" InvalidClientTokenId sts get-caller-identity

# --- errors ------------------------------------------------------------------
as_root
expect_error "assume-role of another account's role" AccessDenied \
	sts assume-role --role-arn arn:aws:iam::123456789012:role/Elsewhere --role-session-name cli-session
expect_error "assume-role for 43201 seconds" ValidationError \
	sts assume-role --role-arn "$ROLE_ARN" --role-session-name cli-session --duration-seconds 43201
export AWS_SECRET_ACCESS_KEY="${ROOT_SECRET}x"
expect_error "get-caller-identity with a wrong secret" SignatureDoesNotMatch sts get-caller-identity
as_root

summary
