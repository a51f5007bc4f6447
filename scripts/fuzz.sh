#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/fuzz_*.cpp: safetensors, config, tokenizer, image)
# with clang-14 + ASan + UBSan into build-fuzz/ and runs each for --seconds S (default 60),
# from a seed corpus made of the project's fixtures (tests/fuzz/make_seeds.py) after replaying
# tests/fuzz/regressions/<target>/. Prints executions and coverage per target; a crash, leak or
# sanitizer report fails (the input lands in <build>/fuzz-artifacts/: keep it in
# tests/fuzz/regressions/<target>/ with the fix). scripts/sanitize.sh runs the torch-free
# tests in the same build. --seed N (default 1) fixes libFuzzer's mutation stream, so a CI run
# (fresh corpus, same seed) takes the inputs a local run took: a failure reproduces, and a pass
# here for at least CI's executions predicts CI's. --seed 0 draws a new stream (long runs).
#   scripts/fuzz.sh [--build-dir D] [--build-only] [--seconds S] [--runs N] [--seed N] [TARGET...]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
BUILD=build-fuzz
BUILD_ONLY=0
SECONDS_EACH=60
RUNS=-1
SEED=1
TARGETS=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build-dir) BUILD="$2"; shift 2 ;;
    --build-only) BUILD_ONLY=1; shift ;;
    --seconds) SECONDS_EACH="$2"; shift 2 ;;
    --runs) RUNS="$2"; shift 2 ;;
    --seed) SEED="$2"; shift 2 ;;
    -h|--help) sed -n 2,11p "$0"; exit 0 ;;
    -*) echo "fuzz.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    *) TARGETS+=("$1"); shift ;;
  esac
done
[[ ${#TARGETS[@]} -eq 0 ]] && TARGETS=(safetensors config tokenizer image)
command -v clang++-14 >/dev/null || bash scripts/install_packages.sh clang-14
started=$(date +%s)
GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
cmake -S . -B "$BUILD" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPBENCH_FUZZ=ON \
  -DCMAKE_C_COMPILER=clang-14 -DCMAKE_CXX_COMPILER=clang++-14 >/dev/null
cmake --build "$BUILD" -j "$(nproc)"
echo "[fuzz] built in $(( $(date +%s) - started )) s"
[[ $BUILD_ONLY == 1 ]] && exit 0
export ASAN_OPTIONS=halt_on_error=1:detect_leaks=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
SEEDS="$BUILD/fuzz-seeds"
rm -rf "$SEEDS"
/usr/bin/python3 tests/fuzz/make_seeds.py "$SEEDS"
mkdir -p "$BUILD/fuzz-artifacts"
status=0
for t in "${TARGETS[@]}"; do
  exe="$BUILD/bin/fuzz_$t"
  if compgen -G "tests/fuzz/regressions/$t/*" >/dev/null; then  # every past crash input must pass
    "$exe" tests/fuzz/regressions/"$t"/* >/dev/null 2>&1 || { echo "[fuzz] $t: a regression input fails again"; status=1; }
  fi
  corpus="$BUILD/fuzz-corpus/$t"
  mkdir -p "$corpus"
  log="$BUILD/fuzz-$t.log"
  max_len=4096
  [[ $t == image ]] && max_len=16384
  set +e
  "$exe" "$corpus" "$SEEDS/$t" -max_total_time="$SECONDS_EACH" -runs="$RUNS" -seed="$SEED" -max_len="$max_len" \
    -rss_limit_mb=2048 -timeout=10 -print_final_stats=1 -artifact_prefix="$BUILD/fuzz-artifacts/$t-" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | awk '{print $2}' | tail -1)
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  ft=$(grep -o 'ft: [0-9]*' "$log" | tail -1 | awk '{print $2}')
  if [[ $rc -ne 0 ]]; then
    echo "[fuzz] $t: FAILED (exit $rc) after ${execs:-?} executions; see $log and $BUILD/fuzz-artifacts/"
    grep -m 5 -E 'ERROR|SUMMARY|runtime error' "$log" || true
    status=1
  else
    echo "[fuzz] $t: ${execs:-?} executions in ${SECONDS_EACH} s, coverage ${cov:-?} edges, ${ft:-?} features, no crash"
  fi
done
echo "[fuzz] done in $(( $(date +%s) - started )) s"
exit $status
