"""The README's demo, run as written. The shell commands of the README's demo section (and the role profile
of docs/STS.md) are read from the documents themselves, so that the two cannot drift, and run one by one in
one bash session, against the gateway started as `cargo run --release` starts it: no subcommand, in a folder
holding the demo's iamgate.toml, a copy of policies/ with a fresh clone's file modes, certs/ and no data/.
Every command's outcome is checked against what the README says it does, and what the README quotes of the
CLI's refusals must be what the CLI printed.

Ports: the README and iamgate.toml use 8080, 8443 and 8081. The test moves those three addresses, in the
configuration and in the commands alike, to ports free at the start. Each rewrite must find the address
where it is expected (so a change of the README or of iamgate.toml still fails here), and no other port
number may be left in a command. Fixed ports would make the test fail, on CI runners and on developers'
machines, whenever something else holds 8080 (another service, one's own demo, a parallel run).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

from conftest import BIN, CAROL, GATEWAYS, ROOT, SEED, VENV_BIN, free_port, tail_of, wait_for_port

README = ROOT / "README.md"
STS_DOC = ROOT / "docs" / "STS.md"
DEMO_PORTS = {"http": 8080, "https": 8443, "admin": 8081}


@dataclass
class Command:
    text: str  # as written, continuation lines joined with their backslashes
    comment: str  # the trailing `# ...` comment, if any


def section(markdown: str, heading: str) -> str:
    start = markdown.index(f"\n{heading}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start : end if end >= 0 else len(markdown)]


def fenced(text: str, lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```$", text, re.S | re.M)


def commands(block: str) -> list[Command]:
    """The block's commands: comment-only and blank lines dropped, `\\`-continued lines joined."""
    out, pending = [], ""
    for line in block.splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        pending += line + "\n"
        if not line.endswith("\\"):
            text = pending.rstrip("\n")
            # A trailing comment: two or more spaces, then `# `, outside the quoted parts of these commands.
            m = re.search(r"\s{2,}#\s(.*)$", text.splitlines()[-1])
            out.append(Command(text, m.group(1).strip() if m else ""))
            pending = ""
    assert not pending, f"a command ends with a continuation: {pending!r}"
    return out


def move_ports(text: str, ports: dict[str, int]) -> str:
    for name, port in ports.items():
        text = text.replace(f"127.0.0.1:{DEMO_PORTS[name]}", f"127.0.0.1:{port}")
    return text


def normalised(text: str) -> str:
    return " ".join(text.replace("`", "").split())


class DemoGateway:
    """`target/release/iamgate` with no arguments in a folder laid out as a fresh clone's demo."""

    def __init__(self, base: Path):
        self.name = "readme-demo"
        self.dir = base
        ports = {}
        while len(set(ports.values())) < len(DEMO_PORTS):
            ports = {name: free_port() for name in DEMO_PORTS}
        self.ports = ports
        config = (ROOT / "iamgate.toml").read_text()
        for name, port in ports.items():
            line = f'{name} = "127.0.0.1:{DEMO_PORTS[name]}"'
            assert config.count(line) == 1, f"iamgate.toml no longer has {line}"
            config = config.replace(line, f'{name} = "127.0.0.1:{port}"')
        parsed = tomllib.loads(config)
        assert parsed["policies"] == "policies" and parsed["upstreams"]["s3"]["local"] == "data", parsed
        (base / "iamgate.toml").write_text(config)
        shutil.copytree(ROOT / "certs", base / "certs")
        # A fresh clone: git writes files 0644 and folders 0755 (umask 022).
        shutil.copytree(ROOT / "policies", base / "policies")
        for path in (base / "policies").rglob("*"):
            path.chmod(0o755 if path.is_dir() else 0o644)
        assert not (base / "data").exists()
        self.log = base / "gateway.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> "DemoGateway":
        if not BIN.is_file():
            raise RuntimeError(f"{BIN} is missing: run `cargo build --release` first")
        env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "RUST_LOG")}
        self._logf = open(self.log, "ab")
        # Output to a file, as under a service manager or `cargo run > log`: not a terminal.
        self.proc = subprocess.Popen(
            [str(BIN)], cwd=self.dir, stdout=self._logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env
        )
        GATEWAYS.append(self)
        for name, port in self.ports.items():
            wait_for_port(port, self.proc, f"iamgate ({self.name}) {name}", self.log)
        # The last line of the start-up, after the store's files were seen to.
        deadline = time.monotonic() + 10
        while b"iamgate is serving" not in self.log.read_bytes():
            assert time.monotonic() < deadline, tail_of(self.log)
            time.sleep(0.05)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._logf.close()

    def log_size(self) -> int:
        try:
            return self.log.stat().st_size
        except OSError:
            return 0


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    gw = DemoGateway(tmp_path_factory.mktemp("readme-demo")).start()
    yield gw
    gw.stop()


