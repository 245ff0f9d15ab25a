#!/usr/bin/env python3
"""Trains a MART model from your own Python loop: your batches, your schedule, your stopping rule.

MART does the forward, backward and AdamW (with offloading, if the job's memory mode says so);
this script only feeds tokens and hyperparameters. Byte-level tokens of tinyshakespeare.txt
(../shared/data next to the repository) when the file is there, else the job's own data stream.

    PYTHONPATH=python MART_LIBRARY=build-cpu/libmart.so \
        python3 examples/python/train_loop.py --steps 200 --set model.n_layer=2
"""
import argparse
import math
import os
import sys
import time

import numpy as np

import mart

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DATA = os.path.join(os.path.dirname(REPO), "shared", "data", "tinyshakespeare.txt")


def lr_at(step, peak, warmup, total, min_ratio):
    """Linear warmup to `peak` over `warmup` steps, then cosine decay to peak*min_ratio."""
    if step < warmup:
        return peak * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup - 1)
    return peak * (min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


class ByteBatches:
    """Random windows of a byte string: inputs [n_mb, B, T], targets shifted by one."""

    def __init__(self, data, B, T, seed):
        self.data, self.B, self.T = data, B, T
        self.rng = np.random.default_rng(seed)

    def get(self, n_mb):
        starts = self.rng.integers(0, len(self.data) - self.T - 1, size=n_mb * self.B)
        rows = np.stack([self.data[s:s + self.T + 1] for s in starts]).astype(np.int32)
        rows = rows.reshape(n_mb, self.B, self.T + 1)
        return rows[..., :-1], rows[..., 1:]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--config", help="job YAML (default: MART's built-in default job)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="config override, as `mart train --set`")
    ap.add_argument("--data", default=DEFAULT_DATA, help="a text file to train on, byte-level")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--lr", type=float, default=3e-3)
    ap.add_argument("--warmup", type=int, default=20)
    ap.add_argument("--min-lr-ratio", type=float, default=0.1)
    ap.add_argument("--log-every", type=int, default=10)
    ap.add_argument("--eval-every", type=int, default=50)
    ap.add_argument("--eval-batches", type=int, default=4)
    ap.add_argument("--patience", type=int, default=3,
                    help="stop after this many evaluations without a new best val loss")
    ap.add_argument("--run-dir", help="save a checkpoint of the best model here")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    with mart.Session(config=args.config, overrides=args.set) as s:
        info = s.info
        print("mart %s | %.2fM params | B=%d T=%d grad_accum=%d | device budget %.1f MiB"
              % (mart.version(), info.n_params / 1e6, info.micro_batch, info.seq_len,
                 info.grad_accum, info.device_budget_bytes / 2**20))
        train, val = batch_sources(s, args, info)
        val_set = [val(1) for _ in range(args.eval_batches)]  # fixed: comparable evaluations
        best, bad_evals = float("inf"), 0
        tokens = info.micro_batch * info.seq_len * info.grad_accum
        t0 = time.perf_counter()
        for step in range(args.steps):
            x, y = train(info.grad_accum)
            lr = lr_at(step, args.lr, args.warmup, args.steps, args.min_lr_ratio)
            r = s.train_step(x, y, lr=lr, step=step + 1)
            if not math.isfinite(r.loss):
                sys.exit("step %d: loss %r" % (step + 1, r.loss))
            if (step + 1) % args.log_every == 0:
                dt = time.perf_counter() - t0
                print("step %5d | loss %.4f | lr %.2e | grad norm %.3f | %.0f tok/s"
                      % (step + 1, r.loss, lr, r.grad_norm, tokens * args.log_every / dt))
                t0 = time.perf_counter()
            if args.eval_every and (step + 1) % args.eval_every == 0:
                v = float(np.mean([s.eval_loss(vx, vy) for vx, vy in val_set]))
                improved = v < best
                print("step %5d | val %.4f%s" % (step + 1, v, " (best)" if improved else ""))
                if improved:
                    best, bad_evals = v, 0
                    if args.run_dir:
                        print("saved", s.save_checkpoint(args.run_dir))
                else:
                    bad_evals += 1
                    if bad_evals >= args.patience:
                        print("early stop: no improvement in %d evaluations" % bad_evals)
                        break
        print("done: %d steps, best val loss %.4f" % (s.info.steps_done, best))


def batch_sources(s, args, info):
    """(train(n_mb), val(n_mb)) batch functions: bytes of --data, or the job's own stream."""
    if args.data and os.path.exists(args.data):
        if info.vocab_size < 256:
            sys.exit("byte-level data needs model.vocab_size >= 256 (the job has %d): "
                     "--set model.vocab_size=256" % info.vocab_size)
        data = np.fromfile(args.data, dtype=np.uint8)
        split = int(len(data) * 0.9)
        print("data: %s, %d bytes (90%% train, 10%% val)" % (args.data, len(data)))
        tr = ByteBatches(data[:split], info.micro_batch, info.seq_len, args.seed)
        va = ByteBatches(data[split:], info.micro_batch, info.seq_len, args.seed + 1)
        return tr.get, va.get
    print("data: %s not found; using the job's own data stream" % args.data)
    s.next_batch("val", restart=True)  # fails early (MartError) if the job has no val data
    return (lambda n: s.next_batch("train", n)), (lambda n: s.next_batch("val", n))


if __name__ == "__main__":
    main()
