#!/usr/bin/python3
"""Crash-consistency test (issue 13, item 7): kill `mart train` at random moments and check that
the run directory always lets the run finish exactly as if it had never been interrupted.

  crash_test.py --mart BUILD/mart --signal KILL [--trials 50] [--seed 13] [--workdir DIR]
  crash_test.py --mart BUILD/mart --signal TERM ...      (graceful stop, exit status 75)

A reference run (tiny model, a checkpoint every step, evaluations every 5 steps) gives the losses;
it and a second uninterrupted run give the mean run time T. Each trial starts the same run in a
fresh directory, sends the signal at a uniform random moment in [0, T] (so it lands in start-up,
steps, evaluations, checkpoint writes, pruning and the final summary; a moment after the run ended
is drawn again), then resumes with --resume and checks:
  - resume succeeds from the newest intact checkpoint (whatever `latest` says); with none (killed
    before the first), it fails saying "no checkpoint" and a fresh start in a new directory
    succeeds instead; a run killed after its last checkpoint may refuse as finished;
  - every step's loss, grad_norm, lr and val_loss equal the reference's bit for bit (the JSON
    text), and the final weights and optimizer state equal the reference's byte for byte;
  - right after the signal, every step_* directory verifies (sizes and CRC-32C: a checkpoint is
    never seen half-written or half-deleted);
  - after the resume no hidden temporary directory (.tmp-*, .deleting-*) is left, every checkpoint
    verifies, `latest` names the last step, and summary.json reports the reference's steps and
    final loss. NAME.tmp.PID files left by an interrupted atomic write are counted, not failed.
With --signal TERM a trial must also exit with status 75, the checkpoint's step must equal the
last metrics line (no step lost) and the stop must leave no temporaries; a few more trials send
two signals back to back, and the process must end (no hang) and leave a resumable directory.
Negative controls first show each comparison can fail. Exit status 0: every trial passed.
The work directory defaults to /dev/shm: a killed process loses exactly what it would lose on a
disk (the page cache survives it), and per-step checkpoints do not wait on a shared disk's fsync.
"""

import argparse
import collections
import os
import random
import re
import shutil
import signal
import sys
import tempfile
import time

import rel_util as ru

GRACEFUL_STATUS = 75  # EX_TEMPFAIL: stopped on request, resumable
KEEP_FAILED = 5  # failed trials whose directories are kept for inspection


class Env:
    """The binary, the job and the reference run every trial is compared with."""

    def __init__(self, mart, steps, work):
        self.mart, self.steps, self.work = mart, steps, work
        self.job = ru.job_args(steps)
        self.ref = os.path.join(work, "ref")
        rc, self.ref_s, log = ru.run(mart, self.train_args(self.ref), self.ref + ".log")
        if rc != 0:
            sys.exit(f"reference run failed (status {rc}):\n{log[-3000:]}")
        self.ref_metrics, _ = ru.read_metrics(self.ref)
        if len(self.ref_metrics) != steps:
            sys.exit(f"reference run wrote {len(self.ref_metrics)} metrics lines, not {steps}")
        self.ref_final_loss = self.ref_metrics[-1]["loss"]
        self.run_times = [self.ref_s]

    @property
    def window_s(self):
        """Signals land in [0, mean uninterrupted run time]; a signal drawn after the run ended is
        drawn again (signalled_run), so late phases (pruning, the final summary) are sampled."""
        return sum(self.run_times) / len(self.run_times)

    def summary_problems(self, run_dir):
        return ru.summary_problems(run_dir, self.steps, self.ref_final_loss)

    def train_args(self, run_dir, *extra):
        return ["train"] + self.job + list(extra) + ["--run-dir", run_dir]


# ------------------------------------------------------------------------ negative controls ----

