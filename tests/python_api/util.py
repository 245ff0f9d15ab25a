"""Shared pieces of the python_api tests: the tiny job they train, running `mart train`, temp
directories. CTest sets MART_LIBRARY (libmart.so), MART_BIN (the launcher) and PYTHONPATH."""
import json
import os
import subprocess
import sys
import tempfile

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.append(os.path.join(SOURCE_DIR, "python"))

SKIP = 77  # CTest SKIP_RETURN_CODE

# Two Llama blocks of width 64 (about 0.1M parameters, tests/runtime_session's small_job), two
# micro-batches per step so gradient accumulation is on the path: a step takes milliseconds.
TINY = [
    "model.n_layer=2", "model.d_model=64", "model.n_head=4", "model.n_kv_head=2",
    "model.d_ff=128", "model.vocab_size=64", "model.max_seq_len=32",
    "train.micro_batch=2", "train.seq_len=16", "train.grad_accum=2", "train.steps=6",
    "train.warmup_steps=2", "train.eval_every=0",
]
# Every weight chunk offloaded to host memory (updated by the CPU AdamW) and the blocks'
# activations swapped or recomputed: moves memory, not arithmetic (session_test's settings).
OFFLOAD = [
    "memory.mode=manual", "memory.n_persist=0", "memory.n_buffer=4", "memory.chunk_size=64KiB",
    "activations.modes=[swap, checkpoint]",
]


def mart_bin():
    path = os.environ.get("MART_BIN")
    if not path or not os.path.exists(path):
        raise RuntimeError("MART_BIN=%r: set it to the `mart` launcher (build-cpu/mart)" % path)
    return path


def mart_train(overrides, config=None):
    """Runs `mart train` in a temp run dir; returns metrics.jsonl's records."""
    with tempfile.TemporaryDirectory() as run:
        cmd = [mart_bin(), "train"] + ([config] if config else []) + ["--run-dir", run]
        for o in overrides:
            cmd += ["--set", o]
        proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        if proc.returncode != 0:
            raise RuntimeError("%s failed (%d):\n%s" % (" ".join(cmd), proc.returncode,
                                                        proc.stderr))
        with open(os.path.join(run, "metrics.jsonl")) as f:
            return [json.loads(line) for line in f if line.strip()]
