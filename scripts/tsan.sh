#!/usr/bin/env bash
# ThreadSanitizer run of the tests whose copies race with compute: the chunk pipeline
# (tests/runtime_chunks: copy-stream workers, CPU Adam pool, grad offload and prefetch), the
# activation swap lanes (tests/runtime_acts: swap and compress_swap copies) and the step trace
# (tests/runtime_trace: CPU Adam times reported from the pool's workers). Configures and builds
# the "tsan" preset (build-tsan/), or the build directory in MART_TSAN_BUILD_DIR, then runs the
# test binaries; exits non-zero (66) when TSan reported anything, after reporting every race.
# Kernel threads are off (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS = 1): libgomp and OpenBLAS are
# not instrumented and would report false races; the races that matter are between MART's own
# threads. Usage: scripts/tsan.sh [gtest arguments, e.g. --gtest_filter=*Overlap*]
set -euo pipefail
cd "$(dirname "$0")/.."
build="${MART_TSAN_BUILD_DIR:-build-tsan}"
if [ "$build" = build-tsan ]; then
  cmake --preset tsan >/dev/null
else
  cmake -S . -B "$build" -G Ninja -DMART_CUDA=OFF -DMART_SANITIZE=thread \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" --target mart_test_runtime_chunks mart_test_runtime_acts mart_test_runtime_trace \
  -j "${MART_JOBS:-$(nproc)}"
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1
export TSAN_OPTIONS="halt_on_error=0 second_deadlock_stack=1 ${TSAN_OPTIONS:-}"
rc=0
"$build/tests/mart_test_runtime_chunks" "$@" || rc=$?
"$build/tests/mart_test_runtime_acts" "$@" || rc=$?
"$build/tests/mart_test_runtime_trace" "$@" || rc=$?
exit "$rc"
