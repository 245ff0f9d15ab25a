#!/usr/bin/env bash
# GPU validation and MART-vs-PyTorch training benchmark, in one command for one device call:
#   env     GPU, driver, nvcc, torch and the cuDNN/CUDA wheels found (bench/gpu/find_cuda_libs.sh)
#   build   cmake --preset cuda; only when no carried binaries are here, or FORCE_BUILD=1
#   libs    the library path for MART's binaries; `ldd` on them, failing fast on "not found"
#   test    the GPU tests (mart_test_gpu: every op vs the CPU reference, device tests)
#   mart    `mart train` on GPT-2 124M/350M/1.5B and Llama-1B at seq 1024 -> summary.json
#   torch   bench/gpu/torch_peer.py on the same models, eager then torch.compile
#   report  bench/gpu/report.py: tokens/s, MFU (989 and 790 TFLOP/s), peak memory, ratios
# and last a table of every stage: status, seconds, log.
#
# Usage (repository root or anywhere):   bench/gpu/run_all.sh
#   DRY_RUN=1 bench/gpu/run_all.sh   runs env and libs for real (library discovery, ldd) and
#                                    prints what the other stages would run, with their limits.
# Device machines cannot install packages: build here with bench/gpu/prepare_carry.sh and carry
# its outputs (that script lists them); the build stage then uses them as they are.
#
# Library paths. MART's binaries (mart, mart_test_gpu, libmart_cuda.so when the backend is a
# loadable library) run with LD_LIBRARY_PATH = [folder of libmart_cuda.so] + the cuDNN / CUDA 13
# folders found in the image's nvidia wheels and toolkit + build-cuda/carry-lib (the build
# machine's non-system libraries, libstdc++/libgcc_s/libgomp among them). python3/torch runs
# with the environment as it came: the carried C++ runtime never shadows the image's there.
# MART_CUDA_LIBRARY names libmart_cuda.so for the mart binaries when it exists.
#
# Outputs go under $OUT (default ./out): report.md, results.json, logs.tar.gz (every log, run
# directory and summary). The work folder $OUT/work is removed after packing unless KEEP_WORK=1,
# so that only those three files come back from the device machine.
#
# Time: a device call may run 10 minutes; the stages share BUDGET_S (default 560 s) and each has
# its own limit as well, so one that hangs costs only its limit and the rest still run:
#   BUILD_TIMEOUT_S=240  TEST_TIMEOUT_S=150  RUN_TIMEOUT_S=150 (each training run)
# A stage that no longer fits is skipped and named in the report (torch compile runs go last).
# Knobs (environment):
#   STAGES="build test mart torch"   MODELS="gpt2-124m gpt2-350m gpt2-1.5b llama-1b"
#   TORCH_MODES="eager compile"      STEPS=30  SEQ=1024  JOBS=$(nproc)
#   MB_gpt2_124m=16 (etc.: micro batch per model)   MART_EXTRA="--set memory.mode=resident"
#   NVIDIA_ROOTS=/a/nvidia:/b/nvidia (the nvidia wheel folders, instead of asking python3)
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
BUDGET_S=${BUDGET_S:-560}
STAGES=${STAGES:-"build test mart torch"}
MODELS=${MODELS:-"gpt2-124m gpt2-350m gpt2-1.5b llama-1b"}
TORCH_MODES=${TORCH_MODES:-"eager compile"}
STEPS=${STEPS:-30}
SEQ=${SEQ:-1024}
JOBS=${JOBS:-$(nproc)}
BUILD_TIMEOUT_S=${BUILD_TIMEOUT_S:-240}
TEST_TIMEOUT_S=${TEST_TIMEOUT_S:-150}
RUN_TIMEOUT_S=${RUN_TIMEOUT_S:-150}
MART_EXTRA=${MART_EXTRA:-}
DRY_RUN=${DRY_RUN:-0}
BUILD_DIR=${BUILD_DIR:-$ROOT/build-cuda}
MART_BIN=$BUILD_DIR/mart
TEST_BIN=$BUILD_DIR/tests/mart_test_gpu
NOTES=$WORK/notes.txt
STAGE_TSV=$WORK/stages.tsv
: >"$NOTES"
: >"$STAGE_TSV"

