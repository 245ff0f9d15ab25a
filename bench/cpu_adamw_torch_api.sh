#!/usr/bin/env bash
# mart.torch.CPUAdamW (python/mart over libmart.so) vs torch.optim.AdamW's best CPU variant,
# through the torch optimizer API, on the same transformer-like parameter lists (16M and 64M
# params in total by default), 1 thread and all cores, side by side in one process per
# torch environment; then one table with per-step times, GB/s (28 B/param both) and the
# ratio CPUAdamW / torch best (the bar: >= 3x).
#
#   bench/cpu_adamw_torch_api.sh
#   SIZES=64M THREADS=2 REPS=15 bench/cpu_adamw_torch_api.sh
#
# torch runs on the same terms as in bench/cpu_adam_vs_torch.sh (read its header for why):
# MALLOC_MMAP_THRESHOLD_=4294967296 and MALLOC_TRIM_THRESHOLD_=68719476736 so its per-step
# temporaries are not page-faulted in afresh every step, with and without
# GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (transparent huge pages, as MART's pinned memory gets);
# and once more with OMP_WAIT_POLICY=PASSIVE (the other runs unset it: libgomp's default);
# torch's best over the three environments and its variants is the bar. The faults column shows
# whether the environment took effect (~0 per step). Meaningful only on an idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-cpu}
SIZES=${SIZES:-16M,64M}
REPS=${REPS:-9}
WARMUP=${WARMUP:-3}
THREADS=${THREADS:-$( (echo 1; nproc) | sort -un | paste -sd,)}
FAIR_MALLOC=(MALLOC_MMAP_THRESHOLD_=4294967296 MALLOC_TRIM_THRESHOLD_=68719476736)
THP=(GLIBC_TUNABLES=glibc.malloc.hugetlb=1)
CLEAN=(-u MALLOC_MMAP_THRESHOLD_ -u MALLOC_TRIM_THRESHOLD_ -u GLIBC_TUNABLES -u OMP_WAIT_POLICY)

[[ -f "$BUILD_DIR/CMakeCache.txt" ]] || cmake --preset cpu
cmake --build "$BUILD_DIR" --target mart_shared -j"$(nproc)"
export PYTHONPATH=$PWD/python${PYTHONPATH:+:$PYTHONPATH}
export MART_LIBRARY=${MART_LIBRARY:-$PWD/$BUILD_DIR/libmart.so}

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; $(date -u '+%F %H:%M UTC')"
echo "libmart: $MART_LIBRARY; THP: $(cat /sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null)"
echo "load before: $(uptime)"
run() {  # label env-assignments...
  local label=$1
  shift
  env "${CLEAN[@]}" "$@" /usr/bin/python3 bench/cpu_adamw_torch_api.py --sizes "$SIZES" \
    --threads "$THREADS" --reps "$REPS" --warmup "$WARMUP" --env-label "$label" \
    --json-out "$out/$label.json"
}
run malloc-tuned "${FAIR_MALLOC[@]}"
run malloc-tuned+thp "${FAIR_MALLOC[@]}" "${THP[@]}"
run malloc-tuned+thp+passive "${FAIR_MALLOC[@]}" "${THP[@]}" OMP_WAIT_POLICY=PASSIVE
echo
/usr/bin/python3 bench/cpu_adamw_torch_api.py --table "$out"/malloc-tuned*.json
echo "load after: $(uptime)"
