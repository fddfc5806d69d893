#!/usr/bin/env python3
"""The Glue Data Catalog's read operations through boto3's glue client.

The Go test registers database "market" with tables "quotes" and "trades"
(partitioned by year and month, 24 partitions in trades) before running it.

Environment:
  OPENFINSPACE_ENDPOINT   server URL (required)
  AWS_ACCESS_KEY_ID       root access key id (required)
  AWS_SECRET_ACCESS_KEY   root secret access key (required)
"""

import os
import unittest

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "us-east-1"
ACCOUNT = "000000000000"
ENDPOINT = os.environ.get("OPENFINSPACE_ENDPOINT", "").rstrip("/")
PARQUET_IN = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"


def client(region=REGION, **config):
    return boto3.session.Session().client(
        "glue", endpoint_url=ENDPOINT, region_name=region,
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        config=Config(retries={"max_attempts": 0}, connect_timeout=5, read_timeout=30, **config))


class GlueTest(unittest.TestCase):
    glue = None

    @classmethod
    def setUpClass(cls):
        cls.glue = client()

    def test_databases(self):
        out = self.glue.get_databases()
        self.assertEqual([d["Name"] for d in out["DatabaseList"]], ["market"])
        self.assertNotIn("NextToken", out)
        db = self.glue.get_database(Name="MARKET")["Database"]  # names are case-insensitive
        self.assertEqual(db["Name"], "market")
        self.assertEqual(db["Description"], "market data")
        self.assertEqual(db["LocationUri"], "s3://views/market/")
        self.assertEqual(db["CatalogId"], ACCOUNT)
        self.assertIsNotNone(db["CreateTime"].tzinfo)  # a datetime, from epoch seconds

    def test_tables(self):
        pages = list(self.glue.get_paginator("get_tables").paginate(
            DatabaseName="market", PaginationConfig={"PageSize": 1}))
        self.assertEqual(len(pages), 2)
        self.assertEqual([t["Name"] for p in pages for t in p["TableList"]], ["quotes", "trades"])
        out = self.glue.get_tables(DatabaseName="market", Expression="tr.*")
        self.assertEqual([t["Name"] for t in out["TableList"]], ["trades"])

        t = self.glue.get_table(DatabaseName="market", Name="trades")["Table"]
        self.assertEqual(t["DatabaseName"], "market")
        self.assertEqual(t["TableType"], "EXTERNAL_TABLE")
        self.assertEqual(t["Parameters"], {"classification": "parquet"})
        self.assertEqual([k["Name"] for k in t["PartitionKeys"]], ["year", "month"])
        sd = t["StorageDescriptor"]
        self.assertEqual(sd["Location"], "s3://views/market/trades/")
        self.assertEqual(sd["InputFormat"], PARQUET_IN)
        self.assertEqual(sd["SerdeInfo"]["SerializationLibrary"], PARQUET_SERDE)
        self.assertEqual([(c["Name"], c["Type"]) for c in sd["Columns"]],
                         [("sym", "string"), ("px", "double"), ("ts", "timestamp")])
        self.assertEqual(sd["Columns"][1]["Comment"], "last price")

    def test_partitions(self):
        pages = list(self.glue.get_paginator("get_partitions").paginate(
            DatabaseName="market", TableName="trades", PaginationConfig={"PageSize": 5}))
        self.assertEqual(len(pages), 5)  # 5+5+5+5+4
        values = [p["Values"] for page in pages for p in page["Partitions"]]
        self.assertEqual(len(values), 24)
        self.assertEqual(values[0], ["2023", "01"])
        self.assertEqual(values[-1], ["2024", "12"])

        out = self.glue.get_partitions(DatabaseName="market", TableName="trades",
                                       Expression="year = '2024' AND month = '03'")
        self.assertEqual([p["Values"] for p in out["Partitions"]], [["2024", "03"]])
        p = out["Partitions"][0]
        self.assertEqual(p["StorageDescriptor"]["Location"], "s3://views/market/trades/year=2024/month=03/")
        self.assertEqual(p["StorageDescriptor"]["InputFormat"], PARQUET_IN)
        self.assertEqual(p["TableName"], "trades")

        only2024 = [p["Values"] for page in self.glue.get_paginator("get_partitions").paginate(
            DatabaseName="market", TableName="trades", Expression="year = '2024'",
            PaginationConfig={"PageSize": 7}) for p in page["Partitions"]]
        self.assertEqual(len(only2024), 12)
        self.assertTrue(all(v[0] == "2024" for v in only2024))

        with self.assertRaises(ClientError) as cm:
            self.glue.get_partitions(DatabaseName="market", TableName="trades", Expression="year > '2023'")
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidInputException")
        self.assertIn("key = 'value'", cm.exception.response["Error"]["Message"])

        p = self.glue.get_partition(DatabaseName="market", TableName="trades", PartitionValues=["2023", "11"])["Partition"]
        self.assertEqual(p["Values"], ["2023", "11"])
        self.assertEqual(p["StorageDescriptor"]["Location"], "s3://views/market/trades/year=2023/month=11/")

    def test_not_found(self):
        with self.assertRaises(self.glue.exceptions.EntityNotFoundException) as cm:
            self.glue.get_database(Name="nope")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertIn("nope", cm.exception.response["Error"]["Message"])
        with self.assertRaises(self.glue.exceptions.EntityNotFoundException):
            self.glue.get_tables(DatabaseName="nope")
        with self.assertRaises(self.glue.exceptions.EntityNotFoundException):
            self.glue.get_table(DatabaseName="market", Name="nope")
        with self.assertRaises(self.glue.exceptions.EntityNotFoundException):
            self.glue.get_partition(DatabaseName="market", TableName="trades", PartitionValues=["1999", "01"])
        # The catalog is regional.
        other = client(region="eu-west-1")
        with self.assertRaises(other.exceptions.EntityNotFoundException):
            other.get_database(Name="market")

    def test_validation(self):
        raw = client(parameter_validation=False)
        with self.assertRaises(raw.exceptions.InvalidInputException) as cm:
            raw.get_partitions(DatabaseName="market", TableName="trades", MaxResults=5000)
        self.assertIn("less than or equal to 1000", cm.exception.response["Error"]["Message"])

    def test_unsupported_operation(self):
        with self.assertRaises(self.glue.exceptions.OperationNotSupportedException) as cm:
            self.glue.create_database(DatabaseInput={"Name": "mine"})
        msg = cm.exception.response["Error"]["Message"]
        self.assertIn("CreateDatabase is not supported", msg)
        self.assertIn("GetPartitions", msg)
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 400)
        self.assertTrue(cm.exception.response["ResponseMetadata"]["RequestId"])
        with self.assertRaises(self.glue.exceptions.OperationNotSupportedException):
            self.glue.start_crawler(Name="c")

    def test_unsigned_request_refused(self):
        unsigned = client(signature_version=botocore.UNSIGNED)
        with self.assertRaises(ClientError) as cm:
            unsigned.get_databases()
        self.assertEqual(cm.exception.response["Error"]["Code"], "MissingAuthenticationTokenException")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 403)

    def test_assumed_role_session_reads(self):
        sts = boto3.session.Session().client(
            "sts", endpoint_url=ENDPOINT, region_name=REGION,
            aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"])
        c = sts.assume_role(RoleArn="arn:aws:iam::%s:role/catalog-reader" % ACCOUNT, RoleSessionName="glue")["Credentials"]
        session = boto3.session.Session().client(
            "glue", endpoint_url=ENDPOINT, region_name=REGION, aws_access_key_id=c["AccessKeyId"],
            aws_secret_access_key=c["SecretAccessKey"], aws_session_token=c["SessionToken"])
        self.assertEqual(session.get_table(DatabaseName="market", Name="quotes")["Table"]["Name"], "quotes")

    def test_wrong_secret_refused(self):
        bad = boto3.session.Session().client(
            "glue", endpoint_url=ENDPOINT, region_name=REGION,
            aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"], aws_secret_access_key="wrong",
            config=Config(retries={"max_attempts": 0}))
        with self.assertRaises(ClientError) as cm:
            bad.get_databases()
        self.assertEqual(cm.exception.response["Error"]["Code"], "InvalidSignatureException")


if __name__ == "__main__":
    unittest.main(verbosity=2)
