#!/usr/bin/env bash
# Runs the torch-free code's tests under AddressSanitizer + UndefinedBehaviorSanitizer:
# pbench_core, make_table and tests/core (less test_sweep_process, which drives the LibTorch
# programs), built by clang-14 in the fuzzing configuration (scripts/fuzz.sh --build-only,
# the same build folder: one sanitizer build serves both). Any report fails.
#   scripts/sanitize.sh [--build-dir DIR]   (default build-fuzz)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=build-fuzz
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) BUILD="$2"; shift 2 ;;
    -h|--help) sed -n 2,6p "$0"; exit 0 ;;
    *) echo "sanitize.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
started=$(date +%s)
bash scripts/fuzz.sh --build-only --build-dir "$BUILD"
# halt_on_error: the first report fails its test; detect_leaks: LeakSanitizer at exit.
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
(cd "$BUILD" && ctest --output-on-failure -j 1)
echo "[sanitize] clean: every torch-free test passed under ASan + UBSan ($(( $(date +%s) - started )) s in all)"
