#!/usr/bin/env bash
# S3 round trips with the AWS CLI through openfinspace's main port.
#
# Environment: AWS_CLI (the aws executable), OPENFINSPACE_ENDPOINT, the root
# credentials in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, and scoped read
# credentials SCOPED_ACCESS_KEY_ID / SCOPED_SECRET_ACCESS_KEY /
# SCOPED_SESSION_TOKEN for s3://$SCOPED_BUCKET/allowed/. Runs in an empty
# working directory.
set -euo pipefail

aws() { "$AWS_CLI" --endpoint-url "$OPENFINSPACE_ENDPOINT" "$@"; }
# Transfers without progress meters.
cp_() { aws s3 cp --no-progress "$@"; }
sync_() { aws s3 sync --no-progress "$@"; }
# has PATTERN: stdin contains PATTERN (reads it all: no broken pipe).
has() { grep -E "$1" > /dev/null; }
fail() { echo "FAIL: $*" >&2; exit 1; }
step() { echo "--- $*"; }

B="cli-$(date +%s)-$RANDOM"

step "mb"
aws s3 mb "s3://$B"
aws s3 ls | has " $B\$" || fail "the new bucket is not listed"

step "small object"
printf 'hello from the aws cli\n' > small.txt
cp_ small.txt "s3://$B/small.txt"
cp_ "s3://$B/small.txt" small.back
cmp small.txt small.back || fail "small object differs"
[ "$(cp_ "s3://$B/small.txt" -)" = "hello from the aws cli" ] || fail "cp to stdout"

step "100 MiB multipart upload and download"
head -c $((100 * 1024 * 1024)) /dev/urandom > big.bin
start=$(date +%s.%N)
cp_ big.bin "s3://$B/big/big.bin"
mid=$(date +%s.%N)
cp_ "s3://$B/big/big.bin" big.back
end=$(date +%s.%N)
cmp big.bin big.back || fail "100 MiB object differs"
etag=$(aws s3api head-object --bucket "$B" --key big/big.bin --query ETag --output text)
case "$etag" in *-*) ;; *) fail "ETag $etag is not a multipart ETag" ;; esac
size=$(aws s3api head-object --bucket "$B" --key big/big.bin --query ContentLength --output text)
[ "$size" = "104857600" ] || fail "size $size"
awk -v a="$start" -v b="$mid" -v c="$end" -v e="$etag" 'BEGIN { printf "upload %.2f s (%.0f MiB/s), download %.2f s (%.0f MiB/s), ETag %s\n", b-a, 100/(b-a), c-b, 100/(c-b), e }'
rm -f big.bin big.back

step "sync a directory tree"
mkdir -p tree/a/b tree/c "tree/with space"
for i in 1 2 3; do echo "file $i" > "tree/a/f$i.txt"; done
echo deep > tree/a/b/deep.txt
echo c > tree/c/c.csv
echo top > tree/top.txt
echo sp > "tree/with space/x y.txt"
# Files older than their upload, as usual: sync compares modification times
# (the gateway reports whole seconds).
find tree -type f -exec touch -d '1 hour ago' {} +
sync_ tree "s3://$B/tree/"
n=$(aws s3 ls --recursive "s3://$B/tree/" | wc -l)
[ "$n" = 7 ] || fail "sync uploaded $n objects, want 7"
sync_ "s3://$B/tree/" tree2
diff -r tree tree2 || fail "synced tree differs"
# A second sync uploads nothing.
out=$(sync_ tree "s3://$B/tree/")
[ -z "$out" ] || fail "second sync did something: $out"

