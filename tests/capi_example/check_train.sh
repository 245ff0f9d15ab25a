#!/usr/bin/env bash
# Runs examples/c/train.c's program for a few steps and checks what it printed: a loss per step
# that falls (the mean of the last 5 steps at least DROP below the mean of the first 5), a finite
# validation loss, and a checkpoint directory that exists under the run directory.
# Usage: check_train.sh TRAIN_EXE STEPS DROP [train options...]
set -euo pipefail
exe=$1 steps=$2 drop=$3
shift 3
run=$(mktemp -d)
trap 'rm -rf "$run"' EXIT
out=$("$exe" "$run" --steps "$steps" "$@" 2>&1) || { echo "$out"; echo "FAIL: train exited non-zero"; exit 1; }
echo "$out"
n=$(grep -c '^step [0-9]* loss ' <<<"$out" || true)
[[ $n -eq $steps ]] || { echo "FAIL: $n step lines, expected $steps"; exit 1; }
awk -v steps="$steps" -v drop="$drop" '
  /^step [0-9]+ loss / { loss[$2] = $4 }
  END {
    for (i = 1; i <= 5; ++i) { first += loss[i]; last += loss[steps - 5 + i] }
    first /= 5; last /= 5
    printf "first 5 steps: mean loss %.4f; last 5: %.4f\n", first, last
    if (!(last <= first - drop)) { printf "FAIL: the loss did not fall by %s\n", drop; exit 1 }
  }' <<<"$out"
grep -Eq '^validation loss [0-9]+\.[0-9]+$' <<<"$out" || { echo "FAIL: no finite validation loss"; exit 1; }
ckpt=$(sed -n 's/^checkpoint //p' <<<"$out")
[[ -n $ckpt && -d $ckpt && $ckpt == "$run"/checkpoints/* ]] ||
  { echo "FAIL: checkpoint '$ckpt' is not a directory under $run/checkpoints"; exit 1; }
echo "train example ok"
