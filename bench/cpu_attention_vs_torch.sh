#!/usr/bin/env bash
# MART's CPU attention (kernels/cpu/attention.cpp) vs PyTorch's CPU scaled-dot-product attention,
# forward and forward + backward, fp32. Builds bench_cpu_attention, runs it, runs
# bench/torch_attention_cpu.py with the same shapes, thread counts and repetitions, and prints a
# side-by-side table with the ratios torch / MART (time; > 1 means MART is faster).
#
#   bench/cpu_attention_vs_torch.sh                 # build dir build-attn; the default job's shape
#                                                   # and a long one; 1..nproc threads
#   BUILD_DIR=build SHAPES=2x4096x8x4x64 THREADS=2 REPS=9 bench/cpu_attention_vs_torch.sh
#
# A shape is BxTxNHxNKVxHS. The numbers are only meaningful on an otherwise idle machine: the load
# average is printed before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-attn}
SHAPES=${SHAPES:-8x64x8x4x32,2x1024x8x4x32}
REPS=${REPS:-21}
WARMUP=${WARMUP:-3}
THREADS=${THREADS:-$(seq -s, 1 "$(nproc)")}

if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DMART_CUDA=OFF -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$BUILD_DIR" --target bench_cpu_attention -j"$(nproc)"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; $(date -u +%F)"
echo "load before: $(uptime)"
"$BUILD_DIR/bench/bench_cpu_attention" --shapes "$SHAPES" --threads "$THREADS" --reps "$REPS" \
  --warmup "$WARMUP" --json "$out/mart.json"
/usr/bin/python3 bench/torch_attention_cpu.py --shapes "$SHAPES" --threads "$THREADS" \
  --reps "$REPS" --warmup "$WARMUP" --mart-json "$out/mart.json"
echo "load after: $(uptime)"
