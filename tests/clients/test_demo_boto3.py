"""Every row of the README's demo table with boto3 (default settings, default checksums), path-style and
virtual-hosted-style (<bucket>.s3.localhost)."""

import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import ALICE, ANON, BOB, CAROL, ROOT_USER, SEED, Who, error_code, s3_client

STYLES = ["path", "virtual"]


def uniq(prefix: str) -> str:
    return f"{prefix}/{uuid.uuid4().hex[:12]}.txt"


def body(resp) -> bytes:
    return resp["Body"].read()


def assert_denied(call, code="AccessDenied", status=403):
    with pytest.raises(ClientError) as e:
        call()
    assert error_code(e) == (code, status), e.value.response


def keys_of(resp):
    return sorted(o["Key"] for o in resp.get("Contents", []))


@pytest.mark.parametrize("style", STYLES)
def test_alice_does_everything(gateway, style):
    s3 = s3_client(gateway, ALICE, style)
    for (bucket, key), content in SEED.items():
        assert body(s3.get_object(Bucket=bucket, Key=key)) == content, (bucket, key)
    key = uniq("alice-" + style)
    put = s3.put_object(Bucket="reports", Key=key, Body=b"written by alice\n")
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert body(s3.get_object(Bucket="reports", Key=key)) == b"written by alice\n"
    listed = keys_of(s3.list_objects_v2(Bucket="reports", Prefix=key.split("/")[0] + "/"))
    assert key in listed
    assert {"2026/q1.csv", "confidential/salaries.csv", "shared/summary.txt"} <= set(
        keys_of(s3.list_objects_v2(Bucket="reports"))
    )
    assert s3.delete_object(Bucket="reports", Key=key)["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert_denied(lambda: s3.get_object(Bucket="reports", Key=key), "NoSuchKey", 404)
    buckets = {b["Name"] for b in s3.list_buckets()["Buckets"]}
    assert {"public", "reports"} <= buckets
    # A bucket of her own, and its removal.
    name = f"alice-{style}-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="k", Body=b"v")
    assert body(s3.get_object(Bucket=name, Key="k")) == b"v"
    s3.delete_object(Bucket=name, Key="k")
    s3.delete_bucket(Bucket=name)
    assert name not in {b["Name"] for b in s3.list_buckets()["Buckets"]}


@pytest.mark.parametrize("style", STYLES)
def test_bob_reads_reports_but_not_confidential(gateway, style):
    s3 = s3_client(gateway, BOB, style)
    assert body(s3.get_object(Bucket="reports", Key="2026/q1.csv")) == SEED[("reports", "2026/q1.csv")]
    assert body(s3.get_object(Bucket="reports", Key="shared/summary.txt")) == SEED[
        ("reports", "shared/summary.txt")
    ]
    assert {"2026/q1.csv", "shared/summary.txt"} <= set(keys_of(s3.list_objects_v2(Bucket="reports")))
    assert_denied(lambda: s3.get_object(Bucket="reports", Key="confidential/salaries.csv"))
    assert_denied(lambda: s3.put_object(Bucket="reports", Key=uniq("bob"), Body=b"no"))
    assert_denied(lambda: s3.put_object(Bucket="reports", Key="confidential/x.csv", Body=b"no"))
    assert_denied(lambda: s3.delete_object(Bucket="reports", Key="2026/q1.csv"))
    assert_denied(lambda: s3.list_objects_v2(Bucket="public"))
    # Refusals changed nothing.
    alice = s3_client(gateway, ALICE, style)
    assert body(alice.get_object(Bucket="reports", Key="2026/q1.csv")) == SEED[("reports", "2026/q1.csv")]


@pytest.mark.parametrize("style", STYLES)
def test_carol_reads_only_shared(gateway, style):
    s3 = s3_client(gateway, CAROL, style)
    assert body(s3.get_object(Bucket="reports", Key="shared/summary.txt")) == SEED[
        ("reports", "shared/summary.txt")
    ]
    assert_denied(lambda: s3.get_object(Bucket="reports", Key="2026/q1.csv"))
    assert_denied(lambda: s3.get_object(Bucket="reports", Key="confidential/salaries.csv"))
    assert_denied(lambda: s3.list_objects_v2(Bucket="reports"))
    assert_denied(lambda: s3.put_object(Bucket="reports", Key="shared/carol.txt", Body=b"no"))
    # public/* is open to "*" by its bucket policy, but carol is of another account: cross-account access
    # needs her own identity policy to allow it too, and it allows only reports/*.
    assert_denied(lambda: s3.get_object(Bucket="public", Key="index.html"))


@pytest.mark.parametrize("style", STYLES)
def test_root_does_everything_in_its_account(gateway, style):
    s3 = s3_client(gateway, ROOT_USER, style)
    assert body(s3.get_object(Bucket="reports", Key="confidential/salaries.csv")) == SEED[
        ("reports", "confidential/salaries.csv")
    ]
    key = uniq("root-" + style)
    s3.put_object(Bucket="reports", Key=key, Body=b"root was here")
    assert body(s3.get_object(Bucket="reports", Key=key)) == b"root was here"
    assert key in keys_of(s3.list_objects_v2(Bucket="reports", Prefix=key))
    s3.delete_object(Bucket="reports", Key=key)
    s3.put_object(Bucket="public", Key=key, Body=b"public root")
    assert body(s3.get_object(Bucket="public", Key=key)) == b"public root"
    s3.delete_object(Bucket="public", Key=key)
    assert {"public", "reports"} <= {b["Name"] for b in s3.list_buckets()["Buckets"]}


@pytest.mark.parametrize("style", STYLES)
def test_anonymous_reads_public_index_only(gateway, style):
    s3 = s3_client(gateway, ANON, style)
    resp = s3.get_object(Bucket="public", Key="index.html")
    assert body(resp) == SEED[("public", "index.html")]
    assert resp["ContentType"] == "text/html"
    assert_denied(lambda: s3.get_object(Bucket="reports", Key="2026/q1.csv"))
    assert_denied(lambda: s3.get_object(Bucket="reports", Key="shared/summary.txt"))
    assert_denied(lambda: s3.list_objects_v2(Bucket="public"))
    assert_denied(lambda: s3.put_object(Bucket="public", Key="anon.txt", Body=b"no"))
    assert_denied(lambda: s3.delete_object(Bucket="public", Key="index.html"))
    assert_denied(lambda: s3.list_buckets())
    # Still there.
    assert body(s3.get_object(Bucket="public", Key="index.html")) == SEED[("public", "index.html")]


@pytest.mark.parametrize("style", STYLES)
def test_auditor_role_reads_all_reports(gateway, style):
    """bob assumes role auditor through the built-in STS and reads reports, confidential included."""
    import boto3

    sts = boto3.session.Session().client(
        "sts", endpoint_url=gateway.http, region_name="us-east-1",
        aws_access_key_id=BOB.key, aws_secret_access_key=BOB.secret,
    )
    c = sts.assume_role(RoleArn="arn:aws:iam::111122223333:role/auditor", RoleSessionName="demo")["Credentials"]
    role = Who("auditor", c["AccessKeyId"], c["SecretAccessKey"])
    s3 = s3_client(gateway, role, style, token=c["SessionToken"])
    for key in ("2026/q1.csv", "confidential/salaries.csv", "shared/summary.txt"):
        assert body(s3.get_object(Bucket="reports", Key=key)) == SEED[("reports", key)]
    assert_denied(lambda: s3.put_object(Bucket="reports", Key=uniq("auditor"), Body=b"x"))
    assert_denied(lambda: s3_client(gateway, BOB, style).get_object(Bucket="reports", Key="confidential/salaries.csv"))


@pytest.mark.parametrize("style", STYLES)
def test_bob_lists_confidential_names_but_reads_nothing_there(gateway, style):
    """bob's Deny is on the objects `reports/confidential/*`; ListBucket is on the bucket, so (as in AWS) he
    sees the names but gets none of the content."""
    s3 = s3_client(gateway, BOB, style)
    assert keys_of(s3.list_objects_v2(Bucket="reports", Prefix="confidential/")) == ["confidential/salaries.csv"]
    assert_denied(lambda: s3.get_object(Bucket="reports", Key="confidential/salaries.csv", Range="bytes=0-3"))
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket="reports", Key="confidential/salaries.csv")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize(
    "op",
    [
        "get_object_acl", "get_object_tagging", "put_object_tagging", "get_object_attributes",
        "get_bucket_policy", "get_bucket_location", "get_bucket_acl", "list_multipart_uploads",
        "create_multipart_upload", "copy_object", "delete_bucket",
    ],
)
def test_bob_may_not_do_what_his_policy_does_not_name(gateway, op):
    """Sub-resources are their own actions: s3:GetObject does not grant ?acl, ?tagging, ..."""
    s3 = s3_client(gateway, BOB, "path")
    b, k = "reports", "2026/q1.csv"
    calls = {
        "get_object_acl": lambda: s3.get_object_acl(Bucket=b, Key=k),
        "get_object_tagging": lambda: s3.get_object_tagging(Bucket=b, Key=k),
        "put_object_tagging": lambda: s3.put_object_tagging(
            Bucket=b, Key=k, Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}
        ),
        "get_object_attributes": lambda: s3.get_object_attributes(Bucket=b, Key=k, ObjectAttributes=["ETag"]),
        "get_bucket_policy": lambda: s3.get_bucket_policy(Bucket=b),
        "get_bucket_location": lambda: s3.get_bucket_location(Bucket=b),
        "get_bucket_acl": lambda: s3.get_bucket_acl(Bucket=b),
        "list_multipart_uploads": lambda: s3.list_multipart_uploads(Bucket=b),
        "create_multipart_upload": lambda: s3.create_multipart_upload(Bucket=b, Key="2026/mp.bin"),
        "copy_object": lambda: s3.copy_object(Bucket=b, Key="2026/copy.csv", CopySource=f"{b}/{k}"),
        "delete_bucket": lambda: s3.delete_bucket(Bucket="public"),
    }
    assert_denied(calls[op])


@pytest.mark.parametrize("style", STYLES)
def test_missing_key_with_list_permission_is_no_such_key(gateway, style):
    s3 = s3_client(gateway, BOB, style)
    assert_denied(lambda: s3.get_object(Bucket="reports", Key="2026/missing.csv"), "NoSuchKey", 404)


@pytest.mark.parametrize(
    "who,bucket,key",
    [(ANON, "public", "nope.html"), (CAROL, "reports", "shared/missing.txt")],
    ids=["anonymous-public", "carol-reports-shared"],
)
def test_missing_key_without_list_permission_is_access_denied(gateway, who, bucket, key):
    """AWS: "If you don't have the s3:ListBucket permission, Amazon S3 returns an HTTP status code 403
    (Access Denied) error" for a key that does not exist. The demo table: anonymous may GET
    public/index.html and anything else is AccessDenied."""
    s3 = s3_client(gateway, who, "path")
    assert_denied(lambda: s3.get_object(Bucket=bucket, Key=key))


def test_anonymous_head_public_index(gateway):
    s3 = s3_client(gateway, ANON, "path")
    head = s3.head_object(Bucket="public", Key="index.html")
    assert head["ContentLength"] == len(SEED[("public", "index.html")])
    assert head["ContentType"] == "text/html"
