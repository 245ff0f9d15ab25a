"""mart.Session: a model, its states and the plan it runs under (mart_session_* of mart.h)."""
import ctypes
import dataclasses
import json

import warnings

import numpy as np

from . import _args, _lib
from ._lib import lib
from .errors import MartError, Status, check

_SPLITS = {"train": 0, "val": 1}


@dataclasses.dataclass(frozen=True)
class SessionInfo:
    """mart_session_info: the shapes a session trains with and its memory figures."""
    n_params: int
    n_tensors: int
    micro_batch: int  # B
    seq_len: int  # T
    grad_accum: int  # micro-batches per step in the job config
    vocab_size: int  # V
    n_layer: int
    steps_done: int
    device_budget_bytes: int
    peak_device_bytes: int
    pinned_host_bytes: int


@dataclasses.dataclass(frozen=True)
class StepResult:
    """What one train_step did: the mean loss over the step's valid targets, the global gradient
    norm before clipping, the valid-target count, the step's wall time, and steps_done after."""
    loss: float
    grad_norm: float
    tokens: int
    seconds: float
    step: int


@dataclasses.dataclass(frozen=True)
class StepParams:
    """mart_step_params: the hyperparameters of one optimizer step (1-based `step`)."""
    lr: float
    beta1: float
    beta2: float
    eps: float
    weight_decay: float
    grad_clip: float
    step: int


def _struct_dict(s):
    return {name: getattr(s, name) for name, _ in s._fields_}


