"""Data views through boto3: static views before and after a REPLACE, an
auto-update view following an APPEND and a correction, partitioned sorted
Parquet, gzip delimited text, a GLUE_TABLE view found through boto3's glue
client, external access credentials (and what they may not do), failure
paths and permissions.

Every view's files are downloaded through the S3 endpoint with the view's
own external credentials into $OPENFINSPACE_OUT/<name>/ (Glue views by the
partition locations get_partitions gives); the Go test reads the Parquet
back with DuckDB. $OPENFINSPACE_RESULT gets what the Go test checks.
"""
import csv
import gzip
import io
import json
import os
import sys
import time

import boto3
import botocore
from botocore.exceptions import ClientError

endpoint = os.environ["OPENFINSPACE_ENDPOINT"]
env_id = os.environ["OPENFINSPACE_ENVIRONMENT_ID"]
out_dir = os.environ["OPENFINSPACE_OUT"]
region = "us-east-1"
fd = boto3.client("finspace-data", endpoint_url=endpoint, region_name=region)
glue = boto3.client("glue", endpoint_url=endpoint, region_name=region)
path_style = botocore.config.Config(s3={"addressing_style": "path"})
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
                  aws_session_token=creds["sessionToken"], config=path_style)
loc = fd.get_working_location(locationType="INGESTION")
bucket = loc["s3Bucket"]
prefix = loc["s3Path"][len(bucket) + 1:]


def upload(name, body):
    s3.put_object(Bucket=bucket, Key=prefix + name, Body=body)
    return "s3://%s/%s%s" % (bucket, prefix, name)


group = fd.create_permission_group(name="analysts", applicationPermissions=["GetTemporaryCredentials"])["permissionGroupId"]
ALL = ["ViewDatasetDetails", "ReadDatasetData", "AddDatasetData", "CreateDataView", "EditDatasetMetadata", "DeleteDataset"]
COLUMNS = [("sym", "STRING"), ("day", "DATE"), ("px", "DOUBLE"), ("qty", "BIGINT")]


def dataset(title, grant_group=group, perms=ALL):
    return fd.create_dataset(
        datasetTitle=title, kind="TABULAR",
        permissionGroupParams={"permissionGroupId": grant_group,
                               "datasetPermissions": [{"permission": p} for p in perms]},
        schemaDefinition={"tabularSchemaConfig": {
            "columns": [{"columnName": n, "dataType": t} for n, t in COLUMNS]}})["datasetId"]


def wait_changeset(ds, cs):
    deadline = time.time() + 60
    while True:
        out = fd.get_changeset(datasetId=ds, changesetId=cs)
        if out["status"] == "SUCCESS":
            return out
        check(out["status"] in ("PENDING", "RUNNING"), "changeset %s" % out)
        check(time.time() < deadline, "changeset %s still %s" % (cs, out["status"]))
        time.sleep(0.05)


def append(ds, name, rows, change_type="APPEND"):
    body = "sym,day,px,qty\n" + "".join("%s,%s,%s,%s\n" % r for r in rows)
    cs = fd.create_changeset(datasetId=ds, changeType=change_type,
                             sourceParams={"s3SourcePath": upload(name, body.encode()), "sourceType": "S3"},
                             formatParams={"formatType": "CSV"})["changesetId"]
    return wait_changeset(ds, cs)


def view(ds, dest, **kw):
    return fd.create_data_view(datasetId=ds, destinationTypeParams=dest, **kw)["dataViewId"]


S3_PARQUET = {"destinationType": "S3", "s3DestinationExportFileFormat": "PARQUET"}


def wait_view(ds, dv, after=None):
    """Waits until view dv is SUCCESS (with asOfTimestamp >= after)."""
    deadline = time.time() + 60
    seen = set()
    while True:
        out = fd.get_data_view(datasetId=ds, dataViewId=dv)
        seen.add(out["status"])
        if out["status"] == "SUCCESS" and (after is None or out["asOfTimestamp"] >= after):
            out["seen"] = sorted(seen)
            return out
        check(out["status"] in ("PENDING", "STARTING", "RUNNING", "SUCCESS"), "view %s" % out)
        check(time.time() < deadline, "view %s still %s" % (dv, out["status"]))
        time.sleep(0.05)


