"""MART from Python: ctypes bindings over libmart's C API (include/mart/mart.h).

    import mart
    with mart.Session("configs/jobs/tiny-gpt2.yaml", overrides={"train.steps": 10}) as s:
        for step in range(1, 11):
            x, y = s.next_batch()
            r = s.train_step(x, y)          # the job's own lr schedule for this step
            print(step, r.loss)

The library is found through $MART_LIBRARY, the build trees next to this package
(build/, build-cpu/), or the installed libmart.so.0. numpy is required; torch only for
mart.torch (CPUAdamW).
"""
from ._lib import EXPECTED_VERSION_NUMBER, lib as _lib_handle, path as library_path
from .errors import MartError, Status
from .host import pinned_empty, pinned_zeros
from .planning import plan, profile
from .session import Session, SessionInfo, StepParams, StepResult

__version__ = "0.1.0"


def version():
    """libmart's version text ("0.1.0")."""
    return _lib_handle.mart_version().decode()


__all__ = ["Session", "SessionInfo", "StepParams", "StepResult", "MartError", "Status", "plan",
           "profile", "version", "pinned_empty", "pinned_zeros", "library_path",
           "EXPECTED_VERSION_NUMBER"]
