#!/usr/bin/env bash
# Copies the mini world's trained weights from a `pbench pretrain` output folder into the shipped
# assets (framework/assets/), with the run files that say how they were made:
#   bash scripts/ship_mini.sh [OUT]        (default results/pretrain, as scripts/pretrain_mini.sh)
# Only components whose run file exists are copied; each is named as it goes.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
OUT="${1:-results/pretrain}"
ASSETS=framework/assets
ship() {  # component, then source:destination pairs relative to OUT and ASSETS
  local component=$1
  shift
  if [[ ! -f "$OUT/runs/$component.h5" ]]; then
    echo "[ship_mini] $component: no run file in $OUT/runs, skipped"
    return
  fi
  for pair in "$@"; do
    mkdir -p "$(dirname "$ASSETS/${pair#*:}")"
    cp "$OUT/${pair%%:*}" "$ASSETS/${pair#*:}"
  done
  mkdir -p "$ASSETS/mini_recipe/runs"
  cp "$OUT/runs/$component.h5" "$ASSETS/mini_recipe/runs/$component.h5"
  echo "[ship_mini] $component: shipped"
}
ship vae builtin_mini/vae/config.json:builtin_mini/vae/config.json \
  builtin_mini/vae/diffusion_pytorch_model.safetensors:builtin_mini/vae/diffusion_pytorch_model.safetensors
ship clip builtin_mini/text_encoder/model.safetensors:builtin_mini/text_encoder/model.safetensors \
  builtin_mini/image_encoder/model.safetensors:builtin_mini/image_encoder/model.safetensors
ship metric-clip builtin_mini_clip/model.safetensors:builtin_mini_clip/model.safetensors
ship dino builtin_mini_dino/model.safetensors:builtin_mini_dino/model.safetensors
ship unet builtin_mini/unet/diffusion_pytorch_model.safetensors:builtin_mini/unet/diffusion_pytorch_model.safetensors \
  runs/unet_samples.png:mini_recipe/runs/unet_samples.png
du -sh "$ASSETS"/builtin_mini* "$ASSETS/mini_recipe" | sed 's/^/[ship_mini] /'
