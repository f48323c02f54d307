#!/usr/bin/env bash
# Runs every test of iamgate on a fresh machine: installs what the tests need, checks formatting
# and lints, builds, then runs the Rust tests, the conformance cases against the real binary, and the
# real-client suite (tests/clients, see docs/TESTING.md) in target/pyenv.
# .ci/run calls this same script, so CI proves the README's command.
set -euo pipefail
cd "$(dirname "$0")/.."

have() { command -v "$1" >/dev/null 2>&1; }
apt_install() {
    if ! have apt-get; then
        echo "test.sh: please install: $*" >&2
        exit 1
    fi
    if [ -z "${APT_UPDATED:-}" ]; then
        apt-get update -qq
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

step() { printf '\n==> %s\n' "$*"; }

step "tools"
have python3 || apt_install python3
have curl || apt_install curl
# nginx: a plain HTTP service behind a route table in the real-client suite.
have nginx || [ -x /usr/sbin/nginx ] || apt_install nginx
if have rustup; then
    rustup component add rustfmt clippy >/dev/null 2>&1 || true
fi
cargo --version
python3 --version

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "Rust tests, release build (unit, integration, doc, conformance through the binary)"
cargo test --workspace --release --locked
cargo build --release --locked --bin iamgate

step "policy conformance cases (tests/data/conformance)"
python3 tests/data/conformance/run-policy-cases target/release/iamgate tests/data/conformance/policy-cases.json

step "real clients (boto3, AWS CLI, curl, s3cmd, moto) against target/release/iamgate"
scripts/setup-python.sh
target/pyenv/bin/python -m pytest -q tests/clients

step "all tests passed"
