#!/usr/bin/python3
"""TensorBoard event files of `mart train`, read back by a reader independent of MART's C++ code.

The reader frames records with struct, checks both masked CRC-32Cs with its own CRC-32C, and
decodes the records with python3-protobuf from io/tensorboard_event.proto compiled here by protoc.
It trains a short run (stopped and resumed, with evaluation and metrics_csv on) and checks that
every scalar of every metrics.jsonl line equals its event's simple_value as float32 at the
line's step, that RUN/metrics.csv equals metrics.jsonl, and (negative control) that one corrupted
byte in the event file is reported as a CRC failure.

Usage: read_events.py --mart BUILD/mart --proto SRC/io/tensorboard_event.proto
Exit 0: pass; 1: a check failed; 77: python3-protobuf or protoc missing (CTest SKIP).
"""
import argparse
import csv
import glob
import importlib.util
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile

SKIP = 77

CONFIG = """\
name: tb-read-events
backend: cpu
model:
  family: llama
  n_layer: 2
  d_model: 32
  n_head: 4
  n_kv_head: 2
  d_ff: 64
  vocab_size: 32
  max_seq_len: 32
train:
  micro_batch: 2
  seq_len: 16
  steps: 7
  warmup_steps: 1
  eval_every: 3
  eval_sequences: 4
  metrics_csv: true
"""


def _crc32c_table():
    table = []
    for b in range(256):
        c = b
        for _ in range(8):
            c = (c >> 1) ^ (0x82F63B78 if c & 1 else 0)
        table.append(c)
    return table


_TABLE = _crc32c_table()


