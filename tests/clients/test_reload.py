"""Hot reload under load: bob's policy changes while he reads, with no failed request in between."""

import json
import os
import threading
import time

from botocore.exceptions import ClientError, ConnectionError as BotoConnectionError
from botocore.exceptions import EndpointConnectionError, ReadTimeoutError

from conftest import BOB, SEED, error_code, s3_client

N_REQUESTS = 300
SWITCH_AFTER = 100  # requests done before the policy file is replaced
PACE = 0.008  # seconds between requests: 300 requests span well over 2 s


def test_hot_reload_under_load(own_gateway):
    gw = own_gateway("reload")
    iam = gw.policies / "111122223333" / "iam.json"
    q1 = SEED[("reports", "2026/q1.csv")]

    results = []  # (start, end, outcome) with outcome 200, 403, or a description of the failure
    done_100 = threading.Event()

    def load():
        s3 = s3_client(gw, BOB, "path")
        for i in range(N_REQUESTS):
            start = time.monotonic()
            try:
                got = s3.get_object(Bucket="reports", Key="2026/q1.csv")["Body"].read()
                outcome = 200 if got == q1 else f"200 with wrong body {got[:60]!r}"
            except ClientError as e:
                code, status = error_code(e)
                outcome = 403 if (code, status) == ("AccessDenied", 403) else f"{status} {code}"
            except (BotoConnectionError, EndpointConnectionError, ReadTimeoutError) as e:
                outcome = f"connection error: {e}"
            except Exception as e:  # noqa: BLE001 - anything else is a failure to report, not to hide
                outcome = f"{type(e).__name__}: {e}"
            results.append((start, time.monotonic(), outcome))
            if i + 1 == SWITCH_AFTER:
                done_100.set()
            time.sleep(PACE)
        done_100.set()

    t = threading.Thread(target=load, daemon=True)
    t.start()
    assert done_100.wait(60), "the load thread did not get through its first requests"

    doc = json.loads(iam.read_text())
    bob = next(u for u in doc["UserDetailList"] if u["UserName"] == "bob")
    bob["UserPolicyList"][0]["PolicyDocument"]["Statement"].append(
        {"Sid": "NoReports2026", "Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::reports/2026/*"}
    )
    tmp = gw.dir / "iam.json.new"  # same file system, outside the watched folder
    tmp.write_text(json.dumps(doc, indent=2))
    written = time.monotonic()
    os.replace(tmp, iam)

    # Within 2 s of the write bob is refused (polled from a second client, alongside the load).
    probe = s3_client(gw, BOB, "path")
    denied_at = None
    while time.monotonic() - written < 5:
        try:
            probe.get_object(Bucket="reports", Key="2026/q1.csv")["Body"].read()
        except ClientError as e:
            assert error_code(e) == ("AccessDenied", 403), e.response
            denied_at = time.monotonic()
            break
        time.sleep(0.02)
    t.join(120)
    assert not t.is_alive(), "the load thread hung"

    n200 = sum(o == 200 for _, _, o in results)
    n403 = sum(o == 403 for _, _, o in results)
    first_403 = min((s for s, _, o in results if o == 403), default=None)
    last_200 = max((s for s, _, o in results if o == 200), default=None)
    print(
        f"reload: {len(results)} requests, {n200} x 200, {n403} x 403; probe refused after "
        f"{(denied_at - written) if denied_at else float('nan'):.3f} s; load: first 403 at "
        f"{(first_403 - written) if first_403 else float('nan'):.3f} s, last 200 at "
        f"{(last_200 - written) if last_200 else float('nan'):.3f} s after the write"
    )
    assert denied_at is not None, "bob was still allowed 5 s after the policy change"
    assert denied_at - written <= 2.0, f"the new policy took {denied_at - written:.2f} s to apply"

    assert len(results) == N_REQUESTS
    failures = [(round(s - written, 3), o) for s, _, o in results if o not in (200, 403)]
    assert not failures, f"requests failed (seconds after the write, outcome): {failures[:10]}"
    # Before the write: all allowed. After the switch: all refused. In between at most a short mixed window.
    assert all(o == 200 for s, e, o in results if e < written), "a request was refused before the write"
    assert first_403 is not None, "the load never saw the new policy"
    assert last_200 is not None
    assert last_200 - first_403 <= 0.5, f"200 and 403 mixed for {last_200 - first_403:.2f} s"
    assert all(o == 403 for s, _, o in results if s > written + 2.0), "a request was allowed 2 s after the write"
    assert n200 >= SWITCH_AFTER and n403 >= 50, (n200, n403)

    # The rest of bob's policy is intact: still reads shared/, still refused confidential/.
    assert probe.get_object(Bucket="reports", Key="shared/summary.txt")["Body"].read() == SEED[
        ("reports", "shared/summary.txt")
    ]
    try:
        probe.get_object(Bucket="reports", Key="confidential/salaries.csv")
        raise AssertionError("bob read confidential/ after the reload")
    except ClientError as e:
        assert error_code(e) == ("AccessDenied", 403)
    assert gw.alive(), "the gateway died"


def test_broken_policy_file_keeps_the_last_good_snapshot(own_gateway):
    """A change that does not load changes nothing; the next good one applies."""
    gw = own_gateway("broken")
    iam = gw.policies / "111122223333" / "iam.json"
    good = iam.read_text()
    bob = s3_client(gw, BOB, "path")
    q1 = SEED[("reports", "2026/q1.csv")]
    assert bob.get_object(Bucket="reports", Key="2026/q1.csv")["Body"].read() == q1

    tmp = gw.dir / "iam.json.new"
    tmp.write_text(good[: len(good) // 2])  # truncated JSON
    os.replace(tmp, iam)
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:  # for 2 s: still allowed, never a 5xx
        assert bob.get_object(Bucket="reports", Key="2026/q1.csv")["Body"].read() == q1
        time.sleep(0.05)
    assert "iam.json" in gw.log.read_text(errors="replace"), "the gateway did not say which file is broken"

    doc = json.loads(good)
    user = next(u for u in doc["UserDetailList"] if u["UserName"] == "bob")
    user["UserPolicyList"][0]["PolicyDocument"]["Statement"].append(
        {"Effect": "Deny", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::reports/2026/*"}
    )
    tmp.write_text(json.dumps(doc))
    written = time.monotonic()
    os.replace(tmp, iam)
    while True:
        try:
            bob.get_object(Bucket="reports", Key="2026/q1.csv")
        except ClientError as e:
            assert error_code(e) == ("AccessDenied", 403)
            break
        assert time.monotonic() - written < 2.0, "the good change after a broken one did not apply within 2 s"
        time.sleep(0.02)
