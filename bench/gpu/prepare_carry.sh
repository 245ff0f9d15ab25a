#!/usr/bin/env bash
# Builds MART's CUDA preset on this machine (no GPU needed) and gathers the non-system shared
# libraries its binaries need, for device machines that cannot install the build dependencies.
#
#   bench/gpu/prepare_carry.sh     # -> build-cuda/mart, build-cuda/tests/mart_test_gpu,
#                                  #    build-cuda/libmart_cuda.so* (when the CUDA backend is a
#                                  #    loadable library), build-cuda/carry-lib/*.so* (git-ignored)
# It prints the `carry` list for the one device call (tool `run`), whose command is
#   bench/gpu/run_all.sh           (STAGES="test mart torch" etc. to choose)
# run_all.sh then skips its own build and runs these binaries.
#
# Not carried: the C library family (the device image's glibc is newer, and binaries built
# against an older one run on it), libcuda (the driver's), and the CUDA toolkit / cuDNN libraries
# (cudart, cuBLAS(Lt), nvrtc, cuDNN: hundreds of MiB, over the 64 MiB carry limit, and present in
# the image's nvidia wheels, where run_all.sh finds them with find_cuda_libs.sh). The build
# machine's libstdc++/libgcc_s/libgomp are carried, but only MART's binaries see carry-lib.
set -euo pipefail
cd "$(dirname "$0")/../.."
JOBS=${JOBS:-$(nproc)}
cmake --preset cuda >/dev/null
cmake --build --preset cuda -j "$JOBS" --target mart mart_cuda mart_test_gpu
shopt -s nullglob
cuda_so=(build-cuda/libmart_cuda.so*)
shopt -u nullglob
bins=(build-cuda/mart build-cuda/tests/mart_test_gpu "${cuda_so[@]}")
lib=build-cuda/carry-lib
rm -rf "$lib"
mkdir -p "$lib"
ldd "${bins[@]}" | awk '/=> \//{print $3}' | sort -u |
  while read -r so; do
    case "$so" in
      */libc.so.* | */libm.so.* | */libpthread.so.* | */libdl.so.* | */librt.so.* | */ld-linux*) ;;
      */libcuda.so* | /usr/local/cuda*/* | */nvidia/*) ;;
      */libcudnn* | */libcublas* | */libcudart* | */libnvrtc* | */libnvJitLink*) ;;
      *) cp -L "$so" "$lib/" ;;
    esac
  done
du -shc "${bins[@]}" "$lib"
carry=(build-cuda/mart build-cuda/tests/mart_test_gpu "$lib" "${cuda_so[@]}")
printf 'carry: ['
sep=""
for c in "${carry[@]}"; do
  printf '%s"%s"' "$sep" "$c"
  sep=", "
done
printf ']\n'
((${#carry[@]} <= 8)) || echo "more than 8 carry paths: put libmart_cuda.so* in one folder" >&2
