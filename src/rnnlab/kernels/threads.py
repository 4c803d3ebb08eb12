"""Threads of the fast kernels, and the BLAS they call.

The fast kernels split the batch into contiguous blocks of rows, one per core,
and run the whole sequence of each block in a compiled loop that releases the
GIL. Every matrix product inside runs on the calling thread: OpenBLAS is held
to one thread for the duration of a kernel call, so the cores never wait for
each other between steps, and no idle BLAS thread spins on a core that a
kernel thread needs (measured on 2 cores: two BLAS threads per small per-step
product made a sequence up to 10x slower).

The BLAS is the OpenBLAS that NumPy's wheels bundle (64-bit integers, symbols
prefixed `scipy_` and suffixed `64_`); `blas()` finds it without importing
SciPy. Set RNNLAB_NUM_THREADS to change the number of kernel threads.
"""
import ctypes
import glob
import os
import threading
from concurrent.futures import ThreadPoolExecutor

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


def _cores():
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


_CORES = _cores()


def num_threads():
    """Kernel threads: RNNLAB_NUM_THREADS, else the cores this process may use (read at import)."""
    env = os.environ.get("RNNLAB_NUM_THREADS")
    if env:
        if not env.isdigit() or int(env) < 1:
            raise ValueError(f"RNNLAB_NUM_THREADS expected a positive integer, got {env!r}")
        return int(env)
    return _CORES


_pool = None  # (executor, its number of workers, the process that made it)
_pool_lock = threading.Lock()


def _workers(n):
    """An executor with at least n workers, made again after a fork (a child has none of its threads)."""
    global _pool
    with _pool_lock:
        if _pool is None or _pool[1] < n or _pool[2] != os.getpid():
            if _pool is not None and _pool[2] == os.getpid():
                _pool[0].shutdown(wait=True)
            _pool = (ThreadPoolExecutor(max_workers=n, thread_name_prefix="rnnlab-kernel"), n, os.getpid())
        return _pool[0]


def run(fn, blocks):
    """fn(*args) for each args in blocks, in parallel; the first runs on this thread.

    fn must release the GIL (a numba nogil function) for the blocks to overlap.
    Returns the results in order.
    """
    if len(blocks) == 1:
        return [fn(*blocks[0])]
    pool = _workers(len(blocks) - 1)
    futures = [pool.submit(fn, *args) for args in blocks[1:]]
    first = fn(*blocks[0])
    return [first] + [f.result() for f in futures]


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


def split(n, parts):
    """Bounds of `parts` contiguous blocks of range(n), sizes differing by at most one."""
    parts = max(1, min(parts, n))
    edges = [n * k // parts for k in range(parts + 1)]
    return list(zip(edges[:-1], edges[1:]))
