"""The demo table with the AWS CLI (v1, from PyPI): `aws s3 cp/ls/rm` and `aws s3api ...` with --endpoint-url
and credentials from the environment. Also a 20 MiB multipart `aws s3 cp` both ways and HTTPS with --ca-bundle."""

import json
import os
import uuid

import pytest

from conftest import ALICE, ANON, BOB, CAROL, CERT, ROOT_USER, SEED, VENV_BIN, client_env, describe, run

AWS = str(VENV_BIN / "aws")


@pytest.fixture
def aws(gateway, tmp_path):
    def call(who, *args, endpoint=None, extra=(), stdin=None):
        cmd = [AWS, "--endpoint-url", endpoint or gateway.http, *extra]
        if who.key is None:
            cmd.append("--no-sign-request")
        return run(cmd + list(args), env=client_env(who, tmp_path / "home"), input=stdin)

    call.endpoint = gateway.http
    return call


def ok(p):
    assert p.returncode == 0, describe(p)
    return p


def refused(p, needle="An error occurred (AccessDenied)"):
    assert p.returncode != 0, describe(p)
    assert needle in p.stderr.decode("utf-8", "replace"), describe(p)
    return p


def test_alice_s3_commands(aws, tmp_path):
    prefix = f"cli-alice/{uuid.uuid4().hex[:8]}"
    src = tmp_path / "in.txt"
    src.write_bytes(b"alice via aws s3 cp\n")
    ok(aws(ALICE, "s3", "cp", str(src), f"s3://reports/{prefix}/in.txt"))
    out = ok(aws(ALICE, "s3", "ls", f"s3://reports/{prefix}/")).stdout.decode()
    assert "in.txt" in out and " 20 " in out, out
    top = ok(aws(ALICE, "s3", "ls", "s3://reports/")).stdout.decode()
    assert "PRE 2026/" in top and "PRE confidential/" in top and "PRE shared/" in top, top
    buckets = ok(aws(ALICE, "s3", "ls")).stdout.decode()
    assert " public" in buckets and " reports" in buckets, buckets
    dst = tmp_path / "out.txt"
    ok(aws(ALICE, "s3", "cp", f"s3://reports/{prefix}/in.txt", str(dst)))
    assert dst.read_bytes() == src.read_bytes()
    got = ok(aws(ALICE, "s3", "cp", "s3://reports/confidential/salaries.csv", "-")).stdout
    assert got == SEED[("reports", "confidential/salaries.csv")]
    ok(aws(ALICE, "s3", "rm", f"s3://reports/{prefix}/in.txt"))
    listed = json.loads(
        ok(aws(ALICE, "s3api", "list-objects-v2", "--bucket", "reports", "--prefix", prefix + "/")).stdout or b"{}"
    )
    assert not listed.get("Contents"), listed


def test_alice_s3api_commands(aws, tmp_path):
    prefix = f"cli-api/{uuid.uuid4().hex[:8]}"
    src = tmp_path / "body.bin"
    src.write_bytes(b"s3api put-object body\x00\x01\x02")
    put = json.loads(
        ok(aws(ALICE, "s3api", "put-object", "--bucket", "reports", "--key", f"{prefix}/a", "--body", str(src))).stdout
    )
    assert put["ETag"].strip('"'), put
    out = tmp_path / "got.bin"
    meta = json.loads(
        ok(aws(ALICE, "s3api", "get-object", "--bucket", "reports", "--key", f"{prefix}/a", str(out))).stdout
    )
    assert out.read_bytes() == src.read_bytes()
    assert meta["ContentLength"] == len(src.read_bytes()) and meta["ETag"] == put["ETag"], meta
    copied = json.loads(
        ok(
            aws(
                ALICE, "s3api", "copy-object", "--bucket", "reports", "--key", f"{prefix}/b",
                "--copy-source", f"reports/{prefix}/a",
            )
        ).stdout
    )
    assert copied["CopyObjectResult"]["ETag"] == put["ETag"], copied
    ok(aws(ALICE, "s3api", "get-object", "--bucket", "reports", "--key", f"{prefix}/b", str(out)))
    assert out.read_bytes() == src.read_bytes()
    listed = json.loads(
        ok(aws(ALICE, "s3api", "list-objects-v2", "--bucket", "reports", "--prefix", prefix + "/")).stdout
    )
    assert [o["Key"] for o in listed["Contents"]] == [f"{prefix}/a", f"{prefix}/b"], listed
    # (The CLI paginates list-objects-v2 and drops KeyCount from the merged result.)
    deleted = json.loads(
        ok(
            aws(
                ALICE, "s3api", "delete-objects", "--bucket", "reports",
                "--delete", json.dumps({"Objects": [{"Key": f"{prefix}/a"}, {"Key": f"{prefix}/b"}]}),
            )
        ).stdout
    )
    assert sorted(d["Key"] for d in deleted["Deleted"]) == [f"{prefix}/a", f"{prefix}/b"], deleted
    assert not deleted.get("Errors"), deleted
    listed = json.loads(
        ok(aws(ALICE, "s3api", "list-objects-v2", "--bucket", "reports", "--prefix", prefix + "/")).stdout or b"{}"
    )
    assert not listed.get("Contents"), listed


