#!/usr/bin/python3
"""MART's RLHF math (runtime/rlhf) against an independent float64 PyTorch twin.

Writes seeded cases (rollout-shaped [B, T] arrays with ragged response masks, an empty response,
a GRPO group of equal scores, float32 logits), runs `mart_rlhf_math_dump IN OUT`, recomputes every
output here in torch (float64; gradients by torch.autograd, not by hand) and compares:
  arrays   max |mart - twin| / max |twin|      <= 1e-12
  scalars  |mart - twin| / |twin|              <= 1e-12 (exactly equal when twin is 0)
Outputs: per-token rewards, KL stats, GAE advantages and returns, whitened advantages and their
mean/var, GRPO advantages, clipped policy loss / clip fraction / approx KL / d loss/d logp,
clipped value loss / clip fraction / d loss/d V, k3 KL loss / d loss/d logp, token log-probs,
entropy and d L/d logits, and the adaptive KL coefficient trace.

--self-check is the negative control: it reruns the comparison against twins with one detail
wrong (clip epsilon, value clip epsilon, whitening variance, GRPO std, GAE bootstrapping past the
last token, temperature, KL controller clip range) and against a MART output perturbed by 1e-9
relative, and passes only if every one of them is detected.

Exit codes: 0 pass, 1 failure (the worst offender is named), 77 torch/numpy missing (CTest skip).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

try:
    import numpy as np
    import torch
except ImportError as e:  # Debian's python3-torch installs for /usr/bin/python3 only
    print(f"SKIP: cannot import torch/numpy ({e}); run with /usr/bin/python3 and python3-torch")
    sys.exit(77)

TOL = 1e-12
F64 = torch.float64


def make_case(seed, P, G, T, reduction, whiten_var, grpo_var, shift_mean, temperature):
    """One seeded rollout-shaped case. B = P * G rows; row 1 is an empty response when P > 1."""
    rng = np.random.default_rng(seed)
    B = P * G
    lens = rng.integers(1, T + 1, size=B)
    lens[0] = T
    if P > 1:
        lens[1] = 0
    mask = (np.arange(T)[None, :] < lens[:, None]).astype(np.int64)
    logp_old = rng.uniform(-3.0, -0.1, size=(B, T))
    score = rng.normal(size=B)
    score[G:2 * G] = 0.1  # a group of equal scores: GRPO advantage 0, no NaN
    values_old = rng.normal(size=(B, T))
    N, V = 6, 11
    kl = rng.uniform(0.0, 15.0, size=8)
    return {
        "B": B, "T": T, "mask": mask.ravel().tolist(),
        "logp_old": logp_old.ravel().tolist(),
        "logp_ref": (logp_old + rng.normal(scale=0.3, size=(B, T))).ravel().tolist(),
        "score": score.tolist(),
        "values_old": values_old.ravel().tolist(),
        "kl_coef": 0.05, "gamma": 0.99, "lambda": 0.95,
        "whiten": {"variance": whiten_var, "eps": 1e-8, "shift_mean": shift_mean},
        "grpo": {"group_size": G, "variance": grpo_var, "eps": 1e-4},
        # Current policy: ratios spread over [0.6, 1.5], so tokens clip on both sides.
        "logp": (logp_old + rng.uniform(-0.5, 0.4, size=(B, T))).ravel().tolist(),
        "policy_advantages": rng.normal(size=(B, T)).ravel().tolist(),
        "values": (values_old + rng.uniform(-0.6, 0.6, size=(B, T))).ravel().tolist(),
        "value_returns": rng.normal(size=(B, T)).ravel().tolist(),
        "clip_eps": 0.2, "clip_eps_v": 0.2, "beta": 0.04, "reduction": reduction,
        "logits": [float(x) for x in rng.normal(scale=2.0, size=N * V).astype(np.float32)],
        "ids": rng.integers(0, V, size=N).tolist(), "vocab": V, "temperature": temperature,
        "g_logp": rng.normal(size=N).tolist(), "g_entropy": rng.normal(size=N).tolist(),
        "kl_control": {"init": 0.2, "target": 6.0, "horizon": 10000.0, "n_steps": 256,
                       "observed": kl.tolist()},
    }


CASES = [
    make_case(1, P=3, G=4, T=7, reduction="token", whiten_var="unbiased",
              grpo_var="unbiased", shift_mean=True, temperature=1.0),
    make_case(2, P=2, G=3, T=5, reduction="sequence", whiten_var="population",
              grpo_var="population", shift_mean=False, temperature=0.7),
    make_case(3, P=1, G=8, T=9, reduction="sequence", whiten_var="unbiased",
              grpo_var="unbiased", shift_mean=True, temperature=1.3),
]

# The twin's knobs; --self-check flips one at a time.
RIGHT = {"clip_eps_delta": 0.0, "clip_eps_v_delta": 0.0, "flip_whiten_var": False,
         "flip_grpo_var": False, "bootstrap_past_end": False, "temperature_scale": 1.0,
         "kl_clip": 0.2}


def t(x, shape=None):
    v = torch.tensor(x, dtype=F64)
    return v.reshape(shape) if shape is not None else v


def flip(var):
    return "population" if var == "unbiased" else "unbiased"


def masked_mean(x, m):
    return (x * m).sum() / m.sum()


def reduce(l, m, reduction):
    if reduction == "token":
        return masked_mean(l, m)
    lens = m.sum(1)
    rows = lens > 0
    per_row = (l * m).sum(1)[rows] / lens[rows]
    return per_row.mean()


def twin_advantages(c, m, knobs, out):
    B, T = c["B"], c["T"]
    lp_old, lp_ref = t(c["logp_old"], (B, T)), t(c["logp_ref"], (B, T))
    kl = (lp_old - lp_ref) * m
    r = -c["kl_coef"] * kl
    last = m.sum(1).long() - 1
    for b in range(B):
        if last[b] >= 0:
            r[b, last[b]] += c["score"][b]
    out["rewards"] = r
    out["kl_token_mean"] = masked_mean(lp_old - lp_ref, m)
    out["kl_seq_mean"] = kl.sum(1).mean()
    # GAE as TRL writes it: a loop over all T with V and r zeroed at padding, so V past the last
    # masked token is 0 (or, with bootstrap_past_end, the padding's garbage V).
    v = t(c["values_old"], (B, T)) if knobs["bootstrap_past_end"] else t(c["values_old"], (B, T)) * m
    rr = r * m
    last_gae = torch.zeros(B, dtype=F64)
    adv = torch.zeros(B, T, dtype=F64)
    for k in reversed(range(T)):
        next_v = v[:, k + 1] * (1 if knobs["bootstrap_past_end"] else m[:, k + 1]) \
            if k < T - 1 else torch.zeros(B, dtype=F64)
        delta = rr[:, k] + c["gamma"] * next_v - v[:, k] * m[:, k]
        last_gae = delta + c["gamma"] * c["lambda"] * last_gae
        adv[:, k] = last_gae
    adv = adv * m
    out["advantages"] = adv
    out["returns"] = (adv + v * m) * m
    w = c["whiten"]
    var_kind = flip(w["variance"]) if knobs["flip_whiten_var"] else w["variance"]
    n = m.sum()
    mean = masked_mean(adv, m)
    var = (((adv - mean) ** 2) * m).sum() / (n - 1 if var_kind == "unbiased" else n)
    wh = (adv - mean) * torch.rsqrt(var + w["eps"])
    if not w["shift_mean"]:
        wh = wh + mean
    out["whitened"] = wh * m
    out["whiten_mean"] = mean
    out["whiten_var"] = var
    g = c["grpo"]
    gv = flip(g["variance"]) if knobs["flip_grpo_var"] else g["variance"]
    s = t(c["score"]).view(-1, g["group_size"])
    std = s.std(dim=1, unbiased=(gv == "unbiased"), keepdim=True)
    a = ((s - s.mean(dim=1, keepdim=True)) / (std + g["eps"])).reshape(B, 1)
    out["grpo_advantages"] = a * m


def twin_losses(c, m, knobs, out):
    B, T = c["B"], c["T"]
    red = c["reduction"]
    lp_old, lp_ref = t(c["logp_old"], (B, T)), t(c["logp_ref"], (B, T))
    A = t(c["policy_advantages"], (B, T))
    eps = c["clip_eps"] + knobs["clip_eps_delta"]
    lp = t(c["logp"], (B, T)).requires_grad_(True)
    log_ratio = lp - lp_old
    ratio = torch.exp(log_ratio)
    pg1 = -A * ratio
    pg2 = -A * torch.clamp(ratio, 1.0 - eps, 1.0 + eps)
    loss = reduce(torch.maximum(pg1, pg2), m, red)
    loss.backward()
    out["policy_loss"] = loss.detach()
    out["policy_clip_fraction"] = masked_mean((pg2 > pg1).to(F64), m)
    out["approx_kl"] = masked_mean((ratio - 1) - log_ratio, m).detach()
    out["grad_logp"] = lp.grad
    v_old, R = t(c["values_old"], (B, T)), t(c["value_returns"], (B, T))
    ev = c["clip_eps_v"] + knobs["clip_eps_v_delta"]
    v = t(c["values"], (B, T)).requires_grad_(True)
    vc = torch.clamp(v, v_old - ev, v_old + ev)
    e1, e2 = (v - R) ** 2, (vc - R) ** 2
    vloss = 0.5 * masked_mean(torch.maximum(e1, e2), m)
    vloss.backward()
    out["value_loss"] = vloss.detach()
    out["value_clip_fraction"] = masked_mean((e2 > e1).to(F64), m)
    out["grad_values"] = v.grad
    lp2 = t(c["logp"], (B, T)).requires_grad_(True)
    d = lp_ref - lp2
    kl_loss = reduce(c["beta"] * (torch.exp(d) - d - 1), m, red)
    kl_loss.backward()
    out["kl_loss"] = kl_loss.detach()
    out["grad_logp_kl"] = lp2.grad


def twin_logits(c, knobs, out):
    V = c["vocab"]
    tau = c["temperature"] * knobs["temperature_scale"]
    z = t(np.array(c["logits"], dtype=np.float32).astype(np.float64).tolist(), (-1, V))
    z.requires_grad_(True)
    logp_all = torch.log_softmax(z / tau, dim=-1)
    ids = torch.tensor(c["ids"], dtype=torch.long)
    lp = logp_all.gather(1, ids[:, None])[:, 0]
    ent = -(torch.exp(logp_all) * logp_all).sum(-1)
    L = (t(c["g_logp"]) * lp + t(c["g_entropy"]) * ent).sum()
    L.backward()
    out["token_logp"] = lp.detach()
    out["token_entropy"] = ent.detach()
    out["grad_logits"] = z.grad


def twin_kl_controller(c, knobs, out):
    k = c["kl_control"]
    value, trace = k["init"], []
    for kl in k["observed"]:
        e = min(max(kl / k["target"] - 1.0, -knobs["kl_clip"]), knobs["kl_clip"])
        value *= 1.0 + e * k["n_steps"] / k["horizon"]
        trace.append(value)
    out["kl_coef_trace"] = torch.tensor(trace, dtype=F64)


def twin(c, knobs):
    m = t(c["mask"], (c["B"], c["T"]))
    out = {}
    twin_advantages(c, m, knobs, out)
    twin_losses(c, m, knobs, out)
    twin_logits(c, knobs, out)
    twin_kl_controller(c, knobs, out)
    return {k: v.detach().reshape(-1) for k, v in out.items()}


def compare(mart, ref):
    """Returns (worst relative error, key) over every output of every case; missing keys fail."""
    worst, where = 0.0, ""
    for i, (a, b) in enumerate(zip(mart, ref)):
        if set(a) != set(b):
            return float("inf"), f"case {i}: keys differ: {sorted(set(a) ^ set(b))}"
        for k, bv in b.items():
            av = torch.tensor(a[k], dtype=F64).reshape(-1)
            if av.shape != bv.shape:
                return float("inf"), f"case {i} {k}: shape {tuple(av.shape)} vs {tuple(bv.shape)}"
            scale = bv.abs().max().item()
            diff = (av - bv).abs().max().item()
            err = diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))
            if err != err:  # NaN on either side
                err = float("inf")
            if err > worst or not where:
                worst, where = err, f"case {i} {k}"
    return worst, where


def run_dump(dump, cases):
    with tempfile.TemporaryDirectory() as d:
        inp, outp = os.path.join(d, "in.json"), os.path.join(d, "out.json")
        with open(inp, "w") as f:
            json.dump(cases, f)
        r = subprocess.run([dump, inp, outp], capture_output=True, text=True)
        if r.returncode != 0:
            sys.stderr.write(r.stdout + r.stderr)
            raise RuntimeError(f"{dump} exited with {r.returncode}")
        with open(outp) as f:
            return json.load(f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dump", required=True, help="path to mart_rlhf_math_dump")
    ap.add_argument("--self-check", action="store_true")
    args = ap.parse_args()
    torch.set_default_dtype(F64)
    mart = run_dump(args.dump, CASES)
    ref = [twin(c, RIGHT) for c in CASES]
    worst, where = compare(mart, ref)
    print(f"worst relative error {worst:.3e} at {where} (tolerance {TOL:g})")
    if not args.self_check:
        return 0 if worst <= TOL else 1
    if worst > TOL:
        print("FAIL: the correct twin does not match, so the negative controls prove nothing")
        return 1
    wrong_twins = {
        "clip epsilon 0.2 -> 0.21": {"clip_eps_delta": 0.01},
        "value clip epsilon 0.2 -> 0.21": {"clip_eps_v_delta": 0.01},
        "whitening variance flipped": {"flip_whiten_var": True},
        "GRPO std flipped": {"flip_grpo_var": True},
        "GAE bootstraps from padding": {"bootstrap_past_end": True},
        "temperature x 1.001": {"temperature_scale": 1.001},
        "KL controller clip 0.2 -> 0.25": {"kl_clip": 0.25},
    }
    ok = True
    for name, change in wrong_twins.items():
        knobs = dict(RIGHT, **change)
        err, at = compare(mart, [twin(c, knobs) for c in CASES])
        caught = err > TOL
        ok &= caught
        print(f"{'caught' if caught else 'MISSED'}: {name}: worst {err:.3e} at {at}")
    # A MART output off by 1e-9 relative in one gradient entry must be caught too.
    bad = json.loads(json.dumps(mart))
    bad[0]["grad_logp"][3] += 1e-9 * max(abs(x) for x in bad[0]["grad_logp"])
    err, at = compare(bad, ref)
    ok &= err > TOL
    print(f"{'caught' if err > TOL else 'MISSED'}: perturbed MART gradient: worst {err:.3e} at {at}")
    print("PASS: every wrong twin was caught" if ok else "FAIL: a wrong twin passed")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
