"""mart.plan() and mart.profile(): planning and measuring without a session."""
import ctypes
import json

from . import _args, _lib
from ._lib import lib
from .errors import check


def plan(config=None, yaml=None, overrides=None, hardware=None, gpu_mem=None, host_mem=None,
         allow_compress=False):
    """Plans a job as `mart plan --json` does and returns its object as a dict (fits, reason,
    binding_resource, plan, predicted, alternatives, search). A job that does not fit is not an
    error: the dict's "fits" is False.

    hardware: a built-in name (h100-sxm, a100-80g, cpu, ...), a hardware .yaml or a profile .json
    (from mart.profile); None: the backend's default. gpu_mem / host_mem: bytes or a size text
    ("80GiB"); None: the config's memory.device_capacity, else the hardware's."""
    params = lib.mart_plan_default_params()
    keep = _args.fill_config(params, config, yaml, overrides)
    keep.append(_lib.encode(hardware))
    params.hardware = keep[-1]
    params.gpu_mem = _args.parse_size(gpu_mem, "gpu_mem")
    params.host_mem = _args.parse_size(host_mem, "host_mem")
    params.allow_compress = 1 if allow_compress else 0
    out = ctypes.c_void_p()
    fits = ctypes.c_int32()
    check(lib.mart_plan(params, ctypes.byref(out), ctypes.byref(fits)))
    result = json.loads(_lib.take_string(out))
    result.setdefault("fits", bool(fits.value))
    return result


def profile(config=None, yaml=None, overrides=None, reps=None):
    """Measures the job's model and this machine on its backend and returns the profile dict
    that `mart profile` writes (save it as JSON and pass the path to plan(hardware=...)).
    reps: timed repetitions per measurement (median); None: MART's default."""
    params = lib.mart_profile_default_params()
    keep = _args.fill_config(params, config, yaml, overrides)
    if reps is not None:
        if int(reps) < 1:
            raise ValueError("profile: reps %r; need 1 or more" % (reps,))
        params.reps = int(reps)
    out = ctypes.c_void_p()
    check(lib.mart_profile(params, ctypes.byref(out)))
    del keep
    return json.loads(_lib.take_string(out))