def test_bob(aws, tmp_path):
    assert ok(aws(BOB, "s3", "cp", "s3://reports/2026/q1.csv", "-")).stdout == SEED[("reports", "2026/q1.csv")]
    top = ok(aws(BOB, "s3", "ls", "s3://reports/")).stdout.decode()
    assert "PRE 2026/" in top, top
    listed = json.loads(ok(aws(BOB, "s3api", "list-objects-v2", "--bucket", "reports")).stdout)
    assert "2026/q1.csv" in [o["Key"] for o in listed["Contents"]]
    refused(aws(BOB, "s3api", "get-object", "--bucket", "reports", "--key", "confidential/salaries.csv",
                str(tmp_path / "x")))
    # `aws s3 cp` downloads start with HeadObject, whose 403 has no body: the CLI says "(403) ... Forbidden".
    refused(aws(BOB, "s3", "cp", "s3://reports/confidential/salaries.csv", "-"), "An error occurred (403)")
    src = tmp_path / "bob.txt"
    src.write_bytes(b"bob may not write")
    refused(aws(BOB, "s3", "cp", str(src), "s3://reports/bob.txt"))
    refused(aws(BOB, "s3api", "put-object", "--bucket", "reports", "--key", "bob.txt", "--body", str(src)))
    # DeleteObjects: refused as a whole (iamgate) or per key in a 200 (S3, see test_boto3_features.py);
    # either way the CLI reports AccessDenied and the object stays.
    p = aws(BOB, "s3api", "delete-objects", "--bucket", "reports",
            "--delete", json.dumps({"Objects": [{"Key": "2026/q1.csv"}]}))
    assert b"AccessDenied" in p.stdout + p.stderr, describe(p)
    assert ok(aws(BOB, "s3", "cp", "s3://reports/2026/q1.csv", "-")).stdout == SEED[("reports", "2026/q1.csv")]
    refused(aws(BOB, "s3api", "copy-object", "--bucket", "reports", "--key", "2026/copy.csv",
                "--copy-source", "reports/2026/q1.csv"))


def test_auditor(aws, tmp_path):
    """bob assumes role auditor with `aws sts assume-role`, then reads the confidential report."""
    out = ok(aws(BOB, "sts", "assume-role", "--role-arn", "arn:aws:iam::111122223333:role/auditor",
                 "--role-session-name", "demo-cli")).stdout
    c = json.loads(out)["Credentials"]
    home = tmp_path / "auditor-home"
    env = client_env(ANON, home)
    env.update(AWS_ACCESS_KEY_ID=c["AccessKeyId"], AWS_SECRET_ACCESS_KEY=c["SecretAccessKey"],
               AWS_SESSION_TOKEN=c["SessionToken"])
    got = ok(run([AWS, "--endpoint-url", aws.endpoint, "s3", "cp", "s3://reports/confidential/salaries.csv", "-"],
                 env=env)).stdout
    assert got == SEED[("reports", "confidential/salaries.csv")]
    ident = json.loads(ok(run([AWS, "--endpoint-url", aws.endpoint, "sts", "get-caller-identity"], env=env)).stdout)
    assert ident["Arn"] == "arn:aws:sts::111122223333:assumed-role/auditor/demo-cli"
    refused(aws(BOB, "s3", "cp", "s3://reports/confidential/salaries.csv", "-"), "An error occurred (403)")


def test_carol(aws, tmp_path):
    got = ok(aws(CAROL, "s3", "cp", "s3://reports/shared/summary.txt", "-")).stdout
    assert got == SEED[("reports", "shared/summary.txt")]
    refused(aws(CAROL, "s3api", "get-object", "--bucket", "reports", "--key", "2026/q1.csv", str(tmp_path / "x")))
    refused(aws(CAROL, "s3api", "list-objects-v2", "--bucket", "reports"))


