#!/usr/bin/env python3
"""`mart report` end to end: two tiny runs trained by the mart binary (N steps each, different lr),
one report overlaying them (the second run also recomputes block 0), checked in headless Chromium (tests/browser/check_html.py): every
section, one series per run with N points for loss, lr, grad_norm, tokens/s, step time and device
memory, one point per evaluation for val_loss, the planned regions, a screenshot. Negative
control: a run whose metrics.jsonl lost its last line must fail the N-point expectation.

Usage: report_cli_browser_test.py MART_BINARY OUT_DIR
Exit 0: pass; 1: a check failed; 77: chromium is missing (the CLI checks ran and passed).
"""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
CHECK_HTML = os.path.join(HERE, "..", "browser", "check_html.py")
STEPS = 8
EVAL_EVERY = 3  # evaluations at steps 3 and 6, and the last step (8): 3 points
EVALS = 3
# report/run_report.h, in page order ("timeline" appears only with a timeline.json).
SECTIONS = ["runs", "loss-step", "loss-tokens", "val-loss", "lr", "grad-norm", "tokens-per-s",
            "step-time", "device-memory", "plan", "block-modes", "predicted", "timeline",
            "config"]
TINY = ["--set", "train.micro_batch=2", "--set", "train.seq_len=16", "--set", "model.n_layer=2",
        "--set", "model.d_model=32", "--set", "model.n_head=4", "--set", "model.n_kv_head=2",
        "--set", "model.d_ff=64", "--set", "model.max_seq_len=32", "--set",
        "train.warmup_steps=2", "--set", f"train.steps={STEPS}", "--set",
        f"train.eval_every={EVAL_EVERY}", "--set", "train.eval_sequences=4"]

failures = []


def run(cmd, expect_rc=0):
    env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1")
    r = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    if expect_rc is not None and r.returncode != expect_rc:
        failures.append(f"{' '.join(cmd)}: exit {r.returncode}, expected {expect_rc}\n"
                        f"{r.stdout}{r.stderr}")
    return r


def check(cond, what):
    if not cond:
        failures.append(what)


def main():
    mart, out = sys.argv[1], os.path.abspath(sys.argv[2])
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    runs = []
    # The second run also recomputes block 0 (checkpoint), so the block-mode strips differ.
    recompute = ["--set", "memory.mode=manual", "--set", "activations.n_checkpoint=1"]
    for name, lr, extra in (("lr-3e-3", "3e-3", []), ("lr-1e-2", "1e-2", recompute)):
        d = os.path.join(out, name)
        run([mart, "train", "--no-progress", *TINY, "--set", f"train.lr={lr}", *extra,
             "--run-dir", d])
        runs.append(d)
    if failures:
        return report_failures()
    # summary.json's planned regions (the stacked bar) add up to the planned device budget.
    import json
    for d in runs:
        plan = json.load(open(os.path.join(d, "summary.json")))["plan"]
        check(sum(plan["device_regions"].values()) == plan["device_budget_bytes"],
              f"{d}: device_regions {plan['device_regions']} do not add up to "
              f"device_budget_bytes {plan['device_budget_bytes']}")
        check(all("tokens" in json.loads(line) for line in open(os.path.join(d, "metrics.jsonl"))),
              f"{d}: a metrics line without tokens")

    # One run: the default output is RUN/report.html, and its path is printed.
    r = run([mart, "report", runs[0]])
    check(r.stdout.strip() == runs[0] + "/report.html", f"printed {r.stdout!r}")
    check(os.path.exists(runs[0] + "/report.html"), "no RUN/report.html written")
    # Not a run directory: one line naming it.
    r = run([mart, "report", out], expect_rc=1)
    check(f"{out}: no metrics.jsonl -- is this a `mart train` run directory?" in r.stderr,
          f"missing-metrics message: {r.stderr!r}")
    r = run([mart, "report", runs[0], "--baseline", "nan"], expect_rc=1)
    check("--baseline" in r.stderr, f"--baseline nan message: {r.stderr!r}")

    page = os.path.join(out, "overlay.html")
    r = run([mart, "report", *runs, "-o", page, "--title", "two learning rates"])
    check(r.stdout.strip() == page, f"printed {r.stdout!r}")
    if failures:
        return report_failures()
    text = open(page).read()
    for cell in ("block 0: keep", "block 0: checkpoint", "block 1: keep"):
        check(f"<title>{cell}</title>" in text, f"no block-mode cell {cell!r}")
    expect = []
    for metric in ("loss", "lr", "grad_norm", "tokens_per_s", "step_s", "peak_device_bytes"):
        expect += ["--expect-series", f"{metric}={STEPS}"]
    expect += ["--expect-series", f"val_loss={EVALS}"]
    for sec in SECTIONS:
        expect += ["--expect-section", sec]
    expect += ["--expect-segment", "model_states", "--expect-segment", "activations"]
    # Both runs recorded step 2's timeline (train.trace_step's default): compute and host lanes.
    expect += ["--expect-lane", "compute", "--expect-lane", "host"]
    json_out = os.path.join(out, "overlay.check.json")
    c = subprocess.run([sys.executable, CHECK_HTML, page, "--screenshot",
                        os.path.join(out, "overlay.png"), "--height", "4400", "--json", json_out,
                        *expect], capture_output=True, text=True, timeout=600)
    print(c.stdout, c.stderr)
    if c.returncode == 77:
        return report_failures() or 77
    check(c.returncode == 0, "check_html failed on the overlay report")
    if c.returncode == 0:
        found = json.load(open(json_out))["series"]
        runs_of_loss = sorted({s["run"] for s in found if s["name"] == "loss"})
        check(runs_of_loss == ["lr-1e-2", "lr-3e-3"], f"loss series runs: {runs_of_loss}")

    # Negative control: the same expectations on a run that lost its last metrics line.
    short = os.path.join(out, "short")
    shutil.copytree(runs[0], short)
    lines = open(os.path.join(short, "metrics.jsonl")).read().splitlines(keepends=True)
    open(os.path.join(short, "metrics.jsonl"), "w").write("".join(lines[:-1]))
    short_page = os.path.join(out, "short.html")
    run([mart, "report", short, runs[1], "-o", short_page])
    c = subprocess.run([sys.executable, CHECK_HTML, short_page, "--expect-series",
                        f"loss={STEPS}"], capture_output=True, text=True, timeout=600)
    check(c.returncode == 1 and f"{STEPS - 1} points" in c.stdout,
          f"negative control: check_html exit {c.returncode} on a run of {STEPS - 1} lines:\n"
          f"{c.stdout}")
    return report_failures()


def report_failures():
    for f in failures:
        print("FAIL:", f)
    if not failures:
        print("PASS")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
