#!/usr/bin/env bash
# Builds MART's CUDA preset on this machine (no GPU needed) and gathers the non-system shared
# libraries its binaries need, for device machines that cannot install the build dependencies.
#
#   bench/gpu/prepare_carry.sh          # -> build-cuda/mart, build-cuda/libmart_cuda.so (the
#                                       #    CUDA backend, loaded on demand from mart's directory),
#                                       #    build-cuda/tests/mart_test_gpu,
#                                       #    build-cuda/carry-lib/*.so*   (all git-ignored)
# then one device call (tool `run`):
#   command: STAGES="build test mart torch" bench/gpu/run_all.sh
#   carry:   ["build-cuda/mart", "build-cuda/libmart_cuda.so", "build-cuda/tests/mart_test_gpu",
#             "build-cuda/carry-lib"]
# run_all.sh tries its own build first and falls back to the carried binaries if it fails.
# The CUDA toolkit's libraries (cudart, cuBLAS(Lt), cuDNN) are not carried: the device machine has
# the same toolkit, and run_all.sh takes cuDNN from PyTorch's wheel if the toolkit lacks it.
# Mind the 64 MiB carry limit: OpenBLAS alone is ~35 MiB; the script prints the total.
set -euo pipefail
cd "$(dirname "$0")/../.."
JOBS=${JOBS:-$(nproc)}
cmake --preset cuda >/dev/null
cmake --build --preset cuda -j "$JOBS" --target mart mart_cuda mart_test_gpu
lib=build-cuda/carry-lib
rm -rf "$lib"
mkdir -p "$lib"
ldd build-cuda/mart build-cuda/libmart_cuda.so build-cuda/tests/mart_test_gpu | awk '/=> \//{print $3}' | sort -u |
  while read -r so; do
    case "$so" in
      */libc.so.* | */libm.so.* | */libpthread.so.* | */libdl.so.* | */librt.so.* | */ld-linux*) ;;
      */libcuda.so* | /usr/local/cuda/*) ;;
      *) cp -L "$so" "$lib/" ;;
    esac
  done
du -shc build-cuda/mart build-cuda/libmart_cuda.so build-cuda/tests/mart_test_gpu "$lib"
