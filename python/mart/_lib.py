"""Finds and loads libmart.so and declares every function of include/mart/mart.h for ctypes.

The structs below mirror mart.h field by field (same order, same C types): ctypes passes them by
value exactly as a C compiler would, so any drift from the header corrupts arguments silently.
tests/python_api/test_errors.py compares every size and field offset with the C compiler's.
"""
import ctypes
import ctypes.util
import os

# MART_VERSION_NUMBER of the header this package was written against (0.1.0). Within a major
# version the ABI only grows, so a library of the same major and at least this number works.
EXPECTED_VERSION_NUMBER = 100
EXPECTED_VERSION_MAJOR = EXPECTED_VERSION_NUMBER // 10000

c_char_p_p = ctypes.POINTER(ctypes.c_char_p)


class SessionParams(ctypes.Structure):
    _fields_ = [
        ("config_path", ctypes.c_char_p),
        ("config_yaml", ctypes.c_char_p),
        ("overrides", c_char_p_p),
        ("n_overrides", ctypes.c_int32),
        ("init_weights", ctypes.c_int32),
    ]


class SessionInfo(ctypes.Structure):
    _fields_ = [
        ("n_params", ctypes.c_int64),
        ("n_tensors", ctypes.c_int32),
        ("micro_batch", ctypes.c_int32),
        ("seq_len", ctypes.c_int32),
        ("grad_accum", ctypes.c_int32),
        ("vocab_size", ctypes.c_int32),
        ("n_layer", ctypes.c_int32),
        ("steps_done", ctypes.c_int64),
        ("device_budget_bytes", ctypes.c_uint64),
        ("peak_device_bytes", ctypes.c_uint64),
        ("pinned_host_bytes", ctypes.c_uint64),
    ]


class StepParams(ctypes.Structure):
    _fields_ = [
        ("lr", ctypes.c_float),
        ("beta1", ctypes.c_float),
        ("beta2", ctypes.c_float),
        ("eps", ctypes.c_float),
        ("weight_decay", ctypes.c_float),
        ("grad_clip", ctypes.c_float),
        ("step", ctypes.c_int64),
    ]


class StepResult(ctypes.Structure):
    _fields_ = [
        ("loss", ctypes.c_double),
        ("grad_norm", ctypes.c_float),
        ("tokens", ctypes.c_uint64),
        ("seconds", ctypes.c_double),
        ("step", ctypes.c_int64),
    ]


class ParamInfo(ctypes.Structure):
    _fields_ = [
        ("name", ctypes.c_char_p),
        ("ndim", ctypes.c_int32),
        ("shape", ctypes.c_int64 * 4),
        ("numel", ctypes.c_int64),
    ]


class PlanParams(ctypes.Structure):
    _fields_ = [
        ("config_path", ctypes.c_char_p),
        ("config_yaml", ctypes.c_char_p),
        ("overrides", c_char_p_p),
        ("n_overrides", ctypes.c_int32),
        ("hardware", ctypes.c_char_p),
        ("gpu_mem", ctypes.c_uint64),
        ("host_mem", ctypes.c_uint64),
        ("allow_compress", ctypes.c_int32),
    ]


class ProfileParams(ctypes.Structure):
    _fields_ = [
        ("config_path", ctypes.c_char_p),
        ("config_yaml", ctypes.c_char_p),
        ("overrides", c_char_p_p),
        ("n_overrides", ctypes.c_int32),
        ("reps", ctypes.c_int32),
    ]


class AdamwParams(ctypes.Structure):
    _fields_ = [
        ("n_threads", ctypes.c_int32),
        ("numa_node", ctypes.c_int32),
    ]


class AdamwStepParams(ctypes.Structure):
    _fields_ = [
        ("lr", ctypes.c_float),
        ("beta1", ctypes.c_float),
        ("beta2", ctypes.c_float),
        ("eps", ctypes.c_float),
        ("weight_decay", ctypes.c_float),
        ("step", ctypes.c_int64),
    ]


_st = ctypes.c_int  # mart_status (a C enum: int-sized)
_h = ctypes.c_void_p  # opaque handles
_out_str = ctypes.POINTER(ctypes.c_void_p)  # char** handed out: kept as void* to free it later
_i32p = ctypes.POINTER(ctypes.c_int32)
_f32p = ctypes.POINTER(ctypes.c_float)

