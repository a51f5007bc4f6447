#!/usr/bin/env bash
# Makes the mini world's step-1 models (issue 34) in one go, resumably:
#   bash scripts/pretrain_mini.sh [OUT] [extra pbench pretrain options...]
# Runs vae, clip, metric-clip and dino in order at 2 threads, each with a 14-minute budget
# (--minutes: it stops, writes the weights reached and says "partial"), resuming any checkpoint
# in OUT. Rerun it after an interruption. Then ship the results: bash scripts/ship_mini.sh OUT.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${1:-results/pretrain}"
shift || true
export GOMP_SPINCOUNT=10000 OPENBLAS_THREAD_TIMEOUT=4   # TRAPS.md: two thread pools at 2 threads
for component in vae clip metric-clip dino; do
  if [[ -f "$OUT/runs/$component.h5" ]] && /usr/bin/python3 -c "import h5py,sys; sys.exit(0 if h5py.File(sys.argv[1],'r').attrs['status']=='complete' else 1)" "$OUT/runs/$component.h5"; then
    echo "[pretrain_mini] $component: complete in $OUT/runs/$component.h5, skipped"
    continue
  fi
  echo "[pretrain_mini] $component: start $(date -u +%H:%M:%S)"
  build/bin/pbench pretrain "$component" --out "$OUT" --threads 2 --minutes 14 --resume "$@"
  echo "[pretrain_mini] $component: end $(date -u +%H:%M:%S)"
done
