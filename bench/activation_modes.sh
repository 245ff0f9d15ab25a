#!/usr/bin/env bash
# Device peak, pinned host and copy traffic per activation-mode mix (docs/ACTIVATIONS.md,
# "Measured"). Each row trains the default job for 3 steps under one mix and reads summary.json:
# the arena's peak, the pinned host bytes, and the activation manager's D2H bytes (swap and
# compress_swap copies) per step. The first row must be the all-keep one: activation bytes are
# the peak minus what the all-keep run holds besides its kept bodies.
#
# Usage: bench/activation_modes.sh [MART_BINARY] [N_LAYER]
#   MART_BINARY defaults to build/mart; N_LAYER (default: the default job's 4) also sets the mixes.
set -euo pipefail
MART=${1:-build/mart}
L=${2:-4}
OUT=$(mktemp -d /tmp/mart_act_modes.XXXXXX)
trap 'rm -rf "$OUT"' EXIT
[ -x "$MART" ] || { echo "no mart binary at $MART (build first: ./scripts/build.sh)" >&2; exit 1; }

h=$((L / 2))
rows=("" "n_checkpoint=$h" "n_checkpoint=$L" "n_swap=$h" "n_swap=$L" "n_compress=$h" "n_compress=$L"
      "n_compress_swap=$h" "n_compress_swap=$L" "n_swap=$h n_compress_swap=$((L - h))")
echo "| activations | activation bytes | device peak | peak MiB | pinned host | D2H bytes/step | loss after 3 steps |"
echo "|---|---:|---:|---:|---:|---:|---:|"
base=""
i=0
for r in "${rows[@]}"; do
  sets=()
  for kv in $r; do sets+=(--set "activations.$kv"); done
  i=$((i + 1))
  dir="$OUT/run$i"
  OMP_NUM_THREADS=1 "$MART" train --set train.steps=3 --set train.warmup_steps=1 \
    --set train.eval_every=0 --set model.n_layer="$L" "${sets[@]}" --run-dir "$dir" \
    --no-progress >"$OUT/log" 2>&1 || { cat "$OUT/log" >&2; exit 1; }
  line=$(python3 - "${r:-keep (default)}" "$dir/summary.json" "$base" <<'PY'
import json, sys
name, path, base = sys.argv[1], sys.argv[2], sys.argv[3]
j = json.load(open(path))
a = j["activations"]
peak = j["peak_device_bytes"]
if not base:  # the all-keep row: everything else = peak - L * round256(body)
    body = (a["body_bytes"] + 255) // 256 * 256
    base = peak - body * len(j["plan"]["block_modes"])
acts = peak - int(base)
d2h = (a["swap_out_bytes"] + a["compress_swap_out_bytes"]) / j["steps"]
print(f"{base}\t| {name} | {acts:,} | {peak:,} | {peak / 2**20:.2f} | "
      f"{j['plan']['pinned_host_bytes']:,} | {d2h:,.0f} | {j['final_loss']:.4f} |")
PY
)
  base=${line%%$'\t'*}
  echo "${line#*$'\t'}"
done
