"""s3cmd (signature v4, plain HTTP): ls, get, put, del, path-style and virtual-hosted-style."""

import uuid

import pytest

from conftest import ALICE, BOB, SEED, VENV_BIN, client_env, describe, run

S3CMD = str(VENV_BIN / "s3cmd")


@pytest.fixture(params=["path", "virtual"])
def s3cmd(request, gateway, tmp_path):
    port = gateway.http_port
    if request.param == "path":
        host, host_bucket = f"127.0.0.1:{port}", f"127.0.0.1:{port}"
    else:
        host, host_bucket = f"s3.localhost:{port}", f"%(bucket)s.s3.localhost:{port}"
    cfg = tmp_path / "s3cfg"
    cfg.write_text("[default]\n")  # everything else on the command line

    def call(who, *args):
        cmd = [
            S3CMD, "--config", str(cfg),
            f"--access_key={who.key}", f"--secret_key={who.secret}",
            f"--host={host}", f"--host-bucket={host_bucket}",
            "--no-ssl", "--region=us-east-1",
            *args,
        ]
        return run(cmd, env=client_env(who, tmp_path / "home"))

    return call


def test_s3cmd_ls_get_put(s3cmd, tmp_path):
    p = s3cmd(ALICE, "ls")
    assert p.returncode == 0, describe(p)
    assert b"s3://public" in p.stdout and b"s3://reports" in p.stdout, describe(p)
    p = s3cmd(BOB, "ls", "s3://reports/2026/")
    assert p.returncode == 0 and b"s3://reports/2026/q1.csv" in p.stdout, describe(p)
    out = tmp_path / "q1.csv"
    p = s3cmd(BOB, "get", "s3://reports/2026/q1.csv", str(out))
    assert p.returncode == 0, describe(p)
    assert out.read_bytes() == SEED[("reports", "2026/q1.csv")]
    src = tmp_path / "up.txt"
    src.write_bytes(b"uploaded by s3cmd\n" * 100)
    key = f"s3cmd/{uuid.uuid4().hex[:8]}.txt"
    p = s3cmd(ALICE, "put", str(src), f"s3://reports/{key}")
    assert p.returncode == 0, describe(p)
    back = tmp_path / "back.txt"
    p = s3cmd(ALICE, "get", f"s3://reports/{key}", str(back))
    assert p.returncode == 0 and back.read_bytes() == src.read_bytes(), describe(p)
    p = s3cmd(ALICE, "del", f"s3://reports/{key}")
    assert p.returncode == 0, describe(p)


def test_s3cmd_refused(s3cmd, tmp_path):
    src = tmp_path / "up.txt"
    src.write_bytes(b"bob may not")
    p = s3cmd(BOB, "put", str(src), "s3://reports/s3cmd-bob.txt")
    assert p.returncode != 0 and b"AccessDenied" in p.stderr, describe(p)
    p = s3cmd(BOB, "get", "s3://reports/confidential/salaries.csv", str(tmp_path / "x"))
    assert p.returncode != 0 and (b"403" in p.stderr or b"AccessDenied" in p.stderr), describe(p)
