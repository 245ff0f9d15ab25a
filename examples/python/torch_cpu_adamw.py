#!/usr/bin/env python3
"""Trains a small PyTorch model with mart.torch.CPUAdamW, MART's SIMD CPU AdamW, in place of
torch.optim.AdamW: a byte-level MLP language model (8 bytes of context -> the next byte) on
tinyshakespeare.txt (../shared/data next to the repository), or on a repeated pangram without it.

    PYTHONPATH=python MART_LIBRARY=build-cpu/libmart.so \
        python3 examples/python/torch_cpu_adamw.py --steps 300
"""
import argparse
import os
import sys

import torch

from mart.torch import CPUAdamW

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DATA = os.path.join(os.path.dirname(REPO), "shared", "data", "tinyshakespeare.txt")
CONTEXT = 8


class ByteMLP(torch.nn.Module):
    """Embeds CONTEXT bytes (32 each), an MLP of width 256, logits over 256 bytes."""

    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(256, 32)
        self.mlp = torch.nn.Sequential(torch.nn.Linear(CONTEXT * 32, 256), torch.nn.GELU(),
                                       torch.nn.Linear(256, 256))

    def forward(self, x):  # x [N, CONTEXT] int64 -> logits [N, 256]
        return self.mlp(self.emb(x).flatten(1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=DEFAULT_DATA)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--log-every", type=int, default=10)
    args = ap.parse_args()

    if os.path.exists(args.data):
        with open(args.data, "rb") as f:
            data = torch.tensor(list(f.read()), dtype=torch.int64)
    else:
        data = torch.tensor(list(b"the quick brown fox jumps over the lazy dog. " * 200))
    torch.manual_seed(0)
    model = ByteMLP()
    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    opt = CPUAdamW([{"params": decay, "weight_decay": 0.1},
                    {"params": no_decay, "weight_decay": 0.0}], lr=args.lr, betas=(0.9, 0.95))
    print("%d parameters, %d bytes of data" % (sum(p.numel() for p in model.parameters()),
                                               len(data)))
    first = None
    for step in range(1, args.steps + 1):
        idx = torch.randint(0, len(data) - CONTEXT - 1, (args.batch,))
        x = torch.stack([data[i:i + CONTEXT] for i in idx.tolist()])  # [N, CONTEXT]
        y = data[idx + CONTEXT]  # [N]
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        first = first if first is not None else loss.item()
        if step % args.log_every == 0 or step == args.steps:
            print("step %4d | loss %.4f" % (step, loss.item()))
    # Uniform guessing costs ln(256) = 5.55 nats; any working optimizer gets well below it.
    if loss.item() > first - 1.0:
        sys.exit("loss went from %.3f to %.3f: training did not work" % (first, loss.item()))
    print("loss %.3f -> %.3f" % (first, loss.item()))


if __name__ == "__main__":
    main()
