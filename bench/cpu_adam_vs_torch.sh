#!/usr/bin/env bash
# MART's CPU Adam vs PyTorch's CPU AdamW, and vs the memory bandwidth a triad measures.
# Builds bench_cpu_adam, runs it, runs bench/torch_adamw_cpu.py with the same sizes, thread counts
# and repetitions, and prints a side-by-side table with the ratios MART/torch-best and MART/triad.
#
#   bench/cpu_adam_vs_torch.sh                 # build dir build-adam, sizes 16M,64M, 1..nproc thr
#   BUILD_DIR=build SIZES=64M REPS=15 bench/cpu_adam_vs_torch.sh
#
# The numbers are only meaningful on an otherwise idle machine: the load average is printed
# before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-adam}
SIZES=${SIZES:-16M,64M}
REPS=${REPS:-9}
WARMUP=${WARMUP:-2}
THREADS=${THREADS:-$(seq -s, 1 "$(nproc)")}

if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DMART_CUDA=OFF
fi
cmake --build "$BUILD_DIR" --target bench_cpu_adam -j"$(nproc)"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; $(date -u +%F)"
echo "load before: $(uptime)"
"$BUILD_DIR/bench/bench_cpu_adam" --sizes "$SIZES" --threads "$THREADS" --reps "$REPS" \
  --warmup "$WARMUP" --json "$out/mart.json"
/usr/bin/python3 bench/torch_adamw_cpu.py --sizes "$SIZES" --threads "$THREADS" --reps "$REPS" \
  --warmup "$WARMUP" --mart-json "$out/mart.json"
echo "load after: $(uptime)"