def external(ds, dv):
    x = fd.get_external_data_view_access_details(datasetId=ds, dataViewId=dv)
    c = x["credentials"]
    check(c["accessKeyId"].startswith("ASIA") and c["sessionToken"], x)
    now_ms = time.time() * 1000
    check(now_ms + 55 * 60 * 1000 < c["expiration"] <= now_ms + 61 * 60 * 1000, "expiration in an hour: %s" % c)
    client = boto3.client("s3", endpoint_url=endpoint, region_name=region, aws_access_key_id=c["accessKeyId"],
                          aws_secret_access_key=c["secretAccessKey"], aws_session_token=c["sessionToken"], config=path_style)
    return client, x["s3Location"]


def download(name, client, loc):
    """Downloads every object under loc with client into out_dir/name."""
    keys = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=loc["bucket"], Prefix=loc["key"]):
        for o in page.get("Contents", []):
            rel = o["Key"][len(loc["key"]):]
            dest = os.path.join(out_dir, name, rel)
            os.makedirs(os.path.dirname(dest), exist_ok=True)
            client.download_file(loc["bucket"], o["Key"], dest)
            keys.append(rel)
    return sorted(keys)


A_ROWS = [("A", "2024-01-02", 2.5, 20), ("A", "2024-01-01", 1.5, 10), ("B", "2024-01-01", 3.25, 30), ("C", "2024-01-02", 0.5, 5)]
R_ROWS = [("R", "2024-02-01", 9.0, 90), ("Q", "2024-02-01", 8.0, 80)]

# --- a static view before and after a REPLACE -------------------------
prices = dataset("Prices")
first = append(prices, "a.csv", A_ROWS)
t_a = first["activeFromTimestamp"]
before = view(prices, S3_PARQUET, asOfTimestamp=t_a, partitionColumns=["day"], sortColumns=["sym", "px"])
got = wait_view(prices, before)
check(got["asOfTimestamp"] == t_a and got["autoUpdate"] is False and got["partitionColumns"] == ["day"]
      and got["sortColumns"] == ["sym", "px"] and got["destinationTypeParams"]["destinationType"] == "S3"
      and got["dataViewArn"].endswith("/dataview/" + before) and got["createTime"] > 1e12, got)
time.sleep(0.01)
replace = append(prices, "r.csv", R_ROWS, "REPLACE")
after = view(prices, S3_PARQUET, partitionColumns=["day"], sortColumns=["sym", "px"])
# A view created after the REPLACE, as of before it: the old rows.
old_again = view(prices, S3_PARQUET, asOfTimestamp=t_a, sortColumns=["sym", "px"])
got = wait_view(prices, after)
check(got["asOfTimestamp"] >= replace["activeFromTimestamp"], got)
wait_view(prices, old_again)
files = {}
for name, dv in [("before", before), ("after", after), ("old_again", old_again)]:
    client, loc = external(prices, dv)
    check(loc["bucket"].endswith("-managed") and loc["key"].endswith("/"), loc)
    files[name] = download(name, client, loc)
results["static"] = files
check(files["before"] == ["day=2024-01-01/part-00000.parquet", "day=2024-01-02/part-00000.parquet"], files)
check(files["after"] == ["day=2024-02-01/part-00000.parquet"], files)
check(files["old_again"] == ["part-00000.parquet"], files)

