#!/usr/bin/env python3
"""Managed kdb flow through boto3 against an openfinspace server: a kx
environment to CREATED, network updates (transit gateway, then DNS) to
SUCCESSFULLY_UPDATED, kx users CRUD, tags, deletion to DELETED.

Environment: OPENFINSPACE_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
Needs a botocore with the kx operations (1.31+); the test driving it checks.
"""

import os
import re
import sys
import time
import unittest

import boto3
from botocore.exceptions import ClientError

ENDPOINT = os.environ["OPENFINSPACE_ENDPOINT"].rstrip("/")
ID_RE = re.compile(r"^[a-z0-9]{22}$")
ROLE = "arn:aws:iam::000000000000:role/kx-user"


def client():
    return boto3.session.Session().client("finspace", endpoint_url=ENDPOINT, region_name="us-east-1")


def wait(fs, env_id, pred, what):
    deadline = time.time() + 15
    while True:
        env = fs.get_kx_environment(environmentId=env_id)
        if pred(env):
            return env
        if time.time() > deadline:
            raise AssertionError("%s: environment stuck: %s" % (what, env))
        time.sleep(0.05)


class KxFlow(unittest.TestCase):
    def test_flow(self):
        fs = client()
        created = fs.create_kx_environment(name="torq_env", kmsKeyId="arn:aws:kms:us-east-1:000000000000:key/k",
                                           clientToken="terraform-20240101000000000000000001")
        env_id, arn = created["environmentId"], created["environmentArn"]
        self.assertRegex(env_id, ID_RE)
        self.assertEqual(arn, "arn:aws:finspace:us-east-1:000000000000:kxEnvironment/" + env_id)
        retry = fs.create_kx_environment(name="torq_env", kmsKeyId="arn:aws:kms:us-east-1:000000000000:key/k",
                                         clientToken="terraform-20240101000000000000000001")
        self.assertEqual(retry["environmentId"], env_id)
        env = wait(fs, env_id, lambda e: e["status"] == "CREATED", "create")
        for k in ("creationTimestamp", "updateTimestamp", "dedicatedServiceAccountId", "availabilityZoneIds", "certificateAuthorityArn"):
            self.assertIn(k, env)
        self.assertEqual(env["tgwStatus"], "NONE")

        fs.tag_resource(resourceArn=arn, tags={"team": "kdb", "x": "y"})
        fs.untag_resource(resourceArn=arn, tagKeys=["x"])
        self.assertEqual(fs.list_tags_for_resource(resourceArn=arn)["tags"], {"team": "kdb"})

        with self.assertRaises(ClientError) as cm:
            fs.update_kx_environment_network(environmentId=env_id, transitGatewayConfiguration={
                "transitGatewayID": "tgw-1", "routableCIDRSpace": "100.64.0.0/24"})
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationException")
        fs.update_kx_environment_network(environmentId=env_id, transitGatewayConfiguration={
            "transitGatewayID": "tgw-0123", "routableCIDRSpace": "100.64.0.0/26"}, clientToken="t1")
        env = wait(fs, env_id, lambda e: e["status"] == "CREATED" and e["tgwStatus"] == "SUCCESSFULLY_UPDATED", "tgw")
        self.assertEqual(env["transitGatewayConfiguration"], {"transitGatewayID": "tgw-0123", "routableCIDRSpace": "100.64.0.0/26"})
        fs.update_kx_environment_network(environmentId=env_id, customDNSConfiguration=[
            {"customDNSServerName": "example.finspace.amazon.aws.com", "customDNSServerIP": "10.0.0.76"}], clientToken="t2")
        env = wait(fs, env_id, lambda e: e["status"] == "CREATED" and e["dnsStatus"] == "SUCCESSFULLY_UPDATED", "dns")
        self.assertEqual(env["customDNSConfiguration"][0]["customDNSServerIP"], "10.0.0.76")

        u = fs.create_kx_user(environmentId=env_id, userName="alice", iamRole=ROLE, tags={"who": "alice"})
        self.assertEqual(u["userArn"], arn + "/kxUser/alice")
        fs.create_kx_user(environmentId=env_id, userName="bob", iamRole=ROLE)
        with self.assertRaises(ClientError) as cm:
            fs.create_kx_user(environmentId=env_id, userName="alice", iamRole=ROLE)
        self.assertEqual(cm.exception.response["Error"]["Code"], "ConflictException")
        self.assertEqual(fs.list_tags_for_resource(resourceArn=u["userArn"])["tags"], {"who": "alice"})
        page = fs.list_kx_users(environmentId=env_id, maxResults=1)
        names = [x["userName"] for x in page["users"]]
        names += [x["userName"] for x in fs.list_kx_users(environmentId=env_id, nextToken=page["nextToken"])["users"]]
        self.assertEqual(names, ["alice", "bob"])
        fs.update_kx_user(environmentId=env_id, userName="bob", iamRole=ROLE + "2")
        self.assertEqual(fs.get_kx_user(environmentId=env_id, userName="bob")["iamRole"], ROLE + "2")
        fs.delete_kx_user(environmentId=env_id, userName="bob")
        with self.assertRaises(ClientError) as cm:
            fs.get_kx_user(environmentId=env_id, userName="bob")
        self.assertEqual(cm.exception.response["Error"]["Code"], "ResourceNotFoundException")

        fs.delete_kx_environment(environmentId=env_id)
        wait(fs, env_id, lambda e: e["status"] == "DELETED", "delete")
        with self.assertRaises(ClientError) as cm:
            fs.delete_kx_environment(environmentId=env_id)
        self.assertIn("The Environment is in DELETED state", cm.exception.response["Error"]["Message"])


if __name__ == "__main__":
    sys.exit(0 if unittest.main(exit=False).result.wasSuccessful() else 1)
