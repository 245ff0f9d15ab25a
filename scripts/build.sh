#!/usr/bin/env bash
# Installs dependencies, configures (preset "default": CUDA backend too when nvcc is found) and
# builds everything. Usage: scripts/build.sh [PRESET]
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-default}"
./scripts/install-deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset" -j "$(nproc)"
