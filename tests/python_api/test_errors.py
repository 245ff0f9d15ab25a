"""Errors at the Python boundary: MART's failures arrive as MartError with MART's own message,
argument mistakes are caught in Python with a message naming the fix, and the ctypes structs
match the C header's layout (checked against the C compiler, when there is one)."""
import ctypes
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import numpy as np

from util import SOURCE_DIR, TINY

import mart
from mart import _lib


class MartErrors(unittest.TestCase):
    def test_bad_yaml_gives_marts_message(self):
        with self.assertRaises(mart.MartError) as e:
            mart.Session(yaml="train: [unclosed")
        err = e.exception
        self.assertEqual(err.status, mart.Status.CONFIG)
        # The message is the library's own text, unabridged.
        self.assertEqual(err.message, _lib.lib.mart_last_error().decode())
        self.assertGreater(len(err.message), 20)
        self.assertIn(err.message, str(err))

    def test_unknown_key_and_missing_file(self):
        with self.assertRaises(mart.MartError) as e:
            mart.Session(overrides={"train.bogus_key": 1})
        self.assertEqual(e.exception.status, mart.Status.CONFIG)
        self.assertIn("bogus_key", e.exception.message)
        with self.assertRaises(mart.MartError) as e:
            mart.Session(config="/nonexistent/job.yaml")
        self.assertIn("/nonexistent/job.yaml", e.exception.message)

    def test_closed_session(self):
        s = mart.Session(overrides=TINY)
        raw = s._h.value
        s.close()
        s.close()  # idempotent
        with self.assertRaises(mart.MartError) as e:
            s.next_batch()
        self.assertEqual(e.exception.status, mart.Status.INVALID_HANDLE)
        self.assertIn("closed", e.exception.message)
        # The library itself refuses the destroyed handle (its registry), without crashing.
        info = _lib.SessionInfo()
        st = _lib.lib.mart_session_get_info(ctypes.c_void_p(raw), ctypes.byref(info))
        self.assertEqual(st, mart.Status.INVALID_HANDLE)

    def test_plan_that_does_not_fit_is_not_an_error(self):
        r = mart.plan(overrides=TINY, hardware="cpu", gpu_mem=64 * 1024)
        self.assertIs(r["fits"], False)
        with self.assertRaisesRegex(ValueError, "invalid size"):
            mart.plan(overrides=TINY, gpu_mem="80 parsecs")


class TokenChecks(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = mart.Session(overrides=TINY)

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def test_dtype_and_shape(self):
        x, y = self.s.next_batch()
        with self.assertRaisesRegex(TypeError, "float32.*int32"):
            self.s.eval_loss(x.astype(np.float32), y)
        with self.assertRaisesRegex(ValueError, r"expected \[B, T\] = \[2, 16\]"):
            self.s.eval_loss(x[:, :, :8], y[:, :, :8])
        with self.assertRaisesRegex(ValueError, "differ in shape"):
            self.s.eval_loss(x, np.concatenate([y, y]))
        with self.assertRaisesRegex(ValueError, "outside int32"):
            self.s.eval_loss(x.astype(np.int64) + 2**40, y)
        # Safe conversions give the same result as int32 input; [B, T] is one micro-batch.
        want = self.s.eval_loss(x, y)
        self.assertEqual(self.s.eval_loss(x.astype(np.int64), y.astype(np.int16)), want)
        self.assertEqual(self.s.eval_loss(x[0], y[0]), want)

    def test_out_of_vocab_token_is_marts_error(self):
        x, y = self.s.next_batch()
        x[0, 1, 3] = 64  # vocab is 64
        with self.assertRaises(mart.MartError) as e:
            self.s.train_step(x, y)
        self.assertEqual(e.exception.status, mart.Status.INVALID_ARGUMENT)
        self.assertEqual(self.s.info.steps_done, 0)  # nothing changed

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, "split"):
            self.s.next_batch(split="test")
        with self.assertRaisesRegex(TypeError, "list"):
            mart.Session(overrides="train.seed=3")
        with self.assertRaisesRegex(ValueError, "not both"):
            mart.Session(config="a.yaml", yaml="name: x")


