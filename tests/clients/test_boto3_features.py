"""boto3 beyond the demo table: default checksums (aws-chunked trailer uploads), multipart, presigned URLs,
authentication errors, awkward keys, HTTPS."""

import hashlib
import json
import os
import time
import urllib.error
import urllib.request
import uuid

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError, SSLError

from conftest import ALICE, BOB, CERT, SEED, Who, error_code, s3_client


def record_puts(s3):
    """Records the headers of every PutObject / UploadPart the client sends."""
    seen = []

    def hook(request, **_):
        seen.append({k.lower(): (v.decode() if isinstance(v, bytes) else v) for k, v in request.headers.items()})

    s3.meta.events.register("before-send.s3.PutObject", hook)
    s3.meta.events.register("before-send.s3.UploadPart", hook)
    return seen


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("style", ["path", "virtual"])
def test_default_checksum_uploads(gateway, tmp_path, style, scheme):
    """boto3's defaults (request_checksum_calculation=when_supported): a CRC32 on every upload. A file
    object goes as aws-chunked with the checksum in a trailer (STREAMING-UNSIGNED-PAYLOAD-TRAILER over
    HTTPS, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER or a signed body over HTTP)."""
    s3 = s3_client(gateway, ALICE, style, scheme)
    seen = record_puts(s3)
    key = f"checksums/{style}-{scheme}-{uuid.uuid4().hex[:8]}"
    data = os.urandom(300_000)
    # bytes body
    s3.put_object(Bucket="reports", Key=key + "-bytes", Body=data)
    assert s3.get_object(Bucket="reports", Key=key + "-bytes")["Body"].read() == data
    # file object body (what upload_file and `aws s3 cp` send)
    src = tmp_path / "src.bin"
    src.write_bytes(data)
    with open(src, "rb") as f:
        s3.put_object(Bucket="reports", Key=key + "-file", Body=f)
    assert s3.get_object(Bucket="reports", Key=key + "-file")["Body"].read() == data
    s3.upload_file(str(src), "reports", key + "-upload")
    got = s3.get_object(Bucket="reports", Key=key + "-upload")
    assert got["Body"].read() == data
    assert got["ContentLength"] == len(data)
    assert len(seen) == 3, seen
    assert all(any(h.startswith("x-amz-checksum") or "x-amz-trailer" in h for h in s) for s in seen), seen
    if scheme == "https":
        # The 2025 default this suite exists for: an unsigned-payload aws-chunked body with a trailer.
        trailer = [s for s in seen if s.get("x-amz-content-sha256") == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"]
        assert trailer, seen
        assert all("aws-chunked" in s.get("content-encoding", "") for s in trailer), trailer
    for suffix in ("-bytes", "-file", "-upload"):
        s3.delete_object(Bucket="reports", Key=key + suffix)


def test_upload_file_multipart(gateway, tmp_path):
    s3 = s3_client(gateway, ALICE, "path")
    seen = record_puts(s3)
    mib = 1024 * 1024
    data = os.urandom(11 * mib + 12345)
    src = tmp_path / "mp.bin"
    src.write_bytes(data)
    key = f"multipart/{uuid.uuid4().hex[:8]}.bin"
    cfg = TransferConfig(multipart_threshold=5 * mib, multipart_chunksize=5 * mib, max_concurrency=2)
    s3.upload_file(str(src), "reports", key, Config=cfg)
    assert len(seen) == 3, f"expected 3 UploadPart requests, saw {len(seen)}"
    head = s3.head_object(Bucket="reports", Key=key)
    assert head["ContentLength"] == len(data)
    parts = [hashlib.md5(data[i : i + 5 * mib]).digest() for i in range(0, len(data), 5 * mib)]
    want_etag = f'"{hashlib.md5(b"".join(parts)).hexdigest()}-3"'
    assert head["ETag"] == want_etag
    dst = tmp_path / "back.bin"
    s3.download_file("reports", key, str(dst), Config=cfg)
    assert dst.read_bytes() == data
    # A ranged read in the middle of the second part.
    r = s3.get_object(Bucket="reports", Key=key, Range="bytes=6000000-6000099")
    assert r["Body"].read() == data[6000000:6000100]
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 206
    s3.delete_object(Bucket="reports", Key=key)


def test_presigned_get_and_put(gateway):
    alice = s3_client(gateway, ALICE, "path")
    url = alice.generate_presigned_url(
        "get_object", Params={"Bucket": "reports", "Key": "2026/q1.csv"}, ExpiresIn=300
    )
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.status == 200
        assert r.read() == SEED[("reports", "2026/q1.csv")]
    key = f"presigned/{uuid.uuid4().hex[:8]}.txt"
    put_url = alice.generate_presigned_url("put_object", Params={"Bucket": "reports", "Key": key}, ExpiresIn=300)
    req = urllib.request.Request(put_url, data=b"put through a presigned URL\n", method="PUT")
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200
    assert alice.get_object(Bucket="reports", Key=key)["Body"].read() == b"put through a presigned URL\n"
    alice.delete_object(Bucket="reports", Key=key)
    # A presigned URL carries its signer's rights, no more.
    bob = s3_client(gateway, BOB, "virtual")
    url = bob.generate_presigned_url(
        "get_object", Params={"Bucket": "reports", "Key": "confidential/salaries.csv"}, ExpiresIn=300
    )
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=30)
    assert e.value.code == 403
    assert b"<Code>AccessDenied</Code>" in e.value.read()
    url = bob.generate_presigned_url(
        "get_object", Params={"Bucket": "reports", "Key": "shared/summary.txt"}, ExpiresIn=300
    )
    with urllib.request.urlopen(url, timeout=30) as r:
        assert r.read() == SEED[("reports", "shared/summary.txt")]


