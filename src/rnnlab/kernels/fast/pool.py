"""Threads of the fast kernels: the batch split into blocks of rows, one per core.

Each block runs the whole sequence in a compiled loop that releases the GIL, so
the blocks run in parallel; every matrix product inside runs on the calling
thread (blas.one_blas_thread). Set RNNLAB_NUM_THREADS to change the number of
kernel threads.
"""

import os
import threading
from concurrent.futures import ThreadPoolExecutor

from .fpenv import flushing


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


def _flushed(fn, args):
    """fn(*args) with subnormals flushed to zero on this thread (fpenv.py)."""
    with flushing():
        return fn(*args)


def run(fn, blocks):
    """fn(*args) for each args in blocks, in parallel; the first runs on this thread.

    fn must release the GIL (a numba nogil function) for the blocks to overlap.
    Each block runs with subnormals flushed to zero on its thread (fpenv.py).
    Returns the results in order.
    """
    if len(blocks) == 1:
        return [_flushed(fn, blocks[0])]
    pool = _workers(len(blocks) - 1)
    futures = [pool.submit(_flushed, fn, args) for args in blocks[1:]]
    first = _flushed(fn, blocks[0])
    return [first] + [f.result() for f in futures]


def split(n, parts):
    """Bounds of `parts` contiguous blocks of range(n), sizes differing by at most one."""
    parts = max(1, min(parts, n))
    edges = [n * k // parts for k in range(parts + 1)]
    return list(zip(edges[:-1], edges[1:]))
