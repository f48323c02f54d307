"""iamgate in front of an S3 nobody here wrote: moto's S3 server as the upstream (`url = ...`)."""

import json
import os
import subprocess
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import ALICE, BOB, REGION, VENV_BIN, error_code, free_port, s3_client, tail_of, wait_for_port


@pytest.fixture
def moto(tmp_path):
    exe = VENV_BIN / "moto_server"
    assert exe.exists(), f"{exe} is missing: run scripts/setup-python.sh"
    port = free_port()
    log = tmp_path / "moto.log"
    with open(log, "wb") as logf:
        proc = subprocess.Popen(
            [str(exe), "-H", "127.0.0.1", "-p", str(port)], stdout=logf, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        wait_for_port(port, proc, "moto_server", log, timeout=60)
        yield f"http://127.0.0.1:{port}", log
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def exercise(gw, direct, bucket):
    """alice reads, writes and lists through the gateway; bob is refused and nothing of his reaches moto."""
    alice = s3_client(gw, ALICE, "path")
    assert alice.get_object(Bucket=bucket, Key="seeded-in-moto.txt")["Body"].read() == b"straight into moto\n"
    alice.put_object(Bucket=bucket, Key="via-gateway.txt", Body=b"alice through iamgate\n")
    assert alice.get_object(Bucket=bucket, Key="via-gateway.txt")["Body"].read() == b"alice through iamgate\n"
    listed = alice.list_objects_v2(Bucket=bucket)
    assert sorted(o["Key"] for o in listed["Contents"]) == ["seeded-in-moto.txt", "via-gateway.txt"]
    # It really is in moto.
    assert direct.get_object(Bucket=bucket, Key="via-gateway.txt")["Body"].read() == b"alice through iamgate\n"

    bob = s3_client(gw, BOB, "path")
    with pytest.raises(ClientError) as e:
        bob.put_object(Bucket=bucket, Key="bob.txt", Body=b"no")
    assert error_code(e) == ("AccessDenied", 403)
    with pytest.raises(ClientError) as e:
        bob.get_object(Bucket=bucket, Key="via-gateway.txt")
    assert error_code(e) == ("AccessDenied", 403)
    # The refusal never reached moto.
    with pytest.raises(ClientError) as e:
        direct.head_object(Bucket=bucket, Key="bob.txt")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    # Virtual-hosted-style to the gateway is forwarded path-style to the upstream.
    alice_v = s3_client(gw, ALICE, "virtual")
    assert alice_v.get_object(Bucket=bucket, Key="via-gateway.txt")["Body"].read() == b"alice through iamgate\n"
    big = os.urandom(3 * 1024 * 1024 + 7)
    alice_v.put_object(Bucket=bucket, Key="big.bin", Body=big)
    assert alice.get_object(Bucket=bucket, Key="big.bin")["Body"].read() == big


def moto_client(moto_url):
    return boto3.session.Session().client(
        "s3", endpoint_url=moto_url, region_name=REGION, aws_access_key_id="testing",
        aws_secret_access_key="testing", config=Config(s3={"addressing_style": "path"}),
    )


def test_gateway_fronts_moto(moto, own_gateway):
    """iamgate in front of an S3 that authenticates its callers (a private bucket): the gateway
    re-signs what it forwards with the upstream's own credentials ([upstreams.s3.sign])."""
    moto_url, moto_log = moto
    direct = moto_client(moto_url)
    bucket = f"moto-{uuid.uuid4().hex[:8]}"
    direct.create_bucket(Bucket=bucket)
    direct.put_object(Bucket=bucket, Key="seeded-in-moto.txt", Body=b"straight into moto\n")
    gw = own_gateway("moto", upstream_url=moto_url, upstream_sign=("testing", "testing"))
    try:
        exercise(gw, direct, bucket)
    except BaseException:
        print("moto log tail:\n" + tail_of(moto_log, 30))
        raise


def test_gateway_fronts_moto_open_bucket(moto, own_gateway):
    """The same against a moto bucket whose bucket policy lets anyone in, so that moto accepts the
    gateway's unsigned forwarding: iamgate alone decides who may do what, moto serves the bytes."""
    moto_url, moto_log = moto
    direct = moto_client(moto_url)
    bucket = f"moto-open-{uuid.uuid4().hex[:8]}"
    direct.create_bucket(Bucket=bucket)
    direct.put_bucket_policy(
        Bucket=bucket,
        Policy=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": "*",
                        "Action": "s3:*",
                        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    }
                ],
            }
        ),
    )
    direct.put_object(Bucket=bucket, Key="seeded-in-moto.txt", Body=b"straight into moto\n")
    gw = own_gateway("moto-open", upstream_url=moto_url)
    try:
        exercise(gw, direct, bucket)
    except BaseException:
        print("moto log tail:\n" + tail_of(moto_log, 30))
        raise
