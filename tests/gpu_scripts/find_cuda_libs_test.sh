#!/usr/bin/env bash
# Tests bench/gpu/find_cuda_libs.sh and the libs stage of bench/gpu/run_all.sh (DRY_RUN=1 and a
# real run with no other stage) against fake trees shaped like the GPU image's nvidia wheels:
# site/nvidia/cudnn/lib/libcudnn.so.9 (no __init__.py anywhere) and site/nvidia/cu13/lib/ with the
# CUDA 13 runtime libraries. Negative controls: a tree without cuDNN must fail and name it, and a
# binary that needs a missing library must stop the real run with ldd's "not found".
#   find_cuda_libs_test.sh SOURCE_DIR
set -uo pipefail
SRC=$1
FIND=$SRC/bench/gpu/find_cuda_libs.sh
tmp=$(realpath "$(mktemp -d)")
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*"
  exit 1
}
export CUDA_HOME=$tmp/no-toolkit  # keep this machine's /usr/local/cuda out of the search

site=$tmp/site
mkdir -p "$site/nvidia/cudnn/lib" "$site/nvidia/cu13/lib" "$site/nvidia/nccl/lib"
touch "$site/nvidia/cudnn/lib/libcudnn.so.9" "$site/nvidia/nccl/lib/libnccl.so.2"
for l in libcudart.so.13 libcublasLt.so.13 libcublas.so.13 libnvrtc.so.13; do
  touch "$site/nvidia/cu13/lib/$l"
done
want="$site/nvidia/cudnn/lib"$'\n'"$site/nvidia/cu13/lib"

# 1. Explicit roots: the two folders, cuDNN first (REQUIRED_LIBS order), nothing else.
got=$(bash "$FIND" "$site/nvidia") || fail "explicit root: exit $?"
[[ $got == "$want" ]] || fail "explicit root: got [$got], want [$want]"

# 2. Found through python3's `nvidia` namespace package (PYTHONPATH), as on the GPU image.
if command -v python3 >/dev/null; then
  got=$(PYTHONPATH=$site bash "$FIND") || fail "namespace discovery: exit $?"
  [[ $got == "$want" ]] || fail "namespace discovery: got [$got], want [$want]"
fi

# 3. Negative control: no cuDNN anywhere -> exit 1, naming libcudnn.so.9.
rm "$site/nvidia/cudnn/lib/libcudnn.so.9"
if err=$(bash "$FIND" "$site/nvidia" 2>&1 >/dev/null); then fail "missing cuDNN not reported"; fi
[[ $err == *"libcudnn.so.9"* ]] || fail "missing cuDNN: message does not name it: $err"

# 4. cuDNN in a second site-packages: both roots are searched.
mkdir -p "$tmp/site2/nvidia/cudnn/lib"
touch "$tmp/site2/nvidia/cudnn/lib/libcudnn.so.9"
got=$(bash "$FIND" "$site/nvidia" "$tmp/site2/nvidia") || fail "two roots: exit $?"
[[ $got == "$tmp/site2/nvidia/cudnn/lib"$'\n'"$site/nvidia/cu13/lib" ]] ||
  fail "two roots: got [$got]"

# 5. run_all.sh DRY_RUN=1 with fake binaries and a loadable backend library: the library path for
#    MART's binaries names the wheel folders, MART_CUDA_LIBRARY the backend, and every stage is
#    listed in the final table.
build=$tmp/build
mkdir -p "$build/tests" "$build/carry-lib"
cp /bin/true "$build/mart"
cp /bin/true "$build/tests/mart_test_gpu"
libc=$(ldd /bin/true | awk '/libc.so/{print $3}')
cp "$libc" "$build/libmart_cuda.so"
out=$(DRY_RUN=1 OUT=$tmp/out BUILD_DIR=$build NVIDIA_ROOTS="$site/nvidia:$tmp/site2/nvidia" \
  MODELS=gpt2-124m TORCH_MODES=eager bash "$SRC/bench/gpu/run_all.sh" 2>&1) ||
  fail "dry run: exit $?: $out"
for s in "LD_LIBRARY_PATH for MART's binaries: $build:$tmp/site2/nvidia/cudnn/lib:$site/nvidia/cu13/lib:$build/carry-lib" \
  "MART_CUDA_LIBRARY: $build/libmart_cuda.so" "| libs | ok |" "| build | carried |" \
  "DRY mart gpt2-124m" "DRY torch eager gpt2-124m" "| GPU tests | dry |"; do
  [[ $out == *"$s"* ]] || fail "dry run output lacks [$s]: $out"
done
[[ -s $tmp/out/report.md && ! -d $tmp/out/work ]] || fail "dry run: report.md missing or work left"

# 6. Negative control: a binary needing a library that is nowhere stops a real run at the libs
#    stage, before anything runs, with ldd's verdict in the report.
if command -v cc >/dev/null; then
  echo 'int f(void){return 0;}' | cc -shared -fPIC -x c - -o "$tmp/libmartmissing.so"
  echo 'int f(void); int main(void){return f();}' |
    cc -x c - -o "$build/mart" -L"$tmp" -lmartmissing
  rm "$tmp/libmartmissing.so"
  out=$(OUT=$tmp/out2 BUILD_DIR=$build NVIDIA_ROOTS="$site/nvidia:$tmp/site2/nvidia" STAGES="" \
    bash "$SRC/bench/gpu/run_all.sh" 2>&1) && fail "missing library did not stop the run: $out"
  [[ $out == *"ldd: not found: libmartmissing.so"* && $out == *"| libs | FAILED |"* ]] ||
    fail "missing library not named: $out"
fi
echo "PASS"
