"""Shared helpers of the reliability tests (crash_test.py, disk_full_test.py): the tiny job, running
`mart`, reading metrics.jsonl exactly, verifying checkpoints (sizes + CRC-32C, as the loader does)
and auditing a run directory for leftovers. Python 3 standard library only."""

import hashlib
import json
import os
import re
import signal
import subprocess
import tempfile
import time

# A two-block Llama small enough that one step takes about a millisecond: a run's time goes into
# process start and the per-step checkpoints, so kills land in every phase. eval_every=5 puts
# evaluations between checkpoints.
TINY_JOB = {
    "model.n_layer": 2, "model.d_model": 32, "model.n_head": 4, "model.n_kv_head": 2,
    "model.d_ff": 64, "model.vocab_size": 32, "model.max_seq_len": 32,
    "train.micro_batch": 2, "train.seq_len": 16, "train.warmup_steps": 2,
    "train.eval_every": 5, "train.eval_batches": 2, "train.checkpoint_every": 1,
}

# Per-step numbers that must not depend on where a run was stopped (step_s etc. are timings).
EXACT_KEYS = ("step", "loss", "grad_norm", "lr", "val_loss")

HANG_GUARD_S = 120  # a generous bound on any one `mart` process (a tiny run takes ~1 s): a hang


def job_args(steps, **overrides):
    """--set arguments for the tiny job with `steps` steps (overrides use '__' for '.')."""
    sets = dict(TINY_JOB)
    sets["train.steps"] = steps
    for k, v in overrides.items():
        sets[k.replace("__", ".")] = v
    args = []
    for k, v in sets.items():
        args += ["--set", f"{k}={v}"]
    return args


def default_workdir():
    """/dev/shm where it exists: a killed process loses exactly what it would on a disk (the page
    cache outlives it), and per-step checkpoints do not wait on a shared disk's fsync."""
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else tempfile.gettempdir()


def mart_env():
    """One thread: the runs are bitwise deterministic either way, and the machine is shared."""
    env = dict(os.environ)
    env.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", OMP_WAIT_POLICY="PASSIVE")
    return env


def start(mart, args, log_path):
    """Starts `mart ARGS` with stdout+stderr going to log_path; returns the Popen."""
    log = open(log_path, "wb")
    try:
        return subprocess.Popen([mart] + args + ["--no-progress"], stdout=log,
                                stderr=subprocess.STDOUT, env=mart_env())
    finally:
        log.close()


def wait(proc, timeout=HANG_GUARD_S):
    """The exit status (negative: killed by that signal), or None after a hang (then killed)."""
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        return None


def run(mart, args, log_path, timeout=HANG_GUARD_S):
    """Runs `mart ARGS` to the end: (status or None on a hang, wall seconds, log text)."""
    t0 = time.monotonic()
    rc = wait(start(mart, args, log_path), timeout)
    dt = time.monotonic() - t0
    return rc, dt, read_text(log_path)


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8", "replace")


# ---------------------------------------------------------------------------------- metrics ----

def read_metrics(run_dir):
    """(complete lines as dicts with floats kept as their exact JSON text, torn) where torn is None,
    "last" (a crash mid-write) or a message for a bad line before the end."""
    path = os.path.join(run_dir, "metrics.jsonl")
    if not os.path.exists(path):
        return [], None
    lines, torn = [], None
    with open(path, "rb") as f:
        raw = [x for x in f.read().decode("utf-8", "replace").split("\n") if x]
    for i, line in enumerate(raw):
        try:
            # parse_float=str: a double is compared as the shortest text that reads back exactly,
            # so equal text means equal bits.
            lines.append(json.loads(line, parse_float=str))
        except json.JSONDecodeError:
            torn = "last" if i == len(raw) - 1 else f"line {i + 1} of {len(raw)} is not JSON"
    return lines, torn


