"""SIGTERM to the real binary: the upload in flight finishes and lands, new connections are refused at once,
an idle connection does not hold the exit up, and the process exits 0 once the upload is answered."""

import hashlib
import signal
import socket
import time
import uuid

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ALICE, REGION, s3_client


def refused(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return False
    except OSError:
        return True


def test_sigterm_finishes_the_request_in_flight_and_refuses_new_ones(own_gateway):
    gw = own_gateway("shutdown")
    key = f"shutdown/{uuid.uuid4().hex[:8]}.bin"
    body = b"x" * 256 * 1024
    url = f"{gw.http}/reports/{key}"
    request = AWSRequest(method="PUT", url=url, data=body, headers={"Content-Type": "application/octet-stream"})
    S3SigV4Auth(Credentials(ALICE.key, ALICE.secret), "s3", REGION).add_auth(request)
    assert request.headers["X-Amz-Content-SHA256"] == hashlib.sha256(body).hexdigest()
    head = f"PUT /reports/{key} HTTP/1.1\r\nHost: 127.0.0.1:{gw.http_port}\r\nContent-Length: {len(body)}\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in request.headers.items()) + "\r\n"

    idle = socket.create_connection(("127.0.0.1", gw.http_port), timeout=10)
    upload = socket.create_connection(("127.0.0.1", gw.http_port), timeout=10)
    upload.sendall(head.encode() + body[:1000])
    # The gateway has authorised the head and streams the body into the store's temporary file.
    deadline = time.monotonic() + 5
    while not any((gw.data / "tmp").iterdir()):
        assert time.monotonic() < deadline, "the upload did not start"
        time.sleep(0.01)

    gw.proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + 5
    while not refused(gw.http_port):
        assert time.monotonic() < deadline, "new connections are still accepted after SIGTERM"
        time.sleep(0.02)
    assert gw.proc.poll() is None, "the gateway exited with an upload in flight"

    upload.sendall(body[1000:])
    answer = b""
    while b"\r\n\r\n" not in answer:
        chunk = upload.recv(65536)
        assert chunk, answer
        answer += chunk
    assert answer.startswith(b"HTTP/1.1 200"), answer
    upload.close()
    idle.close()
    assert gw.proc.wait(timeout=10) == 0
    log = gw.log.read_text(errors="replace")
    assert "shutting down" in log and "stopped" in log, log[-2000:]

    # The upload landed: the same gateway, started again on its folder, serves it.
    gw.start()
    got = s3_client(gw, ALICE).get_object(Bucket="reports", Key=key)["Body"].read()
    assert got == body
