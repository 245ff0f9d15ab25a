#!/usr/bin/env python3
"""The PyTorch peer for MART's GPU training benchmark.

An independent implementation of the GPT-2 and Llama models MART trains (configs/models/*.yaml),
trained the standard fast PyTorch way: fp32 master weights, bf16 autocast, fused AdamW
(betas 0.9/0.95, weight decay on 2-D weights only), global-norm clipping at 1.0, SDPA flash
attention (causal, GQA for Llama). Eager or torch.compile. Synthetic tokens (throughput only).

Prints one JSON line and optionally writes it to --json:
  tokens_per_s  = batch * seq / median step time over the steps after warm-up
  peak_bytes    = torch.cuda.max_memory_allocated() over the run
  n_params, n_layer, d_model, seq, batch, mode, model, median_step_s, step_times_s

  python3 bench/gpu/torch_peer.py --model gpt2-124m --batch 16 --seq 1024 --steps 30 --mode eager
"""
import argparse
import json
import math
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

# The shapes of MART's presets (configs/models/*.yaml).
MODELS = {
    "gpt2-124m": dict(family="gpt2", n_layer=12, d_model=768, n_head=12, n_kv_head=12, d_ff=3072,
                      vocab=50257, max_seq=1024, tied=True),
    "gpt2-350m": dict(family="gpt2", n_layer=24, d_model=1024, n_head=16, n_kv_head=16, d_ff=4096,
                      vocab=50257, max_seq=1024, tied=True),
    "gpt2-774m": dict(family="gpt2", n_layer=36, d_model=1280, n_head=20, n_kv_head=20, d_ff=5120,
                      vocab=50257, max_seq=1024, tied=True),
    "gpt2-1.5b": dict(family="gpt2", n_layer=48, d_model=1600, n_head=25, n_kv_head=25, d_ff=6400,
                      vocab=50257, max_seq=1024, tied=True),
    "llama-1b": dict(family="llama", n_layer=16, d_model=2048, n_head=32, n_kv_head=8, d_ff=8192,
                     vocab=128256, max_seq=8192, tied=False, rope_theta=500000.0, eps=1e-5),
}


