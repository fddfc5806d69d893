"""Two openfinspace processes on one store, driven by boto3.

ENDPOINT_A and ENDPOINT_B are the two processes; the root credentials
are in AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY; ENVIRONMENT_ID is a
CREATED environment and BUCKET a bucket made by the Go part of the test.
Each check issues something through one process and uses it through the
other.
"""
import os
import sys
import unittest
import uuid

import boto3
from botocore.config import Config

A = os.environ["ENDPOINT_A"]
B = os.environ["ENDPOINT_B"]
ENV_ID = os.environ["ENVIRONMENT_ID"]
BUCKET = os.environ["BUCKET"]
REGION = os.environ["AWS_REGION"]
CONFIG = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"})


def client(service, endpoint, **creds):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, config=CONFIG, **creds)


def creds_of(c):
    return {"aws_access_key_id": c["accessKeyId"] if "accessKeyId" in c else c["AccessKeyId"],
            "aws_secret_access_key": c["secretAccessKey"] if "secretAccessKey" in c else c["SecretAccessKey"],
            "aws_session_token": c["sessionToken"] if "sessionToken" in c else c["SessionToken"]}


class CrossProcess(unittest.TestCase):
    def test_environment_created_on_a_is_read_on_b(self):
        name = "boto3-" + uuid.uuid4().hex[:8]
        env = client("finspace", A).create_environment(name=name, tags={"from": "a"})
        got = client("finspace", B).get_environment(environmentId=env["environmentId"])["environment"]
        self.assertEqual(got["name"], name)
        tags = client("finspace", B).list_tags_for_resource(resourceArn=env["environmentArn"])["tags"]
        self.assertEqual(tags, {"from": "a"})

    def test_page_tokens_cross(self):
        fa, fb = client("finspace", A), client("finspace", B)
        every = sorted(e["environmentId"] for e in fa.list_environments()["environments"])
        self.assertGreaterEqual(len(every), 2)
        seen, token, turn = [], None, 0
        while True:
            kwargs = {"maxResults": 1}
            if token:
                kwargs["nextToken"] = token
            page = (fa, fb)[turn % 2].list_environments(**kwargs)
            seen += [e["environmentId"] for e in page["environments"]]
            token, turn = page.get("nextToken"), turn + 1
            if not token:
                break
        self.assertEqual(sorted(seen), every)
        self.assertGreaterEqual(turn, 2)

    def test_client_token_retried_on_the_other(self):
        c = client("finspace-data", A).get_programmatic_access_credentials(
            environmentId=ENV_ID, durationInMinutes=60)["credentials"]
        token = "boto3-" + uuid.uuid4().hex
        args = {"emailAddress": "boto3-retry-%s@example.com" % token[-6:], "type": "APP_USER",
                "firstName": "Py", "lastName": "Retry", "clientToken": token}
        first = client("finspace-data", A, **creds_of(c)).create_user(**args)["userId"]
        again = client("finspace-data", B, **creds_of(c)).create_user(**args)["userId"]
        self.assertEqual(first, again)

    def test_programmatic_credentials_from_b_on_a(self):
        c = client("finspace-data", B).get_programmatic_access_credentials(
            environmentId=ENV_ID, durationInMinutes=60)["credentials"]
        data_a = client("finspace-data", A, **creds_of(c))
        loc = data_a.get_working_location(locationType="INGESTION")
        key = loc["s3Path"][len(loc["s3Bucket"]) + 1:] + "boto3/prices.csv"
        client("s3", A, **creds_of(c)).put_object(Bucket=loc["s3Bucket"], Key=key, Body=b"sym,px\nB,2\n")
        body = client("s3", B, **creds_of(c)).get_object(Bucket=loc["s3Bucket"], Key=key)["Body"].read()
        self.assertEqual(body, b"sym,px\nB,2\n")

    def test_sts_session_from_a_on_b(self):
        role = client("sts", A).assume_role(RoleArn="arn:aws:iam::000000000000:role/Boto3", RoleSessionName="py")
        session = creds_of(role["Credentials"])
        ident = client("sts", B, **session).get_caller_identity()
        self.assertIn("assumed-role/Boto3/py", ident["Arn"])
        client("finspace", B, **session).list_environments()
        client("s3", B, **session).put_object(Bucket=BUCKET, Key="boto3/session.txt", Body=b"from A's session")
        body = client("s3", A).get_object(Bucket=BUCKET, Key="boto3/session.txt")["Body"].read()
        self.assertEqual(body, b"from A's session")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    sys.exit(0 if result.wasSuccessful() else 1)
