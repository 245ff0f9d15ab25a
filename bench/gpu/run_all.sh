#!/usr/bin/env bash
# GPU validation and MART-vs-PyTorch training benchmark, in one command for one device call:
#   1. build   cmake --preset cuda && cmake --build --preset cuda
#   2. test    the GPU tests (ctest -R '[Cc]uda': every op vs the CPU reference, device tests)
#   3. mart    `mart train` on GPT-2 124M/350M/1.5B and Llama-1B at seq 1024 -> summary.json
#   4. torch   bench/gpu/torch_peer.py on the same models, eager then torch.compile
#   5. report  bench/gpu/report.py: tokens/s, MFU (989 and 790 TFLOP/s), peak memory, ratios
#
# Usage (repository root or anywhere):   bench/gpu/run_all.sh
# Device machines cannot install packages: if the build's dependencies (yaml-cpp, OpenBLAS, hwloc,
# jemalloc, GTest, CLI11, nlohmann-json) are missing there, build here with
# bench/gpu/prepare_carry.sh and carry the binaries (see that script); the build stage then falls
# back to them, and build-cuda/carry-lib joins LD_LIBRARY_PATH.
# Outputs go under $OUT (default ./out): report.md, results.json, logs.tar.gz (every log, run
# directory and summary). The work folder $OUT/work is removed after packing unless KEEP_WORK=1,
# so that only those three files come back from the device machine.
#
# A device call may run 10 minutes, so the stages share a time budget (BUDGET_S, default 570 s):
# each run gets what is left, and what does not fit is skipped and named in the report (torch
# compile runs go last). Knobs (environment):
#   STAGES="build test mart torch"   MODELS="gpt2-124m gpt2-350m gpt2-1.5b llama-1b"
#   TORCH_MODES="eager compile"      STEPS=30  SEQ=1024  JOBS=$(nproc)  BUDGET_S=570
#   MB_gpt2_124m=16 (etc.: micro batch per model)   MART_EXTRA="--set memory.mode=resident"
#   RUN_TIMEOUT_S=240 (cap per training run)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$ROOT" || exit 1
OUT=${OUT:-$ROOT/out}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
WORK=$OUT/work
LOGS=$WORK/logs
RUNS=$WORK/runs
mkdir -p "$LOGS" "$RUNS"

START=$(date +%s)
BUDGET_S=${BUDGET_S:-570}
STAGES=${STAGES:-"build test mart torch"}
MODELS=${MODELS:-"gpt2-124m gpt2-350m gpt2-1.5b llama-1b"}
TORCH_MODES=${TORCH_MODES:-"eager compile"}
STEPS=${STEPS:-30}
SEQ=${SEQ:-1024}
JOBS=${JOBS:-$(nproc)}
RUN_TIMEOUT_S=${RUN_TIMEOUT_S:-240}
MART_EXTRA=${MART_EXTRA:-}
BUILD_DIR=$ROOT/build-cuda
MART_BIN=$BUILD_DIR/mart
TEST_BIN=$BUILD_DIR/tests/mart_test_gpu
# Libraries carried from a build machine (prepare_carry.sh); cuDNN from PyTorch's wheel when the
# CUDA toolkit here has none.
[[ -d $BUILD_DIR/carry-lib ]] && export LD_LIBRARY_PATH=$BUILD_DIR/carry-lib:${LD_LIBRARY_PATH:-}
if [[ ! -e /usr/local/cuda/lib/libcudnn.so.9 && ! -e /usr/local/cuda/lib64/libcudnn.so.9 ]] &&
  ! ldconfig -p 2>/dev/null | grep -q libcudnn.so.9; then
  d=$(python3 -c 'import nvidia.cudnn, os; print(os.path.join(os.path.dirname(nvidia.cudnn.__file__), "lib"))' 2>/dev/null)
  [[ -n $d && -d $d ]] && export LD_LIBRARY_PATH=$d:${LD_LIBRARY_PATH:-}
fi
NOTES=$WORK/notes.txt
: >"$NOTES"

# Micro batch per model (H100 80 GB, seq 1024); override with MB_<model> (dashes, dots -> _).
declare -A MB=([gpt2-124m]=16 [gpt2-350m]=16 [gpt2-1.5b]=8 [llama-1b]=8)
batch_of() {
  local var="MB_${1//[-.]/_}"
  echo "${!var:-${MB[$1]:-8}}"
}

left() { echo $((BUDGET_S - ($(date +%s) - START))); }
note() { echo "$*" | tee -a "$NOTES"; }
has_stage() { [[ " $STAGES " == *" $1 "* ]]; }
# run_limited NAME LOG CMD...: runs CMD with the smaller of RUN_TIMEOUT_S and what is left.
run_limited() {
  local name=$1 log=$2
  shift 2
  local t
  t=$(left)
  t=$((t - 15))
  ((t > RUN_TIMEOUT_S)) && t=$RUN_TIMEOUT_S
  if ((t < 20)); then
    note "SKIPPED $name: out of time budget"
    return 124
  fi
  echo "== $name (limit ${t}s)"
  timeout --kill-after=10 "$t" "$@" >"$log" 2>&1
  local rc=$?
  if ((rc == 124 || rc == 137)); then
    note "TIMEOUT $name after ${t}s (log: logs/$(basename "$log"))"
  elif ((rc != 0)); then
    note "FAILED $name (exit $rc): $(tail -n 3 "$log" | tr '\n' ' ' | cut -c1-400)"
  fi
  return $rc
}

