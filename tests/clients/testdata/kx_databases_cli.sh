#!/usr/bin/env bash
# Managed kdb databases and changesets through the AWS CLI, as TorQ's
# deployment scripts call them: a kx environment to CREATED, a database, a
# small date-partitioned kdb+ layout uploaded with `aws s3 sync`, then
# create-kx-changeset --change-requests '[...]' --client-token: a whole-db
# PUT at /, a partition PUT with the root sym, a DELETE of a partition, a
# FAILED changeset; counters exact after each; list order; deletion.
#
# Environment: as kx_cli.sh.
set -euo pipefail

: "${OPENFINSPACE_ENDPOINT:?OPENFINSPACE_ENDPOINT is required}"
# shellcheck source=cli_lib.sh
source "$(dirname "$0")/cli_lib.sh"

# wait_json DESCRIPTION EXPR ARGS...: repeats the call for up to 20 s until
# the python expression EXPR (on the answer, d) is true.
wait_json() {
	local what="$1" expr="$2"
	shift 2
	local deadline=$((SECONDS + 20))
	while ((SECONDS <= deadline)); do
		ok "$what" "$@"
		if [[ "$(json "$expr")" == "true" ]]; then
			pass "$what: $expr"
			return 0
		fi
		sleep 0.1
	done
	fail "$what: not $expr: $(cat "$WORK/out")"
	exit 1
}

# layout DIR DATE...: a kdb+ HDB: root sym, DATE/trade/{.d,sym,price,size}.
layout() {
	local dir="$1"
	shift
	mkdir -p "$dir"
	printf '`AAPL`MSFT`IBM' >"$dir/sym"
	for d in "$@"; do
		mkdir -p "$dir/$d/trade"
		printf '`sym`price`size' >"$dir/$d/trade/.d"
		printf 'sym-%s' "$d" >"$dir/$d/trade/sym"
		head -c 3000 /dev/urandom >"$dir/$d/trade/price"
		head -c 1000 /dev/urandom >"$dir/$d/trade/size"
	done
}

# totals DIR: [files, bytes] of the tree at DIR.
totals() {
	"$PYTHON3" -c 'import os, sys
n = b = 0
for root, _, files in os.walk(sys.argv[1]):
    for f in files:
        n += 1; b += os.path.getsize(os.path.join(root, f))
print("[%d, %d]" % (n, b))' "$1"
}

# changeset DESCRIPTION REQUESTS: creates a changeset and waits for its end.
changeset() {
	ok "create-kx-changeset ($1)" finspace create-kx-changeset --environment-id "$id" --database-name "$db" \
		--change-requests "$2" --client-token "cs-$(date +%s%N)"
	expect "create-kx-changeset ($1) is PENDING" "$(json 'd["status"]')" PENDING
	cs="$(json 'd["changesetId"]')"
	wait_json "get-kx-changeset ($1)" 'd["status"] in ("COMPLETED", "FAILED")' \
		finspace get-kx-changeset --environment-id "$id" --database-name "$db" --changeset-id "$cs"
}

# counters WANT: get-kx-database's [numFiles, numBytes, numChangesets, lastCompletedChangesetId].
counters() {
	ok "get-kx-database" finspace get-kx-database --environment-id "$id" --database-name "$db"
	expect "$1" "$(json '[d["numFiles"], d["numBytes"], d["numChangesets"], d.get("lastCompletedChangesetId")]')" "$2"
}

echo "client: $("$AWS_CLI" --version 2>&1)"
token="torqdb-$(date +%s%N)"
ok "create-kx-environment" finspace create-kx-environment --name torq_db_env \
	--kms-key-id arn:aws:kms:us-east-1:000000000000:key/torq --client-token "$token"
id="$(json 'd["environmentId"]')"
wait_json "get-kx-environment" 'd["status"] == "CREATED"' finspace get-kx-environment --environment-id "$id"
ok "update-kx-environment-network" finspace update-kx-environment-network --environment-id "$id" \
	--transit-gateway-configuration transitGatewayID=tgw-0a1b2c,routableCIDRSpace=100.64.0.0/26 --client-token "$token-tgw"
wait_json "get-kx-environment" 'd["status"] == "CREATED" and d["tgwStatus"] == "SUCCESSFULLY_UPDATED"' \
	finspace get-kx-environment --environment-id "$id"

db=torq_hdb
ok "create-kx-database" finspace create-kx-database --environment-id "$id" --database-name "$db" \
	--description "TorQ HDB" --tags stack=torq --client-token "$token-db"
expect "database ARN" "$(json 'd["databaseArn"]')" "arn:aws:finspace:us-east-1:000000000000:kxEnvironment/$id/kxDatabase/$db"
ok "create-kx-database retried with its token" finspace create-kx-database --environment-id "$id" --database-name "$db" \
	--description "TorQ HDB" --tags stack=torq --client-token "$token-db"
