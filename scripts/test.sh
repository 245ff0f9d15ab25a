#!/usr/bin/env bash
# All tests: build (preset default, or the one given), then every CTest test: C++ unit and
# integration tests, the PyTorch-twin parity tests, and GPU tests (which skip, saying why, when
# no GPU is present); then the reliability stages (scripts/test-reliability.sh: the fuzz targets
# for a fixed number of executions, the ASan + UBSan subset, the TSan chunk-pipeline and
# swap-lane tests). Usage: scripts/test.sh [PRESET]
# MART_RELIABILITY=0 runs the main suite alone.
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-default}"
./scripts/build.sh "$preset"
rc=0
ctest --preset "$preset" -j "$(nproc)" || rc=$?
if [ "${MART_RELIABILITY:-1}" != 0 ]; then
  ./scripts/test-reliability.sh || rc=1
fi
exit "$rc"