@dataclass
class Ran:
    command: Command
    rc: int
    out: bytes
    err: bytes

    def __str__(self):
        return (
            f"$ {self.command.text}\nexit {self.rc}\nstdout: {self.out[-1500:].decode('utf-8', 'replace')}\n"
            f"stderr: {self.err[-1500:].decode('utf-8', 'replace')}"
        )


def run_session(
    cmds: list[Command], demo: DemoGateway, home: Path, files: dict[str, str] | None = None, env_more=None
) -> list[Ran]:
    """Runs `cmds` in one bash, in the demo's folder, as a user who followed the README: a fresh HOME, the
    environment `scripts/setup-python.sh` made active (its bin first on the PATH), no AWS_* variables."""
    home.mkdir(parents=True)
    for name, text in (files or {}).items():
        (home / name).parent.mkdir(parents=True, exist_ok=True)
        (home / name).write_text(text)
    results = home / "results"
    results.mkdir()
    script = []
    for i, c in enumerate(cmds):
        moved = move_ports(c.text, demo.ports)
        left = re.findall(r"\b(8080|8443|8081)\b", moved)
        assert not left, f"a port the test does not move: {c.text}"
        script.append(f'{{ {moved}\n}} >"{results}/{i}.out" 2>"{results}/{i}.err" </dev/null; echo $? >"{results}/{i}.rc"')
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(home),
        PATH=os.pathsep.join([str(VENV_BIN), env.get("PATH", "/usr/bin:/bin")]),
        VIRTUAL_ENV=str(VENV_BIN.parent),
        **(env_more or {}),
    )
    p = subprocess.run(["bash", "-c", "\n".join(script)], cwd=demo.dir, env=env, capture_output=True, timeout=600)
    assert p.returncode == 0, p.stderr.decode()
    return [
        Ran(
            c,
            int((results / f"{i}.rc").read_text()),
            (results / f"{i}.out").read_bytes(),
            (results / f"{i}.err").read_bytes(),
        )
        for i, c in enumerate(cmds)
    ]


def ok(r: Ran) -> Ran:
    assert r.rc == 0, r
    return r


def refused_as_quoted(r: Ran, readme: str, *needles: str) -> Ran:
    """A refusal whose CLI message contains `needles`, and is what the README quotes (whitespace aside)."""
    assert r.rc != 0, r
    err = r.err.decode()
    for needle in needles:
        assert needle in err, r
    printed = next(line[line.index("An error occurred") :] for line in err.splitlines() if "An error occurred" in line)
    assert normalised(printed) in normalised(readme), f"the README does not quote what the CLI printed:\n{printed}"
    return r


def cli_json(r: Ran) -> dict:
    return json.loads(ok(r).out)


