#!/usr/bin/env bash
# The load harness, one command: installs nginx (Debian) and oha (crates.io, into target/tools) if
# missing, boto3 and matplotlib into target/pyenv, builds the binary as shipped (Cargo.toml
# [profile.dist]: fat LTO, the Dockerfile's build), and runs drive.py.
# Run it on a machine with nothing else running. Options go to drive.py:
#   --rounds N (3) --seconds S (10) --connections C (64) --quick --skip half,connections,upload,reload
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! command -v nginx >/dev/null; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null
fi
command -v curl >/dev/null || { apt-get update -qq && apt-get install -y -qq curl >/dev/null; }
if [ ! -x target/tools/bin/oha ]; then
    cargo install oha --locked --root target/tools
fi
scripts/setup-python.sh >/dev/null
target/pyenv/bin/python -c 'import matplotlib' 2>/dev/null || target/pyenv/bin/python -m pip install -q matplotlib
cargo build --profile dist --locked --bin iamgate
exec target/pyenv/bin/python benches/load/drive.py "$@"
