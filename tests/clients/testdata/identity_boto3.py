"""FinSpace Data identity flow through boto3 (works with boto3 1.26 and 1.43).

Root credentials get programmatic access credentials for the environment,
then the user and permission-group operations run with them. CreateUser is
sent with the access member under whatever name this botocore's model uses:
`ApiAccess` (botocore <= 1.31) or `apiAccess` (newer).
"""
import os
import sys
import unittest

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ["OPENFINSPACE_ENDPOINT"]
ENV_ID = os.environ["OPENFINSPACE_ENVIRONMENT_ID"]
REGION = "us-east-1"
CONFIG = Config(retries={"max_attempts": 1})


def data_client(**creds):
    return boto3.client("finspace-data", endpoint_url=ENDPOINT, region_name=REGION, config=CONFIG, **creds)


class Identity(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        root = data_client()
        # 60 is valid in both models: botocore 1.26 allowed 60-720, the current model 1-60.
        out = root.get_programmatic_access_credentials(environmentId=ENV_ID, durationInMinutes=60)
        c = out["credentials"]
        cls.fd = data_client(aws_access_key_id=c["accessKeyId"], aws_secret_access_key=c["secretAccessKey"],
                             aws_session_token=c["sessionToken"])
        members = cls.fd.meta.service_model.operation_model("CreateUser").input_shape.members
        cls.access_member = "ApiAccess" if "ApiAccess" in members else "apiAccess"
        print("botocore", botocore.__version__, "sends CreateUser access as", cls.access_member)

    def test_create_user_api_access(self):
        tag = botocore.__version__.replace(".", "-")
        for access in ("ENABLED", "DISABLED"):
            kwargs = {"emailAddress": "u-%s-%s@example.com" % (tag, access.lower()), "type": "APP_USER",
                      "firstName": "Py", "lastName": "Client", self.access_member: access}
            uid = self.fd.create_user(**kwargs)["userId"]
            user = self.fd.get_user(userId=uid)
            self.assertEqual(user["apiAccess"], access)
            self.assertEqual(user["status"], "ENABLED")
            self.assertEqual(user["type"], "APP_USER")
            self.assertIsInstance(user["createTime"], int)

    def test_groups_and_pagination(self):
        gid = self.fd.create_permission_group(name="py-group-" + botocore.__version__.replace(".", "-"),
                                              applicationPermissions=["CreateDataset", "ViewAuditData"])["permissionGroupId"]
        uid = self.fd.create_user(emailAddress="member-%s@example.com" % botocore.__version__.replace(".", "-"),
                                  type="APP_USER")["userId"]
        resp = self.fd.associate_user_to_permission_group(permissionGroupId=gid, userId=uid)
        self.assertEqual(resp["ResponseMetadata"]["HTTPStatusCode"], 200)
        members = self.fd.list_users_by_permission_group(permissionGroupId=gid, maxResults=10)["users"]
        self.assertEqual([m["userId"] for m in members], [uid])
        self.assertEqual(members[0]["membershipStatus"], "ADDITION_SUCCESS")
        # Paginators page with maxResults=1 and see every user exactly once.
        seen = []
        for page in self.fd.get_paginator("list_users").paginate(PaginationConfig={"PageSize": 1}):
            self.assertLessEqual(len(page["users"]), 1)
            seen += [u["userId"] for u in page["users"]]
        self.assertEqual(len(seen), len(set(seen)))
        self.assertIn(uid, seen)
        self.fd.disassociate_user_from_permission_group(permissionGroupId=gid, userId=uid)
        self.fd.delete_permission_group(permissionGroupId=gid)

    def test_errors(self):
        with self.assertRaises(ClientError) as cm:
            self.fd.get_user(userId="nosuchuser")
        self.assertEqual(cm.exception.response["Error"]["Code"], "ResourceNotFoundException")
        self.assertEqual(cm.exception.response["ResponseMetadata"]["HTTPStatusCode"], 404)
        with self.assertRaises(ClientError) as cm:
            data_client().get_programmatic_access_credentials(environmentId="nosuchenvironment")
        self.assertEqual(cm.exception.response["Error"]["Code"], "AccessDeniedException")


if __name__ == "__main__":
    result = unittest.main(exit=False, verbosity=2).result
    ok = result.wasSuccessful()
    print("SUMMARY: %d run, %d failures, %d errors -> %s" % (result.testsRun, len(result.failures), len(result.errors), "PASS" if ok else "FAIL"))
    sys.exit(0 if ok else 1)
