#!/usr/bin/env bash
# Creates target/pyenv, the Python environment of the real-client tests (tests/clients), and installs
# into it the latest boto3, awscli, s3cmd, pytest, moto[server], pyotp (MFA codes) and pyjwt[crypto]
# (web identity tokens minted by the tests) from PyPI.
#
# `awscli` on PyPI is the AWS CLI v1 (v2 is not published on PyPI); for `aws s3 cp/ls/rm` and
# `aws s3api ...` with --endpoint-url the two behave the same here.
#
# Idempotent: once an install has succeeded, a marker file (target/pyenv/.iamgate-installed) records the
# versions pip installed; later runs check that those are still what the venv has and do nothing.
# Set IAMGATE_PY_UPGRADE=1 to look for newer releases. Fails loudly (non-zero exit) if anything is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${IAMGATE_PYENV:-target/pyenv}
MARKER="$VENV/.iamgate-installed"
PACKAGES=(boto3 awscli s3cmd pytest "moto[server]" pyotp "pyjwt[crypto]")

die() { echo "setup-python.sh: $*" >&2; exit 1; }
have() { command -v "$1" >/dev/null 2>&1; }

have python3 || die "python3 is not installed (apt-get install python3)"

venv_works() { python3 -c 'import venv, ensurepip' >/dev/null 2>&1; }
if [ ! -x "$VENV/bin/python" ]; then
    if ! venv_works; then
        if have apt-get; then
            echo "setup-python.sh: installing python3-venv" >&2
            apt-get update -qq
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null
        fi
        venv_works || die "python3 cannot create a virtual environment (install python3-venv)"
    fi
    rm -rf "$VENV"
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV" || die "python3 -m venv $VENV failed"
fi

PY="$VENV/bin/python"

# What the venv has now, as name==version lines for our packages.
installed() {
    "$PY" - <<'PYEOF'
from importlib import metadata
for name in ("boto3", "awscli", "s3cmd", "pytest", "moto", "flask", "pyotp", "pyjwt", "cryptography"):
    try:
        print(f"{name}=={metadata.version(name)}")
    except metadata.PackageNotFoundError:
        print(f"{name}==MISSING")
PYEOF
}

if [ -z "${IAMGATE_PY_UPGRADE:-}" ] && [ -f "$MARKER" ] && [ "$(installed)" = "$(cat "$MARKER")" ]; then
    echo "setup-python.sh: $VENV is up to date ($(tr '\n' ' ' <"$MARKER"))"
    exit 0
fi

echo "setup-python.sh: installing ${PACKAGES[*]} into $VENV" >&2
"$PY" -m pip install -q --upgrade pip || die "pip upgrade failed"
"$PY" -m pip install -q --upgrade "${PACKAGES[@]}" || die "pip install ${PACKAGES[*]} failed"

now="$(installed)"
if grep -q MISSING <<<"$now"; then
    die "after pip install, still missing: $(grep MISSING <<<"$now" | tr '\n' ' ')"
fi
for tool in aws s3cmd moto_server pytest; do
    [ -x "$VENV/bin/$tool" ] || die "$VENV/bin/$tool was not installed"
done
echo "$now" >"$MARKER"
echo "setup-python.sh: installed $(tr '\n' ' ' <"$MARKER")"
