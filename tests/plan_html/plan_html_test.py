#!/usr/bin/env python3
"""`mart plan --html` pages, opened in headless Chromium by tests/browser/check_html.py.

  1. GPT-2 1.5B on an RTX 3090 cut to 4 GiB (offloaded chunks, 43 swapped and 4 checkpointed
     blocks): every section, the four busy lanes with uploads, offloads, swaps, recomputes and CPU
     Adam, the main memory regions; the device segments add up to the --json peak exactly.
  2. llama-7b on 2 GiB (nothing fits, exit 3): the page is still written, with the summary and
     the memory bars of the plan nearest to fitting, and no timeline.
  3. llama-7b on 24 GiB with --measured RUN_DIR and a hand-made RUN/timeline.json (format
     mart-timeline-1, read back by the C++ reader, which checks every field) and summary.json:
     the measured timeline and the predicted-versus-measured table.
  4. Errors: --measured on a run without timeline.json names train.trace_step; --measured without
     --html is refused.
Screenshots land in --out. Exit 0 pass, 1 fail, 77 Chromium missing (skip). --no-browser runs the
same commands and checks the page text only (CTest plan_html.cli: runs where Chromium is missing).
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def mart(args, cmd, expect_rc):
    r = subprocess.run([args.mart, "plan", *cmd], capture_output=True, text=True, timeout=300)
    if r.returncode != expect_rc:
        fail(f"mart plan {' '.join(cmd)}: exit {r.returncode}, expected {expect_rc}\n{r.stderr}")
    return r


def text_summary(page):
    # What check_html.py reads from the DOM, from the page text (--no-browser).
    html = open(page, encoding="utf-8").read()
    lanes = {}
    for m in re.finditer(r'<g class="lane" data-name="([a-z0-9_]+)">(.*?)</g>', html, re.S):
        lanes[m.group(1)] = lanes.get(m.group(1), 0) + m.group(2).count('class="span"')
    return {"lanes": lanes, "sections": re.findall(r'<section id="([a-z-]+)">', html),
            "segments": re.findall(r'class="bar-segment" data-name="([a-z_]+)"', html)}


def check_page(args, page, name, checks):
    if args.no_browser:
        s = text_summary(page)
        for flag, value in zip(checks[::2], checks[1::2]):
            key = {"--expect-section": "sections", "--expect-lane": "lanes",
                   "--expect-segment": "segments"}[flag]
            if value not in s[key] or (key == "lanes" and s[key][value] == 0):
                fail(f"{name}: no {key[:-1]} {value!r} ({s[key]})")
        return s
    shot = os.path.join(args.out, name + ".png")
    summary = os.path.join(args.out, name + ".json")
    cmd = [sys.executable, os.path.join(args.source, "tests/browser/check_html.py"), page,
           "--screenshot", shot, "--json", summary, *checks]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    print(r.stdout, end="")
    if r.returncode == 77:
        print(r.stdout + r.stderr)
        sys.exit(77)
    if r.returncode != 0:
        fail(f"{name}: check_html failed:\n{r.stdout}{r.stderr}")
    with open(summary) as f:
        return json.load(f)


def device_segment_bytes(html):
    # Device regions: every bar segment but the host ones (host_*).
    return sum(int(b) for n, b in re.findall(
        r'class="bar-segment" data-name="([a-z_]+)" data-bytes="(\d+)"', html)
        if not n.startswith("host_"))


def offloaded(args):
    page = os.path.join(args.out, "offloaded.html")
    job = os.path.join(args.source, "configs/jobs/gpt2-1.5b.yaml")
    r = mart(args, [job, "--hardware", "rtx3090", "--gpu-mem", "4GiB", "--json", "--html", page],
             0)
    predicted = json.loads(r.stdout)["predicted"]
    sections = ["summary", "plan", "memory", "timeline", "block-modes", "runner-ups"]
    lanes = ["compute", "h2d", "d2h", "cpu_adam"]
    segments = ["resident_chunks", "device_optimizer_states", "chunk_buffers", "block_inputs",
                "act_keep", "act_recompute", "act_swap_stage", "head", "scratch",
                "host_master_adam", "host_grad_landing", "host_swap"]
    s = check_page(args, page, "offloaded",
                   [a for x in sections for a in ("--expect-section", x)] +
                   [a for x in lanes for a in ("--expect-lane", x)] +
                   [a for x in segments for a in ("--expect-segment", x)])
    html = open(page, encoding="utf-8").read()
    if device_segment_bytes(html) != predicted["peak_device_bytes"]:
        fail(f"device segments add up to {device_segment_bytes(html)} bytes, the plan's peak is "
             f"{predicted['peak_device_bytes']}")
    # One span per upload and offload of the step (the cost model counts them), besides swaps.
    if s["lanes"].get("d2h", 0) < predicted["offloads"]:
        fail(f"d2h lane has {s['lanes'].get('d2h')} spans, fewer than the "
             f"{predicted['offloads']} offloads per step")
    for what in ("<title>upload chunk ", "<title>offload chunk ", "<title>swap out block ",
                 "<title>swap in block ", "<title>recompute block ", "<title>cpu adam chunk "):
        if what not in html:
            fail(f"no span labelled {what[7:]!r}... in the simulated timeline")
    return predicted


def does_not_fit(args, job):
    page = os.path.join(args.out, "does_not_fit.html")
    mart(args, [job, "--gpu-mem", "2GiB", "--html", page], 3)
    if not os.path.exists(page):
        fail("a job that does not fit got no page")
        return
    s = check_page(args, page, "does_not_fit",
                   ["--expect-section", "summary", "--expect-section", "memory",
                    "--expect-segment", "chunk_buffers", "--expect-segment", "act_recompute"])
    if "timeline" in s["sections"] or s["lanes"]:
        fail(f"a job that does not fit got a timeline: {s['sections']} {s['lanes']}")
    if "over by" not in open(page, encoding="utf-8").read():
        fail("the page of a job that does not fit does not say by how much it overflows")


def measured(args, job):
    predicted = json.loads(mart(args, [job, "--gpu-mem", "24GiB", "--json"], 0).stdout)["predicted"]
    run = os.path.join(args.out, "run")
    os.makedirs(run, exist_ok=True)
    spans = []
    t = 0.0
    for b in range(4):  # a made-up step: forward, uploads, offloads, CPU Adam, a host sync
        spans.append({"lane": "compute", "kind": "forward", "start_s": t, "end_s": t + 0.05,
                      "block": b, "chunk": -1, "bytes": 0, "label": f"forward block {b}"})
        spans.append({"lane": "h2d", "kind": "upload", "start_s": t, "end_s": t + 0.04,
                      "block": -1, "chunk": b, "bytes": 1 << 28, "label": f"upload chunk {b}"})
        t += 0.05
    for b in reversed(range(4)):
        spans.append({"lane": "compute", "kind": "backward", "start_s": t, "end_s": t + 0.1,
                      "block": b, "chunk": -1, "bytes": 0, "label": f"backward block {b}"})
        spans.append({"lane": "d2h", "kind": "offload", "start_s": t + 0.05, "end_s": t + 0.1,
                      "block": -1, "chunk": b, "bytes": 1 << 28, "label": f"offload chunk {b}"})
        spans.append({"lane": "cpu_adam", "kind": "adam", "start_s": t + 0.1, "end_s": t + 0.3,
                      "block": -1, "chunk": b, "bytes": 0, "label": f"cpu adam chunk {b}"})
        t += 0.1
    spans.append({"lane": "host", "kind": "sync", "start_s": t, "end_s": t + 0.3, "block": -1,
                  "chunk": -1, "bytes": 0, "label": "synchronize"})
    timeline = {"format": "mart-timeline-1", "source": "measured", "device": "cuda", "step": 2,
                "duration_s": t + 0.3, "spans": spans}
    with open(os.path.join(run, "timeline.json"), "w") as f:
        json.dump(timeline, f)
    with open(os.path.join(run, "summary.json"), "w") as f:
        json.dump({"peak_device_bytes": predicted["peak_device_bytes"], "median_step_s": 1.7,
                   "tokens_per_s": 600.0, "device": "cuda"}, f)
    page = os.path.join(args.out, "measured.html")
    mart(args, [job, "--gpu-mem", "24GiB", "--html", page, "--measured", run], 0)
    s = check_page(args, page, "measured",
                   ["--expect-section", "timeline", "--expect-section", "measured-timeline",
                    "--expect-section", "predicted-vs-measured", "--expect-lane", "host"])
    html = open(page, encoding="utf-8").read()
    if html.count('<g class="lane" data-name="compute">') != 2:
        fail("expected a compute lane in both the simulated and the measured timeline")
    if "<td>exact</td>" not in html:
        fail("the measured peak equals the predicted one but the table does not say exact")
    del s


def errors(args, job):
    empty = os.path.join(args.out, "empty_run")
    os.makedirs(empty, exist_ok=True)
    page = os.path.join(args.out, "error.html")
    r = mart(args, [job, "--gpu-mem", "24GiB", "--html", page, "--measured", empty], 1)
    if "train.trace_step" not in r.stderr or "timeline.json" not in r.stderr:
        fail(f"--measured on a run without timeline.json: {r.stderr!r}")
    r = mart(args, [job, "--measured", empty], 1)
    if "--html" not in r.stderr:
        fail(f"--measured without --html: {r.stderr!r}")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mart", required=True)
    p.add_argument("--source", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--no-browser", action="store_true",
                   help="check the page text instead of opening it in Chromium")
    args = p.parse_args()
    shutil.rmtree(args.out, ignore_errors=True)
    os.makedirs(args.out)
    job = os.path.join(args.source, "configs/jobs/llama-7b.yaml")
    offloaded(args)
    does_not_fit(args, job)
    measured(args, job)
    errors(args, job)
    print("plan_html:", "FAILED" if failures else "ok", f"({len(failures)} failure(s))")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
