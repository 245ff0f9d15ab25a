"""mart.Session against `mart train` and against itself.

Bitwise: a Python loop (next_batch + step_params + train_step) reproduces the exact losses,
gradient norms and learning rates of `mart train` on the same job, resident and with every chunk
offloaded: the C API runs the same Session code on the same batches, so any difference (a wrong
batch, step number, hyperparameter or struct field) shows up as unequal bits. A different seed
must change the losses (negative control).
"""
import json
import os
import tempfile
import unittest

import numpy as np

from util import OFFLOAD, TINY, mart_train

import mart


def python_loop(overrides, steps, explicit):
    """Losses, grad norms and lrs of `steps` optimizer steps driven from Python. explicit: pass
    step_params(step)'s hyperparameters; else train_step's defaults (the job's schedule)."""
    out = []
    with mart.Session(overrides=overrides) as s:
        n_mb = s.info.grad_accum
        for step in range(1, steps + 1):
            x, y = s.next_batch(n_micro_batches=n_mb)
            p = s.step_params(step)
            if explicit:
                r = s.train_step(x, y, lr=p.lr, beta1=p.beta1, beta2=p.beta2, eps=p.eps,
                                 weight_decay=p.weight_decay, grad_clip=p.grad_clip, step=step)
            else:
                r = s.train_step(x, y)
            assert r.step == step, (r.step, step)
            out.append((r.loss, r.grad_norm, p.lr))
    return out


class BitwiseAgainstMartTrain(unittest.TestCase):
    def check_same(self, extra, explicit):
        overrides = TINY + extra
        ref = mart_train(overrides)
        got = python_loop(overrides, len(ref), explicit)
        self.assertEqual(len(ref), 6)
        for m, (loss, gnorm, lr) in zip(ref, got):
            # Exact equality: metrics.jsonl prints doubles with round-trip precision.
            self.assertEqual(loss, m["loss"], "step %d loss" % m["step"])
            self.assertEqual(gnorm, m["grad_norm"], "step %d grad norm" % m["step"])
            self.assertEqual(lr, m["lr"], "step %d lr" % m["step"])
        return ref, got

    def test_resident_default_schedule(self):
        ref, _ = self.check_same([], explicit=False)
        # Negative control: another seed gives other weights, hence another first loss.
        other = python_loop(TINY + ["train.seed=43"], 1, explicit=False)
        self.assertNotEqual(other[0][0], ref[0]["loss"])

    def test_offloaded_explicit_hyperparameters(self):
        self.check_same(OFFLOAD, explicit=True)
        with mart.Session(overrides=TINY + OFFLOAD) as s:
            self.assertGreater(s.info.pinned_host_bytes, 0)
            self.assertEqual(s.plan["memory_mode"], "manual")

    def test_changed_lr_is_caught(self):
        # Negative control for the comparison itself: a 1% larger lr on step 2 changes step 3.
        overrides = TINY
        ref = mart_train(overrides)
        with mart.Session(overrides=overrides) as s:
            losses = []
            for step in range(1, 4):
                x, y = s.next_batch(n_micro_batches=2)
                lr = s.step_params(step).lr * (1.01 if step == 2 else 1.0)
                losses.append(s.train_step(x, y, lr=lr).loss)
        self.assertEqual(losses[:2], [ref[0]["loss"], ref[1]["loss"]])
        self.assertNotEqual(losses[2], ref[2]["loss"])


