#!/usr/bin/env python3
"""Managed kdb shared infrastructure through boto3, as the public tick
workflow sets it up: a scaling group and a NAS_1 volume polled to ACTIVE,
an RDB cluster on the group saving down to the volume and a GP cluster
beside it, polled to RUNNING; the group lists them, the volume reports
them attached, neither can be deleted under them, and a cluster that does
not fit the group's host is refused; then teardown in the real order
(clusters, volume, scaling group), each polled to its end.

Environment: OPENFINSPACE_ENDPOINT, AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY.
"""

import os
import time
import unittest

import boto3
from botocore.exceptions import ClientError

ENDPOINT = os.environ["OPENFINSPACE_ENDPOINT"].rstrip("/")
VPC = {"vpcId": "vpc-0abc1234", "securityGroupIds": ["sg-0abc1234"], "subnetIds": ["subnet-0abc1234"], "ipAddressType": "IP_V4"}


class KxScaling(unittest.TestCase):
    def setUp(self):
        self.fs = boto3.client("finspace", endpoint_url=ENDPOINT, region_name="us-east-1")

    def wait(self, fn, pred, what, gone_ok=False):
        deadline = time.time() + 30
        while True:
            try:
                out = fn()
            except ClientError as e:
                if gone_ok and e.response["Error"]["Code"] == "ResourceNotFoundException":
                    return None
                raise
            if pred(out):
                return out
            if time.time() > deadline:
                raise AssertionError("%s: stuck: %s" % (what, out))
            time.sleep(0.05)

    def code(self, what):
        with self.assertRaises(ClientError) as cm:
            what()
        return cm.exception.response["Error"]["Code"], cm.exception.response["Error"]["Message"]

    def cluster(self, env, az, name, typ, mem, **extra):
        return self.fs.create_kx_cluster(
            environmentId=env, clusterName=name, clusterType=typ, releaseLabel="1.0", azMode="SINGLE",
            availabilityZoneId=az, vpcConfiguration=VPC, clientToken="c-" + name,
            scalingGroupConfiguration={"scalingGroupName": "tick-sg", "memoryReservation": mem, "memoryLimit": 2 * mem,
                                       "nodeCount": 1, "cpu": 1.0}, **extra)

    def test_flow(self):
        fs = self.fs
        env = fs.create_kx_environment(name="tick", kmsKeyId="arn:aws:kms:us-east-1:000000000000:key/k")["environmentId"]
        e = self.wait(lambda: fs.get_kx_environment(environmentId=env), lambda e: e["status"] == "CREATED", "environment")
        az = e["availabilityZoneIds"][0]

        sg = fs.create_kx_scaling_group(environmentId=env, scalingGroupName="tick-sg", hostType="kx.sg.xlarge",
                                        availabilityZoneId=az, clientToken="sg", tags={"app": "tick"})
        self.assertEqual(sg["status"], "CREATING")
        vol = fs.create_kx_volume(environmentId=env, volumeName="tick-vol", volumeType="NAS_1", azMode="SINGLE",
                                  availabilityZoneIds=[az], nas1Configuration={"type": "SSD_250", "size": 1200},
                                  description="savedown", clientToken="vol")
        self.assertEqual(vol["status"], "CREATING")
        self.assertTrue(vol["volumeArn"].endswith("/kxVolume/tick-vol"), vol["volumeArn"])
        fs.tag_resource(resourceArn=vol["volumeArn"], tags={"app": "tick"})
        g = self.wait(lambda: fs.get_kx_scaling_group(environmentId=env, scalingGroupName="tick-sg"),
                      lambda g: g["status"] == "ACTIVE", "scaling group")
        self.assertEqual(g["hostType"], "kx.sg.xlarge")
        self.assertIn("createdTimestamp", g)
        self.assertIn("lastModifiedTimestamp", g)
        v = self.wait(lambda: fs.get_kx_volume(environmentId=env, volumeName="tick-vol"),
                      lambda v: v["status"] == "ACTIVE", "volume")
        self.assertEqual(v["nas1Configuration"], {"type": "SSD_250", "size": 1200})
        self.assertIn("GiB used of 1200 GiB", v["statusReason"])
        self.assertEqual(fs.list_tags_for_resource(resourceArn=v["volumeArn"])["tags"], {"app": "tick"})

        # kx.sg.xlarge is 32 GiB and 4 vCPUs: an RDB of 16 and a GP of 8 fit.
        self.cluster(env, az, "tick-rdb", "RDB", 16, savedownStorageConfiguration={"volumeName": "tick-vol"})
        self.cluster(env, az, "tick-gp", "GP", 8)
        code, msg = self.code(lambda: self.cluster(env, az, "tick-hdb", "HDB", 16))
        self.assertEqual(code, "ValidationException")
        self.assertIn("cannot take the cluster", msg)
        for name in ("tick-rdb", "tick-gp"):
            got = self.wait(lambda: fs.get_kx_cluster(environmentId=env, clusterName=name),
                            lambda c: c["status"] in ("RUNNING", "CREATE_FAILED"), name)
            self.assertEqual(got["status"], "RUNNING", got.get("statusReason"))
            self.assertEqual(got["scalingGroupConfiguration"]["scalingGroupName"], "tick-sg")
        self.assertEqual(sorted(fs.get_kx_scaling_group(environmentId=env, scalingGroupName="tick-sg")["clusters"]),
                         ["tick-gp", "tick-rdb"])
        attached = fs.get_kx_volume(environmentId=env, volumeName="tick-vol")["attachedClusters"]
        self.assertEqual(attached, [{"clusterName": "tick-rdb", "clusterType": "RDB", "clusterStatus": "RUNNING"}])
        self.assertEqual([s["volumeName"] for s in fs.list_kx_volumes(environmentId=env, volumeType="NAS_1")["kxVolumeSummaries"]],
                         ["tick-vol"])
        self.assertEqual([s["scalingGroupName"] for s in fs.list_kx_scaling_groups(environmentId=env)["scalingGroups"]],
                         ["tick-sg"])

        # The wrong order is refused, naming what is in the way.
        code, msg = self.code(lambda: fs.delete_kx_volume(environmentId=env, volumeName="tick-vol", clientToken="dv1"))
        self.assertEqual(code, "ConflictException")
        self.assertIn("tick-rdb", msg)
        code, msg = self.code(lambda: fs.delete_kx_scaling_group(environmentId=env, scalingGroupName="tick-sg", clientToken="dg1"))
        self.assertEqual(code, "ConflictException")
        self.assertIn("tick-gp", msg)

        # Teardown in the real order.
        for name in ("tick-rdb", "tick-gp"):
            fs.delete_kx_cluster(environmentId=env, clusterName=name, clientToken="d-" + name)
        for name in ("tick-rdb", "tick-gp"):
            self.wait(lambda: fs.get_kx_cluster(environmentId=env, clusterName=name), lambda c: c["status"] == "DELETED", name, gone_ok=True)
        fs.delete_kx_volume(environmentId=env, volumeName="tick-vol", clientToken="dv2")
        fs.delete_kx_scaling_group(environmentId=env, scalingGroupName="tick-sg", clientToken="dg2")
        self.wait(lambda: fs.get_kx_volume(environmentId=env, volumeName="tick-vol"), lambda v: v["status"] == "DELETED", "volume deletion")
        self.wait(lambda: fs.get_kx_scaling_group(environmentId=env, scalingGroupName="tick-sg"),
                  lambda g: g["status"] == "DELETED", "scaling group deletion")
        code, _ = self.code(lambda: fs.list_tags_for_resource(resourceArn=v["volumeArn"]))
        self.assertEqual(code, "ResourceNotFoundException")
        fs.delete_kx_environment(environmentId=env)
        self.wait(lambda: fs.get_kx_environment(environmentId=env), lambda e: e["status"] == "DELETED", "environment deletion")


if __name__ == "__main__":
    unittest.main(verbosity=2)
