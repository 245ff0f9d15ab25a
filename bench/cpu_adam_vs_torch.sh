#!/usr/bin/env bash
# MART's CPU AdamW vs PyTorch's CPU AdamW on equal terms, and vs the memory bandwidth a triad
# measures. Builds bench_cpu_adam, runs it, runs bench/torch_adamw_cpu.py with the same sizes,
# thread counts and repetitions in three fair environments and as installed, and prints a table
# side by side (bench/adamw_table.py) with the ratio MART / torch's best.
#
#   bench/cpu_adam_vs_torch.sh                 # build-cpu (the cpu preset), 16M,64M, 1 and nproc
#   BUILD_DIR=build SIZES=64M REPS=15 THREADS=1,2 bench/cpu_adam_vs_torch.sh
#
# Why the allocator environment: torch's AdamW step allocates temporaries the size of the
# parameter (64 MiB for 16M params). glibc malloc serves blocks above its mmap threshold (at most
# 32 MiB by default) with mmap and unmaps them on free, so every step page-faults 16K+ fresh pages
# per temporary: measured here (idle, 1 thread, 2026-12-06), a 16M step took 409-412 ms as
# installed and 32-40 ms without the faults (docs/PERFORMANCE.md, issue-12 section).
# That is the allocator, not AdamW, so torch runs (see the faults column, ~0 when it worked) with
#   MALLOC_MMAP_THRESHOLD_=4294967296   4 GiB: above any temporary up to 1G params, so glibc
#                                       serves them from its heap instead of mmap
#   MALLOC_TRIM_THRESHOLD_=68719476736  64 GiB: free never gives the heap top back to the OS, so
#                                       the next step reuses pages that are already mapped
# and once more adding GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (glibc >= 2.35: malloc asks for
# transparent huge pages, which the MART benchmark's buffers get with madvise, so both sides have
# the same TLB reach when THP is "madvise"). torch's best over those two environments and over
# its variants (foreach=False, foreach=True, fused=True where its CPU build accepts it) is the
# bar. A third fair environment also sets OMP_WAIT_POLICY=PASSIVE: libgomp's default lets idle
# workers spin between parallel regions, and torch's step is a string of them (on a busy 2-core
# machine, 16M at 2 threads: 61-72 ms default, 34-42 ms PASSIVE; MART's launcher sets PASSIVE
# for itself too). The other runs unset OMP_WAIT_POLICY, so they get libgomp's default. The
# as-installed run is printed for reference only (REF_REPS, default 5 reps).
#
# MART's step allocates nothing (its buffers are made once), so it runs in the plain
# environment. The numbers are only meaningful on an otherwise idle machine: the load average is
# printed before and after.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-cpu}
SIZES=${SIZES:-16M,64M}
REPS=${REPS:-9}
WARMUP=${WARMUP:-3}
REF_REPS=${REF_REPS:-5}
THREADS=${THREADS:-$( (echo 1; nproc) | sort -un | paste -sd,)}
# FAIR_MALLOC, THP, CLEAN: the torch environments, shared with bench/cpu_step_vs_torch.sh.
source bench/torch_env.sh

if [[ ! -f "$BUILD_DIR/CMakeCache.txt" ]]; then
  if [[ "$BUILD_DIR" == build-cpu ]]; then
    cmake --preset cpu
  else
    cmake -S . -B "$BUILD_DIR" -G Ninja -DMART_CUDA=OFF -DCMAKE_BUILD_TYPE=Release
  fi
fi
cmake --build "$BUILD_DIR" --target bench_cpu_adam -j"$(nproc)"

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; $(date -u '+%F %H:%M UTC')"
echo "THP: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null || echo unknown)"
echo "sizes $SIZES, threads $THREADS, median of $REPS after $WARMUP warmup (reference: $REF_REPS)"
echo "load before: $(uptime)"
"$BUILD_DIR/bench/bench_cpu_adam" --sizes "$SIZES" --threads "$THREADS" --reps "$REPS" \
  --warmup "$WARMUP" --json "$out/mart.json"
torch_run() {  # label reps warmup env-assignments...
  local label=$1 reps=$2 warmup=$3
  shift 3
  env "${CLEAN[@]}" "$@" /usr/bin/python3 bench/torch_adamw_cpu.py --sizes "$SIZES" \
    --threads "$THREADS" --reps "$reps" --warmup "$warmup" --env-label "$label" \
    --json-out "$out/torch_$label.json"
}
torch_run malloc-tuned "$REPS" "$WARMUP" "${FAIR_MALLOC[@]}"
torch_run malloc-tuned+thp "$REPS" "$WARMUP" "${FAIR_MALLOC[@]}" "${THP[@]}"
torch_run malloc-tuned+thp+passive "$REPS" "$WARMUP" "${FAIR_MALLOC[@]}" "${THP[@]}" \
  OMP_WAIT_POLICY=PASSIVE
torch_run as-installed "$REF_REPS" 1
/usr/bin/python3 bench/adamw_table.py "$out/mart.json" "$out"/torch_malloc-tuned*.json \
  "$out/torch_as-installed.json" --reference-env as-installed
echo "load after: $(uptime)"
