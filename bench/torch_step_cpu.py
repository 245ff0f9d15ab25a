#!/usr/bin/env python3
"""The PyTorch eager twin of bench_cpu_step: the same GPT-2 or Llama shape written the idiomatic
way (nanoGPT-style modules; Llama with RMSNorm, rotary embeddings and SwiGLU), one training step
= forward, cross-entropy, backward, clip_grad_norm_(1.0), AdamW (betas 0.9/0.95, eps 1e-8,
weight decay 0.1 on 2-D weights only, as MART), zero_grad(set_to_none=True). Times each step
after the warmup by wall clock and process CPU time and prints one "JSON {...}" line.

  torch_step_cpu.py --family gpt2|llama [--layers 6 --width 384 --heads 6 --seq 256 --batch 4
                    --vocab 256 --steps 10 --warmup 2 --threads 1 --json FILE]

The parameter count is printed next to MART's by bench/cpu_step_vs_torch.sh, which refuses to
compare shapes whose counts differ.
"""
import argparse
import json
import math
import resource
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class CausalSelfAttention(nn.Module):
    def __init__(self, width, heads, seq, bias, rope):
        super().__init__()
        self.h, self.hs = heads, width // heads
        self.qkv = nn.Linear(width, 3 * width, bias=bias)
        self.proj = nn.Linear(width, width, bias=bias)
        self.register_buffer("mask", torch.tril(torch.ones(seq, seq, dtype=torch.bool)))
        self.rope = rope

    def forward(self, x, cos=None, sin=None):
        B, T, C = x.shape
        q, k, v = self.qkv(x).split(C, dim=2)
        q = q.view(B, T, self.h, self.hs).transpose(1, 2)
        k = k.view(B, T, self.h, self.hs).transpose(1, 2)
        v = v.view(B, T, self.h, self.hs).transpose(1, 2)
        if self.rope:
            q, k = apply_rope(q, cos, sin), apply_rope(k, cos, sin)
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(self.hs))
        att = att.masked_fill(~self.mask[:T, :T], float("-inf"))
        att = F.softmax(att, dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        return self.proj(y)


def rotate_half(x):
    x1, x2 = x.chunk(2, dim=-1)
    return torch.cat((-x2, x1), dim=-1)


def apply_rope(x, cos, sin):
    return x * cos + rotate_half(x) * sin


class RMSNorm(nn.Module):
    def __init__(self, width, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(width))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class Block(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.llama = a.family == "llama"
        W = a.width
        Norm = (lambda: RMSNorm(W)) if self.llama else (lambda: nn.LayerNorm(W))
        self.ln1, self.ln2 = Norm(), Norm()
        self.attn = CausalSelfAttention(W, a.heads, a.seq, bias=not self.llama, rope=self.llama)
        if self.llama:
            ff = (8 * W // 3 + 63) // 64 * 64
            self.gate = nn.Linear(W, ff, bias=False)
            self.up = nn.Linear(W, ff, bias=False)
            self.down = nn.Linear(ff, W, bias=False)
        else:
            self.fc = nn.Linear(W, 4 * W)
            self.proj = nn.Linear(4 * W, W)

    def forward(self, x, cos=None, sin=None):
        x = x + self.attn(self.ln1(x), cos, sin)
        h = self.ln2(x)
        if self.llama:
            return x + self.down(F.silu(self.gate(h)) * self.up(h))
        return x + self.proj(F.gelu(self.fc(h), approximate="tanh"))


class Model(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.llama = a.family == "llama"
        self.wte = nn.Embedding(a.vocab, a.width)
        if not self.llama:
            self.wpe = nn.Embedding(a.seq, a.width)
        self.blocks = nn.ModuleList(Block(a) for _ in range(a.layers))
        self.ln_f = RMSNorm(a.width) if self.llama else nn.LayerNorm(a.width)
        self.head = nn.Linear(a.width, a.vocab, bias=False)
        if not self.llama:
            self.head.weight = self.wte.weight  # GPT-2 ties
        else:
            hs = a.width // a.heads
            inv = 1.0 / (10000.0 ** (torch.arange(0, hs, 2).float() / hs))
            f = torch.outer(torch.arange(a.seq).float(), inv)
            emb = torch.cat((f, f), dim=-1)
            self.register_buffer("cos", emb.cos())
            self.register_buffer("sin", emb.sin())
        for p in self.parameters():
            if p.dim() >= 2:
                nn.init.normal_(p, std=0.02)

    def forward(self, idx, targets):
        T = idx.shape[1]
        x = self.wte(idx)
        cos = sin = None
        if self.llama:
            cos, sin = self.cos[:T], self.sin[:T]
        else:
            x = x + self.wpe(torch.arange(T))
        for b in self.blocks:
            x = b(x, cos, sin)
        logits = self.head(self.ln_f(x))
        return F.cross_entropy(logits.view(-1, logits.size(-1)), targets.view(-1))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--family", choices=["gpt2", "llama"], required=True)
    for k, d in [("layers", 6), ("width", 384), ("heads", 6), ("seq", 256), ("batch", 4),
                 ("vocab", 256), ("steps", 10), ("warmup", 2), ("threads", 1)]:
        p.add_argument("--" + k, type=int, default=d)
    p.add_argument("--json")
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1234)
    model = Model(a)
    decay = [q for q in model.parameters() if q.dim() >= 2]
    no_decay = [q for q in model.parameters() if q.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.1},
                             {"params": no_decay, "weight_decay": 0.0}],
                            lr=3e-4, betas=(0.9, 0.95), eps=1e-8)
    n_params = sum(q.numel() for q in model.parameters())
    g = torch.Generator().manual_seed(7)
    wall, cpu, faults, losses = [], [], [], []
    for s in range(1, a.warmup + a.steps + 1):
        x = torch.randint(0, a.vocab, (a.batch, a.seq), generator=g)
        y = (x * 7 + 3) % a.vocab
        f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        c0, t0 = time.process_time(), time.perf_counter()
        loss = model(x, y)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        opt.zero_grad(set_to_none=True)
        w, c = time.perf_counter() - t0, time.process_time() - c0
        losses.append(loss.item())
        if s > a.warmup:
            wall.append(w)
            cpu.append(c)
            faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
    med = lambda v: sorted(v)[len(v) // 2] if len(v) % 2 else 0.5 * sum(sorted(v)[len(v) // 2 - 1:len(v) // 2 + 1])
    tok = a.batch * a.seq
    print(f"torch {a.family}: {n_params} params, B={a.batch} T={a.seq}, {torch.get_num_threads()} "
          f"threads, median step {med(wall):.4f} s wall ({tok / med(wall):.0f} tok/s), "
          f"{med(cpu):.4f} s cpu ({tok / med(cpu):.0f} tok/s), {med(faults):.0f} page faults/step; loss {losses[0]:.4f} -> {losses[-1]:.4f}")
    out = {"impl": "torch", "torch": torch.__version__, "family": a.family, "params": n_params,
           "batch": a.batch, "seq": a.seq, "threads": torch.get_num_threads(), "wall_s": wall,
           "cpu_s": cpu, "minor_faults": faults, "first_loss": losses[0], "last_loss": losses[-1]}
    print("JSON " + json.dumps(out))
    if a.json:
        with open(a.json, "w") as f:
            json.dump(out, f)


if __name__ == "__main__":
    main()
