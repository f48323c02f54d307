"""Two authorisation bypasses, tried as an attacker would, against the real binary:

1. unsigned `x-amz-*` headers added to a presigned URL or to a header-signed request (a confused
   deputy: bob turns alice's presigned PUT into a copy of a file only alice may read);
2. the S3 model in front of nginx, a plain file server that decodes the path, resolves dot
   segments and merges slashes: a key that means one object to the gateway must never make
   nginx serve another. What nginx served is read from its own access log (`$uri`, the path
   it resolved).
"""

from __future__ import annotations

import http.client
import os
import shutil
import subprocess
import time
import uuid
import xml.etree.ElementTree as ET

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ALICE, BOB, REGION, SEED, client_env, free_port, run, s3_client, wait_for_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"

# Every header that changes what an S3 write does, with a value S3 would act on.
SEMANTIC_HEADERS = [
    ("x-amz-copy-source", "/reports/confidential/salaries.csv"),
    ("x-amz-acl", "public-read"),
    ("x-amz-grant-read", 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'),
    ("x-amz-grant-full-control", 'id="79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"'),
    ("x-amz-grant-write-acp", 'id="79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"'),
    ("x-amz-tagging", "Classification=public"),
    ("x-amz-metadata-directive", "REPLACE"),
    ("x-amz-website-redirect-location", "https://attacker.example/"),
    ("x-amz-server-side-encryption", "AES256"),
    ("x-amz-server-side-encryption-customer-algorithm", "AES256"),
    ("x-amz-object-lock-mode", "GOVERNANCE"),
    ("x-amz-object-lock-retain-until-date", "2030-01-01T00:00:00Z"),
    ("x-amz-object-lock-legal-hold", "ON"),
    ("x-amz-storage-class", "GLACIER"),
]


def s3_error(body: bytes) -> tuple[str, str, str | None]:
    root = ET.fromstring(body)
    return root.findtext("Code"), root.findtext("Message"), root.findtext("HeadersNotSigned")


def send(port: int, method: str, target: str, headers: dict, body: bytes = b"") -> tuple[int, bytes]:
    """Sends the request target exactly as given (http.client does not normalise it)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
    for name, value in headers.items():
        conn.putheader(name, value)
    if body or method in ("PUT", "POST"):
        conn.putheader("Content-Length", str(len(body)))
    conn.endheaders(body)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def header_signed(who, method: str, host: str, target: str, extra: dict | None = None) -> dict:
    """botocore's S3 signer over `target` as sent (S3 paths are signed as they are)."""
    request = AWSRequest(method=method, url=f"http://{host}{target}", data=b"", headers=extra or {})
    S3SigV4Auth(Credentials(who.key, who.secret), "s3", REGION).add_auth(request)
    headers = dict(request.headers.items())
    headers["Host"] = host
    return headers


# 1. Unsigned x-amz-* headers.


def test_presigned_put_cannot_be_turned_into_a_copy(gateway):
    """The reproduction: alice presigns a PUT (host only, as boto3 does); bob adds
    `x-amz-copy-source` naming the salaries. Refused as S3 refuses it, and nothing is written."""
    alice = s3_client(gateway, ALICE)
    bob = s3_client(gateway, BOB)
    key = f"tmp/{uuid.uuid4().hex}/slot1.txt"
    url = alice.generate_presigned_url("put_object", Params={"Bucket": "reports", "Key": key}, ExpiresIn=300)
    assert "X-Amz-SignedHeaders=host" in url
    target = url.split(f":{gateway.http_port}", 1)[1]
    host = f"127.0.0.1:{gateway.http_port}"

    status, body = send(
        gateway.http_port, "PUT", target, {"Host": host, "x-amz-copy-source": "/reports/confidential/salaries.csv"}
    )
    assert status == 403, body
    assert s3_error(body) == (
        "AccessDenied",
        "There were headers present in the request which were not signed",
        "x-amz-copy-source",
    )
    with pytest.raises(bob.exceptions.ClientError) as e:
        bob.get_object(Bucket="reports", Key=key)
    assert e.value.response["Error"]["Code"] in ("NoSuchKey", "404"), "nothing was written"
    # The URL itself still does what alice signed it for.
    status, body = send(gateway.http_port, "PUT", target, {"Host": host}, b"slot one")
    assert status == 200, body
    assert bob.get_object(Bucket="reports", Key=key)["Body"].read() == b"slot one"


@pytest.mark.parametrize("name,value", SEMANTIC_HEADERS, ids=[h for h, _ in SEMANTIC_HEADERS])
def test_each_semantic_header_unsigned_is_refused(gateway, name, value):
    """Added unsigned to a presigned PUT and to a header-signed PUT of alice's (who may do
    anything): refused before anything is read or forwarded, the header named."""
    alice = s3_client(gateway, ALICE)
    key = f"tmp/{uuid.uuid4().hex}"
    host = f"127.0.0.1:{gateway.http_port}"
    url = alice.generate_presigned_url("put_object", Params={"Bucket": "reports", "Key": key}, ExpiresIn=300)
    presigned = url.split(f":{gateway.http_port}", 1)[1]
    signed = header_signed(ALICE, "PUT", host, f"/reports/{key}")
    for target, headers, body in [(presigned, {"Host": host}, b"x"), (f"/reports/{key}", signed, b"")]:
        status, body = send(gateway.http_port, "PUT", target, {**headers, name: value}, body)
        assert status == 403, body
        code, message, names = s3_error(body)
        assert (code, names) == ("AccessDenied", name), body
        assert message == "There were headers present in the request which were not signed"
    with pytest.raises(alice.exceptions.ClientError):
        alice.head_object(Bucket="reports", Key=key)


def test_header_signed_put_goes_through_without_the_extra_header(gateway):
    """The control for the refusals above: the same botocore-signed PUT, sent as signed."""
    alice = s3_client(gateway, ALICE)
    key = f"tmp/{uuid.uuid4().hex}"
    host = f"127.0.0.1:{gateway.http_port}"
    status, body = send(gateway.http_port, "PUT", f"/reports/{key}", header_signed(ALICE, "PUT", host, f"/reports/{key}"))
    assert status == 200, body
    assert alice.get_object(Bucket="reports", Key=key)["Body"].read() == b""


def test_signed_semantic_headers_still_work(gateway):
    """The same headers, signed by the client, are accepted: boto3 copies with
    x-amz-copy-source and tags with x-amz-tagging."""
    alice = s3_client(gateway, ALICE)
    key = f"tmp/{uuid.uuid4().hex}"
    alice.copy_object(Bucket="reports", Key=key, CopySource={"Bucket": "reports", "Key": "2026/q1.csv"})
    assert alice.get_object(Bucket="reports", Key=key)["Body"].read() == SEED[("reports", "2026/q1.csv")]
    alice.put_object(Bucket="reports", Key=key + "-tagged", Body=b"t", Tagging="a=b", ACL="private")


def test_presigned_urls_of_the_aws_cli_work(gateway, tmp_path):
    """`aws s3 presign` makes a GET URL that works as it is, and refuses an added header. The
    AWS CLI v1 (PyPI's `awscli`) presigns with SigV2 unless told `s3.signature_version = s3v4`
    (v2 signs with SigV4 by default); the gateway accepts SigV4 only."""
    env = client_env(BOB, tmp_path)
    (tmp_path / "aws-config").write_text("[default]\ns3 =\n    signature_version = s3v4\n")
    p = run(["aws", "--endpoint-url", gateway.http, "s3", "presign", "s3://reports/2026/q1.csv"], env=env)
    assert p.returncode == 0, p.stderr
    url = p.stdout.decode().strip()
    assert "X-Amz-Signature=" in url, url
    target = url.split(f":{gateway.http_port}", 1)[1]
    host = f"127.0.0.1:{gateway.http_port}"
    status, body = send(gateway.http_port, "GET", target, {"Host": host})
    assert (status, body) == (200, SEED[("reports", "2026/q1.csv")])
    status, body = send(gateway.http_port, "GET", target, {"Host": host, "x-amz-request-payer": "requester"})
    assert status == 403 and s3_error(body)[2] == "x-amz-request-payer", body


# 2. The S3 model in front of a normalising upstream.


@pytest.fixture
def nginx_store(tmp_path):
    """nginx serving a folder as a bucket store: <root>/<bucket>/<key>. Its access log line
    gives the target it received and `$uri`, the file it resolved and served."""
    if not shutil.which("nginx") and not shutil.os.path.exists(NGINX):
        pytest.fail("nginx is not installed (scripts/test.sh installs Debian's nginx package)")
    root = tmp_path / "nginx"
    store = root / "store"
    for (bucket, key), data in SEED.items():
        path = store / bucket / key
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (store / "secretbucket").mkdir()
    (store / "secretbucket" / "x.txt").write_bytes(b"secret bucket\n")
    (root / "logs").mkdir()
    access = root / "logs" / "access.log"
    port = free_port()
    # Started as root (CI), nginx's workers would run as nobody, who cannot read pytest's private
    # temporary folders: keep them as root there.
    user = "user root;" if os.geteuid() == 0 else ""
    (root / "nginx.conf").write_text(
        f"""
daemon off;
{user}
pid {root}/nginx.pid;
error_log {root}/logs/error.log;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    log_format served '$status $request_uri -> $uri';
    access_log {access} served;
    server {{
        listen 127.0.0.1:{port};
        root {store};
    }}
}}
"""
    )
    proc = subprocess.Popen(
        [NGINX, "-c", str(root / "nginx.conf"), "-p", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        wait_for_port(port, proc, "nginx", None)
        yield port, access
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def served(access) -> list[str]:
    """The files nginx served with 200 (`$uri`)."""
    time.sleep(0.2)  # nginx writes its access log line after answering
    lines = access.read_text().splitlines() if access.exists() else []
    return [line.split(" -> ", 1)[1] for line in lines if line.startswith("200 ")]


SECRET_FILES = {"/reports/confidential/salaries.csv", "/secretbucket/x.txt"}

# (who, Host, target): each means, literally, a key no normaliser may resolve.
NORMALISED_FORMS = [
    (None, "path", "/public/../reports/confidential/salaries.csv"),
    (None, "path", "/public/%2E%2E/reports/confidential/salaries.csv"),
    (None, "path", "/public/%2e%2E/reports/confidential/salaries.csv"),
    (None, "path", "/public/.%2e/reports/confidential/salaries.csv"),
    (None, "path", "/public/./../reports/confidential/salaries.csv"),
    (BOB, "path", "/reports/x/../confidential/salaries.csv"),
    (BOB, "path", "/reports/x/%2E%2E/confidential/salaries.csv"),
    (BOB, "path", "/reports//confidential/salaries.csv"),
    (BOB, "path", "/reports/./confidential/salaries.csv"),
    (BOB, "path", "/reports/../secretbucket/x.txt"),
    (BOB, "path", "/reports/%2e%2e/secretbucket/x.txt"),
    (None, "virtual:public", "/../reports/confidential/salaries.csv"),
    (BOB, "virtual:reports", "/x/../confidential/salaries.csv"),
    (BOB, "virtual:reports", "//confidential/salaries.csv"),
]


def test_normalising_upstream_never_serves_another_object(nginx_store, own_gateway):
    port, access = nginx_store
    gw = own_gateway("nginx-s3", upstream_url=f"http://127.0.0.1:{port}")

    # What may be read is read, through nginx.
    status, body = send(gw.http_port, "GET", "/public/index.html", {"Host": f"127.0.0.1:{gw.http_port}"})
    assert (status, body) == (200, SEED[("public", "index.html")])
    host = f"127.0.0.1:{gw.http_port}"
    status, body = send(gw.http_port, "GET", "/reports/2026/q1.csv", header_signed(BOB, "GET", host, "/reports/2026/q1.csv"))
    assert (status, body) == (200, SEED[("reports", "2026/q1.csv")])
    assert served(access) == ["/public/index.html", "/reports/2026/q1.csv"]

    for who, style, target in NORMALISED_FORMS:
        host = f"127.0.0.1:{gw.http_port}" if style == "path" else f"{style.split(':')[1]}.s3.localhost:{gw.http_port}"
        headers = header_signed(who, "GET", host, target) if who else {"Host": host}
        status, body = send(gw.http_port, "GET", target, headers)
        assert status == 400, (target, status, body)
        code, message, _ = s3_error(body)
        assert code == "InvalidRequest", (target, body)
        assert "'..'" in message

    # HTTP/2 (prior knowledge), anonymous and signed, through curl: the same refusal.
    for args in (
        [],
        ["--aws-sigv4", f"aws:amz:{REGION}:s3", "--user", f"{BOB.key}:{BOB.secret}", "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD"],
    ):
        p = run(
            ["curl", "-sS", "--http2-prior-knowledge", "--path-as-is", "-o", "-", "-w", "\n%{http_code} %{http_version}", *args,
             f"http://127.0.0.1:{gw.http_port}/public/../reports/confidential/salaries.csv"]
        )
        assert p.returncode == 0, p.stderr
        assert p.stdout.decode().rsplit("\n", 1)[1] == "400 2", p.stdout

    assert not SECRET_FILES & set(served(access)), served(access)
    assert served(access) == ["/public/index.html", "/reports/2026/q1.csv"], "nothing else reached nginx"


def test_literal_keys_pass_through_unchanged(gateway):
    """The built-in store keeps keys literally (`keys = "literal"` by default for `local`): S3's
    odd keys are objects of their own, and dot segments resolve nothing."""
    alice = s3_client(gateway, ALICE)
    prefix = f"odd-{uuid.uuid4().hex}"
    keys = [f"{prefix}/a/../b", f"{prefix}//double", f"{prefix}/./dot", f"{prefix}/.."]
    for i, key in enumerate(keys):
        alice.put_object(Bucket="reports", Key=key, Body=f"object {i}".encode())
    for i, key in enumerate(keys):
        assert alice.get_object(Bucket="reports", Key=key)["Body"].read() == f"object {i}".encode()
    listed = {o["Key"] for o in alice.list_objects_v2(Bucket="reports", Prefix=prefix)["Contents"]}
    assert listed == set(keys)
    with pytest.raises(alice.exceptions.ClientError):
        alice.head_object(Bucket="reports", Key=f"{prefix}/b")