def negative_controls(env):
    """Each check used by the trials must be able to fail. Returns failed control names."""
    failed = []

    def expect(name, problems, want_problems=True):
        if bool(problems) != want_problems:
            failed.append(name)
        print(f"  control {name}: {'detected' if problems else 'clean'}"
              f"{'' if bool(problems) == want_problems else '  <-- WRONG'}")

    other = os.path.join(env.work, "other-seed")
    rc, seconds, log = ru.run(env.mart, env.train_args(other, "--set", "train.seed=43"),
                              other + ".log")
    if rc != 0:
        sys.exit(f"negative control run failed (status {rc}):\n{log[-3000:]}")
    env.run_times.append(seconds)
    other_metrics, _ = ru.read_metrics(other)
    expect("another seed changes the metrics", ru.metrics_diff(env.ref_metrics, other_metrics))
    expect("another seed changes the final state", ru.final_state_diff(env.ref, other))
    expect("the reference matches itself", ru.finished_run_problems(env.ref, env.ref), False)

    tweaked = [dict(m) for m in env.ref_metrics]
    last = tweaked[-1]["loss"]
    tweaked[-1]["loss"] = last[:-1] + ("1" if last[-1] != "1" else "2")  # one digit, ~1 ulp
    expect("a one-digit loss change", ru.metrics_diff(env.ref_metrics, tweaked))
    expect("a missing line", ru.metrics_diff(env.ref_metrics, tweaked[:-2] + tweaked[-1:]))

    copy = os.path.join(env.work, "ref-copy")
    shutil.copytree(env.ref, copy)
    ckpt = os.path.join(copy, "checkpoints", ru.latest_name(copy))
    expect("a pristine checkpoint", ru.verify_checkpoint(ckpt), False)
    with open(ru.weights_file(ckpt), "r+b") as f:
        f.seek(-5, os.SEEK_END)
        b = f.read(1)
        f.seek(-5, os.SEEK_END)
        f.write(bytes([b[0] ^ 0x01]))
    expect("a flipped bit in model.safetensors", ru.verify_checkpoint(ckpt))
    with open(os.path.join(ckpt, "optimizer.safetensors"), "r+b") as f:
        f.truncate(100)
    expect("a truncated optimizer.safetensors", ru.verify_checkpoint(ckpt))
    shutil.rmtree(copy)
    shutil.copytree(env.ref, copy)
    os.mkdir(os.path.join(copy, "checkpoints", ".tmp-step_00000099-1"))
    expect("a stale .tmp- directory", ru.finished_run_problems(env.ref, copy))
    shutil.rmtree(copy)
    return failed


# -------------------------------------------------------------------- where the signal hit ----

def phase_of(run_dir, steps):
    """Where the run was when it died, read from what it left (approximate for compute/eval)."""
    if not os.path.isdir(run_dir):
        return "start-up (no run dir)"
    lines, torn = ru.read_metrics(run_dir)
    names = ru.checkpoint_dirs(run_dir)
    latest = ru.step_of(ru.latest_name(run_dir))
    tmp_dirs, tmp_files = ru.stale_temporaries(run_dir)
    if torn:
        return "metrics write"
    if any(os.path.basename(d).startswith(".tmp-") for d in tmp_dirs):
        return "checkpoint write"
    if tmp_dirs:
        return "pruning"
    if not lines:
        return "start-up"
    newest = ru.step_of(names[-1]) if names else None
    if newest is not None and newest != latest:
        return "latest update"
    if tmp_files:
        return "small-file write"
    if len(names) > 2:
        return "pruning"
    last = lines[-1]["step"]
    if last == steps and latest == steps:
        return "finish (summary, exit)"
    if latest is not None and last == latest + 1 or latest is None and last == 1:
        return "between metrics and checkpoint"
    return "between steps (compute, eval)" if (last + 1) % 5 == 0 else "between steps (compute)"


# ----------------------------------------------------------------------------------- trials ----

def fresh_start(env, tdir, note):
    """After a refused resume: a fresh run in a new directory must reproduce the reference."""
    run2 = os.path.join(tdir, "run2")
    rc, _, log = ru.run(env.mart, env.train_args(run2), run2 + ".log")
    if rc != 0:
        return note, [f"fresh start after the refused resume failed (status {rc}): {log[-500:]}"]
    return note, ru.finished_run_problems(env.ref, run2) + env.summary_problems(run2)


def resume(env, tdir, run_dir):
    """Resumes a stopped run; returns (outcome, problems)."""
    intact = [ru.step_of(n) for n in ru.checkpoint_dirs(run_dir)
              if not ru.verify_checkpoint(os.path.join(run_dir, "checkpoints", n))]
    newest = max(intact, default=None)  # what resume must take, whatever `latest` says
    log_path = os.path.join(tdir, "resume.log")
    rc, _, log = ru.run(env.mart, ["train", "--resume", run_dir], log_path)
    if rc is None:
        return "resume hung", ["resume did not end within the hang guard"]
    if rc != 0 and newest is None:
        if not re.search(r"no checkpoint|nothing to resume", log, re.IGNORECASE):
            return "resume refused", [f"resume without a checkpoint failed (status {rc}) "
                                      f"without saying 'no checkpoint': {log[-500:]}"]
        return fresh_start(env, tdir, "no checkpoint: fresh start")
    if rc != 0 and newest == env.steps:
        # Training had finished; extending a finished run may need an explicit option.
        if not any(w in log.lower() for w in ("finish", "complete", "already", "--extend")):
            return "resume failed", [f"resume of a finished run failed (status {rc}): {log[-500:]}"]
        return "finished: resume refused", ru.finished_run_problems(env.ref, run_dir)
    if rc != 0:
        return "resume failed", [f"resume failed (status {rc}): {log[-800:]}"]
    return "resumed", ru.finished_run_problems(env.ref, run_dir) + env.summary_problems(run_dir)


