"""Fixtures of the real-client suite: a real `target/release/iamgate serve` on ephemeral ports, and helpers
that drive boto3, the AWS CLI, curl and s3cmd against it.

Run through `scripts/test.sh`, or on its own:

    scripts/setup-python.sh && cargo build --release
    target/pyenv/bin/python -m pytest -q tests/clients
"""

from __future__ import annotations

import json
import re
import os
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BIN = ROOT / "target" / "release" / "iamgate"
CERT = ROOT / "certs" / "dev.crt"
KEY = ROOT / "certs" / "dev.key"
POLICIES = ROOT / "policies"
VENV_BIN = Path(sys.executable).parent
RESOLVER_DIR = HERE / "resolver"
REGION = "us-east-1"

sys.path.insert(0, str(RESOLVER_DIR))
import localhost_resolver  # noqa: E402

# boto3 in this process: make <bucket>.s3.localhost reach 127.0.0.1 if the system does not already.
RESOLVER_INSTALLED = localhost_resolver.install()


@dataclass(frozen=True)
class Who:
    name: str
    key: str | None
    secret: str | None


ALICE = Who("alice", "AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
BOB = Who("bob", "AKIAI44QH8DHBEXAMPLE", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY")
CAROL = Who("carol", "AKIACAROLEXAMPLE0001", "EXAMPLEcarolKey/Rv1JWUiiGvjlpBLpWTUqys47")
ROOT_USER = Who("root", "AKIAROOTEXAMPLE00001", "EXAMPLErootKey/ZEjLLwdrbUHXLmW481IzEgmiT")
ANON = Who("anonymous", None, None)

# The seeded demo objects (src/upstream/local/mod.rs, seed_demo).
SEED = {
    ("public", "index.html"): (
        "<!doctype html>\n<html><head><title>iamgate demo</title></head>\n"
        "<body><h1>Hello from the public bucket</h1>\n"
        "<p>Anyone may read this page, signed or not.</p></body></html>\n"
    ).encode(),
    ("reports", "2026/q1.csv"): (
        "month,revenue,costs\n2026-01,120000,80000\n2026-02,135000,82000\n2026-03,150000,90000\n"
    ).encode(),
    ("reports", "confidential/salaries.csv"): b"name,salary\nalice,185000\nbob,142000\ncarol,151000\n",
    ("reports", "shared/summary.txt"): (
        b"Q1 2026 summary: revenue up 25% over the quarter; costs under control.\n"
    ),
}


def free_port() -> int:
    """A port the kernel just handed out for 127.0.0.1 (bound to port 0, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, what: str, log: Path | None, timeout: float = 30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = tail_of(log) if log else ""
            raise RuntimeError(f"{what} exited with code {proc.returncode} before listening on {port}:\n{tail}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    tail = tail_of(log) if log else ""
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s:\n{tail}")


def tail_of(path: Path, lines: int = 60, start: int = 0) -> str:
    try:
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read()
    except OSError as e:
        return f"(cannot read {path}: {e})"
    return "\n".join(data.decode("utf-8", "replace").splitlines()[-lines:])


# Every gateway started in this session, so that a failing test's report can show their logs.
GATEWAYS: list["Gateway"] = []


class Gateway:
    """One `iamgate serve` process with its own folder: config, a copy of policies/, a fresh data/."""

    def __init__(
        self,
        base: Path,
        name: str,
        upstream_url: str | None = None,
        upstream_sign: tuple | None = None,
        extra_config: str = "",
    ):
        if not BIN.is_file():
            raise RuntimeError(f"{BIN} is missing: run `cargo build --release` first")
        self.name = name
        self.dir = base
        self.dir.mkdir(parents=True, exist_ok=True)
        self.policies = self.dir / "policies"
        shutil.copytree(POLICIES, self.policies)
        self.data = self.dir / "data"
        self.data.mkdir()
        self.http_port = free_port()
        self.https_port = free_port()
        while self.https_port == self.http_port:
            self.https_port = free_port()
        self.log = self.dir / "gateway.log"
        self.config = self.dir / "iamgate.toml"
        upstream = f'url = "{upstream_url}"' if upstream_url else f"local = {json.dumps(str(self.data))}"
        if upstream_sign:
            upstream += (
                f'\n[upstreams.s3.sign]\naccess_key_id = "{upstream_sign[0]}"\n'
                f'secret_access_key = "{upstream_sign[1]}"\n'
            )
        self.config.write_text(
            f"""# Written by tests/clients/conftest.py
region = "{REGION}"
policies = {json.dumps(str(self.policies))}
trusted_proxies = []

[listen]
http = "127.0.0.1:{self.http_port}"
https = "127.0.0.1:{self.https_port}"

[tls]
cert = {json.dumps(str(CERT))}
key = {json.dumps(str(KEY))}

[s3]
domain = "s3.localhost"

[upstreams.s3]
kind = "s3"
owner = "111122223333"
{upstream}
{extra_config}
"""
        )
        self.proc: subprocess.Popen | None = None

    def start(self) -> "Gateway":
        env = dict(os.environ)
        env.setdefault("RUST_LOG", "info")
        env["NO_COLOR"] = "1"  # plain log lines in gateway.log
        self._logf = open(self.log, "ab")
        self.proc = subprocess.Popen(
            [str(BIN), "serve", "--config", str(self.config)],
            stdout=self._logf,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env=env,
        )
        GATEWAYS.append(self)
        try:
            wait_for_port(self.http_port, self.proc, f"iamgate ({self.name})", self.log)
            wait_for_port(self.https_port, self.proc, f"iamgate ({self.name}) https", self.log)
        except Exception:
            self.stop()
            raise
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_logf", None):
            self._logf.close()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log_size(self) -> int:
        try:
            return self.log.stat().st_size
        except OSError:
            return 0

    # Endpoints.
    def endpoint(self, style: str = "path", scheme: str = "http") -> str:
        port = self.http_port if scheme == "http" else self.https_port
        host = "127.0.0.1" if style == "path" else "s3.localhost"
        return f"{scheme}://{host}:{port}"

    @property
    def http(self) -> str:
        return self.endpoint("path", "http")

    @property
    def https(self) -> str:
        return self.endpoint("path", "https")


@pytest.fixture(scope="session")
def gateway(tmp_path_factory) -> Gateway:
    """The shared gateway of the suite, on the demo policies. Tests write only under their own keys."""
    gw = Gateway(tmp_path_factory.mktemp("gw"), "shared").start()
    yield gw
    gw.stop()


@pytest.fixture
def own_gateway(tmp_path):
    """A gateway of this test alone (for tests that change its policy store)."""
    gws = []

    def make(name="own", upstream_url=None, prepare=None, upstream_sign=None, extra_config="") -> Gateway:
        """`prepare(gw)` may change gw.policies before the gateway starts."""
        gw = Gateway(tmp_path / f"gw-{name}", name, upstream_url, upstream_sign, extra_config)
        if prepare:
            prepare(gw)
        gw.start()
        gws.append(gw)
        return gw

    yield make
    for gw in gws:
        gw.stop()


# Log tails in failure reports: what each gateway logged while the test ran.
@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    item._gw_offsets = {id(g): g.log_size() for g in GATEWAYS}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.when != "call" or not (rep.failed or hasattr(rep, "wasxfail")):
        return
    offsets = getattr(item, "_gw_offsets", {})
    for g in GATEWAYS:
        start = offsets.get(id(g), 0)
        if g.log_size() > start:
            rep.sections.append(
                (f"iamgate log ({g.name}, {g.log}) during this test, tail", tail_of(g.log, 60, start))
            )


# boto3
def s3_client(gw: Gateway, who: Who, style: str = "path", scheme: str = "http", verify=None, token=None, **config):
    import boto3
    from botocore import UNSIGNED
    from botocore.config import Config

    cfg = Config(
        region_name=REGION,
        s3={"addressing_style": style},
        retries={"max_attempts": 1, "mode": "standard"},
        signature_version=UNSIGNED if who.key is None else "s3v4",
        connect_timeout=10,
        read_timeout=60,
        **config,
    )
    session = boto3.session.Session()
    return session.client(
        "s3",
        endpoint_url=gw.endpoint(style, scheme),
        aws_access_key_id=who.key or "unused",
        aws_secret_access_key=who.secret or "unused",
        aws_session_token=token,
        region_name=REGION,
        config=cfg,
        verify=verify if verify is not None else (str(CERT) if scheme == "https" else None),
    )


def error_code(err) -> tuple[str, int]:
    """(S3 error code, HTTP status) of a botocore ClientError, or of pytest.raises' ExceptionInfo of one."""
    resp = getattr(err, "value", err).response
    return resp["Error"]["Code"], resp["ResponseMetadata"]["HTTPStatusCode"]


# Subprocess clients
def client_env(who: Who, home: Path) -> dict:
    """Environment for the AWS CLI / s3cmd: only this principal's credentials, no user config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    home.mkdir(parents=True, exist_ok=True)
    env.update(
        HOME=str(home),
        AWS_CONFIG_FILE=str(home / "aws-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "aws-credentials"),
        AWS_DEFAULT_REGION=REGION,
        AWS_EC2_METADATA_DISABLED="true",
        AWS_MAX_ATTEMPTS="1",
        AWS_RETRY_MODE="standard",
        AWS_PAGER="",
        PYTHONPATH=os.pathsep.join(filter(None, [str(RESOLVER_DIR), os.environ.get("PYTHONPATH")])),
    )
    if who.key:
        env["AWS_ACCESS_KEY_ID"] = who.key
        env["AWS_SECRET_ACCESS_KEY"] = who.secret
    return env


def run(cmd: list[str], env: dict | None = None, timeout: float = 120, input: bytes | None = None):
    return subprocess.run(cmd, env=env, capture_output=True, timeout=timeout, input=input)


def describe(p: subprocess.CompletedProcess) -> str:
    return (
        f"$ {' '.join(map(str, p.args))}\nexit {p.returncode}\n"
        f"stdout: {p.stdout[-2000:].decode('utf-8', 'replace')}\n"
        f"stderr: {p.stderr[-2000:].decode('utf-8', 'replace')}"
    )


# No secret in any log: every gateway of the session, checked at the end.
def demo_secret_keys() -> list[str]:
    """The SecretAccessKey of every access key of the demo store (policies/*/credentials.json)."""
    secrets = []
    for creds in sorted(POLICIES.glob("*/credentials.json")):
        secrets += [k["SecretAccessKey"] for k in json.loads(creds.read_text()) if k.get("SecretAccessKey")]
    return secrets


# Signatures and session tokens are made per request, so they are looked for by shape: a
# signature's 64 hex digits after its name, a token's long value after its name.
LEAK_SHAPES = [
    re.compile(r"Signature\s*[=:\"]+\s*[0-9a-f]{64}", re.I),
    re.compile(r"(X-Amz-Security-Token|SessionToken|security_token)\s*[\"=:]+\s*\"?[A-Za-z0-9+/%_-]{40,}", re.I),
]


def pytest_sessionfinish(session, exitstatus):
    secrets = demo_secret_keys()
    leaks = []
    for g in GATEWAYS:
        try:
            text = g.log.read_text(errors="replace")
        except OSError:
            continue
        leaks += [f"{g.log}: the secret key {s[:4]}... appears" for s in secrets if s in text]
        for shape in LEAK_SHAPES:
            found = shape.search(text)
            if found:
                leaks.append(f"{g.log}: {found.group(0)[:24]}... appears")
    if leaks:
        print("\nSECRETS IN GATEWAY LOGS:\n" + "\n".join(leaks))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
