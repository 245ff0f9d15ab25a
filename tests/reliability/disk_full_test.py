#!/usr/bin/python3
"""Disk-full test (issue 13, item 7): a run whose run directory is on a small tmpfs must stop
with a non-zero status and a message naming the file and "No space left on device" (never a raw
"filesystem error"), leave its previous checkpoint intact, and continue bitwise-identically when
the directory is copied to a big disk and resumed.

  disk_full_test.py --mart BUILD/mart [--workdir DIR]

Two cases:
  checkpoint  the tmpfs holds two checkpoints but not a third, so the write of step 3's fails;
  metrics     a run stopped at step 5 (on the big disk) is resumed in a tmpfs run directory whose
              checkpoints/ is bind-mounted from the big disk: metrics.jsonl fills the tmpfs, the
              run must stop saying so, with a checkpoint of the step it reached (at most the line
              whose write failed is lost).
The test runs itself in a private mount namespace (unshare -m, or unshare -rm without root), so
its mounts vanish with it. Exit status 77 (CTest SKIP_RETURN_CODE), with the reason, where mounting
a tmpfs is not permitted.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import rel_util as ru

SKIP = 77
PAGE = 4096
IN_NS = "MART_DISK_FULL_IN_NAMESPACE"
STEPS_CKPT = 40  # the checkpoint case: a checkpoint every step
STEPS_METRICS = 300  # the metrics case: enough lines to fill a few pages


def skip(reason):
    print(f"SKIP: {reason}")
    sys.exit(SKIP)


def reexec_in_namespace():
    """Runs this script again in a private mount namespace; returns its exit status."""
    for cmd in (["unshare", "-m", "--propagation", "private"], ["unshare", "-rm"]):
        try:
            probe = subprocess.run(cmd + ["true"], capture_output=True)
        except OSError as e:
            skip(f"cannot run unshare ({e})")
        if probe.returncode == 0:
            env = dict(os.environ, **{IN_NS: "1"})
            return subprocess.run(cmd + [sys.executable] + sys.argv, env=env).returncode
    skip("no private mount namespace (unshare -m and unshare -rm refused: "
         f"{probe.stderr.decode(errors='replace').strip()})")


def mount(args, what):
    r = subprocess.run(["mount"] + args, capture_output=True)
    if r.returncode != 0:
        skip(f"cannot mount {what}: {r.stderr.decode(errors='replace').strip()}")


def mount_tmpfs(path, size):
    os.makedirs(path)
    mount(["-t", "tmpfs", "-o", f"size={size}", "tmpfs", path], f"a {size}-byte tmpfs")


def pages(path):
    """tmpfs pages the files under `path` take."""
    n = 0
    for root, _, files in os.walk(path):
        n += sum(-(-os.path.getsize(os.path.join(root, f)) // PAGE) for f in files)
    return n


def failure_message_problems(log, run_dir, must_name):
    """The stop must be reported in MART's words: the file, the OS reason, no raw library text."""
    problems = []
    if "No space left on device" not in log:
        problems.append("the message does not say 'No space left on device'")
    if run_dir not in log or must_name not in log:
        problems.append(f"the message does not name the file ({must_name} under {run_dir})")
    for raw in ("filesystem error", "[json.exception", "std::bad_alloc", "basic_ios::clear"):
        if raw in log:
            problems.append(f"a raw library message reaches the user: '{raw}'")
    return problems


def intact_problems(run_dir):
    """Every checkpoint left verifies and `latest` names one."""
    latest = ru.latest_name(run_dir)
    if latest is None:
        return [f"no checkpoint left in {run_dir}"]
    problems = []
    for name in ru.checkpoint_dirs(run_dir):
        problems += ru.verify_checkpoint(os.path.join(run_dir, "checkpoints", name))
    if latest not in ru.checkpoint_dirs(run_dir):
        problems.append(f"latest names {latest}, which does not exist")
    return problems


def resume_on_big_disk(mart, src, dst, ref, steps, allow_missing=()):
    """Copies the stopped run to the big disk, resumes it, and compares with the reference."""
    shutil.copytree(src, dst)
    rc, _, log = ru.run(mart, ["train", "--resume", dst], dst + ".log")
    if rc != 0:
        return [f"resume on the big disk failed (status {rc}): {log[-800:]}"]
    ref_metrics, _ = ru.read_metrics(ref)
    return (ru.finished_run_problems(ref, dst, allow_missing)
            + ru.summary_problems(dst, steps, ref_metrics[-1]["loss"]))


def stopped_problems(rc, log):
    if rc is None:
        return ["the run hung on the full disk"]
    if rc == 0:
        return ["the run exited 0 although a write failed"]
    if rc < 0:
        return [f"the run died of signal {-rc} instead of stopping with a message"]
    return []