# name: (restype, argtypes), in the order of mart.h.
_SIGNATURES = {
    "mart_status_string": (ctypes.c_char_p, [_st]),
    "mart_last_error": (ctypes.c_char_p, []),
    "mart_string_free": (None, [ctypes.c_void_p]),
    "mart_version": (ctypes.c_char_p, []),
    "mart_version_number": (ctypes.c_int, []),
    "mart_session_default_params": (SessionParams, []),
    "mart_session_create": (_st, [SessionParams, ctypes.POINTER(_h)]),
    "mart_session_destroy": (_st, [_h]),
    "mart_session_get_info": (_st, [_h, ctypes.POINTER(SessionInfo)]),
    "mart_session_config_json": (_st, [_h, _out_str]),
    "mart_session_plan_json": (_st, [_h, _out_str]),
    "mart_session_step_params": (_st, [_h, ctypes.c_int64, ctypes.POINTER(StepParams)]),
    "mart_session_train_step": (
        _st, [_h, _i32p, _i32p, ctypes.c_size_t, StepParams, ctypes.POINTER(StepResult)]),
    "mart_session_eval_loss": (
        _st, [_h, _i32p, _i32p, ctypes.c_size_t, ctypes.POINTER(ctypes.c_double)]),
    "mart_session_logits": (_st, [_h, _i32p, ctypes.c_size_t, _f32p, ctypes.c_size_t]),
    "mart_session_next_batch": (
        _st, [_h, ctypes.c_int32, ctypes.c_int32, _i32p, _i32p, ctypes.c_size_t]),
    "mart_session_param_info": (_st, [_h, ctypes.c_int32, ctypes.POINTER(ParamInfo)]),
    "mart_session_param_find": (_st, [_h, ctypes.c_char_p, _i32p]),
    "mart_session_param_get": (_st, [_h, ctypes.c_char_p, _f32p, ctypes.c_size_t]),
    "mart_session_param_set": (_st, [_h, ctypes.c_char_p, _f32p, ctypes.c_size_t]),
    "mart_session_init_weights": (_st, [_h, ctypes.c_uint64]),
    "mart_session_save_checkpoint": (_st, [_h, ctypes.c_char_p, _out_str]),
    "mart_session_load_checkpoint": (_st, [_h, ctypes.c_char_p]),
    "mart_session_load_hf": (_st, [_h, ctypes.c_char_p]),
    "mart_session_save_hf": (_st, [_h, ctypes.c_char_p]),
    "mart_plan_default_params": (PlanParams, []),
    "mart_plan": (_st, [PlanParams, _out_str, _i32p]),
    "mart_profile_default_params": (ProfileParams, []),
    "mart_profile": (_st, [ProfileParams, _out_str]),
    "mart_host_alloc": (_st, [ctypes.c_size_t, ctypes.c_int32, ctypes.POINTER(ctypes.c_void_p)]),
    "mart_host_free": (_st, [ctypes.c_void_p]),
    "mart_adamw_default_params": (AdamwParams, []),
    "mart_adamw_create": (_st, [AdamwParams, ctypes.POINTER(_h)]),
    "mart_adamw_destroy": (_st, [_h]),
    "mart_adamw_add_tensor": (_st, [_h, ctypes.c_size_t, ctypes.POINTER(ctypes.c_int64)]),
    "mart_adamw_default_step_params": (AdamwStepParams, []),
    "mart_adamw_step_async": (
        _st, [_h, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t,
              AdamwStepParams]),
    "mart_adamw_wait": (_st, [_h]),
    "mart_adamw_get_state": (_st, [_h, ctypes.c_int64, _f32p, _f32p, ctypes.c_size_t]),
    "mart_adamw_set_state": (_st, [_h, ctypes.c_int64, _f32p, _f32p, ctypes.c_size_t]),
}


def _candidates():
    """Paths to try, in order, each with where it came from (for the error message)."""
    env = os.environ.get("MART_LIBRARY")
    if env:
        # An explicit choice is the only one tried: silently falling back would hide a typo.
        return [(env, "$MART_LIBRARY")]
    here = os.path.dirname(os.path.abspath(__file__))
    repo = os.path.dirname(os.path.dirname(here))
    out = [(os.path.join(repo, d, "libmart.so"), "build tree") for d in ("build", "build-cpu")]
    found = ctypes.util.find_library("mart")
    if found:
        out.append((found, "installed (ctypes.util.find_library)"))
    out.append(("libmart.so.%d" % EXPECTED_VERSION_MAJOR, "installed (dynamic loader path)"))
    return out


# libmart links libjemalloc.so.2 and, like the `mart` binary, expects it to be the process's
# malloc. Opened after startup it is not: glibc has no static TLS left for jemalloc's 2.6 KB of
# initial-exec TLS ("cannot allocate memory in static TLS block"), and with more TLS granted,
# libmart's C++ code mixes jemalloc's operator new with glibc's free ("free(): invalid pointer",
# an abort). Only the environment of the process can fix that, so the fix goes into the message.
JEMALLOC_FIX = (
    "libmart needs libjemalloc as the process's allocator, which a library loaded after "
    "startup cannot arrange. Start Python with LD_PRELOAD=libjemalloc.so.2 in its environment, "
    "e.g. LD_PRELOAD=libjemalloc.so.2 python3 train.py")


