#!/usr/bin/env bash
# CI regression-benchmark gate (benchmarks/README.md). Runs build/bin/bench_*
# as listed in benchmarks/gate.json and compares with this machine's benchmarks/baselines/<machine>.json.
#   scripts/bench_gate.sh                  gate (exit 1 on a regression)
#   scripts/bench_gate.sh --update [NAMES] record new baselines (all, or comma-separated names)
#   scripts/bench_gate.sh --only REGEX     a subset
# Debian's interpreter: only standard-library modules are used.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
exec /usr/bin/python3 scripts/bench_gate.py "$@"
