#!/usr/bin/env python3
"""Managed kdb databases and changesets through boto3, as the public
FinSpace welcome notebook and managed_kx.py do: a database, a kdb+ layout
uploaded to S3, the notebook's form (one PUT per partition plus the root
sym in one changeset), a whole-db PUT into a second database, a DELETE,
counters exact after each, get_kx_changeset polling, list order.

Environment: OPENFINSPACE_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
"""

import os
import sys
import time
import unittest

import boto3
import botocore.config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["OPENFINSPACE_ENDPOINT"].rstrip("/")
DATES = ["2024.01.%02d" % d for d in range(1, 11)]


def layout(dates):
    files = {"sym": b"`AAPL`MSFT`IBM"}
    for d in dates:
        files[d + "/trade/.d"] = b"`sym`price`size"
        files[d + "/trade/price"] = os.urandom(2000)
        files[d + "/trade/size"] = os.urandom(500)
    return files


def totals(files):
    return len(files), sum(len(b) for b in files.values())


class KxDatabases(unittest.TestCase):
    def setUp(self):
        self.fs = boto3.client("finspace", endpoint_url=ENDPOINT, region_name="us-east-1")
        self.s3 = boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1",
                               config=botocore.config.Config(s3={"addressing_style": "path"}))

    def wait(self, fn, pred, what):
        deadline = time.time() + 20
        while True:
            out = fn()
            if pred(out):
                return out
            if time.time() > deadline:
                raise AssertionError("%s: stuck: %s" % (what, out))
            time.sleep(0.05)

    def changeset(self, env, db, reqs, token):
        cs = self.fs.create_kx_changeset(environmentId=env, databaseName=db, changeRequests=reqs, clientToken=token)
        self.assertEqual(cs["status"], "PENDING")
        return self.wait(lambda: self.fs.get_kx_changeset(environmentId=env, databaseName=db, changesetId=cs["changesetId"]),
                         lambda c: c["status"] in ("COMPLETED", "FAILED"), "changeset")

    def counters(self, env, db, files, changesets, last):
        d = self.fs.get_kx_database(environmentId=env, databaseName=db)
        n, b = totals(files)
        self.assertEqual((d["numFiles"], d["numBytes"], d["numChangesets"], d.get("lastCompletedChangesetId")),
                         (n, b, changesets, last))

    def test_flow(self):
        fs = self.fs
        env = fs.create_kx_environment(name="welcome", kmsKeyId="arn:aws:kms:us-east-1:000000000000:key/k")["environmentId"]
        self.wait(lambda: fs.get_kx_environment(environmentId=env), lambda e: e["status"] == "CREATED", "environment")
        db = "welcomedb"
        fs.create_kx_database(environmentId=env, databaseName=db, description="welcome", clientToken="welcome-db")
        self.counters(env, db, {}, 0, None)

        bucket = "welcome-kx-data"
        self.s3.create_bucket(Bucket=bucket)
        files = layout(DATES)
        for p, body in files.items():
            self.s3.put_object(Bucket=bucket, Key="hdb/" + p, Body=body)

        # The notebook's form: one PUT per partition, then the root sym.
        reqs = [{"changeType": "PUT", "s3Path": "s3://%s/hdb/%s/" % (bucket, d), "dbPath": "/%s/" % d} for d in DATES]
        reqs.append({"changeType": "PUT", "s3Path": "s3://%s/hdb/sym" % bucket, "dbPath": "/"})
        self.assertEqual(len(reqs), 11)
        c1 = self.changeset(env, db, reqs, "welcome-cs1")
        self.assertEqual(c1["status"], "COMPLETED", c1.get("errorInfo"))
        self.assertIn("activeFromTimestamp", c1)
        self.assertEqual(c1["changeRequests"], reqs)
        self.counters(env, db, files, 1, c1["changesetId"])

        c2 = self.changeset(env, db, [{"changeType": "DELETE", "dbPath": "/2024.01.01/"}], "welcome-cs2")
        self.assertEqual(c2["status"], "COMPLETED")
        rest = {p: b for p, b in files.items() if not p.startswith("2024.01.01/")}
        self.counters(env, db, rest, 2, c2["changesetId"])

        c3 = self.changeset(env, db, [{"changeType": "PUT", "s3Path": "s3://%s/nope/sym" % bucket, "dbPath": "/"}], "welcome-cs3")
        self.assertEqual(c3["status"], "FAILED")
        self.assertEqual(c3["errorInfo"]["errorType"], "One or more inputs to this request were not found.")
        self.counters(env, db, rest, 3, c2["changesetId"])

        latest = fs.list_kx_changesets(environmentId=env, databaseName=db, maxResults=1)["kxChangesets"]
        self.assertEqual([c["changesetId"] for c in latest], [c3["changesetId"]])
        ids = [c["changesetId"] for c in fs.list_kx_changesets(environmentId=env, databaseName=db)["kxChangesets"]]
        self.assertEqual(ids, [c3["changesetId"], c2["changesetId"], c1["changesetId"]])

        # Whole database at / into a second database.
        fs.create_kx_database(environmentId=env, databaseName="copydb", clientToken="welcome-db2")
        c4 = self.changeset(env, "copydb", [{"changeType": "PUT", "s3Path": "s3://%s/hdb/" % bucket, "dbPath": "/"}], "welcome-cs4")
        self.assertEqual(c4["status"], "COMPLETED")
        self.counters(env, "copydb", files, 1, c4["changesetId"])
        names = [d["databaseName"] for d in fs.list_kx_databases(environmentId=env)["kxDatabases"]]
        self.assertEqual(names, ["copydb", db])

        with self.assertRaises(ClientError) as cm:
            fs.create_kx_database(environmentId=env, databaseName=db, clientToken="welcome-db3")
        self.assertEqual(cm.exception.response["Error"]["Code"], "ConflictException")
        fs.delete_kx_database(environmentId=env, databaseName=db, clientToken="welcome-del")
        with self.assertRaises(ClientError) as cm:
            fs.get_kx_changeset(environmentId=env, databaseName=db, changesetId=c1["changesetId"])
        self.assertEqual(cm.exception.response["Error"]["Code"], "ResourceNotFoundException")


if __name__ == "__main__":
    sys.exit(0 if unittest.main(exit=False).result.wasSuccessful() else 1)