def metrics_diff(ref, got, allow_missing=()):
    """Differences between two metrics lists on EXACT_KEYS; steps in allow_missing may be absent
    from `got` (a line whose write failed). Returns a list of messages (empty: identical)."""
    ref_by = {m["step"]: m for m in ref}
    got_by = {}
    problems = []
    for m in got:
        if m.get("step") in got_by:
            problems.append(f"step {m.get('step')} appears twice")
        got_by[m.get("step")] = m
    missing = []
    for step, r in ref_by.items():
        g = got_by.get(step)
        if g is None:
            if step not in allow_missing:
                missing.append(step)
            continue
        for k in EXACT_KEYS:
            if r.get(k) != g.get(k):
                problems.append(f"step {step}: {k} {g.get(k)} != reference {r.get(k)}")
    if missing:
        problems.append(f"{len(missing)} steps missing: {missing[:3]}{' ...' * (len(missing) > 3)}")
    extra = sorted(set(got_by) - set(ref_by), key=str)
    if extra:
        problems.append(f"steps not in the reference: {extra[:5]}")
    return problems


# ------------------------------------------------------------------------------ checkpoints ----

def _crc32c_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_CRC_TABLE = _crc32c_table()
_CRC_CACHE = {}  # blake2b digest -> CRC: a checkpoint of step k has the same bytes in every trial


def crc32c(data):
    key = hashlib.blake2b(data, digest_size=16).digest()
    if key not in _CRC_CACHE:
        crc, t = 0xFFFFFFFF, _CRC_TABLE
        for b in data:
            crc = t[(crc ^ b) & 0xFF] ^ (crc >> 8)
        _CRC_CACHE[key] = crc ^ 0xFFFFFFFF
    return _CRC_CACHE[key]


assert crc32c(b"123456789") == 0xE3069283  # the standard check value (io/checksum.h)

STEP_DIR = re.compile(r"^step_(\d{8})$")


def _manifests(ckpt):
    """Every JSON file in the checkpoint with a "files" table of {bytes, crc32c} entries
    (trainer_state.json today; a separate manifest works the same)."""
    found = {}
    for name in sorted(os.listdir(ckpt)):
        if not name.endswith(".json"):
            continue
        try:
            with open(os.path.join(ckpt, name), "rb") as f:
                j = json.loads(f.read())
        except (OSError, ValueError):
            continue
        if isinstance(j, dict) and isinstance(j.get("files"), dict):
            found[name] = j["files"]
    return found


def verify_checkpoint(ckpt):
    """Problems with one checkpoint directory (empty list: intact). Checks what the loader checks:
    trainer_state.json parses and names this step, and every file in a manifest has its recorded
    size and CRC-32C; weights and optimizer state must be covered."""
    problems = []
    m = STEP_DIR.match(os.path.basename(ckpt))
    state_path = os.path.join(ckpt, "trainer_state.json")
    try:
        with open(state_path, "rb") as f:
            state = json.loads(f.read())
        if m and state.get("step") != int(m.group(1)):
            problems.append(f"{state_path}: step {state.get('step')} in {os.path.basename(ckpt)}")
    except (OSError, ValueError) as e:
        return [f"{state_path}: unreadable ({e})"]
    covered = set()
    for manifest, files in _manifests(ckpt).items():
        for name, e in files.items():
            p = os.path.join(ckpt, name)
            covered.add(name)
            try:
                with open(p, "rb") as f:
                    data = f.read()
            except OSError as err:
                problems.append(f"{p}: listed in {manifest} but unreadable ({err.strerror})")
                continue
            if len(data) != e.get("bytes"):
                problems.append(f"{p}: {len(data)} bytes, {manifest} says {e.get('bytes')}")
            elif crc32c(data) != e.get("crc32c"):
                problems.append(f"{p}: CRC-32C differs from {manifest}")
    # Format 3 keeps the weights in model/ (what transformers reads); format 2 kept them flat.
    for need in (("model/model.safetensors", "model.safetensors"), ("optimizer.safetensors",)):
        if not covered.intersection(need):
            problems.append(f"{ckpt}: {need[0]} is not covered by a checksum manifest")
    return problems


