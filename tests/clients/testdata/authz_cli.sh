#!/usr/bin/env bash
# Who may call what, through the AWS CLI: a FinSpace user's programmatic
# credentials reach FinSpace Data and their environment's working bucket,
# never the finspace control plane, and deleting the environment cuts them
# off on S3 at once, while root keeps the bucket's objects.
#
# Environment:
#   OPENFINSPACE_ENDPOINT                       server URL (required)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY    root credentials (required)
#   OPENFINSPACE_ENVIRONMENT_ID                 a CREATED environment (required)
#   AWS_CLI                                     CLI binary (default: aws)
#   PYTHON3                                     python for JSON parsing (default: python3)
#   OPENFINSPACE_CLI_HAS_KX                     1 when the CLI has the kx commands
set -euo pipefail

: "${OPENFINSPACE_ENDPOINT:?OPENFINSPACE_ENDPOINT is required}"
: "${AWS_ACCESS_KEY_ID:?AWS_ACCESS_KEY_ID is required}"
: "${AWS_SECRET_ACCESS_KEY:?AWS_SECRET_ACCESS_KEY is required}"
: "${OPENFINSPACE_ENVIRONMENT_ID:?OPENFINSPACE_ENVIRONMENT_ID is required}"
AWS_CLI="${AWS_CLI:-aws}"
PYTHON3="${PYTHON3:-python3}"
ENV="$OPENFINSPACE_ENVIRONMENT_ID"
export AWS_PAGER=""            # CLI v2: never start a pager
export AWS_MAX_ATTEMPTS=1      # one attempt per call; retries would hide errors
export AWS_RETRY_MODE=standard
unset AWS_SESSION_TOKEN

ACCOUNT=000000000000
ROLE_ARN="arn:aws:iam::$ACCOUNT:role/cli/Analyst"
ROOT_KEY="$AWS_ACCESS_KEY_ID"
ROOT_SECRET="$AWS_SECRET_ACCESS_KEY"

# shellcheck source=cli_lib.sh
source "$(dirname "$0")/cli_lib.sh"

echo "client: $("$AWS_CLI" --version 2>&1)"

# --- the superuser's programmatic credentials --------------------------------
as_root
ok "get-programmatic-access-credentials (root)" finspace-data get-programmatic-access-credentials \
	--environment-id "$ENV" --duration-in-minutes 60
ukey="$(json 'd["credentials"]["accessKeyId"]')"
usecret="$(json 'd["credentials"]["secretAccessKey"]')"
utoken="$(json 'd["credentials"]["sessionToken"]')"
ok "create-environment B (root)" finspace create-environment --name other
other="$(json 'd["environmentId"]')"

# --- FinSpace user credentials: no control plane -------------------------------
as_session "$ukey" "$usecret" "$utoken"
expect_error "list-environments (user)" AccessDeniedException finspace list-environments
expect_error "delete-environment B (user)" AccessDeniedException finspace delete-environment --environment-id "$other"
expect_error "create-environment (user)" AccessDeniedException finspace create-environment --name intruder
expect_error "tag-resource B (user)" AccessDeniedException finspace tag-resource \
	--resource-arn "arn:aws:finspace:us-east-1:$ACCOUNT:environment/$other" --tags owned=yes
if [[ "${OPENFINSPACE_CLI_HAS_KX:-}" == 1 ]]; then # AWS CLI 2.9 has no kx commands
	expect_error "list-kx-environments (user)" AccessDeniedException finspace list-kx-environments
fi
expect_error "sts assume-role (user)" AccessDenied sts assume-role --role-arn "arn:aws:iam::$ACCOUNT:role/x" --role-session-name x1

# ... but FinSpace Data and the working bucket.
ok "get-working-location (user)" finspace-data get-working-location
bucket="$(json 'd["s3Bucket"]')"
echo "hello" >"$WORK/hello.txt"
ok "s3 cp to the working bucket (user)" s3 cp "$WORK/hello.txt" "s3://$bucket/ingestion/hello.txt"
ok "s3api get-object (user)" s3api get-object --bucket "$bucket" --key ingestion/hello.txt "$WORK/got.txt"
expect "object read back" "$(cat "$WORK/got.txt")" "hello"
expect_error "s3 ls all buckets (user)" AccessDenied s3api list-buckets

# --- the environment deleted: cut off at once ----------------------------------
as_root
ok "delete-environment (root)" finspace delete-environment --environment-id "$ENV"
for _ in $(seq 1 100); do
	cli finspace get-environment --environment-id "$ENV"
	[[ "$(json 'd["environment"]["status"]')" == DELETED ]] && break
	sleep 0.1
done
expect "environment status" "$(json 'd["environment"]["status"]')" DELETED
as_session "$ukey" "$usecret" "$utoken"
expect_error "s3api get-object after deletion (user)" AccessDenied s3api get-object --bucket "$bucket" --key ingestion/hello.txt "$WORK/late.txt"
expect_error "s3api put-object after deletion (user)" AccessDenied s3api put-object --bucket "$bucket" --key late.txt --body "$WORK/hello.txt"
expect_error "get-working-location after deletion (user)" AccessDeniedException finspace-data get-working-location
as_root
ok "s3api get-object after deletion (root keeps the data)" s3api get-object --bucket "$bucket" --key ingestion/hello.txt "$WORK/kept.txt"
expect "kept object" "$(cat "$WORK/kept.txt")" "hello"

summary