class SessionApi(unittest.TestCase):
    def setUp(self):
        self.s = mart.Session(overrides=TINY)
        self.addCleanup(self.s.close)

    def test_info_config_plan(self):
        info = self.s.info
        self.assertEqual((info.micro_batch, info.seq_len, info.grad_accum), (2, 16, 2))
        self.assertEqual((info.vocab_size, info.n_layer, info.steps_done), (64, 2, 0))
        self.assertEqual(info.n_tensors, len(self.s.param_names()))
        shapes = self.s.param_shapes()
        self.assertEqual(info.n_params, sum(int(np.prod(v)) for v in shapes.values()))
        self.assertEqual(self.s.config["train"]["micro_batch"], 2)
        self.assertEqual(self.s.config["model"]["d_model"], 64)
        self.assertEqual(self.s.plan["memory_mode"], "resident")
        self.assertEqual(self.s.plan["device_budget_bytes"], info.device_budget_bytes)

    def test_params_round_trip(self):
        names = self.s.param_names()
        name = names[1]
        w = self.s.get_param(name)
        self.assertEqual(w.shape, self.s.param_shapes()[name])
        self.assertEqual(w.dtype, np.float32)
        self.assertGreater(np.abs(w).max(), 0)  # initialised from train.seed
        self.s.set_param(name, (w * 2).astype(np.float64))  # float64 converted to float32
        np.testing.assert_array_equal(self.s.get_param(name), w * 2)
        self.assertEqual(dict(self.s.parameters()).keys(), set(names))
        with self.assertRaisesRegex(ValueError, "shape"):
            self.s.set_param(name, np.zeros(w.size + 1, np.float32))
        with self.assertRaises(mart.MartError) as e:
            self.s.get_param(name + "_nope")
        self.assertEqual(e.exception.status, mart.Status.NOT_FOUND)
        # init_weights restores the seed's weights: exactly the original values.
        self.s.init_weights(self.s.config["train"]["seed"])
        np.testing.assert_array_equal(self.s.get_param(name), w)

    def test_eval_loss_matches_logits(self):
        x, y = self.s.next_batch(split="train")
        logits = self.s.logits(x[0]).astype(np.float64)  # [B, T, V]
        self.assertEqual(logits.shape, (2, 16, 64))
        z = logits - logits.max(-1, keepdims=True)
        logp = z - np.log(np.exp(z).sum(-1, keepdims=True))
        ce = -np.take_along_axis(logp, y[0][..., None].astype(np.int64), -1).mean()
        # fp32 forward vs a float64 softmax of its own logits: agreement to ~1e-6 relative.
        self.assertAlmostEqual(self.s.eval_loss(x, y), ce, delta=1e-5 * ce)
        # Negative control: other targets give another loss.
        self.assertGreater(abs(self.s.eval_loss(x, (y + 1) % 64) - ce), 1e-3)

    def test_checkpoint_resume_is_bitwise(self):
        def steps(s, n):
            return [s.train_step(*s.next_batch(n_micro_batches=2)).loss for _ in range(n)]

        with tempfile.TemporaryDirectory() as run:
            steps(self.s, 2)
            path = self.s.save_checkpoint(run)
            self.assertTrue(os.path.isdir(path), path)
            want = steps(self.s, 3)
            with mart.Session(overrides=TINY, init_weights=False) as r:
                r.load_checkpoint(run)  # the run dir's latest
                self.assertEqual(r.info.steps_done, 2)
                self.assertEqual(steps(r, 3), want)

    def test_hf_round_trip(self):
        with tempfile.TemporaryDirectory() as d:
            self.s.save_hf(d)
            self.assertTrue(os.path.exists(os.path.join(d, "model.safetensors")))
            with mart.Session(overrides=TINY, init_weights=False) as r:
                name = r.param_names()[0]
                self.assertEqual(np.abs(r.get_param(name)).max(), 0)  # left zero
                r.load_hf(d)
                for n, w in self.s.parameters():
                    np.testing.assert_array_equal(r.get_param(n), w, err_msg=n)

    def test_val_split_restarts(self):
        a = self.s.next_batch(split="val", restart=True)
        b = self.s.next_batch(split="val", restart=True)
        np.testing.assert_array_equal(a[0], b[0])
        c = self.s.next_batch(split="val")
        self.assertFalse(np.array_equal(b[0], c[0]))  # continues without restart


class Planning(unittest.TestCase):
    def test_plan_fits_and_not(self):
        ok = mart.plan(overrides=TINY, hardware="cpu", gpu_mem="1GiB")
        self.assertTrue(ok["fits"], ok.get("reason"))
        self.assertIn("plan", ok)
        # 64 KiB cannot hold the ~0.1M-parameter model's states: not an error, fits False.
        no = mart.plan(overrides=TINY, hardware="cpu", gpu_mem="64KiB")
        self.assertFalse(no["fits"])
        self.assertTrue(no.get("reason"))

    def test_profile_feeds_plan(self):
        prof = mart.profile(overrides=TINY, reps=1)
        self.assertIn("hardware", prof)
        with tempfile.TemporaryDirectory() as d:
            path = os.path.join(d, "profile.json")
            with open(path, "w") as f:
                json.dump(prof, f)
            r = mart.plan(overrides=TINY, hardware=path, gpu_mem="1GiB")
        self.assertTrue(r["fits"], r.get("reason"))
        self.assertIs(r["hardware"]["estimated"], False)  # measured, not a datasheet preset
        self.assertIs(mart.plan(overrides=TINY, hardware="cpu")["hardware"]["estimated"], True)

    def test_version(self):
        with open(os.path.join(os.path.dirname(mart.__file__), "..", "..", "include", "mart",
                               "mart.h")) as f:
            text = f.read()
        parts = [text.split("#define MART_VERSION_%s " % k)[1].split()[0]
                 for k in ("MAJOR", "MINOR", "PATCH")]
        self.assertEqual(mart.version(), ".".join(parts))


if __name__ == "__main__":
    unittest.main()
