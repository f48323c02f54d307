#!/usr/bin/env python3
"""The load harness (run it through benches/load/run.sh, which installs what it needs).

Against one upstream (nginx serving a small object) and with one load generator (oha), measures
keep-alive GETs at fixed concurrency through

  a) the upstream directly,
  b) nginx proxy_pass, checking nothing,
  c) iamgate, authenticating (a presigned SigV4 URL) and evaluating every request against a store of
     100 users and 1,000 statements,
  d) iamgate in pass-through, the same proxy core with authentication and evaluation switched off,

interleaved and repeated; then p99 of a) and c) at half of c)'s maximum throughput; peak RSS with 1,000 open
connections; a 1 GiB upload through iamgate; and reloads of a store of 10,000 statements over 1,000
principals, 100 of them under load. Writes results.json, report.md and load.png into the output folder.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
# The shipped build (Cargo.toml [profile.dist]); IAMGATE_BIN names another, for an A/B.
BIN = Path(os.environ.get("IAMGATE_BIN", ROOT / "target" / "dist" / "iamgate")).resolve()
OHA = ROOT / "target" / "tools" / "bin" / "oha"
CLK_TCK = os.sysconf("SC_CLK_TCK")
OBJECT_BYTES = 1024
WORKERS = 0  # [listen] workers of the gateways (0: the gateway's default, one per CPU)
LOADER = ("AKIALOADEXAMPLE00001", "loadTestSecretKey/EXAMPLE0000000000000000")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port: int, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}")


def pids_of(proc: subprocess.Popen) -> list[int]:
    """The process and its children (nginx workers)."""
    pids = [proc.pid]
    try:
        children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
        pids += [int(c) for c in children]
    except OSError:
        pass
    return pids


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / CLK_TCK


def peak_rss_mib(pids: list[int]) -> float:
    """The largest VmHWM among the processes (nginx: the worker; iamgate: the one process)."""
    best = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    best = max(best, int(line.split()[1]))
        except OSError:
            pass
    return best / 1024


def oha(url: str, *, connections: int, seconds: float, rate: float | None = None, method="GET") -> dict:
    cmd = [str(OHA), "--no-tui", "--output-format", "json", "-c", str(connections), "-z", f"{seconds}s",
           "-m", method, "--disable-compression"]
    if rate:
        cmd += ["-q", str(rate), "--latency-correction"]
    out = subprocess.run(cmd + [url], capture_output=True, text=True, timeout=seconds + 120)
    if out.returncode != 0:
        raise RuntimeError(f"oha failed: {out.stderr[-2000:]}")
    data = json.loads(out.stdout)
    summary = data["summary"]
    pct = data.get("latencyPercentiles", {})
    codes = data.get("statusCodeDistribution", {})
    ok = sum(v for k, v in codes.items() if str(k).startswith("2"))
    total = sum(codes.values())
    # Requests cut by the end of the run are not failures.
    errors = sum(v for k, v in data.get("errorDistribution", {}).items() if "deadline" not in k)
    elapsed = summary.get("total") or seconds
    return {
        # Successful responses per second: oha's own rate counts failed connections too.
        "rps": ok / elapsed if elapsed else 0.0,
        "p50_ms": (pct.get("p50") or 0) * 1000,
        "p99_ms": (pct.get("p99") or 0) * 1000,
        "p999_ms": (pct.get("p99.9") or 0) * 1000,
        "responses": total,
        "ok": ok,
        "errors": errors,
        "status": codes,
        "error_kinds": data.get("errorDistribution", {}),
    }


class Servers:
    """nginx (upstream and proxy) and the two iamgates, each on its own port, in `work`."""

    def __init__(self, work: Path, store: Path):
        self.work = work
        self.procs: dict[str, subprocess.Popen] = {}
        self.ports = {k: free_port() for k in "abcd"}
        www = work / "www" / "bench"
        www.mkdir(parents=True, exist_ok=True)
        (www / "object.bin").write_bytes(bytes(range(256)) * (OBJECT_BYTES // 256))
        self.store = store

    def nginx(self, name: str, server: str, workers: str):
        conf = self.work / f"nginx-{name}.conf"
        conf.write_text(f"""
