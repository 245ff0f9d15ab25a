"""An independent PyTorch twin of MART's two model families, for parity tests.

Written from the Hugging Face architecture definitions (transformers' GPT2LMHeadModel and
LlamaForCausalLM), not from MART's C++: it shares no code with MART and reads MART's output only
through the public file formats (safetensors, config.json, JSON batches). Everything runs in
torch.float64 so that the twin's own rounding is negligible next to MART's float32.

    twin = load_twin(dir)                      # config.json + model.safetensors
    logits = twin.logits(inputs)               # [B, T, V]
    loss, grads = twin.loss_and_grads(inputs, targets)
    curve = train(dir, batch_json)             # AdamW steps as the trainer runs them

`mutation` (tests only) deliberately changes one architectural detail, so the parity test can
show that its tolerances detect real implementation differences (the negative control).
"""

import json
import math
import struct

import numpy as np
import torch
import torch.nn.functional as F

DTYPE = torch.float64

# safetensors dtype names -> numpy dtypes (BF16 has no numpy type; handled separately).
_NP_DTYPES = {
    "F64": np.float64,
    "F32": np.float32,
    "F16": np.float16,
    "I64": np.int64,
    "I32": np.int32,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
}


def read_safetensors(path):
    """Returns {name: numpy array} from a safetensors file.

    Format: 8-byte little-endian header length N, N bytes of JSON mapping each name to
    {dtype, shape, data_offsets [begin, end)} (offsets relative to the end of the header), an
    optional "__metadata__" entry, then the raw little-endian data.
    """
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n].decode("utf-8"))
    data = memoryview(blob)[8 + n :]
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        raw = data[begin:end]
        shape = tuple(info["shape"])
        if info["dtype"] == "BF16":
            # bfloat16 is the top half of a float32.
            u16 = np.frombuffer(raw, dtype="<u2").astype(np.uint32)
            arr = (u16 << 16).view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=np.dtype(_NP_DTYPES[info["dtype"]]).newbyteorder("<"))
        out[name] = arr.reshape(shape).copy()
    return out


# ----------------------------------------------------------------------------------------------
# Building blocks, as Hugging Face defines them.


def gelu_new(x):
    # transformers' NewGELUActivation ("gelu_new"), GPT-2's tanh approximation.
    return 0.5 * x * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (x + 0.044715 * torch.pow(x, 3.0))))


def rms_norm(x, weight, eps):
    # LlamaRMSNorm: x / sqrt(mean(x^2) + eps), then the learned scale.
    var = x.pow(2).mean(-1, keepdim=True)
    return weight * (x * torch.rsqrt(var + eps))


def rotate_half(x):
    # LlamaRotaryEmbedding's convention: pairs (j, j + d/2).
    x1 = x[..., : x.shape[-1] // 2]
    x2 = x[..., x.shape[-1] // 2 :]
    return torch.cat((-x2, x1), dim=-1)


def rope_cos_sin(T, head_dim, theta):
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, dtype=DTYPE) / head_dim))
    pos = torch.arange(T, dtype=DTYPE)
    freqs = torch.outer(pos, inv_freq)  # [T, head_dim/2]
    emb = torch.cat((freqs, freqs), dim=-1)  # [T, head_dim]
    return emb.cos(), emb.sin()


def causal_attention(q, k, v):
    """q, k, v: [B, H, T, D] -> [B, H, T, D]; softmax(q k^T / sqrt(D) + causal mask) v."""
    T, D = q.shape[-2], q.shape[-1]
    att = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(D)
    mask = torch.ones(T, T, dtype=torch.bool).tril()
    att = att.masked_fill(~mask, float("-inf"))
    att = torch.softmax(att, dim=-1)
    return torch.matmul(att, v)


# ----------------------------------------------------------------------------------------------
# The two families. Parameters are a dict {Hugging Face name: float64 leaf tensor} in Hugging Face
# layout, so gradients come out in the names and layout MART writes.


