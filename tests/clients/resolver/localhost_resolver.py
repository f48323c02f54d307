"""Makes `*.localhost` resolve to 127.0.0.1 in this Python process.

RFC 6761 reserves `localhost` and every name under it for the loopback address, and most systems
(systemd-resolved, glibc's nss-myhostname, macOS) resolve `reports.s3.localhost` that way. Some do not
(a plain `/etc/nsswitch.conf` with `files dns`, as on this CI machine). The virtual-hosted-style S3 tests
need `<bucket>.s3.localhost`, so when the system does not resolve it, this wraps `socket.getaddrinfo` to
answer 127.0.0.1 for such names. The Host header the clients send stays `<bucket>.s3.localhost:PORT`.

`install()` is called by the pytest conftest (for boto3 in the test process) and by the `sitecustomize`
module beside this file, which the tests put on PYTHONPATH for the AWS CLI and s3cmd subprocesses.
"""

import socket

_PROBE = "reports.s3.localhost"
_installed = False


def _is_localhost(host) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    host = host.lower().rstrip(".")
    return host == "localhost" or host.endswith(".localhost")


def system_resolves() -> bool:
    try:
        return any(ai[4][0] == "127.0.0.1" for ai in socket.getaddrinfo(_PROBE, 80, socket.AF_INET))
    except OSError:
        return False


def install() -> bool:
    """Returns True if a wrapper was installed, False if the system already resolves *.localhost."""
    global _installed
    if _installed:
        return True
    if system_resolves():
        return False
    original = socket.getaddrinfo

    def getaddrinfo(host, *args, **kwargs):
        if _is_localhost(host):
            host = "127.0.0.1"
        return original(host, *args, **kwargs)

    socket.getaddrinfo = getaddrinfo
    _installed = True
    return True
