#!/usr/bin/env bash
# FinSpace environment flow through the AWS CLI against an openfinspace server.
#
# Environment:
#   OPENFINSPACE_ENDPOINT                       server URL (required)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY    root credentials (required)
#   AWS_CLI                                     CLI binary (default: aws)
#   PYTHON3                                     python for JSON parsing (default: python3)
#
# Works with AWS CLI v1 and v2. Prints PASS/FAIL lines and exits non-zero on
# the first failure (set -e) or if any check failed.
set -euo pipefail

: "${OPENFINSPACE_ENDPOINT:?OPENFINSPACE_ENDPOINT is required}"
: "${AWS_ACCESS_KEY_ID:?AWS_ACCESS_KEY_ID is required}"
: "${AWS_SECRET_ACCESS_KEY:?AWS_SECRET_ACCESS_KEY is required}"
# shellcheck source=cli_lib.sh
source "$(dirname "$0")/cli_lib.sh"

# wait_status ID STATUS: polls get-environment for up to 15 s.
wait_status() {
	local id="$1" want="$2" status="" deadline=$((SECONDS + 15))
	while ((SECONDS <= deadline)); do
		ok "get-environment $id" finspace get-environment --environment-id "$id"
		status="$(json 'd["environment"]["status"]')"
		if [[ "$status" == "$want" ]]; then
			pass "environment $id reached $want"
			return 0
		fi
		sleep 0.2
	done
	fail "environment $id stuck in $status, want $want"
	exit 1
}

echo "client: $("$AWS_CLI" --version 2>&1)"
echo "endpoint: $OPENFINSPACE_ENDPOINT"

# --- create ------------------------------------------------------------------
ok "create-environment" finspace create-environment \
	--name cli-env --description "Created by the CLI" \
	--tags team=quant,cost-center=42 \
	--superuser-parameters emailAddress=admin@example.com,firstName=Ada,lastName=Admin
id="$(json 'd["environmentId"]')"
arn="$(json 'd["environmentArn"]')"
url="$(json 'd["environmentUrl"]')"
if [[ "$id" =~ ^[a-z0-9]{22}$ ]]; then pass "environment id $id"; else fail "environment id '$id'"; fi
expect "environment ARN" "$arn" "arn:aws:finspace:us-east-1:000000000000:environment/$id"
if [[ "$url" == "${OPENFINSPACE_ENDPOINT%/}/"* ]]; then pass "environmentUrl $url"; else fail "environmentUrl '$url' not under $OPENFINSPACE_ENDPOINT"; fi

wait_status "$id" CREATED
expect "name after create" "$(json 'd["environment"]["name"]')" "cli-env"
expect "federationMode" "$(json 'd["environment"]["federationMode"]')" "LOCAL"

# --- list --------------------------------------------------------------------
ok "list-environments" finspace list-environments
expect "list-environments contains the environment" \
	"$(json "[e['environmentId'] for e in d['environments']].count('$id')")" "1"
ok "list-environments --max-results 1" finspace list-environments --max-results 1
expect "one environment per page" "$(json 'len(d["environments"])')" "1"

# --- tags --------------------------------------------------------------------
ok "list-tags-for-resource" finspace list-tags-for-resource --resource-arn "$arn"
expect "tags from create" "$(json 'd["tags"]')" '{"cost-center": "42", "team": "quant"}'
ok "tag-resource" finspace tag-resource --resource-arn "$arn" --tags stage=dev,team=risk
ok "untag-resource" finspace untag-resource --resource-arn "$arn" --tag-keys cost-center absent
ok "list-tags-for-resource" finspace list-tags-for-resource --resource-arn "$arn"
expect "tags after tag/untag" "$(json 'd["tags"]')" '{"stage": "dev", "team": "risk"}'

# --- update ------------------------------------------------------------------
ok "update-environment" finspace update-environment --environment-id "$id" \
	--name cli-renamed --description "Renamed by the CLI"
expect "update-environment name" "$(json 'd["environment"]["name"]')" "cli-renamed"
ok "get-environment" finspace get-environment --environment-id "$id"
expect "get after update" "$(json '[d["environment"]["name"], d["environment"]["description"]]')" \
	'["cli-renamed", "Renamed by the CLI"]'

# --- errors ------------------------------------------------------------------
expect_error "get-environment of an unknown id" ResourceNotFoundException \
	finspace get-environment --environment-id doesnotexist0000000000
expect_error "create-environment with a bad name" ValidationException \
	finspace create-environment --name=-bad-
expect_error "list-environments with a forged token" ValidationException \
	finspace list-environments --next-token forged
# The second service through the CLI: programmatic credentials for this
# (CREATED) environment, then a user listing made with them, which shows the
# environment's superuser. Validation errors come from the server too.
ok "finspace-data get-programmatic-access-credentials" \
	finspace-data get-programmatic-access-credentials --environment-id "$id" --duration-in-minutes 60
user_env=(AWS_ACCESS_KEY_ID="$(json 'd["credentials"]["accessKeyId"]')"
	AWS_SECRET_ACCESS_KEY="$(json 'd["credentials"]["secretAccessKey"]')"
	AWS_SESSION_TOKEN="$(json 'd["credentials"]["sessionToken"]')")
rc=0
env "${user_env[@]}" "$AWS_CLI" --endpoint-url "$OPENFINSPACE_ENDPOINT" --region us-east-1 --output json \
	finspace-data list-users --max-results 5 >"$WORK/out" 2>"$WORK/err" || rc=$?
if [[ $rc -eq 0 ]]; then
	expect "list-users with programmatic credentials shows the superuser" "$(json '[u["type"] for u in d["users"]]')" '["SUPER_USER"]'
else
	fail "list-users with programmatic credentials: exit $rc: $(cat "$WORK/err")"
fi
expect_error "finspace-data get-user of an unknown user (root, one environment)" ResourceNotFoundException \
	finspace-data get-user --user-id nosuchuser

# --- delete ------------------------------------------------------------------
ok "delete-environment" finspace delete-environment --environment-id "$id"
wait_status "$id" DELETED
expect_error "delete-environment of a DELETED environment" ValidationException \
	finspace delete-environment --environment-id "$id"
if grep -qF DELETED "$WORK/err"; then pass "error message names the DELETED state"; else fail "error message does not name DELETED: $(cat "$WORK/err")"; fi

summary
