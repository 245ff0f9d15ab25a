#!/usr/bin/python3
"""PyTorch's CPU scaled-dot-product attention, the peer for MART's CPU attention
(bench/cpu_attention_vs_torch.sh runs both).

Does the work of MART's attention_forward / attention_backward in fp32 on the same shapes: from a
packed qkv[B,T,(NH+2*NKV)*HS] (NH query heads, then NKV key heads, then NKV value heads), split
the heads, repeat each kv head for its NH/NKV query heads (torch's SDPA has no grouped-query
mode), causal SDPA, and out[B,T,NH*HS]; fwd+bwd adds out.backward(dout), which produces
dqkv[B,T,(NH+2*NKV)*HS] as MART's backward does. torch 1.13 (Debian's python3-torch) has SDPA only
as the private F._scaled_dot_product_attention (public from 2.0); whichever exists is used, with
is_causal=True. Medians after warmup, torch.set_num_threads per thread count.

With --mart-json (the file bench_cpu_attention --json wrote) it prints the side-by-side table and
the ratios torch / MART (time; > 1 means MART is faster).
"""
import argparse
import json
import statistics
import sys
import time

import torch
import torch.nn.functional as F


def sdpa():
    if hasattr(F, "scaled_dot_product_attention"):
        return "F.scaled_dot_product_attention", \
            lambda q, k, v: F.scaled_dot_product_attention(q, k, v, is_causal=True)
    # torch 1.13: (query, key, value, attn_mask, dropout_p, need_attn_weights, is_causal)
    return "F._scaled_dot_product_attention", \
        lambda q, k, v: F._scaled_dot_product_attention(q, k, v, None, 0.0, False, True)[0]


def parse_shape(s):
    b, t, nh, nkv, hs = (int(x) for x in s.split("x"))
    return b, t, nh, nkv, hs


def attention(qkv, nh, nkv, hs, fn):
    """qkv[B,T,(NH+2NKV)*HS] -> out[B,T,NH*HS], causal, GQA by repeating kv heads."""
    b, t, _ = qkv.shape
    q, k, v = qkv.split([nh * hs, nkv * hs, nkv * hs], dim=-1)
    q = q.view(b, t, nh, hs).transpose(1, 2)  # [B,NH,T,HS]
    k = k.view(b, t, nkv, hs).transpose(1, 2).repeat_interleave(nh // nkv, dim=1)
    v = v.view(b, t, nkv, hs).transpose(1, 2).repeat_interleave(nh // nkv, dim=1)
    o = fn(q, k, v)  # [B,NH,T,HS]
    return o.transpose(1, 2).reshape(b, t, nh * hs)


def median_time(fn, reps, warmup):
    for _ in range(warmup):
        fn()
    ts = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def bench(shape, threads, reps, warmup, fn):
    torch.set_num_threads(threads)
    b, t, nh, nkv, hs = shape
    g = torch.Generator().manual_seed(42)
    qkv = torch.rand(b, t, (nh + 2 * nkv) * hs, generator=g) * 2 - 1
    dout = torch.rand(b, t, nh * hs, generator=g) * 2 - 1

    def fwd():
        with torch.no_grad():
            attention(qkv, nh, nkv, hs, fn)

    qkv_g = qkv.clone().requires_grad_(True)

    def fwd_bwd():
        qkv_g.grad = None
        attention(qkv_g, nh, nkv, hs, fn).backward(dout)

    return median_time(fwd, reps, warmup), median_time(fwd_bwd, reps, warmup)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--shapes", default="8x64x8x4x32,2x1024x8x4x32")
    ap.add_argument("--threads", default="")
    ap.add_argument("--reps", type=int, default=21)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--mart-json", default="")
    a = ap.parse_args()
    threads = [int(x) for x in a.threads.split(",")] if a.threads else [torch.get_num_threads()]
    name, fn = sdpa()
    print(f"torch {torch.__version__}; {name}(is_causal=True), kv heads repeated for GQA",
          flush=True)
    rows = []
    for s in a.shapes.split(","):
        shape = parse_shape(s)
        for t in threads:
            f, fb = bench(shape, t, a.reps, a.warmup, fn)
            rows.append({"shape": s, "threads": t, "fwd_s": f, "fwd_bwd_s": fb})
            print(f"torch  {s:16s} {t:2d} thr  fwd {f * 1e3:9.3f} ms  fwd+bwd {fb * 1e3:9.3f} ms",
                  flush=True)
    result = {"bench": "torch_attention_cpu", "torch": torch.__version__, "sdpa": name,
              "reps": a.reps, "warmup": a.warmup, "rows": rows}
    print("JSON " + json.dumps(result))
    if a.mart_json:
        with open(a.mart_json) as f:
            table(json.load(f), result)


def table(mart, tres):
    print()
    print(f"{'shape BxTxNHxNKVxHS':20s} {'thr':>3}  {'MART fwd':>10} {'torch fwd':>10} "
          f"{'torch/MART':>10}  {'MART f+b':>10} {'torch f+b':>10} {'torch/MART':>10}")
    for r in tres["rows"]:
        m = [x for x in mart["rows"] if x["shape"] == r["shape"] and x["threads"] == r["threads"]]
        if not m:
            continue
        m = m[0]
        print(f"{r['shape']:20s} {r['threads']:3d}  {m['fwd_s'] * 1e3:8.3f}ms "
              f"{r['fwd_s'] * 1e3:8.3f}ms {r['fwd_s'] / m['fwd_s']:9.2f}x  "
              f"{m['fwd_bwd_s'] * 1e3:8.3f}ms {r['fwd_bwd_s'] * 1e3:8.3f}ms "
              f"{r['fwd_bwd_s'] / m['fwd_bwd_s']:9.2f}x")


if __name__ == "__main__":
    sys.exit(main())
