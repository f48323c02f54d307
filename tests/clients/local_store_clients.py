#!/usr/bin/env python3
"""Drives the local object store with real clients: the AWS CLI and boto3.

Usage: local_store_clients.py ENDPOINT_URL WORK_DIR

Run by tests/local_store_clients.rs, which serves a LocalStore over plain HTTP and sets dummy
credentials, path-style addressing and AWS_REQUEST_CHECKSUM_CALCULATION=when_required (the store
refuses aws-chunked bodies; in production the gateway decodes them). Exits non-zero on the first
failed check.
"""

import hashlib
import io
import os
import random
import subprocess
import sys
import time

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = sys.argv[1]
WORK = sys.argv[2]
AWS = os.path.join(os.path.dirname(sys.executable), "aws")
BUCKET = "clients"
MIB = 1024 * 1024


START = time.monotonic()


def step(msg):
    print(f"--> [{time.monotonic() - START:6.1f}s] {msg}", flush=True)


def aws(*args):
    cmd = [AWS, "--endpoint-url", ENDPOINT, *args]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}"
        )
    return proc.stdout


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MIB), b""):
            h.update(chunk)
    return h.hexdigest()


def write_random(path, size, seed):
    # Deterministic pseudo-random content.
    with open(path, "wb") as f:
        f.write(random.Random(seed).randbytes(size))


def multipart_etag(parts):
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    return f'"{hashlib.md5(digests).hexdigest()}-{len(parts)}"'