worker_processes {workers};
daemon off;
pid {self.work}/nginx-{name}.pid;
error_log {self.work}/nginx-{name}.err warn;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    keepalive_requests 100000000;
    keepalive_timeout 120s;
    client_body_temp_path {self.work}/body-{name};
    proxy_temp_path {self.work}/proxy-{name};
    fastcgi_temp_path {self.work}/fcgi-{name};
    uwsgi_temp_path {self.work}/uwsgi-{name};
    scgi_temp_path {self.work}/scgi-{name};
    {server}
}}
""")
        self.procs[name] = subprocess.Popen(["nginx", "-c", str(conf), "-e", f"{self.work}/nginx-{name}.err"],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def iamgate(self, name: str, port: int, passthrough: bool, extra: str = "", upstream: str | None = None,
                store: Path | None = None, wrapper: tuple[str, ...] = ()):
        folder = self.work / f"gw-{name}"
        folder.mkdir(exist_ok=True)
        target = upstream or f"http://127.0.0.1:{self.ports['a']}"
        conf = folder / "iamgate.toml"
        conf.write_text(f"""
region = "us-east-1"
policies = "{store or self.store}"
[listen]
http = "127.0.0.1:{port}"
{f"workers = {WORKERS}" if WORKERS else ""}
[log]
decisions = "off"
{extra}
[upstreams.s3]
kind = "s3"
url = "{target}"
owner = "111122223333"
passthrough = {"true" if passthrough else "false"}
""")
        log = open(folder / "gateway.log", "wb")
        env = dict(os.environ, RUST_LOG="info,iamgate::decision=warn", NO_COLOR="1")
        self.procs[name] = subprocess.Popen([*wrapper, str(BIN), "serve", "--config", str(conf)], stdout=log,
                                            stderr=subprocess.STDOUT, env=env)
        wait_port(port, 120 if wrapper else 20)
        return folder / "gateway.log"

    def start(self):
        a, b = self.ports["a"], self.ports["b"]
        self.nginx("upstream", f"server {{ listen 127.0.0.1:{a}; root {self.work}/www; }}", "1")
        self.nginx("proxy", f"""
    upstream up {{ server 127.0.0.1:{a}; keepalive 256; }}
    server {{ listen 127.0.0.1:{b};
        location / {{ proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }} }}""",
                   "auto")
        wait_port(a)
        wait_port(b)
        self.iamgate("c", self.ports["c"], passthrough=False)
        self.iamgate("d", self.ports["d"], passthrough=True)

    def pids(self, target: str) -> list[int]:
        name = {"a": "upstream", "b": "proxy", "c": "c", "d": "d"}[target]
        return pids_of(self.procs[name])

    def stop(self):
        for p in self.procs.values():
            p.send_signal(signal.SIGTERM)
        for p in self.procs.values():
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()


def presigned(port: int, key: str = "object.bin", method: str = "get_object") -> str:
    import boto3
    from botocore.config import Config

    s3 = boto3.session.Session().client(
        "s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id=LOADER[0], aws_secret_access_key=LOADER[1],
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )
    return s3.generate_presigned_url(method, Params={"Bucket": "bench", "Key": key}, ExpiresIn=6 * 3600)


NAMES = {
    "a": "a) upstream directly (nginx)",
    "b": "b) nginx proxy_pass",
    "c": "c) iamgate, authenticate + evaluate",
    "d": "d) iamgate pass-through",
}


def throughput(servers: Servers, rounds: int, seconds: float, connections: int) -> dict:
    url_c = presigned(servers.ports["c"])
    query = url_c.split("?", 1)[1]
    urls = {t: f"http://127.0.0.1:{servers.ports[t]}/bench/object.bin?{query}" for t in "abcd"}
    results: dict[str, list] = {t: [] for t in "abcd"}
    for t in "abcd":  # warm every path once
        oha(urls[t], connections=connections, seconds=1)
    for r in range(rounds):
        order = "abcd" if r % 2 == 0 else "dcba"
        for t in order:
            pids = servers.pids(t)
            cpu0 = cpu_seconds(pids)
            res = oha(urls[t], connections=connections, seconds=seconds)
            res["cpu_us_per_request"] = (cpu_seconds(pids) - cpu0) / max(res["responses"], 1) * 1e6
            res["peak_rss_mib"] = peak_rss_mib(pids)
            results[t].append(res)
            print(f"  round {r + 1} {NAMES[t]}: {res['rps']:.0f} req/s, p99 {res['p99_ms']:.2f} ms, "
                  f"{res['cpu_us_per_request']:.1f} µs CPU/req, ok {res['ok']}/{res['responses']}", flush=True)
    return {"urls": {t: u.split("?")[0] for t, u in urls.items()}, "runs": results}


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return (xs[n // 2] + xs[(n - 1) // 2]) / 2 if n else 0


def half_rate_latency(servers: Servers, tp: dict, seconds: float, connections: int) -> dict:
    """p99 of a) and c) at the same fixed rate: half of c)'s maximum throughput (the gateway's
    own half load; a) alone could carry twice that, but c) could not, so a) and c) are compared at
    a rate both carry)."""
    rate = median([r["rps"] for r in tp["runs"]["c"]]) / 2
    url_c = presigned(servers.ports["c"])
    query = url_c.split("?", 1)[1]
    out = {"rate": rate}
    for t in "ac":
        url = f"http://127.0.0.1:{servers.ports[t]}/bench/object.bin?{query}"
        out[t] = oha(url, connections=connections, seconds=seconds, rate=rate)
        print(f"  {NAMES[t]} at {rate:.0f} req/s: p99 {out[t]['p99_ms']:.3f} ms", flush=True)
    out["added_p99_ms"] = out["c"]["p99_ms"] - out["a"]["p99_ms"]
    return out


def many_connections(servers: Servers, seconds: float) -> dict:
    url = presigned(servers.ports["c"])
    res = oha(url, connections=1000, seconds=seconds)
    res["peak_rss_mib"] = peak_rss_mib(servers.pids("c"))
    print(f"  1,000 connections: {res['rps']:.0f} req/s, peak RSS {res['peak_rss_mib']:.1f} MiB", flush=True)
    return res


class Sink(http.server.BaseHTTPRequestHandler):
    """An upstream that reads and discards request bodies."""

    protocol_version = "HTTP/1.1"

    def do_PUT(self):  # noqa: N802
        left = int(self.headers.get("content-length", "0"))
        while left > 0:
            chunk = self.rfile.read(min(left, 1 << 20))
            if not chunk:
                break
            left -= len(chunk)
        self.send_response(200)
        self.send_header("content-length", "0")
        self.send_header("etag", '"sink"')
        self.end_headers()

    def log_message(self, *args):
        pass


def big_upload(servers: Servers, work: Path) -> dict:
    sink = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Sink)
    threading.Thread(target=sink.serve_forever, daemon=True).start()
    port = free_port()
    servers.iamgate("upload", port, passthrough=False, upstream=f"http://127.0.0.1:{sink.server_address[1]}")
    pids = pids_of(servers.procs["upload"])
    before = peak_rss_mib(pids)
    big = work / "one-gib.bin"
    with open(big, "wb") as f:
        f.truncate(1 << 30)  # sparse: reads as zeros, takes no disk
    url = presigned(port, "upload.bin", "put_object")
    t0 = time.monotonic()
    p = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-T", str(big), url],
                       capture_output=True, text=True, timeout=600)
    took = time.monotonic() - t0
    big.unlink()
    sink.shutdown()
    res = {"status": p.stdout.strip(), "seconds": took, "rss_before_mib": before, "peak_rss_mib": peak_rss_mib(pids),
           "mib_per_s": 1024 / took if took else 0}
    print(f"  1 GiB upload: HTTP {res['status']} in {took:.1f} s, peak RSS {res['peak_rss_mib']:.1f} MiB", flush=True)
    return res


def reloads(servers: Servers, work: Path, count: int, seconds_between: float) -> dict:
    big = work / "store-big"
    subprocess.run([sys.executable, str(HERE / "make_store.py"), str(big), "--users", "1000",
                    "--statements-per-user", "10"], check=True, capture_output=True)
    port = free_port()
    log = servers.iamgate("reload", port, passthrough=False, store=big)
    url = presigned(port)
    iam = big / "111122223333" / "iam.json"
    original = iam.read_text()
    duration = count * seconds_between + 5
    load = {}

    def run_load():
        load.update(oha(url, connections=16, seconds=duration))

    thread = threading.Thread(target=run_load)
    thread.start()
    time.sleep(1)
    for i in range(count):
        # A real change each time (a new Sid), written as editors do: a new file renamed over.
        tmp = iam.with_suffix(".tmp")
        tmp.write_text(original.replace('"Sid": "S0"', f'"Sid": "R{i}"', 1))
        os.replace(tmp, iam)
        time.sleep(seconds_between)
    thread.join()
    text = log.read_text(errors="replace")
    took = [float(m) for m in re.findall(r"took_ms=([0-9.]+)", text)]
    initial, reloaded = (took[0], took[1:]) if took else (0.0, [])
    res = {
        "changes": count,
        "statements": 10_001,
        "principals": 1_001,
        "initial_load_ms": initial,
        "reloads": len(reloaded),
        "reload_ms_median": median(reloaded),
        "reload_ms_max": max(reloaded) if reloaded else 0,
        "requests": load.get("responses", 0),
        "failed_requests": load.get("responses", 0) - load.get("ok", 0) + load.get("errors", 0),
    }
    print(f"  reloads: {res['reloads']} (median {res['reload_ms_median']:.1f} ms, max {res['reload_ms_max']:.1f} ms), "
          f"{res['requests']} requests, {res['failed_requests']} failed", flush=True)
    return res


def report(results: dict, out: Path):
    tp = results["throughput"]["runs"]
    rows = []
    for t in "abcd":
        runs = tp[t]
        rows.append((NAMES[t], median([r["rps"] for r in runs]), min(r["rps"] for r in runs),
                     max(r["rps"] for r in runs), median([r["p50_ms"] for r in runs]),
                     median([r["p99_ms"] for r in runs]), median([r["p999_ms"] for r in runs]),
                     median([r["cpu_us_per_request"] for r in runs]), max(r["peak_rss_mib"] for r in runs)))
    rps = {t: rows[i][1] for i, t in enumerate("abcd")}
    lines = [
        f"# Load harness, {results['when']}",
        "",
        f"Machine: {results['machine']}. Load: oha, {results['connections']} connections, "
        f"{results['seconds']} s per run, {results['rounds']} rounds interleaved (a b c d, then d c b a).",
        "",
        "| path | req/s (median) | min–max | p50 ms | p99 ms | p99.9 ms | CPU µs/req (proxy) | peak RSS MiB |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        lines.append(f"| {r[0]} | {r[1]:.0f} | {r[2]:.0f}–{r[3]:.0f} | {r[4]:.3f} | {r[5]:.3f} | {r[6]:.3f} | "
                     f"{r[7]:.1f} | {r[8]:.1f} |")
    h = results.get("half_rate")
    lines += ["", "| target | measured | met |", "| --- | --- | --- |",
              f"| c ≥ 0.9 × d (req/s) | {rps['c'] / rps['d']:.3f} × | {'yes' if rps['c'] >= 0.9 * rps['d'] else 'no'} |",
              f"| c ≥ 1.0 × b (req/s) | {rps['c'] / rps['b']:.3f} × | {'yes' if rps['c'] >= rps['b'] else 'no'} |"]
    if h:
        lines.append(f"| c adds ≤ 1 ms to a's p99 at half of c's maximum, {h['rate']:.0f} req/s | {h['added_p99_ms']:+.3f} ms "
                     f"(a {h['a']['p99_ms']:.3f}, c {h['c']['p99_ms']:.3f}) | {'yes' if h['added_p99_ms'] <= 1 else 'no'} |")
    m = results.get("connections_1000")
    if m:
        lines.append(f"| peak RSS ≤ 50 MiB with 1,000 connections | {m['peak_rss_mib']:.1f} MiB | "
                     f"{'yes' if m['peak_rss_mib'] <= 50 else 'no'} |")
    u = results.get("upload")
    if u:
        lines.append(f"| 1 GiB upload with ≤ 64 MiB RSS | {u['peak_rss_mib']:.1f} MiB (HTTP {u['status']}, "
                     f"{u['mib_per_s']:.0f} MiB/s) | {'yes' if u['peak_rss_mib'] <= 64 and u['status'] == '200' else 'no'} |")
    rl = results.get("reload")
    if rl:
        lines.append(f"| reload of 10,000 statements / 1,000 principals ≤ 100 ms | median {rl['reload_ms_median']:.1f} ms, "
                     f"max {rl['reload_ms_max']:.1f} ms | {'yes' if rl['reload_ms_max'] <= 100 else 'no'} |")
        # Changes closer together than the watcher's debounce are one reload: count both.
        lines.append(f"| {rl['changes']} changes under load fail no request | {rl['reloads']} reloads, "
                     f"{rl['failed_requests']} of {rl['requests']} requests failed | "
                     f"{'yes' if rl['failed_requests'] == 0 and rl['reloads'] > 0 else 'no'} |")
    lines += ["", f"Command: `{results['command']}`", ""]
    (out / "report.md").write_text("\n".join(lines))
    print("\n".join(lines))
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
        labels = [r[0].split(")")[0] + ")" for r in rows]
        ax1.bar(labels, [r[1] for r in rows], yerr=[[r[1] - r[2] for r in rows], [r[3] - r[1] for r in rows]],
                color=["#888", "#4a7", "#27c", "#9bd"])
        ax1.set_title("requests per second (median, min–max)")
        width = 0.25
        xs = range(len(rows))
        for i, (k, name) in enumerate([(4, "p50"), (5, "p99"), (6, "p99.9")]):
            ax2.bar([x + (i - 1) * width for x in xs], [r[k] for r in rows], width, label=name)
        ax2.set_xticks(list(xs), labels)
        ax2.set_title("latency, ms (median of runs)")
        ax2.legend()
        fig.suptitle(f"iamgate load harness, {results['when']}")
        fig.tight_layout()
        fig.savefig(out / "load.png", dpi=110)
    except ImportError:
        print("matplotlib missing: no plot", file=sys.stderr)


def profile(servers: Servers, target: str, seconds: float, connections: int, out: Path):
    """perf record of one iamgate under load: where its CPU time goes, by symbol and by caller."""
    url = presigned(servers.ports["c"])
    url = f"http://127.0.0.1:{servers.ports[target]}/bench/object.bin?{url.split('?', 1)[1]}"
    oha(url, connections=connections, seconds=1)
    data = out / f"perf-{target}.data"
    perf = subprocess.Popen(["perf", "record", "-e", "cpu-clock", "-F", "1000", "--call-graph", "dwarf,16384", "-o", str(data), "-p",
                             str(servers.procs[target].pid)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    res = oha(url, connections=connections, seconds=seconds)
    perf.send_signal(signal.SIGINT)
    perf.wait()
    print(f"{NAMES[target]}: {res['rps']:.0f} req/s under perf")
    for name, args in (("flat", ["--no-children"]), ("children", ["--children"])):
        report = subprocess.run(["perf", "report", "-i", str(data), "--stdio", "--percent-limit", "0.5",
                                 "-g", "none", *args], capture_output=True, text=True)
        (out / f"perf-{target}-{name}.txt").write_text(report.stdout)
    print(f"{out}/perf-{target}-flat.txt, perf-{target}-children.txt")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=str(ROOT / "target" / "load" / time.strftime("%Y%m%d-%H%M%S")))
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--seconds", type=float, default=10)
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--quick", action="store_true", help="short runs, to check the harness itself")
    p.add_argument("--skip", default="", help="comma list of: half,connections,upload,reload")
    p.add_argument("--profile", choices=["c", "d"], help="instead of measuring: load c) or d) and record it "
                   "with `perf record -g` (software clock) into OUT/perf-X.data and OUT/perf-X.txt")
    p.add_argument("--workers", type=int, default=0, help="[listen] workers for the gateways (default: one per CPU)")
    a = p.parse_args()
    global WORKERS
    WORKERS = a.workers
    if a.quick:
        a.rounds, a.seconds = 1, 2
    skip = set(filter(None, a.skip.split(",")))
    out = Path(a.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    work = out / "work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    store = work / "store"
    subprocess.run([sys.executable, str(HERE / "make_store.py"), str(store)], check=True)
    servers = Servers(work, store)
    results = {
        "when": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.platform()}, load average "
                   f"{os.getloadavg()[0]:.1f} at start",
        "rounds": a.rounds, "seconds": a.seconds, "connections": a.connections,
        "command": " ".join(["benches/load/run.sh", *sys.argv[1:]]),
    }
    if a.profile:
        try:
            servers.start()
            profile(servers, a.profile, a.seconds, a.connections, out)
        finally:
            servers.stop()
        return
    try:
        servers.start()
        print("throughput, interleaved:", flush=True)
        results["throughput"] = throughput(servers, a.rounds, a.seconds, a.connections)
        if "half" not in skip:
            print("latency at half of c)'s throughput:", flush=True)
            results["half_rate"] = half_rate_latency(servers, results["throughput"], a.seconds, a.connections)
        if "connections" not in skip:
            results["connections_1000"] = many_connections(servers, a.seconds)
        if "upload" not in skip:
            results["upload"] = big_upload(servers, work)
        if "reload" not in skip:
            results["reload"] = reloads(servers, work, 20 if a.quick else 100, 0.3)
    finally:
        servers.stop()
    (out / "results.json").write_text(json.dumps(results, indent=1))
    report(results, out)
    print(f"\n{out}/report.md, results.json, load.png")


if __name__ == "__main__":
    main()
