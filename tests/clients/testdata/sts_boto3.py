#!/usr/bin/env python3
"""STS AssumeRole / GetCallerIdentity through boto3 against an openfinspace server.

Environment:
  OPENFINSPACE_ENDPOINT   server URL, e.g. http://127.0.0.1:8765 (required)
  AWS_ACCESS_KEY_ID       root access key id (required)
  AWS_SECRET_ACCESS_KEY   root secret access key (required)

Runs with plain unittest and exits non-zero on any failure. Written for both
boto3 1.26 (Debian) and current boto3: the endpoint is always passed as
endpoint_url= (old botocore ignores AWS_ENDPOINT_URL) and no newer-only
features are used.
"""

import datetime
import os
import re
import sys
import unittest

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "us-east-1"
ACCOUNT = "000000000000"
ROLE_ARN = "arn:aws:iam::%s:role/boto3/Analyst" % ACCOUNT
ROLE_ID_RE = re.compile(r"^AROA[A-Z0-9]{17}:")

ENDPOINT = os.environ.get("OPENFINSPACE_ENDPOINT", "").rstrip("/")
ACCESS_KEY = os.environ.get("AWS_ACCESS_KEY_ID", "")
SECRET_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY", "")


def make_client(service, key=None, secret=None, token=None, validate=True):
    return boto3.session.Session().client(
        service,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=key if key is not None else ACCESS_KEY,
        aws_secret_access_key=secret if secret is not None else SECRET_KEY,
        aws_session_token=token,
        # One attempt per call (legacy mode: max_attempts = retries);
        # parameter_validation=False lets out-of-range values reach the
        # server, whose validation is under test.
        config=Config(retries={"max_attempts": 0}, connect_timeout=5, read_timeout=30,
                      parameter_validation=validate),
    )


def session_clients(creds, service):
    return make_client(service, creds["AccessKeyId"], creds["SecretAccessKey"], creds["SessionToken"])


