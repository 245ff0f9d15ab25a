#!/usr/bin/env bash
# Generation speed on the CPU backend with and without the KV cache (bench/generate.cpp): tokens/s
# for 64, 256 and 512 new tokens after a 16-token prompt, GPT-2 and Llama shapes (4 blocks, width
# 128, vocab 256), one compute thread, greedy, medians of REPS runs. Builds bench_generate.
#
#   bench/generate_cpu.sh                       # build dir build-cpu
#   BUILD_DIR=build LENGTHS=64,1024 REPS=5 THREADS=2 bench/generate_cpu.sh
#
# Only meaningful on an otherwise idle machine: the load average is printed before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-cpu}
LENGTHS=${LENGTHS:-64,256,512}
REPS=${REPS:-3}
THREADS=${THREADS:-1}

if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  cmake -S . -B "$BUILD_DIR" -G Ninja -DMART_CUDA=OFF -DCMAKE_BUILD_TYPE=Release
fi
cmake --build "$BUILD_DIR" --target bench_generate -j"$(nproc)"

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; $(date -u +%F)"
echo "command: OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS $BUILD_DIR/bench/bench_generate --lengths $LENGTHS --reps $REPS"
echo "load before: $(uptime)"
OMP_NUM_THREADS=$THREADS OPENBLAS_NUM_THREADS=$THREADS "$BUILD_DIR/bench/bench_generate" \
  --backend cpu --lengths "$LENGTHS" --reps "$REPS"
echo "load after: $(uptime)"
