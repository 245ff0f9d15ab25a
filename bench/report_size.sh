#!/usr/bin/env bash
# How `mart report` scales with a long run: a synthetic run directory of STEPS metrics lines (an
# evaluation every 1000 steps), then the time `mart report` takes, the page's size, and (when
# Chromium is installed) that headless Chromium opens it and finds STEPS points in each loss series
# (tests/browser/check_html.py), with the time that took. Every step is one point: no decimation.
#
#   bench/report_size.sh                 # build dir build-cpu, 100000 steps
#   BUILD_DIR=build STEPS=20000 bench/report_size.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${BUILD_DIR:-build-cpu}
STEPS=${STEPS:-100000}
cmake --build "$BUILD_DIR" --target mart -j2 >/dev/null
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
/usr/bin/python3 - "$work/run" "$STEPS" <<'PY'
import json, os, sys
os.makedirs(sys.argv[1])
with open(os.path.join(sys.argv[1], "metrics.jsonl"), "w") as f:
    for i in range(1, int(sys.argv[2]) + 1):
        m = {"step": i, "loss": 5 - i * 1e-5, "lr": 1e-3, "grad_norm": 1 + i % 7 * 0.1,
             "step_s": 0.5, "tokens_per_s": 1000.0 + i % 13, "peak_device_bytes": 1 << 30,
             "tokens": 512 * i}
        if i % 1000 == 0:
            m["val_loss"] = m["loss"]
        f.write(json.dumps(m) + "\n")
PY
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs; $(date -u +%F); $STEPS steps"
start=$(date +%s.%N)
"$BUILD_DIR/mart" report "$work/run" -o "$work/report.html" >/dev/null
end=$(date +%s.%N)
echo "mart report: $(echo "$end - $start" | bc) s, page $(stat -c %s "$work/report.html") bytes"
start=$(date +%s.%N)
set +e
/usr/bin/python3 tests/browser/check_html.py "$work/report.html" \
  --expect-series "loss=$STEPS" --expect-series "val_loss=$((STEPS / 1000))" >/dev/null
rc=$?
set -e
end=$(date +%s.%N)
case $rc in
  0) echo "chromium: opened, $STEPS points per loss series, $(echo "$end - $start" | bc) s" ;;
  77) echo "chromium: not installed, not checked" ;;
  *) echo "chromium: check_html failed (exit $rc)"; exit 1 ;;
esac