def graceful_problems(env, run_dir, rc):
    """SIGTERM: status 75, the checkpoint is the last step logged, nothing half-written."""
    lines, torn = ru.read_metrics(run_dir)
    if rc != GRACEFUL_STATUS:
        return [f"exit status {rc}, expected {GRACEFUL_STATUS}"]
    problems = [f"metrics.jsonl torn ({torn})"] if torn else []
    last = lines[-1]["step"] if lines else 0
    latest = ru.latest_name(run_dir)
    if last > 0 and ru.step_of(latest) != last:
        problems.append(f"checkpoint {latest} but the last metrics line is step {last} "
                        "(a step was lost)")
    if latest is not None:
        problems += ru.verify_checkpoint(os.path.join(run_dir, "checkpoints", latest))
    tmp_dirs, tmp_files = ru.stale_temporaries(run_dir)
    problems += [f"graceful stop left {p}" for p in tmp_dirs + tmp_files]
    return problems


def signalled_run(env, tdir, rng, sig, double):
    """Starts the run and signals it at a random moment. A run that ended before its signal is
    checked and drawn again (up to 3 times). Returns a result dict."""
    run_dir = os.path.join(tdir, "run")
    for attempt in range(3):
        delay = rng.uniform(0, env.window_s)
        proc = ru.start(env.mart, env.train_args(run_dir), os.path.join(tdir, "run.log"))
        time.sleep(delay)
        sent = proc.poll() is None
        if sent:
            proc.send_signal(sig)
            if double:
                # A second signal while the first one's graceful stop runs (a step and a
                # checkpoint take milliseconds here); sent at once, the two would merge into one
                # pending signal.
                time.sleep(rng.uniform(0.0005, 0.02))
                if proc.poll() is None:
                    proc.send_signal(sig)
        res = {"delay": delay, "rc": ru.wait(proc), "redrawn": attempt, "run_dir": run_dir}
        if res["rc"] != 0:  # 0: the signal came as the process was exiting (a finished run)
            res["phase"] = phase_of(run_dir, env.steps) if sent else "after exit"
            return res
        res["phase"] = "after exit" if not sent else "exiting"
        res["outcome"] = "finished before the signal"
        res["problems"] = ru.finished_run_problems(env.ref, run_dir) + env.summary_problems(run_dir)
        if res["problems"] or attempt == 2:
            return res
        shutil.rmtree(run_dir)


def trial(env, i, rng, sig, double):
    """One trial: start, signal at a random moment, recover. Returns a result dict."""
    tdir = os.path.join(env.work, f"t{i:04d}")
    os.mkdir(tdir)
    res = signalled_run(env, tdir, rng, sig, double)
    res.update(trial=i, dir=tdir)
    run_dir, rc = res["run_dir"], res["rc"]
    damaged = [n for n in ru.checkpoint_dirs(run_dir)
               if ru.verify_checkpoint(os.path.join(run_dir, "checkpoints", n))]
    res["damaged_by_signal"] = len(damaged)
    # Checkpoints are renamed into place complete and renamed away before deletion, so no step_*
    # directory may ever be damaged, wherever the process died.
    pre = [f"the signal left a damaged checkpoint {n}" for n in damaged]
    res["stale_files"] = [re.sub(r"\d+$", "PID", os.path.relpath(f, run_dir))
                          for f in ru.stale_temporaries(run_dir)[1]]
    if "outcome" in res:
        res["problems"] = pre + res["problems"]
        return res
    if rc is None:
        res["outcome"], res["problems"] = "hang", pre + ["the signalled process did not end"]
        return res
    if sig != signal.SIGKILL and not double:
        lines, _ = ru.read_metrics(run_dir)
        if rc == -sig and not lines and ru.latest_name(run_dir) is None:
            res["phase"] = "start-up (before the handler)"
        else:
            pre += graceful_problems(env, run_dir, rc)
            if not pre and lines and lines[-1]["step"] == env.steps:
                res["outcome"] = "stopped at the last step"
                res["problems"] = ru.finished_run_problems(env.ref, run_dir)
                return res
    res["outcome"], post = resume(env, tdir, run_dir)
    res["stale_files_after"] = len(ru.stale_temporaries(run_dir)[1])  # informational
    res["problems"] = pre + post
    return res