def weights_file(ckpt):
    """A checkpoint's model.safetensors: in model/ (format 3) or flat (format 2)."""
    inside = os.path.join(ckpt, "model", "model.safetensors")
    return inside if os.path.exists(inside) else os.path.join(ckpt, "model.safetensors")


def checkpoint_dirs(run_dir):
    """Names of RUN/checkpoints/step_* directories, oldest first."""
    root = os.path.join(run_dir, "checkpoints")
    if not os.path.isdir(root):
        return []
    return sorted(n for n in os.listdir(root) if STEP_DIR.match(n))


def latest_name(run_dir):
    """The directory `latest` names, or None when there is no pointer."""
    try:
        with open(os.path.join(run_dir, "checkpoints", "latest")) as f:
            return f.read().strip()
    except OSError:
        return None


def step_of(name):
    m = STEP_DIR.match(name or "")
    return int(m.group(1)) if m else None


def stale_temporaries(run_dir):
    """Leftovers of an interrupted write anywhere under RUN: hidden directories (.tmp-* for a
    checkpoint being written, .deleting-* for one being pruned) and NAME.tmp.PID files
    (write_file_atomic)."""
    dirs, files = [], []
    for root, dnames, fnames in os.walk(run_dir):
        dirs += [os.path.join(root, d) for d in dnames if d.startswith(".")]
        files += [os.path.join(root, f) for f in fnames if re.search(r"\.tmp\.\d+$", f)]
        dnames[:] = [d for d in dnames if not d.startswith(".")]
    return dirs, files


def same_bytes(a, b):
    with open(a, "rb") as x, open(b, "rb") as y:
        return x.read() == y.read()


def final_state_diff(ref_run, run_dir):
    """The newest checkpoint's weights and optimizer state must equal the reference's, byte for
    byte. Returns a list of problems."""
    a, b = latest_name(ref_run), latest_name(run_dir)
    if a != b:
        return [f"latest is {b}, reference {a}"]
    problems = []
    for f in ("model/model.safetensors", "optimizer.safetensors"):
        pa = os.path.join(ref_run, "checkpoints", a, f)
        pb = os.path.join(run_dir, "checkpoints", b, f)
        if not os.path.exists(pb) or not same_bytes(pa, pb):
            problems.append(f"final {f} differs from the reference")
    return problems


def finished_run_problems(ref_run, run_dir, allow_missing=()):
    """Everything a run directory must satisfy once training reached the last step: metrics equal
    the reference's, no temporary leftovers, every checkpoint intact, `latest` names the last one
    and holds the reference's final weights and optimizer state."""
    ref, _ = read_metrics(ref_run)
    got, torn = read_metrics(run_dir)
    problems = metrics_diff(ref, got, allow_missing)
    if torn:
        problems.append(f"metrics.jsonl has a torn line ({torn})")
    tmp_dirs, _ = stale_temporaries(run_dir)
    problems += [f"stale temporary directory {d}" for d in tmp_dirs]
    for name in checkpoint_dirs(run_dir):
        problems += verify_checkpoint(os.path.join(run_dir, "checkpoints", name))
    problems += final_state_diff(ref_run, run_dir)
    return problems


def summary_problems(run_dir, steps, final_loss):
    """summary.json of a finished run must report every step and the last step's loss (the JSON
    text of the reference's)."""
    path = os.path.join(run_dir, "summary.json")
    try:
        with open(path, "rb") as f:
            s = json.loads(f.read(), parse_float=str)
    except (OSError, ValueError) as e:
        return [f"{path}: unreadable ({e})"]
    problems = []
    if s.get("steps") != steps:
        problems.append(f"summary.json steps {s.get('steps')}, expected {steps}")
    if s.get("final_loss") != final_loss:
        problems.append(f"summary.json final_loss {s.get('final_loss')}, reference {final_loss}")
    return problems
