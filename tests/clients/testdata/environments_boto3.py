#!/usr/bin/env python3
"""FinSpace environment flow through boto3 against an openfinspace server.

Environment:
  OPENFINSPACE_ENDPOINT   server URL, e.g. http://127.0.0.1:8765 (required)
  AWS_ACCESS_KEY_ID       root access key id (required)
  AWS_SECRET_ACCESS_KEY   root secret access key (required)

Runs with plain unittest and exits non-zero on any failure. Written for both
boto3 1.26 (Debian) and current boto3: the endpoint is always passed as
endpoint_url= (old botocore ignores AWS_ENDPOINT_URL) and no newer-only
features are used.
"""

import os
import re
import sys
import time
import unittest

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

REGION = "us-east-1"
ACCOUNT = "000000000000"
ID_RE = re.compile(r"^[a-z0-9]{22}$")
POLL_SECONDS = 15.0

ENDPOINT = os.environ.get("OPENFINSPACE_ENDPOINT", "").rstrip("/")
ACCESS_KEY = os.environ.get("AWS_ACCESS_KEY_ID", "")
SECRET_KEY = os.environ.get("AWS_SECRET_ACCESS_KEY", "")


def make_client(secret=None):
    return boto3.session.Session().client(
        "finspace",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=secret if secret is not None else SECRET_KEY,
        # One attempt per call: a retried request would hide server errors
        # and make failures slow. (Legacy mode: max_attempts = retries.)
        config=Config(retries={"max_attempts": 0}, connect_timeout=5, read_timeout=30),
    )


def arn_of(env_id):
    return "arn:aws:finspace:%s:%s:environment/%s" % (REGION, ACCOUNT, env_id)


