#!/usr/bin/env bash
# Install what is missing, build, and run every test (CTest). .ci/run calls this.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/setup.sh
cd build
ctest --output-on-failure -j 1 "$@"
