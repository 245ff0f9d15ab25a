#!/usr/bin/python3
"""Side-by-side table of MART's CPU AdamW (bench_cpu_adam --json) and torch's CPU AdamW
(torch_adamw_cpu.py --json-out, one file per allocator environment); bench/cpu_adam_vs_torch.sh
runs it.

  adamw_table.py MART_JSON TORCH_JSON... [--reference-env as-installed]

Per (size, threads): every MART and torch row, then the ratios in params/s of
- MART same work (fp32 grad, no param copy: torch's exact work, 28 B/param both) / torch's best
  variant over the fair environments (every environment but the reference one);
- MART's offload config (fp32 grad -> bf16 param copy, 30 B/param: strictly more work) / the same;
- MART same work / torch's best as installed (the reference environment), labelled as such;
- MART same work / the triad at that thread count, in GB/s (the memory bandwidth there is).
Both sides count bytes the same way: what the update must move, never the temporaries.
"""
import argparse
import json
import sys

SAME_WORK = "f32g_noout"
OFFLOAD = "f32g_bf16out"
MART_NAMES = {SAME_WORK: "MART same work (f32 grad, no copy)",
              OFFLOAD: "MART f32 grad -> bf16 copy (30 B)"}


def load(path):
    with open(path) as f:
        return json.load(f)


def mart_rows(mart, n, t):
    rows = []
    for cfg in (SAME_WORK, OFFLOAD):
        for r in mart["rows"]:
            if (r["kind"] == "adamw" and r["mode"] == "pool" and r["config"] == cfg
                    and r["n"] == n and r["threads"] == t):
                rows.append((f"{MART_NAMES[cfg]} [{r['isa']}]", r))
    return rows


def print_row(n, t, name, r):
    faults = r.get("faults_per_step")
    fs = f"{faults:9.0f}" if faults is not None else f"{'-':>9}"
    print(f"{n >> 20:5d}M {t:3d}  {name:52s} {r['median_s'] * 1e3:9.2f} "
          f"{r['elems_per_s'] * 1e-6:9.1f} {r['gbps']:7.2f} {fs}")


def cell(mart, torch_rows, triad, n, t, ref_env, summary):
    mrows = mart_rows(mart, n, t)
    trows = [r for r in torch_rows if r["n"] == n and r["threads"] == t]
    for name, r in mrows:
        print_row(n, t, name, r)
    for r in trows:
        ref = " (reference)" if r["env"] == ref_env else ""
        print_row(n, t, f"torch {r['variant']} [{r['env']}]{ref}", r)
    same = [r for name, r in mrows if r["config"] == SAME_WORK]
    off = [r for name, r in mrows if r["config"] == OFFLOAD]
    fair = [r for r in trows if r["env"] != ref_env]
    ref = [r for r in trows if r["env"] == ref_env]
    if not same or not fair:
        return
    best = max(fair, key=lambda r: r["elems_per_s"])
    ratio = same[0]["elems_per_s"] / best["elems_per_s"]
    line = {"n": n, "threads": t, "torch_best": f"{best['variant']} [{best['env']}]",
            "torch_best_ms": best["median_s"] * 1e3, "mart_ms": same[0]["median_s"] * 1e3,
            "ratio": ratio}
    print(f"{'':11s} MART same work / torch best ({best['variant']}, {best['env']}): "
          f"{ratio:.2f}x params/s")
    if off:
        line["ratio_offload"] = off[0]["elems_per_s"] / best["elems_per_s"]
        print(f"{'':11s} MART f32->bf16 copy / torch best: {line['ratio_offload']:.2f}x params/s")
    if ref:
        rbest = max(ref, key=lambda r: r["elems_per_s"])
        line["ratio_reference"] = same[0]["elems_per_s"] / rbest["elems_per_s"]
        print(f"{'':11s} reference only: MART same work / torch as installed "
              f"({rbest['variant']}): {line['ratio_reference']:.2f}x")
    if t in triad:
        line["vs_triad"] = same[0]["gbps"] / triad[t]
        print(f"{'':11s} MART same work / triad ({triad[t]:.2f} GB/s at {t} thr): "
              f"{line['vs_triad']:.2f}")
    summary.append(line)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("mart_json")
    ap.add_argument("torch_json", nargs="+")
    ap.add_argument("--reference-env", default="as-installed")
    a = ap.parse_args()
    mart = load(a.mart_json)
    torch_res = [load(p) for p in a.torch_json]
    torch_rows = [r for res in torch_res for r in res["rows"]]
    triad = {}
    for r in mart["rows"]:
        if r["kind"] == "triad":
            triad[r["threads"]] = max(triad.get(r["threads"], 0.0), r["gbps"])
    print()
    for res in torch_res:
        print(f"torch env [{res['env_label']}]: {res['alloc_env'] or 'no allocator variables'}")
    print(f"torch {torch_res[0]['torch']}; fused=True: {torch_res[0]['fused']}")
    print("bytes counted per param: 28 for torch and MART same work (read p, g, m, v; write "
          "p, m, v), 30 for MART's bf16 copy; medians;")
    print("faults = minor page faults per timed step (median over the steps; ~0 when the "
          "allocator environment took effect)")
    print(f"{'size':>6} {'thr':>3}  {'implementation':52s} {'ms/step':>9} {'Mparam/s':>9} "
          f"{'GB/s':>7} {'faults':>9}")
    summary = []
    for n in sorted({r["n"] for r in torch_rows}):
        for t in sorted({r["threads"] for r in torch_rows if r["n"] == n}):
            cell(mart, torch_rows, triad, n, t, a.reference_env, summary)
    print()
    print(f"{'size':>6} {'thr':>3}  {'MART ms':>8} {'torch best ms':>13}  {'MART/torch':>10}  "
          f"{'as-installed ref':>16}  torch best variant")
    for s in summary:
        ref = f"{s['ratio_reference']:.2f}x" if "ratio_reference" in s else "-"
        print(f"{s['n'] >> 20:5d}M {s['threads']:3d}  {s['mart_ms']:8.2f} "
              f"{s['torch_best_ms']:13.2f}"
              f"  {s['ratio']:9.2f}x  {ref:>16}  {s['torch_best']}")
    if summary:
        worst = min(s["ratio"] for s in summary)
        print(f"worst cell: MART same work / torch best {worst:.2f}x (bar >= 2x: "
              f"{'met' if worst >= 2 else 'MISSED'})")
    print("JSON " + json.dumps({"bench": "adamw_table", "cells": summary}))


if __name__ == "__main__":
    sys.exit(main())
