#!/usr/bin/env bash
# Installs the build tree into a temporary prefix, then builds and runs tests/capi_install/consumer
# against that prefix only: with find_package(mart) (shared and static) and with pkg-config
# (shared, and static through Libs.private). Each program must print "consumer ok", and the shared
# ones must load libmart from the prefix.
# Usage: run_install_test.sh BUILD_DIR CONSUMER_SOURCE_DIR C_COMPILER CMAKE [SANITIZER_FLAG]
# (SANITIZER_FLAG, e.g. -fsanitize=address,undefined, when the build tree was built with one.)
set -euo pipefail
build=$1 src=$2 cc=$3 cmake=$4 san=${5:-}
sanflags=()
[[ -z $san ]] || sanflags=("$san")
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix

run() {  # run NAME EXE: runs it, shows its output, requires "consumer ok"
  local out
  if ! out=$("$2" 2>&1); then
    echo "FAIL: $1 exited non-zero:"; echo "$out"; exit 1
  fi
  echo "$out" | sed "s/^/  $1: /"
  grep -qx "consumer ok" <<<"$out" || { echo "FAIL: $1 did not print 'consumer ok'"; exit 1; }
}
loads_from_prefix() {  # the dynamic linker resolves libmart.so.0 inside the prefix
  # ldd's whole output first: `ldd | grep -q` under pipefail fails when grep exits early (SIGPIPE).
  local deps
  deps=$(ldd "$2")
  grep -q "libmart.so.0 => $prefix/lib/libmart.so.0" <<<"$deps" ||
    { echo "FAIL: $1 does not load libmart from $prefix/lib:"; echo "$deps"; exit 1; }
}

"$cmake" --install "$build" --prefix "$prefix" >/dev/null
for f in include/mart/mart.h lib/libmart.so lib/libmart.so.0 lib/libmart.a \
         lib/cmake/mart/martConfig.cmake lib/pkgconfig/mart.pc; do
  [[ -e $prefix/$f ]] || { echo "FAIL: $f was not installed"; exit 1; }
done

# find_package(mart)
"$cmake" -S "$src" -B "$tmp/cm" -DCMAKE_C_COMPILER="$cc" -DCMAKE_PREFIX_PATH="$prefix" \
  -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS="$san" -DCMAKE_EXE_LINKER_FLAGS="$san" \
  > "$tmp/cm.log" 2>&1 || { cat "$tmp/cm.log"; exit 1; }
grep -q "mart_DIR=$prefix/lib/cmake/mart" "$tmp/cm.log" ||
  { echo "FAIL: find_package(mart) did not find the prefix's package"; cat "$tmp/cm.log"; exit 1; }
"$cmake" --build "$tmp/cm" > "$tmp/build.log" 2>&1 || { cat "$tmp/build.log"; exit 1; }
loads_from_prefix cmake-shared "$tmp/cm/consumer_shared"
run cmake-shared "$tmp/cm/consumer_shared"
run cmake-static "$tmp/cm/consumer_static"

# pkg-config
export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
read -r -a cflags <<<"$(pkg-config --cflags mart)"
read -r -a libs <<<"$(pkg-config --libs mart)"
"$cc" -std=c11 "${sanflags[@]}" "$src/consumer.c" "${cflags[@]}" "${libs[@]}" -lm -Wl,-rpath,"$prefix/lib" \
  -o "$tmp/pc_shared"
loads_from_prefix pkgconfig-shared "$tmp/pc_shared"
run pkgconfig-shared "$tmp/pc_shared"
# Static: libmart.a by path, then every -l of `--static` but -lmart (which would pick the .so).
read -r -a slibs <<<"$(pkg-config --static --libs-only-l mart)"
deps=()
for l in "${slibs[@]}"; do [[ $l == -lmart ]] || deps+=("$l"); done
"$cc" -std=c11 "${sanflags[@]}" "$src/consumer.c" "${cflags[@]}" "$prefix/lib/libmart.a" "${deps[@]}" \
  -o "$tmp/pc_static"
if grep -q libmart <<<"$(ldd "$tmp/pc_static")"; then echo "FAIL: pc_static loads libmart.so"; exit 1; fi
run pkgconfig-static "$tmp/pc_static"
echo "install test: 4 consumers ok"
