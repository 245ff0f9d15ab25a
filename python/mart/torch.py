"""mart.torch.CPUAdamW: torch.optim.AdamW computed by MART's SIMD CPU AdamW (mart_adamw_*).

The update is PyTorch's decoupled AdamW, in fp32, on the tensors' own memory: step() queues one
mart_adamw_step_async per parameter with a gradient, then waits once, so the updates of all
parameters run on MART's worker threads. The moments live in MART's pinned NUMA-local memory;
state_dict() copies them out in torch.optim.AdamW's format, so state dicts move between the two.
"""
import ctypes

import torch

from ._lib import lib
from .errors import check


def _check_tensor(t, what):
    if not isinstance(t, torch.Tensor):
        raise TypeError("CPUAdamW: %s is a %s, not a torch.Tensor" % (what, type(t).__name__))
    problems = []
    if t.device.type != "cpu":
        problems.append("on %s (needs the CPU; keep the model on the CPU or use "
                        "torch.optim.AdamW for device tensors)" % t.device)
    if t.dtype != torch.float32:
        problems.append("dtype %s (needs torch.float32: call .float())" % t.dtype)
    if t.is_sparse:
        problems.append("sparse (needs a dense tensor)")
    elif not t.is_contiguous():
        problems.append("not contiguous (make the parameter contiguous before creating "
                        "the optimizer)")
    if problems:
        raise ValueError("CPUAdamW: %s of shape %s is %s" % (what, tuple(t.shape),
                                                             "; ".join(problems)))