# shellcheck source=bench/gpu/find_cuda_libs.sh
source "$ROOT/bench/gpu/find_cuda_libs.sh"

# Micro batch per model (H100 80 GB, seq 1024); override with MB_<model> (dashes, dots -> _).
declare -A MB=([gpt2-124m]=16 [gpt2-350m]=16 [gpt2-1.5b]=8 [llama-1b]=8)
batch_of() {
  local var="MB_${1//[-.]/_}"
  echo "${!var:-${MB[$1]:-8}}"
}

left() { echo $((BUDGET_S - ($(date +%s) - START))); }
note() { echo "$*" | tee -a "$NOTES"; }
has_stage() { [[ " $STAGES " == *" $1 "* ]]; }
# record NAME STATUS SECONDS LOG: one row of the final stage table.
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:--}" >>"$STAGE_TSV"; }
status_of() {  # exit code -> word
  case $1 in
    0) echo ok ;;
    124 | 137) echo TIMEOUT ;;
    *) echo "FAILED($1)" ;;
  esac
}

# What MART's binaries run with (never python3/torch: see the header): a command prefix, set by
# the libs stage, usable under `timeout`.
MART_LD=""
MART_CUDA_LIB=""
MART_ENV=(env)

# run_stage NAME LOG LIMIT CMD...: runs CMD under `timeout` with the smaller of LIMIT and what is
# left of the budget (15 s kept for packing), records it, and notes a failure with the log's tail.
run_stage() {
  local name=$1 log=$2 limit=$3
  shift 3
  local t
  t=$(($(left) - 15))
  ((t > limit)) && t=$limit
  if ((t < 20)); then
    note "SKIPPED $name: out of time budget"
    record "$name" skipped 0
    return 125
  fi
  if [[ $DRY_RUN == 1 ]]; then
    echo "== DRY $name (limit ${t}s): $*"
    record "$name" dry 0 "logs/$(basename "$log")"
    return 0
  fi
  echo "== $name (limit ${t}s)"
  local t0 rc
  t0=$(date +%s)
  timeout --kill-after=10 "$t" "$@" >"$log" 2>&1
  rc=$?
  record "$name" "$(status_of $rc)" $(($(date +%s) - t0)) "logs/$(basename "$log")"
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
  timeout 30 python3 "$ROOT/bench/gpu/report.py" --runs "$RUNS" --models "$MODELS" --seq "$SEQ" \
    --batches "$batches" --out-md "$OUT/report.md" --out-json "$OUT/results.json" \
    >"$LOGS/report.log" 2>&1 || echo "report.py failed: $(tail -n 2 "$LOGS/report.log")"
  {
    if [[ -s $NOTES ]]; then
      echo
      echo "Notes:"
      sed 's/^/- /' "$NOTES"
    fi
    echo
    echo "| stage | status | seconds | log |"
    echo "|---|---|---|---|"
    awk -F'\t' '{printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4}' "$STAGE_TSV"
    echo
    echo "elapsed $(($(date +%s) - START)) s of a ${BUDGET_S} s budget"
  } >"$WORK/summary.md"
  cat "$WORK/summary.md" >>"$OUT/report.md"
  tar -czf "$OUT/logs.tar.gz" -C "$WORK" . 2>/dev/null
  # Printed last, stage table at the very end: the device call's reply shows only the output's end.
  echo
  cat "$OUT/report.md"
  [[ ${KEEP_WORK:-0} == 1 ]] || rm -rf "$WORK"
}
trap pack EXIT