def checkpoint_case(mart, work):
    """The third checkpoint does not fit: the run stops, checkpoint 2 is intact, resume works."""
    job = ru.job_args(STEPS_CKPT)
    ref = os.path.join(work, "ref-ckpt")
    rc, _, log = ru.run(mart, ["train"] + job + ["--run-dir", ref], ref + ".log")
    assert rc == 0, f"reference run failed (status {rc}): {log[-2000:]}"
    ckpt_pages = pages(os.path.join(ref, "checkpoints", ru.latest_name(ref)))
    # Two checkpoints, half a third, and room for config.yaml, metrics, latest and temporaries.
    size = (2 * ckpt_pages + ckpt_pages // 2 + 8) * PAGE
    mnt = os.path.join(work, "mnt-ckpt")
    mount_tmpfs(mnt, size)
    try:
        run_dir = os.path.join(mnt, "run")
        rc, _, log = ru.run(mart, ["train"] + job + ["--run-dir", run_dir],
                            os.path.join(work, "ckpt-full.log"))
        print(f"checkpoint case: {size // 1024} KiB tmpfs, checkpoints of {ckpt_pages * 4} KiB; "
              f"exit status {rc}, latest {ru.latest_name(run_dir)}; message: "
              + (log.strip().splitlines() or ["(none)"])[-1][:300])
        problems = stopped_problems(rc, log)
        if rc and rc > 0:
            problems += failure_message_problems(log, run_dir, "checkpoints")
        problems += intact_problems(run_dir)
        problems += [f"left {d}" for d in ru.stale_temporaries(run_dir)[0]]
        if ru.latest_name(run_dir) is not None:
            problems += resume_on_big_disk(mart, run_dir, os.path.join(work, "ckpt-copy"), ref,
                                           STEPS_CKPT)
        return problems
    finally:
        subprocess.run(["umount", mnt])


def metrics_case(mart, work):
    """metrics.jsonl fills the tmpfs while checkpoints go to the big disk: the run must stop with
    a checkpoint of the step it reached, and resume loses at most the line that failed."""
    # TensorBoard's event file off: it grows beside metrics.jsonl, and which of the two needs the
    # next tmpfs page first would decide the file the message names.
    job = ru.job_args(STEPS_METRICS, train__checkpoint_every=0, train__tensorboard="false")
    ref = os.path.join(work, "ref-metrics")
    rc, _, log = ru.run(mart, ["train"] + job + ["--run-dir", ref], ref + ".log")
    assert rc == 0, f"reference run failed (status {rc}): {log[-2000:]}"
    first = os.path.join(work, "first")
    rc, _, log = ru.run(mart, ["train"] + job + ["--run-dir", first, "--stop-after", "5"],
                        first + ".log")
    assert rc == 0, f"the first 5 steps failed (status {rc}): {log[-2000:]}"
    files = [f for f in os.listdir(first) if os.path.isfile(os.path.join(first, f))]
    # What is there, two pages for temporaries (config.yaml and metrics are rewritten atomically
    # on resume) and three pages (~60 lines) for the metrics to grow into.
    size = (pages(first) - pages(os.path.join(first, "checkpoints")) + 2 + 3) * PAGE
    mnt = os.path.join(work, "mnt-metrics")
    mount_tmpfs(mnt, size)
    try:
        run_dir = os.path.join(mnt, "run")
        os.makedirs(os.path.join(run_dir, "checkpoints"))
        for f in files:
            shutil.copy2(os.path.join(first, f), run_dir)
        mount(["--bind", os.path.join(first, "checkpoints"), os.path.join(run_dir, "checkpoints")],
              "the checkpoints (bind)")
        try:
            rc, _, log = ru.run(mart, ["train", "--resume", run_dir],
                                os.path.join(work, "metrics-full.log"))
            lines, torn = ru.read_metrics(run_dir)
            last = lines[-1]["step"] if lines else 0
            ckpt = ru.step_of(ru.latest_name(run_dir))
            print(f"metrics case: {size // 1024} KiB tmpfs; exit status {rc}, {len(lines)} whole "
                  f"lines (last step {last}, torn: {torn}), latest checkpoint step {ckpt}; "
                  "message: " + (log.strip().splitlines() or ["(none)"])[-1][:300])
            problems = stopped_problems(rc, log)
            if rc and rc > 0:
                problems += failure_message_problems(log, run_dir, "metrics.jsonl")
            problems += intact_problems(run_dir)
            if ckpt is None or not last <= ckpt <= last + 1:
                problems.append(f"the checkpoint at the stop is step {ckpt}, the last whole "
                                f"metrics line step {last}: expected a checkpoint of step {last} "
                                f"or {last + 1} (the step whose line failed)")
            lost = {ckpt} if ckpt == last + 1 else set()
            if ckpt is not None and rc != 0:
                problems += resume_on_big_disk(mart, run_dir, os.path.join(work, "metrics-copy"),
                                               ref, STEPS_METRICS, lost)
            return problems
        finally:
            subprocess.run(["umount", os.path.join(run_dir, "checkpoints")])
    finally:
        subprocess.run(["umount", mnt])


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mart", required=True, help="the mart binary")
    ap.add_argument("--workdir", default=ru.default_workdir(), help="the big disk")
    args = ap.parse_args()
    if os.environ.get(IN_NS) != "1":
        return reexec_in_namespace()
    mart = os.path.abspath(args.mart)
    work = tempfile.mkdtemp(prefix="mart-disk-full-", dir=args.workdir)
    failed = {}
    for name, case in (("checkpoint", checkpoint_case), ("metrics", metrics_case)):
        problems = case(mart, work)
        print(f"  {name} case: {'PASS' if not problems else 'FAIL'}")
        for p in problems[:12]:
            print(f"    - {p}")
        if len(problems) > 12:
            print(f"    ... and {len(problems) - 12} more")
        if problems:
            failed[name] = problems
    if failed:
        print(f"FAIL ({', '.join(failed)}; files kept under {work})")
        return 1
    shutil.rmtree(work)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