def problem_kind(problem):
    """A problem without its paths and numbers, to count alike problems together."""
    plain = re.sub(r"'?/\S+|-?\d+(\.\d+)?(e-?\d+)?|step_\d+", "#", problem)
    return re.sub(r"\s+", " ", plain)[:120]


def report(results, env, wall, args):
    print(f"\n{len(results)} trials of {args.signal} ({env.steps} steps, checkpoint every step; "
          f"reference run {env.ref_s:.2f} s, signal window {env.window_s:.2f} s; all trials "
          f"{wall:.1f} s)")
    # The moment as a quarter of the window; where the run was, from what it left (after SIGKILL
    # the phase it died in; after a graceful stop, the state it stopped in).
    for r in results:
        q = min(3, int(4 * r["delay"] / env.window_s))
        r["quarter"] = f"{25 * q:2d}-{25 * q + 25}% of the window"
    state = "signal landed in" if args.signal == "KILL" else "state left by the stop"
    tables = (("signal moment", "quarter"), (state, "phase"), ("outcome", "outcome"),
              ("exit status", "rc"))
    for title, key in tables:
        print(f"  {title}:")
        for k, n in sorted(collections.Counter(str(r[key]) for r in results).items(),
                           key=lambda kv: (-kv[1], kv[0]) if key != "quarter" else kv[0]):
            print(f"    {n:5d}  {k}")
    print(f"  signals redrawn because the run had already ended: "
          f"{sum(r['redrawn'] for r in results)}")
    left = sum(1 for r in results if r.get("stale_files_after"))
    print(f"  trials where the signal left a damaged step_* checkpoint: "
          f"{sum(1 for r in results if r['damaged_by_signal'])}")
    names = sorted(set(f for r in results for f in r["stale_files"]))
    print(f"  trials where the signal left NAME.tmp.PID files: "
          f"{sum(1 for r in results if r['stale_files'])} {names} (still there after the resume: "
          f"{left}; reported, not failed)")
    bad = [r for r in results if r["problems"]]
    kinds = collections.Counter(problem_kind(p) for r in bad for p in r["problems"])
    if kinds:
        print("  problems (trials may have several):")
        for k, n in kinds.most_common():
            print(f"    {n:5d}  {k}")
    print(f"  passed {len(results) - len(bad)}/{len(results)}")
    for r in bad[:10]:
        print(f"  FAIL trial {r['trial']} (signal at {r['delay']:.3f} s, {r['phase']}, status "
              f"{r['rc']}, {r['outcome']}): " + "; ".join(r["problems"][:3]))
    return bad


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mart", required=True, help="the mart binary")
    ap.add_argument("--signal", choices=("KILL", "TERM", "INT", "USR1"), default="KILL")
    ap.add_argument("--trials", type=int, default=50)
    ap.add_argument("--double-trials", type=int, default=5,
                    help="extra trials sending two signals back to back (not with KILL)")
    ap.add_argument("--steps", type=int, default=80)
    ap.add_argument("--seed", type=int, default=13)
    ap.add_argument("--workdir", default=ru.default_workdir())
    ap.add_argument("--keep", action="store_true", help="keep the trial directories")
    args = ap.parse_args()
    sig = getattr(signal, "SIG" + args.signal)
    work = tempfile.mkdtemp(prefix=f"mart-crash-{args.signal.lower()}-", dir=args.workdir)
    t0 = time.monotonic()
    try:
        env = Env(os.path.abspath(args.mart), args.steps, work)
        print(f"reference run: {env.ref_s:.2f} s, final loss {env.ref_final_loss}")
        failed_controls = negative_controls(env)
        rng = random.Random(args.seed)
        n_double = 0 if sig == signal.SIGKILL else args.double_trials
        results = []
        for i in range(args.trials + n_double):
            results.append(trial(env, i, rng, sig, double=i >= args.trials))
            n_bad = sum(1 for r in results if r["problems"])
            if not args.keep and (not results[-1]["problems"] or n_bad > KEEP_FAILED):
                shutil.rmtree(results[-1]["dir"])
        bad = report(results, env, time.monotonic() - t0, args)
        if failed_controls:
            print(f"negative controls that did not detect their fault: {failed_controls}")
        ok = not bad and not failed_controls
        print("PASS" if ok else f"FAIL (trial directories kept under {work})")
        return 0 if ok else 1
    finally:
        if not args.keep and os.path.isdir(work) and not any(
                n.startswith("t") for n in os.listdir(work)):
            shutil.rmtree(work)


if __name__ == "__main__":
    sys.exit(main())