# ---- env
{
  echo "host $(hostname) at $(date -u +%FT%TZ)"
  timeout 20 nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm \
    --format=csv 2>&1
  timeout 10 nvcc --version 2>&1 | tail -n 1
  timeout 60 python3 -c 'import torch; print("torch", torch.__version__, torch.version.cuda)' 2>&1
  timeout 10 cmake --version 2>&1 | head -n 1
} | tee "$LOGS/environment.txt"
record env ok 0 logs/environment.txt

# ---- build
prebuilt() { [[ -x $MART_BIN && -x $TEST_BIN ]]; }
if has_stage build; then
  if prebuilt && [[ ${FORCE_BUILD:-0} != 1 ]]; then
    note "build skipped: using the carried binaries in ${BUILD_DIR#"$ROOT"/} (FORCE_BUILD=1 rebuilds)"
    record build carried 0
  elif ! run_stage build "$LOGS/build.log" "$BUILD_TIMEOUT_S" \
    bash -c "cmake --preset cuda && cmake --build --preset cuda -j $JOBS" &&
    [[ $DRY_RUN != 1 ]]; then
    note "build errors: $(grep -m 5 -E 'error|Error' "$LOGS/build.log" | tr '\n' ' ' | cut -c1-800)"
    if ! prebuilt; then
      note "no MART binaries to run: stopping (carry them: bench/gpu/prepare_carry.sh)"
      exit 1
    fi
  fi
fi

