#!/usr/bin/env python3
"""Instructions per request, counted by callgrind: a figure the neighbours on a shared machine
cannot move, for A/B comparisons of small changes (the load harness's CPU time per request moves
by about a microsecond between runs).

The gateway runs under `valgrind --tool=callgrind` with one worker, in front of the harness's
nginx upstream and store (100 users, 1,000 statements), and serves the harness's request (a
presigned GET) N1 then N2 times, one connection, keep-alive; two runs, so that start-up and
shutdown cancel out: (instructions of the N2 run - those of the N1 run) / (N2 - N1).

User-space instructions only (no system calls), and valgrind has no SHA-NI: SHA-256 runs in
software there (about 47,000 instructions of c's count), so compare builds, not absolute costs.

    benches/load/icount.py                       # c) and d) of target/dist/iamgate
    IAMGATE_BIN=/path/to/other benches/load/icount.py c --requests 300 1300 --keep OUT
"""

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import drive  # noqa: E402  (the harness's servers, request and load generator)


def count(servers: drive.Servers, passthrough: bool, requests: int, out: Path) -> tuple[int, int]:
    """Instructions callgrind collected over a gateway's whole life, and the responses that were 200."""
    port = drive.free_port()
    name = f"icount-{'d' if passthrough else 'c'}-{requests}"
    log = servers.iamgate(name, port, passthrough,
                          wrapper=("valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"))
    gateway = servers.procs.pop(name)
    try:
        url = drive.presigned(port)
        load = subprocess.run([str(drive.OHA), "--no-tui", "-n", str(requests), "-c", "1", url],
                              capture_output=True, text=True)
        ok = re.search(r"\[200\] (\d+) responses", load.stdout)
        if not ok:
            print(load.stdout[-600:], file=sys.stderr)
    finally:
        gateway.send_signal(signal.SIGTERM)
        gateway.wait(timeout=120)
    collected = re.search(r"Collected : (\d+)", log.read_text(errors="replace"))
    if not collected:
        raise RuntimeError(f"callgrind reported no total: see {log}")
    return int(collected.group(1)), int(ok.group(1)) if ok else 0


def main():
    p = argparse.ArgumentParser()
    p.add_argument("paths", nargs="*", help="c (checking, the default with d) and/or d (pass-through)")
    p.add_argument("--requests", type=int, nargs=2, default=[300, 1300], metavar=("N1", "N2"))
    p.add_argument("--keep", help="a folder to keep the callgrind files in (for callgrind_annotate)")
    a = p.parse_args()
    a.paths = a.paths or ["c", "d"]
    if set(a.paths) - {"c", "d"}:
        p.error("paths are c and d")
    if shutil.which("valgrind") is None:
        sys.exit("icount.py needs valgrind (Debian: apt-get install valgrind)")
    if not drive.BIN.exists() or not drive.OHA.exists():
        sys.exit(f"{drive.BIN} or {drive.OHA} is missing: run benches/load/run.sh --quick once")
    n1, n2 = a.requests
    drive.WORKERS = 1  # one worker: every request on the thread callgrind serialises anyway
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        work.chmod(0o755)  # nginx's workers run as another user, and read the object from here
        keep = Path(a.keep) if a.keep else work
        keep.mkdir(parents=True, exist_ok=True)
        store = work / "store"
        subprocess.run([sys.executable, str(HERE / "make_store.py"), str(store)], check=True,
                       stdout=subprocess.DEVNULL)
        servers = drive.Servers(work, store)
        servers.nginx("upstream", f"server {{ listen 127.0.0.1:{servers.ports['a']}; root {work}/www; }}", "1")
        try:
            drive.wait_port(servers.ports["a"])
            for path in a.paths:
                runs = [count(servers, path == "d", n, keep / f"callgrind-{path}-{n}.out") for n in (n1, n2)]
                (i1, ok1), (i2, ok2) = runs
                if (ok1, ok2) != (n1, n2):
                    raise RuntimeError(f"{path}): {ok1} of {n1} and {ok2} of {n2} requests answered 200")
                print(f"{drive.NAMES[path]}: {(i2 - i1) / (n2 - n1):,.0f} instructions per request "
                      f"({drive.BIN.name}, {n2 - n1} requests)")
        finally:
            servers.stop()


if __name__ == "__main__":
    main()
