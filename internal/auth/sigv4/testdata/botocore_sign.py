# Signs requests with botocore for TestBotocoreCrossClient.
#
# Reads {"base": URL, "creds": [{"akid", "secret", "token"}]} on stdin and
# prints a JSON list of {"name", "method", "url", "headers", "body"}: requests
# made by real botocore clients (captured before they are sent) and requests
# signed directly with SigV4Auth, S3SigV4Auth and SigV4QueryAuth.
import json
import sys
from urllib.parse import quote

import botocore.session
from botocore.auth import S3SigV4Auth, SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest, AWSResponse
from botocore.config import Config
from botocore.credentials import Credentials

cfg = json.load(sys.stdin)
base = cfg["base"]
out = []


def record(name, req):
    body = req.body
    if hasattr(body, "read"):
        body = body.read()
    if body is None:
        body = b""
    if isinstance(body, str):
        body = body.encode()
    headers = {}
    for k, v in req.headers.items():
        headers[k] = v.decode() if isinstance(v, bytes) else v
    out.append({"name": name, "method": req.method, "url": req.url,
                "headers": headers, "body": body.decode("latin-1")})


class Raw:
    def __init__(self, b):
        self.b = b

    def stream(self, *a, **k):
        yield self.b


ARN = "arn:aws:finspace:us-east-1:000000000000:kxEnvironment/abc/kxCluster/c1"

for c in cfg["creds"]:
    tag = c["akid"]
    current = {}

    def before_send(request, **kw):
        record(current["name"], request)
        return AWSResponse(request.url, 200, {}, Raw(b"{}"))

    session = botocore.session.get_session()
    kw = dict(region_name="us-east-1", endpoint_url=base,
              aws_access_key_id=c["akid"], aws_secret_access_key=c["secret"],
              aws_session_token=c.get("token") or None,
              config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"},
                            signature_version="s3v4"))
    # S3 wants s3v4; the other services keep their default (v4).
    clients = {n: session.create_client(n, **(kw if n == "s3" else dict(kw, config=Config(retries={"max_attempts": 1}))))
               for n in ("finspace", "finspace-data", "sts", "s3")}
    for cl in clients.values():
        cl.meta.events.register("before-send", before_send)

    calls = [
        ("finspace", "untag_resource", dict(resourceArn=ARN, tagKeys=["b", "a", "a b"])),
        ("finspace", "list_tags_for_resource", dict(resourceArn=ARN)),
        ("finspace", "tag_resource", dict(resourceArn=ARN, tags={"k": "v", "caf\u00e9": "\u20ac"})),
        ("finspace", "list_kx_environments", dict(maxResults=10, nextToken="abc/def==")),
        ("finspace", "create_kx_environment", dict(name="env1", kmsKeyId="arn:aws:kms:us-east-1:000000000000:key/1",
                                                   clientToken="tok-1")),
        ("finspace-data", "list_datasets", dict(maxResults=5, nextToken="n+1 /")),
        ("finspace-data", "get_programmatic_access_credentials", dict(environmentId="e1", durationInMinutes=60)),
        ("sts", "get_caller_identity", {}),
        ("s3", "put_object", dict(Bucket="bucket", Key="dir/my file!(1).txt", Body=b"hello, object")),
        ("s3", "list_objects_v2", dict(Bucket="bucket", Prefix="a/b", Delimiter="/")),
    ]
    for svc, op, args in calls:
        current["name"] = "client %s %s %s" % (svc, op, tag)
        method = getattr(clients[svc], op, None)
        if method is None:  # an older botocore without this operation
            sys.stderr.write("botocore %s has no %s.%s; skipped\n" % (botocore.__version__, svc, op))
            continue
        try:
            method(**args)
        except Exception:
            pass  # the fake response may not parse; the request is captured

    url = clients["s3"].generate_presigned_url("get_object", Params={"Bucket": "bucket", "Key": "dir/a b.txt"},
                                               ExpiresIn=900)
    out.append({"name": "presigned s3 get_object " + tag, "method": "GET", "url": url, "headers": {}, "body": ""})

    creds = Credentials(c["akid"], c["secret"], c.get("token") or None)
    tags_url = base + "/tags/" + quote(ARN, safe="")
    manual = [
        ("finspace", "GET", tags_url, None, {}),
        ("finspace", "DELETE", tags_url + "?tagKeys=a&tagKeys=b", None, {}),
        ("finspace", "POST", base + "/kx/environments", b'{"name": "env1"}', {"Content-Type": "application/json"}),
        ("finspace", "GET", base + "/kx/environments?name=%E2%82%AC%20caf%C3%A9&z=1&a=2&a=1", None, {}),
        ("finspace", "GET", base + "/kx//environments/./e1/../e2", None, {}),
        ("finspace-api", "GET", base + "/datasetsv2?maxResults=10", None, {"X-Custom": "  a   b "}),
        ("sts", "POST", base + "/", b"Action=GetCallerIdentity&Version=2011-06-15",
         {"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"}),
    ]
    for svc, method, u, data, headers in manual:
        req = AWSRequest(method=method, url=u, data=data, headers=headers)
        SigV4Auth(creds, svc, "us-east-1").add_auth(req)
        record("SigV4Auth %s %s %s %s" % (svc, method, u[len(base):], tag), req.prepare())

    req = AWSRequest(method="PUT", url=base + "/bucket/k%20%21.txt", data=b"payload")
    S3SigV4Auth(creds, "s3", "us-east-1").add_auth(req)
    record("S3SigV4Auth PUT " + tag, req.prepare())

    req = AWSRequest(method="GET", url=base + "/?Action=GetCallerIdentity&Version=2011-06-15")
    SigV4QueryAuth(creds, "sts", "us-east-1", expires=60).add_auth(req)
    record("SigV4QueryAuth sts " + tag, req.prepare())

json.dump(out, sys.stdout, indent=1)