class STSTest(unittest.TestCase):
    sts = None

    @classmethod
    def setUpClass(cls):
        cls.sts = make_client("sts")

    def assert_client_error(self, call, code, status, message_part=None):
        """Runs call(), which must raise ClientError with code and HTTP status."""
        with self.assertRaises(ClientError) as ctx:
            call()
        err = ctx.exception
        self.assertEqual(err.response["Error"]["Code"], code, err.response)
        self.assertEqual(err.response["ResponseMetadata"]["HTTPStatusCode"], status, err.response)
        self.assertTrue(err.response["ResponseMetadata"].get("RequestId"),
                        "error response without a request id: %r" % (err.response,))
        if message_part is not None:
            self.assertIn(message_part, err.response["Error"].get("Message", ""), err.response)
        return err

    def assume(self, client=None, session="boto3-session", **kwargs):
        client = client or self.sts
        out = client.assume_role(RoleArn=kwargs.pop("RoleArn", ROLE_ARN), RoleSessionName=session, **kwargs)
        self.assertEqual(out["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assertTrue(out["ResponseMetadata"].get("RequestId"))
        return out

    def test_root_identity(self):
        ident = self.sts.get_caller_identity()
        self.assertEqual(ident["Account"], ACCOUNT)
        self.assertEqual(ident["UserId"], ACCOUNT)
        self.assertEqual(ident["Arn"], "arn:aws:iam::%s:root" % ACCOUNT)

    def test_assume_role_and_use(self):
        out = self.assume(DurationSeconds=900)
        creds = out["Credentials"]
        self.assertTrue(creds["AccessKeyId"].startswith("ASIA"), creds["AccessKeyId"])
        self.assertTrue(creds["SecretAccessKey"])
        self.assertTrue(creds["SessionToken"])
        expiration = creds["Expiration"]
        self.assertIsInstance(expiration, datetime.datetime)
        self.assertIsNotNone(expiration.tzinfo)
        left = (expiration - datetime.datetime.now(datetime.timezone.utc)).total_seconds()
        self.assertTrue(840 < left <= 901, "session expires in %.0f s, want about 900" % left)
        user = out["AssumedRoleUser"]
        want_arn = "arn:aws:sts::%s:assumed-role/Analyst/boto3-session" % ACCOUNT
        self.assertEqual(user["Arn"], want_arn)
        self.assertRegex(user["AssumedRoleId"], ROLE_ID_RE)
        self.assertTrue(user["AssumedRoleId"].endswith(":boto3-session"), user["AssumedRoleId"])
        self.assertEqual(out.get("PackedPolicySize", 0), 0)

        ident = session_clients(creds, "sts").get_caller_identity()
        self.assertEqual(ident["Arn"], want_arn)
        self.assertEqual(ident["Account"], ACCOUNT)
        self.assertEqual(ident["UserId"], user["AssumedRoleId"])

        envs = session_clients(creds, "finspace").list_environments()
        self.assertEqual(envs["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assertIsInstance(envs.get("environments", []), list)

    def test_role_id_is_stable(self):
        first = self.assume(session="first")["AssumedRoleUser"]["AssumedRoleId"]
        second = self.assume(session="second")["AssumedRoleUser"]["AssumedRoleId"]
        self.assertEqual(first.split(":")[0], second.split(":")[0])

    def test_role_chaining(self):
        creds = self.assume(session="outer")["Credentials"]
        chained_sts = session_clients(creds, "sts")
        inner = self.assume(client=chained_sts, session="inner",
                            RoleArn="arn:aws:iam::%s:role/Deployer" % ACCOUNT)
        ident = session_clients(inner["Credentials"], "sts").get_caller_identity()
        self.assertEqual(ident["Arn"], "arn:aws:sts::%s:assumed-role/Deployer/inner" % ACCOUNT)
        self.assert_client_error(
            lambda: chained_sts.assume_role(RoleArn=ROLE_ARN, RoleSessionName="too-long", DurationSeconds=7200),
            "ValidationError", 400, "role chaining")

    def test_errors(self):
        self.assert_client_error(
            lambda: self.sts.assume_role(RoleArn="arn:aws:iam::123456789012:role/Elsewhere", RoleSessionName="s1"),
            "AccessDenied", 403)
        unvalidated = make_client("sts", validate=False)
        for duration in (899, 43201):
            self.assert_client_error(
                lambda: unvalidated.assume_role(RoleArn=ROLE_ARN, RoleSessionName="s1", DurationSeconds=duration),
                "ValidationError", 400, "durationSeconds")
        self.assert_client_error(
            lambda: unvalidated.assume_role(RoleArn=ROLE_ARN, RoleSessionName="a/b"),
            "ValidationError", 400, "roleSessionName")
        self.assert_client_error(
            lambda: make_client("sts", secret=SECRET_KEY + "x").get_caller_identity(),
            "SignatureDoesNotMatch", 403)
        self.assert_client_error(
            lambda: make_client("sts", key="AKIAUNKNOWNUNKNOWN00").get_caller_identity(),
            "InvalidClientTokenId", 403)


def main():
    missing = [n for n, v in (("OPENFINSPACE_ENDPOINT", ENDPOINT),
                              ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
                              ("AWS_SECRET_ACCESS_KEY", SECRET_KEY)) if not v]
    if missing:
        sys.stderr.write("sts_boto3.py: missing environment: %s\n" % ", ".join(missing))
        return 2
    print("boto3 %s, botocore %s, python %s, endpoint %s"
          % (boto3.__version__, botocore.__version__, sys.version.split()[0], ENDPOINT))
    sys.stdout.flush()
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(STSTest)
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
    print("SUMMARY: ran=%d failures=%d errors=%d skipped=%d -> %s"
          % (result.testsRun, len(result.failures), len(result.errors), len(result.skipped),
             "PASS" if result.wasSuccessful() else "FAIL"))
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
