#!/usr/bin/env bash
# Install what is missing, build, and run every test (CTest). .ci/run calls this.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
# Test-only packages: a real Slurm controller and node for tests/python/test_slurm_cluster.py
# (it starts and stops its own daemons; nothing is left running).
bash scripts/install_packages.sh slurm-wlm munge ||
  echo "[test] could not install slurm-wlm munge: the Slurm cluster test will be skipped" >&2
cd build
ctest --output-on-failure -j 1 "$@"