class CPUAdamW(torch.optim.Optimizer):
    """AdamW (torch.optim.AdamW's update and defaults) run by MART's SIMD CPU kernel on fp32,
    contiguous CPU parameters. Parameters without a gradient are skipped, as torch does.
    amsgrad, maximize and capturable are not supported.

    n_threads: MART worker threads (0: one per core of numa_node); numa_node -1: the first."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, *,
                 n_threads=0, numa_node=-1):
        if not 0.0 <= lr:
            raise ValueError("CPUAdamW: invalid learning rate %r (needs >= 0)" % (lr,))
        if not 0.0 <= eps:
            raise ValueError("CPUAdamW: invalid eps %r (needs >= 0)" % (eps,))
        for i, b in enumerate(betas):
            if not 0.0 <= b < 1.0:
                raise ValueError("CPUAdamW: invalid beta%d %r (needs 0 <= beta < 1)" % (i + 1, b))
        if not 0.0 <= weight_decay:
            raise ValueError("CPUAdamW: invalid weight_decay %r (needs >= 0)" % (weight_decay,))
        self._h = None
        self._ids = {}  # parameter -> its tensor id in the mart_adamw object
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay)
        super().__init__(params, defaults)
        ap = lib.mart_adamw_default_params()
        ap.n_threads = int(n_threads)
        ap.numa_node = int(numa_node)
        h = ctypes.c_void_p()
        check(lib.mart_adamw_create(ap, ctypes.byref(h)))
        self._h = h

    def add_param_group(self, param_group):
        """torch's add_param_group (the constructor uses it too), refusing tensors MART's kernel
        cannot update in place before any is added."""
        params = param_group["params"]
        params = [params] if isinstance(params, torch.Tensor) else list(params)
        for i, p in enumerate(params):
            _check_tensor(p, "parameter %d of param group %d" % (i, len(self.param_groups)))
        super().add_param_group(dict(param_group, params=params))

    def __getstate__(self):
        raise TypeError("CPUAdamW cannot be pickled or copied: its moments live in MART's memory. "
                        "Save optimizer.state_dict() and load it into a new CPUAdamW instead.")

    def __del__(self):
        if getattr(self, "_h", None) is not None:
            try:
                lib.mart_adamw_destroy(self._h)
            except Exception:  # interpreter shutdown
                pass
            self._h = None

    def _id(self, p):
        """The mart_adamw tensor id of `p`, registering it (zero moments) on first use."""
        tid = self._ids.get(p)
        if tid is None:
            out = ctypes.c_int64()
            check(lib.mart_adamw_add_tensor(self._h, p.numel(), ctypes.byref(out)))
            tid = self._ids[p] = out.value
        return tid

    def _work(self):
        """(param, grad, group) for every parameter with a gradient, all checked before any
        update is queued, so a bad tensor leaves every parameter unchanged."""
        work = []
        for group in self.param_groups:
            for flag in ("amsgrad", "maximize", "capturable", "differentiable"):
                if group.get(flag):
                    raise ValueError("CPUAdamW: %s=True is not supported" % flag)
            for p in group["params"]:
                if p.grad is None:
                    continue
                _check_tensor(p, "a parameter")
                _check_tensor(p.grad, "the gradient of a parameter")
                if p.grad.shape != p.shape:
                    raise ValueError("CPUAdamW: gradient shape %s differs from its parameter's "
                                     "%s" % (tuple(p.grad.shape), tuple(p.shape)))
                work.append((p, p.grad, group))
        return work

    @torch.no_grad()
    def step(self, closure=None):
        """One AdamW step of every parameter with a gradient: queued on MART's workers, then
        waited for once. Returns closure()'s loss when a closure is given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        work = self._work()
        queued = False
        try:
            for p, g, group in work:
                st = self.state[p]
                step_t = st.get("step")
                n = (int(step_t.item()) if torch.is_tensor(step_t) else int(step_t or 0)) + 1
                sp = lib.mart_adamw_default_step_params()
                sp.lr = float(group["lr"])
                sp.beta1, sp.beta2 = (float(b) for b in group["betas"])
                sp.eps = float(group["eps"])
                sp.weight_decay = float(group["weight_decay"])
                sp.step = n
                check(lib.mart_adamw_step_async(self._h, self._id(p), p.data_ptr(),
                                                g.data_ptr(), p.numel(), sp))
                queued = True
                st["step"] = torch.tensor(float(n))  # torch keeps a float32 scalar tensor
        finally:
            if queued:
                check(lib.mart_adamw_wait(self._h))
        return loss

    def _moments(self, p):
        n = p.numel()
        m = torch.empty_like(p, memory_format=torch.contiguous_format)
        v = torch.empty_like(p, memory_format=torch.contiguous_format)
        check(lib.mart_adamw_get_state(self._h, self._id(p), _f32(m), _f32(v), n))
        return m, v

    def state_dict(self):
        """torch.optim.AdamW's format: state[i] = {step, exp_avg, exp_avg_sq} (copies)."""
        sd = super().state_dict()
        index = 0
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                st = self.state.get(p)
                if st and "step" in st:
                    m, v = self._moments(p)
                    state[index] = {"step": st["step"].clone(), "exp_avg": m, "exp_avg_sq": v}
                index += 1
        sd["state"] = state
        return sd

    def load_state_dict(self, state_dict):
        """Loads a state dict of CPUAdamW or torch.optim.AdamW (same parameters, same groups):
        hyperparameters, per-parameter steps and moments."""
        super().load_state_dict(state_dict)
        for p, st in list(self.state.items()):
            if "exp_avg" not in st:
                continue
            m = st.pop("exp_avg").detach().to(torch.float32).contiguous()
            v = st.pop("exp_avg_sq").detach().to(torch.float32).contiguous()
            st.pop("max_exp_avg_sq", None)
            if m.numel() != p.numel() or v.numel() != p.numel():
                raise ValueError("CPUAdamW.load_state_dict: moments of %d/%d elements for a "
                                 "parameter of %d" % (m.numel(), v.numel(), p.numel()))
            check(lib.mart_adamw_set_state(self._h, self._id(p), _f32(m), _f32(v), p.numel()))
            if not torch.is_tensor(st.get("step")):
                st["step"] = torch.tensor(float(st.get("step", 0)))


def _f32(t):
    return ctypes.cast(t.data_ptr(), ctypes.POINTER(ctypes.c_float))
