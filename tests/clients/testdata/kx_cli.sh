#!/usr/bin/env bash
# Managed kdb through the AWS CLI, as TorQ's deployment scripts call it: a
# kx environment to CREATED with --client-token, a transit gateway and DNS
# network update to SUCCESSFULLY_UPDATED, kx users, tags, deletion.
#
# Environment:
#   OPENFINSPACE_ENDPOINT                       server URL (required)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY    root credentials (required)
#   AWS_CLI, PYTHON3                            as in cli_lib.sh
# Needs a CLI with the kx commands (AWS CLI 1.29+ / 2.13+).
set -euo pipefail

: "${OPENFINSPACE_ENDPOINT:?OPENFINSPACE_ENDPOINT is required}"
# shellcheck source=cli_lib.sh
source "$(dirname "$0")/cli_lib.sh"

# wait_kx ID EXPR: polls get-kx-environment for up to 15 s until the python
# expression EXPR (on the answer, d) is true.
wait_kx() {
	local deadline=$((SECONDS + 15))
	while ((SECONDS <= deadline)); do
		ok "get-kx-environment $1" finspace get-kx-environment --environment-id "$1"
		if [[ "$(json "$2")" == "true" ]]; then
			pass "kx environment $1: $2"
			return 0
		fi
		sleep 0.1
	done
	fail "kx environment $1: not $2: $(cat "$WORK/out")"
	exit 1
}

echo "client: $("$AWS_CLI" --version 2>&1)"
kms="arn:aws:kms:us-east-1:000000000000:key/torq"
token="torq-$(date +%s%N)"
ok "create-kx-environment" finspace create-kx-environment --name torq_cli_env --kms-key-id "$kms" \
	--description "TorQ deployment" --client-token "$token"
id="$(json 'd["environmentId"]')"
arn="$(json 'd["environmentArn"]')"
if [[ "$id" =~ ^[a-z0-9]{22}$ ]]; then pass "kx environment id $id"; else fail "kx environment id '$id'"; fi
expect "kx environment ARN" "$arn" "arn:aws:finspace:us-east-1:000000000000:kxEnvironment/$id"
ok "create-kx-environment retried with the client token" finspace create-kx-environment --name torq_cli_env \
	--kms-key-id "$kms" --description "TorQ deployment" --client-token "$token"
expect "the retry answers the same environment" "$(json 'd["environmentId"]')" "$id"
wait_kx "$id" 'd["status"] == "CREATED"'
expect "fields of a CREATED environment" \
	"$(json 'all(k in d for k in ["dedicatedServiceAccountId", "availabilityZoneIds", "certificateAuthorityArn", "creationTimestamp"]) and d["tgwStatus"] == "NONE"')" true
ok "list-kx-environments" finspace list-kx-environments
expect "list-kx-environments has it" "$(json "[e['environmentId'] for e in d['environments']].count('$id')")" 1

ok "update-kx-environment" finspace update-kx-environment --environment-id "$id" --name torq_cli_renamed --description renamed
ok "get-kx-environment" finspace get-kx-environment --environment-id "$id"
expect "after update-kx-environment" "$(json '[d["name"], d["description"]]')" '["torq_cli_renamed", "renamed"]'

expect_error "a routable CIDR that is not a /26" ValidationException finspace update-kx-environment-network \
	--environment-id "$id" --transit-gateway-configuration transitGatewayID=tgw-1,routableCIDRSpace=100.64.0.0/24
ok "update-kx-environment-network (transit gateway)" finspace update-kx-environment-network --environment-id "$id" \
	--transit-gateway-configuration transitGatewayID=tgw-0a1b2c,routableCIDRSpace=100.64.0.64/26 --client-token "$token-tgw"
wait_kx "$id" 'd["status"] == "CREATED" and d["tgwStatus"] == "SUCCESSFULLY_UPDATED"'
expect "transit gateway configuration echoed" "$(json 'd["transitGatewayConfiguration"]')" \
	'{"routableCIDRSpace": "100.64.0.64/26", "transitGatewayID": "tgw-0a1b2c"}'
ok "update-kx-environment-network (DNS)" finspace update-kx-environment-network --environment-id "$id" \
	--custom-dns-configuration customDNSServerName=dns.example.com,customDNSServerIP=10.0.0.2 --client-token "$token-dns"
wait_kx "$id" 'd["status"] == "CREATED" and d["dnsStatus"] == "SUCCESSFULLY_UPDATED"'
expect "DNS configuration echoed" "$(json 'd["customDNSConfiguration"]')" \
	'[{"customDNSServerIP": "10.0.0.2", "customDNSServerName": "dns.example.com"}]'

ok "create-kx-user" finspace create-kx-user --environment-id "$id" --user-name torq_user \
	--iam-role arn:aws:iam::000000000000:role/torq --tags owner=torq
expect "kx user ARN" "$(json 'd["userArn"]')" "$arn/kxUser/torq_user"
expect_error "create-kx-user twice" ConflictException finspace create-kx-user --environment-id "$id" \
	--user-name torq_user --iam-role arn:aws:iam::000000000000:role/torq
ok "update-kx-user" finspace update-kx-user --environment-id "$id" --user-name torq_user --iam-role arn:aws:iam::000000000000:role/torq2
ok "get-kx-user" finspace get-kx-user --environment-id "$id" --user-name torq_user
expect "kx user role after update" "$(json 'd["iamRole"]')" arn:aws:iam::000000000000:role/torq2
ok "list-kx-users" finspace list-kx-users --environment-id "$id"
expect "list-kx-users" "$(json '[u["userName"] for u in d["users"]]')" '["torq_user"]'

ok "tag-resource" finspace tag-resource --resource-arn "$arn" --tags stack=torq,stage=dev
ok "untag-resource" finspace untag-resource --resource-arn "$arn" --tag-keys stage
ok "list-tags-for-resource" finspace list-tags-for-resource --resource-arn "$arn"
expect "environment tags" "$(json 'd["tags"]')" '{"stack": "torq"}'
ok "list-tags-for-resource (kx user)" finspace list-tags-for-resource --resource-arn "$arn/kxUser/torq_user"
expect "kx user tags" "$(json 'd["tags"]')" '{"owner": "torq"}'

ok "delete-kx-user" finspace delete-kx-user --environment-id "$id" --user-name torq_user
expect_error "get-kx-user after delete-kx-user" ResourceNotFoundException finspace get-kx-user --environment-id "$id" --user-name torq_user
ok "delete-kx-environment" finspace delete-kx-environment --environment-id "$id"
wait_kx "$id" 'd["status"] == "DELETED"'
expect_error "delete-kx-environment of a DELETED environment" ValidationException finspace delete-kx-environment --environment-id "$id"

summary
