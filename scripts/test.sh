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
# As many tests at a time as cores: measured on 2 cores, the suite takes 5 m 35 s at -j2. Making
# the two LibTorch-heavy tests run alone (PROCESSORS 2) cut their own time 3x but the suite's
# rose to 6 m 4 s, so they share (docs/testing.md, "Build and test times").
ctest --output-on-failure -j "$(nproc)" "$@"
