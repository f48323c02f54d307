"""The decision log, read as an operator reads it: the JSON lines `iamgate serve` writes to stdout (the default
`[log] decisions = "stdout"`), one per request, CloudTrail-shaped. Real clients make the requests; each line is
found by the request id the client received and checked field by field. The gateway's whole output (stdout and
stderr, `gateway.log`) must hold no secret key of the demo, no signature and no session token.

conftest.py also checks every gateway's output of the session for the demo's secret keys at the end
(`pytest_sessionfinish`).
"""

import json
import re
import shutil
import subprocess
import urllib.error
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import ALICE, ANON, BOB, REGION, Who, demo_secret_keys, s3_client

TOKEN = "FQoGZXIvYXdzEXAMPLEsessionTOKENvalue/0123456789+abcdefghij="


def decision_lines(gw) -> dict:
    """Every decision log record the gateway wrote so far, by request id."""
    records = {}
    for line in gw.log.read_text(errors="replace").splitlines():
        if line.startswith('{"eventVersion"'):
            record = json.loads(line)
            records[record["requestID"]] = record
    return records


def wait_for(gw, request_id: str, timeout: float = 5.0) -> dict:
    import time

    deadline = time.monotonic() + timeout
    while True:
        records = decision_lines(gw)
        if request_id in records:
            return records[request_id]
        assert time.monotonic() < deadline, f"no decision log line for {request_id}"
        time.sleep(0.05)


def request_id_of(err: ClientError) -> str:
    return err.response["ResponseMetadata"]["RequestId"]


@pytest.fixture(scope="module")
def exercised(tmp_path_factory):
    """A gateway of this module, exercised with the demo cases; yields (gateway, request ids, signatures)."""
    from conftest import Gateway

    gw = Gateway(tmp_path_factory.mktemp("gw-decisions"), "decision-log").start()
    ids = {}
    signatures = []

    alice = s3_client(gw, ALICE, "path")
    r = alice.get_object(Bucket="reports", Key="2026/q1.csv")
    r["Body"].read()
    ids["alice"] = r["ResponseMetadata"]["RequestId"]

    bob = s3_client(gw, BOB, "virtual")
    with pytest.raises(ClientError) as e:
        bob.get_object(Bucket="reports", Key="confidential/salaries.csv")
    ids["bob"] = request_id_of(e.value)

    anon = s3_client(gw, ANON, "path")
    r = anon.get_object(Bucket="public", Key="index.html")
    r["Body"].read()
    ids["anonymous"] = r["ResponseMetadata"]["RequestId"]

    forger = s3_client(gw, Who("forger", ALICE.key, "not-alices-secret-key-at-all-000000000000"), "path")
    with pytest.raises(ClientError) as e:
        forger.get_object(Bucket="reports", Key="2026/q1.csv")
    ids["forged"] = request_id_of(e.value)

    # Presigned URLs: one plain, one with a session token; their signatures must not reach the log.
    url = bob.generate_presigned_url("get_object", Params={"Bucket": "reports", "Key": "2026/q1.csv"}, ExpiresIn=300)
    signatures.append(re.search(r"X-Amz-Signature=([0-9a-f]+)", url).group(1))
    with urllib.request.urlopen(url, timeout=30) as resp:
        assert resp.status == 200
        ids["presigned"] = resp.headers["x-amz-request-id"]
    import boto3
    from botocore.config import Config

    with_token = boto3.session.Session().client(
        "s3",
        endpoint_url=gw.http,
        aws_access_key_id=BOB.key,
        aws_secret_access_key=BOB.secret,
        aws_session_token=TOKEN,
        region_name=REGION,
        config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1}),
    )
    url = with_token.generate_presigned_url(
        "get_object", Params={"Bucket": "reports", "Key": "2026/q1.csv"}, ExpiresIn=300
    )
    assert "X-Amz-Security-Token=" in url
    signatures.append(re.search(r"X-Amz-Signature=([0-9a-f]+)", url).group(1))
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            ids["token"] = resp.headers["x-amz-request-id"]
    except urllib.error.HTTPError as err:
        ids["token"] = err.headers["x-amz-request-id"]
    # The same token in a header, through boto3.
    try:
        r = with_token.head_object(Bucket="reports", Key="2026/q1.csv")
        ids["token-header"] = r["ResponseMetadata"]["RequestId"]
    except ClientError as err:
        ids["token-header"] = request_id_of(err)

    # curl --aws-sigv4 (header-signed; its signature is printed with -v, which we read back).
    curl = shutil.which("curl")
    assert curl, "curl is not installed: apt-get install curl"
    p = subprocess.run(
        [curl, "-sS", "-v", "-o", "/dev/null", "--aws-sigv4", f"aws:amz:{REGION}:s3", "--user",
         f"{ALICE.key}:{ALICE.secret}", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
         f"{gw.http}/reports/shared/summary.txt"],
        capture_output=True, timeout=60,
    )
    assert p.returncode == 0, p.stderr.decode()
    sent = p.stderr.decode("utf-8", "replace")
    signatures += re.findall(r"Signature=([0-9a-f]{64})", sent)
    ids["curl"] = re.search(r"(?im)^< x-amz-request-id: (\S+)", sent).group(1)
    assert len(signatures) == 3, sent

    for request_id in ids.values():
        wait_for(gw, request_id)
    yield gw, ids, signatures
    gw.stop()