def crc32c(data):
    c = 0xFFFFFFFF
    for b in data:
        c = (c >> 8) ^ _TABLE[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


def masked_crc(data):
    c = crc32c(data)
    return (((c >> 15) | (c << 17)) + 0xA282EAD8) & 0xFFFFFFFF


class CrcError(Exception):
    pass


def read_records(path):
    """Every record's data; raises CrcError naming the record and offset of a bad one."""
    with open(path, "rb") as f:
        buf = f.read()
    out, off = [], 0
    while off < len(buf):
        if len(buf) - off < 12:
            raise CrcError(f"{path}: record {len(out)} at byte {off}: truncated header")
        (length,) = struct.unpack_from("<Q", buf, off)
        (len_crc,) = struct.unpack_from("<I", buf, off + 8)
        if len_crc != masked_crc(buf[off:off + 8]):
            raise CrcError(f"{path}: record {len(out)} at byte {off}: length CRC mismatch")
        end = off + 12 + length
        if end + 4 > len(buf):
            raise CrcError(f"{path}: record {len(out)} at byte {off}: truncated data")
        data = buf[off + 12:end]
        (data_crc,) = struct.unpack_from("<I", buf, end)
        if data_crc != masked_crc(data):
            raise CrcError(f"{path}: record {len(out)} at byte {off}: data CRC mismatch")
        out.append(data)
        off = end + 4
    return out


def load_proto(proto, tmp):
    subprocess.run(["protoc", f"--python_out={tmp}", "-I", os.path.dirname(proto), proto],
                   check=True)
    name = os.path.splitext(os.path.basename(proto))[0] + "_pb2"
    spec = importlib.util.spec_from_file_location(name, os.path.join(tmp, name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def f32(x):
    return struct.unpack("<f", struct.pack("<f", float(x)))[0]


def is_number(v):
    return isinstance(v, (int, float)) and not isinstance(v, bool)


class Checker:
    def __init__(self, quiet=False):
        self.failures = 0
        self.quiet = quiet

    def expect(self, cond, what):
        if not cond:
            self.failures += 1
            if not self.quiet:
                print("FAIL:", what, file=sys.stderr)
        return cond


def check_events(ck, pb, event_file, lines):
    events = []
    for rec in read_records(event_file):
        e = pb.Event()
        e.ParseFromString(rec)
        events.append(e)
    ck.expect(events and events[0].file_version == "brain.Event:2",
              f"first record is file_version brain.Event:2: {events[:1]}")
    steps = events[1:]
    if not ck.expect(len(steps) == len(lines),
                     f"{len(steps)} step events for {len(lines)} metrics lines"):
        return
    scalars = 0
    for line, e in zip(lines, steps):
        ck.expect(e.step == line["step"], f"event step {e.step} for line step {line['step']}")
        got = {v.tag: v.simple_value for v in e.summary.value}
        want = {k: f32(v) for k, v in line.items() if k != "step" and is_number(v)}
        ck.expect(got == want, f"step {line['step']}: event scalars {got} != jsonl {want}")
        scalars += len(want)
    if not ck.quiet:
        print(f"read_events: {len(steps)} events, {scalars} scalars compared with metrics.jsonl")


def check_csv(ck, csv_path, lines):
    with open(csv_path, newline="") as f:
        rows = list(csv.reader(f))
    ck.expect(open(csv_path, "rb").read().endswith(b"\r\n"), "CSV rows end with CRLF")
    if not ck.expect(len(rows) == len(lines) + 1, f"{len(rows)} CSV rows for {len(lines)} lines"):
        return
    head = rows[0]
    ck.expect(head and head[0] == "step", f"CSV header starts with step: {head}")
    for line, row in zip(lines, rows[1:]):
        cells = dict(zip(head, row))
        for k in head:
            if k not in line:
                ck.expect(cells[k] == "", f"step {line['step']}: {k} empty, got {cells[k]!r}")
        for k, v in line.items():
            ck.expect(k in cells, f"column {k} missing")
            if k not in cells:
                continue
            if is_number(v):
                ok = (int(cells[k]) == v) if isinstance(v, int) else (float(cells[k]) == v)
            else:
                ok = cells[k] == (v if isinstance(v, str) else json.dumps(v))
            ck.expect(ok, f"step {line['step']}: CSV {k}={cells[k]!r}, jsonl {v!r}")
    print(f"read_events: metrics.csv equals metrics.jsonl ({len(lines)} rows, {len(head)} columns)")


def negative_control(ck, event_file, tmp):
    bad = os.path.join(tmp, "corrupt.tfevents")
    shutil.copyfile(event_file, bad)
    data = bytearray(open(bad, "rb").read())
    first_len = struct.unpack_from("<Q", data, 0)[0]
    pos = 16 + first_len + 12 + 3  # a data byte of record 1
    data[pos] ^= 0x40
    open(bad, "wb").write(bytes(data))
    try:
        read_records(bad)
        ck.expect(False, "negative control: a corrupted byte was not reported")
    except CrcError as e:
        ck.expect("record 1" in str(e) and "data CRC" in str(e), f"negative control: {e}")
        print(f"read_events: negative control reported: {e}")


def train(mart, args):
    cmd = [mart, "train", "--no-progress"] + args
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        print(r.stdout, r.stderr, file=sys.stderr)
        raise SystemExit(f"`{' '.join(cmd)}` exited {r.returncode}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mart", required=True)
    ap.add_argument("--proto", required=True)
    args = ap.parse_args()
    try:
        import google.protobuf  # noqa: F401
    except ImportError:
        print("read_events: SKIP: python3-protobuf missing (apt install python3-protobuf)")
        return SKIP
    if shutil.which("protoc") is None:
        print("read_events: SKIP: protoc missing (apt install protobuf-compiler)")
        return SKIP
    ck = Checker()
    with tempfile.TemporaryDirectory(prefix="mart_tb_") as tmp:
        pb = load_proto(args.proto, tmp)
        # The proto's bytes are TensorBoard's: a hand-encoded event (see tests/io) parses here.
        e = pb.Event()
        e.ParseFromString(bytes.fromhex("09000000000000f83f10032a0d0a0b0a046c6f73731500002040"))
        ck.expect(e.step == 3 and e.summary.value[0].tag == "loss"
                  and e.summary.value[0].simple_value == 2.5, f"hand-encoded event: {e}")
        cfg = os.path.join(tmp, "job.yaml")
        open(cfg, "w").write(CONFIG)
        run = os.path.join(tmp, "run")
        train(args.mart, [cfg, "--run-dir", run, "--stop-after", "4"])
        train(args.mart, ["--resume", run])
        with open(os.path.join(run, "metrics.jsonl")) as f:
            lines = [json.loads(l) for l in f if l.strip()]
        ck.expect([l["step"] for l in lines] == list(range(1, 8)), "steps 1..7 in metrics.jsonl")
        ck.expect(any("val_loss" in l for l in lines), "some line has val_loss")
        files = glob.glob(os.path.join(run, "tensorboard", "events.out.tfevents.*.mart"))
        if ck.expect(len(files) == 1, f"one event file after the resume: {files}"):
            check_events(ck, pb, files[0], lines)
            negative_control(ck, files[0], tmp)
            # Negative control of the comparison: one loss changed in the last float32 bit.
            wrong = [dict(l) for l in lines]
            wrong[2]["loss"] = struct.unpack("<f", struct.pack("<I", struct.unpack(
                "<I", struct.pack("<f", wrong[2]["loss"]))[0] ^ 1))[0]
            quiet = Checker(quiet=True)
            check_events(quiet, pb, files[0], wrong)
            if ck.expect(quiet.failures == 1, f"a changed loss gave {quiet.failures} failures, not 1"):
                print("read_events: negative control: a loss changed by one float32 ulp is caught")
        check_csv(ck, os.path.join(run, "metrics.csv"), lines)
    if ck.failures:
        print(f"read_events: {ck.failures} check(s) failed", file=sys.stderr)
        return 1
    print("read_events: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
