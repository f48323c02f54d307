#!/usr/bin/env bash
# Runs the policy-engine benchmark as recorded in docs/PERFORMANCE.md, then prints the median
# of every benchmark from criterion's own estimates. It measures; it asserts no timing.
#
#   benches/run-policy-bench.sh              # iamgate and Cedar (iamgate-policy's cargo feature `cedar`)
#   benches/run-policy-bench.sh --no-cedar   # iamgate only
#   benches/run-policy-bench.sh -- allowed   # extra arguments go to criterion (a filter here)
#
# Short warm-up and measurement keep the whole run to a few minutes on a 2-core machine.
set -euo pipefail
cd "$(dirname "$0")/.."

features=(--features cedar)
if [[ "${1:-}" == "--no-cedar" ]]; then
    features=()
    shift
fi
[[ "${1:-}" == "--" ]] && shift

echo "machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p')"
cargo bench -p iamgate-policy --bench policy "${features[@]}" -- --warm-up-time 1 --measurement-time 3 "$@"

# criterion keeps each benchmark's estimates under target/criterion/<group>/<engine>/<size>/new.
target="${CARGO_TARGET_DIR:-target}/criterion"
if command -v jq >/dev/null; then
    echo
    echo "medians (ns):"
    find "$target" -path '*/new/benchmark.json' | sort | while read -r meta; do
        dir="$(dirname "$meta")"
        printf '%-40s %12.1f\n' "$(jq -r .full_id "$meta")" \
            "$(jq .median.point_estimate "$dir/estimates.json")"
    done
fi