class Session:
    """A training session over libmart: Session(config="job.yaml") or Session(yaml="...") or
    Session() (the built-in default job), with `overrides` as a dict {"train.seed": 3} or a list
    ["train.seed=3"] (the keys of `mart train --set`). Use as a context manager or call close().

    Token arrays are int32 [B, T] (one micro-batch) or [n_mb, B, T], B and T those of .info.
    A Session is used by one thread at a time (MART_ERR_BUSY otherwise)."""

    def __init__(self, config=None, yaml=None, overrides=None, init_weights=True):
        self._h = None
        if _lib.openmp_spins:
            warnings.warn(_lib.OPENMP_WARNING, RuntimeWarning, stacklevel=2)
            _lib.openmp_spins = False  # once per process
        params = lib.mart_session_default_params()
        keep = _args.fill_config(params, config, yaml, overrides)
        params.init_weights = 1 if init_weights else 0
        h = ctypes.c_void_p()
        check(lib.mart_session_create(params, ctypes.byref(h)))
        del keep
        self._h = h
        info = self.info
        self._B, self._T, self._V = info.micro_batch, info.seq_len, info.vocab_size
        self._params = [self._param_info(i) for i in range(info.n_tensors)]
        self._by_name = {p[0]: p for p in self._params}

    # ---- lifetime -----------------------------------------------------------------------------
    def close(self):
        """Frees the session (device budget, pinned memory). Idempotent."""
        if self._h is not None:
            status = lib.mart_session_destroy(self._h)
            if status == Status.OK:
                self._h = None
            check(status)  # MART_ERR_BUSY (in use by another thread): still open, retry later

    @property
    def closed(self):
        return self._h is None

    def __enter__(self):
        return self

    def __getstate__(self):
        raise TypeError("mart.Session cannot be pickled or copied: it owns MART memory. Save "
                        "its state with save_checkpoint() and load_checkpoint() it elsewhere.")

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        if getattr(self, "_h", None) is not None:
            try:
                lib.mart_session_destroy(self._h)
            except Exception:  # interpreter shutdown: lib may be gone
                pass
            self._h = None

    def _handle(self, what):
        if self._h is None:
            raise MartError(Status.INVALID_HANDLE,
                            "mart.Session.%s: the session is closed; create a new mart.Session"
                            % what)
        return self._h

    # ---- description ----------------------------------------------------------------------------
    @property
    def info(self):
        out = _lib.SessionInfo()
        check(lib.mart_session_get_info(self._handle("info"), ctypes.byref(out)))
        return SessionInfo(**_struct_dict(out))

    @property
    def config(self):
        """The resolved job config (after memory.mode auto: the plan's config) as a dict."""
        out = ctypes.c_void_p()
        check(lib.mart_session_config_json(self._handle("config"), ctypes.byref(out)))
        return json.loads(_lib.take_string(out))

    @property
    def plan(self):
        """The plan the session runs under and its memory figures, as a dict."""
        out = ctypes.c_void_p()
        check(lib.mart_session_plan_json(self._handle("plan"), ctypes.byref(out)))
        return json.loads(_lib.take_string(out))

    # ---- training -----------------------------------------------------------------------------
    def step_params(self, step=None):
        """The job config's hyperparameters for 1-based optimizer step `step` (None: the next),
        with the lr of its warmup+cosine schedule: what `mart train` would use."""
        out = _lib.StepParams()
        check(lib.mart_session_step_params(self._handle("step_params"), int(step or 0),
                                           ctypes.byref(out)))
        return StepParams(**_struct_dict(out))

    def train_step(self, inputs, targets, lr=None, beta1=None, beta2=None, eps=None,
                   weight_decay=None, grad_clip=None, step=None):
        """One optimizer step over int32 inputs/targets [B, T] or [n_mb, B, T] (targets -1 are
        ignored). Hyperparameters left None are the job's for this step (step_params(step))."""
        h = self._handle("train_step")
        x, y = self._token_pair(inputs, targets, "train_step")
        p = _lib.StepParams()
        check(lib.mart_session_step_params(h, int(step or 0), ctypes.byref(p)))
        for name, v in (("lr", lr), ("beta1", beta1), ("beta2", beta2), ("eps", eps),
                        ("weight_decay", weight_decay), ("grad_clip", grad_clip)):
            if v is not None:
                setattr(p, name, float(v))
        if step is not None:
            p.step = int(step)
        out = _lib.StepResult()
        check(lib.mart_session_train_step(h, _i32(x), _i32(y), x.size, p, ctypes.byref(out)))
        return StepResult(**_struct_dict(out))

    def eval_loss(self, inputs, targets):
        """Forward only: the mean loss over every valid target (as `mart train`'s validation)."""
        h = self._handle("eval_loss")
        x, y = self._token_pair(inputs, targets, "eval_loss")
        out = ctypes.c_double()
        check(lib.mart_session_eval_loss(h, _i32(x), _i32(y), x.size, ctypes.byref(out)))
        return out.value

    def logits(self, inputs):
        """Forward only: float32 logits [B, T, V] of one micro-batch of int32 inputs [B, T]."""
        h = self._handle("logits")
        x = self._tokens(inputs, "logits", "inputs")
        if x.ndim == 3 and x.shape[0] != 1:
            raise ValueError("mart.Session.logits: inputs hold %d micro-batches; pass one "
                             "[B, T] = [%d, %d] array" % (x.shape[0], self._B, self._T))
        out = np.empty((self._B, self._T, self._V), dtype=np.float32)
        check(lib.mart_session_logits(h, _i32(x), x.size, _f32(out), out.size))
        return out

    def next_batch(self, split="train", n_micro_batches=1, restart=False):
        """(inputs, targets), int32 [n_micro_batches, B, T] each, from the job's own data stream
        (what `mart train` would feed). split "val" restarts from its beginning with restart."""
        h = self._handle("next_batch")
        if split not in _SPLITS:
            raise ValueError("mart.Session.next_batch: split %r; use 'train' or 'val'" % (split,))
        if int(n_micro_batches) < 1:
            raise ValueError("mart.Session.next_batch: n_micro_batches %r; need 1 or more"
                             % (n_micro_batches,))
        shape = (int(n_micro_batches), self._B, self._T)
        x = np.empty(shape, dtype=np.int32)
        y = np.empty(shape, dtype=np.int32)
        check(lib.mart_session_next_batch(h, _SPLITS[split], 1 if restart else 0, _i32(x),
                                          _i32(y), x.size))
        return x, y

    # ---- parameters -----------------------------------------------------------------------------
    def _param_info(self, index):
        out = _lib.ParamInfo()
        check(lib.mart_session_param_info(self._h, index, ctypes.byref(out)))
        shape = tuple(int(out.shape[d]) for d in range(out.ndim))
        return (out.name.decode("utf-8"), shape, int(out.numel))

    def param_names(self):
        """Hugging Face names of every parameter tensor, in the model's execution order."""
        return [p[0] for p in self._params]

    def param_shapes(self):
        """{name: shape} in the Hugging Face layout (GPT-2 Conv1D weights are [in, out])."""
        return {name: shape for name, shape, _ in self._params}

    def parameters(self):
        """Yields (name, float32 array) for every parameter (copies of the master weights)."""
        for name, _, _ in self._params:
            yield name, self.get_param(name)

    def _lookup(self, name, what):
        self._handle(what)
        entry = self._by_name.get(name)
        if entry is None:
            idx = ctypes.c_int32()  # MART's message suggests close names
            check(lib.mart_session_param_find(self._h, _lib.encode(name), ctypes.byref(idx)))
            raise MartError(Status.NOT_FOUND, "mart.Session.%s: no parameter %r" % (what, name))
        return entry

    def get_param(self, name):
        """A copy of the fp32 master weights of `name`, in its Hugging Face shape."""
        _, shape, numel = self._lookup(name, "get_param")
        out = np.empty(shape, dtype=np.float32)
        check(lib.mart_session_param_get(self._h, _lib.encode(name), _f32(out), numel))
        return out

    def set_param(self, name, array):
        """Sets the fp32 master weights of `name` from an array of its Hugging Face shape
        (floating dtypes are converted to float32). The AdamW moments are not touched."""
        _, shape, numel = self._lookup(name, "set_param")
        a = np.asarray(array)
        if not np.issubdtype(a.dtype, np.floating):
            raise TypeError("mart.Session.set_param(%r): dtype %s; expected a floating array "
                            "(float32)" % (name, a.dtype))
        if a.shape != shape:
            raise ValueError("mart.Session.set_param(%r): shape %s; the parameter is %s"
                             % (name, a.shape, shape))
        a = np.ascontiguousarray(a, dtype=np.float32)
        check(lib.mart_session_param_set(self._h, _lib.encode(name), _f32(a), numel))

    def init_weights(self, seed):
        """Re-initialises every weight as a fresh session with this seed would."""
        check(lib.mart_session_init_weights(self._handle("init_weights"), int(seed)))

    # ---- files ----------------------------------------------------------------------------------
    def save_checkpoint(self, run_dir):
        """Writes RUN_DIR/checkpoints/step_N (`mart train`'s format); returns its path."""
        out = ctypes.c_void_p()
        check(lib.mart_session_save_checkpoint(self._handle("save_checkpoint"),
                                               _lib.encode(run_dir), ctypes.byref(out)))
        return _lib.take_string(out)

    def load_checkpoint(self, path):
        """Loads a checkpoint directory, or a run directory's latest checkpoint."""
        check(lib.mart_session_load_checkpoint(self._handle("load_checkpoint"),
                                               _lib.encode(path)))

    def load_hf(self, path):
        """Loads Hugging Face weights: model.safetensors, a directory holding one, or a MART
        checkpoint (its model/ folder)."""
        check(lib.mart_session_load_hf(self._handle("load_hf"), _lib.encode(path)))

    def save_hf(self, directory):
        """Writes DIR/model.safetensors (fp32), DIR/config.json and DIR/generation_config.json."""
        check(lib.mart_session_save_hf(self._handle("save_hf"), _lib.encode(directory)))

    # ---- token checks ---------------------------------------------------------------------------
    def _tokens(self, a, what, name):
        """`a` as a C-contiguous int32 array [B, T] or [n_mb, B, T]; integer arrays of another
        dtype are converted only when every value fits int32."""
        a = np.asarray(a)
        if a.dtype != np.int32:
            if not np.issubdtype(a.dtype, np.integer):
                raise TypeError("mart.Session.%s: %s has dtype %s; expected int32 token ids"
                                % (what, name, a.dtype))
            if a.size and (a.min() < -2**31 or a.max() >= 2**31):
                raise ValueError("mart.Session.%s: %s (dtype %s) holds values outside int32; "
                                 "token ids lie in [0, %d)" % (what, name, a.dtype, self._V))
            a = a.astype(np.int32)
        if a.ndim not in (2, 3) or a.shape[-2:] != (self._B, self._T) or a.size == 0:
            raise ValueError("mart.Session.%s: %s has shape %s; expected [B, T] = [%d, %d] or "
                             "[n_mb, %d, %d] (micro_batch and seq_len of the job)"
                             % (what, name, a.shape, self._B, self._T, self._B, self._T))
        return np.ascontiguousarray(a)

    def _token_pair(self, inputs, targets, what):
        x = self._tokens(inputs, what, "inputs")
        y = self._tokens(targets, what, "targets")
        if x.shape != y.shape:
            raise ValueError("mart.Session.%s: inputs %s and targets %s differ in shape"
                             % (what, x.shape, y.shape))
        return x, y


def _i32(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_int32))


def _f32(a):
    return a.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