def test_alice_allowed(exercised):
    gw, ids, _ = exercised
    r = wait_for(gw, ids["alice"])
    assert r["eventVersion"] == "1.09"
    assert r["eventType"] == "AwsApiCall"
    assert r["eventSource"] == "s3.amazonaws.com"
    assert r["eventName"] == "GetObject"
    assert r["awsRegion"] == REGION
    assert r["sourceIPAddress"] == "127.0.0.1"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", r["eventTime"]), r["eventTime"]
    assert "Boto3" in r["userAgent"] or "botocore" in r["userAgent"], r["userAgent"]
    assert r["userIdentity"] == {
        "type": "IAMUser",
        "principalId": "AIDAALICEEXAMPLE00001",
        "arn": "arn:aws:iam::111122223333:user/alice",
        "accountId": "111122223333",
        "accessKeyId": ALICE.key,
        "userName": "alice",
    }
    assert r["requestParameters"]["bucketName"] == "reports"
    assert r["requestParameters"]["key"] == "2026/q1.csv"
    assert r["resources"] == [
        {"accountId": "111122223333", "type": "AWS::S3::Object", "ARN": "arn:aws:s3:::reports/2026/q1.csv"}
    ]
    assert r["additionalEventData"] == {"SignatureVersion": "SigV4", "AuthenticationMethod": "AuthHeader"}
    assert "errorCode" not in r and "errorMessage" not in r
    assert r["readOnly"] is True
    g = r["iamgate"]
    assert g["decision"] == "allowed"
    assert g["enforcement"] == "enforced"
    assert g["dryRun"] is False
    assert g["status"] == 200
    assert g["upstream"] == "s3"
    assert g["generation"] == 1
    [check] = g["checks"]
    assert check["action"] == "s3:GetObject"
    assert check["resource"] == "arn:aws:s3:::reports/2026/q1.csv"
    assert check["decision"] == "allowed"
    assert check["matchedStatements"][0]["policy"] == "arn:aws:iam::111122223333:policy/AdminAll"
    assert check["matchedStatements"][0]["effect"] == "Allow"
    assert check["missingContextKeys"] == []
    for stage in ("authenticate", "route", "inspect", "evaluate", "upstream", "total"):
        assert isinstance(g["micros"][stage], int), (stage, g["micros"])
    assert g["micros"]["total"] >= g["micros"]["upstream"]