def test_readme_demo_commands_work_as_written(demo, tmp_path):
    readme = README.read_text()
    demo_section = section(readme, "## The demo")
    blocks = fenced(demo_section, "sh")
    assert blocks, "the README's demo section has no ```sh block"
    cmds = [c for block in blocks for c in commands(block)]
    for name, port in DEMO_PORTS.items():
        assert any(f"127.0.0.1:{port}" in c.text for c in cmds), f"no demo command uses the {name} port {port}"
    ran = run_session(cmds, demo, tmp_path / "home")
    q1 = SEED[("reports", "2026/q1.csv")]
    salaries = SEED[("reports", "confidential/salaries.csv")]

    # What each command of the README does; every command must be claimed by exactly one row.
    def export(r: Ran):
        ok(r)

    def lists_reports(r: Ran):
        listed = ok(r).out.decode()
        assert "2026/q1.csv" in listed and "confidential/salaries.csv" in listed, r

    def allowed_q1(r: Ran):
        assert ok(r).out == q1, r

    def head_refused(r: Ran):
        refused_as_quoted(r, readme, "(403)", "HeadObject", "Forbidden")

    def get_refused(r: Ran):
        refused_as_quoted(
            r,
            readme,
            "(AccessDenied)",
            "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: s3:GetObject on resource: "
            '"arn:aws:s3:::reports/confidential/salaries.csv"',
        )

    def https_listing(r: Ran):
        assert "PRE 2026/" in ok(r).out.decode(), r

    def anonymous(r: Ran):
        assert ok(r).out == SEED[("public", "index.html")], r

    def mfa(r: Ran):
        c = cli_json(r)["Credentials"]
        assert c["AccessKeyId"].startswith("ASIA") and c["SessionToken"], r

    def assume(r: Ran):
        assert r.rc == 0 and not r.out and not r.err, r

    def identity(r: Ran):
        assert cli_json(r)["Arn"] == "arn:aws:sts::111122223333:assumed-role/auditor/audit", r

    def allowed_salaries(r: Ran):
        assert ok(r).out == salaries, r

    def ready(r: Ran):
        assert ok(r).out.startswith(b"ready"), r

    expected = [
        ("bob's keys", lambda c: c.text.startswith("export AWS_ACCESS_KEY_ID=AKIA"), export),
        ("the region", lambda c: c.text.startswith("export AWS_DEFAULT_REGION="), export),
        ("a recursive listing", lambda c: "s3 ls s3://reports --recursive" in c.text, lists_reports),
        ("an allowed download", lambda c: "s3 cp s3://reports/2026/q1.csv -" in c.text, allowed_q1),
        (
            "the refused download (HeadObject)",
            lambda c: "s3 cp s3://reports/confidential/salaries.csv -" in c.text and "403" in c.comment,
            head_refused,
        ),
        ("the refused GetObject", lambda c: "s3api get-object" in c.text and "AccessDenied" in c.comment, get_refused),
        ("HTTPS", lambda c: "https://127.0.0.1:8443" in c.text and "--ca-bundle certs/dev.crt" in c.text, https_listing),
        ("anonymous", lambda c: c.text.startswith("curl http://127.0.0.1:8080/public/"), anonymous),
        ("curl --aws-sigv4", lambda c: "--aws-sigv4" in c.text and "2026/q1.csv" in c.text, allowed_q1),
        ("GetSessionToken with MFA", lambda c: "get-session-token" in c.text and "pyotp" in c.text, mfa),
        ("AssumeRole", lambda c: "sts assume-role" in c.text and "--output text" in c.text, assume),
        ("the session's keys", lambda c: c.text.startswith("export AWS_ACCESS_KEY_ID=\"$1\""), export),
        ("who the session is", lambda c: "sts get-caller-identity" in c.text, identity),
        (
            "the auditor's download",
            lambda c: "s3 cp s3://reports/confidential/salaries.csv -" in c.text and "allowed" in c.comment,
            allowed_salaries,
        ),
        ("readiness", lambda c: "127.0.0.1:8081/readyz" in c.text, ready),
    ]
    claimed = {name: 0 for name, _, _ in expected}
    for r in ran:
        rows = [(name, check) for name, matches, check in expected if matches(r.command)]
        assert len(rows) == 1, f"{len(rows)} expectations for the README command:\n{r.command.text}"
        name, check = rows[0]
        claimed[name] += 1
        check(r)
    assert all(claimed.values()), f"the README no longer has: {[n for n, k in claimed.items() if not k]}"


def test_sts_doc_role_profile_works_as_written(demo, tmp_path):
    """docs/STS.md's credentials and config files, written where it says, and its commands."""
    doc = STS_DOC.read_text()
    files = {}
    for block in fenced(doc, "ini"):
        first, _, rest = block.partition("\n")
        m = re.fullmatch(r"# ~/(\.aws/\w+)", first.strip())
        if m:
            files[m.group(1)] = rest
    assert set(files) == {".aws/credentials", ".aws/config"}, files
    assert "[bob]" in files[".aws/credentials"] and "source_profile = bob" in files[".aws/config"]
    [block] = [b for b in fenced(doc, "sh") if "--profile auditor" in b]
    # Keys left in the environment (the README's, or here carol's) do not win over `--profile`.
    carol = {"AWS_ACCESS_KEY_ID": CAROL.key, "AWS_SECRET_ACCESS_KEY": CAROL.secret}
    ran = run_session(commands(block), demo, tmp_path / "home", files, carol)
    export, identity, download = ran
    ok(export)
    assert cli_json(identity)["Arn"].startswith("arn:aws:sts::111122223333:assumed-role/auditor/"), identity
    assert ok(download).out == SEED[("reports", "confidential/salaries.csv")], download


def test_the_demo_greets_a_fresh_clone_plainly(demo):
    """The demo's first start: no warning about its own (example) secrets, which it makes private instead;
    a log without colour codes when it is not written to a terminal; milliseconds rounded."""
    text = demo.log.read_text(errors="replace")
    assert "\x1b[" not in text, tail_of(demo.log)
    assert "readable by group or others" not in text, tail_of(demo.log)
    for account in ("111122223333", "444455556666"):
        mode = stat.S_IMODE((demo.dir / "policies" / account / "credentials.json").stat().st_mode)
        assert mode == 0o600, oct(mode)
    start_ms = re.search(r"iamgate is serving\s+start_ms=(\S+)", text)
    assert start_ms and re.fullmatch(r"\d+(\.\d)?", start_ms.group(1)), tail_of(demo.log)
    load_ms = re.search(r"load_ms=(\S+)", text)
    assert load_ms and re.fullmatch(r"\d+(\.\d)?", load_ms.group(1)), tail_of(demo.log)