def test_root(aws, tmp_path):
    got = ok(aws(ROOT_USER, "s3", "cp", "s3://reports/confidential/salaries.csv", "-")).stdout
    assert got == SEED[("reports", "confidential/salaries.csv")]
    key = f"cli-root/{uuid.uuid4().hex[:8]}.txt"
    ok(aws(ROOT_USER, "s3", "cp", "-", f"s3://public/{key}", stdin=b"root upload\n"))
    assert ok(aws(ROOT_USER, "s3", "cp", f"s3://public/{key}", "-")).stdout == b"root upload\n"
    ok(aws(ROOT_USER, "s3", "rm", f"s3://public/{key}"))


def test_anonymous(aws, tmp_path):
    got = ok(aws(ANON, "s3", "cp", "s3://public/index.html", "-")).stdout
    assert got == SEED[("public", "index.html")]
    refused(aws(ANON, "s3api", "get-object", "--bucket", "reports", "--key", "2026/q1.csv", str(tmp_path / "x")))
    refused(aws(ANON, "s3api", "list-objects-v2", "--bucket", "public"))
    refused(aws(ANON, "s3api", "put-object", "--bucket", "public", "--key", "anon.txt"))


def test_virtual_hosted(aws, gateway):
    """The CLI goes virtual-hosted (<bucket>.s3.localhost) by itself when the endpoint is a host name."""
    got = ok(aws(BOB, "s3", "cp", "s3://reports/2026/q1.csv", "-", endpoint=gateway.endpoint("virtual"))).stdout
    assert got == SEED[("reports", "2026/q1.csv")]


def test_https_ca_bundle(aws, gateway, tmp_path):
    https = gateway.https
    got = ok(aws(BOB, "s3", "cp", "s3://reports/2026/q1.csv", "-", endpoint=https, extra=["--ca-bundle", str(CERT)]))
    assert got.stdout == SEED[("reports", "2026/q1.csv")]
    key = f"cli-https/{uuid.uuid4().hex[:8]}.txt"
    ok(aws(ALICE, "s3", "cp", "-", f"s3://reports/{key}", endpoint=https, extra=["--ca-bundle", str(CERT)],
           stdin=b"over TLS\n"))
    got = ok(aws(ALICE, "s3", "cp", f"s3://reports/{key}", "-", endpoint=https, extra=["--ca-bundle", str(CERT)]))
    assert got.stdout == b"over TLS\n"
    # Without the bundle the dev certificate is not trusted: the TLS is real.
    p = aws(BOB, "s3", "cp", "s3://reports/2026/q1.csv", "-", endpoint=https)
    assert p.returncode != 0 and b"CERTIFICATE_VERIFY_FAILED" in p.stderr, describe(p)


def test_20_mib_multipart_both_ways(aws, tmp_path):
    data = os.urandom(20 * 1024 * 1024)
    src = tmp_path / "big.bin"
    src.write_bytes(data)
    key = f"cli-big/{uuid.uuid4().hex[:8]}.bin"
    ok(aws(ALICE, "s3", "cp", str(src), f"s3://reports/{key}"))
    head = json.loads(ok(aws(ALICE, "s3api", "head-object", "--bucket", "reports", "--key", key)).stdout)
    assert head["ContentLength"] == len(data), head
    # The CLI's multipart threshold and part size are 8 MiB: 20 MiB is 3 parts.
    assert head["ETag"].strip('"').endswith("-3"), head
    dst = tmp_path / "back.bin"
    ok(aws(ALICE, "s3", "cp", f"s3://reports/{key}", str(dst)))
    back = dst.read_bytes()
    assert len(back) == len(data) and back == data
    ok(aws(ALICE, "s3", "rm", f"s3://reports/{key}"))


def test_awkward_keys(aws, tmp_path):
    prefix = f"cli-keys/{uuid.uuid4().hex[:8]}"
    keys = ["with space+plus%pct~t=e&a.txt", "ünïcödé/日本語.txt", "double//slash.txt"]
    for k in keys:
        ok(aws(ALICE, "s3", "cp", "-", f"s3://reports/{prefix}/{k}", stdin=k.encode()))
    listed = json.loads(
        ok(aws(ALICE, "s3api", "list-objects-v2", "--bucket", "reports", "--prefix", prefix + "/")).stdout
    )
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(f"{prefix}/{k}" for k in keys), listed
    for k in keys:
        assert ok(aws(BOB, "s3", "cp", f"s3://reports/{prefix}/{k}", "-")).stdout == k.encode()
    ok(aws(ALICE, "s3", "rm", "--recursive", f"s3://reports/{prefix}/"))
    listed = json.loads(
        ok(aws(ALICE, "s3api", "list-objects-v2", "--bucket", "reports", "--prefix", prefix + "/")).stdout or b"{}"
    )
    assert not listed.get("Contents"), listed
