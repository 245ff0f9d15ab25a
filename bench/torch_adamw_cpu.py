#!/usr/bin/python3
"""PyTorch's CPU AdamW, the peer bar for MART's CPU Adam (bench/cpu_adam_vs_torch.sh runs both).

Times torch.optim.AdamW.step() on one flat fp32 parameter of each size, with foreach=True,
foreach=False and, where the installed torch accepts it on CPU, fused=True; same hyperparameters
as bench_cpu_adam (lr 1e-3, betas 0.9/0.95, eps 1e-8, weight_decay 0.1); median after warmup.
Bytes are counted as the minimum AdamW needs, 28 B/param (read p, g, m, v; write p, m, v): the
temporaries torch's multi-pass implementation allocates and streams are not counted.

With --mart-json (the file bench_cpu_adam --json wrote) it prints the side-by-side table and the
ratios MART/torch-best (params/s) and MART/triad (GB/s).
"""
import argparse
import json
import statistics
import sys
import time

import torch

TORCH_BYTES_PER_PARAM = 28
HEADLINE = "f32g_bf16out"  # MART config compared against torch: fp32 grads, bf16 param copy out


def parse_size(s):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    s = s.strip()
    return int(s[:-1]) * units[s[-1].upper()] if s[-1].upper() in units else int(s)


def time_step(n, threads, reps, warmup, **kw):
    torch.set_num_threads(threads)
    g = torch.Generator().manual_seed(0)
    p = torch.nn.Parameter(torch.randn(n, generator=g) * 0.02)
    p.grad = torch.randn(n, generator=g) * 1e-2
    opt = torch.optim.AdamW([p], lr=1e-3, betas=(0.9, 0.95), eps=1e-8, weight_decay=0.1, **kw)
    for _ in range(warmup):
        opt.step()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        opt.step()
        times.append(time.perf_counter() - t0)
    del opt, p
    return statistics.median(times)


def variants():
    v = [("foreach", {"foreach": True}), ("for-loop", {"foreach": False})]
    try:  # torch 1.13's AdamW has no `fused` argument; 2.x accepts it (CPU since 2.4)
        p = torch.nn.Parameter(torch.zeros(16))
        p.grad = torch.zeros(16)
        torch.optim.AdamW([p], fused=True).step()
        v.append(("fused", {"fused": True}))
        fused_note = "accepted"
    except (TypeError, RuntimeError, ValueError) as e:
        fused_note = f"not available on CPU in torch {torch.__version__} ({type(e).__name__}: {e})"
    return v, fused_note


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="16M,64M")
    ap.add_argument("--threads", default="")
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--mart-json", default="")
    ap.add_argument("--json-out", default="")
    a = ap.parse_args()
    sizes = [parse_size(s) for s in a.sizes.split(",")]
    threads = [int(t) for t in a.threads.split(",")] if a.threads else [torch.get_num_threads()]
    vs, fused_note = variants()
    print(f"torch {torch.__version__}; fused=True: {fused_note}", flush=True)
    rows = []
    for n in sizes:
        for t in threads:
            for name, kw in vs:
                s = time_step(n, t, a.reps, a.warmup, **kw)
                r = {"variant": name, "n": n, "threads": t, "median_s": s, "elems_per_s": n / s,
                     "gbps": n * TORCH_BYTES_PER_PARAM / s * 1e-9}
                rows.append(r)
                print(f"torch  {name:9s} {n >> 20:5d}M {t:2d} thr  {s * 1e3:9.2f} ms  "
                      f"{n / s * 1e-6:8.1f} Mparam/s  {r['gbps']:6.2f} GB/s", flush=True)
    result = {"bench": "torch_adamw_cpu", "torch": torch.__version__, "fused": fused_note,
              "reps": a.reps, "warmup": a.warmup, "rows": rows}
    print("JSON " + json.dumps(result))
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(result, f)
    if a.mart_json:
        with open(a.mart_json) as f:
            table(json.load(f), result)


def table(mart, torch_res):
    """Side-by-side table per (size, threads) and the two bars."""
    mrows = mart["rows"]
    triad = {}
    for r in mrows:
        if r["kind"] == "triad":
            triad[r["threads"]] = max(triad.get(r["threads"], 0.0), r["gbps"])
    print()
    print(f"{'size':>6} {'thr':>3}  {'implementation':34s} {'ms/step':>9} {'Mparam/s':>9} "
          f"{'GB/s':>7}")
    worst_torch, worst_triad = None, None
    for n in sorted({r["n"] for r in torch_res["rows"]}):
        for t in sorted({r["threads"] for r in torch_res["rows"] if r["n"] == n}):
            lines = []
            for r in mrows:
                if r["kind"] == "adamw" and r["n"] == n and r["mode"] == "pool" and r["threads"] == t:
                    lines.append((f"MART {r['config']} ({r['isa']})", r))
            tr = [r for r in torch_res["rows"] if r["n"] == n and r["threads"] == t]
            for r in tr:
                lines.append((f"torch AdamW {r['variant']}", r))
            for name, r in lines:
                print(f"{n >> 20:5d}M {t:3d}  {name:34s} {r['median_s'] * 1e3:9.2f} "
                      f"{r['elems_per_s'] * 1e-6:9.1f} {r['gbps']:7.2f}")
            head = [r for name, r in lines if name.startswith(f"MART {HEADLINE}")]
            if not head or not tr:
                continue
            best = max(tr, key=lambda r: r["elems_per_s"])
            vs_torch = head[0]["elems_per_s"] / best["elems_per_s"]
            vs_triad = head[0]["gbps"] / triad[t] if t in triad else float("nan")
            print(f"{'':11s} MART {HEADLINE} / torch best ({best['variant']}): {vs_torch:.2f}x "
                  f"params/s   (bar >= 2x: {'met' if vs_torch >= 2 else 'MISSED'})")
            print(f"{'':11s} MART {HEADLINE} / triad ({triad.get(t, float('nan')):.2f} GB/s at "
                  f"{t} thr): {vs_triad:.2f}   (bar >= 0.70: "
                  f"{'met' if vs_triad >= 0.7 else 'MISSED'})")
            worst_torch = vs_torch if worst_torch is None else min(worst_torch, vs_torch)
            worst_triad = vs_triad if worst_triad is None else min(worst_triad, vs_triad)
    print()
    print(f"best triad {mart['best_triad_gbps']:.2f} GB/s, best MART AdamW "
          f"{mart['best_adamw_gbps']:.2f} GB/s: ratio {mart['ratio_adamw_triad']:.2f}")
    if worst_torch is not None:
        print(f"worst cell: MART/torch-best {worst_torch:.2f}x, MART/triad {worst_triad:.2f}")


if __name__ == "__main__":
    sys.exit(main())
