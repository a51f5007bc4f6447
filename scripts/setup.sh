#!/usr/bin/env bash
# Installs what is missing (Debian 12 packages only) and builds pbench into build/.
# Sourced by scripts/quickstart.sh and scripts/test.sh; safe to run again.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PACKAGES=(
  g++ cmake ninja-build git ccache pkg-config
  libtorch-dev libopenblas0-pthread          # LibTorch 1.13 (CPU) on OpenBLAS, not the reference BLAS
  libyaml-cpp-dev libhdf5-dev nlohmann-json3-dev libcli11-dev libicu-dev libstb-dev libjpeg62-turbo-dev libpng-dev zlib1g-dev
  libboost-test-dev libbenchmark-dev libtbb-dev
  python3 python3-h5py python3-numpy python3-yaml   # tests read run files with Debian's h5py
)

bash scripts/install_packages.sh "${PACKAGES[@]}"

GENERATOR=()
command -v ninja >/dev/null && GENERATOR=(-G Ninja)
if [[ -f build/CMakeCache.txt ]] && ! grep -q "CMAKE_GENERATOR:INTERNAL=${GENERATOR[1]:-Unix Makefiles}" build/CMakeCache.txt; then
  rm -rf build   # generator changed since the last configure
fi
echo "[setup] configuring and building (build/)"
cmake -S . -B build "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"
