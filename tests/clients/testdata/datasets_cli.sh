#!/usr/bin/env bash
# Datasets and changesets through the AWS CLI, as ingestion scripts ran
# them: programmatic credentials, an upload to the working location with
# `aws s3 cp`, create-dataset, create-changeset, get-changeset polled until
# SUCCESS, a correction with update-changeset, a failure's errorInfo.
#
# Environment:
#   OPENFINSPACE_ENDPOINT                       server URL (required)
#   OPENFINSPACE_ENVIRONMENT_ID                 a CREATED environment (required)
#   AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY    root credentials (required)
#   AWS_CLI, PYTHON3                            as in cli_lib.sh
set -euo pipefail

: "${OPENFINSPACE_ENDPOINT:?OPENFINSPACE_ENDPOINT is required}"
: "${OPENFINSPACE_ENVIRONMENT_ID:?OPENFINSPACE_ENVIRONMENT_ID is required}"
# shellcheck source=cli_lib.sh
source "$(dirname "$0")/cli_lib.sh"
env_id="$OPENFINSPACE_ENVIRONMENT_ID"

# wait_changeset DATASET CHANGESET: polls get-changeset for up to 60 s until
# SUCCESS or FAILED and leaves the last answer in $WORK/out.
wait_changeset() {
	local status="" deadline=$((SECONDS + 60))
	while ((SECONDS <= deadline)); do
		ok "get-changeset $2" finspace-data get-changeset --dataset-id "$1" --changeset-id "$2"
		status="$(json 'd["status"]')"
		case "$status" in
		SUCCESS | FAILED) return 0 ;;
		PENDING | RUNNING) sleep 0.1 ;;
		*) fail "changeset $2 status $status"; exit 1 ;;
		esac
	done
	fail "changeset $2 stuck in $status"
	exit 1
}

echo "client: $("$AWS_CLI" --version 2>&1)"

ok "get-programmatic-access-credentials" finspace-data get-programmatic-access-credentials \
	--environment-id "$env_id" --duration-in-minutes 60
user_env=(AWS_ACCESS_KEY_ID="$(json 'd["credentials"]["accessKeyId"]')"
	AWS_SECRET_ACCESS_KEY="$(json 'd["credentials"]["secretAccessKey"]')"
	AWS_SESSION_TOKEN="$(json 'd["credentials"]["sessionToken"]')")
ok "get-working-location" finspace-data get-working-location --location-type INGESTION
s3uri="$(json 'd["s3Uri"]')"

printf 'sym,px,qty,day\nAAPL,189.5,100,2024-03-01\n"BRK,B",412.25,7,2024-03-01\n' >"$WORK/trades.csv"
rc=0
env "${user_env[@]}" "$AWS_CLI" --endpoint-url "$OPENFINSPACE_ENDPOINT" --region us-east-1 \
	s3 cp "$WORK/trades.csv" "${s3uri}trades.csv" >"$WORK/out" 2>"$WORK/err" || rc=$?
if [[ $rc -eq 0 ]]; then pass "aws s3 cp into the working location"; else fail "aws s3 cp: $(cat "$WORK/err")"; exit 1; fi

ok "create-permission-group" finspace-data create-permission-group --name cli-analysts \
	--application-permissions GetTemporaryCredentials
group="$(json 'd["permissionGroupId"]')"
cat >"$WORK/schema.json" <<'JSON'
{"tabularSchemaConfig": {"columns": [
  {"columnName": "sym", "dataType": "STRING", "columnDescription": "ticker"},
  {"columnName": "px", "dataType": "DOUBLE"},
  {"columnName": "qty", "dataType": "BIGINT"},
  {"columnName": "day", "dataType": "DATE"}],
 "primaryKeyColumns": ["sym"]}}
JSON
ok "create-dataset" finspace-data create-dataset --dataset-title "CLI trades" --kind TABULAR \
	--dataset-description "loaded by datasets_cli.sh" --alias alias/cli-trades \
	--permission-group-params "{\"permissionGroupId\": \"$group\", \"datasetPermissions\": [{\"permission\": \"ViewDatasetDetails\"}, {\"permission\": \"AddDatasetData\"}]}" \
	--schema-definition "file://$WORK/schema.json" --client-token cli-trades
ds="$(json 'd["datasetId"]')"
ok "create-dataset again with the same client token" finspace-data create-dataset --dataset-title "CLI trades" --kind TABULAR \
	--dataset-description "loaded by datasets_cli.sh" --alias alias/cli-trades \
	--permission-group-params "{\"permissionGroupId\": \"$group\", \"datasetPermissions\": [{\"permission\": \"ViewDatasetDetails\"}, {\"permission\": \"AddDatasetData\"}]}" \
	--schema-definition "file://$WORK/schema.json" --client-token cli-trades
expect "the retry answers the same dataset" "$(json 'd["datasetId"]')" "$ds"

ok "create-changeset" finspace-data create-changeset --dataset-id "$ds" --change-type APPEND \
	--source-params "s3SourcePath=${s3uri}trades.csv,sourceType=S3" \
	--format-params '{"formatType": "CSV", "withHeader": "true", "separator": ","}'