step "list with prefixes and delimiters"
top=$(aws s3 ls "s3://$B/tree/")
echo "$top"
echo "$top" | has "PRE a/" || fail "no a/ prefix"
echo "$top" | has "PRE c/" || fail "no c/ prefix"
echo "$top" | has "top.txt" || fail "no top.txt"
json=$(aws s3api list-objects-v2 --bucket "$B" --prefix tree/a/ --delimiter / --output json)
"$PYTHON3" - "$json" <<'PY'
import json, sys
d = json.loads(sys.argv[1])
keys = [o["Key"] for o in d.get("Contents", [])]
prefixes = [p["Prefix"] for p in d.get("CommonPrefixes", [])]
assert keys == ["tree/a/f1.txt", "tree/a/f2.txt", "tree/a/f3.txt"], keys
assert prefixes == ["tree/a/b/"], prefixes
PY
# Pages of 2 keys, merged by the CLI.
json=$(aws s3api list-objects-v2 --bucket "$B" --prefix tree/ --page-size 2 --output json)
"$PYTHON3" - "$json" <<'PY'
import json, sys
keys = [o["Key"] for o in json.loads(sys.argv[1])["Contents"]]
assert len(keys) == 7 and keys == sorted(keys), keys
PY

step "deletes"
aws s3 rm "s3://$B/small.txt"
if aws s3api head-object --bucket "$B" --key small.txt >/dev/null 2>&1; then fail "deleted object still there"; fi
aws s3 rm --recursive "s3://$B/tree/"
[ -z "$(aws s3 ls --recursive "s3://$B/tree/")" ] || fail "recursive rm left objects"

step "wrong secret is refused"
if AWS_SECRET_ACCESS_KEY=wrong-secret aws s3 ls "s3://$B" > out.txt 2> err.txt; then fail "wrong secret accepted"; fi
grep -q SignatureDoesNotMatch err.txt || { cat err.txt; fail "no SignatureDoesNotMatch"; }
if AWS_SECRET_ACCESS_KEY=wrong-secret cp_ small.txt "s3://$B/evil.txt" 2> err.txt; then fail "upload with a wrong secret accepted"; fi
if aws s3api head-object --bucket "$B" --key evil.txt >/dev/null 2>&1; then fail "refused upload left an object"; fi

step "scoped read credentials"
scoped() {
  AWS_ACCESS_KEY_ID="$SCOPED_ACCESS_KEY_ID" AWS_SECRET_ACCESS_KEY="$SCOPED_SECRET_ACCESS_KEY" \
    AWS_SESSION_TOKEN="$SCOPED_SESSION_TOKEN" aws "$@"
}
[ "$(scoped s3 cp --no-progress "s3://$SCOPED_BUCKET/allowed/x.txt" -)" = "allowed data" ] || fail "scoped read of its prefix"
scoped s3 ls "s3://$SCOPED_BUCKET/allowed/" | has x.txt || fail "scoped listing of its prefix"
scoped s3 cp --no-progress "s3://$SCOPED_BUCKET/allowed/x.txt" scoped.txt
if scoped s3 cp --no-progress "s3://$SCOPED_BUCKET/secret/y.txt" - 2> err.txt; then fail "scoped read outside its prefix"; fi
grep -Eq "403|Forbidden|AccessDenied" err.txt || { cat err.txt; fail "no 403 for a read outside the prefix"; }
if scoped s3 cp --no-progress small.txt "s3://$SCOPED_BUCKET/allowed/new.txt" 2> err.txt; then fail "scoped upload accepted"; fi
grep -q AccessDenied err.txt || { cat err.txt; fail "no AccessDenied for a scoped upload"; }
if scoped s3 ls "s3://$SCOPED_BUCKET/" 2> err.txt; then fail "scoped listing of the bucket root"; fi
grep -q AccessDenied err.txt || { cat err.txt; fail "no AccessDenied for a listing outside the prefix"; }
if scoped s3 ls "s3://$SCOPED_BUCKET/secret/" 2> err.txt; then fail "scoped listing of another prefix"; fi
if scoped s3 rm "s3://$SCOPED_BUCKET/allowed/x.txt" 2> err.txt; then fail "scoped delete accepted"; fi
if scoped s3 ls 2> err.txt; then fail "scoped ListBuckets accepted"; fi
[ "$(cp_ "s3://$SCOPED_BUCKET/allowed/x.txt" -)" = "allowed data" ] || fail "object changed"

step "rb"
aws s3 rb --force "s3://$B"
if aws s3 ls | has " $B\$"; then fail "bucket still listed"; fi
echo "all AWS CLI S3 checks passed"