def test_presigned_expired(gateway):
    alice = s3_client(gateway, ALICE, "path")
    url = alice.generate_presigned_url(
        "get_object", Params={"Bucket": "reports", "Key": "2026/q1.csv"}, ExpiresIn=1
    )
    time.sleep(2)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=30)
    assert e.value.code == 403
    body = e.value.read()
    assert b"<Code>AccessDenied</Code>" in body, body
    assert b"Request has expired" in body, body


@pytest.mark.parametrize("style", ["path", "virtual"])
def test_wrong_secret(gateway, style):
    s3 = s3_client(gateway, Who("alice-wrong", ALICE.key, ALICE.secret[:-1] + "X"), style)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="reports", Key="2026/q1.csv")
    assert error_code(e) == ("SignatureDoesNotMatch", 403)
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket="reports", Key="wrong-secret.txt", Body=b"x")
    assert error_code(e) == ("SignatureDoesNotMatch", 403)


@pytest.mark.parametrize("style", ["path", "virtual"])
def test_unknown_access_key(gateway, style):
    s3 = s3_client(gateway, Who("nobody", "AKIANOBODYEXAMPLE999", "x" * 40), style)
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="reports", Key="2026/q1.csv")
    assert error_code(e) == ("InvalidAccessKeyId", 403)
    with pytest.raises(ClientError) as e:
        s3.list_buckets()
    assert error_code(e) == ("InvalidAccessKeyId", 403)


AWKWARD_KEYS = [
    "with space.txt",
    "plus+sign.txt",
    "percent%20literal%.txt",
    "tilde~name.txt",
    "equals=and&ampersand.txt",
    "unicode-ünïcödé-日本語-😀.txt",
    "repeated//slashes///here.txt",
    "dir with space/sub+dir/a b+c%d~e=f&g.txt",
    "question?mark#hash.txt",
]


@pytest.mark.parametrize("style", ["path", "virtual"])
def test_awkward_keys_round_trip(gateway, style):
    s3 = s3_client(gateway, ALICE, style)
    prefix = f"keys-{style}-{uuid.uuid4().hex[:8]}/"
    for i, k in enumerate(AWKWARD_KEYS):
        s3.put_object(Bucket="reports", Key=prefix + k, Body=f"{i}:{k}".encode())
    for i, k in enumerate(AWKWARD_KEYS):
        got = s3.get_object(Bucket="reports", Key=prefix + k)["Body"].read()
        assert got == f"{i}:{k}".encode(), k
    listed = s3.list_objects_v2(Bucket="reports", Prefix=prefix)
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(prefix + k for k in AWKWARD_KEYS)
    # bob may read them too: the policy sees the decoded key.
    bob = s3_client(gateway, BOB, style)
    for k in AWKWARD_KEYS:
        assert bob.get_object(Bucket="reports", Key=prefix + k)["Body"].read().endswith(k.encode())
    for k in AWKWARD_KEYS:
        s3.delete_object(Bucket="reports", Key=prefix + k)
    assert s3.list_objects_v2(Bucket="reports", Prefix=prefix).get("KeyCount") == 0


