#!/usr/bin/env bash
# The README's two pictures, made from real runs (nothing drawn by hand):
#   docs/images/report.png         the top of `mart report` for two runs of the default job,
#                                  overlaid: resident at lr 3e-3, and planned by memory.mode auto
#                                  into a 40 MiB device (every chunk streamed, every block's
#                                  activations swapped) at lr 1e-3
#   docs/images/plan-timeline.png  `mart plan --gpu-mem 40MiB --hardware PROFILE --html --measured`
#                                  for that second run (PROFILE from `mart profile` on this
#                                  machine): the simulated iteration above the measured one
#                                  (the page's other sections left out of the picture)
# Usage: scripts/readme_pictures.sh [BUILD_DIR]   (default build-cpu; needs chromium; ~1 minute)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build-cpu}"
mart="$build/mart"
[ -x "$mart" ] || { echo "no $mart: build first (cmake --preset cpu && cmake --build --preset cpu)" >&2; exit 1; }
work="$(mktemp -d /tmp/mart-pictures.XXXXXX)"
trap 'rm -rf "$work"' EXIT
planned=(--set memory.mode=auto --set memory.device_capacity=40MiB)

"$mart" train --no-progress --run-dir "$work/resident" >/dev/null
"$mart" train --no-progress --run-dir "$work/offloaded" --set train.lr=1e-3 "${planned[@]}" \
  >/dev/null
"$mart" report "$work/resident" "$work/offloaded" -o "$work/report.html" >/dev/null
# Plan with this machine's measured figures (`mart profile`), as memory.mode auto did for the run.
"$mart" profile --no-progress -o "$work/profile.json" >/dev/null
"$mart" plan --no-progress --gpu-mem 40MiB --hardware "$work/profile.json" --html "$work/plan.html" \
  --measured "$work/offloaded" >/dev/null

# The picture of the plan shows its two timelines and the comparison: drop the other sections.
/usr/bin/python3 - "$work/plan.html" "$work/plan-timelines.html" <<'PY'
import re, sys
page = open(sys.argv[1], encoding="utf-8").read()
keep = ("timeline", "measured-timeline", "predicted-vs-measured")
def section(m):
    return m.group(0) if m.group(1) in keep else ""
page = re.sub(r'<section id="([^"]+)">.*?</section>', section, page, flags=re.S)
page = re.sub(r"<nav.*?</nav>", "", page, flags=re.S)
open(sys.argv[2], "w", encoding="utf-8").write(page)
PY

mkdir -p docs/images
check=tests/browser/check_html.py
/usr/bin/python3 "$check" "$work/report.html" --width 1200 --height 1800 \
  --screenshot docs/images/report.png >/dev/null
/usr/bin/python3 "$check" "$work/plan-timelines.html" --width 1200 --height 1100 \
  --expect-section timeline --expect-section measured-timeline \
  --screenshot docs/images/plan-timeline.png >/dev/null
echo "wrote docs/images/report.png and docs/images/plan-timeline.png"
