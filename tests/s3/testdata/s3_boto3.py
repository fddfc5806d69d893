"""S3 round trips with boto3 through openfinspace's main port.

Environment: OPENFINSPACE_ENDPOINT, the root credentials in
AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, and scoped read credentials
SCOPED_ACCESS_KEY_ID / SCOPED_SECRET_ACCESS_KEY / SCOPED_SESSION_TOKEN for
s3://$SCOPED_BUCKET/allowed/. BIG_MIB sets the size of the multipart
transfer (default 100). Runs in an empty working directory.
"""
import hashlib
import io
import os
import sys
import time
import urllib.request
import uuid

import boto3
import botocore
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["OPENFINSPACE_ENDPOINT"]
# s3v4: botocore presigns with SigV2 by default, which no endpoint here accepts.
CONFIG = Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1})
print("boto3", boto3.__version__, "botocore", botocore.__version__, flush=True)


def client(**kw):
    return boto3.client("s3", endpoint_url=ENDPOINT, config=CONFIG, **kw)


def expect_error(what, fn, *codes):
    try:
        fn()
    except ClientError as e:
        code = e.response["Error"]["Code"]
        if code not in codes:
            raise AssertionError(f"{what}: error {code}, want one of {codes}") from e
        return
    raise AssertionError(f"{what}: no error, want {codes}")


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


s3 = client()
bucket = "boto3-" + uuid.uuid4().hex[:12]
s3.create_bucket(Bucket=bucket)
assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
expect_error("create twice", lambda: s3.create_bucket(Bucket=bucket), "BucketAlreadyOwnedByYou", "BucketAlreadyExists")
expect_error("invalid bucket name", lambda: s3.create_bucket(Bucket="Invalid_Name"), "InvalidBucketName")

print("--- small objects", flush=True)
s3.put_object(Bucket=bucket, Key="small.txt", Body=b"hello from boto3\n", ContentType="text/plain")
obj = s3.get_object(Bucket=bucket, Key="small.txt")
assert obj["Body"].read() == b"hello from boto3\n"
assert obj["ContentType"] == "text/plain", obj["ContentType"]
head = s3.head_object(Bucket=bucket, Key="small.txt")
assert head["ContentLength"] == 17 and head["ETag"] == '"%s"' % hashlib.md5(b"hello from boto3\n").hexdigest()
# A non-seekable stream goes out in aws-chunked encoding where botocore
# supports it.
s3.put_object(Bucket=bucket, Key="stream.bin", Body=io.BufferedReader(io.BytesIO(b"s" * 300000)))
assert s3.get_object(Bucket=bucket, Key="stream.bin")["Body"].read() == b"s" * 300000
s3.upload_fileobj(io.BytesIO(b"f" * 1000), bucket, "fileobj.bin")
expect_error("missing key", lambda: s3.get_object(Bucket=bucket, Key="nope"), "NoSuchKey")
expect_error("missing bucket", lambda: s3.get_object(Bucket=bucket + "-nope", Key="k"), "NoSuchBucket")

print("--- upload_file / download_file, multipart", flush=True)
mib = int(os.environ.get("BIG_MIB", "100"))
with open("big.bin", "wb") as f:
    for _ in range(mib):
        f.write(os.urandom(1 << 20))
cfg = TransferConfig(multipart_threshold=8 << 20, multipart_chunksize=8 << 20, max_concurrency=4)
t0 = time.time()
s3.upload_file("big.bin", bucket, "big/big.bin", Config=cfg)
t1 = time.time()
s3.download_file(bucket, "big/big.bin", "big.back", Config=cfg)
t2 = time.time()
assert sha256_file("big.bin") == sha256_file("big.back"), "multipart object differs"
head = s3.head_object(Bucket=bucket, Key="big/big.bin")
assert head["ContentLength"] == mib << 20 and "-" in head["ETag"], head
print(f"upload {t1 - t0:.2f} s ({mib / (t1 - t0):.0f} MiB/s), download {t2 - t1:.2f} s ({mib / (t2 - t1):.0f} MiB/s), ETag {head['ETag']}")
os.remove("big.bin")
os.remove("big.back")
assert not s3.list_multipart_uploads(Bucket=bucket).get("Uploads"), "uploads left in progress"

print("--- listings", flush=True)
for k in ["data/2024/a.csv", "data/2024/b.csv", "data/2025/c.csv", "data/readme.md", "logs/x.log", "sp ace/ü.txt"]:
    s3.put_object(Bucket=bucket, Key=k, Body=k.encode())