expect_error "create-kx-database twice" ConflictException finspace create-kx-database --environment-id "$id" \
	--database-name "$db" --client-token "$token-db2"
counters "an empty database's counters" '[0, 0, 0, null]'

bucket=torq-kx-data
ok "s3 mb" s3 mb "s3://$bucket"
layout "$WORK/hdb" 2024.11.18 2024.11.19
layout "$WORK/new" 2024.11.20
printf '`AAPL`MSFT`IBM`GOOG' >"$WORK/new/sym"
ok "s3 sync (hdb)" s3 sync "$WORK/hdb" "s3://$bucket/data/hdb"
ok "s3 sync (new partition)" s3 sync "$WORK/new" "s3://$bucket/data/new"

changeset "whole database at /" '[{"changeType":"PUT","s3Path":"s3://'$bucket'/data/hdb/","dbPath":"/"}]'
expect "whole-db changeset" "$(json 'd["status"]')" COMPLETED
cs1="$cs"
counters "counters after the whole-db PUT" "$(totals "$WORK/hdb" | sed 's/]$//'), 1, \"$cs1\"]"

changeset "a partition and the root sym" '[{"changeType":"PUT","s3Path":"s3://'$bucket'/data/new/2024.11.20/","dbPath":"/2024.11.20/"},{"changeType":"PUT","s3Path":"s3://'$bucket'/data/new/sym","dbPath":"/"}]'
expect "partition changeset" "$(json 'd["status"]')" COMPLETED
cs2="$cs"
cp -r "$WORK/new/2024.11.20" "$WORK/hdb/" && cp "$WORK/new/sym" "$WORK/hdb/sym"
counters "counters after the partition PUT" "$(totals "$WORK/hdb" | sed 's/]$//'), 2, \"$cs2\"]"

changeset "DELETE a partition" '[{"changeType":"DELETE","dbPath":"/2024.11.18/"}]'
expect "delete changeset" "$(json 'd["status"]')" COMPLETED
cs3="$cs"
rm -rf "$WORK/hdb/2024.11.18"
counters "counters after the DELETE" "$(totals "$WORK/hdb" | sed 's/]$//'), 3, \"$cs3\"]"

changeset "a missing object" '[{"changeType":"PUT","s3Path":"s3://'$bucket'/data/nosuch","dbPath":"/"}]'
expect "missing object" "$(json '[d["status"], d["errorInfo"]["errorType"]]')" '["FAILED", "One or more inputs to this request were not found."]'
cs4="$cs"
counters "a failed changeset leaves the version" "$(totals "$WORK/hdb" | sed 's/]$//'), 4, \"$cs3\"]"
expect_error "a dbPath escaping the root" ValidationException finspace create-kx-changeset --environment-id "$id" \
	--database-name "$db" --change-requests '[{"changeType":"PUT","s3Path":"s3://'$bucket'/data/hdb/","dbPath":"/../x/"}]' \
	--client-token "$token-bad"

ok "list-kx-changesets" finspace list-kx-changesets --environment-id "$id" --database-name "$db"
expect "list-kx-changesets newest first" "$(json '[c["changesetId"] for c in d["kxChangesets"]]')" "[\"$cs4\", \"$cs3\", \"$cs2\", \"$cs1\"]"
ok "list-kx-changesets --max-results 1" finspace list-kx-changesets --environment-id "$id" --database-name "$db" --max-results 1
expect "the latest changeset first" "$(json 'd["kxChangesets"][0]["changesetId"]')" "$cs4"
ok "list-kx-databases" finspace list-kx-databases --environment-id "$id"
expect "list-kx-databases" "$(json '[x["databaseName"] for x in d["kxDatabases"]]')" "[\"$db\"]"
ok "update-kx-database" finspace update-kx-database --environment-id "$id" --database-name "$db" --description v2 --client-token "$token-up"
expect "update-kx-database" "$(json 'd["description"]')" v2
ok "list-tags-for-resource (database)" finspace list-tags-for-resource \
	--resource-arn "arn:aws:finspace:us-east-1:000000000000:kxEnvironment/$id/kxDatabase/$db"
expect "database tags" "$(json 'd["tags"]')" '{"stack": "torq"}'

ok "delete-kx-database" finspace delete-kx-database --environment-id "$id" --database-name "$db" --client-token "$token-del"
expect_error "get-kx-database after delete" ResourceNotFoundException finspace get-kx-database --environment-id "$id" --database-name "$db"
ok "delete-kx-environment" finspace delete-kx-environment --environment-id "$id"
wait_json "get-kx-environment" 'd["status"] == "DELETED"' finspace get-kx-environment --environment-id "$id"
expect_error "create-kx-database in a DELETED environment" ValidationException finspace create-kx-database \
	--environment-id "$id" --database-name late --client-token "$token-late"

summary