class GPT2Block(nn.Module):
    def __init__(self, c):
        super().__init__()
        C = c["d_model"]
        self.nh = c["n_head"]
        self.ln1 = nn.LayerNorm(C, eps=1e-5)
        self.qkv = nn.Linear(C, 3 * C)
        self.proj = nn.Linear(C, C)
        self.ln2 = nn.LayerNorm(C, eps=1e-5)
        self.fc = nn.Linear(C, c["d_ff"])
        self.fc_proj = nn.Linear(c["d_ff"], C)

    def forward(self, x):
        B, T, C = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (t.view(B, T, self.nh, C // self.nh).transpose(1, 2) for t in (q, k, v))
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        x = x + self.proj(y.transpose(1, 2).reshape(B, T, C))
        return x + self.fc_proj(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT2(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.wte = nn.Embedding(c["vocab"], c["d_model"])
        self.wpe = nn.Embedding(c["max_seq"], c["d_model"])
        self.blocks = nn.ModuleList(GPT2Block(c) for _ in range(c["n_layer"]))
        self.ln_f = nn.LayerNorm(c["d_model"], eps=1e-5)
        self.head = nn.Linear(c["d_model"], c["vocab"], bias=False)
        self.head.weight = self.wte.weight  # tied, as GPT-2
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, targets):
        T = idx.shape[1]
        x = self.wte(idx) + self.wpe(torch.arange(T, device=idx.device))
        for b in self.blocks:
            x = b(x)
        logits = self.head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def rope_tables(T, hs, theta, device):
    inv = theta ** (-torch.arange(0, hs // 2, device=device, dtype=torch.float64) * 2.0 / hs)
    ang = torch.arange(T, device=device, dtype=torch.float64)[:, None] * inv[None, :]
    return ang.cos().float(), ang.sin().float()


def apply_rope(x, cos, sin):  # rotate-half: pairs (j, j + hs/2)
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat([x1 * cos - x2 * sin, x2 * cos + x1 * sin], dim=-1).to(x.dtype)


class LlamaBlock(nn.Module):
    def __init__(self, c):
        super().__init__()
        C, nh, nkv = c["d_model"], c["n_head"], c["n_kv_head"]
        self.nh, self.nkv, self.hs = nh, nkv, C // nh
        self.n1 = nn.RMSNorm(C, eps=c["eps"])
        self.qkv = nn.Linear(C, (nh + 2 * nkv) * self.hs, bias=False)
        self.o = nn.Linear(nh * self.hs, C, bias=False)
        self.n2 = nn.RMSNorm(C, eps=c["eps"])
        self.gate_up = nn.Linear(C, 2 * c["d_ff"], bias=False)
        self.down = nn.Linear(c["d_ff"], C, bias=False)

    def forward(self, x, cos, sin):
        B, T, C = x.shape
        qkv = self.qkv(self.n1(x))
        q, k, v = qkv.split([self.nh * self.hs, self.nkv * self.hs, self.nkv * self.hs], dim=2)
        q = apply_rope(q.view(B, T, self.nh, self.hs).transpose(1, 2), cos, sin)
        k = apply_rope(k.view(B, T, self.nkv, self.hs).transpose(1, 2), cos, sin)
        v = v.view(B, T, self.nkv, self.hs).transpose(1, 2)
        y = F.scaled_dot_product_attention(q, k, v, is_causal=True, enable_gqa=self.nh != self.nkv)
        x = x + self.o(y.transpose(1, 2).reshape(B, T, -1))
        g, u = self.gate_up(self.n2(x)).chunk(2, dim=-1)
        return x + self.down(F.silu(g) * u)


class Llama(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.c = c
        self.embed = nn.Embedding(c["vocab"], c["d_model"])
        self.blocks = nn.ModuleList(LlamaBlock(c) for _ in range(c["n_layer"]))
        self.norm = nn.RMSNorm(c["d_model"], eps=c["eps"])
        self.head = nn.Linear(c["d_model"], c["vocab"], bias=False)
        if c["tied"]:
            self.head.weight = self.embed.weight
        for p in self.parameters():
            if p.dim() == 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, targets):
        T = idx.shape[1]
        hs = self.c["d_model"] // self.c["n_head"]
        cos, sin = rope_tables(T, hs, self.c["rope_theta"], idx.device)
        x = self.embed(idx)
        for b in self.blocks:
            x = b(x, cos, sin)
        logits = self.head(self.norm(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), targets.view(-1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, choices=sorted(MODELS))
    ap.add_argument("--batch", type=int, required=True)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--steps", type=int, default=30, help="steps including warm-up")
    ap.add_argument("--warmup", type=int, default=-1, help="default: 5 eager, 8 compile")
    ap.add_argument("--mode", choices=["eager", "compile"], default="eager")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--json", help="also write the result here")
    a = ap.parse_args()

    assert torch.cuda.is_available(), "torch_peer.py needs a CUDA GPU"
    torch.manual_seed(0)
    dev = torch.device("cuda")
    c = MODELS[a.model]
    assert a.seq <= c["max_seq"], f"seq {a.seq} > max_seq {c['max_seq']}"
    model = (GPT2(c) if c["family"] == "gpt2" else Llama(c)).to(dev)
    n_params = sum(p.numel() for p in model.parameters())  # tied weights counted once
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=a.lr, betas=(0.9, 0.95), eps=1e-8, fused=True)
    fwd = torch.compile(model) if a.mode == "compile" else model
    warmup = a.warmup if a.warmup >= 0 else (8 if a.mode == "compile" else 5)
    g = torch.Generator(device=dev).manual_seed(1)
    x = torch.randint(0, c["vocab"], (a.batch, a.seq + 1), device=dev, generator=g)
    idx, tgt = x[:, :-1].contiguous(), x[:, 1:].contiguous()

    torch.cuda.reset_peak_memory_stats()
    times, losses = [], []
    for step in range(max(a.steps, warmup + 3)):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = fwd(idx, tgt)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
        losses.append(loss.item())
    med = statistics.median(times[warmup:])
    res = dict(model=a.model, mode=a.mode, batch=a.batch, seq=a.seq, steps=len(times),
               warmup=warmup, n_params=n_params, n_layer=c["n_layer"], d_model=c["d_model"],
               tokens_per_s=a.batch * a.seq / med, median_step_s=med,
               peak_bytes=torch.cuda.max_memory_allocated(), final_loss=losses[-1],
               step_times_s=[round(t, 6) for t in times], device=torch.cuda.get_device_name(),
               torch=torch.__version__)
    assert math.isfinite(res["final_loss"]), "loss is not finite"
    line = json.dumps(res)
    print(line, flush=True)
    if a.json:
        with open(a.json, "w") as f:
            f.write(line + "\n")


if __name__ == "__main__":
    sys.exit(main())
