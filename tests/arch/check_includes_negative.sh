#!/usr/bin/env bash
# Negative controls for scripts/check_includes.py: in a copy of the module folders, (1) memory/
# including the runtime (an upward edge), (2) the pure planner including the device, (3) the runtime
# including cuda/ (nobody may: it is the backend library loaded on demand), and (4) a
# source folder owned by no module must each fail the check, naming the file and the edge; the
# unmodified copy must pass. Usage: check_includes_negative.sh PYTHON SOURCE_DIR
set -euo pipefail
py="$1"; src="$2"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
check="$src/scripts/check_includes.py"
fresh_copy() {
  rm -rf "$tmp/tree"; mkdir -p "$tmp/tree"
  for d in common device layout io config kernels cuda memory planner runtime profiler launcher; do
    cp -r "$src/$d" "$tmp/tree/$d"
  done
}
expect_fail() {  # NAME PATTERN: the check must exit 1 and print PATTERN
  local out rc=0
  out="$("$py" "$check" --root "$tmp/tree" 2>&1)" || rc=$?
  if [[ $rc -ne 1 ]] || ! grep -q -- "$2" <<<"$out"; then
    echo "FAIL: $1: expected exit 1 and '$2', got exit $rc:"; echo "$out"; exit 1
  fi
  echo "ok: $1 is refused: $(grep -m1 -- "$2" <<<"$out")"
}
fresh_copy
"$py" "$check" --root "$tmp/tree" >/dev/null || { echo "FAIL: the unmodified copy fails"; exit 1; }

echo '#include "runtime/executor.h"' >> "$tmp/tree/memory/device_arena.h"
expect_fail "memory -> runtime" "memory/device_arena.h:.*memory -> runtime"

fresh_copy
echo '#include "device/device.h"' >> "$tmp/tree/planner/search.cpp"
expect_fail "planner -> device" "planner/search.cpp:.*planner -> device"

fresh_copy
echo '#include "cuda/cuda_ops.h"' >> "$tmp/tree/runtime/backend.cpp"
expect_fail "runtime -> cuda" "runtime/backend.cpp:.*runtime -> cuda"

fresh_copy
mkdir -p "$tmp/tree/stray" && echo 'int x;' > "$tmp/tree/stray/a.cpp"
expect_fail "unowned folder" "stray/a.cpp: the folder stray/ belongs to no module"