class Loading(unittest.TestCase):
    def test_missing_library_lists_paths(self):
        env = dict(os.environ, MART_LIBRARY="/nonexistent/libmart.so")
        p = subprocess.run([sys.executable, "-c", "import mart"], env=env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("ImportError", p.stderr)
        self.assertIn("/nonexistent/libmart.so", p.stderr)
        self.assertIn("MART_LIBRARY", p.stderr)

    def test_loads_into_a_plain_process(self):
        # libmart must load into a process that did not start with it (no LD_PRELOAD of
        # jemalloc): a libmart linking Debian's libjemalloc failed here, first on static TLS and,
        # with more TLS granted, with free() aborting on memory from jemalloc's operator new.
        code = ("import torch, numpy, mart\n"
                "p = mart.pinned_zeros(1000); s = mart.Session(overrides=%r)\n"
                "print(s.train_step(*s.next_batch(n_micro_batches=2)).loss)" % (TINY,))
        env = {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "GLIBC_TUNABLES")}
        # Sanitizer builds (tests/CMakeLists.txt) preload the sanitizer runtimes: keep those.
        keep = [p for p in os.environ.get("LD_PRELOAD", "").split(":") if "san" in p]
        if keep:
            env["LD_PRELOAD"] = ":".join(keep)
        if subprocess.run([sys.executable, "-c", "import torch"], env=env).returncode != 0:
            code = code.replace("import torch, ", "import ")
        p = subprocess.run([sys.executable, "-c", code], env=env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(p.returncode, 0, p.stderr[-3000:])
        self.assertGreater(float(p.stdout.split()[-1]), 0)

    def test_openmp_wait_policy(self):
        # Unset: mart sets PASSIVE before libgomp loads (as the launcher does); a user's choice
        # is kept; OpenMP loaded first (torch) without a policy makes a Session warn.
        env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
        show = "import os, mart; print(os.environ['OMP_WAIT_POLICY'])"
        for extra, want in (({}, "PASSIVE"), ({"OMP_WAIT_POLICY": "ACTIVE"}, "ACTIVE")):
            p = subprocess.run([sys.executable, "-c", show], env=dict(env, **extra), text=True,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            self.assertEqual(p.stdout.strip(), want, p.stderr)
        with open("/proc/self/maps") as f:
            gomp = next((line for line in f if "libgomp" in line), None)
        if gomp is None:
            return  # nothing here loads OpenMP before mart
        code = ("import ctypes; ctypes.CDLL(%r); import mart; mart.Session(overrides=%r)"
                % (gomp.split()[-1], TINY))
        p = subprocess.run([sys.executable, "-c", code], env=env, text=True,
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("OMP_WAIT_POLICY=PASSIVE", p.stderr)

    def test_pinned_arrays(self):
        a = mart.pinned_empty((3, 5), np.float32)
        self.assertEqual(a.ctypes.data % 64, 0)
        a[...] = np.arange(15, dtype=np.float32).reshape(3, 5)
        v = a[1]
        del a  # the view keeps the block alive
        np.testing.assert_array_equal(v, [5, 6, 7, 8, 9])
        self.assertEqual(mart.pinned_zeros(0).size, 0)


# Field names of each ctypes struct and the C type it mirrors.
_STRUCTS = {
    "mart_session_params": _lib.SessionParams, "mart_session_info": _lib.SessionInfo,
    "mart_step_params": _lib.StepParams, "mart_step_result": _lib.StepResult,
    "mart_param_info": _lib.ParamInfo, "mart_plan_params": _lib.PlanParams,
    "mart_profile_params": _lib.ProfileParams, "mart_adamw_params": _lib.AdamwParams,
    "mart_adamw_step_params": _lib.AdamwStepParams,
}


class StructLayout(unittest.TestCase):
    def test_ctypes_structs_match_the_header(self):
        cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        if not cc:
            self.skipTest("no C compiler to read the header's layout")
        lines = ['#include <stdio.h>', '#include <stddef.h>', '#include "mart/mart.h"',
                 "int main(void) {"]
        for cname, py in _STRUCTS.items():
            lines.append('printf("%s size %%zu\\n", sizeof(%s));' % (cname, cname))
            for f, _ in py._fields_:
                lines.append('printf("%s %s %%zu\\n", offsetof(%s, %s));' % (cname, f, cname, f))
        lines.append("return 0; }")
        with tempfile.TemporaryDirectory() as d:
            src, exe = os.path.join(d, "layout.c"), os.path.join(d, "layout")
            with open(src, "w") as f:
                f.write("\n".join(lines))
            subprocess.run([cc, "-std=c11", "-I", os.path.join(SOURCE_DIR, "include"), src, "-o",
                            exe], check=True)
            out = subprocess.run([exe], check=True, stdout=subprocess.PIPE, text=True).stdout
        c = {tuple(l.split()[:2]): int(l.split()[2]) for l in out.splitlines()}
        for cname, py in _STRUCTS.items():
            self.assertEqual(ctypes.sizeof(py), c[(cname, "size")], cname)
            for f, _ in py._fields_:
                self.assertEqual(getattr(py, f).offset, c[(cname, f)], "%s.%s" % (cname, f))
        # Negative control: a struct missing its last field would have another size.
        class Short(ctypes.Structure):
            _fields_ = _lib.StepParams._fields_[:-1]
        self.assertNotEqual(ctypes.sizeof(Short), c[("mart_step_params", "size")])


if __name__ == "__main__":
    unittest.main()
