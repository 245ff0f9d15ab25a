#!/usr/bin/env bash
# Overhead of driving `mart train`'s default job from Python (mart.Session: next_batch +
# step_params + train_step per step) against the launcher (`mart train --no-progress --run-dir`),
# same steps, same environment, alternated ROUNDS times; medians; overhead in % (target < 2%).
# How each side is timed, and what is excluded (startup, the launcher's final checkpoint): the
# docstring of bench/python_overhead.py.
#
#   bench/python_overhead.sh                        # 5 rounds of the default job's 120 steps
#   ROUNDS=7 STEPS=60 bench/python_overhead.sh --set model.n_layer=2
#
# The `mart` binary runs on jemalloc (linked as its malloc); a Python process runs libmart on
# glibc malloc. So a third runner, the Python loop with LD_PRELOAD=libjemalloc.so.2 (found with
# ldconfig; JEMALLOC=path to choose, JEMALLOC= to skip), tells the allocator's share of any
# difference apart from Python's. The faults/step column shows the allocator at work.
#
# OMP_WAIT_POLICY: the launcher re-executes itself with PASSIVE when it is unset
# (launcher/openmp_env.cpp); here both runners get OMP_WAIT_POLICY=PASSIVE unless the caller set
# it, so they run under the same policy. Meaningful only on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-cpu}
ROUNDS=${ROUNDS:-5}
STEPS=${STEPS:-120}

[[ -f "$BUILD_DIR/CMakeCache.txt" ]] || cmake --preset cpu
cmake --build "$BUILD_DIR" --target mart mart_shared -j"$(nproc)"
export PYTHONPATH=$PWD/python${PYTHONPATH:+:$PYTHONPATH}
export MART_LIBRARY=${MART_LIBRARY:-$PWD/$BUILD_DIR/libmart.so}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; $(date -u '+%F %H:%M UTC')"
echo "launcher: $BUILD_DIR/mart; libmart: $MART_LIBRARY; LD_PRELOAD=${LD_PRELOAD:-unset}"
echo "load before: $(uptime)"
JEMALLOC=${JEMALLOC-$(/sbin/ldconfig -p | awk '/libjemalloc.so.2 / && !found {print $NF; found = 1}')}
/usr/bin/python3 bench/python_overhead.py --mart "$BUILD_DIR/mart" --rounds "$ROUNDS" \
  ${JEMALLOC:+--jemalloc "$JEMALLOC"} \
  --steps "$STEPS" "$@"
echo "load after: $(uptime)"
