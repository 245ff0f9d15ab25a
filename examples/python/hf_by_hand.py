#!/usr/bin/env python3
"""Trains a small Llama in plain PyTorch and writes it, by hand, in Hugging Face's layout:

    OUT/model.safetensors        F32 weights under transformers' LlamaForCausalLM names
    OUT/config.json              model_type llama, sizes, rope_theta, rms_norm_eps, ...
    OUT/generation_config.json   bos/eos ids
    OUT/tokenizer.model          the SentencePiece model the shard was prepared with

No transformers, no safetensors package: the point is that a folder any tool writes in this
layout is a model MART can run (`mart generate OUT --prompt ...`, `mart eval OUT DATA`). It reads
an llm.c token shard (as `mart prepare-data --tokenizer` writes it):

    python3 examples/python/hf_by_hand.py --train data/shake.bin \
        --tokenizer tok/shake.model --out hf-by-hand --steps 600
"""
import argparse
import json
import math
import os
import shutil
import struct
import time

import numpy as np
import torch
import torch.nn.functional as F

SHARD_MAGIC = {20240520: np.uint16, 20240801: np.uint32}


def read_shard(path):
    header = np.fromfile(path, dtype=np.int32, count=256)
    dtype = SHARD_MAGIC.get(int(header[0]))
    if dtype is None:
        raise SystemExit(f"{path}: not an llm.c token shard (magic {header[0]})")
    tokens = np.fromfile(path, dtype=dtype, offset=1024, count=int(header[2]))
    return torch.from_numpy(tokens.astype(np.int64))


class Block(torch.nn.Module):
    def __init__(self, d, n_head, n_kv_head, d_ff):
        super().__init__()
        hd = d // n_head
        self.n_head, self.n_kv_head, self.hd = n_head, n_kv_head, hd
        self.input_layernorm = torch.nn.Parameter(torch.ones(d))
        self.post_attention_layernorm = torch.nn.Parameter(torch.ones(d))
        self.q_proj = torch.nn.Linear(d, n_head * hd, bias=False)
        self.k_proj = torch.nn.Linear(d, n_kv_head * hd, bias=False)
        self.v_proj = torch.nn.Linear(d, n_kv_head * hd, bias=False)
        self.o_proj = torch.nn.Linear(n_head * hd, d, bias=False)
        self.gate_proj = torch.nn.Linear(d, d_ff, bias=False)
        self.up_proj = torch.nn.Linear(d, d_ff, bias=False)
        self.down_proj = torch.nn.Linear(d_ff, d, bias=False)


def rms_norm(x, w, eps):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + eps) * w


def rotate_half(x):  # Hugging Face's convention: the two halves of each head, not pairs
    half = x.shape[-1] // 2
    return torch.cat((-x[..., half:], x[..., :half]), dim=-1)


