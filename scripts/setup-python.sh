#!/usr/bin/env bash
# Creates the Python virtual environment the real-client tests use (boto3 and the AWS CLI from
# PyPI), idempotently: an environment that already has both is left alone.
#   scripts/setup-python.sh            -> target/pyenv
#   IAMGATE_PYENV=/some/dir scripts/setup-python.sh
# Needs python3 with the venv module (Debian/Ubuntu: apt-get install python3-venv) and network
# access to PyPI on the first run.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=${IAMGATE_PYENV:-target/pyenv}

ready() {
    [ -x "$VENV/bin/python" ] && [ -x "$VENV/bin/aws" ] &&
        "$VENV/bin/python" -c 'import boto3, botocore' >/dev/null 2>&1
}

if ready; then
    exit 0
fi
echo "setup-python.sh: creating $VENV with boto3 and awscli" >&2
python3 -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >/dev/null 2>&1 || true
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check boto3 awscli
ready || { echo "setup-python.sh: $VENV is incomplete after installation" >&2; exit 1; }
