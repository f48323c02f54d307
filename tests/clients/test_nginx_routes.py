"""nginx (Debian's package, started here) as a plain HTTP service behind a route table: requests
signed by botocore's SigV4 signer for a service of our own, authorised by the demo policies, and
only the allowed ones reach nginx, with the gateway's identity headers."""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import time

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from conftest import ALICE, BOB, REGION, free_port, wait_for_port

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


@pytest.fixture
def nginx(tmp_path):
    if not shutil.which("nginx") and not shutil.os.path.exists(NGINX):
        pytest.fail("nginx is not installed (scripts/test.sh installs Debian's nginx package)")
    port = free_port()
    root = tmp_path / "nginx"
    (root / "logs").mkdir(parents=True)
    access = root / "logs" / "access.log"
    conf = root / "nginx.conf"
    conf.write_text(
        f"""
daemon off;
pid {root}/nginx.pid;
error_log {root}/logs/error.log;
events {{ worker_connections 64; }}
http {{
    client_body_temp_path {root}/body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    log_format seen '$request_method $request_uri principal=$http_x_iamgate_principal_arn action=$http_x_iamgate_action auth=$http_authorization';
    access_log {access} seen;
    server {{
        listen 127.0.0.1:{port};
        location /orders/ {{
            default_type text/plain;
            return 200 "order $uri\\n";
        }}
    }}
}}
"""
    )
    proc = subprocess.Popen([NGINX, "-c", str(conf), "-p", str(root)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for_port(port, proc, "nginx", None)
        yield port, access
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def orders_config(port: int) -> str:
    return f"""
[upstreams.orders]
kind = "routes"
url = "http://127.0.0.1:{port}"
hosts = ["orders.localhost"]
service = "orders"
[[upstreams.orders.actions]]
name = "GetOrder"
resource_types = ["order"]
[[upstreams.orders.routes]]
method = "GET"
path = "/orders/{{id}}"
action = "GetOrder"
resource_type = "order"
resource = "arn:aws:orders:{{region}}:{{account}}:order/{{id}}"
"""


def call(gw, who, method: str, path: str, sign: bool = True):
    """Signs with botocore's SigV4 signer for service `orders`, sends to the gateway with
    Host: orders.localhost."""
    url = f"http://orders.localhost:{gw.http_port}{path}"
    request = AWSRequest(method=method, url=url, data=b"")
    if sign:
        SigV4Auth(Credentials(who.key, who.secret), "orders", REGION).add_auth(request)
    conn = http.client.HTTPConnection("127.0.0.1", gw.http_port, timeout=10)
    headers = dict(request.headers.items())
    headers["Host"] = f"orders.localhost:{gw.http_port}"
    conn.request(method, path, headers=headers)
    response = conn.getresponse()
    body = response.read().decode()
    conn.close()
    return response.status, body


def seen_lines(access) -> list[str]:
    time.sleep(0.2)  # nginx writes its access log line after answering
    return access.read_text().splitlines() if access.exists() else []


def test_nginx_behind_a_route_table(nginx, own_gateway):
    port, access = nginx
    gw = own_gateway("nginx", extra_config=orders_config(port))

    status, body = call(gw, ALICE, "GET", "/orders/42")
    assert status == 200, body
    assert body == "order /orders/42\n"
    lines = seen_lines(access)
    assert len(lines) == 1, lines
    assert "principal=arn:aws:iam::111122223333:user/alice" in lines[0]
    assert "action=orders:GetOrder" in lines[0]
    assert "auth=-" in lines[0], "the client's credentials are not forwarded"

    status, body = call(gw, BOB, "GET", "/orders/42")
    assert status == 403, body
    assert json.loads(body)["__type"] == "AccessDeniedException"
    # Who, what, on what, and why, as AWS's services say it.
    assert json.loads(body)["message"] == (
        "User: arn:aws:iam::111122223333:user/bob is not authorized to perform: orders:GetOrder on resource: "
        "arn:aws:orders:us-east-1:111122223333:order/42 because no identity-based policy allows the "
        "orders:GetOrder action"
    ), body

    status, body = call(gw, ALICE, "GET", "/orders/42", sign=False)
    assert status == 403, body
    assert json.loads(body)["__type"] == "MissingAuthenticationToken"

    status, body = call(gw, ALICE, "GET", "/invoices/1")
    assert status == 404, body
    status, body = call(gw, ALICE, "GET", "/orders/1/../../secret")
    assert status in (400, 404), body

    assert len(seen_lines(access)) == 1, "nothing but the allowed request reached nginx"