def test_confidential_with_awkward_path_still_denied(gateway):
    """Encodings of the confidential key do not slip past bob's Deny."""
    bob = s3_client(gateway, BOB, "path")
    for key in ["confidential/salaries.csv", "confidential//salaries.csv", "confidential/./salaries.csv"]:
        with pytest.raises(ClientError) as e:
            bob.get_object(Bucket="reports", Key=key)
        assert error_code(e) in {("AccessDenied", 403)}, key


@pytest.mark.parametrize("style", ["path", "virtual"])
def test_https_verify_dev_cert(gateway, style):
    s3 = s3_client(gateway, BOB, style, "https", verify=str(CERT))
    assert s3.get_object(Bucket="reports", Key="2026/q1.csv")["Body"].read() == SEED[("reports", "2026/q1.csv")]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="reports", Key="confidential/salaries.csv")
    assert error_code(e) == ("AccessDenied", 403)
    alice = s3_client(gateway, ALICE, style, "https", verify=str(CERT))
    key = f"https/{uuid.uuid4().hex[:8]}"
    alice.put_object(Bucket="reports", Key=key, Body=b"tls")
    assert alice.get_object(Bucket="reports", Key=key)["Body"].read() == b"tls"
    alice.delete_object(Bucket="reports", Key=key)
    # The system trust store does not know the dev certificate.
    untrusted = s3_client(gateway, BOB, style, "https", verify=True)
    with pytest.raises(SSLError):
        untrusted.get_object(Bucket="reports", Key="2026/q1.csv")


def test_presigned_with_bad_signature_or_unknown_key(gateway):
    alice = s3_client(gateway, ALICE, "path")
    url = alice.generate_presigned_url("get_object", Params={"Bucket": "reports", "Key": "2026/q1.csv"}, ExpiresIn=300)
    sig = url.rsplit("X-Amz-Signature=", 1)[1]
    bad = url[: -len(sig)] + ("0" if sig[0] != "0" else "1") + sig[1:]
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(bad, timeout=30)
    assert e.value.code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in e.value.read()
    nobody = s3_client(gateway, Who("nobody", "AKIANOBODYEXAMPLE999", "x" * 40), "path")
    url = nobody.generate_presigned_url("get_object", Params={"Bucket": "reports", "Key": "2026/q1.csv"}, ExpiresIn=300)
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(url, timeout=30)
    assert e.value.code == 403 and b"<Code>InvalidAccessKeyId</Code>" in e.value.read()


def test_refused_large_upload_without_expect_gets_the_403(gateway):
    """bob's presigned PUT of 20 MiB: the client must see AccessDenied, not a connection error."""
    bob = s3_client(gateway, BOB, "path")
    url = bob.generate_presigned_url("put_object", Params={"Bucket": "reports", "Key": "bob-big.bin"}, ExpiresIn=300)
    req = urllib.request.Request(url, data=os.urandom(20 * 1024 * 1024), method="PUT")
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=60)
    assert e.value.code == 403
    assert b"<Code>AccessDenied</Code>" in e.value.read()


@pytest.mark.parametrize("scheme", ["http", "https"])
def test_wrong_digests_are_refused_and_store_nothing(gateway, scheme):
    import base64

    s3 = s3_client(gateway, ALICE, "path", scheme)
    key = f"digests/{scheme}-{uuid.uuid4().hex[:8]}"
    wrong_md5 = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    wrong_sha256 = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    for kwargs in ({"ContentMD5": wrong_md5}, {"ChecksumCRC32": "AAAAAA=="}, {"ChecksumSHA256": wrong_sha256}):
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket="reports", Key=key, Body=b"hello", **kwargs)
        assert error_code(e) == ("BadDigest", 400), kwargs
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="reports", Key=key)
    assert error_code(e) == ("NoSuchKey", 404)
    # SHA1 is one of the checksums botocore computes without extra dependencies.
    s3.put_object(Bucket="reports", Key=key, Body=b"hello", ChecksumAlgorithm="SHA1")
    got = s3.get_object(Bucket="reports", Key=key)
    assert got["Body"].read() == b"hello"
    etag = got["ETag"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="reports", Key=key, IfNoneMatch=etag)
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket="reports", Key=key, IfMatch='"0123"')
    assert error_code(e) == ("PreconditionFailed", 412)
    s3.delete_object(Bucket="reports", Key=key)


