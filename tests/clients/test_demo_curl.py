"""The demo table with `curl --aws-sigv4`, path-style and virtual-hosted-style.

curl older than 8.x (7.88 here) does not send `x-amz-content-sha256`, which S3 and iamgate require on a
header-signed request; so every signed call adds `-H "x-amz-content-sha256: UNSIGNED-PAYLOAD"`, which curl
then signs along. Newer curl sends the header by itself for `aws:amz:<region>:s3`.
"""

import re
import shutil
import subprocess
import uuid
from pathlib import Path

import pytest

from conftest import ALICE, ANON, BOB, CAROL, ROOT_USER, SEED

CURL = shutil.which("curl")


@pytest.fixture(scope="module")
def curl_bin():
    assert CURL, "curl is not installed: apt-get install curl"
    return CURL


class Curl:
    def __init__(self, gateway, tmp: Path, style: str):
        self.gw = gateway
        self.tmp = tmp
        self.style = style

    def url(self, bucket: str, key: str = "") -> tuple[str, list[str]]:
        port = self.gw.http_port
        if self.style == "path":
            return f"http://127.0.0.1:{port}/{bucket}/{key}", []
        host = f"{bucket}.s3.localhost"
        # Does not depend on the system resolving *.localhost.
        return f"http://{host}:{port}/{key}", ["--resolve", f"{host}:{port}:127.0.0.1"]

    def __call__(self, who, method, bucket, key="", upload: bytes | None = None, query=""):
        url, extra = self.url(bucket, key)
        if query:
            url += "?" + query
        out = self.tmp / f"curl-{uuid.uuid4().hex}"
        cmd = [CURL, "-sS", "-o", str(out), "-w", "%{http_code}", "-X", method, *extra]
        if who.key:
            cmd += [
                "--aws-sigv4", "aws:amz:us-east-1:s3",
                "--user", f"{who.key}:{who.secret}",
                "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD",
            ]
        if upload is not None:
            src = self.tmp / f"up-{uuid.uuid4().hex}"
            src.write_bytes(upload)
            cmd += ["--data-binary", f"@{src}", "-H", "Content-Type: application/octet-stream"]
        cmd.append(url)
        p = subprocess.run(cmd, capture_output=True, timeout=60)
        assert p.returncode == 0, f"curl failed: {cmd}\n{p.stderr.decode()}"
        status = int(p.stdout.decode())
        body = out.read_bytes() if out.exists() else b""
        return status, body


def code_of(body: bytes) -> str | None:
    m = re.search(rb"<Code>([^<]*)</Code>", body)
    return m.group(1).decode() if m else None


@pytest.fixture(params=["path", "virtual"])
def curl(request, gateway, tmp_path, curl_bin):
    return Curl(gateway, tmp_path, request.param)


def expect_denied(result):
    status, body = result
    assert (status, code_of(body)) == (403, "AccessDenied"), body


def test_alice(curl):
    for (bucket, key), content in SEED.items():
        assert curl(ALICE, "GET", bucket, key) == (200, content)
    key = f"curl-alice/{uuid.uuid4().hex[:8]}.txt"
    assert curl(ALICE, "PUT", "reports", key, upload=b"from curl\n")[0] == 200
    assert curl(ALICE, "GET", "reports", key) == (200, b"from curl\n")
    status, body = curl(ALICE, "GET", "reports", query="list-type=2&prefix=curl-alice%2F")
    assert status == 200 and f"<Key>{key}</Key>".encode() in body, body
    assert curl(ALICE, "DELETE", "reports", key)[0] == 204
    status, body = curl(ALICE, "GET", "reports", key)
    assert (status, code_of(body)) == (404, "NoSuchKey")


def test_bob(curl):
    assert curl(BOB, "GET", "reports", "2026/q1.csv") == (200, SEED[("reports", "2026/q1.csv")])
    status, body = curl(BOB, "GET", "reports", query="list-type=2")
    assert status == 200 and b"<Key>2026/q1.csv</Key>" in body, body
    expect_denied(curl(BOB, "GET", "reports", "confidential/salaries.csv"))
    expect_denied(curl(BOB, "PUT", "reports", "bob.txt", upload=b"no"))
    expect_denied(curl(BOB, "DELETE", "reports", "2026/q1.csv"))


def test_carol(curl):
    assert curl(CAROL, "GET", "reports", "shared/summary.txt") == (200, SEED[("reports", "shared/summary.txt")])
    expect_denied(curl(CAROL, "GET", "reports", "2026/q1.csv"))
    expect_denied(curl(CAROL, "GET", "reports", "confidential/salaries.csv"))


def test_root(curl):
    assert curl(ROOT_USER, "GET", "reports", "confidential/salaries.csv") == (
        200,
        SEED[("reports", "confidential/salaries.csv")],
    )
    key = f"curl-root/{uuid.uuid4().hex[:8]}.txt"
    assert curl(ROOT_USER, "PUT", "public", key, upload=b"root")[0] == 200
    assert curl(ROOT_USER, "GET", "public", key) == (200, b"root")
    assert curl(ROOT_USER, "DELETE", "public", key)[0] == 204


def test_anonymous(curl):
    assert curl(ANON, "GET", "public", "index.html") == (200, SEED[("public", "index.html")])
    expect_denied(curl(ANON, "GET", "reports", "2026/q1.csv"))
    expect_denied(curl(ANON, "GET", "public", query="list-type=2"))
    expect_denied(curl(ANON, "PUT", "public", "anon.txt", upload=b"no"))
    expect_denied(curl(ANON, "DELETE", "public", "index.html"))
    assert curl(ANON, "GET", "public", "index.html") == (200, SEED[("public", "index.html")])
