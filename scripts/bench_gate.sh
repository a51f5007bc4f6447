#!/usr/bin/env bash
# CI regression-benchmark gate (benchmarks/README.md). Runs build/bin/bench_*
# as listed in benchmarks/gate.json and compares with this machine's benchmarks/baselines/<machine>.json.
#   scripts/bench_gate.sh                  gate (exit 1 on a regression)
#   scripts/bench_gate.sh --against REF    A/B: build REF's benchmarks in a worktree (from the compiler
#                                          cache) and gate head/base measured alternately on this machine;
#                                          REF 'ci' = the last commit CI passed on (scripts/bench_base.py).
#                                          A base that does not build (in PBENCH_BASE_BUILD_MINUTES, 15)
#                                          falls back to the stored baselines.
#   scripts/bench_gate.sh --update [NAMES] record new baselines (all, or comma-separated names)
#   scripts/bench_gate.sh --only REGEX     a subset
# Debian's interpreter: only standard-library modules are used.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [[ "${1:-}" != "--against" ]]; then
  exec /usr/bin/python3 scripts/bench_gate.py "$@"
fi
if [[ $# -lt 2 ]]; then
  echo "bench_gate: error: --against needs a commit, or 'ci'" >&2
  exit 2
fi
ref="$2"
shift 2
if [[ "$ref" == ci ]]; then
  if ! ref=$(/usr/bin/python3 scripts/bench_base.py); then
    echo "[bench_gate] no base commit for CI's A/B gate (above); gating against this machine's stored baselines" >&2
    exec /usr/bin/python3 scripts/bench_gate.py "$@"
  fi
fi
if ! sha=$(git rev-parse --verify --quiet "$ref^{commit}"); then
  echo "bench_gate: error: --against $ref: not a commit of this repository" >&2
  exit 2
fi
# The base's sources in a worktree, built inside it (ccache hashes paths relative to the clone:
# CMakeLists.txt's CCACHE_BASEDIR), only the benchmark binaries its own gate.json names.
base=build/bench-base
mkdir -p "$base"
if [[ "$(git -C "$base/src" rev-parse HEAD 2>/dev/null)" != "$sha" ]] || [[ -n "$(git -C "$base/src" status --porcelain 2>/dev/null)" ]]; then
  git worktree remove --force "$base/src" >/dev/null 2>&1 || rm -rf "$base/src"
  git worktree prune
  if ! git worktree add --detach --quiet "$base/src" "$sha"; then
    echo "[bench_gate] could not check ${sha:0:12} out in $base/src; gating against this machine's stored baselines" >&2
    exec /usr/bin/python3 scripts/bench_gate.py "$@"
  fi
fi  # else the worktree of a previous run at the same commit, with its build: reused
targets=$(/usr/bin/python3 -c 'import json,sys; g=json.load(open(sys.argv[1])); print(" ".join(sorted({e["binary"] for e in g["benchmarks"] if not e.get("pending")} | {f["binary"] for f in g.get("complete_families", [])})))' "$base/src/benchmarks/gate.json")
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
# A base the compiler cache does not hold is a cold build (~15 min on 2 cores): bounded, so CI
# stays under its time; past the bound the gate falls back to the stored baselines (below).
minutes="${PBENCH_BASE_BUILD_MINUTES:-15}"
echo "[bench_gate] building the base ${sha:0:12}'s benchmarks in $base/src/build ($targets; at most $minutes min)" >&2
start=$SECONDS
# shellcheck disable=SC2086  # the target list is word-split on purpose
if { cmake -S "$base/src" -B "$base/src/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release &&
     timeout --kill-after=30 "$(( minutes * 60 ))" cmake --build "$base/src/build" -j "$(nproc)" --target $targets
   } > "$base/build.log" 2>&1; then
  echo "[bench_gate] base built in $(( SECONDS - start )) s" >&2
  exec /usr/bin/python3 scripts/bench_gate.py --base-build "$base/src/build" --base-commit "${sha:0:12}" "$@"
fi
echo "[bench_gate] the base ${sha:0:12} did not build within $minutes min (a build-system change, or not in the" \
     "compiler cache); its log: $base/build.log, last lines:" >&2
tail -n 5 "$base/build.log" >&2
echo "[bench_gate] gating against this machine's stored baselines instead" >&2
exec /usr/bin/python3 scripts/bench_gate.py "$@"