# shellcheck disable=SC2317  # invoked by the EXIT trap
pack() {
  local batches=""
  for m in $MODELS; do batches+="$m=$(batch_of "$m"),"; done
  python3 "$ROOT/bench/gpu/report.py" --runs "$RUNS" --models "$MODELS" --seq "$SEQ" \
    --batches "$batches" --out-md "$OUT/report.md" --out-json "$OUT/results.json" || true
  if [[ -s $NOTES ]]; then
    { echo; echo "Notes:"; sed 's/^/- /' "$NOTES"; } | tee -a "$OUT/report.md"
  fi
  echo "elapsed $(($(date +%s) - START)) s" | tee -a "$OUT/report.md"
  tar -czf "$OUT/logs.tar.gz" -C "$WORK" . 2>/dev/null
  [[ ${KEEP_WORK:-0} == 1 ]] || rm -rf "$WORK"
}
trap pack EXIT

{
  echo "host $(hostname) at $(date -u +%FT%TZ)"
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv 2>&1
  nvcc --version 2>&1 | tail -n 1
  python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda)' 2>&1
  cmake --version | head -n 1
} | tee "$LOGS/environment.txt"

prebuilt() { [[ -x $MART_BIN && -x $TEST_BIN ]]; }
if has_stage build; then
  echo "== configure + build ($JOBS jobs)"
  if ! cmake --preset cuda >"$LOGS/configure.log" 2>&1; then
    note "FAILED configure: $(tail -n 5 "$LOGS/configure.log" | tr '\n' ' ' | cut -c1-600)"
    prebuilt || exit 1
    note "using the carried prebuilt binaries instead"
  elif ! cmake --build --preset cuda -j "$JOBS" >"$LOGS/build.log" 2>&1; then
    note "FAILED build: $(grep -m 5 -E 'error|Error' "$LOGS/build.log" | tr '\n' ' ' | cut -c1-800)"
    prebuilt || exit 1
    note "using the carried prebuilt binaries instead"
  else
    echo "   built in $(($(date +%s) - START)) s"
  fi
fi

if has_stage test; then
  t=$(( $(left) - 200 ))  # keep time for the benchmarks
  ((t > 240)) && t=240
  if ((t < 30)); then
    note "SKIPPED GPU tests: out of time budget"
  else
    echo "== GPU tests (limit ${t}s)"
    if grep -qs "$BUILD_DIR" "$BUILD_DIR/tests/CTestTestfile.cmake"; then
      timeout "$t" ctest --test-dir "$BUILD_DIR" -R '[Cc]uda' --output-on-failure \
        --timeout "$t" >"$LOGS/ctest_cuda.log" 2>&1
    else  # binaries built elsewhere: CTest's files name that machine's paths; run gtest directly
      timeout "$t" "$TEST_BIN" --gtest_color=no >"$LOGS/ctest_cuda.log" 2>&1
    fi
    rc=$?
    grep -E "tests passed|tests failed|\(Failed\)|\(Timeout\)|Not Run|SKIPPED|PASSED|FAILED" \
      "$LOGS/ctest_cuda.log" | head -n 40
    ((rc == 0)) || note "GPU tests: exit $rc; see logs/ctest_cuda.log"
  fi
fi

# MART and torch eager per model (small first), then torch.compile as time allows.
for m in $MODELS; do
  b=$(batch_of "$m")
  if has_stage mart; then
    # shellcheck disable=SC2086
    run_limited "mart $m b=$b" "$LOGS/mart_$m.log" \
      "$MART_BIN" train "configs/jobs/$m.yaml" --set backend=cuda --set "train.steps=$STEPS" \
      --set "train.seq_len=$SEQ" --set "train.micro_batch=$b" --run-dir "$RUNS/mart_$m" $MART_EXTRA
    [[ -f $RUNS/mart_$m/summary.json ]] || note "no summary.json for mart $m"
    # Attention on MART's fallback kernels instead of cuDNN costs a lot: say so in the report.
    grep -m 2 "cuDNN attention" "$LOGS/mart_$m.log" 2>/dev/null | while read -r l; do
      note "mart $m: $l"
    done
  fi
  if has_stage torch && [[ " $TORCH_MODES " == *" eager "* ]]; then
    run_limited "torch eager $m b=$b" "$LOGS/torch_${m}_eager.log" \
      env PYTHONUNBUFFERED=1 python3 "$ROOT/bench/gpu/torch_peer.py" --model "$m" --batch "$b" \
      --seq "$SEQ" --steps "$STEPS" --mode eager --json "$RUNS/torch_${m}_eager.json"
  fi
done
if has_stage torch && [[ " $TORCH_MODES " == *" compile "* ]]; then
  for m in $MODELS; do
    b=$(batch_of "$m")
    run_limited "torch compile $m b=$b" "$LOGS/torch_${m}_compile.log" \
      env PYTHONUNBUFFERED=1 python3 "$ROOT/bench/gpu/torch_peer.py" --model "$m" --batch "$b" \
      --seq "$SEQ" --steps "$STEPS" --mode compile --json "$RUNS/torch_${m}_compile.json"
  done
fi
exit 0