class EnvironmentsTest(unittest.TestCase):
    client = None

    @classmethod
    def setUpClass(cls):
        cls.client = make_client()

    # ---- helpers -------------------------------------------------------

    def wait_status(self, env_id, want):
        deadline = time.time() + POLL_SECONDS
        seen = []
        while True:
            env = self.client.get_environment(environmentId=env_id)["environment"]
            status = env["status"]
            if not seen or seen[-1] != status:
                seen.append(status)
            if status == want:
                return env, seen
            if time.time() > deadline:
                self.fail("environment %s: statuses %s, never reached %s within %.0fs"
                          % (env_id, seen, want, POLL_SECONDS))
            time.sleep(0.05)

    def assert_client_error(self, call, code, status, message_part=None):
        """Runs call(), which must raise ClientError with code and HTTP status."""
        with self.assertRaises(ClientError) as ctx:
            call()
        err = ctx.exception
        self.assertEqual(err.response["Error"]["Code"], code, err.response)
        self.assertEqual(err.response["ResponseMetadata"]["HTTPStatusCode"], status, err.response)
        request_id = err.response["ResponseMetadata"].get("RequestId", "")
        self.assertTrue(request_id, "error response without a request id: %r" % (err.response,))
        if message_part is not None:
            self.assertIn(message_part, err.response["Error"].get("Message", ""), err.response)
        return err

    def list_all_ids(self):
        """Walks ListEnvironments one item per page; returns ids in order."""
        ids = []
        if self.client.can_paginate("list_environments"):
            paginator = self.client.get_paginator("list_environments")
            for page in paginator.paginate(PaginationConfig={"PageSize": 1}):
                self.assertLessEqual(len(page.get("environments", [])), 1)
                ids.extend(e["environmentId"] for e in page.get("environments", []))
            return ids
        kwargs = {"maxResults": 1}
        for _ in range(1000):
            page = self.client.list_environments(**kwargs)
            envs = page.get("environments", [])
            self.assertLessEqual(len(envs), 1, "page of %d with maxResults=1" % len(envs))
            ids.extend(e["environmentId"] for e in envs)
            token = page.get("nextToken")
            if not token:
                return ids
            kwargs["nextToken"] = token
        self.fail("ListEnvironments pagination does not end")

    # ---- tests ---------------------------------------------------------

    def test_lifecycle(self):
        c = self.client
        created = c.create_environment(
            name="boto3-env",
            description="Created by boto3",
            kmsKeyId="arn:aws:kms:us-east-1:000000000000:key/1234",
            tags={"team": "quant", "cost-center": "42"},
            superuserParameters={
                "emailAddress": "admin@example.com",
                "firstName": "Ada",
                "lastName": "Admin",
            },
        )
        self.assertEqual(created["ResponseMetadata"]["HTTPStatusCode"], 200)
        self.assertTrue(created["ResponseMetadata"].get("RequestId"))
        env_id = created["environmentId"]
        self.assertRegex(env_id, ID_RE)
        self.assertEqual(created["environmentArn"], arn_of(env_id))
        self.assertTrue(created["environmentUrl"].startswith(ENDPOINT + "/"),
                        "environmentUrl %r does not start with %r" % (created["environmentUrl"], ENDPOINT))

        first = c.get_environment(environmentId=env_id)["environment"]
        self.assertIn(first["status"], ("CREATE_REQUESTED", "CREATING", "CREATED"))
        env, seen = self.wait_status(env_id, "CREATED")
        for s in seen:
            self.assertIn(s, ("CREATE_REQUESTED", "CREATING", "CREATED"), seen)
        self.assertEqual(env["environmentId"], env_id)
        self.assertEqual(env["environmentArn"], arn_of(env_id))
        self.assertEqual(env["name"], "boto3-env")
        self.assertEqual(env["description"], "Created by boto3")
        self.assertEqual(env["awsAccountId"], ACCOUNT)
        self.assertEqual(env["federationMode"], "LOCAL")
        self.assertEqual(env["kmsKeyId"], "arn:aws:kms:us-east-1:000000000000:key/1234")
        self.assertEqual(env["environmentUrl"], created["environmentUrl"])

        upd = c.update_environment(environmentId=env_id, name="boto3-renamed", description="New text")
        self.assertEqual(upd["environment"]["name"], "boto3-renamed")
        self.assertEqual(upd["environment"]["description"], "New text")
        got = c.get_environment(environmentId=env_id)["environment"]
        self.assertEqual((got["name"], got["description"]), ("boto3-renamed", "New text"))

        tags = c.list_tags_for_resource(resourceArn=arn_of(env_id))["tags"]
        self.assertEqual(tags, {"team": "quant", "cost-center": "42"})

        deleted = c.delete_environment(environmentId=env_id)
        self.assertEqual(deleted["ResponseMetadata"]["HTTPStatusCode"], 200)
        env, _ = self.wait_status(env_id, "DELETED")
        self.assertEqual(env["environmentId"], env_id)
        self.assert_client_error(lambda: c.delete_environment(environmentId=env_id),
                                 "ValidationException", 400, "DELETED")
        self.assert_client_error(lambda: c.list_tags_for_resource(resourceArn=arn_of(env_id)),
                                 "ResourceNotFoundException", 404)

    def test_list_pagination(self):
        c = self.client
        # Other test methods share the server; count what exists already.
        before = self.list_all_ids()
        created = []
        for i in range(5):
            created.append(c.create_environment(name="page-env-%d" % i)["environmentId"])
        after = self.list_all_ids()
        self.assertEqual(len(after), len(set(after)), "repeated ids in %s" % after)
        self.assertEqual(set(after), set(before) | set(created))
        for env_id in created:
            self.assertEqual(after.count(env_id), 1)
        # A full listing gives the same order as the paged walk.
        full = [e["environmentId"] for e in c.list_environments()["environments"]]
        self.assertEqual(full, after)

    def test_tags(self):
        c = self.client
        env_id = c.create_environment(name="tagged")["environmentId"]
        arn = arn_of(env_id)
        self.assertEqual(c.list_tags_for_resource(resourceArn=arn).get("tags", {}), {})
        c.tag_resource(resourceArn=arn, tags={"a": "1", "b": "2", "c": "3"})
        c.tag_resource(resourceArn=arn, tags={"a": "one"})
        c.untag_resource(resourceArn=arn, tagKeys=["b", "c", "absent"])
        self.assertEqual(c.list_tags_for_resource(resourceArn=arn)["tags"], {"a": "one"})

        # Fill up to the limit of 50, then one more must be refused.
        c.tag_resource(resourceArn=arn, tags=dict(("k%02d" % i, "v") for i in range(49)))
        self.assertEqual(len(c.list_tags_for_resource(resourceArn=arn)["tags"]), 50)
        self.assert_client_error(lambda: c.tag_resource(resourceArn=arn, tags={"k51": "v"}),
                                 "InvalidRequestException", 400)
        self.assertEqual(len(c.list_tags_for_resource(resourceArn=arn)["tags"]), 50)

    def test_errors(self):
        c = self.client
        self.assert_client_error(lambda: c.get_environment(environmentId="doesnotexist0000000000"),
                                 "ResourceNotFoundException", 404)
        self.assert_client_error(lambda: c.delete_environment(environmentId="nope"),
                                 "ResourceNotFoundException", 404)
        self.assert_client_error(lambda: c.list_tags_for_resource(resourceArn=arn_of("a" * 22)),
                                 "ResourceNotFoundException", 404)
        # botocore checks only lengths client-side, so the pattern check is
        # the server's.
        self.assert_client_error(lambda: c.create_environment(name="-bad-"),
                                 "ValidationException", 400, "'name'")
        self.assert_client_error(lambda: c.list_environments(nextToken="forged"),
                                 "ValidationException", 400)
        self.assert_client_error(lambda: c.list_environments(maxResults=101),
                                 "ValidationException", 400)
        # 51 tags in one request (botocore does not check the map's maximum).
        env_id = c.create_environment(name="limits")["environmentId"]
        self.assert_client_error(
            lambda: c.tag_resource(resourceArn=arn_of(env_id),
                                   tags=dict(("t%02d" % i, "v") for i in range(51))),
            "InvalidRequestException", 400)

    def test_wrong_secret(self):
        bad = make_client(secret=SECRET_KEY + "x")
        self.assert_client_error(lambda: bad.list_environments(), "InvalidSignatureException", 403)


def main():
    missing = [n for n, v in (("OPENFINSPACE_ENDPOINT", ENDPOINT),
                              ("AWS_ACCESS_KEY_ID", ACCESS_KEY),
                              ("AWS_SECRET_ACCESS_KEY", SECRET_KEY)) if not v]
    if missing:
        sys.stderr.write("environments_boto3.py: missing environment: %s\n" % ", ".join(missing))
        return 2
    print("boto3 %s, botocore %s, python %s, endpoint %s"
          % (boto3.__version__, botocore.__version__, sys.version.split()[0], ENDPOINT))
    sys.stdout.flush()
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(EnvironmentsTest)
    result = unittest.TextTestRunner(stream=sys.stdout, verbosity=2).run(suite)
    print("SUMMARY: ran=%d failures=%d errors=%d skipped=%d -> %s"
          % (result.testsRun, len(result.failures), len(result.errors), len(result.skipped),
             "PASS" if result.wasSuccessful() else "FAIL"))
    return 0 if result.wasSuccessful() else 1


if __name__ == "__main__":
    sys.exit(main())