# --- what external credentials may not do ----------------------------
client, loc = external(prices, before)
_, other = external(prices, after)
refused = {
    "another view's output": lambda: client.get_object(Bucket=other["bucket"], Key=other["key"] + files["after"][0]),
    "listing another view": lambda: client.list_objects_v2(Bucket=other["bucket"], Prefix=other["key"]),
    "the dataset's changesets": lambda: client.list_objects_v2(Bucket=loc["bucket"], Prefix="datasets/%s/changesets/" % prices),
    "the changeset's stored data": lambda: client.get_object(Bucket=loc["bucket"],
                                                             Key="datasets/%s/changesets/%s/data.parquet" % (prices, first["changesetId"])),
    "the sources": lambda: client.get_object(Bucket=bucket, Key=prefix + "a.csv"),
    "a write into its own output": lambda: client.put_object(Bucket=loc["bucket"], Key=loc["key"] + "evil.parquet", Body=b"x"),
    "a delete of its own output": lambda: client.delete_object(Bucket=loc["bucket"], Key=loc["key"] + files["before"][0]),
}
for what, call in refused.items():
    try:
        call()
    except ClientError as e:
        check(e.response["Error"]["Code"] in ("AccessDenied", "403"), "%s: %s" % (what, e.response["Error"]))
        continue
    check(False, "external credentials allowed %s" % what)
# Still readable (the delete was refused).
client.head_object(Bucket=loc["bucket"], Key=loc["key"] + files["before"][0])

# --- an auto-update view: delimited text, gzip, following changesets -----
trades = dataset("Trades")
base = append(trades, "t1.csv", [("X", "2024-03-01", 1.0, 1), ("Y", "2024-03-01", 2.0, 2)])
auto = view(trades, {"destinationType": "S3", "s3DestinationExportFileFormat": "DELIMITED_TEXT",
                     "s3DestinationExportFileFormatOptions": {"header": "true", "delimiter": "|", "compression": "gzip"}},
            autoUpdate=True, sortColumns=["qty"])
got = wait_view(trades, auto)
check(got["autoUpdate"] is True and got["destinationTypeParams"]["s3DestinationExportFileFormatOptions"]
      == {"header": "true", "delimiter": "|", "compression": "gzip"}, got)


def auto_rows():
    client, loc = external(trades, auto)
    keys = [o["Key"] for o in client.list_objects_v2(Bucket=loc["bucket"], Prefix=loc["key"]).get("Contents", [])]
    check(keys == [loc["key"] + "part-00000.csv.gz"], keys)
    body = gzip.decompress(client.get_object(Bucket=loc["bucket"], Key=keys[0])["Body"].read()).decode()
    return list(csv.reader(io.StringIO(body), delimiter="|")), loc


rows, loc1 = auto_rows()
check(rows == [["sym", "day", "px", "qty"], ["X", "2024-03-01", "1.0", "1"], ["Y", "2024-03-01", "2.0", "2"]], rows)
appended = append(trades, "t2.csv", [("Z", "2024-03-02", 0.25, 0), ("W", "2024-03-02", 5.5, 7)])
got = wait_view(trades, auto, after=appended["activeFromTimestamp"])
rows, loc2 = auto_rows()
check(loc2["key"] != loc1["key"], "a new version lives under a new prefix: %s %s" % (loc1, loc2))
check(rows == [["sym", "day", "px", "qty"], ["Z", "2024-03-02", "0.25", "0"], ["X", "2024-03-01", "1.0", "1"],
               ["Y", "2024-03-01", "2.0", "2"], ["W", "2024-03-02", "5.5", "7"]], rows)
fix = fd.update_changeset(datasetId=trades, changesetId=appended["changesetId"],
                          sourceParams={"s3SourcePath": upload("t2fix.csv", b"sym,day,px,qty\nZ,2024-03-02,0.75,3\n")},
                          formatParams={"formatType": "CSV"})["changesetId"]
fixed = wait_changeset(trades, fix)
got = wait_view(trades, auto, after=fixed["activeFromTimestamp"])
rows, loc3 = auto_rows()
check(rows == [["sym", "day", "px", "qty"], ["X", "2024-03-01", "1.0", "1"], ["Y", "2024-03-01", "2.0", "2"],
               ["Z", "2024-03-02", "0.75", "3"]], rows)
