#!/usr/bin/env bash
# The reliability stages of the test command (scripts/test.sh runs them after the main suite):
#   1. fuzz  -- scripts/fuzz.sh: every libFuzzer target for a fixed number of executions
#               (preset fuzz, build-fuzz: clang-14, ASan + UBSan);
#   2. asan  -- a stated subset of the GoogleTest suite under ASan + UBSan (ASAN_TESTS below),
#               built in build-fuzz, whose libraries the fuzz stage has already compiled with
#               clang-14 -fsanitize=address,undefined: a separate g++ asan build of the same subset
#               took 1190 s of CPU to build and run, this about 230 s. `./scripts/test.sh asan`
#               runs the whole suite under g++'s ASan + UBSan (preset asan).
#   3. tsan  -- scripts/tsan.sh (preset tsan, build-tsan): the chunk pipeline and the activation
#               swap lanes (TSAN_FILTER below).
# Each stage prints its wall time. Any failure fails the script, after every stage has run.
# Usage: scripts/test-reliability.sh [fuzz] [asan] [tsan]   (default: all three)
set -euo pipefail
cd "$(dirname "$0")/.."
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(fuzz asan tsan)
jobs="${MART_JOBS:-$(nproc)}"

# ASan + UBSan subset: the readers of untrusted input (config, io, runtime_data: shards and the
# data loader, runtime_checkpoint: manifest, trainer state, weight checks, walk-back; planner:
# hardware and profile schemas) and the host memory code (memory_host: pinned allocator and
# pools, memory_adam: CPU Adam pool). The fuzz replays need no entry: the
# fuzz stage runs every corpus and regression input under ASan + UBSan before it mutates them.
ASAN_TESTS=(mart_test_config mart_test_io mart_test_runtime_data mart_test_runtime_checkpoint
            mart_test_planner mart_test_memory_host mart_test_memory_adam)
# TSan: the tests whose threads race with compute -- the chunk pipeline (copy-stream workers, CPU
# Adam pool, gradient offload and prefetch) and the swap lanes (swap and compress_swap copies).
# Every runtime_chunks test that runs the pipeline, and the runtime_acts tests of the swap lanes
# (not the compress-only or accounting tests: no copy threads there).
TSAN_FILTER='*Chunk*:*TrainerOffload*:*SwapOverlap*:*SwapParity*:*CompressSwapFamily*'

failed=()
run_stage() {
  local name=$1 start rc=0
  shift
  start=$(date +%s)
  echo "== reliability stage: $name"
  "$@" || rc=$?
  echo "== reliability stage: $name: $([ $rc -eq 0 ] && echo passed || echo "FAILED ($rc)")" \
       "in $(( $(date +%s) - start )) s"
  [ $rc -eq 0 ] || failed+=("$name")
}

asan_stage() {
  local t rc=0
  cmake --preset fuzz >/dev/null
  cmake --build build-fuzz -j "$jobs" --target "${ASAN_TESTS[@]}"
  export ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" OMP_NUM_THREADS=2
  export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
  for t in "${ASAN_TESTS[@]}"; do
    (cd build-fuzz/tests && "./$t" --gtest_brief=1) || { echo "asan: $t failed" >&2; rc=1; }
  done
  return $rc
}

for s in "${stages[@]}"; do
  case "$s" in
    fuzz) run_stage fuzz ./scripts/fuzz.sh ;;
    asan) run_stage asan asan_stage ;;
    tsan) run_stage tsan env MART_JOBS="$jobs" ./scripts/tsan.sh --gtest_filter="$TSAN_FILTER" ;;
    *) echo "test-reliability.sh: unknown stage '$s' (fuzz, asan, tsan)" >&2; exit 2 ;;
  esac
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "test-reliability.sh: failed stages: ${failed[*]}" >&2
  exit 1
fi
echo "test-reliability.sh: all stages passed (${stages[*]})"
