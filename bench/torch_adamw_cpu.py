#!/usr/bin/python3
"""PyTorch's CPU AdamW, the peer of MART's CPU AdamW (bench/cpu_adam_vs_torch.sh and
bench/cpu_adamw_torch_api.sh run it).

Times torch.optim.AdamW.step() with foreach=False, foreach=True and, where the installed torch
accepts it on CPU, fused=True; the same hyperparameters as bench_cpu_adam (lr 1e-3, betas
0.9/0.95, eps 1e-8, weight_decay 0.1); the median of --reps steps after --warmup steps.

The process's allocator environment matters more than the variant: torch's step allocates
temporaries the size of each parameter, and glibc malloc, as installed, serves blocks over 32 MiB
with mmap and gives them back with munmap, so every step page-faults its temporaries in afresh
(a 16M-parameter step: ~930 ms as installed, ~50 ms without the faults). This script cannot set
the environment itself (glibc reads it at process start); the shell scripts run it once as
installed and once with MALLOC_MMAP_THRESHOLD_ / MALLOC_TRIM_THRESHOLD_ raised (see
cpu_adam_vs_torch.sh). Each row records the minor page faults per timed step, so a run whose
environment did not take effect shows it (the median over the timed steps, as for the time).

Bytes are counted as the minimum AdamW moves, 28 B/param (read p, g, m, v; write p, m, v); the
temporaries torch's multi-pass implementation also streams are not counted.
"""
import argparse
import json
import os
import resource
import statistics
import sys
import time

import torch

BYTES_PER_PARAM = 28
HYPER = {"lr": 1e-3, "betas": (0.9, 0.95), "eps": 1e-8, "weight_decay": 0.1}
# The process environment that decides torch's step time besides the variant: the allocator's
# and libgomp's wait policy (whether idle OpenMP workers spin or sleep between parallel regions).
ALLOC_ENV = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES", "LD_PRELOAD",
             "OMP_WAIT_POLICY")


def parse_size(s):
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    s = s.strip()
    return int(s[:-1]) * units[s[-1].upper()] if s[-1].upper() in units else int(s)


def alloc_env():
    """The variables of ALLOC_ENV this process started with."""
    return {k: os.environ[k] for k in ALLOC_ENV if k in os.environ}


def faults():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_minflt + r.ru_majflt


def make_params(numels, seed=0):
    """fp32 parameters [numel] each with fp32 grads; values in a realistic range."""
    g = torch.Generator().manual_seed(seed)
    ps = []
    for n in numels:
        p = torch.nn.Parameter(torch.randn(n, generator=g) * 0.02)
        p.grad = torch.randn(n, generator=g) * 1e-2
        ps.append(p)
    return ps


def time_steps(step, reps, warmup):
    """Median seconds of step() and the median page faults of a timed step: a one-off (the heap
    growing by one temporary in a late step) does not move either median."""
    for _ in range(warmup):
        step()
    times, nfaults = [], []
    for _ in range(reps):
        f0 = faults()
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        nfaults.append(faults() - f0)
    return statistics.median(times), statistics.median(nfaults)


def time_torch_adamw(params, threads, reps, warmup, **kw):
    torch.set_num_threads(threads)
    opt = torch.optim.AdamW(params, **HYPER, **kw)
    s, f = time_steps(opt.step, reps, warmup)
    opt.state.clear()  # give the moments back before the next variant allocates its own
    return s, f


def variants():
    """[(name, kwargs)] torch accepts on CPU, and a note on fused=True."""
    v = [("foreach=False", {"foreach": False}), ("foreach=True", {"foreach": True})]
    try:  # torch 1.13's AdamW has no `fused` argument; 2.x accepts it (on CPU since 2.4)
        p = torch.nn.Parameter(torch.zeros(16))
        p.grad = torch.zeros(16)
        torch.optim.AdamW([p], fused=True).step()
        v.append(("fused=True", {"fused": True}))
        note = "accepted"
    except (TypeError, RuntimeError, ValueError) as e:
        note = f"not available on CPU in torch {torch.__version__} ({type(e).__name__}: {e})"
    return v, note


def row(variant, env_label, n, threads, seconds, faults_per_step):
    return {"impl": "torch", "variant": variant, "env": env_label, "n": n, "threads": threads,
            "median_s": seconds, "elems_per_s": n / seconds,
            "gbps": n * BYTES_PER_PARAM / seconds * 1e-9, "bytes_per_elem": BYTES_PER_PARAM,
            "faults_per_step": faults_per_step}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="16M,64M", help="one flat fp32 parameter of each size")
    ap.add_argument("--threads", default="", help="comma list; default torch's own count")
    ap.add_argument("--reps", type=int, default=9)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--env-label", required=True, help="names the allocator environment")
    ap.add_argument("--json-out", default="")
    a = ap.parse_args()
    sizes = [parse_size(s) for s in a.sizes.split(",")]
    threads = [int(t) for t in a.threads.split(",")] if a.threads else [torch.get_num_threads()]
    vs, fused_note = variants()
    print(f"torch {torch.__version__} [{a.env_label}] allocator env {alloc_env() or 'none'}; "
          f"fused=True: {fused_note}", flush=True)
    rows = []
    for n in sizes:
        params = make_params([n])
        for t in threads:
            for name, kw in vs:
                s, f = time_torch_adamw(params, t, a.reps, a.warmup, **kw)
                r = row(name, a.env_label, n, t, s, f)
                rows.append(r)
                print(f"torch {name:13s} {n >> 20:5d}M {t:2d} thr  {s * 1e3:9.2f} ms  "
                      f"{n / s * 1e-6:8.1f} Mparam/s  {r['gbps']:6.2f} GB/s  "
                      f"{f:8.0f} faults/step", flush=True)
        del params
    result = {"bench": "torch_adamw_cpu", "torch": torch.__version__, "fused": fused_note,
              "env_label": a.env_label, "alloc_env": alloc_env(), "reps": a.reps,
              "warmup": a.warmup, "rows": rows}
    print("JSON " + json.dumps(result))
    if a.json_out:
        with open(a.json_out, "w") as f:
            json.dump(result, f)


if __name__ == "__main__":
    sys.exit(main())
