#!/usr/bin/env bash
# MART's CPU training step against PyTorch eager on the same model, one core each: GPT-2 and
# Llama, 6 layers, width 384, 6 heads, sequence 256, batch 4, vocabulary 256 (the byte-level
# tinyshakespeare shapes), the same AdamW step (betas 0.9/0.95, decay 0.1 on 2-D weights, clip
# 1.0). Runs bench_cpu_step and bench/torch_step_cpu.py alternately ROUNDS times per family
# (so load drifts hit both alike), each run timing STEPS steps after WARMUP; prints the median
# tokens/s of each side (by process CPU time, the figure a shared machine distorts least, and by
# wall clock), their ratio MART / torch, and whether the bar (>= 1.2x) is met.
#
#   bench/cpu_step_vs_torch.sh                       # build-cpu, ROUNDS=5 STEPS=6 WARMUP=2
#   BUILD_DIR=build ROUNDS=9 FAMILIES=llama bench/cpu_step_vs_torch.sh
#
# torch runs with the glibc malloc thresholds of bench/torch_env.sh (FAIR_MALLOC: without them
# its per-step temporaries are mmapped and page-faulted afresh every step); MART allocates
# nothing per step and runs in the plain environment. Both get OMP/MKL/OpenBLAS threads = 1.
#
# Both sides do their GEMMs in the same OpenBLAS, whose kernel choice decides most of the step:
# each family runs in two OpenBLAS settings, both sides alike, reported separately:
#   as-given   OPENBLAS_CORETYPE as the environment has it (this machine's pins Haswell: AVX2)
#   widest     OPENBLAS_CORETYPE=SkylakeX (the AVX-512 kernels) when the CPU has AVX-512F;
#              skipped otherwise. On the 2026-12 machine (Zen 5) it doubles sgemm throughput.
# OPENBLAS_SETTINGS="as-given" runs only the first.
set -euo pipefail
cd "$(dirname "$0")/.."
source bench/torch_env.sh
BUILD_DIR=${BUILD_DIR:-build-cpu}
ROUNDS=${ROUNDS:-5}
STEPS=${STEPS:-6}
WARMUP=${WARMUP:-2}
FAMILIES=${FAMILIES:-gpt2 llama}
OPENBLAS_SETTINGS=${OPENBLAS_SETTINGS:-as-given widest}
if ! grep -qw avx512f /proc/cpuinfo; then OPENBLAS_SETTINGS=${OPENBLAS_SETTINGS/widest/}; fi
SHAPE=(--layers 6 --width 384 --heads 6 --seq 256 --batch 4 --vocab 256)

if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  if [[ "$BUILD_DIR" == build-cpu ]]; then
    cmake --preset cpu >/dev/null
  else
    cmake -S . -B "$BUILD_DIR" -G Ninja -DMART_CUDA=OFF -DCMAKE_BUILD_TYPE=Release >/dev/null
  fi
fi
cmake --build "$BUILD_DIR" --target bench_cpu_step -j"$(nproc)" >/dev/null

out=$(mktemp -d)
mkdir -p "$out/as-given" "$out/widest"
trap 'rm -rf "$out"' EXIT
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; $(date -u '+%F %H:%M UTC')"
echo "torch $(/usr/bin/python3 -c 'import torch; print(torch.__version__)'); $(g++ --version | head -1)"
echo "rounds $ROUNDS (alternated), $STEPS timed steps after $WARMUP warmup per run"
echo "OpenBLAS settings: $OPENBLAS_SETTINGS (as-given: OPENBLAS_CORETYPE=${OPENBLAS_CORETYPE:-unset})"
echo "load before: $(uptime)"
for setting in $OPENBLAS_SETTINGS; do
  blas_env=()
  [[ $setting == widest ]] && blas_env=(OPENBLAS_CORETYPE=SkylakeX)
  for fam in $FAMILIES; do
    for r in $(seq 1 "$ROUNDS"); do
      env "${CLEAN[@]}" "${ONE_CORE[@]}" "${blas_env[@]}" "$BUILD_DIR/bench/bench_cpu_step" \
        --family "$fam" "${SHAPE[@]}" --steps "$STEPS" --warmup "$WARMUP" \
        --json "$out/$setting/mart_${fam}_$r.json" | grep -v '^JSON'
      env "${CLEAN[@]}" "${ONE_CORE[@]}" "${blas_env[@]}" "${FAIR_MALLOC[@]}" /usr/bin/python3 \
        bench/torch_step_cpu.py --family "$fam" "${SHAPE[@]}" --steps "$STEPS" --warmup "$WARMUP" \
        --threads 1 --json "$out/$setting/torch_${fam}_$r.json" | grep -v '^JSON'
    done
  done
done
echo "load after: $(uptime)"
for setting in $OPENBLAS_SETTINGS; do
  echo "OpenBLAS $setting:"
  /usr/bin/python3 bench/step_table.py "$out/$setting"
done