def test_delete_objects_refusals_are_per_key(own_gateway):
    """bob may also delete under reports/tmp/ (added to his policy for this test). One DeleteObjects with a
    key he may delete and one he may not: as S3 does it, the first goes, the second comes back as an
    AccessDenied entry in Errors of a 200 response (`aws s3 rm --recursive` relies on this)."""

    def allow_bob_tmp(gw):
        path = gw.policies / "111122223333" / "iam.json"
        doc = json.loads(path.read_text())
        bob = next(u for u in doc["UserDetailList"] if u["UserName"] == "bob")
        bob["UserPolicyList"][0]["PolicyDocument"]["Statement"].append(
            {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::reports/tmp/*"}
        )
        path.write_text(json.dumps(doc))

    gw = own_gateway("delete-objects", prepare=allow_bob_tmp)
    alice = s3_client(gw, ALICE, "path")
    alice.put_object(Bucket="reports", Key="tmp/a.txt", Body=b"a")
    bob = s3_client(gw, BOB, "path")
    resp = bob.delete_objects(
        Bucket="reports", Delete={"Objects": [{"Key": "tmp/a.txt"}, {"Key": "2026/q1.csv"}]}
    )
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert [d["Key"] for d in resp.get("Deleted", [])] == ["tmp/a.txt"], resp
    assert [(e["Key"], e["Code"]) for e in resp.get("Errors", [])] == [("2026/q1.csv", "AccessDenied")], resp
    assert alice.get_object(Bucket="reports", Key="2026/q1.csv")["Body"].read() == SEED[("reports", "2026/q1.csv")]
    with pytest.raises(ClientError) as e:
        alice.get_object(Bucket="reports", Key="tmp/a.txt")
    assert error_code(e) == ("NoSuchKey", 404)


def add_user_statement(gw, user, statement):
    path = gw.policies / "111122223333" / "iam.json"
    doc = json.loads(path.read_text())
    u = next(x for x in doc["UserDetailList"] if x["UserName"] == user)
    if u["UserPolicyList"]:
        u["UserPolicyList"][0]["PolicyDocument"]["Statement"].append(statement)
    else:
        u["UserPolicyList"].append(
            {"PolicyName": "TestExtra", "PolicyDocument": {"Version": "2012-10-17", "Statement": [statement]}}
        )
    path.write_text(json.dumps(doc))


def test_delete_objects_honours_a_deny_on_the_key(own_gateway):
    """alice may do everything but delete under reports/2026/: DeleteObjects must not get around that."""
    gw = own_gateway(
        "deny-delete",
        prepare=lambda g: add_user_statement(
            g, "alice", {"Effect": "Deny", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::reports/2026/*"}
        ),
    )
    alice = s3_client(gw, ALICE, "path")
    with pytest.raises(ClientError) as e:
        alice.delete_object(Bucket="reports", Key="2026/q1.csv")
    assert error_code(e) == ("AccessDenied", 403)
    try:
        resp = alice.delete_objects(Bucket="reports", Delete={"Objects": [{"Key": "2026/q1.csv"}]})
        # S3's form: 200 with the refusal in Errors.
        assert [(x["Key"], x["Code"]) for x in resp.get("Errors", [])] == [("2026/q1.csv", "AccessDenied")], resp
        assert not resp.get("Deleted"), resp
    except ClientError as e:  # iamgate's form today: the whole request refused
        assert error_code(e) == ("AccessDenied", 403)
    assert alice.get_object(Bucket="reports", Key="2026/q1.csv")["Body"].read() == SEED[("reports", "2026/q1.csv")]


def test_delete_objects_allowed_by_a_key_scoped_policy(own_gateway):
    gw = own_gateway(
        "allow-delete",
        prepare=lambda g: add_user_statement(
            g, "bob", {"Effect": "Allow", "Action": "s3:DeleteObject", "Resource": "arn:aws:s3:::reports/tmp/*"}
        ),
    )
    alice = s3_client(gw, ALICE, "path")
    alice.put_object(Bucket="reports", Key="tmp/a.txt", Body=b"a")
    alice.put_object(Bucket="reports", Key="tmp/b.txt", Body=b"b")
    bob = s3_client(gw, BOB, "path")
    bob.delete_object(Bucket="reports", Key="tmp/a.txt")  # the single delete is allowed
    resp = bob.delete_objects(Bucket="reports", Delete={"Objects": [{"Key": "tmp/b.txt"}]})
    assert [d["Key"] for d in resp.get("Deleted", [])] == ["tmp/b.txt"], resp
    assert not resp.get("Errors"), resp
    assert alice.list_objects_v2(Bucket="reports", Prefix="tmp/").get("KeyCount") == 0