class Llama(torch.nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        d = cfg["hidden_size"]
        self.embed_tokens = torch.nn.Embedding(cfg["vocab_size"], d)
        self.layers = torch.nn.ModuleList(
            Block(d, cfg["num_attention_heads"], cfg["num_key_value_heads"],
                  cfg["intermediate_size"]) for _ in range(cfg["num_hidden_layers"]))
        self.norm = torch.nn.Parameter(torch.ones(d))
        self.lm_head = torch.nn.Linear(d, cfg["vocab_size"], bias=False)
        for p in self.parameters():
            if p.dim() == 2:
                torch.nn.init.normal_(p, std=0.02)

    def forward(self, idx):  # idx: [B, T] -> logits [B, T, V]
        B, T = idx.shape
        eps, theta = self.cfg["rms_norm_eps"], self.cfg["rope_theta"]
        blk0 = self.layers[0]
        inv = 1.0 / theta ** (torch.arange(0, blk0.hd, 2, dtype=torch.float32) / blk0.hd)
        ang = torch.outer(torch.arange(T, dtype=torch.float32), inv)
        cos, sin = torch.cat((ang, ang), -1).cos(), torch.cat((ang, ang), -1).sin()
        x = self.embed_tokens(idx)
        for blk in self.layers:
            h = rms_norm(x, blk.input_layernorm, eps)
            q = blk.q_proj(h).view(B, T, blk.n_head, blk.hd).transpose(1, 2)
            k = blk.k_proj(h).view(B, T, blk.n_kv_head, blk.hd).transpose(1, 2)
            v = blk.v_proj(h).view(B, T, blk.n_kv_head, blk.hd).transpose(1, 2)
            q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
            rep = blk.n_head // blk.n_kv_head
            k, v = k.repeat_interleave(rep, dim=1), v.repeat_interleave(rep, dim=1)
            att = (q @ k.transpose(-1, -2)) / math.sqrt(blk.hd)
            att = att.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
            y = (att.softmax(-1) @ v).transpose(1, 2).reshape(B, T, -1)
            x = x + blk.o_proj(y)
            h = rms_norm(x, blk.post_attention_layernorm, eps)
            x = x + blk.down_proj(F.silu(blk.gate_proj(h)) * blk.up_proj(h))
        return self.lm_head(rms_norm(x, self.norm, eps))

    def hf_tensors(self):
        """name -> float32 numpy array, under transformers' LlamaForCausalLM names."""
        out = {"model.embed_tokens.weight": self.embed_tokens.weight,
               "model.norm.weight": self.norm, "lm_head.weight": self.lm_head.weight}
        for i, blk in enumerate(self.layers):
            p = f"model.layers.{i}."
            out[p + "input_layernorm.weight"] = blk.input_layernorm
            out[p + "post_attention_layernorm.weight"] = blk.post_attention_layernorm
            for name in ("q_proj", "k_proj", "v_proj", "o_proj"):
                out[p + f"self_attn.{name}.weight"] = getattr(blk, name).weight
            for name in ("gate_proj", "up_proj", "down_proj"):
                out[p + f"mlp.{name}.weight"] = getattr(blk, name).weight
        return {k: v.detach().float().contiguous().numpy() for k, v in out.items()}


def write_safetensors(path, tensors):
    """The safetensors format: u64 header length, JSON header, then the raw little-endian data."""
    header, offset, blobs = {}, 0, []
    for name, arr in tensors.items():
        blob = arr.astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
        blobs.append(blob)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


@torch.no_grad()
def eval_loss(model, args):
    """Mean token loss over windows w = 0..N-1 covering [w*T, w*T + T + 1), as `mart eval` reads."""
    data, T = read_shard(args.eval_data), args.eval_len
    total, count = 0.0, 0
    for w in range(args.eval_sequences):
        chunk = data[w * T:w * T + T + 1]
        logits = model(chunk[:-1].unsqueeze(0)).double()
        total += F.cross_entropy(logits[0], chunk[1:], reduction="sum").item()
        count += T
    return total / count


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--train", required=True, help="llm.c token shard")
    ap.add_argument("--tokenizer", required=True, help="SentencePiece .model the shard was made with")
    ap.add_argument("--out", required=True)
    ap.add_argument("--vocab-size", type=int, required=True)
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--eval-data", help="also print the loss over the first --eval-sequences "
                    "windows of this shard (as `mart eval` reads them), for a cross-check")
    ap.add_argument("--eval-sequences", type=int, default=8)
    ap.add_argument("--eval-len", type=int, default=64)
    args = ap.parse_args()
    torch.manual_seed(args.seed)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    data = read_shard(args.train)
    cfg = {"model_type": "llama", "architectures": ["LlamaForCausalLM"], "hidden_size": 128,
           "intermediate_size": 384, "num_attention_heads": 4, "num_key_value_heads": 2,
           "num_hidden_layers": 4, "max_position_embeddings": 128, "rms_norm_eps": 1e-5,
           "rope_theta": 10000.0, "vocab_size": args.vocab_size, "tie_word_embeddings": False,
           "hidden_act": "silu", "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32"}
    if int(data.max()) >= cfg["vocab_size"]:
        raise SystemExit(f"token {int(data.max())} >= --vocab-size {cfg['vocab_size']}")
    model = Llama(cfg)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, betas=(0.9, 0.95), weight_decay=0.1)
    B, T = 16, 64
    start = time.time()
    for step in range(args.steps):
        lr = 3e-3 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * step / args.steps)))
        for g in opt.param_groups:
            g["lr"] = lr
        ix = torch.randint(len(data) - T - 1, (B,))
        x = torch.stack([data[i:i + T] for i in ix])
        y = torch.stack([data[i + 1:i + T + 1] for i in ix])
        loss = F.cross_entropy(model(x).flatten(0, 1), y.flatten())
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        if step % 50 == 0 or step == args.steps - 1:
            print(f"step {step:4d}  loss {loss.item():.3f}  {time.time() - start:.0f} s", flush=True)
    os.makedirs(args.out, exist_ok=True)
    write_safetensors(os.path.join(args.out, "model.safetensors"), model.hf_tensors())
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(args.out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": 1, "eos_token_id": 2}, f, indent=2)
    shutil.copy(args.tokenizer, os.path.join(args.out, "tokenizer.model"))
    if args.eval_data:
        print(f"torch eval loss {eval_loss(model, args):.6f}")
    print(f"wrote {args.out}: model.safetensors, config.json, generation_config.json, "
          f"tokenizer.model")


if __name__ == "__main__":
    main()
