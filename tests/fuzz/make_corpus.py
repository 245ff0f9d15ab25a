#!/usr/bin/env python3
"""Writes the fuzz seed corpora under tests/fuzz/corpus/<target>/: valid inputs and a few
near-misses per reader, each a few kB at most. Re-run after a format change and commit the result.
The real-world seeds corpus/trainer_state/valid.json (a 2-step `mart train` checkpoint of the
default job) and corpus/profile_json/valid_measured_cpu.json (`mart profile --set
model.n_layer=1`) are committed as written by mart; the near-misses are derived from them here.
Standard library only."""
import json
import os
import struct

HERE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def put(target, name, data):
    os.makedirs(os.path.join(HERE, target), exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(HERE, target, name), "wb") as f:
        f.write(data)


def safetensors(tensors, metadata=None, pad=True):
    """tensors: [(name, dtype, shape, raw bytes)] laid out in order."""
    header, blob = {}, b""
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(blob), len(blob) + len(raw)]}
        blob += raw
    if metadata is not None:
        header["__metadata__"] = metadata
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + blob


def safetensors_corpus():
    f32 = struct.pack("<6f", 0.5, -1.0, 2.0, 0.0, 1e-3, 3.0)
    bf16 = struct.pack("<4H", 0x3F80, 0xBF80, 0x4000, 0x0000)
    ok = [("model.embed_tokens.weight", "F32", [2, 3], f32), ("model.norm.weight", "BF16", [4], bf16)]
    put("safetensors", "valid.safetensors", safetensors(ok, {"format": "pt"}))
    put("safetensors", "valid_empty.safetensors", safetensors([]))
    put("safetensors", "valid_scalar_i32.safetensors",
        safetensors([("s", "I32", [], struct.pack("<i", 7)), ("z", "F16", [0], b"")]))
    good = safetensors(ok)
    put("safetensors", "truncated.safetensors", good[:-5])
    put("safetensors", "header_len_huge.safetensors", struct.pack("<Q", 1 << 40) + good[8:])
    put("safetensors", "bad_dtype.safetensors", safetensors([("t", "Q4", [1], b"\0" * 4)]))
    put("safetensors", "shape_mismatch.safetensors", safetensors([("t", "F32", [3], b"\0" * 8)]))
    gap = json.dumps({"a": {"dtype": "U16", "shape": [1], "data_offsets": [2, 4]}}).encode()
    put("safetensors", "gap.safetensors", struct.pack("<Q", len(gap)) + gap + b"\0" * 4)
    put("safetensors", "metadata_not_string.safetensors", safetensors([], {"k": 1}))


def shard(magic, version, count, tokens, fmt):
    header = struct.pack("<3i", magic, version, count) + b"\0" * (1024 - 12)
    return header + b"".join(struct.pack(fmt, t) for t in tokens)


def token_shard_corpus():
    u16 = [1, 2, 3, 65535, 0, 42]
    u32 = [1, 70000, 5]
    put("token_shard", "valid_u16.bin", shard(20240520, 1, len(u16), u16, "<H"))
    put("token_shard", "valid_u32.bin", shard(20240801, 7, 2, u32[:1] + u32[2:], "<I"))
    put("token_shard", "valid_empty_u16.bin", shard(20240520, 1, 0, [], "<H"))
    put("token_shard", "u32_token_over_vocab.bin", shard(20240801, 7, len(u32), u32, "<I"))
    put("token_shard", "count_too_big.bin", shard(20240520, 1, 7, u16, "<H"))
    put("token_shard", "count_negative.bin", shard(20240520, 1, -1, u16, "<H"))
    put("token_shard", "wrong_version.bin", shard(20240801, 1, 1, [1], "<I"))
    put("token_shard", "header_truncated.bin", shard(20240520, 1, 0, [], "<H")[:100])