# The version before the switch is still readable with credentials issued for it.
old_client, _ = external(trades, auto)  # current (loc3)
check(len(old_client.list_objects_v2(Bucket=loc3["bucket"], Prefix=loc3["key"]).get("Contents", [])) == 1, "current version")
results["auto_prefixes"] = [loc1["key"], loc2["key"], loc3["key"]]

# --- a GLUE_TABLE view ------------------------------------------------
gv = view(prices, {"destinationType": "GLUE_TABLE"}, asOfTimestamp=t_a, partitionColumns=["sym"], sortColumns=["day"])
got = wait_view(prices, gv)
opts = got["destinationTypeParams"]["s3DestinationExportFileFormatOptions"]
gdb, gtable = opts["glueDatabaseName"], opts["glueTableName"]
table = glue.get_table(DatabaseName=gdb, Name=gtable)["Table"]
sd = table["StorageDescriptor"]
check([c["Name"] for c in sd["Columns"]] == ["day", "px", "qty"] and [c["Type"] for c in sd["Columns"]] == ["date", "double", "bigint"], sd)
check([k["Name"] for k in table["PartitionKeys"]] == ["sym"] and table["PartitionKeys"][0]["Type"] == "string", table)
check(sd["SerdeInfo"]["SerializationLibrary"] == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe", sd)
check(sd["InputFormat"].endswith("MapredParquetInputFormat") and table["TableType"] == "EXTERNAL_TABLE", table)
parts = glue.get_partitions(DatabaseName=gdb, TableName=gtable)["Partitions"]
check(sorted(p["Values"][0] for p in parts) == ["A", "B", "C"], parts)
gclient, gloc = external(prices, gv)
check(sd["Location"] == "s3://%s/%s" % (gloc["bucket"], gloc["key"]), (sd["Location"], gloc))
glue_parts = {}
for p in parts:
    ploc = p["StorageDescriptor"]["Location"]
    check(ploc.startswith(sd["Location"]) and ploc.endswith("/"), ploc)
    pb, _, pk = ploc[len("s3://"):].partition("/")
    name = "glue_" + p["Values"][0]
    download(name, gclient, {"bucket": pb, "key": pk})
    glue_parts[name] = p["Values"]
check(glue.get_partitions(DatabaseName=gdb, TableName=gtable, Expression="sym = 'B'")["Partitions"][0]["Values"] == ["B"], "filter")
results["glue"] = glue_parts
listed = [t["Name"] for t in glue.get_tables(DatabaseName=gdb)["TableList"]]
check(gtable in listed, listed)

# --- a dataset with no successful changeset: an empty view -------------
empty = dataset("Empty")
ev = view(empty, S3_PARQUET)
wait_view(empty, ev)
eclient, eloc = external(empty, ev)
results["empty"] = download("empty", eclient, eloc)
epart = view(empty, S3_PARQUET, partitionColumns=["sym"])
wait_view(empty, epart)
eclient, eloc = external(empty, epart)
check(download("empty_partitioned", eclient, eloc) == [], "an empty partitioned view has no files")

# --- bad requests -----------------------------------------------------
for what, kw in [
    ("unknown partition column", {"destinationTypeParams": S3_PARQUET, "partitionColumns": ["nope"]}),
    ("unknown sort column", {"destinationTypeParams": S3_PARQUET, "sortColumns": ["sym", "nope"]}),
    ("every column a partition", {"destinationTypeParams": S3_PARQUET, "partitionColumns": ["sym", "day", "px", "qty"]}),
    ("unknown destination", {"destinationTypeParams": {"destinationType": "REDSHIFT"}}),
    ("glue as text", {"destinationTypeParams": {"destinationType": "GLUE_TABLE", "s3DestinationExportFileFormat": "DELIMITED_TEXT"}}),
    ("bad option", {"destinationTypeParams": {"destinationType": "S3", "s3DestinationExportFileFormat": "DELIMITED_TEXT",
                                              "s3DestinationExportFileFormatOptions": {"delimiter": "||"}}}),
    ("unknown option", {"destinationTypeParams": {"destinationType": "S3", "s3DestinationExportFileFormatOptions": {"colour": "red"}}}),
    ("future asOf", {"destinationTypeParams": S3_PARQUET, "asOfTimestamp": int(time.time() * 1000) + 3600 * 1000}),
    ("asOf with autoUpdate", {"destinationTypeParams": S3_PARQUET, "asOfTimestamp": t_a, "autoUpdate": True}),
]:
    try:
        fd.create_data_view(datasetId=prices, **kw)
    except ClientError as e:
        check(e.response["Error"]["Code"] == "ValidationException", "%s: %s" % (what, e))
        continue
    check(False, "%s was accepted" % what)
check(error_code(fd.get_data_view, datasetId=prices, dataViewId="nosuchview") == "ResourceNotFoundException", "unknown view")
check(error_code(fd.get_data_view, datasetId=trades, dataViewId=before) == "ResourceNotFoundException", "view of another dataset")
check(error_code(fd.create_data_view, datasetId="nosuchdataset", destinationTypeParams=S3_PARQUET) == "ResourceNotFoundException", "unknown dataset")

# --- listing ----------------------------------------------------------
listed = [v["dataViewId"] for p in fd.get_paginator("list_data_views").paginate(datasetId=prices, PaginationConfig={"PageSize": 1})
          for v in p["dataViews"]]
check(listed == [before, after, old_again, gv], listed)
summary = fd.list_data_views(datasetId=prices)["dataViews"][0]
check(summary["status"] == "SUCCESS" and summary["destinationTypeProperties"]["destinationType"] == "S3"
      and summary["partitionColumns"] == ["day"] and summary["asOfTimestamp"] == t_a, summary)

# --- permissions ------------------------------------------------------
role = "arn:aws:iam::000000000000:role/analyst"
access = "ApiAccess" if "ApiAccess" in fd.meta.service_model.operation_model("CreateUser").input_shape.members else "apiAccess"
user = fd.create_user(emailAddress="analyst@example.com", type="APP_USER", apiAccessPrincipalArn=role, **{access: "ENABLED"})["userId"]
viewers = fd.create_permission_group(name="viewers", applicationPermissions=[])["permissionGroupId"]
fd.associate_user_to_permission_group(permissionGroupId=viewers, userId=user)
viewed = dataset("Viewed", grant_group=viewers, perms=["ViewDatasetDetails"])
vv = view(viewed, S3_PARQUET)
wait_view(viewed, vv)
sess = boto3.client("sts", endpoint_url=endpoint, region_name=region).assume_role(RoleArn=role, RoleSessionName="analyst")["Credentials"]
analyst = boto3.client("finspace-data", endpoint_url=endpoint, region_name=region,
                       aws_access_key_id=sess["AccessKeyId"], aws_secret_access_key=sess["SecretAccessKey"],
                       aws_session_token=sess["SessionToken"])
check(analyst.get_data_view(datasetId=viewed, dataViewId=vv)["status"] == "SUCCESS", "ViewDatasetDetails allows get_data_view")
check([v["dataViewId"] for v in analyst.list_data_views(datasetId=viewed)["dataViews"]] == [vv], "and list_data_views")
for what, call in {
    "create_data_view (CreateDataView)": lambda: analyst.create_data_view(datasetId=viewed, destinationTypeParams=S3_PARQUET),
    "get_external_data_view_access_details (ReadDatasetData)": lambda: analyst.get_external_data_view_access_details(
        datasetId=viewed, dataViewId=vv),
    "get_data_view of another dataset (ViewDatasetDetails)": lambda: analyst.get_data_view(datasetId=prices, dataViewId=before),
}.items():
    try:
        call()
    except ClientError as e:
        check(e.response["Error"]["Code"] == "AccessDeniedException", "%s: %s" % (what, e))
        continue
    check(False, "%s was allowed" % what)

with open(os.environ["OPENFINSPACE_RESULT"], "w") as f:
    json.dump(results, f)
print("dataviews boto3 flow: ok", botocore.__version__)
