#!/usr/bin/env python3
"""Summarises bench/cpu_step_vs_torch.sh's runs: per family and side the median over runs of each
run's median step time, as tokens/s by CPU time and by wall clock, and the ratio MART / torch.
Refuses to compare when the two sides' parameter counts differ (not the same model).

  step_table.py DIR     # DIR holds {mart,torch}_<family>_<round>.json
"""
import glob
import json
import os
import statistics
import sys


def load(d, impl, fam):
    runs = [json.load(open(f)) for f in sorted(glob.glob(os.path.join(d, f"{impl}_{fam}_*.json")))]
    if not runs:
        sys.exit(f"step_table.py: no {impl} runs for {fam} in {d}")
    return runs


def main():
    d = sys.argv[1]
    fams = sorted({os.path.basename(f).split("_")[1] for f in glob.glob(os.path.join(d, "mart_*.json"))})
    print(f"{'family':7} {'params':>9} {'runs':>4} | {'MART tok/s cpu':>14} {'torch tok/s cpu':>15} "
          f"{'ratio':>6} | {'MART tok/s wall':>15} {'torch tok/s wall':>16} {'ratio':>6} | bar 1.2x")
    ok = True
    for fam in fams:
        m, t = load(d, "mart", fam), load(d, "torch", fam)
        if m[0]["params"] != t[0]["params"]:
            sys.exit(f"step_table.py: {fam}: MART has {m[0]['params']} params, torch "
                     f"{t[0]['params']}: not the same model")
        tok = m[0]["batch"] * m[0]["seq"]
        res = {}
        for key in ("cpu_s", "wall_s"):
            ms = statistics.median(statistics.median(r[key]) for r in m)
            ts = statistics.median(statistics.median(r[key]) for r in t)
            res[key] = (tok / ms, tok / ts, ts / ms)
        c, w = res["cpu_s"], res["wall_s"]
        met = c[2] >= 1.2
        ok &= met
        print(f"{fam:7} {m[0]['params']:>9} {len(m):>4} | {c[0]:>14.0f} {c[1]:>15.0f} {c[2]:>5.2f}x | "
              f"{w[0]:>15.0f} {w[1]:>16.0f} {w[2]:>5.2f}x | {'met' if met else 'NOT met'}")
    print("JSON " + json.dumps({"bar_met": ok}))


if __name__ == "__main__":
    main()
