#!/usr/bin/env bash
# Finds the folders that hold cuDNN 9 and the CUDA 13 runtime libraries MART's CUDA backend needs
# (cudart, cuBLAS, cuBLASLt, nvrtc), in the NVIDIA pip wheels of a Python installation (the GPU
# image ships them with PyTorch) and in the CUDA toolkit. Prints one folder per line, in search
# order, for LD_LIBRARY_PATH; exits 1 naming every library it found nowhere.
#
#   bench/gpu/find_cuda_libs.sh                 # wheels of `python3` + /usr/local/cuda
#   bench/gpu/find_cuda_libs.sh ROOT...         # only these `nvidia` package folders
#   PYTHON=python3.12 CUDA_HOME=/opt/cuda bench/gpu/find_cuda_libs.sh
#
# Why not `import nvidia.cudnn` and its __file__: the cuDNN wheel has no __init__.py, so that
# __file__ is None. `nvidia` is a namespace package; each entry of its __path__ is one
# site-packages/nvidia folder, and each wheel puts its libraries in a lib/ folder below it:
# nvidia/cudnn/lib (cuDNN), nvidia/cu13/lib (the CUDA 13 wheels: cudart, cublas(Lt), nvrtc).
# A site-packages glob covers a Python that cannot import `nvidia` at all.
set -uo pipefail

# The sonames MART's CUDA build links (ldd of libmart_cuda.so / mart with CUDA 13 + cuDNN 9).
REQUIRED_LIBS=${REQUIRED_LIBS:-"libcudnn.so.9 libcudart.so.13 libcublasLt.so.13 libcublas.so.13 libnvrtc.so.13"}

# The `nvidia` package folders of $PYTHON (default python3), one per line.
nvidia_roots() {
  local py=${PYTHON:-python3}
  command -v "$py" >/dev/null 2>&1 || return 0
  "$py" - <<'EOF' 2>/dev/null
import glob, os, site, sys
roots = []
try:
    import nvidia  # namespace package: no __init__.py, but __path__ lists every portion
    roots += list(nvidia.__path__)
except ImportError:
    pass
dirs = list(sys.path)
try:
    dirs += site.getsitepackages() + [site.getusersitepackages()]
except AttributeError:
    pass
for d in dirs:
    roots += glob.glob(os.path.join(d, "nvidia"))
seen = set()
for r in roots:
    r = os.path.realpath(r)
    if os.path.isdir(r) and r not in seen:
        seen.add(r)
        print(r)
EOF
}

# Candidate library folders: <root>/*/lib for each nvidia root, then the CUDA toolkit's.
candidate_dirs() {
  local root d
  for root in "$@"; do
    for d in "$root"/*/lib "$root"/*/lib64; do
      [[ -d $d ]] && echo "$d"
    done
  done
  local cuda=${CUDA_HOME:-/usr/local/cuda}
  for d in "$cuda/lib64" "$cuda/lib" "$cuda/targets/x86_64-linux/lib"; do
    [[ -d $d ]] && echo "$d"
  done
}

# find_cuda_libs [ROOT...]: the folders holding REQUIRED_LIBS, first match per library, in the
# order found; 1 (and the missing names on stderr) when any library is nowhere.
find_cuda_libs() {
  local -a roots dirs found=()
  if (($# > 0)); then roots=("$@"); else mapfile -t roots < <(nvidia_roots); fi
  mapfile -t dirs < <(candidate_dirs "${roots[@]}")
  local lib d missing=""
  for lib in $REQUIRED_LIBS; do
    local hit=""
    for d in "${dirs[@]}"; do
      if [[ -e $d/$lib ]]; then
        hit=$d
        break
      fi
    done
    if [[ -z $hit ]]; then
      missing+=" $lib"
    elif [[ " ${found[*]} " != *" $hit "* ]]; then
      found+=("$hit")
    fi
  done
  ((${#found[@]})) && printf '%s\n' "${found[@]}"
  if [[ -n $missing ]]; then
    echo "find_cuda_libs: not found:$missing (searched: ${dirs[*]:-nothing})" >&2
    return 1
  fi
  return 0
}

# Run as a script (not sourced): print the folders.
if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  find_cuda_libs "$@"
fi
