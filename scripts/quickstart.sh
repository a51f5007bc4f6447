#!/usr/bin/env bash
# Quick start: install what is missing, build, and run the default sweep.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
# The default sweep (experiments/quickstart.yaml) arrives with the engine; until
# then this lists what the build holds.
if [[ -f experiments/quickstart.yaml ]]; then
  build/bin/run_sweep experiments/quickstart.yaml "$@"
  build/bin/make_table results/quickstart 2>/dev/null || true
else
  build/bin/run_sweep --list
fi