def test_bob_denied_on_confidential(exercised):
    gw, ids, _ = exercised
    r = wait_for(gw, ids["bob"])
    assert r["userIdentity"]["arn"] == "arn:aws:iam::111122223333:user/bob"
    assert r["userIdentity"]["principalId"] == "AIDABOBEXAMPLE000001"
    assert r["requestParameters"]["bucketName"] == "reports"
    assert r["requestParameters"]["key"] == "confidential/salaries.csv"
    assert r["requestParameters"]["Host"].startswith("reports.s3.localhost:")
    assert r["errorCode"] == "AccessDenied"
    # The message S3 gives a caller of the bucket's own account: who, what, on what, and why.
    assert r["errorMessage"] == (
        "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: s3:GetObject on resource: "
        '"arn:aws:s3:::reports/confidential/salaries.csv" with an explicit deny in an identity-based policy'
    )
    g = r["iamgate"]
    assert g["decision"] == "explicitDeny"
    assert g["status"] == 403
    [check] = g["checks"]
    assert check["decision"] == "explicitDeny"
    assert check["matchedStatements"] == [
        {
            "policy": "arn:aws:iam::111122223333:user/bob (inline ReadReports)",
            "sid": "NoConfidential",
            "index": 1,
            "effect": "Deny",
            "source": "IAM Policy",
        }
    ]
    assert g["micros"]["upstream"] is None


def test_anonymous_public_page(exercised):
    gw, ids, _ = exercised
    r = wait_for(gw, ids["anonymous"])
    assert r["userIdentity"] == {"type": "AWSAccount", "principalId": "", "accountId": "anonymous"}
    assert r["additionalEventData"] == {}
    assert r["requestParameters"]["bucketName"] == "public"
    assert r["requestParameters"]["key"] == "index.html"
    g = r["iamgate"]
    assert g["decision"] == "allowed"
    [check] = g["checks"]
    assert check["matchedStatements"][0]["sid"] == "PublicRead"
    assert check["matchedStatements"][0]["source"] == "Resource Policy"


def test_bad_signature_rejected(exercised):
    gw, ids, _ = exercised
    r = wait_for(gw, ids["forged"])
    assert r["errorCode"] == "SignatureDoesNotMatch"
    assert r["eventName"] == "GetObject"
    assert r["userIdentity"] == {"type": "Unknown", "principalId": "", "accountId": "", "accessKeyId": ALICE.key}
    g = r["iamgate"]
    assert g["decision"] is None
    assert g["refusedAt"] == "authenticate"
    assert g["checks"] == []
    assert g["status"] == 403
    assert g["micros"]["authenticate"] is None and isinstance(g["micros"]["total"], int)


def test_presigned_requests_leave_authentication_parameters_out(exercised):
    gw, ids, _ = exercised
    for name in ("presigned", "token"):
        r = wait_for(gw, ids[name])
        assert r["additionalEventData"]["AuthenticationMethod"] == "QueryString"
        for param in r["requestParameters"]:
            assert not param.lower().startswith("x-amz-"), (name, param)
    assert wait_for(gw, ids["presigned"])["iamgate"]["decision"] == "allowed"
    assert wait_for(gw, ids["curl"])["userAgent"].startswith("curl/")


def test_no_secret_signature_or_token_in_the_gateway_output(exercised):
    gw, _, signatures = exercised
    gw.stop()  # everything flushed
    text = gw.log.read_text(errors="replace")
    assert text.count('{"eventVersion"') >= 8
    # The start-up summary: listeners, upstreams, what the store holds and how long it took.
    assert re.search(r"listening http=127\.0\.0\.1:\d+ https=127\.0\.0\.1:\d+ admin=off", text), text[:2000]
    assert re.search(r"upstream upstream=s3 kind=s3 target=local object store", text)
    assert re.search(r"policy store loaded .*accounts=2 principals=\d+ policy_documents=\d+ statements=\d+ .*load_ms=", text)
    assert "iamgate is serving" in text
    for secret in demo_secret_keys():
        assert secret not in text, f"a demo secret key is in {gw.log}"
    for signature in signatures:
        assert signature not in text, f"a request signature is in {gw.log}"
    assert TOKEN not in text and TOKEN.replace("/", "%2F").replace("+", "%2B").replace("=", "%3D") not in text
    assert "X-Amz-Security-Token" not in text and "X-Amz-Signature" not in text
    assert not re.search(r"Signature=[0-9a-f]{64}", text)