CONFIGS = {
    "empty.yaml": "",
    "tiny_llama.yaml": """name: tiny
backend: cpu
model: {family: llama, n_layer: 2, d_model: 64, n_head: 4, n_kv_head: 2, d_ff: 128,
        vocab_size: 256, max_seq_len: 64}
train: {micro_batch: 2, seq_len: 32, steps: 10, warmup_steps: 2, lr: 3e-4, eval_every: 0}
memory: {mode: manual, n_persist: 1, n_buffer: 2, chunk_size: 64KiB, device_capacity: 1.5GB}
activations: {modes: [swap, checkpoint]}
""",
    "preset_with_overrides.yaml": """model: {preset: gpt2-124m, n_layer: 2}
data: {source: shards, train_pattern: "data/*.bin"}
activations: {n_checkpoint: 1, eb: 1e-3, adaptive_eb: yes}
#set
train.lr=1e-4
memory.mode=auto
activations.modes=swap,keep
model.norm_eps=1e-6
""",
    "preset_name.yaml": "model: llama-1b\ntrain: {micro_batch: 1, seq_len: 128}\n",
    "unknown_key.yaml": "train: {lrr: 3e-4}\n",
    "wrong_type.yaml": "model: {n_layer: four}\n#set\ntrain.steps=[1, 2]\n",
    "duplicate_key.yaml": "train: {steps: 5}\ntrain: {steps: 6}\n",
    "bad_override.yaml": "name: x\n#set\ntrain\n=5\na.b.c=1\nmodel=nope\n",
    "bad_unit.yaml": "memory: {chunk_size: 12 parsecs}\n",
}


def yaml_corpus():
    for name, text in CONFIGS.items():
        put("yaml_config", name, text)


def trainer_state_corpus():
    with open(os.path.join(HERE, "trainer_state", "valid.json")) as f:
        j = json.load(f)
    def variant(name, edit):
        k = json.loads(json.dumps(j))
        edit(k)
        put("trainer_state", name, json.dumps(k, separators=(",", ":")))
    variant("step_is_string.json", lambda k: k.update(step="2"))
    variant("loader_negative.json", lambda k: k["loader"].update(position=-1))
    variant("config_type_error.json", lambda k: k["config"]["model"].update(n_layer="4"))
    variant("no_config.json", lambda k: k.pop("config"))
    variant("format_version_2.json", lambda k: k.update(format_version=2))  # flat, still read
    variant("format_version_4.json", lambda k: k.update(format_version=4))  # from the future
    put("trainer_state", "not_an_object.json", "[1, 2, 3]")


def tokenizer_json_corpus():
    """A tiny byte-level BPE tokenizer.json (GPT-2's byte alphabet, two merges, an added token),
    its Llama-3-style variant, and near-misses."""
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs, n = bs[:], 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    vocab = {chr(c): b for b, c in zip(bs, cs)}
    vocab.update({"ab": 256, "\u0120ab": 257, "<|endoftext|>": 258})
    base = {"added_tokens": [{"id": 258, "content": "<|endoftext|>", "special": True}],
            "normalizer": None,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "use_regex": True},
            "model": {"type": "BPE", "vocab": vocab, "merges": ["a b", "\u0120 ab"]}}
    put("tokenizer_json", "valid_gpt2.json", json.dumps(base))
    llama3 = json.loads(json.dumps(base))
    llama3["model"]["ignore_merges"] = True
    llama3["model"]["merges"] = [["a", "b"], ["\u0120", "ab"]]
    llama3["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"},
         "behavior": "Isolated", "invert": False},
        {"type": "ByteLevel", "add_prefix_space": False, "use_regex": False}]}
    put("tokenizer_json", "valid_llama3.json", json.dumps(llama3))
    bad_merge = json.loads(json.dumps(base))
    bad_merge["model"]["merges"].append("zz q")
    put("tokenizer_json", "merge_not_in_vocab.json", json.dumps(bad_merge))
    big_id = json.loads(json.dumps(base))
    big_id["added_tokens"][0]["id"] = 2**31 - 1
    put("tokenizer_json", "huge_id.json", json.dumps(big_id))
    put("tokenizer_json", "truncated.json", json.dumps(base)[:300])


def profile_corpus():
    with open(os.path.join(HERE, "profile_json", "valid_measured_cpu.json")) as f:
        j = json.load(f)
    def variant(name, edit):
        k = json.loads(json.dumps(j))
        edit(k)
        put("profile_json", name, json.dumps(k, separators=(",", ":")))
    variant("version_2.json", lambda k: k.update(mart_profile_version=2))
    variant("no_hardware.json", lambda k: k.pop("hardware"))
    variant("n_layer_string.json", lambda k: k["model"].update(n_layer="1"))
    variant("group_out_of_range.json", lambda k: k["model"]["tensors"]["group"].__setitem__(0, 99))
    put("profile_json", "truncated.json", json.dumps(j)[:200])


if __name__ == "__main__":
    safetensors_corpus()
    token_shard_corpus()
    yaml_corpus()
    trainer_state_corpus()
    profile_corpus()
    tokenizer_json_corpus()
