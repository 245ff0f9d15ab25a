#!/usr/bin/env bash
# All tests: build (preset default, or the one given), then every CTest test: C++ unit and
# integration tests, the PyTorch-twin parity tests, and GPU tests (which skip, saying why, when
# no GPU is present). Usage: scripts/test.sh [PRESET]
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-default}"
./scripts/build.sh "$preset"
ctest --preset "$preset" -j "$(nproc)"
