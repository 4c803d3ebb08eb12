"""The BLAS the fast kernels call: NumPy's bundled OpenBLAS, bound without SciPy.

NumPy's wheels bundle OpenBLAS with 64-bit integers and symbols prefixed
`scipy_` and suffixed `64_`; `blas()` finds that library and the addresses of
sgemm/dgemm, which ops.py binds into compiled code. `one_blas_thread` holds
OpenBLAS to one thread during a kernel call: the kernels split the batch across
cores themselves (pool.py), and an idle BLAS thread spinning on a core that a
kernel thread needs made a sequence up to 10x slower on 2 cores (measured).
"""

import ctypes
import glob
import os

import numpy as np

_SGEMM = ("scipy_cblas_sgemm64_", "cblas_sgemm64_")
_DGEMM = ("scipy_cblas_dgemm64_", "cblas_dgemm64_")
_GET_THREADS = ("scipy_openblas_get_num_threads64_", "openblas_get_num_threads64_")
_SET_THREADS = ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads64_")


class Blas:
    """Addresses of sgemm/dgemm (CBLAS, 64-bit ints) and the thread controls of one OpenBLAS."""

    def __init__(self, lib, path):
        self.path = path
        self.sgemm = _address(lib, _SGEMM)
        self.dgemm = _address(lib, _DGEMM)
        get = _function(lib, _GET_THREADS)
        self._set = _function(lib, _SET_THREADS)
        self._get = get
        if None in (self.sgemm, self.dgemm, get, self._set):
            raise OSError(f"{path} lacks the 64-bit CBLAS/OpenBLAS symbols")
        get.restype = ctypes.c_int
        self._set.argtypes = [ctypes.c_int]

    def get_threads(self):
        return int(self._get())

    def set_threads(self, n):
        self._set(int(n))


def _address(lib, names):
    for name in names:
        try:
            return ctypes.cast(getattr(lib, name), ctypes.c_void_p).value
        except AttributeError:
            continue
    return None


def _function(lib, names):
    for name in names:
        try:
            return getattr(lib, name)
        except AttributeError:
            continue
    return None


def _candidates():
    """OpenBLAS libraries shipped with NumPy, then any already loaded (Linux)."""
    here = os.path.dirname(np.__file__)
    found = sorted(glob.glob(os.path.join(here + ".libs", "*openblas*")))
    found += sorted(glob.glob(os.path.join(here, ".dylibs", "*openblas*")))
    try:
        with open("/proc/self/maps") as maps:
            found += sorted({line.split()[-1] for line in maps if "openblas" in line and "/" in line})
    except OSError:
        pass
    return list(dict.fromkeys(found))


_blas = False  # not looked up yet


def blas():
    """The Blas of NumPy's bundled OpenBLAS, or None when there is none to call."""
    global _blas
    if _blas is False:
        _blas = None
        for path in _candidates():
            try:
                _blas = Blas(ctypes.CDLL(path), path)
                break
            except OSError:
                continue
    return _blas


class one_blas_thread:
    """Context: OpenBLAS on one thread inside, its previous setting restored after.

    needed=False leaves it alone (loops that make no BLAS call: a few µs saved per call).
    """

    def __init__(self, needed=True):
        self._needed = needed

    def __enter__(self):
        self._before = blas().get_threads() if self._needed else 1
        if self._before != 1:
            blas().set_threads(1)
        return self

    def __exit__(self, *exc):
        if self._before != 1:
            blas().set_threads(self._before)
        return False
