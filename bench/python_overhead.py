#!/usr/bin/python3
"""The cost of driving `mart train`'s job from Python (a mart.Session loop) instead of the
launcher; bench/python_overhead.sh runs it.

Two runners, alternated ROUNDS times, each in a fresh process and a fresh run directory:
- launcher: `mart train --no-progress --run-dir DIR [--set k=v ...]`. Its loop starts when it
  prints its header line ("mart: <job> | ...", written right after the session is built: we take
  the arrival time on its stderr pipe) and ends at the last write of DIR/metrics.jsonl (flushed
  after every step; its mtime, kernel tick resolution ~4 ms). Per-step times: metrics.jsonl's
  step_s. After the loop it writes the final checkpoint and summary.json: not counted.
- python: this file with --python-loop: mart.Session(overrides=same) then, per step,
  next_batch(n_micro_batches=grad_accum) + step_params(step) + train_step(...) with those
  hyperparameters: what the launcher's loop does, minus its metrics line. Loop time from after
  the session is built to after the last step (time.time(), the clock mtimes use). Per-step
  times: the StepResult's seconds (the same measurement as step_s).
Both run the same overrides, train.eval_every=0 among them (the Python loop does not evaluate).
Startup (process start, library loading, session build) is excluded on both sides. Both runs get
the same environment, OMP_WAIT_POLICY included (the launcher re-executes itself with PASSIVE
when it is unset; the harness sets it for both so neither re-executes).

Printed: per round both runners' loop wall, sum and median of step times; then the medians
over rounds and the overhead (python - launcher) / launcher in %; and whether the two loss
curves are identical (they should be, bit for bit: the same job on the same data).
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time


def python_loop(overrides, steps):
    """Runs in its own process; prints one JSON line with what it measured."""
    import mart

    with mart.Session(overrides=overrides) as s:
        info = s.info
        faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        step_s, iter_s, losses = [], [], []
        t0 = time.time()
        for k in range(1, steps + 1):
            ti = time.perf_counter()
            x, y = s.next_batch(n_micro_batches=info.grad_accum)
            p = s.step_params(k)
            r = s.train_step(x, y, lr=p.lr, beta1=p.beta1, beta2=p.beta2, eps=p.eps,
                             weight_decay=p.weight_decay, grad_clip=p.grad_clip, step=p.step)
            iter_s.append(time.perf_counter() - ti)
            step_s.append(r.seconds)
            losses.append(r.loss)
        t1 = time.time()
        faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0
    print("JSON " + json.dumps({"loop_s": t1 - t0, "step_s": step_s, "iter_s": iter_s,
                                "losses": losses, "faults_per_step": faults / steps}))


def run_python(overrides, steps, env):
    cmd = [sys.executable, os.path.abspath(__file__), "--python-loop", "--steps", str(steps)]
    for o in overrides:
        cmd += ["--set", o]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if p.returncode != 0:
        raise SystemExit(f"python_overhead: the Python loop failed ({p.returncode}):\n{p.stderr}")
    line = [ln for ln in p.stdout.splitlines() if ln.startswith("JSON ")][-1]
    return json.loads(line[5:])


def minflt(pid):
    """Minor page faults of a live process so far (/proc/PID/stat field 10)."""
    with open(f"/proc/{pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[7])


def run_launcher(mart_bin, overrides, env):
    with tempfile.TemporaryDirectory(prefix="mart_overhead_") as tmp:
        run_dir = os.path.join(tmp, "run")
        cmd = [mart_bin, "train", "--no-progress", "--run-dir", run_dir]
        for o in overrides:
            cmd += ["--set", o]
        p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
        t_header, f_header, err = None, 0, []
        for line in p.stderr:  # blocking reads: the harness uses no CPU while the job runs
            if t_header is None and line.startswith("mart: ") and " | " in line:
                t_header = time.time()
                f_header = minflt(p.pid)
            err.append(line)
        _, status, usage = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0 or t_header is None:
            raise SystemExit(f"python_overhead: `{' '.join(cmd)}` failed ({p.returncode}) or "
                             f"printed no header line:\n{''.join(err)}")
        metrics = os.path.join(run_dir, "metrics.jsonl")
        t_end = os.stat(metrics).st_mtime_ns * 1e-9
        with open(metrics) as f:
            rows = [json.loads(ln) for ln in f if ln.strip()]
    # faults after the header: the loop plus the final checkpoint and summary (an upper bound)
    return {"loop_s": t_end - t_header, "step_s": [r["step_s"] for r in rows],
            "losses": [r["loss"] for r in rows],
            "faults_per_step": (usage.ru_minflt - f_header) / max(1, len(rows))}


def pct(py, la):
    return 100.0 * (py - la) / la


def summarise(rounds, pythons):
    """rounds: [{runner: result}], "launcher" and each name in `pythons` in every round."""
    # "outside the steps" (loop wall - sum of step_s: batches, step params, ctypes, the
    # launcher's metrics lines) is what the driver itself costs; it hardly depends on the load,
    # unlike the step times, so on a busy machine it is the figure to trust.
    keys = [("loop wall", lambda r: r["loop_s"]), ("sum of step_s", lambda r: sum(r["step_s"])),
            ("median step_s", lambda r: statistics.median(r["step_s"]))]

    def outside_per_step(r):
        return (r["loop_s"] - sum(r["step_s"])) / len(r["step_s"])

    print()
    print(f"{'round':>5}  {'runner':16s} {'loop wall s':>11} {'sum step_s':>10} "
          f"{'median step_s':>13} {'faults/step':>11} {'iter - step_s (median)':>23}")
    for i, rd in enumerate(rounds):
        for name in ["launcher"] + pythons:
            r = rd[name]
            extra = ""
            if "iter_s" in r:  # what Python adds around each step: batch, params, ctypes
                d = statistics.median(a - b for a, b in zip(r["iter_s"], r["step_s"]))
                extra = f"{d * 1e3:20.3f} ms"
            print(f"{i + 1:5d}  {name:16s} {r['loop_s']:11.3f} {sum(r['step_s']):10.3f} "
                  f"{statistics.median(r['step_s']):13.4f} {r['faults_per_step']:11.0f} {extra}")
    result = {}
    for py_name in pythons:
        print()
        print(f"{'median over rounds':24s} {'launcher':>10} {py_name:>16} {'overhead':>9}")
        res = {}
        for name, f in keys:
            la = statistics.median(f(rd["launcher"]) for rd in rounds)
            py = statistics.median(f(rd[py_name]) for rd in rounds)
            # the per-round paired difference is less exposed to load drifting between rounds
            paired = statistics.median(pct(f(rd[py_name]), f(rd["launcher"])) for rd in rounds)
            res[name] = {"launcher": la, "python": py, "overhead_pct": pct(py, la),
                         "paired_overhead_pct": paired}
            print(f"{name:24s} {la:10.4f} {py:16.4f} {pct(py, la):+8.2f}%  (paired per round: "
                  f"{paired:+.2f}%)")
        same = all(rd["launcher"]["losses"] == rd[py_name]["losses"] for rd in rounds)
        print(f"loss curves identical to the launcher's in every round: {'yes' if same else 'NO'}")
        out_la = statistics.median(outside_per_step(rd["launcher"]) for rd in rounds)
        out_py = statistics.median(outside_per_step(rd[py_name]) for rd in rounds)
        per_step = res["loop wall"]["launcher"] / len(rounds[0]["launcher"]["step_s"])
        res["outside_steps_ms"] = {"launcher": out_la * 1e3, "python": out_py * 1e3,
                                   "diff_pct_of_step": 100 * (out_py - out_la) / per_step}
        print(f"time outside the steps, per step: {out_py * 1e3:.3f} ms ({py_name}), "
              f"{out_la * 1e3:.3f} ms (launcher): the driver's own cost, "
              f"{res['outside_steps_ms']['diff_pct_of_step']:+.3f}% of a launcher step")
        worst = max(res[name]["overhead_pct"] for name, _ in keys)
        print(f"{py_name}: largest overhead {worst:+.2f}% (target < 2%: "
              f"{'met' if worst < 2 else 'MISSED'})")
        result[py_name] = {"identical_losses": same, "measures": res}
    print("JSON " + json.dumps({"bench": "python_overhead", "rounds": len(rounds),
                                "runners": result}))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mart", help="the mart launcher binary")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--steps", type=int, default=120, help="the default job's train.steps")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="an override for both runners (as `mart train --set`)")
    ap.add_argument("--jemalloc", default="", metavar="LIB",
                    help="also run the Python loop with LD_PRELOAD=LIB (the launcher's malloc)")
    ap.add_argument("--python-loop", action="store_true", help=argparse.SUPPRESS)
    a = ap.parse_args()
    # No periodic validation: the Python loop does not evaluate (the launcher would, at steps
    # 40, 80 and 120 of the default job, inside its loop).
    overrides = [f"train.steps={a.steps}", "train.eval_every=0"] + a.set
    if a.python_loop:  # the harness passes every override, these two included, as --set
        return python_loop(a.set, a.steps)
    if not a.mart:
        ap.error("--mart is required")
    env = dict(os.environ)
    env.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    pythons = {"python": env}
    if a.jemalloc:  # the launcher's malloc, for attributing a difference to the allocator
        pythons["python+jemalloc"] = dict(env, LD_PRELOAD=a.jemalloc)
    print(f"overrides {overrides}; OMP_WAIT_POLICY={env['OMP_WAIT_POLICY']}, "
          f"OMP_NUM_THREADS={env.get('OMP_NUM_THREADS', 'unset')}; {a.rounds} rounds", flush=True)
    rounds = []
    for i in range(a.rounds):
        # rotate the order, so a load trend does not favour one runner
        order = ["launcher"] + list(pythons)
        order = order[i % len(order):] + order[:i % len(order)]
        got = {}
        for who in order:
            got[who] = (run_launcher(a.mart, overrides, env) if who == "launcher"
                        else run_python(overrides, a.steps, pythons[who]))
        rounds.append(got)
        print(f"round {i + 1}: " + ", ".join(f"{k} loop {v['loop_s']:.3f} s"
                                             for k, v in got.items()), flush=True)
    summarise(rounds, list(pythons))

if __name__ == "__main__":
    sys.exit(main())
