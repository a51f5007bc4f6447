#!/usr/bin/env bash
# Does a second clone in another folder build from the cache? (issue 35)
# Clones HEAD into a temporary folder, configures and builds it as the README's
# commands do, and prints the wall time and ccache's hits and misses for that
# build alone. Run it after building the work tree: every unit should hit
# (CMakeLists.txt sets CCACHE_BASEDIR to the clone, so paths hash relative).
#   bash scripts/ccache_check.sh [--keep] [--jobs N]
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
keep=0
jobs=$(nproc)
while [[ $# -gt 0 ]]; do
  case "$1" in
    --keep) keep=1 ;;
    --jobs) jobs="$2"; shift ;;
    -h|--help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "ccache_check: unknown argument '$1' (try --help)" >&2; exit 2 ;;
  esac
  shift
done
command -v ccache >/dev/null || { echo "ccache_check: ccache is not installed (scripts/setup.sh installs it)" >&2; exit 2; }

clone=$(mktemp -d "${TMPDIR:-/tmp}/pbench-ccache-check.XXXXXX")
[[ $keep == 1 ]] || trap 'rm -rf "$clone"' EXIT
git clone -q . "$clone"
# "direct hits, preprocessed hits, misses" so far (ccache's cumulative counters).
counts() {
  ccache --print-stats | awk '$1 == "direct_cache_hit" { d = $2 } $1 == "preprocessed_cache_hit" { p = $2 }
                              $1 == "cache_miss" { m = $2 } END { print d, p, m }'
}

generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$clone" -B "$clone/build" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release >/dev/null
read -r d0 p0 m0 <<<"$(counts)"
start=$(date +%s)
cmake --build "$clone/build" -j "$jobs" >/dev/null
seconds=$(( $(date +%s) - start ))
read -r d1 p1 m1 <<<"$(counts)"
hits=$(( d1 - d0 + p1 - p0 )); misses=$(( m1 - m0 ))
total=$(( hits + misses ))
echo "ccache_check: clone of $(git rev-parse --short HEAD) in $clone built in $(( seconds / 60 )) min $(( seconds % 60 )) s" \
     "with $jobs jobs: $hits of $total compilations from the cache ($(( d1 - d0 )) direct, $(( p1 - p0 )) preprocessed), $misses compiled"
[[ $keep == 1 ]] && echo "ccache_check: kept $clone"
exit 0