# ---- libs: the library path of MART's binaries, checked with ldd before anything runs.
t0=$(date +%s)
roots=()
[[ -n ${NVIDIA_ROOTS:-} ]] && IFS=: read -r -a roots <<<"$NVIDIA_ROOTS"
cuda_dirs=$(find_cuda_libs "${roots[@]}" 2>"$LOGS/find_cuda_libs.err")
find_rc=$?
ld_parts=()
shopt -s nullglob
cuda_so=("$BUILD_DIR"/libmart_cuda.so*)
shopt -u nullglob
if ((${#cuda_so[@]})); then
  ld_parts+=("$BUILD_DIR")
  MART_CUDA_LIB=$BUILD_DIR/libmart_cuda.so
  [[ -e $MART_CUDA_LIB ]] || MART_CUDA_LIB=${cuda_so[0]}
fi
while read -r d; do [[ -n $d ]] && ld_parts+=("$d"); done <<<"$cuda_dirs"
[[ -d $BUILD_DIR/carry-lib ]] && ld_parts+=("$BUILD_DIR/carry-lib")
[[ -n ${LD_LIBRARY_PATH:-} ]] && ld_parts+=("$LD_LIBRARY_PATH")
MART_LD=$(IFS=:; echo "${ld_parts[*]}")
MART_ENV=(env "LD_LIBRARY_PATH=$MART_LD")
[[ -n $MART_CUDA_LIB ]] && MART_ENV+=("MART_CUDA_LIBRARY=$MART_CUDA_LIB")
{
  echo "nvidia wheel folders: ${roots[*]:-$(nvidia_roots | tr '\n' ' ')}"
  echo "CUDA/cuDNN library folders:"
  echo "${cuda_dirs:-  (none)}"
  cat "$LOGS/find_cuda_libs.err"
  echo "LD_LIBRARY_PATH for MART's binaries: $MART_LD"
  echo "MART_CUDA_LIBRARY: ${MART_CUDA_LIB:-(none: the backend is linked into the binaries)}"
} | tee "$LOGS/libs.txt"
((find_rc == 0)) || note "libraries missing from the wheels/toolkit: $(cat "$LOGS/find_cuda_libs.err")"
bins=()
for b in "$MART_BIN" "$TEST_BIN" "${cuda_so[@]}"; do [[ -e $b ]] && bins+=("$b"); done
if ((${#bins[@]} == 0)); then
  note "no MART binaries in ${BUILD_DIR#"$ROOT"/} to check with ldd"
  record libs "$([[ $DRY_RUN == 1 ]] && echo dry || echo FAILED)" $(($(date +%s) - t0)) logs/libs.txt
  [[ $DRY_RUN == 1 ]] || exit 1
else
  "${MART_ENV[@]}" timeout 30 ldd "${bins[@]}" >"$LOGS/ldd.txt" 2>&1
  if grep -q "not found" "$LOGS/ldd.txt"; then
    missing=$(grep "not found" "$LOGS/ldd.txt" | awk '{print $1}' | sort -u | tr '\n' ' ')
    note "ldd: not found: $missing-- the binaries cannot start. Carry them (prepare_carry.sh puts" \
      "non-system libraries in build-cuda/carry-lib) or check the wheel folders in logs/libs.txt"
    record libs FAILED $(($(date +%s) - t0)) logs/ldd.txt
    [[ $DRY_RUN == 1 ]] || exit 1
  else
    record libs ok $(($(date +%s) - t0)) logs/ldd.txt
  fi
fi

# ---- test
if has_stage test; then
  # Keep 200 s for the benchmarks. CTest's files name the build machine's paths when the
  # binaries were built elsewhere, so run the gtest binary directly.
  t=$(($(left) - 200))
  ((t > TEST_TIMEOUT_S)) && t=$TEST_TIMEOUT_S
  run_stage "GPU tests" "$LOGS/gpu_tests.log" "$t" \
    "${MART_ENV[@]}" "$TEST_BIN" --gtest_color=no --gtest_brief=1
  [[ -f $LOGS/gpu_tests.log ]] &&
    grep -E "^\[  (PASSED|FAILED|SKIPPED) |^\[  FAILED  \]|tests ran" "$LOGS/gpu_tests.log" | head -n 30
fi

# ---- mart and torch eager per model (small first), then torch.compile as time allows.
for m in $MODELS; do
  b=$(batch_of "$m")
  if has_stage mart; then
    # shellcheck disable=SC2086
    run_stage "mart $m b=$b" "$LOGS/mart_$m.log" "$RUN_TIMEOUT_S" \
      "${MART_ENV[@]}" "$MART_BIN" train "configs/jobs/$m.yaml" --set backend=cuda \
      --set "train.steps=$STEPS" --set "train.seq_len=$SEQ" --set "train.micro_batch=$b" \
      --run-dir "$RUNS/mart_$m" --overwrite $MART_EXTRA
    [[ $DRY_RUN == 1 || -f $RUNS/mart_$m/summary.json ]] || note "no summary.json for mart $m"
    # cuDNN's version, and attention on MART's fallback kernels instead of cuDNN (slow): say so.
    grep -m 4 "MART: cuDNN" "$LOGS/mart_$m.log" 2>/dev/null | while read -r l; do
      note "mart $m: $l"
    done
  fi
  if has_stage torch && [[ " $TORCH_MODES " == *" eager "* ]]; then
    run_stage "torch eager $m b=$b" "$LOGS/torch_${m}_eager.log" "$RUN_TIMEOUT_S" \
      env PYTHONUNBUFFERED=1 python3 "$ROOT/bench/gpu/torch_peer.py" --model "$m" --batch "$b" \
      --seq "$SEQ" --steps "$STEPS" --mode eager --json "$RUNS/torch_${m}_eager.json"
  fi
done
if has_stage torch && [[ " $TORCH_MODES " == *" compile "* ]]; then
  for m in $MODELS; do
    b=$(batch_of "$m")
    run_stage "torch compile $m b=$b" "$LOGS/torch_${m}_compile.log" "$RUN_TIMEOUT_S" \
      env PYTHONUNBUFFERED=1 python3 "$ROOT/bench/gpu/torch_peer.py" --model "$m" --batch "$b" \
      --seq "$SEQ" --steps "$STEPS" --mode compile --json "$RUNS/torch_${m}_compile.json"
  done
fi
exit 0
