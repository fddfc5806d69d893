#!/usr/bin/env python3
"""Managed kdb clusters through boto3, as managed_kx.py does: a database
with one changeset, a code archive in S3, an HDB cluster polled to
RUNNING, its nodes listed, the refusals to delete its database or its
environment, then deletion (polled to ResourceNotFoundException) after
which both deletions succeed.

Environment: OPENFINSPACE_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
"""

import io
import os
import time
import unittest
import zipfile

import boto3
import botocore.config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["OPENFINSPACE_ENDPOINT"].rstrip("/")


class KxClusters(unittest.TestCase):
    def setUp(self):
        self.fs = boto3.client("finspace", endpoint_url=ENDPOINT, region_name="us-east-1")
        self.s3 = boto3.client("s3", endpoint_url=ENDPOINT, region_name="us-east-1",
                               config=botocore.config.Config(s3={"addressing_style": "path"}))

    def wait(self, fn, pred, what):
        deadline = time.time() + 30
        while True:
            out = fn()
            if pred(out):
                return out
            if time.time() > deadline:
                raise AssertionError("%s: stuck: %s" % (what, out))
            time.sleep(0.05)

    def code(self, what):
        with self.assertRaises(ClientError) as cm:
            what()
        return cm.exception.response["Error"]["Code"], cm.exception.response["Error"]["Message"]

    def test_flow(self):
        fs = self.fs
        env = fs.create_kx_environment(name="clusters", kmsKeyId="arn:aws:kms:us-east-1:000000000000:key/k")["environmentId"]
        self.wait(lambda: fs.get_kx_environment(environmentId=env), lambda e: e["status"] == "CREATED", "environment")
        db = "hdb"
        fs.create_kx_database(environmentId=env, databaseName=db, clientToken="db")
        bucket = "cluster-data"
        self.s3.create_bucket(Bucket=bucket)
        self.s3.put_object(Bucket=bucket, Key="hdb/sym", Body=b"`AAPL`MSFT")
        self.s3.put_object(Bucket=bucket, Key="hdb/2024.01.02/trade/.d", Body=b"`sym`price")
        self.s3.put_object(Bucket=bucket, Key="hdb/2024.01.02/trade/price", Body=os.urandom(800))
        cs = fs.create_kx_changeset(environmentId=env, databaseName=db, clientToken="cs",
                                    changeRequests=[{"changeType": "PUT", "s3Path": "s3://%s/hdb/" % bucket, "dbPath": "/"}])
        self.wait(lambda: fs.get_kx_changeset(environmentId=env, databaseName=db, changesetId=cs["changesetId"]),
                  lambda c: c["status"] == "COMPLETED", "changeset")
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("code/init.q", "show `hello")
        self.s3.put_object(Bucket=bucket, Key="code.zip", Body=buf.getvalue())

        name = "hdb-cluster"
        out = fs.create_kx_cluster(
            environmentId=env, clusterName=name, clusterType="HDB", releaseLabel="1.0", azMode="SINGLE",
            availabilityZoneId=fs.get_kx_environment(environmentId=env)["availabilityZoneIds"][0],
            capacityConfiguration={"nodeType": "kx.s.large", "nodeCount": 1},
            vpcConfiguration={"vpcId": "vpc-0abc1234", "securityGroupIds": ["sg-0abc1234"],
                              "subnetIds": ["subnet-0abc1234"], "ipAddressType": "IP_V4"},
            databases=[{"databaseName": db, "cacheConfigurations": [{"cacheType": "CACHE_1000", "dbPaths": ["/"]}]}],
            cacheStorageConfigurations=[{"type": "CACHE_1000", "size": 1200}],
            code={"s3Bucket": bucket, "s3Key": "code.zip"}, initializationScript="code/init.q",
            commandLineArguments=[{"key": "procname", "value": "hdb1"}], clientToken="cluster")
        self.assertEqual(out["status"], "PENDING")
        got = self.wait(lambda: fs.get_kx_cluster(environmentId=env, clusterName=name),
                        lambda c: c["status"] in ("RUNNING", "CREATE_FAILED"), "cluster")
        self.assertEqual(got["status"], "RUNNING", got.get("statusReason"))
        self.assertEqual(got["databases"][0]["changesetId"], cs["changesetId"])
        self.assertEqual(got["cacheStorageConfigurations"], [{"type": "CACHE_1000", "size": 1200}])
        self.assertEqual(got["commandLineArguments"], [{"key": "procname", "value": "hdb1"}])
        nodes = fs.list_kx_cluster_nodes(environmentId=env, clusterName=name)["nodes"]
        self.assertEqual(len(nodes), 1)
        self.assertEqual(nodes[0]["status"], "RUNNING")
        summaries = fs.list_kx_clusters(environmentId=env)["kxClusterSummaries"]
        self.assertEqual([c["clusterName"] for c in summaries], [name])

        code, msg = self.code(lambda: fs.delete_kx_database(environmentId=env, databaseName=db, clientToken="d1"))
        self.assertEqual(code, "ConflictException")
        self.assertIn(name, msg)
        code, msg = self.code(lambda: fs.delete_kx_environment(environmentId=env))
        self.assertEqual(code, "ValidationException")
        self.assertIn(name, msg)

        fs.delete_kx_cluster(environmentId=env, clusterName=name, clientToken="del")

        def gone():
            try:
                return fs.get_kx_cluster(environmentId=env, clusterName=name)["status"]
            except ClientError as e:
                return e.response["Error"]["Code"]
        self.wait(gone, lambda s: s == "ResourceNotFoundException", "deletion")
        fs.delete_kx_database(environmentId=env, databaseName=db, clientToken="d2")
        fs.delete_kx_environment(environmentId=env)
        self.wait(lambda: fs.get_kx_environment(environmentId=env), lambda e: e["status"] == "DELETED", "environment deletion")


if __name__ == "__main__":
    unittest.main()
