#!/usr/bin/env bash
# Quick start: install what is missing, build, and run the default sweep
# (experiments/quickstart.yaml: 4 methods x 2 mini-world subjects on builtin:mini,
# the pretrained mini pipeline, DVAR monitor), then write its table, figures and report.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
jobs=$(( $(nproc) >= 2 ? 2 : 1 ))
build/bin/run_sweep experiments/quickstart.yaml --jobs "$jobs" "$@"
build/bin/make_table results/quickstart
echo "[quickstart] report: results/quickstart/report.md (figures in results/quickstart/figures/)"