cs="$(json 'd["changesetId"]')"
if [[ "$cs" =~ ^[A-Za-z0-9]{22}$ ]]; then pass "changeset id $cs"; else fail "changeset id '$cs'"; fi
wait_changeset "$ds" "$cs"
expect "changeset status" "$(json 'd["status"]')" SUCCESS
expect "changeset type and source" "$(json '[d["changeType"], d["sourceParams"]["s3SourcePath"]]')" \
	"[\"APPEND\", \"${s3uri}trades.csv\"]"
expect "activeFrom set, activeUntil not" "$(json '[d["activeFromTimestamp"] >= d["createTime"], "activeUntilTimestamp" in d]')" '[true, false]'

printf 'sym,px,qty,day\nAAPL,190,100,2024-03-01\n' >"$WORK/fix.csv"
env "${user_env[@]}" "$AWS_CLI" --endpoint-url "$OPENFINSPACE_ENDPOINT" --region us-east-1 \
	s3 cp "$WORK/fix.csv" "${s3uri}fix.csv" >/dev/null 2>"$WORK/err" || { fail "upload fix.csv"; exit 1; }
ok "update-changeset (a correction)" finspace-data update-changeset --dataset-id "$ds" --changeset-id "$cs" \
	--source-params "s3SourcePath=${s3uri}fix.csv" --format-params formatType=CSV
fix="$(json 'd["changesetId"]')"
wait_changeset "$ds" "$fix"
expect "correction" "$(json '[d["status"], d["changeType"], d["updatesChangesetId"]]')" "[\"SUCCESS\", \"MODIFY\", \"$cs\"]"
fix_from="$(json 'd["activeFromTimestamp"]')"
ok "get-changeset of the corrected changeset" finspace-data get-changeset --dataset-id "$ds" --changeset-id "$cs"
expect "corrected changeset links and ends" "$(json '[d["updatedByChangesetId"], d["activeUntilTimestamp"]]')" "[\"$fix\", $fix_from]"

ok "list-changesets" finspace-data list-changesets --dataset-id "$ds"
expect "list-changesets in creation order" "$(json '[c["changesetId"] for c in d["changesets"]]')" "[\"$cs\", \"$fix\"]"
ok "get-dataset" finspace-data get-dataset --dataset-id "$ds"
expect "get-dataset" "$(json '[d["datasetTitle"], d["kind"], d["status"], d["alias"], len(d["schemaDefinition"]["tabularSchemaConfig"]["columns"])]')" \
	'["CLI trades", "TABULAR", "SUCCESS", "alias/cli-trades", 4]'
ok "list-datasets" finspace-data list-datasets
expect "list-datasets has the dataset" "$(json "[x['datasetId'] for x in d['datasets']].count('$ds')")" 1

printf 'sym,px,qty,day\nMSFT,oops,1,2024-03-01\n' >"$WORK/bad.csv"
env "${user_env[@]}" "$AWS_CLI" --endpoint-url "$OPENFINSPACE_ENDPOINT" --region us-east-1 \
	s3 cp "$WORK/bad.csv" "${s3uri}bad.csv" >/dev/null 2>"$WORK/err" || { fail "upload bad.csv"; exit 1; }
ok "create-changeset of a bad file" finspace-data create-changeset --dataset-id "$ds" --change-type APPEND \
	--source-params "s3SourcePath=${s3uri}bad.csv" --format-params formatType=CSV
bad="$(json 'd["changesetId"]')"
wait_changeset "$ds" "$bad"
expect "failed changeset" "$(json '[d["status"], d["errorInfo"]["errorCategory"]]')" '["FAILED", "VALIDATION"]'
expect "errorMessage names line, column and value" \
	"$(json 'all(w in d["errorInfo"]["errorMessage"] for w in ["bad.csv", "line 2", "px", "oops"])')" true

expect_error "create-changeset MODIFY" ValidationException finspace-data create-changeset --dataset-id "$ds" \
	--change-type MODIFY --source-params "s3SourcePath=${s3uri}fix.csv" --format-params formatType=CSV
expect_error "create-changeset without formatType" ValidationException finspace-data create-changeset --dataset-id "$ds" \
	--change-type APPEND --source-params "s3SourcePath=${s3uri}fix.csv" --format-params withHeader=true
expect_error "get-changeset of an unknown changeset" ResourceNotFoundException finspace-data get-changeset \
	--dataset-id "$ds" --changeset-id nosuchchangeset

ok "update-dataset" finspace-data update-dataset --dataset-id "$ds" --dataset-title "CLI trades v2" --kind TABULAR \
	--schema-definition "file://$WORK/schema.json"
ok "delete-dataset" finspace-data delete-dataset --dataset-id "$ds"
expect "delete-dataset answers the id" "$(json 'd["datasetId"]')" "$ds"
expect_error "get-dataset after delete-dataset" ResourceNotFoundException finspace-data get-dataset --dataset-id "$ds"

summary
