#!/usr/bin/env python3
"""Tabulates MART vs PyTorch training throughput from one run_all.sh run.

Reads <runs>/mart_<model>/summary.json (MART: tokens_per_s, peak_device_bytes, params) and
<runs>/torch_<model>_<mode>.json (bench/gpu/torch_peer.py), prints a markdown table and writes
it plus a JSON of all numbers.

MFU follows llm.c: flops/token = 6*N + 6*L*C*T (N parameters, L layers, C width, T sequence),
MFU = flops/token * tokens/s / peak, against the H100 SXM dense bf16 peak (989 TFLOP/s) and
against the ~790 TFLOP/s a bf16 GEMM measures on the lent machines.

  python3 bench/gpu/report.py --runs out/work/runs --models "gpt2-124m llama-1b" \
      --out-md out/report.md --out-json out/results.json
"""
import argparse
import json
import os

PEAK_SPEC = 989e12
PEAK_MEASURED = 790e12

# (n_layer, d_model) per preset, for the MFU attention term; N comes from the runs themselves
# (MART's summary "params", else the PyTorch peer's count, else this fallback).
SHAPES = {
    "gpt2-124m": (12, 768, 124_439_808),
    "gpt2-350m": (24, 1024, 354_823_168),
    "gpt2-774m": (36, 1280, 774_030_080),
    "gpt2-1.5b": (48, 1600, 1_557_611_200),
    "llama-1b": (16, 2048, 1_498_482_688),
}


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def gib(b):
    return f"{b / 2**30:.1f}" if b else "-"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", required=True)
    ap.add_argument("--models", required=True)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--batches", default="", help="model=batch,... (for the table)")
    ap.add_argument("--out-md")
    ap.add_argument("--out-json")
    a = ap.parse_args()
    batches = dict(kv.split("=") for kv in a.batches.split(",") if "=" in kv)

    rows, data = [], {}
    for m in a.models.split():
        L, C, n_fallback = SHAPES.get(m, (0, 0, 0))
        mart = load(os.path.join(a.runs, f"mart_{m}", "summary.json"))
        peers = {mode: load(os.path.join(a.runs, f"torch_{m}_{mode}.json"))
                 for mode in ("eager", "compile")}
        n = (mart or {}).get("params") or next(
            (p["n_params"] for p in peers.values() if p), n_fallback)
        fpt = 6 * n + 6 * L * C * a.seq

        def mfu(tps):
            return (f"{100 * fpt * tps / PEAK_SPEC:.1f} / {100 * fpt * tps / PEAK_MEASURED:.1f}"
                    if tps else "-")

        mt = (mart or {}).get("tokens_per_s", 0)
        best_mode, best = None, 0
        for mode, p in peers.items():
            if p and p["tokens_per_s"] > best:
                best_mode, best = mode, p["tokens_per_s"]
        data[m] = dict(n_params=n, flops_per_token=fpt, mart=mart, torch=peers,
                       mart_tokens_per_s=mt, best_torch_mode=best_mode, best_torch_tokens_per_s=best,
                       ratio=(mt / best if mt and best else None))
        tp = lambda mode: f"{peers[mode]['tokens_per_s']:,.0f}" if peers[mode] else "-"
        rows.append([
            m, batches.get(m, "-"),
            f"{mt:,.0f}" if mt else "FAILED" if mart is None else "-", mfu(mt),
            gib((mart or {}).get("peak_device_bytes")),
            tp("eager"), tp("compile"), mfu(best),
            gib(peers[best_mode]["peak_bytes"]) if best_mode else "-",
            f"{mt / best:.2f}" if mt and best else "-",
        ])

    head = ["model", "batch", "MART tok/s", "MART MFU % (989 / 790)", "MART peak GiB",
            "torch eager tok/s", "torch compile tok/s", "best torch MFU % (989 / 790)",
            "best torch peak GiB", "MART / best torch"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    note = (f"seq {a.seq}; tokens/s = median over steps after warm-up; MFU = (6N + 6LCT) x tok/s "
            f"/ peak (989 TFLOP/s H100 SXM spec / 790 measured); MART peak = arena peak "
            f"(excludes CudaOps workspaces), torch peak = max_memory_allocated.")
    md = "\n".join(lines) + "\n\n" + note + "\n"
    print(md)
    if a.out_md:
        with open(a.out_md, "w") as f:
            f.write(md)
    if a.out_json:
        with open(a.out_json, "w") as f:
            json.dump(data, f, indent=2)


if __name__ == "__main__":
    main()
