"""Datasets and changesets through boto3, as FinSpace users scripted them.

Root credentials act as the superuser of the only environment. The user's
programmatic credentials upload sources to the working location; datasets
with all 12 column types take CSV, JSON, Parquet and gzip/bz2/zstd
changesets and a prefix of several files; REPLACE and a correction chain
are checked for their timestamps and links; failures carry their
errorCategory; an APP_USER is refused what its group's dataset permissions
do not allow. The ids of the SUCCESS changesets go to $OPENFINSPACE_RESULT
for the Go test to read the stored data back.
"""
import bz2
import gzip
import json
import os
import sys
import time

import boto3
import botocore
from botocore.exceptions import ClientError

endpoint = os.environ["OPENFINSPACE_ENDPOINT"]
env_id = os.environ["OPENFINSPACE_ENVIRONMENT_ID"]
fixtures = os.environ["OPENFINSPACE_FIXTURES"]
region = "us-east-1"
fd = boto3.client("finspace-data", endpoint_url=endpoint, region_name=region)
results = {}


def check(cond, what):
    if not cond:
        print("FAIL:", what, file=sys.stderr)
        sys.exit(1)


def error_code(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


creds = fd.get_programmatic_access_credentials(environmentId=env_id, durationInMinutes=60)["credentials"]
s3 = boto3.client("s3", endpoint_url=endpoint, region_name=region,
                  aws_access_key_id=creds["accessKeyId"], aws_secret_access_key=creds["secretAccessKey"],
                  aws_session_token=creds["sessionToken"],
                  config=botocore.config.Config(s3={"addressing_style": "path"}))
loc = fd.get_working_location(locationType="INGESTION")
bucket = loc["s3Bucket"]
prefix = loc["s3Path"][len(bucket) + 1:]


def upload(name, body):
    s3.put_object(Bucket=bucket, Key=prefix + name, Body=body)
    return "s3://%s/%s%s" % (bucket, prefix, name)


group = fd.create_permission_group(name="analysts", applicationPermissions=["GetTemporaryCredentials"])["permissionGroupId"]
ALL = ["ViewDatasetDetails", "ReadDatasetData", "AddDatasetData", "CreateDataView", "EditDatasetMetadata", "DeleteDataset"]
TYPES = [("s", "STRING"), ("c", "CHAR"), ("i", "INTEGER"), ("ti", "TINYINT"), ("si", "SMALLINT"), ("bi", "BIGINT"),
         ("f", "FLOAT"), ("d", "DOUBLE"), ("dt", "DATE"), ("ts", "DATETIME"), ("b", "BOOLEAN"), ("bin", "BINARY")]


def dataset(title, columns, grant_group=group, perms=ALL, alias=None):
    kw = {}
    if alias:
        kw["alias"] = alias
    return fd.create_dataset(
        clientToken="ds-" + title, datasetTitle=title, kind="TABULAR",
        datasetDescription="created by datasets_boto3.py",
        ownerInfo={"name": "Data Team", "email": "data@example.com", "phoneNumber": "+1 555 0100 12"},
        permissionGroupParams={"permissionGroupId": grant_group,
                               "datasetPermissions": [{"permission": p} for p in perms]},
        schemaDefinition={"tabularSchemaConfig": {
            "columns": [{"columnName": n, "dataType": t, "columnDescription": n + " column"} for n, t in columns],
            "primaryKeyColumns": [columns[0][0]]}}, **kw)["datasetId"]


def changeset(ds, uri, fmt, change_type="APPEND"):
    return fd.create_changeset(datasetId=ds, changeType=change_type,
                               sourceParams={"s3SourcePath": uri, "sourceType": "S3"}, formatParams=fmt)["changesetId"]


def wait(ds, cs):
    deadline = time.time() + 60
    while True:
        out = fd.get_changeset(datasetId=ds, changesetId=cs)
        if out["status"] in ("SUCCESS", "FAILED"):
            return out
        check(out["status"] in ("PENDING", "RUNNING"), "changeset status %s" % out["status"])
        check(time.time() < deadline, "changeset %s still %s" % (cs, out["status"]))
        time.sleep(0.05)


def succeed(ds, cs):
    out = wait(ds, cs)
    check(out["status"] == "SUCCESS", "changeset %s: %s" % (cs, out))
    return out


# All 12 types, one changeset per source format and compression.
ds = dataset("All types", TYPES, alias="alias/all-types")
got = fd.get_dataset(datasetId=ds)
check(got["status"] == "SUCCESS" and got["kind"] == "TABULAR" and got["alias"] == "alias/all-types", got)
check([c["dataType"] for c in got["schemaDefinition"]["tabularSchemaConfig"]["columns"]] == [t for _, t in TYPES], got)
check(got["datasetArn"].endswith(":dataset/" + ds) and got["createTime"] > 1e12, got)
with open(os.path.join(fixtures, "rows.csv"), "rb") as f:
    csv_bytes = f.read()
with open(os.path.join(fixtures, "rows.ndjson"), "rb") as f:
    ndjson_bytes = f.read()
with open(os.path.join(fixtures, "rows.json"), "rb") as f:
    array_bytes = f.read()
variants = [
    ("csv", upload("rows.csv", csv_bytes), {"formatType": "CSV", "withHeader": "true", "separator": ","}),
    ("csv_defaults", upload("defaults.csv", csv_bytes), {"formatType": "CSV"}),
    ("ndjson", upload("rows.ndjson", ndjson_bytes), {"formatType": "JSON"}),
    ("json_array", upload("rows.json", array_bytes), {"formatType": "JSON"}),
    ("gzip", upload("rows.csv.gz", gzip.compress(csv_bytes)), {"formatType": "CSV", "compression": "gzip"}),
    ("bz2", upload("rows.csv.bz2", bz2.compress(csv_bytes)), {"formatType": "CSV", "compression": "bz2"}),
]
with open(os.path.join(fixtures, "rows.csv.zst"), "rb") as f:
    variants.append(("zstd", upload("rows.csv.zst", f.read()), {"formatType": "CSV", "compression": "zstd"}))
with open(os.path.join(fixtures, "rows.xml"), "rb") as f:
    xml_bytes = f.read()
variants.append(("xml", upload("rows.xml", xml_bytes), {"formatType": "XML"}))
variants.append(("xml_gzip", upload("rows.xml.gz", gzip.compress(xml_bytes)), {"formatType": "XML", "compression": "gzip"}))
with open(os.path.join(fixtures, "rows.parquet"), "rb") as f:
    variants.append(("parquet", upload("rows.parquet", f.read()), {"formatType": "PARQUET"}))
for i in range(3):
    upload("many/part-%d.csv" % i, csv_bytes)
variants.append(("prefix", "s3://%s/%smany/" % (bucket, prefix), {"formatType": "CSV"}))
ids = {name: changeset(ds, uri, fmt) for name, uri, fmt in variants}
for name, cs in ids.items():
    out = succeed(ds, cs)
    check(out["changeType"] == "APPEND" and out["activeFromTimestamp"] >= out["createTime"], out)
    check("activeUntilTimestamp" not in out and "errorInfo" not in out, out)
    results[name] = {"dataset": ds, "changeset": cs}
listed = []
kw = {"datasetId": ds, "maxResults": 3}
while True:
    page = fd.list_changesets(**kw)
    listed += [c["changesetId"] for c in page["changesets"]]
    if "nextToken" not in page:
        break
    kw["nextToken"] = page["nextToken"]
check(listed == list(ids.values()), "list_changesets %s, want creation order %s" % (listed, list(ids.values())))
paged = [c["changesetId"] for p in fd.get_paginator("list_changesets").paginate(datasetId=ds, PaginationConfig={"PageSize": 2})
         for c in p["changesets"]]
check(paged == listed, "paginator %s" % paged)

# REPLACE and a correction chain.
prices = dataset("Prices", [("sym", "STRING"), ("px", "INTEGER")])
fmt = {"formatType": "CSV"}
a = changeset(prices, upload("a.csv", b"sym,px\nA,1\n"), fmt)
a_out = succeed(prices, a)
b = changeset(prices, upload("b.csv", b"sym,px\nB,2\n"), fmt)
succeed(prices, b)
m = fd.update_changeset(datasetId=prices, changesetId=a, clientToken="fix-a",
                        sourceParams={"s3SourcePath": upload("a2.csv", b"sym,px\nA,10\n"), "sourceType": "S3"},
                        formatParams=fmt)["changesetId"]
check(m != a, "update_changeset returned the corrected changeset's id")
m_out = succeed(prices, m)
check(m_out["changeType"] == "MODIFY" and m_out["updatesChangesetId"] == a, m_out)
a_now = fd.get_changeset(datasetId=prices, changesetId=a)
check(a_now["updatedByChangesetId"] == m and a_now["activeUntilTimestamp"] == m_out["activeFromTimestamp"], a_now)
check(a_now["activeFromTimestamp"] == a_out["activeFromTimestamp"], a_now)
m2 = fd.update_changeset(datasetId=prices, changesetId=m,
                         sourceParams={"s3SourcePath": upload("a3.csv", b"sym,px\nA,11\n")}, formatParams=fmt)["changesetId"]
m2_out = succeed(prices, m2)
m_now = fd.get_changeset(datasetId=prices, changesetId=m)
check(m2_out["updatesChangesetId"] == m and m_now["updatedByChangesetId"] == m2, (m2_out, m_now))
check(error_code(fd.update_changeset, datasetId=prices, changesetId=a,
                 sourceParams={"s3SourcePath": upload("a4.csv", b"sym,px\nA,12\n")}, formatParams=fmt) == "ConflictException",
      "correcting an already corrected changeset")
check(error_code(fd.create_changeset, datasetId=prices, changeType="MODIFY",
                 sourceParams={"s3SourcePath": upload("x.csv", b"sym,px\nX,0\n")}, formatParams=fmt) == "ValidationException",
      "create_changeset MODIFY names no target")
r = changeset(prices, upload("r.csv", b"sym,px\nR,5\n"), fmt, "REPLACE")
r_out = succeed(prices, r)
for cs in (b, m2):
    got = fd.get_changeset(datasetId=prices, changesetId=cs)
    check(got["activeUntilTimestamp"] == r_out["activeFromTimestamp"], "REPLACE ends %s: %s" % (cs, got))
check("activeUntilTimestamp" not in fd.get_changeset(datasetId=prices, changesetId=r), "the REPLACE stays active")
results["replace"] = {"dataset": prices, "changeset": r}
results["correction"] = {"dataset": prices, "changeset": m2}

# Failures carry their errorCategory and say what to fix.
trades = dataset("Trades", [("sym", "STRING"), ("qty", "INTEGER")])
for name, uri, fmt, cat, words in [
    ("bad value", upload("bad.csv", b"sym,qty\nA,1\nB,lots\n"), {"formatType": "CSV"}, "VALIDATION", ["bad.csv", "line 3", "qty", "lots"]),
    ("missing", "s3://%s/%snothing-here.csv" % (bucket, prefix), {"formatType": "CSV"}, "RESOURCE_NOT_FOUND", ["nothing-here.csv"]),
    ("other bucket", "s3://some-other-bucket/x.csv", {"formatType": "CSV"}, "ACCESS_DENIED", ["working bucket"]),
    ("not gzip", upload("plain.csv.gz", b"sym,qty\nA,1\n"), {"formatType": "CSV", "compression": "gzip"}, "USER_RECOVERABLE", ["plain.csv.gz"]),
    ("not json", upload("notjson.json", b"sym,qty\nA,1\n"), {"formatType": "JSON"}, "USER_RECOVERABLE", ["notjson.json"]),
    ("bad xml value", upload("bad.xml", b"<t>\n<r><sym>A</sym><qty>1</qty></r>\n<r><sym>B</sym><qty>many</qty></r>\n</t>"), {"formatType": "XML"},
     "VALIDATION", ["bad.xml", "line 3", "qty", "many"]),
    ("malformed xml", upload("broken.xml", b"<t><r><sym>A</r></t>"), {"formatType": "XML"}, "USER_RECOVERABLE", ["broken.xml"]),
]:
    out = wait(trades, changeset(trades, uri, fmt))
    info = out.get("errorInfo", {})
    check(out["status"] == "FAILED" and info.get("errorCategory") == cat, "%s: %s" % (name, out))
    for w in words:
        check(w in info.get("errorMessage", ""), "%s: message %r lacks %r" % (name, info.get("errorMessage"), w))
check(fd.get_dataset(datasetId=trades)["status"] == "FAILED", "dataset status follows its latest changeset")
for src, fmt in [({"sourceType": "S3"}, {"formatType": "CSV"}),
                 ({"s3SourcePath": "s3://" + bucket + "/x.csv"}, {"formatType": "AVRO"}),
                 ({"s3SourcePath": "s3://" + bucket + "/x.csv"}, {"formatType": "CSV", "compression": "lzma"})]:
    check(error_code(fd.create_changeset, datasetId=trades, changeType="APPEND", sourceParams=src, formatParams=fmt) == "ValidationException",
          "bad request %s %s" % (src, fmt))
check(error_code(fd.create_dataset, datasetTitle="dup", kind="TABULAR", alias="alias/all-types",
                 permissionGroupParams={"permissionGroupId": group},
                 schemaDefinition={"tabularSchemaConfig": {"columns": [{"columnName": "a", "dataType": "STRING"}]}}) == "ConflictException",
      "a second dataset with the same alias")

# An APP_USER gets only what its group's dataset permissions allow.
role = "arn:aws:iam::000000000000:role/analyst"
# botocore <= 1.31 (Debian's) names the member ApiAccess.
access = "ApiAccess" if "ApiAccess" in fd.meta.service_model.operation_model("CreateUser").input_shape.members else "apiAccess"
user = fd.create_user(emailAddress="analyst@example.com", type="APP_USER", apiAccessPrincipalArn=role, **{access: "ENABLED"})["userId"]
viewers = fd.create_permission_group(name="viewers", applicationPermissions=[])["permissionGroupId"]
fd.associate_user_to_permission_group(permissionGroupId=viewers, userId=user)
viewed = dataset("Viewed", [("sym", "STRING")], grant_group=viewers, perms=["ViewDatasetDetails"])
sess = boto3.client("sts", endpoint_url=endpoint, region_name=region).assume_role(RoleArn=role, RoleSessionName="analyst")["Credentials"]
analyst = boto3.client("finspace-data", endpoint_url=endpoint, region_name=region,
                       aws_access_key_id=sess["AccessKeyId"], aws_secret_access_key=sess["SecretAccessKey"],
                       aws_session_token=sess["SessionToken"])
check(analyst.get_dataset(datasetId=viewed)["datasetId"] == viewed, "ViewDatasetDetails allows get_dataset")
check([d["datasetId"] for d in analyst.list_datasets()["datasets"]] == [viewed], "list_datasets shows only the viewable")
analyst.list_changesets(datasetId=viewed)
denied = {
    "create_dataset (CreateDataset)": lambda: analyst.create_dataset(datasetTitle="x", kind="TABULAR",
        permissionGroupParams={"permissionGroupId": viewers},
        schemaDefinition={"tabularSchemaConfig": {"columns": [{"columnName": "a", "dataType": "STRING"}]}}),
    "create_changeset (AddDatasetData)": lambda: analyst.create_changeset(datasetId=viewed, changeType="APPEND",
        sourceParams={"s3SourcePath": upload("v.csv", b"sym\nV\n")}, formatParams={"formatType": "CSV"}),
    "update_dataset (EditDatasetMetadata)": lambda: analyst.update_dataset(datasetId=viewed, datasetTitle="renamed", kind="TABULAR",
        schemaDefinition={"tabularSchemaConfig": {"columns": [{"columnName": "sym", "dataType": "STRING"}]}}),
    "delete_dataset (DeleteDataset)": lambda: analyst.delete_dataset(datasetId=viewed),
    "get_dataset of another dataset (ViewDatasetDetails)": lambda: analyst.get_dataset(datasetId=trades),
    "get_changeset of another dataset (ViewDatasetDetails)": lambda: analyst.get_changeset(datasetId=prices, changesetId=a),
}
for what, call in denied.items():
    try:
        call()
    except ClientError as e:
        check(e.response["Error"]["Code"] == "AccessDeniedException", "%s: %s" % (what, e))
        continue
    check(False, "%s was allowed" % what)

# UpdateDataset and DeleteDataset.
fd.update_dataset(datasetId=trades, datasetTitle="Trades v2", kind="TABULAR", datasetDescription="renamed",
                  schemaDefinition={"tabularSchemaConfig": {"columns": [{"columnName": "sym", "dataType": "STRING"},
                                                                        {"columnName": "qty", "dataType": "BIGINT"}]}})
got = fd.get_dataset(datasetId=trades)
check(got["datasetTitle"] == "Trades v2" and got["schemaDefinition"]["tabularSchemaConfig"]["columns"][1]["dataType"] == "BIGINT", got)
check(fd.delete_dataset(datasetId=trades)["datasetId"] == trades, "delete_dataset answers the id")
check(error_code(fd.get_dataset, datasetId=trades) == "ResourceNotFoundException", "get_dataset after delete_dataset")
all_ids = [d["datasetId"] for p in fd.get_paginator("list_datasets").paginate(PaginationConfig={"PageSize": 1}) for d in p["datasets"]]
check(trades not in all_ids and ds in all_ids and prices in all_ids and viewed in all_ids, all_ids)

with open(os.environ["OPENFINSPACE_RESULT"], "w") as f:
    json.dump(results, f)
print("datasets boto3 flow: ok", botocore.__version__)