def tree(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            full = os.path.join(dirpath, name)
            out[os.path.relpath(full, root)] = sha256_file(full)
    return out


def expect_error(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"expected {code}, got {got}: {e}"
        return e
    raise AssertionError(f"expected {code}, the call succeeded")


def cli_tests():
    step("aws s3 mb / ls")
    aws("s3", "mb", f"s3://{BUCKET}")
    assert BUCKET in aws("s3", "ls"), "bucket not listed"

    step("aws s3 cp of a 20 MiB file up (multipart) and down, byte for byte")
    big = os.path.join(WORK, "big.bin")
    write_random(big, 20 * MIB, "big")
    aws("s3", "cp", big, f"s3://{BUCKET}/dir/big.bin")
    head = s3.head_object(Bucket=BUCKET, Key="dir/big.bin")
    assert head["ContentLength"] == 20 * MIB, head
    assert head["ETag"].endswith('-3"'), f"expected a 3-part multipart ETag, got {head['ETag']}"
    with open(big, "rb") as f:
        data = f.read()
    parts = [data[i : i + 8 * MIB] for i in range(0, len(data), 8 * MIB)]
    assert head["ETag"] == multipart_etag(parts), (head["ETag"], multipart_etag(parts))
    down = os.path.join(WORK, "big.down")
    aws("s3", "cp", f"s3://{BUCKET}/dir/big.bin", down)
    assert sha256_file(down) == sha256_file(big), "downloaded file differs"

    step("aws s3 ls")
    out = aws("s3", "ls", f"s3://{BUCKET}/")
    assert "PRE dir/" in out, out
    out = aws("s3", "ls", f"s3://{BUCKET}/dir/")
    assert "big.bin" in out and str(20 * MIB) in out, out
    out = aws("s3", "ls", "--recursive", f"s3://{BUCKET}")
    assert "dir/big.bin" in out, out

    step("aws s3 sync up, again (no-op), down")
    src = os.path.join(WORK, "sync-src")
    files = {
        "a.txt": b"alpha\n",
        "sub/b.txt": b"beta\n" * 1000,
        "sub/deeper/c d+e.txt": b"spaces and plus\n",
        "unicode/\u00fcn\u00efc\u00f6d\u00e9 \u65e5\u672c.txt": "h\u00e9llo".encode(),
        "empty": b"",
    }
    for rel, content in files.items():
        path = os.path.join(src, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content)
    write_random(os.path.join(src, "sub", "large.bin"), 9 * MIB, "sync")
    out = aws("s3", "sync", src, f"s3://{BUCKET}/synced/")
    assert out.count("upload:") == len(files) + 1, out
    out = aws("s3", "sync", src, f"s3://{BUCKET}/synced/")
    assert "upload:" not in out, f"second sync should be a no-op:\n{out}"
    dst = os.path.join(WORK, "sync-dst")
    aws("s3", "sync", f"s3://{BUCKET}/synced/", dst)
    assert tree(src) == tree(dst), "synced tree differs"

    step("aws s3 rm --recursive")
    out = aws("s3", "rm", "--recursive", f"s3://{BUCKET}/synced/")
    assert out.count("delete:") == len(files) + 1, out
    listed = s3.list_objects_v2(Bucket=BUCKET, Prefix="synced/")
    assert listed["KeyCount"] == 0, listed


def boto3_tests():
    step("boto3 put/get/head with metadata")
    body = b"hello from boto3\n"
    put = s3.put_object(
        Bucket=BUCKET,
        Key="b3/hello.txt",
        Body=body,
        ContentType="text/plain",
        Metadata={"color": "blue", "owner": "alice"},
    )
    assert put["ETag"] == f'"{hashlib.md5(body).hexdigest()}"', put["ETag"]
    got = s3.get_object(Bucket=BUCKET, Key="b3/hello.txt")
    assert got["Body"].read() == body
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"color": "blue", "owner": "alice"}, got["Metadata"]
    head = s3.head_object(Bucket=BUCKET, Key="b3/hello.txt")
    assert head["ContentLength"] == len(body), head
    assert head["LastModified"].year >= 2024
    rng = s3.get_object(Bucket=BUCKET, Key="b3/hello.txt", Range="bytes=6-9")
    assert rng["Body"].read() == body[6:10]
    assert rng["ContentRange"] == f"bytes 6-9/{len(body)}", rng["ContentRange"]
    expect_error("InvalidRange", s3.get_object, Bucket=BUCKET, Key="b3/hello.txt", Range="bytes=1000-")
    expect_error("NoSuchKey", s3.get_object, Bucket=BUCKET, Key="b3/missing")
    expect_error("404", s3.head_object, Bucket=BUCKET, Key="b3/missing")
    expect_error("NoSuchBucket", s3.list_objects_v2, Bucket="no-such-bucket")

    step("boto3 listings (v2 with pagination and delimiter, v1)")
    keys = [f"b3/list/{i:02d}" for i in range(7)] + ["b3/list/sub/x", "b3/list/sub/y", "b3/list/\u00e9+ &"]
    for k in keys:
        s3.put_object(Bucket=BUCKET, Key=k, Body=k.encode())
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=BUCKET, Prefix="b3/list/", PaginationConfig={"PageSize": 3}
    )
    listed = [o["Key"] for p in pages for o in p.get("Contents", [])]
    assert listed == sorted(keys, key=lambda k: k.encode()), listed
    resp = s3.list_objects_v2(Bucket=BUCKET, Prefix="b3/list/", Delimiter="/")
    assert [c["Prefix"] for c in resp["CommonPrefixes"]] == ["b3/list/sub/"], resp
    assert len(resp["Contents"]) == 8, resp
    pages = s3.get_paginator("list_objects").paginate(
        Bucket=BUCKET, Prefix="b3/list/", PaginationConfig={"PageSize": 4}
    )
    listed_v1 = [o["Key"] for p in pages for o in p.get("Contents", [])]
    assert listed_v1 == listed, listed_v1

    step("boto3 copy_object (COPY and REPLACE)")
    cp = s3.copy_object(Bucket=BUCKET, Key="b3/copy.txt", CopySource={"Bucket": BUCKET, "Key": "b3/hello.txt"})
    assert cp["CopyObjectResult"]["ETag"] == put["ETag"]
    got = s3.get_object(Bucket=BUCKET, Key="b3/copy.txt")
    assert got["Body"].read() == body and got["Metadata"]["color"] == "blue"
    s3.copy_object(
        Bucket=BUCKET,
        Key="b3/copy2.txt",
        CopySource={"Bucket": BUCKET, "Key": "b3/list/\u00e9+ &"},
        MetadataDirective="REPLACE",
        ContentType="text/csv",
        Metadata={"new": "1"},
    )
    got = s3.get_object(Bucket=BUCKET, Key="b3/copy2.txt")
    assert got["Body"].read() == "b3/list/\u00e9+ &".encode()
    assert got["ContentType"] == "text/csv" and got["Metadata"] == {"new": "1"}, got

    step("boto3 multipart (create, upload_part, list_parts, complete, abort)")
    mp = s3.create_multipart_upload(Bucket=BUCKET, Key="b3/mp.bin", ContentType="application/x-mp")
    uid = mp["UploadId"]
    p1 = os.urandom(5 * MIB)
    p2 = os.urandom(1000)
    e1 = s3.upload_part(Bucket=BUCKET, Key="b3/mp.bin", UploadId=uid, PartNumber=1, Body=p1)["ETag"]
    e2 = s3.upload_part(Bucket=BUCKET, Key="b3/mp.bin", UploadId=uid, PartNumber=2, Body=p2)["ETag"]
    lp = s3.list_parts(Bucket=BUCKET, Key="b3/mp.bin", UploadId=uid)
    assert [p["PartNumber"] for p in lp["Parts"]] == [1, 2], lp
    ups = s3.list_multipart_uploads(Bucket=BUCKET)
    assert uid in [u["UploadId"] for u in ups.get("Uploads", [])], ups
    expect_error(
        "InvalidPartOrder",
        s3.complete_multipart_upload,
        Bucket=BUCKET,
        Key="b3/mp.bin",
        UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 2, "ETag": e2}, {"PartNumber": 1, "ETag": e1}]},
    )
    done = s3.complete_multipart_upload(
        Bucket=BUCKET,
        Key="b3/mp.bin",
        UploadId=uid,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}, {"PartNumber": 2, "ETag": e2}]},
    )
    assert done["ETag"] == multipart_etag([p1, p2]), (done["ETag"], multipart_etag([p1, p2]))
    got = s3.get_object(Bucket=BUCKET, Key="b3/mp.bin")
    assert got["Body"].read() == p1 + p2
    assert got["ContentType"] == "application/x-mp"
    mp = s3.create_multipart_upload(Bucket=BUCKET, Key="b3/aborted.bin")
    s3.upload_part(Bucket=BUCKET, Key="b3/aborted.bin", UploadId=mp["UploadId"], PartNumber=1, Body=b"x")
    s3.abort_multipart_upload(Bucket=BUCKET, Key="b3/aborted.bin", UploadId=mp["UploadId"])
    expect_error("NoSuchUpload", s3.list_parts, Bucket=BUCKET, Key="b3/aborted.bin", UploadId=mp["UploadId"])

    step("boto3 managed transfers (upload_file, download_file, multipart copy)")
    big = os.path.join(WORK, "managed.bin")
    write_random(big, 17 * MIB, "managed")
    s3.upload_file(big, BUCKET, "b3/managed.bin")
    down = os.path.join(WORK, "managed.down")
    s3.download_file(BUCKET, "b3/managed.bin", down)
    assert sha256_file(down) == sha256_file(big)
    # Above the multipart threshold, managed copy uses UploadPartCopy.
    s3.copy({"Bucket": BUCKET, "Key": "b3/managed.bin"}, BUCKET, "b3/managed-copy.bin")
    down2 = os.path.join(WORK, "managed-copy.down")
    s3.download_file(BUCKET, "b3/managed-copy.bin", down2)
    assert sha256_file(down2) == sha256_file(big)

    step("boto3 with checksums 'when_supported': stored intact or refused, never corrupted")
    eager = boto3.client(
        "s3",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            signature_version="s3v4",
            retries={"max_attempts": 1},
            request_checksum_calculation="when_supported",
        ),
    )
    payload = b"checksummed payload\n" * 100
    for key, body in [("b3/eager-bytes", payload), ("b3/eager-stream", io.BytesIO(payload))]:
        try:
            eager.put_object(Bucket=BUCKET, Key=key, Body=body)
        except ClientError as e:
            assert e.response["Error"]["Code"] == "NotImplemented", e
            print(f"    {key}: refused (aws-chunked)")
            continue
        assert s3.get_object(Bucket=BUCKET, Key=key)["Body"].read() == payload, key
        print(f"    {key}: stored intact")

    step("boto3 delete_objects and bucket errors")
    expect_error("BucketNotEmpty", s3.delete_bucket, Bucket=BUCKET)
    expect_error("BucketAlreadyOwnedByYou", s3.create_bucket, Bucket=BUCKET)
    listed = [o["Key"] for p in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET) for o in p.get("Contents", [])]
    for i in range(0, len(listed), 1000):
        resp = s3.delete_objects(
            Bucket=BUCKET, Delete={"Objects": [{"Key": k} for k in listed[i : i + 1000]], "Quiet": False}
        )
        assert len(resp.get("Deleted", [])) == len(listed[i : i + 1000]), resp
        assert not resp.get("Errors"), resp
    assert s3.list_objects_v2(Bucket=BUCKET)["KeyCount"] == 0
    s3.delete_bucket(Bucket=BUCKET)
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert BUCKET not in names, names


s3 = boto3.client(
    "s3",
    endpoint_url=ENDPOINT,
    region_name="us-east-1",
    config=Config(s3={"addressing_style": "path"}, signature_version="s3v4", retries={"max_attempts": 1}),
)

cli_tests()
boto3_tests()
step("all client checks passed")