out = s3.list_objects_v2(Bucket=bucket, Prefix="data/", Delimiter="/")
assert [o["Key"] for o in out["Contents"]] == ["data/readme.md"], out
assert [p["Prefix"] for p in out["CommonPrefixes"]] == ["data/2024/", "data/2025/"], out
out = s3.list_objects_v2(Bucket=bucket, Delimiter="/")
assert sorted(p["Prefix"] for p in out["CommonPrefixes"]) == ["big/", "data/", "logs/", "sp ace/"], out
keys = []
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="data/", PaginationConfig={"PageSize": 2}):
    keys += [o["Key"] for o in page.get("Contents", [])]
assert keys == ["data/2024/a.csv", "data/2024/b.csv", "data/2025/c.csv", "data/readme.md"], keys
v1 = s3.list_objects(Bucket=bucket, Prefix="data/2024/")
assert [o["Key"] for o in v1["Contents"]] == ["data/2024/a.csv", "data/2024/b.csv"], v1
assert s3.get_object(Bucket=bucket, Key="sp ace/ü.txt")["Body"].read() == "sp ace/ü.txt".encode()

print("--- presigned URL", flush=True)
url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "data/readme.md"}, ExpiresIn=300)
with urllib.request.urlopen(url) as resp:
    assert resp.read() == b"data/readme.md"

print("--- deletes", flush=True)
s3.delete_object(Bucket=bucket, Key="logs/x.log")
expect_error("deleted object", lambda: s3.head_object(Bucket=bucket, Key="logs/x.log"), "404", "NotFound")
out = s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k} for k in ["data/2024/a.csv", "data/2024/b.csv"]]})
assert len(out["Deleted"]) == 2, out
assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="data/2024/").get("Contents", [])] == []

print("--- wrong secret", flush=True)
wrong = client(aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key="wrong-secret")
expect_error("wrong secret", lambda: wrong.list_objects_v2(Bucket=bucket), "SignatureDoesNotMatch")
expect_error("upload with a wrong secret", lambda: wrong.put_object(Bucket=bucket, Key="evil", Body=b"x"), "SignatureDoesNotMatch")
expect_error("refused upload", lambda: s3.head_object(Bucket=bucket, Key="evil"), "404", "NotFound")

print("--- scoped read credentials", flush=True)
sb = os.environ["SCOPED_BUCKET"]
scoped = client(aws_access_key_id=os.environ["SCOPED_ACCESS_KEY_ID"],
                aws_secret_access_key=os.environ["SCOPED_SECRET_ACCESS_KEY"],
                aws_session_token=os.environ["SCOPED_SESSION_TOKEN"])
assert scoped.get_object(Bucket=sb, Key="allowed/x.txt")["Body"].read() == b"allowed data"
scoped.download_file(sb, "allowed/x.txt", "scoped.txt")
assert open("scoped.txt", "rb").read() == b"allowed data"
assert [o["Key"] for o in scoped.list_objects_v2(Bucket=sb, Prefix="allowed/")["Contents"]] == ["allowed/x.txt"]
denied = ("AccessDenied", "403")
expect_error("read outside the prefix", lambda: scoped.get_object(Bucket=sb, Key="secret/y.txt"), *denied)
expect_error("head outside the prefix", lambda: scoped.head_object(Bucket=sb, Key="secret/y.txt"), *denied)
expect_error("put", lambda: scoped.put_object(Bucket=sb, Key="allowed/new", Body=b"x"), *denied)
expect_error("list without prefix", lambda: scoped.list_objects_v2(Bucket=sb), *denied)
expect_error("list another prefix", lambda: scoped.list_objects_v2(Bucket=sb, Prefix="secret/"), *denied)
expect_error("delete", lambda: scoped.delete_object(Bucket=sb, Key="allowed/x.txt"), *denied)
expect_error("list buckets", lambda: scoped.list_buckets(), *denied)
url = scoped.generate_presigned_url("get_object", Params={"Bucket": sb, "Key": "allowed/x.txt"}, ExpiresIn=300)
with urllib.request.urlopen(url) as resp:
    assert resp.read() == b"allowed data"

print("--- cleanup", flush=True)
for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
    for o in page.get("Contents", []):
        s3.delete_object(Bucket=bucket, Key=o["Key"])
s3.delete_bucket(Bucket=bucket)
print("all boto3 S3 checks passed")