def _mapped(name):
    """Whether a library whose path contains `name` is mapped in this process (None: cannot
    tell)."""
    try:
        with open("/proc/self/maps") as f:
            return name in f.read()
    except OSError:
        return None


def _jemalloc_mapped():
    return _mapped("libjemalloc")


def _openmp_wait_policy():
    """OMP_WAIT_POLICY=PASSIVE unless the user chose a policy, as the `mart` launcher does
    (launcher/openmp_env.cpp): with libgomp's default the OpenMP workers spin on the cores that
    OpenBLAS's threads need next, and a training step takes 5 to 30 times longer (measured on the
    tests' tiny job: 0.2-1.4 s against 0.03-0.08 s a step). libgomp reads the variable once, when
    it is loaded, so this works only if nothing loaded it before mart (torch does). Returns
    whether OpenMP workers will spin (Session warns then; CPUAdamW does not use OpenMP)."""
    if "OMP_WAIT_POLICY" in os.environ:
        return False
    if _mapped("libgomp"):
        return True
    os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
    return False


OPENMP_WARNING = (
    "mart: OpenMP was loaded before mart (e.g. by torch) without OMP_WAIT_POLICY, so MART's CPU "
    "kernels run with spinning OpenMP workers, several times slower. Set OMP_WAIT_POLICY=PASSIVE "
    "in the environment, or import mart before torch.")


def _load():
    tried = []
    for path, origin in _candidates():
        if os.sep in path and not os.path.exists(path):
            tried.append("%s (%s): no such file" % (path, origin))
            continue
        try:
            before = _jemalloc_mapped()
            handle = ctypes.CDLL(path)
            if before is False and _jemalloc_mapped():
                raise ImportError("mart: %s was loaded, but it brought libjemalloc in after "
                                  "startup. %s" % (path, JEMALLOC_FIX))
            return handle, path
        except OSError as e:
            tried.append("%s (%s): %s" % (path, origin, e))
            if "static TLS" in str(e):
                raise ImportError("mart: cannot load %s (%s): %s\n%s"
                                  % (path, origin, e, JEMALLOC_FIX)) from None
    raise ImportError(
        "mart: cannot load libmart.so. Tried:\n  " + "\n  ".join(tried) +
        "\nFix: build it (cmake --preset cpu && cmake --build --preset cpu --target mart_shared) "
        "and set MART_LIBRARY=/path/to/build-cpu/libmart.so, or install MART so that the dynamic "
        "loader finds libmart.so.%d." % EXPECTED_VERSION_MAJOR)


def _declare(lib, path):
    missing = []
    for name, (restype, argtypes) in _SIGNATURES.items():
        try:
            fn = getattr(lib, name)
        except AttributeError:
            missing.append(name)
            continue
        fn.restype = restype
        fn.argtypes = argtypes
    if missing:
        raise ImportError("mart: %s lacks %s; it is older than this package or not MART's "
                          "libmart. Rebuild it or point MART_LIBRARY at a current one."
                          % (path, ", ".join(missing)))


def _check_version(lib, path):
    got = lib.mart_version_number()
    if got // 10000 != EXPECTED_VERSION_MAJOR or got < EXPECTED_VERSION_NUMBER:
        raise ImportError(
            "mart: %s is version %s (number %d), but this package needs major version %d at "
            "number %d or later; rebuild libmart from the same checkout as python/mart or point "
            "MART_LIBRARY at a matching library."
            % (path, lib.mart_version().decode(), got, EXPECTED_VERSION_MAJOR,
               EXPECTED_VERSION_NUMBER))


openmp_spins = _openmp_wait_policy()
lib, path = _load()
_declare(lib, path)
_check_version(lib, path)


def take_string(ptr):
    """Decodes a `char**` result MART handed out and frees it (mart_string_free)."""
    if not ptr.value:
        return None
    try:
        return ctypes.string_at(ptr.value).decode("utf-8")
    finally:
        lib.mart_string_free(ptr.value)


def encode(s):
    """A Python str (or None / os.PathLike) as the bytes of a `const char*` argument."""
    if s is None:
        return None
    return os.fsencode(s) if isinstance(s, os.PathLike) else str(s).encode("utf-8")


def string_array(items):
    """(array, n) for a `const char* const*` argument; the array keeps the bytes alive."""
    if not items:
        return None, 0
    encoded = [encode(x) for x in items]
    return (ctypes.c_char_p * len(encoded))(*encoded), len(encoded)