class GPT2Twin:
    """GPT2LMHeadModel: learned positions, pre-LayerNorm blocks, Conv1D linears (y = x W + b with
    W stored [in, out]), GELU (tanh approximation), head tied to wte."""

    def __init__(self, cfg, params, mutation=None):
        self.n_layer = cfg["n_layer"]
        self.n_head = cfg["n_head"]
        self.d_model = cfg["n_embd"]
        self.eps = cfg.get("layer_norm_epsilon", 1e-5)
        self.p = params
        self.mutation = mutation

    def _conv1d(self, x, prefix):
        return x @ self.p[prefix + ".weight"] + self.p[prefix + ".bias"]

    def _ln(self, x, prefix):
        return F.layer_norm(x, (self.d_model,), self.p[prefix + ".weight"], self.p[prefix + ".bias"], self.eps)

    def _act(self, x):
        if self.mutation == "gelu_exact":
            return F.gelu(x)  # erf GELU: not what GPT-2 uses
        return gelu_new(x)

    def logits(self, ids):
        B, T = ids.shape
        C, H = self.d_model, self.n_head
        p = self.p
        x = p["transformer.wte.weight"][ids] + p["transformer.wpe.weight"][torch.arange(T)]
        for l in range(self.n_layer):
            pre = f"transformer.h.{l}."
            a = self._ln(x, pre + "ln_1")
            q, k, v = self._conv1d(a, pre + "attn.c_attn").split(C, dim=-1)
            heads = lambda t: t.view(B, T, H, C // H).transpose(1, 2)  # noqa: E731
            y = causal_attention(heads(q), heads(k), heads(v))
            y = y.transpose(1, 2).reshape(B, T, C)
            x = x + self._conv1d(y, pre + "attn.c_proj")
            m = self._ln(x, pre + "ln_2")
            x = x + self._conv1d(self._act(self._conv1d(m, pre + "mlp.c_fc")), pre + "mlp.c_proj")
        x = self._ln(x, "transformer.ln_f")
        return x @ p["transformer.wte.weight"].T  # tied head


class LlamaTwin:
    """LlamaForCausalLM: RMSNorm, rotary embeddings (rotate-half), grouped-query attention (each kv
    head serves n_head / n_kv_head consecutive query heads), SwiGLU MLP, nn.Linear weights
    [out, in] without biases, lm_head untied unless tie_word_embeddings."""

    def __init__(self, cfg, params, mutation=None):
        self.n_layer = cfg["num_hidden_layers"]
        self.n_head = cfg["num_attention_heads"]
        self.n_kv = cfg.get("num_key_value_heads", self.n_head)
        self.d_model = cfg["hidden_size"]
        self.eps = cfg["rms_norm_eps"]
        self.theta = cfg.get("rope_theta", 10000.0)
        self.tied = cfg.get("tie_word_embeddings", False)
        self.p = params
        self.mutation = mutation

    def _rope(self, x, cos, sin):
        if self.mutation == "rope_interleaved":
            # GPT-J / Meta-original pairing (2j, 2j+1): not Hugging Face's layout.
            x1, x2 = x[..., 0::2], x[..., 1::2]
            c, s = cos[..., : x.shape[-1] // 2], sin[..., : x.shape[-1] // 2]
            return torch.stack((x1 * c - x2 * s, x1 * s + x2 * c), dim=-1).flatten(-2)
        return x * cos + rotate_half(x) * sin

    def logits(self, ids):
        B, T = ids.shape
        C, H, KV = self.d_model, self.n_head, self.n_kv
        D = C // H
        p = self.p
        lin = lambda x, name: x @ p[name].T  # noqa: E731  nn.Linear, no bias
        cos, sin = rope_cos_sin(T, D, self.theta)
        x = p["model.embed_tokens.weight"][ids]
        for l in range(self.n_layer):
            pre = f"model.layers.{l}."
            a = rms_norm(x, p[pre + "input_layernorm.weight"], self.eps)
            q = lin(a, pre + "self_attn.q_proj.weight").view(B, T, H, D).transpose(1, 2)
            k = lin(a, pre + "self_attn.k_proj.weight").view(B, T, KV, D).transpose(1, 2)
            v = lin(a, pre + "self_attn.v_proj.weight").view(B, T, KV, D).transpose(1, 2)
            q, k = self._rope(q, cos, sin), self._rope(k, cos, sin)
            # repeat_kv: query head h uses kv head h // (H / KV).
            k = k.repeat_interleave(H // KV, dim=1)
            v = v.repeat_interleave(H // KV, dim=1)
            y = causal_attention(q, k, v).transpose(1, 2).reshape(B, T, H * D)
            x = x + lin(y, pre + "self_attn.o_proj.weight")
            m = rms_norm(x, p[pre + "post_attention_layernorm.weight"], self.eps)
            gate = lin(m, pre + "mlp.gate_proj.weight")
            up = lin(m, pre + "mlp.up_proj.weight")
            x = x + lin(F.silu(gate) * up, pre + "mlp.down_proj.weight")
        x = rms_norm(x, p["model.norm.weight"], self.eps)
        head = p["model.embed_tokens.weight"] if self.tied else p["lm_head.weight"]
        return x @ head.T


def load_twin(model_dir, mutation=None):
    with open(f"{model_dir}/config.json") as f:
        cfg = json.load(f)
    weights = read_safetensors(f"{model_dir}/model.safetensors")
    params = {k: torch.tensor(v, dtype=DTYPE, requires_grad=True) for k, v in weights.items()}
    kind = cfg["model_type"]
    if kind == "gpt2":
        return GPT2Twin(cfg, params, mutation)
    if kind == "llama":
        return LlamaTwin(cfg, params, mutation)
    raise ValueError(f"unsupported model_type {kind!r}")


def as_batch(inputs, targets, B, T):
    ids = torch.tensor(inputs, dtype=torch.long).view(B, T)
    tgt = torch.tensor(targets, dtype=torch.long).view(B, T)
    return ids, tgt


def token_loss_sum(twin, ids, tgt):
    """Sum of per-token cross-entropies over targets >= 0, and the number of such targets."""
    logits = twin.logits(ids)
    V = logits.shape[-1]
    loss = F.cross_entropy(logits.reshape(-1, V), tgt.reshape(-1), ignore_index=-1, reduction="sum")
    return loss, int((tgt >= 0).sum())


def loss_and_grads(twin, ids, tgt):
    """Mean loss over valid targets and its gradient for every parameter (Hugging Face names)."""
    for t in twin.p.values():
        t.grad = None
    s, n = token_loss_sum(twin, ids, tgt)
    loss = s / n
    loss.backward()
    grads = {k: (t.grad if t.grad is not None else torch.zeros_like(t)).detach().numpy().copy() for k, t in twin.p.items()}
    return loss.item(), grads


def lr_at(tc, step):
    """Linear warmup over warmup_steps, then cosine decay from lr to lr * min_lr_ratio, reaching it
    on the last step. `step` is 0-based (the step about to run)."""
    lr, warmup, steps = tc["lr"], tc["warmup_steps"], tc["steps"]
    if step < warmup:
        return lr * (step + 1) / warmup
    decay_steps = steps - warmup
    if decay_steps <= 1:
        return lr
    progress = (step - warmup) / (decay_steps - 1)
    min_lr = lr * tc["min_lr_ratio"]
    return min_lr + 0.5 * (lr - min_lr) * (1.0 + math.cos(math.pi * progress))


def train(model_dir, batch, mutation=None):
    """The optimizer steps described in batch["train"], from the saved weights and zero AdamW
    state. Each step's loss is sum(token losses over all micro-batches) / (valid tokens of the
    step), backpropagated micro-batch by micro-batch (gradient accumulation); clipping uses the
    global L2 norm over every parameter; weight decay applies to 2-D tensors only.

    Returns {"losses", "grad_norms" (before clipping), "lrs", "tokens", "final" (the weights after
    the last step, {name: numpy array})}.
    """
    tc = batch["train"]
    B, T = batch["B"], batch["T"]
    twin = load_twin(model_dir, mutation)
    params = list(twin.p.values())  # a tied weight is one tensor, counted once
    decay_all = mutation == "decay_all"
    groups = [
        {"params": [t for t in params if t.dim() == 2 or decay_all], "weight_decay": tc["weight_decay"]},
        {"params": [t for t in params if t.dim() != 2 and not decay_all], "weight_decay": 0.0},
    ]
    opt = torch.optim.AdamW(groups, lr=tc["lr"], betas=(tc["beta1"], tc["beta2"]), eps=tc["eps"])
    out = {"losses": [], "grad_norms": [], "lrs": [], "tokens": []}
    for step, entry in enumerate(tc["batches"]):
        mbs = [as_batch(m["inputs"], m["targets"], B, T) for m in entry["micro_batches"]]
        n_valid = sum(int((tgt >= 0).sum()) for _, tgt in mbs)
        opt.zero_grad(set_to_none=False)
        total = 0.0
        for ids, tgt in mbs:
            s, _ = token_loss_sum(twin, ids, tgt)
            (s / n_valid).backward()
            total += s.item()
        clip = tc["grad_clip"] > 0 and mutation != "no_clip"
        max_norm = tc["grad_clip"] if clip else float("inf")
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        lr = lr_at(tc, step)
        for g in opt.param_groups:
            g["lr"] = lr
        opt.step()
        out["losses"].append(total / n_valid)
        out["grad_norms"].append(float(norm))
        out["lrs"].append(lr)
        out["tokens"].append(n_valid)
    out["final"] = {k: t.detach().numpy().copy() for k, t in twin.p.items()}
    return out
