"""Pinned host memory as numpy arrays: mart_host_alloc blocks freed with the last array over
them (the block's owner is the arrays' .base, so views keep it alive too)."""
import ctypes

import numpy as np

from ._lib import lib
from .errors import check


class _HostBlock:
    """Owns one mart_host_alloc block and exposes it through numpy's array interface."""

    def __init__(self, shape, dtype, numa_node):
        self._ptr = None
        dtype = np.dtype(dtype)
        shape = tuple(int(d) for d in shape)
        nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
        ptr = ctypes.c_void_p()
        check(lib.mart_host_alloc(nbytes, int(numa_node), ctypes.byref(ptr)))
        self._ptr = ptr.value
        # bytes 0 gives NULL: numpy needs some address for an empty array, any aligned one does.
        address = self._ptr if self._ptr else 64
        self.__array_interface__ = {"shape": shape, "typestr": dtype.str, "descr": dtype.descr,
                                    "data": (address, False), "version": 3}

    def __del__(self):
        if self._ptr:
            try:
                lib.mart_host_free(self._ptr)
            except Exception:  # interpreter shutdown
                pass
            self._ptr = None


def pinned_empty(shape, dtype=np.float32, numa_node=-1):
    """An uninitialised numpy array in pinned (page-locked), NUMA-local, 64-byte aligned host
    memory from mart_host_alloc; numa_node -1: the node nearest the device. Freed when the
    array and every view of it are collected."""
    if isinstance(shape, int):
        shape = (shape,)
    if any(int(d) < 0 for d in shape):
        raise ValueError("pinned_empty: negative dimension in shape %s" % (tuple(shape),))
    return np.asarray(_HostBlock(shape, dtype, numa_node))


def pinned_zeros(shape, dtype=np.float32, numa_node=-1):
    """pinned_empty filled with zeros."""
    a = pinned_empty(shape, dtype, numa_node)
    a.fill(0)
    return a
